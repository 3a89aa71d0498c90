//! DICOM pixel layouts users send: MONOCHROME1 and 2, rescale slope and intercept, 8, 12 and 16
//! bit, signed, multi-frame (classic and enhanced), RLE Lossless and JPEG baseline, each built
//! here with known values and read back through the decoder; and files from other writers
//! (pydicom, GDCM: `tests/corpus/good/`): an enhanced MR image, JPEG Lossless and JPEG 2000,
//! and data sets not written in the VR encoding their meta group declares.
//! And files or folders that hold several stacks (a PSIR acquisition's magnitude and real
//! images), which are split by acquisition.

use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use scarseg_imaging::decode::{
    decode_file, decode_file_stacks, decode_series, decode_series_stacks, is_dicom_segmentation,
    labels_for,
};
use scarseg_imaging::{Limits, Stack};

struct Spec {
    rows: u16,
    cols: u16,
    frames: u32,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    photometric: &'static str,
    rescale: Option<(f64, f64)>, // (slope, intercept)
    modality: &'static str,
    transfer_syntax: &'static str,
    /// Elements that place the frames instead of the top-level PixelSpacing and SliceThickness
    /// (the functional groups of an enhanced image).
    geometry: Option<Vec<DataElement<InMemDicomObject>>>,
    /// Any other elements (the sequence's description).
    extra: Vec<DataElement<InMemDicomObject>>,
}

fn dicom(spec: &Spec, pixel_data: Value<InMemDicomObject>, pixel_vr: VR) -> Vec<u8> {
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| {
        obj.put(DataElement::new(tag, vr, value));
    };
    put(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE.into());
    put(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.10.1234.5.1".into(),
    );
    put(tags::MODALITY, VR::CS, spec.modality.into());
    if spec.geometry.is_none() {
        put(tags::PIXEL_SPACING, VR::DS, "0.7\\0.8".into());
        put(tags::SLICE_THICKNESS, VR::DS, "6".into());
    }
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        spec.photometric.into(),
    );
    put(tags::ROWS, VR::US, PrimitiveValue::from(spec.rows));
    put(tags::COLUMNS, VR::US, PrimitiveValue::from(spec.cols));
    put(
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(spec.bits_allocated),
    );
    put(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(spec.bits_stored),
    );
    put(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(spec.bits_stored - 1),
    );
    put(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(spec.signed as u16),
    );
    if spec.frames > 1 {
        put(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            spec.frames.to_string().into(),
        );
    }
    if let Some((slope, intercept)) = spec.rescale {
        put(tags::RESCALE_SLOPE, VR::DS, slope.to_string().into());
        put(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            intercept.to_string().into(),
        );
    }
    for element in spec.geometry.iter().flatten().chain(&spec.extra) {
        obj.put(element.clone());
    }
    obj.put(DataElement::new(tags::PIXEL_DATA, pixel_vr, pixel_data));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(spec.transfer_syntax)
                .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE),
        )
        .expect("meta");
    let mut out = Vec::new();
    file.write_all(&mut out).expect("write");
    out
}

fn spec(bits: u16, signed: bool, photometric: &'static str) -> Spec {
    Spec {
        rows: 2,
        cols: 3,
        frames: 1,
        bits_allocated: if bits <= 8 { 8 } else { 16 },
        bits_stored: bits,
        signed,
        photometric,
        rescale: None,
        modality: "MR",
        transfer_syntax: uids::EXPLICIT_VR_LITTLE_ENDIAN,
        geometry: None,
        extra: Vec::new(),
    }
}

/// An 8-bit image of `spec` holding `values`.
fn grey8(spec: &Spec, values: Vec<u8>) -> Vec<u8> {
    dicom(
        spec,
        Value::Primitive(PrimitiveValue::U8(values.into())),
        VR::OB,
    )
}

/// A 16-bit image of `spec` holding `values`.
fn grey16(spec: &Spec, values: Vec<u16>) -> Vec<u8> {
    dicom(
        spec,
        Value::Primitive(PrimitiveValue::U16(values.into())),
        VR::OW,
    )
}

/// A signed 16-bit image of `spec` holding `values`.
fn signed16(spec: &Spec, values: Vec<i16>) -> Vec<u8> {
    dicom(
        spec,
        Value::Primitive(PrimitiveValue::I16(values.into())),
        VR::OW,
    )
}

fn decode(bytes: &[u8]) -> Stack {
    decode_file("test.dcm", bytes, &Limits::default()).expect("decodes")
}

#[test]
fn eight_bit_monochrome2_with_spacing() {
    let s = spec(8, false, "MONOCHROME2");
    let values = vec![0u8, 10, 20, 30, 40, 250];
    let stack = decode(&grey8(&s, values));
    let slice = &stack.slices[0];
    assert_eq!(slice.pixels, vec![0.0, 10.0, 20.0, 30.0, 40.0, 250.0]);
    assert_eq!(slice.spacing_mm, [0.7, 0.8]);
    assert_eq!(slice.thickness_mm, 6.0);
}

#[test]
fn another_modality_than_mr_is_read_with_a_warning() {
    let bytes = |s: &Spec| grey8(s, vec![0u8, 10, 20, 30, 40, 250]);
    let mut s = spec(8, false, "MONOCHROME2");
    assert!(decode(&bytes(&s)).warnings.is_empty());
    s.modality = "CT";
    let stack = decode(&bytes(&s));
    assert_eq!(stack.slices[0].pixels[5], 250.0);
    assert_eq!(
        stack.warnings,
        [
            "Modality is CT, not MR: the network was trained on LGE MR images, so its masks here \
          mean little"
        ]
    );
}

#[test]
fn an_image_that_says_it_is_not_inversion_recovery_is_read_with_a_warning() {
    // A study exported whole holds cine and T2 series beside the LGE ones; LGE is always an
    // inversion-recovery image, and each way a file may say so keeps the warning away.
    let warnings = |extra: Vec<DataElement<InMemDicomObject>>| {
        let mut s = spec(8, false, "MONOCHROME2");
        s.extra = extra;
        decode(&grey8(&s, vec![0u8, 10, 20, 30, 40, 250])).warnings
    };
    let cs = |tag: Tag, value: &str| DataElement::new(tag, VR::CS, PrimitiveValue::from(value));
    const WHY: &str = "LGE images are inversion-recovery images, and the network was trained on \
                       them, so its masks here (a cine, T2 or mapping image?) mean little";
    // A bSSFP cine (Siemens writes GR with SequenceVariant SK\SS).
    let cine = vec![
        cs(tags::SCANNING_SEQUENCE, "GR"),
        cs(tags::SEQUENCE_VARIANT, "SK\\SS"),
    ];
    assert_eq!(
        warnings(cine),
        [format!(
            "ScanningSequence (0018,0020) is GR, with no IR, no magnetisation preparation and no \
             InversionTime: {WHY}"
        )]
    );
    // A T2-weighted spin echo.
    assert_eq!(
        warnings(vec![cs(tags::SCANNING_SEQUENCE, "SE")]),
        [format!(
            "ScanningSequence (0018,0020) is SE, with no IR, no magnetisation preparation and no \
             InversionTime: {WHY}"
        )]
    );
    // LGE as vendors write it: an IR gradient echo; a prepared gradient echo (GE's delayed
    // enhancement); a gradient echo with its inversion time.
    assert!(warnings(vec![cs(tags::SCANNING_SEQUENCE, "GR\\IR")]).is_empty());
    assert!(
        warnings(vec![
            cs(tags::SCANNING_SEQUENCE, "GR"),
            cs(tags::SEQUENCE_VARIANT, "SS\\MP")
        ])
        .is_empty()
    );
    assert!(
        warnings(vec![
            cs(tags::SCANNING_SEQUENCE, "GR"),
            ds(tags::INVERSION_TIME, "300")
        ])
        .is_empty()
    );
    // An enhanced image says it in one word.
    assert_eq!(
        warnings(vec![cs(tags::INVERSION_RECOVERY, "NO")]),
        [format!("InversionRecovery (0018,9009) is NO: {WHY}")]
    );
    assert!(warnings(vec![cs(tags::INVERSION_RECOVERY, "YES")]).is_empty());
    // A file that says nothing of its sequence (a secondary capture) is not second-guessed.
    assert!(warnings(vec![]).is_empty());
}

#[test]
fn a_series_says_each_warning_once_with_the_files_that_gave_it() {
    // Three CT files without ImagePositionPatient: one line for the modality of all three, one
    // for their positions.
    let mut s = spec(8, false, "MONOCHROME2");
    s.modality = "CT";
    let files: Vec<(String, Vec<u8>)> = (0..3u8)
        .map(|k| {
            let values = vec![k, 10, 20, 30, 40, 250];
            let bytes = grey8(&s, values);
            (format!("{k}.dcm"), bytes)
        })
        .collect();
    let (stack, errors) = decode_series("ct", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        stack.expect("stack").warnings,
        [
            "0.dcm and 2 other files: Modality is CT, not MR: the network was trained on LGE \
             MR images, so its masks here mean little",
            "all 3 slices lie at one position (a TI scout or a cine of one slice, or no \
             ImagePositionPatient): the stack's volumes count that position 3 times"
        ]
    );
    let (stack, _) = decode_series("ct", &files[..2], &Limits::default());
    assert!(
        stack.expect("stack").warnings[0].starts_with("0.dcm and 1 other file: Modality is CT"),
    );
}

#[test]
fn twelve_bit_with_rescale_slope_and_intercept() {
    let mut s = spec(12, false, "MONOCHROME2");
    s.rescale = Some((0.5, -100.0));
    let values: Vec<u16> = vec![0, 100, 200, 4095, 1000, 2];
    let stack = decode(&grey16(&s, values));
    // v * 0.5 - 100
    assert_eq!(
        stack.slices[0].pixels,
        vec![-100.0, -50.0, 0.0, 1947.5, 400.0, -99.0]
    );
}

#[test]
fn an_image_without_high_bit_reads_as_bits_stored_says() {
    // Some writers leave High Bit out; it can only be Bits Stored - 1. 12 bits stored: the
    // values above 4095 hold an overlay's bit in bit 12, which is not the image's.
    let s = spec(12, false, "MONOCHROME2");
    let values: Vec<u16> = vec![0, 100, 4095, 4096 + 7, 2048, 1];
    let bytes = grey16(&s, values);
    // (0028,0102) US 2 11, explicit VR little endian.
    let high_bit = [0x28, 0x00, 0x02, 0x01, b'U', b'S', 2, 0, 11, 0];
    let at = bytes
        .windows(10)
        .position(|w| w == high_bit)
        .expect("High Bit");
    let without = [&bytes[..at], &bytes[at + 10..]].concat();
    assert_eq!(
        decode(&without).slices[0].pixels,
        vec![0.0, 100.0, 4095.0, 7.0, 2048.0, 1.0]
    );
}

#[test]
fn signed_sixteen_bit() {
    let s = spec(16, true, "MONOCHROME2");
    let values: Vec<i16> = vec![-32768, -1, 0, 1, 1234, 32767];
    let stack = decode(&signed16(&s, values));
    assert_eq!(
        stack.slices[0].pixels,
        vec![-32768.0, -1.0, 0.0, 1.0, 1234.0, 32767.0]
    );
}

#[test]
fn monochrome1_is_inverted_so_bright_means_high_signal() {
    let s = spec(16, false, "MONOCHROME1");
    let values: Vec<u16> = vec![0, 100, 200, 300, 400, 500];
    let stack = decode(&grey16(&s, values));
    // Mirrored in the frame's range [0, 500]: v -> 500 - v.
    assert_eq!(
        stack.slices[0].pixels,
        vec![500.0, 400.0, 300.0, 200.0, 100.0, 0.0]
    );
}

/// The warning about padding pixels, if any.
fn padding_warning(stack: &Stack) -> Option<&String> {
    stack.warnings.iter().find(|w| w.contains("padding"))
}

#[test]
fn padding_pixels_read_as_the_images_darkest_value() {
    // Signed, rescaled 2v - 5, padding -2000 outside the image (a circular field of view): the
    // two padding pixels take the lowest image value, 2 * 10 - 5 = 15, not 2 * -2000 - 5.
    let mut s = spec(16, true, "MONOCHROME2");
    s.rescale = Some((2.0, -5.0));
    s.extra = vec![DataElement::new(
        tags::PIXEL_PADDING_VALUE,
        VR::SS,
        PrimitiveValue::from(-2000i16),
    )];
    let values = || vec![-2000, 10, 20, -2000, 30, 40];
    let stack = decode(&signed16(&s, values()));
    assert_eq!(
        stack.slices[0].pixels,
        vec![15.0, 15.0, 35.0, 15.0, 55.0, 75.0]
    );
    assert_eq!(
        padding_warning(&stack).expect("a padding warning"),
        "pixels of padding round the image (stored value -2000, its Pixel Padding Value \
         (0028,0120)) are read as its background, its darkest value"
    );
    // A series of such files says so once, though each has its own count of padding pixels.
    let file = |k: i16| {
        let pixels = vec![-2000, 10 + k, 20, -2000 * k, 30, 40];
        let bytes = signed16(&s, pixels);
        (format!("{k}.dcm"), bytes)
    };
    let (stack, errors) = decode_series("padded", &[file(1), file(2)], &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    let stack = stack.expect("stack");
    assert_eq!(
        stack
            .warnings
            .iter()
            .filter(|w| w.contains("padding"))
            .count(),
        1,
        "{:?}",
        stack.warnings
    );
    assert!(
        padding_warning(&stack)
            .expect("warned")
            .starts_with("1.dcm and 1 other file: ")
    );

    // The same value written as US, as some writers and every implicit VR reader give it
    // (-2000 in 16 bits is 63536): the pixels are signed, so it is -2000. And a value no pixel
    // holds changes nothing and says nothing.
    let with_padding = |vr, value: PrimitiveValue, ts| {
        let mut s = spec(16, true, "MONOCHROME2");
        s.rescale = Some((2.0, -5.0));
        s.transfer_syntax = ts;
        s.extra = vec![DataElement::new(tags::PIXEL_PADDING_VALUE, vr, value)];
        decode(&signed16(&s, values()))
    };
    let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
    let padded = vec![15.0, 15.0, 35.0, 15.0, 55.0, 75.0];
    let as_us = with_padding(VR::US, PrimitiveValue::from(63536u16), explicit);
    assert_eq!(as_us.slices[0].pixels, padded);
    let implicit = with_padding(
        VR::SS,
        PrimitiveValue::from(-2000i16),
        uids::IMPLICIT_VR_LITTLE_ENDIAN,
    );
    assert_eq!(implicit.slices[0].pixels, padded);
    let stack = with_padding(VR::SS, PrimitiveValue::from(-1i16), explicit);
    assert_eq!(
        stack.slices[0].pixels,
        vec![-4005.0, 15.0, 35.0, -4005.0, 55.0, 75.0]
    );
    assert_eq!(padding_warning(&stack), None);
}

#[test]
fn a_padding_range_covers_every_value_from_its_value_to_its_limit() {
    // Unsigned, stored 0, 1 and 2 are padding (the limit may be below the value): 3 is the
    // lowest image value.
    let mut s = spec(16, false, "MONOCHROME2");
    let padding = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    s.extra = vec![
        padding(tags::PIXEL_PADDING_VALUE, 2),
        padding(tags::PIXEL_PADDING_RANGE_LIMIT, 0),
    ];
    let values: Vec<u16> = vec![0, 1, 2, 3, 50, 100];
    let stack = decode(&grey16(&s, values));
    assert_eq!(
        stack.slices[0].pixels,
        vec![3.0, 3.0, 3.0, 3.0, 50.0, 100.0]
    );
    let warning = padding_warning(&stack).expect("a padding warning");
    assert!(warning.contains("(stored values 0 to 2, its Pixel Padding Value (0028,0120) and Range Limit (0028,0121))"), "{warning}");

    // Written as SS on unsigned pixels, -1 is 65535 in 16 bits.
    s.extra = vec![DataElement::new(
        tags::PIXEL_PADDING_VALUE,
        VR::SS,
        PrimitiveValue::from(-1i16),
    )];
    let values: Vec<u16> = vec![65535, 7, 9, 65535, 65535, 8];
    let stack = decode(&grey16(&s, values));
    assert_eq!(stack.slices[0].pixels, vec![7.0, 7.0, 9.0, 7.0, 7.0, 8.0]);
}

#[test]
fn monochrome1_padding_is_dark_after_the_mirror() {
    // MONOCHROME1 shows high values dark, so its padding is its highest image value, 400, and
    // the mirror is within the image's range [100, 400] (v -> 500 - v), not up to the padding's.
    let mut s = spec(12, false, "MONOCHROME1");
    s.extra = vec![DataElement::new(
        tags::PIXEL_PADDING_VALUE,
        VR::US,
        PrimitiveValue::from(4095u16),
    )];
    let values: Vec<u16> = vec![4095, 100, 200, 300, 400, 4095];
    let stack = decode(&grey16(&s, values));
    assert_eq!(
        stack.slices[0].pixels,
        vec![100.0, 400.0, 300.0, 200.0, 100.0, 100.0]
    );
}

#[test]
fn the_scanners_window_is_read_in_the_pixels_units() {
    let values: Vec<u16> = vec![0, 100, 200, 300, 400, 500];
    let window = |photometric, extra: Vec<DataElement<InMemDicomObject>>, rescale| {
        let mut s = spec(16, false, photometric);
        s.extra = extra;
        s.rescale = rescale;
        let bytes = grey16(&s, values.clone());
        decode(&bytes).slices[0].display_window
    };
    // Two presets, as scanners store them: viewers open with the first. The rescale (2v - 5)
    // leaves it as it is: a window applies to the rescaled values, the pixels' units.
    let presets = || {
        vec![
            ds(tags::WINDOW_CENTER, "600\\300"),
            ds(tags::WINDOW_WIDTH, "1200\\400"),
        ]
    };
    assert_eq!(
        window("MONOCHROME2", presets(), Some((2.0, -5.0))),
        Some([600.0, 1200.0])
    );
    // MONOCHROME1: the pixels are mirrored in the frame's range [0, 500] (v -> 500 - v), the
    // window's centre with them (200 -> 300); its width stays.
    let one = vec![
        ds(tags::WINDOW_CENTER, "200"),
        ds(tags::WINDOW_WIDTH, "150"),
    ];
    assert_eq!(window("MONOCHROME1", one, None), Some([300.0, 150.0]));
    // A centre without a width, or a width of 0: no window.
    assert_eq!(
        window("MONOCHROME2", vec![ds(tags::WINDOW_CENTER, "200")], None),
        None
    );
    let zero = vec![ds(tags::WINDOW_CENTER, "200"), ds(tags::WINDOW_WIDTH, "0")];
    assert_eq!(window("MONOCHROME2", zero, None), None);
    assert_eq!(window("MONOCHROME2", Vec::new(), None), None);
}

#[test]
fn an_enhanced_images_window_is_its_frames_own() {
    let voi = |centre: &str, width: &str| {
        sequence(
            tags::FRAME_VOILUT_SEQUENCE,
            vec![
                ds(tags::WINDOW_CENTER, centre),
                ds(tags::WINDOW_WIDTH, width),
            ],
        )
    };
    let mut shared = axial_frames();
    shared.push(voi("100", "50"));
    let shared = InMemDicomObject::from_element_iter(shared);
    // Stored at z = 18.5, 28 and 10 mm; the second stored frame has a window of its own, the
    // others take the shared groups'.
    let per_frame: Vec<InMemDicomObject> = [
        ("-5\\-6\\18.5", None),
        ("-5\\-6\\28", Some(("400\\350", "800\\700"))),
        ("-5\\-6\\10", None),
    ]
    .into_iter()
    .map(|(position, own)| {
        let mut groups = vec![sequence(
            tags::PLANE_POSITION_SEQUENCE,
            vec![ds(tags::IMAGE_POSITION_PATIENT, position)],
        )];
        groups.extend(own.map(|(c, w)| voi(c, w)));
        InMemDicomObject::from_element_iter(groups)
    })
    .collect();
    let mut s = spec(16, false, "MONOCHROME2");
    s.frames = 3;
    s.geometry = Some(functional_groups(shared, per_frame));
    // A top-level window too, which the functional groups come before.
    s.extra = vec![ds(tags::WINDOW_CENTER, "7"), ds(tags::WINDOW_WIDTH, "9")];
    let values: Vec<u16> = (0..18).collect();
    let stack = decode(&grey16(&s, values));
    // In space order: z = 10 and 18.5 (shared), 28 (its own, the first preset).
    let windows: Vec<_> = stack.slices.iter().map(|s| s.display_window).collect();
    assert_eq!(
        windows,
        [
            Some([100.0, 50.0]),
            Some([100.0, 50.0]),
            Some([400.0, 800.0])
        ]
    );
}

#[test]
fn multi_frame_becomes_a_stack() {
    let mut s = spec(16, false, "MONOCHROME2");
    s.frames = 3;
    let values: Vec<u16> = (0..18).collect();
    let stack = decode(&grey16(&s, values));
    assert_eq!(stack.slices.len(), 3);
    assert_eq!(
        stack.slices[2].pixels,
        vec![12.0, 13.0, 14.0, 15.0, 16.0, 17.0]
    );
    assert_eq!(stack.slices[1].source, "test.dcm [1]");
    // Frames are 6 mm apart along the normal (no SpacingBetweenSlices: the thickness).
    assert_eq!(
        stack.slices[2].position_mm[2] - stack.slices[0].position_mm[2],
        12.0
    );
}

/// A sequence element of one item holding `elements`.
fn sequence(
    tag: Tag,
    elements: Vec<DataElement<InMemDicomObject>>,
) -> DataElement<InMemDicomObject> {
    let item = InMemDicomObject::from_element_iter(elements);
    DataElement::new(tag, VR::SQ, DataSetSequence::from(vec![item]))
}

/// Shared functional groups of axial frames: 1.25 x 1.5 mm pixels, 8 mm thick.
fn axial_frames() -> Vec<DataElement<InMemDicomObject>> {
    vec![
        sequence(
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![
                ds(tags::PIXEL_SPACING, "1.25\\1.5"),
                ds(tags::SLICE_THICKNESS, "8"),
            ],
        ),
        sequence(
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![ds(tags::IMAGE_ORIENTATION_PATIENT, "1\\0\\0\\0\\1\\0")],
        ),
    ]
}

/// An enhanced image's functional groups: one item shared by every frame, one per frame.
fn functional_groups(
    shared: InMemDicomObject,
    per_frame: Vec<InMemDicomObject>,
) -> Vec<DataElement<InMemDicomObject>> {
    vec![
        DataElement::new(
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![shared]),
        ),
        DataElement::new(
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(per_frame),
        ),
    ]
}

fn ds(tag: Tag, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::DS, PrimitiveValue::from(value))
}

#[test]
fn enhanced_multi_frame_takes_geometry_from_its_functional_groups() {
    // An enhanced MR image, as many scanners now export a whole stack: no top-level spacing,
    // thickness or position; one PixelMeasures and PlaneOrientation item for all frames, and
    // one PlanePosition per frame. The frames' positions are uneven (10, 18.5 and 28 mm along
    // z) so that they can only come from the file, and stored out of order (18.5, 28, 10), as
    // an acquisition order may be.
    let shared = InMemDicomObject::from_element_iter(axial_frames());
    let per_frame: Vec<InMemDicomObject> = ["-5\\-6\\18.5", "-5\\-6\\28", "-5\\-6\\10"]
        .iter()
        .map(|p| {
            InMemDicomObject::from_element_iter([sequence(
                tags::PLANE_POSITION_SEQUENCE,
                vec![ds(tags::IMAGE_POSITION_PATIENT, p)],
            )])
        })
        .collect();
    let mut s = spec(16, false, "MONOCHROME2");
    s.frames = 3;
    s.geometry = Some(functional_groups(shared, per_frame));
    s.extra = vec![
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3"),
        ),
        DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ),
        DataElement::new(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.9"),
        ),
        DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P-01")),
    ];
    let values: Vec<u16> = (0..18).collect();
    let stack = decode(&grey16(&s, values));
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    assert_eq!(stack.slices.len(), 3);
    // Each slice knows its instance and its frame (from 1), for a segmentation to reference.
    for (slice, frame) in stack.slices.iter().zip([3, 1, 2]) {
        let d = slice.dicom.as_ref().expect("a DICOM source");
        assert_eq!(d.sop_instance_uid, "1.2.826.0.1.3680043.10.1234.5.1");
        assert_eq!(d.sop_class_uid, uids::MR_IMAGE_STORAGE);
        assert_eq!(d.frame, Some(frame));
        assert_eq!(
            (d.study_uid.as_str(), d.series_uid.as_str()),
            ("1.2.3", "1.2.3.4")
        );
        assert_eq!(d.frame_of_reference_uid.as_deref(), Some("1.2.3.9"));
        assert_eq!(d.patient_id, "P-01");
    }
    for (slice, z) in stack.slices.iter().zip([10.0, 18.5, 28.0]) {
        assert_eq!(slice.spacing_mm, [1.25, 1.5]);
        assert_eq!(slice.thickness_mm, 8.0);
        assert_eq!(slice.position_mm, [-5.0, -6.0, z]);
    }
    // In the order they lie: frame 2 (values 12-17) first.
    let sources: Vec<&str> = stack.slices.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(sources, ["test.dcm [2]", "test.dcm [0]", "test.dcm [1]"]);
    assert_eq!(stack.slices[0].pixels, [12.0, 13.0, 14.0, 15.0, 16.0, 17.0]);
    // A pixel is 1.25 x 1.5 mm, so a 2 x 3 slice covers 11.25 mm2.
    assert_eq!(stack.slices[0].pixel_area_mm2() * 6.0, 11.25);

    // Without the functional groups the same file says what it assumed.
    s.geometry = Some(Vec::new());
    let bare = decode(&dicom(
        &s,
        Value::Primitive(PrimitiveValue::U16((0..18).collect::<Vec<u16>>().into())),
        VR::OW,
    ));
    assert_eq!(bare.slices[0].spacing_mm, [1.0, 1.0]);
    assert_eq!(
        bare.warnings,
        [
            "no PixelSpacing: assuming 1 mm pixels, so areas are in pixels",
            "no SliceThickness: assuming 1 mm for volumes"
        ]
    );
}

#[test]
fn a_pixel_spacing_that_is_not_two_positive_numbers_is_named() {
    let with = |elements: Vec<DataElement<InMemDicomObject>>| {
        let mut s = spec(8, false, "MONOCHROME2");
        s.geometry = Some([vec![ds(tags::SLICE_THICKNESS, "6")], elements].concat());
        decode(&grey8(&s, vec![0, 10, 20, 30, 40, 250]))
    };
    for (value, named) in [
        ("-1.4\\-1.4", "-1.4\\-1.4"),
        ("0\\0", "0\\0"),
        ("1.4", "1.4"),
    ] {
        let stack = with(vec![ds(tags::PIXEL_SPACING, value)]);
        assert_eq!(stack.slices[0].spacing_mm, [1.0, 1.0]);
        assert_eq!(
            stack.warnings,
            [format!(
                "PixelSpacing ({named}) is not two positive numbers: assuming 1 mm pixels, so \
                 areas are in pixels"
            )]
        );
    }
    // The detector's spacing stands in for an unusable PixelSpacing, as for a missing one.
    let stack = with(vec![
        ds(tags::PIXEL_SPACING, "0\\0"),
        ds(tags::IMAGER_PIXEL_SPACING, "0.9\\0.6"),
    ]);
    assert_eq!(stack.slices[0].spacing_mm, [0.9, 0.6]);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
}

/// DICOM RLE of one 16-bit frame: two byte planes (high, then low), each one PackBits literal
/// run, after the 64-byte RLE header.
fn rle_frame(values: &[u16]) -> Vec<u8> {
    let planes: Vec<Vec<u8>> = vec![
        values.iter().map(|v| (v >> 8) as u8).collect(),
        values.iter().map(|v| (v & 0xFF) as u8).collect(),
    ];
    let mut segments = Vec::new();
    for plane in &planes {
        let mut seg = vec![(plane.len() - 1) as u8];
        seg.extend_from_slice(plane);
        if seg.len() % 2 == 1 {
            seg.push(0);
        }
        segments.push(seg);
    }
    let mut header = vec![0u8; 64];
    header[0..4].copy_from_slice(&2u32.to_le_bytes());
    header[4..8].copy_from_slice(&64u32.to_le_bytes());
    header[8..12].copy_from_slice(&(64 + segments[0].len() as u32).to_le_bytes());
    header.extend(segments.concat());
    header
}

#[test]
fn rle_lossless() {
    let mut s = spec(16, false, "MONOCHROME2");
    s.transfer_syntax = uids::RLE_LOSSLESS;
    let values = [0u16, 300, 600, 65535, 1, 256];
    let fragments = PixelFragmentSequence::new(vec![], vec![rle_frame(&values)]);
    let stack = decode(&dicom(&s, Value::PixelSequence(fragments), VR::OB));
    assert_eq!(stack.slices[0].pixels, values.map(|v| v as f32).to_vec());
}

#[test]
fn jpeg_baseline() {
    let (rows, cols) = (16u16, 16u16);
    let grey: Vec<u8> = (0..256).map(|i| ((i / 16) * 16) as u8).collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode(
            &grey,
            cols as u32,
            rows as u32,
            image::ExtendedColorType::L8,
        )
        .expect("jpeg");
    let reference = image::load_from_memory(&jpeg)
        .expect("reference decode")
        .to_luma8();
    let mut s = spec(8, false, "MONOCHROME2");
    s.rows = rows;
    s.cols = cols;
    s.transfer_syntax = uids::JPEG_BASELINE8_BIT;
    let fragments = PixelFragmentSequence::new(vec![], vec![jpeg]);
    let stack = decode(&dicom(&s, Value::PixelSequence(fragments), VR::OB));
    // Two JPEG decoders may round the IDCT differently by one grey level.
    for (got, want) in stack.slices[0].pixels.iter().zip(reference.as_raw()) {
        assert!((got - *want as f32).abs() <= 1.0, "{got} vs {want}");
    }
}

#[test]
fn an_enhanced_mr_file_from_another_writer_reads_with_its_geometry_and_rescale() {
    // tests/corpus/good/enhanced_mr.dcm, written by pydicom (make_good_corpus.py): frames at
    // z = 18.5, 28 and 10 mm in that order, stored values 48k .. 48k + 47 in frame k, and the
    // rescale (2v - 5) only in the shared functional groups. enhanced_mr_un_sequences.dcm is
    // the same with those groups and a private sequence in VR UN of undefined length, as an
    // archive without their dictionary entries writes them (implicit VR items, PS3.5 6.2.2);
    // enhanced_mr_un_elements.dcm with those groups in VR UN of defined length and the second
    // frame's position, inside the per-frame groups, in VR UN too; enhanced_mr_un_nested.dcm
    // with each frame's position sequence and a private sequence in VR UN of undefined length
    // inside the per-frame groups' items (of defined length).
    for name in [
        "enhanced_mr.dcm",
        "enhanced_mr_un_sequences.dcm",
        "enhanced_mr_un_elements.dcm",
        "enhanced_mr_un_nested.dcm",
    ] {
        let stack = decode(&good(name));
        assert!(stack.warnings.is_empty(), "{name}: {:?}", stack.warnings);
        let frames: Vec<(&str, f64)> = stack
            .slices
            .iter()
            .map(|s| (s.source.as_str(), s.position_mm[2]))
            .collect();
        assert_eq!(
            frames,
            [
                ("test.dcm [2]", 10.0),
                ("test.dcm [0]", 18.5),
                ("test.dcm [1]", 28.0)
            ],
            "{name}"
        );
        for (slice, k) in stack.slices.iter().zip([2.0f32, 0.0, 1.0]) {
            assert_eq!((slice.rows, slice.cols), (8, 6), "{name}");
            assert_eq!(slice.spacing_mm, [1.25, 1.5], "{name}");
            assert_eq!(slice.thickness_mm, 8.0, "{name}");
            assert_eq!(slice.position_mm[..2], [-5.0, -6.0], "{name}");
            let expected: Vec<f32> = (0..48).map(|i| 2.0 * (48.0 * k + i as f32) - 5.0).collect();
            assert_eq!(slice.pixels, expected, "{name}");
        }
    }

    // A file cut inside a sequence in VR UN, before its sequence delimitation item, says so.
    let whole = good("enhanced_mr_un_sequences.dcm");
    let at = whole
        .windows(12)
        .position(|w| {
            w == [
                0x00, 0x52, 0x29, 0x92, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]
        })
        .expect("the shared functional groups in VR UN");
    let end = whole[at..]
        .windows(8)
        .position(|w| w == [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0])
        .expect("their sequence delimitation item");
    let e = decode_file("cut.dcm", &whole[..at + end], &Limits::default()).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "cut.dcm: the file is truncated: element (5200,9229) (VR UN, undefined length) has no \
         sequence delimitation item"
    );
}

/// A file of `tests/corpus/good/`, read when the test runs (a shared target directory may hold
/// a test binary built in another clone).
fn good(name: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(format!("{dir}/tests/corpus/good/{name}")).expect("read")
}

/// The 16 x 12 slice of make_good_corpus.py's `ramp_slice`, pixel i row by row: the 12-bit
/// values (21 i) mod 4096.
fn ramp() -> Vec<f32> {
    (0..16 * 12).map(|i| ((21 * i) % 4096) as f32).collect()
}

#[test]
fn lossless_jpeg_jpeg_2000_and_rle_from_another_encoder_decode_exactly() {
    // Written by GDCM (make_good_corpus.py): 16 x 12 pixels, 12-bit values (21 i) mod 4096.
    let expected = ramp();
    for name in [
        "jpeg_lossless_sv1.dcm",
        "jpeg2000_lossless.dcm",
        "rle_lossless.dcm",
    ] {
        let stack = decode(&good(name));
        let slice = &stack.slices[0];
        assert_eq!((slice.rows, slice.cols), (16, 12), "{name}");
        assert_eq!(slice.pixels, expected, "{name}");
        assert_eq!(slice.spacing_mm, [0.9, 1.1], "{name}");
        assert!(stack.warnings.is_empty(), "{name}: {:?}", stack.warnings);
    }
}

#[test]
fn a_jpeg_2000_file_whose_header_disagrees_with_its_codestream_says_so() {
    // GDCM's grey 16 x 12 codestream (make_good_corpus.py) under headers edited to disagree.
    let edited = |tag, value: u16| {
        let mut obj = dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(&good("jpeg2000_lossless.dcm")[..])
            .expect("a DICOM file");
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        let mut out = Vec::new();
        obj.write_all(&mut out).expect("written");
        decode_file("j2k.dcm", &out, &Limits::default())
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        edited(tags::SAMPLES_PER_PIXEL, 3),
        "j2k.dcm: DICOM: JPEG 2000 frame 1: 1 component(s), but the header declares 3 sample(s) \
         per pixel"
    );
    assert_eq!(
        edited(tags::BITS_ALLOCATED, 32),
        "j2k.dcm: DICOM: JPEG 2000 with Bits Allocated (0028,0100) 32: expected 8 or 16"
    );
}

#[test]
fn jpeg_ls_from_charls_decodes_in_pure_rust() {
    // Written by GDCM with CharLS (make_good_corpus.py): the same 16 x 12 slice as above.
    let expected = ramp();
    let stack = decode(&good("jpeg_ls_lossless.dcm"));
    let slice = &stack.slices[0];
    assert_eq!((slice.rows, slice.cols), (16, 12));
    assert_eq!(slice.pixels, expected);
    assert_eq!(slice.spacing_mm, [0.9, 1.1]);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);

    // Near-lossless with NEAR 3: every value within 3 of the original, some not equal, and the
    // first eight as CharLS itself decodes them (pydicom with pyjpegls); a warning says so.
    let stack = decode(&good("jpeg_ls_near_lossless.dcm"));
    let pixels = &stack.slices[0].pixels;
    assert_eq!(
        pixels[..8],
        [0.0, 21.0, 42.0, 63.0, 85.0, 106.0, 128.0, 144.0]
    );
    assert!(
        pixels
            .iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() <= 3.0)
    );
    assert!(pixels.iter().zip(&expected).any(|(a, b)| a != b));
    assert_eq!(
        stack.warnings,
        [
            "near-lossless JPEG-LS (NEAR 3): each pixel value may differ from the scanner's by up \
          to 3"
        ]
    );

    // Three frames, one fragment each (pydicom with pyjpegls): the uncompressed file's stack.
    let compressed = decode(&good("enhanced_mr_jpeg_ls.dcm"));
    let plain = decode(&good("enhanced_mr.dcm"));
    assert_eq!(compressed.slices.len(), 3);
    for (a, b) in compressed.slices.iter().zip(&plain.slices) {
        assert_eq!(
            (a.pixels.as_slice(), a.position_mm),
            (b.pixels.as_slice(), b.position_mm)
        );
    }
}

/// `bytes` (the ramp slice of make_good_corpus.py) read as that slice, with `warning` alone.
fn assert_ramp_with_warning(name: &str, bytes: &[u8], warning: &str) {
    let stack = decode(bytes);
    let slice = &stack.slices[0];
    assert_eq!((slice.rows, slice.cols), (16, 12), "{name}");
    assert_eq!(slice.pixels, ramp(), "{name}");
    assert_eq!(slice.spacing_mm, [0.9, 1.1], "{name}");
    assert_eq!(slice.thickness_mm, 6.0, "{name}");
    assert_eq!(stack.warnings, [warning], "{name}");
}

/// An implicit VR data set's file with a forged length of 4 GB on its pixel data (tag, then a
/// 4-byte length).
fn forged_implicit_pixel_length(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("pixel data tag");
    bytes[at + 4..at + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    bytes
}

#[test]
fn a_data_set_not_written_as_its_meta_group_declares_is_read_as_written_with_a_warning() {
    // Written by pydicom (make_good_corpus.py `misdeclared`), which reads each back with a
    // warning: the 16 x 12 slice of (21 i) mod 4096 above, its data set in implicit VR behind a
    // meta group that declares explicit VR (also with a group length first, which read as
    // explicit VR has a length that fits), the reverse, and GDCM's JPEG Lossless file with its
    // data set re-written in implicit VR (as in pydicom's own test file SC_rgb_jpeg.dcm).
    for (name, uid, declared, written) in [
        (
            "implicit_body_explicit_meta.dcm",
            "1.2.840.10008.1.2.1",
            "explicit",
            "implicit",
        ),
        (
            "implicit_body_group_length.dcm",
            "1.2.840.10008.1.2.1",
            "explicit",
            "implicit",
        ),
        (
            "explicit_body_implicit_meta.dcm",
            "1.2.840.10008.1.2",
            "implicit",
            "explicit",
        ),
        (
            "implicit_body_jpeg_lossless.dcm",
            "1.2.840.10008.1.2.4.70",
            "explicit",
            "implicit",
        ),
    ] {
        assert_ramp_with_warning(
            name,
            &good(name),
            &format!(
                "the file meta group's transfer syntax ({uid}) means a data set in {declared} VR \
                 little endian, but this one is written in {written} VR little endian (a fault of \
                 the program that wrote it); read as written"
            ),
        );
    }

    // Read the way it is written, the data set still gets the length checks: a forged length
    // of 4 GB on the pixel data (implicit VR: tag, then a 4-byte length) is refused, not
    // reserved.
    let forged = forged_implicit_pixel_length(good("implicit_body_explicit_meta.dcm"));
    let e = decode_file("forged.dcm", &forged, &Limits::default()).expect_err("refused");
    let message = e.to_string();
    assert!(
        message.contains("forged.dcm")
            && message.contains("element (7FE0,0010) declares 4294967280 bytes"),
        "{message}"
    );
}

#[test]
fn a_bare_data_set_is_read_in_the_encoding_it_is_written_in_with_a_warning() {
    // Written by pydicom (make_good_corpus.py `bare`), which reads each back when forced and
    // told the transfer syntax: the 16 x 12 slice of (21 i) mod 4096 above as a data set alone,
    // in the three uncompressed encodings (implicit VR with a group length first).
    for (name, encoding) in [
        ("bare_implicit_le.dcm", "implicit VR little endian"),
        ("bare_explicit_le.dcm", "explicit VR little endian"),
        ("bare_explicit_be.dcm", "explicit VR big endian"),
    ] {
        let bytes = good(name);
        assert_eq!(
            scarseg_imaging::decode::sniff(&bytes),
            Some(scarseg_imaging::decode::Format::Dicom),
            "{name}"
        );
        assert_ramp_with_warning(
            name,
            &bytes,
            &format!(
                "no DICOM Part 10 header (preamble, \"DICM\" and file meta group), so no \
                 transfer syntax: read as a bare data set in {encoding}, as it is written"
            ),
        );
    }
    // A Part 10 file without its 128-byte preamble ("DICM" first) reads as the whole one does,
    // with no warning.
    let stack = decode(&good("no_preamble.dcm"));
    assert_eq!(stack.slices[0].pixels, ramp());
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);

    // Read without a meta group, the data set still gets the length checks: a forged length of
    // 4 GB on the pixel data (implicit VR: tag, then a 4-byte length) is refused, not reserved.
    let forged = forged_implicit_pixel_length(good("bare_implicit_le.dcm"));
    let e = decode_file("forged.dcm", &forged, &Limits::default()).expect_err("refused");
    assert!(
        e.to_string()
            .contains("element (7FE0,0010) declares 4294967280 bytes"),
        "{e}"
    );

    // What is not one is not taken for one: text, a data set whose first element is not of
    // group 0008, and one whose second element's length runs past the end of the file.
    let not_dicom = |bytes: &[u8]| {
        let e = decode_file("x.dcm", bytes, &Limits::default()).expect_err("not DICOM");
        assert_eq!(e.kind, scarseg_imaging::ErrorKind::UnknownFormat, "{e}");
    };
    not_dicom(b"\x08\x00 is how this text file starts, and then it goes on.\n");
    let mut other_group = good("bare_explicit_le.dcm");
    other_group[0] = 0x10;
    not_dicom(&other_group);
    // (0008,0016) UI of 26 bytes, then (0008,0018) UI whose length is set past the end.
    let mut cut = good("bare_explicit_le.dcm");
    assert_eq!(&cut[8 + 26..8 + 26 + 6], b"\x08\x00\x18\x00UI");
    cut[8 + 26 + 6..8 + 26 + 8].copy_from_slice(&0xFFF0u16.to_le_bytes());
    not_dicom(&cut);
}

#[test]
fn elements_written_in_vr_un_are_read_as_their_dictionary_vr() {
    // Written by pydicom (make_good_corpus.py `un_elements`): the 16 x 12 slice of (21 i) mod
    // 4096 with a rescale 2v - 5, its Modality, Pixel Spacing, Slice Thickness, Rescale Slope and
    // Intercept in VR UN (their values as implicit VR holds them). Read as bytes, the slope "2"
    // was 50 and the intercept "-5" 45.
    let stack = decode(&good("ramp_un_elements.dcm"));
    let slice = &stack.slices[0];
    let expected: Vec<f32> = ramp().iter().map(|v| 2.0 * v - 5.0).collect();
    assert_eq!(slice.pixels, expected);
    assert_eq!(slice.spacing_mm, [0.9, 1.1]);
    assert_eq!(slice.thickness_mm, 6.0);
    // Modality MR: no warning that it is another.
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);

    // Encapsulated pixel data declared UN (GDCM's JPEG Lossless slice, its "OB" made "UN") is
    // still pixel data, not a sequence of implicit VR items.
    let mut un_pixels = good("jpeg_lossless_sv1.dcm");
    let header = [
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    let at = un_pixels
        .windows(12)
        .position(|w| w == header)
        .expect("the pixel data's header");
    un_pixels[at + 4..at + 6].copy_from_slice(b"UN");
    assert_eq!(decode(&un_pixels).slices[0].pixels, ramp());
}

#[test]
fn a_file_meta_group_without_its_group_length_is_read() {
    // GDCM's JPEG Lossless file of the 16 x 12 slice of (21 i) mod 4096, with the file meta
    // group's length element (0002,0000), 12 bytes right after "DICM", cut out as some writers
    // leave it out (pydicom's no_meta_group_length.dcm).
    let whole = good("jpeg_lossless_sv1.dcm");
    assert_eq!(whole[128..140], *b"DICM\x02\x00\x00\x00UL\x04\x00");
    let cut = [&whole[..132], &whole[144..]].concat();
    let stack = decode(&cut);
    let expected = ramp();
    assert_eq!(stack.slices[0].pixels, expected);
    assert_eq!(stack.slices[0].spacing_mm, [0.9, 1.1]);
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
}

#[test]
fn twelve_bit_lossy_jpeg_reads_as_other_decoders_read_it() {
    // Written by libjpeg-turbo and by DCMTK's dcmcjpeg (make_good_corpus.py `jpeg_extended`,
    // `jpeg_extended_dcmtk`): 16 x 12 and 45 x 50 slices (partial blocks at the edges) as JPEG
    // Extended with 12-bit samples; beside each, uncompressed, what libjpeg (through pylibjpeg)
    // and DCMTK's dcmdjpeg decode from it. Those two differ from each other by up to 2 on the
    // second (their inverse DCTs round differently), and so may this decoder's exact one.
    for name in ["jpeg_extended_12bit", "jpeg_extended_dcmtk"] {
        let stack = decode(&good(&format!("{name}.dcm")));
        let reference = decode(&good(&format!("{name}_reference.dcm")));
        let (got, want) = (&stack.slices[0], &reference.slices[0]);
        assert_eq!((got.rows, got.cols), (want.rows, want.cols), "{name}");
        let worst = got
            .pixels
            .iter()
            .zip(&want.pixels)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 2.0, "{name}: differs by up to {worst}");
        assert_eq!(got.spacing_mm, want.spacing_mm, "{name}");
    }
}

/// A JPEG Extended image of `rows` x `cols` grey 12-bit pixels around `frame` (one JPEG
/// stream), in an explicit VR little-endian file.
fn jpeg_extended(rows: u16, cols: u16, frame: Vec<u8>) -> Vec<u8> {
    let mut s = spec(12, false, "MONOCHROME2");
    s.rows = rows;
    s.cols = cols;
    s.transfer_syntax = uids::JPEG_EXTENDED12_BIT;
    let fragments = PixelFragmentSequence::new(vec![], vec![frame]);
    dicom(&s, Value::PixelSequence(fragments), VR::OB)
}

#[test]
fn twelve_bit_jpeg_restart_intervals_reset_the_dc_prediction() {
    // Two 8 x 8 blocks side by side (one row of 8 x 16 pixels), each only a DC coefficient,
    // with a restart interval of one block, coded by hand (ITU-T T.81):
    // - DC table: two 2-bit codes, 00 for size 0 and 01 for size 4; AC table: one 1-bit code,
    //   0 for end of block; quantisation step 16 for DC.
    // - Block 1: 01 1000 0 (size 4, value 8: a difference of +8), padded with ones: 0x61.
    // - RST0, which sets the DC prediction back to 0.
    // - Block 2: 01 0111 0 (size 4, bits 0111 = 7, under 8 so 7 - 15 = -8), padded: 0x5D.
    // A DC coefficient alone gives every sample DC x step / 8 plus the level shift of 2048:
    // 8 x 16 / 8 + 2048 = 2064 and -8 x 16 / 8 + 2048 = 2032 (without the reset, 0 + 2048).
    let mut q = vec![0xFF, 0xDB, 0, 67, 0x00, 16];
    q.extend([1u8; 63]);
    #[rustfmt::skip]
    let stream = [
        &[0xFF, 0xD8][..],
        &q,
        // SOF1: 12 bits, 8 rows, 16 columns, one component (id 1, 1 x 1, table 0).
        &[0xFF, 0xC1, 0, 11, 12, 0, 8, 0, 16, 1, 1, 0x11, 0],
        // DHT: DC table 0 (two codes of length 2: sizes 0 and 4), AC table 0 (one of length 1).
        &[0xFF, 0xC4, 0, 21, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4],
        &[0xFF, 0xC4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // DRI: one block per interval.
        &[0xFF, 0xDD, 0, 4, 0, 1],
        // SOS: component 1, tables 0 and 0, coefficients 0-63.
        &[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0],
        &[0x61, 0xFF, 0xD0, 0x5D, 0xFF, 0xD9],
    ]
    .concat();
    let stack = decode(&jpeg_extended(8, 16, stream.clone()));
    let pixels = &stack.slices[0].pixels;
    for y in 0..8 {
        assert_eq!(pixels[y * 16..y * 16 + 8], [2064.0; 8], "row {y}");
        assert_eq!(pixels[y * 16 + 8..y * 16 + 16], [2032.0; 8], "row {y}");
    }

    // Without its restart marker the second block is read from the marker's bytes: refused.
    let mut no_restart = stream.clone();
    let at = no_restart
        .windows(2)
        .position(|w| w == [0xFF, 0xD0])
        .expect("RST0");
    no_restart.drain(at..at + 2);
    let e = decode_file(
        "r.dcm",
        &jpeg_extended(8, 16, no_restart),
        &Limits::default(),
    )
    .expect_err("refused");
    assert!(
        e.to_string()
            .ends_with("12-bit JPEG frame 1: a restart marker is missing"),
        "{e}"
    );
    // A stream cut inside its coded data, and one whose frame is not the declared size.
    let cut = stream[..stream.len() - 3].to_vec();
    let e =
        decode_file("c.dcm", &jpeg_extended(8, 16, cut), &Limits::default()).expect_err("refused");
    assert!(
        e.to_string()
            .ends_with("the coded data ends before the image does"),
        "{e}"
    );
    let e = decode_file("s.dcm", &jpeg_extended(8, 24, stream), &Limits::default())
        .expect_err("refused");
    assert!(
        e.to_string().ends_with(
            "12-bit JPEG frame 1: a frame of 16 x 8 pixels, 1 component(s) of 12 bits, but the \
             header declares 24 x 8 grey pixels of 12 bits"
        ),
        "{e}"
    );
}

#[test]
fn colour_images_become_their_luma_in_every_layout() {
    // Written by pydicom and GDCM (make_good_corpus.py), pixel i of 16 (row by row).
    let i = |k: usize| k as f32;
    // RGB, one plane per channel: R = 15 i, G = 255 - 15 i, B = 7 i; ITU-R BT.601 luma.
    let luma: Vec<f32> = (0..16)
        .map(|k| 0.299 * 15.0 * i(k) + 0.587 * (255.0 - 15.0 * i(k)) + 0.114 * 7.0 * i(k))
        .collect();
    let planes = decode(&good("rgb_planar.dcm"));
    for (got, want) in planes.slices[0].pixels.iter().zip(&luma) {
        assert!((got - want).abs() < 1e-3, "{got} against {want}");
    }
    assert_eq!(planes.slices[0].pixels.len(), 16);
    // YCbCr, interleaved and 4:2:2: Y = 15 i is the luma itself, whatever the chroma.
    let y: Vec<f32> = (0..16).map(|k| 15.0 * i(k)).collect();
    for name in ["ybr_full.dcm", "ybr_full_422.dcm"] {
        let stack = decode(&good(name));
        assert_eq!(stack.slices[0].pixels, y, "{name}");
        assert!(
            stack
                .warnings
                .iter()
                .any(|w| w.contains("converted to grey (its luma, Y)")),
            "{name}: {:?}",
            stack.warnings
        );
    }
    // JPEG baseline (lossy): left half (200, 40, 40), right half (40, 40, 200).
    let jpeg = decode(&good("jpeg_baseline_colour.dcm"));
    let slice = &jpeg.slices[0];
    assert_eq!((slice.rows, slice.cols), (8, 8));
    let (red, blue) = (
        0.299 * 200.0 + 0.587 * 40.0 + 0.114 * 40.0,
        0.299 * 40.0 + 0.587 * 40.0 + 0.114 * 200.0,
    );
    for r in 0..8 {
        // The columns beside the edge ring after lossy compression; the outer ones do not.
        for (c, want) in [(0, red), (1, red), (6, blue), (7, blue)] {
            let got = slice.pixels[r * 8 + c];
            assert!(
                (got - want).abs() <= 4.0,
                "({r}, {c}): {got} against {want}"
            );
        }
    }
    // The same colours, 8 x 8 blocks of each (16 x 16), in an RGB JPEG stream that neither a JFIF
    // nor an Adobe marker nor its component identifiers (0, 1, 2) call RGB: only the header's
    // Photometric Interpretation does, and it decides (PS3.5 8.2.1). Read as YCbCr, the red half
    // came out at 177.7 and the blue at 53.3.
    let jpeg = decode(&good("jpeg_rgb_no_markers.dcm"));
    let slice = &jpeg.slices[0];
    assert_eq!((slice.rows, slice.cols), (16, 16));
    for (k, got) in slice.pixels.iter().enumerate() {
        let want = if k % 16 < 8 { red } else { blue };
        assert!((got - want).abs() <= 1.0, "pixel {k}: {got} against {want}");
    }
}

#[test]
fn a_palette_colour_image_is_refused_not_read_as_grey() {
    // Its values are indices into colour tables; read as grey they would look like an image.
    let s = spec(8, false, "PALETTE COLOR");
    let bytes = grey8(&s, vec![0u8, 1, 2, 3, 4, 5]);
    let err = decode_file("palette.dcm", &bytes, &Limits::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "palette.dcm: DICOM: PALETTE COLOR image: its values index a colour table, not \
         intensities; export it as grey (MONOCHROME2) or RGB"
    );
}

/// Each stack's name and its slices' (source, z).
fn layout(stacks: &[Stack]) -> Vec<(String, Vec<(String, f64)>)> {
    stacks
        .iter()
        .map(|st| {
            let slices = st
                .slices
                .iter()
                .map(|s| (s.source.clone(), s.position_mm[2]))
                .collect();
            (st.name.clone(), slices)
        })
        .collect()
}

/// What [`layout`] gives for the stack `part` of `file` whose frames `frames` lie at z = 10
/// and 18 mm.
fn at_10_and_18(file: &str, part: &str, frames: [usize; 2]) -> (String, Vec<(String, f64)>) {
    (
        format!("{file} ({part})"),
        vec![
            (format!("{file} [{}]", frames[0]), 10.0),
            (format!("{file} [{}]", frames[1]), 18.0),
        ],
    )
}

#[test]
fn an_enhanced_psir_file_is_two_stacks_magnitude_and_real() {
    // tests/corpus/good/enhanced_psir.dcm (pydicom, make_good_corpus.py): frames magnitude
    // z = 10, real z = 10, magnitude z = 18, real z = 18, told apart only by each frame's
    // ComplexImageComponent; stored value (i + 7 k) mod 4096 for pixel i of frame k.
    let bytes = good("enhanced_psir.dcm");
    let limits = Limits::default();
    let stacks = decode_file_stacks("psir.dcm", &bytes, &limits).expect("decodes");
    assert_eq!(
        layout(&stacks),
        [
            at_10_and_18("psir.dcm", "image type MAGNITUDE", [0, 2]),
            at_10_and_18("psir.dcm", "image type REAL", [1, 3])
        ]
    );
    let parts: Vec<Option<&str>> = stacks.iter().map(|s| s.part.as_deref()).collect();
    assert_eq!(
        parts,
        [Some("image type MAGNITUDE"), Some("image type REAL")]
    );
    for (stack, frames) in stacks.iter().zip([[0.0f32, 2.0], [1.0, 3.0]]) {
        // Each is one slice per position: nothing repeats, so nothing to warn of.
        assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
        for (slice, k) in stack.slices.iter().zip(frames) {
            assert_eq!((slice.rows, slice.cols), (40, 48));
            assert_eq!(slice.spacing_mm, [1.4, 1.4]);
            let expected: Vec<f32> = (0..40 * 48)
                .map(|i| (i as f32 + 7.0 * k) % 4096.0)
                .collect();
            assert_eq!(slice.pixels, expected);
        }
    }
    // Where one stack is needed (training), the file is refused, naming both.
    let err = decode_file("psir.dcm", &bytes, &limits).expect_err("two stacks");
    assert_eq!(
        err.to_string(),
        "psir.dcm: holds 2 stacks (image type MAGNITUDE; image type REAL) where one is needed \
         here; `scarseg predict` and the page read each on its own"
    );
    // In a folder: the same two stacks, named after the folder.
    let files = vec![("psir.dcm".to_string(), bytes)];
    let (stacks, errors) = decode_series_stacks("export", &files, &limits);
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["export (image type MAGNITUDE)", "export (image type REAL)"]
    );
    // Training's one-stack reader keeps the first and names the file that holds the other.
    let (stack, errors) = decode_series("export", &files, &limits);
    let stack = stack.expect("the first stack");
    assert_eq!(
        (stack.name.as_str(), stack.part.as_deref()),
        ("export", None)
    );
    assert_eq!(stack.slices.len(), 2);
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        [
            "psir.dcm: series: slices of another acquisition (series 7 LGE PSIR, stack 1, image \
          type REAL) than the folder's first stack (series 7 LGE PSIR, stack 1, image type \
          MAGNITUDE): one stack is needed here; give each its own folder (`scarseg predict` and \
          the page read each on its own)"
        ]
    );
}

#[test]
fn an_enhanced_file_of_two_time_points_is_a_stack_per_time_point() {
    // tests/corpus/good/enhanced_cine.dcm (pydicom): frames (time, z) = (1, 18), (2, 10),
    // (1, 10), (2, 18), all of StackID 1; stored value 48 k + i for pixel i of frame k.
    let stacks = decode_file_stacks("cine.dcm", &good("enhanced_cine.dcm"), &Limits::default())
        .expect("decodes");
    assert_eq!(
        layout(&stacks),
        [
            at_10_and_18("cine.dcm", "time 1", [2, 0]),
            at_10_and_18("cine.dcm", "time 2", [1, 3])
        ]
    );
    for stack in &stacks {
        assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    }
    let expected: Vec<f32> = (0..48).map(|i| (48 * 2 + i) as f32).collect();
    assert_eq!(stacks[0].slices[0].pixels, expected);
}

#[test]
fn classic_magnitude_and_real_files_in_one_series_are_two_stacks() {
    // A PSIR series exported as classic files: magnitude and real images of each slice, told
    // apart by ImageType (as one vendor writes it), at z = 0 and 8 mm, in acquisition order.
    let files: Vec<(String, Vec<u8>)> = [(0, "M"), (0, "R"), (8, "M"), (8, "R")]
        .iter()
        .enumerate()
        .map(|(k, (z, kind))| {
            let mut s = spec(8, false, "MONOCHROME2");
            let cs =
                |tag, value: String| DataElement::new(tag, VR::CS, PrimitiveValue::from(value));
            let ds = |tag, value: &str| DataElement::new(tag, VR::DS, PrimitiveValue::from(value));
            s.geometry = Some(vec![
                cs(
                    tags::IMAGE_TYPE,
                    format!("ORIGINAL\\PRIMARY\\{kind}_IR\\{kind}\\IR"),
                ),
                ds(tags::PIXEL_SPACING, "0.7\\0.8"),
                ds(tags::SLICE_THICKNESS, "8"),
                ds(tags::IMAGE_POSITION_PATIENT, &format!("0\\0\\{z}")),
                ds(tags::IMAGE_ORIENTATION_PATIENT, "1\\0\\0\\0\\1\\0"),
            ]);
            let values = vec![k as u8, 10, 20, 30, 40, 250];
            let bytes = grey8(&s, values);
            (format!("{k}.dcm"), bytes)
        })
        .collect();
    let (stacks, errors) = decode_series_stacks("psir", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    let slices = |a: &str, b: &str| vec![(a.to_string(), 0.0), (b.to_string(), 8.0)];
    assert_eq!(
        layout(&stacks),
        [
            (
                "psir (image type ORIGINAL\\PRIMARY\\M_IR\\M\\IR)".to_string(),
                slices("0.dcm", "2.dcm")
            ),
            (
                "psir (image type ORIGINAL\\PRIMARY\\R_IR\\R\\IR)".to_string(),
                slices("1.dcm", "3.dcm")
            )
        ]
    );
    for stack in &stacks {
        assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    }
    // Read as one stack, as before splitting, every position would have been counted twice:
    // the one-stack reader refuses the real images' files instead.
    let (stack, errors) = decode_series("psir", &files, &Limits::default());
    assert_eq!(stack.expect("first").slices.len(), 2);
    let named: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(named, ["1.dcm", "3.dcm"]);
}

/// Slice k's labels by make_good_corpus.py's seg_masks for frames of `pixels` pixels: scar (3)
/// where i % 5 == k on slices 1 and 2, else myocardium (2) where i + k is even, else 0 (the blood
/// pool segment is neither; a fractional value under half is off).
fn seg_fixture_labels(pixels: usize) -> Vec<Vec<u8>> {
    (0..3)
        .map(|k| {
            (0..pixels)
                .map(|i| {
                    if k > 0 && i % 5 == k {
                        3
                    } else if (i + k) % 2 == 0 {
                        2
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect()
}

/// The series `NAME_0..2.dcm` of the good corpus, decoded.
fn seg_fixture_series(name: &str) -> Vec<scarseg_imaging::Slice> {
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|k| (format!("{name}_{k}.dcm"), good(&format!("{name}_{k}.dcm"))))
        .collect();
    let (stack, errors) = decode_series("series", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    stack.expect("the series").slices
}

/// The good corpus's segmentations of the series `seg_mr` (see the test below).
const SEGMENTATIONS: [&str; 10] = [
    "seg_binary.dcm",
    "seg_binary_deflated.dcm",
    "seg_fractional.dcm",
    "seg_labelmap.dcm",
    "seg_fractional_rle.dcm",
    "seg_labelmap_rle.dcm",
    "seg_dcmjs_binary.dcm",
    "seg_dcmjs_rle.dcm",
    "seg_fractional_jls.dcm",
    "seg_labelmap_jls.dcm",
];

#[test]
fn dicom_segmentations_by_another_writer_read_as_label_maps() {
    // tests/corpus/good/seg_*.dcm, written by highdicom (make_good_corpus.py): three MR slices
    // and a BINARY (also deflated), a FRACTIONAL and a LABELMAP segmentation of them, the last
    // two also with RLE- and JPEG-LS-compressed frames; and dcmjs's two, as OHIF 2 exports them
    // (segments known by their labels only; the RLE one FRACTIONAL with 1 in 255 where a segment
    // is).
    let expected = seg_fixture_labels(48);
    let slices = seg_fixture_series("seg_mr");
    let limits = Limits::default();
    for file in SEGMENTATIONS {
        let bytes = good(file);
        let maps = labels_for(&slices, "series", file, &bytes, &limits).expect(file);
        assert_eq!(maps, expected, "{file}");
        // In the other order, each slice still gets its own frames (by reference).
        let reversed: Vec<_> = slices.iter().rev().cloned().collect();
        let maps = labels_for(&reversed, "series", file, &bytes, &limits).expect(file);
        assert_eq!(
            maps,
            expected.iter().rev().cloned().collect::<Vec<_>>(),
            "{file}"
        );
        // Slices that do not know their DICOM instances (the same series as NIfTI) get their
        // frames by position.
        let mut unknown = slices.clone();
        unknown.iter_mut().for_each(|s| s.dicom = None);
        let maps = labels_for(&unknown, "series", file, &bytes, &limits).expect(file);
        assert_eq!(maps, expected, "{file}");
        // Another series at other positions: none of the frames is placed.
        let mut elsewhere = unknown.clone();
        elsewhere.iter_mut().for_each(|s| s.position_mm[2] += 100.0);
        let e = labels_for(&elsewhere, "other", file, &bytes, &limits).expect_err(file);
        assert!(
            e.starts_with(&format!("{file}: DICOM segmentation: "))
                && e.contains("reference no image of other and lie on none of its slices"),
            "{e}"
        );
    }
}

#[test]
fn a_dicom_segmentation_without_high_bit_reads_as_bits_stored_says() {
    // High Bit is required in a segmentation too, but a writer that leaves it out of its images
    // may leave it out here; it can only be Bits Stored - 1, as for an image. The same files as
    // above without it, uncompressed and in each compression, give the same label maps (the
    // compressed ones were refused: dicom-pixeldata needs High Bit to decode them). The
    // deflated file's elements cannot be cut from its bytes.
    let expected = seg_fixture_labels(48);
    let slices = seg_fixture_series("seg_mr");
    for file in SEGMENTATIONS
        .into_iter()
        .filter(|f| !f.contains("deflated"))
    {
        let bytes = good(file);
        // (0028,0102) US 2, explicit VR little endian: 0 for one bit stored, 7 for eight.
        let at = [0u8, 7]
            .iter()
            .find_map(|&h| {
                let element = [0x28, 0x00, 0x02, 0x01, b'U', b'S', 2, 0, h, 0];
                bytes.windows(10).position(|w| w == element)
            })
            .expect(file);
        let without = [&bytes[..at], &bytes[at + 10..]].concat();
        let maps = labels_for(&slices, "series", file, &without, &Limits::default());
        assert_eq!(maps, Ok(expected.clone()), "{file} without High Bit");
    }
}

#[test]
fn a_dicom_segmentation_is_told_from_its_header() {
    let limits = Limits::default();
    for file in [
        "seg_binary.dcm",
        "seg_labelmap_rle.dcm",
        "seg_dcmjs_rle.dcm",
    ] {
        assert!(is_dicom_segmentation(&good(file), &limits), "{file}");
    }
    for file in ["seg_mr_0.dcm", "enhanced_mr.dcm", "rle_lossless.dcm"] {
        assert!(!is_dicom_segmentation(&good(file), &limits), "{file}");
    }
    assert!(!is_dicom_segmentation(b"not DICOM at all", &limits));
    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert!(!is_dicom_segmentation(&good("seg_binary.dcm"), &small));
}

#[test]
fn dicom_segmentations_in_jpeg_2000_read_as_label_maps() {
    // highdicom's BINARY and LABELMAP segmentations of three 32 x 32 slices, each frame a JPEG
    // 2000 lossless codestream (the binary one's of one-bit samples), decoded in pure Rust as
    // JPEG 2000 images are.
    let expected = seg_fixture_labels(32 * 32);
    let slices = seg_fixture_series("seg_mr32");
    for file in ["seg_binary_j2k.dcm", "seg_labelmap_j2k.dcm"] {
        let maps = labels_for(&slices, "series", file, &good(file), &Limits::default());
        assert_eq!(maps.expect(file), expected, "{file}");
    }
}

#[test]
fn compressed_segmentations_that_cannot_be_read_say_why() {
    let slices = seg_fixture_series("seg_mr");
    let bytes = good("seg_labelmap_rle.dcm");
    // A compression bomb: the label map's three frames made 1024 x 1024, each one byte plane of
    // PackBits runs of 128 zeros (16 KiB that decode to 1 MiB). Over a 2 MiB limit it is
    // refused before anything is decoded, though the file is small.
    let side = 1024usize;
    let with_runs = |runs: usize| {
        let mut obj = dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(&bytes[..])
            .expect("the fixture");
        let mut frame = vec![0u8; 64];
        frame[0..4].copy_from_slice(&1u32.to_le_bytes());
        frame[4..8].copy_from_slice(&64u32.to_le_bytes());
        frame.extend([0x81u8, 0].repeat(runs));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(vec![], vec![frame; 3])),
        ));
        for tag in [tags::ROWS, tags::COLUMNS] {
            obj.put(DataElement::new(
                tag,
                VR::US,
                PrimitiveValue::from(side as u16),
            ));
        }
        let mut out = Vec::new();
        obj.write_all(&mut out).expect("written");
        out
    };
    let bomb_bytes = with_runs(side * side / 128);
    let mut big = slices.clone();
    for s in &mut big {
        (s.rows, s.cols, s.pixels) = (side, side, vec![0.0; side * side]);
    }
    let limit = Limits {
        max_bytes: 2 << 20,
        ..Limits::default()
    };
    assert!((bomb_bytes.len() as u64) < limit.max_bytes);
    let e = labels_for(&big, "series", "a.dcm", &bomb_bytes, &limit).expect_err("a bomb");
    assert_eq!(
        e,
        "a.dcm: DICOM segmentation: 3145728 bytes is over the limit of 2097152 bytes (2 MiB)"
    );
    // Under a limit it fits, it decodes to background everywhere.
    let maps = labels_for(&big, "series", "a.dcm", &bomb_bytes, &Limits::default());
    assert_eq!(maps.expect("decodes"), vec![vec![0u8; side * side]; 3]);
    // Lossy JPEG would change the label values: refused by name, whatever the frames hold.
    let lossy = retag_transfer_syntax(&bytes, "1.2.840.10008.1.2.4.50");
    let e = labels_for(&slices, "series", "b.dcm", &lossy, &Limits::default()).expect_err("lossy");
    assert!(
        e.starts_with("b.dcm: DICOM segmentation: transfer syntax JPEG Baseline")
            && e.contains("lossy compression changes the values"),
        "{e}"
    );
    // Near-lossless JPEG-LS: lossy too, named.
    let near = retag_transfer_syntax(&bytes, "1.2.840.10008.1.2.4.81");
    let e = labels_for(&slices, "series", "d.dcm", &near, &Limits::default()).expect_err("near");
    assert!(
        e.starts_with("d.dcm: DICOM segmentation: transfer syntax JPEG-LS Lossy")
            && e.contains("lossy compression changes the values"),
        "{e}"
    );
    // RLE frames that hold half their pixels: the decoder's checks name the frame, nothing
    // panics.
    let short = with_runs(side * side / 256);
    let e = labels_for(&big, "series", "c.dcm", &short, &Limits::default()).expect_err("short");
    assert!(
        e.starts_with("c.dcm: DICOM segmentation: ") && e.contains("RLE frame 1"),
        "{e}"
    );
}

/// The DICOM file `bytes` with its transfer syntax UID set to `uid`, its data set unchanged.
fn retag_transfer_syntax(bytes: &[u8], uid: &str) -> Vec<u8> {
    let mut obj = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .from_reader(bytes)
        .expect("a DICOM file");
    obj.update_meta(|meta| meta.transfer_syntax = format!("{uid}\0"));
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("written");
    out
}
