//! DICOM Segmentations (PS3.3 A.51), written and read. Written: binary masks of a DICOM series
//! as one multi-frame SEG instance in the series' study, referencing each source image, so that
//! a PACS, OHIF or 3D Slicer shows the masks over the images they were drawn on. Read (through
//! `decode::labels_for`): ours or another tool's, BINARY, FRACTIONAL or LABELMAP, uncompressed or
//! losslessly compressed, as ScarSeg's label maps on the image's slices.
//!
//! One frame per segment and slice, in that order (all of segment 1's slices, then segment 2's);
//! the dimensions are the segment number and the image position, as most writers (highdicom,
//! dcmqi) index them. Empty frames are kept, so every source image has its frame in every
//! segment and a reader needs no rule for the missing ones.

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_pixeldata::PixelDecoder;

use crate::ErrorKind;
use crate::codec::Codec;
use crate::decode::{
    check_compressed_frames, dicom_floats, dicom_int, dicom_text, error_chain, first_item,
    functional_group, items,
};
use crate::encode::{EncodeError, part10};
use crate::slice::{DicomSource, Limits, Slice};

/// A coded concept: code value, coding scheme ("SCT" for SNOMED CT, "DCM") and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code<'a> {
    /// Code Value (0008,0100).
    pub value: &'a str,
    /// Coding Scheme Designator (0008,0102).
    pub scheme: &'a str,
    /// Code Meaning (0008,0104).
    pub meaning: &'a str,
}

/// How a segment was made (Segment Algorithm Type, 0062,0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmType {
    /// By an algorithm alone.
    Automatic,
    /// By an algorithm, then edited by a person.
    SemiAutomatic,
    /// By a person.
    Manual,
}

impl AlgorithmType {
    fn code_string(self) -> &'static str {
        match self {
            AlgorithmType::Automatic => "AUTOMATIC",
            AlgorithmType::SemiAutomatic => "SEMIAUTOMATIC",
            AlgorithmType::Manual => "MANUAL",
        }
    }
}

/// One segment: what it is, how it was made, and its mask on every slice.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    /// Segment Label (0062,0005): "Myocardium".
    pub label: &'a str,
    /// Segment Description (0062,0006).
    pub description: &'a str,
    /// Segmented Property Category (what kind of thing).
    pub category: Code<'a>,
    /// Segmented Property Type (what thing).
    pub property: Code<'a>,
    /// Anatomic Region, where the property is not one itself (a scar's: the myocardium).
    pub region: Option<Code<'a>>,
    /// How it was made.
    pub algorithm_type: AlgorithmType,
    /// Segment Algorithm Name (0062,0009), required unless the segment is manual.
    pub algorithm_name: &'a str,
    /// Recommended Display CIELab Value (0062,000D), DICOM's scaled L*a*b*.
    pub colour_lab: [u16; 3],
    /// One mask per slice, `rows * cols` row-major, in the slices' order.
    pub masks: Vec<&'a [bool]>,
}

/// The new instance's own identity and description.
#[derive(Debug, Clone)]
pub struct Instance<'a> {
    /// SOP Instance UID of the segmentation.
    pub sop_instance_uid: &'a str,
    /// Series Instance UID of the segmentation's (new) series.
    pub series_uid: &'a str,
    /// Series Number.
    pub series_number: u32,
    /// Series Description.
    pub series_description: &'a str,
    /// Content Label (0070,0080): a code string, upper case, at most 16 characters.
    pub content_label: &'a str,
    /// Content Description (0070,0081).
    pub content_description: &'a str,
    /// Manufacturer, Manufacturer's Model Name, Software Versions, Device Serial Number.
    pub manufacturer: &'a str,
    /// Manufacturer's Model Name.
    pub model_name: &'a str,
    /// Software Versions.
    pub software_version: &'a str,
    /// Device Serial Number.
    pub device_serial: &'a str,
    /// Content Date and Series Date, YYYYMMDD.
    pub date: &'a str,
    /// Content Time and Series Time, HHMMSS.
    pub time: &'a str,
}

/// SOP Class UID of the Segmentation Storage.
pub const SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";
/// SOP Class UID of the Label Map Segmentation Storage (DICOM 2024): one value per pixel, the
/// segment's number.
pub const LABEL_MAP_SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.7";

/// Whether a SOP Class UID is a segmentation's (of either storage class).
pub fn is_segmentation(sop_class_uid: &str) -> bool {
    [SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE].contains(&sop_class_uid)
}

/// A DICOM Segmentation of `slices` (all read from DICOM, of one study, one grid size and one
/// frame of reference) with `segments`, as a Part 10 file in explicit VR little endian. The
/// patient and study attributes are the slices' own, so the segmentation joins their study.
pub fn dicom_seg(
    slices: &[Slice],
    segments: &[Segment<'_>],
    instance: &Instance<'_>,
) -> Result<Vec<u8>, EncodeError> {
    let err = |message: String| EncodeError {
        format: "DICOM SEG",
        message,
    };
    let first = slices.first().ok_or_else(|| err("no slices".into()))?;
    let sources: Vec<&DicomSource> = slices
        .iter()
        .map(|s| {
            s.dicom.as_ref().ok_or_else(|| {
                err(format!(
                    "{} was not read from DICOM: a DICOM segmentation must reference DICOM \
                     images (the NIfTI label volume serves the others)",
                    s.source
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let study = sources[0];
    let frame_of_reference = study.frame_of_reference_uid.as_deref().ok_or_else(|| {
        err(format!(
            "{} has no Frame of Reference UID (0020,0052), so the segmentation could not be \
             placed on it",
            first.source
        ))
    })?;
    for (s, src) in slices.iter().zip(&sources) {
        if src.study_uid != study.study_uid
            || src.frame_of_reference_uid.as_deref() != Some(frame_of_reference)
        {
            return Err(err(format!(
                "{} is of another study or frame of reference than {}: one segmentation \
                 covers one series",
                s.source, first.source
            )));
        }
        if (s.rows, s.cols) != (first.rows, first.cols) {
            return Err(err(format!(
                "{} is {} x {} pixels where {} is {} x {}: a segmentation has one grid size",
                s.source, s.rows, s.cols, first.source, first.rows, first.cols
            )));
        }
    }
    if segments.is_empty() {
        return Err(err("no segments".into()));
    }
    for seg in segments {
        if seg.masks.len() != slices.len()
            || seg.masks.iter().any(|m| m.len() != first.rows * first.cols)
        {
            return Err(err(format!(
                "segment '{}' has {} mask(s) for {} slice(s) of {} x {}",
                seg.label,
                seg.masks.len(),
                slices.len(),
                first.rows,
                first.cols
            )));
        }
    }
    let rows = u16::try_from(first.rows).map_err(|_| err("more than 65535 rows".into()))?;
    let cols = u16::try_from(first.cols).map_err(|_| err("more than 65535 columns".into()))?;

    let mut obj = derived_object(SEGMENTATION_STORAGE, "SEG", instance, study);
    // Frame of Reference: the source's space.
    put_str(
        &mut obj,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        frame_of_reference,
    );
    put_str(&mut obj, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
    // Segmentation Image and Multi-frame Functional Groups.
    put_strs(&mut obj, tags::IMAGE_TYPE, VR::CS, &["DERIVED", "PRIMARY"]);
    put_str(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put_str(&mut obj, tags::CONTENT_DATE, VR::DA, instance.date);
    put_str(&mut obj, tags::CONTENT_TIME, VR::TM, instance.time);
    put_str(
        &mut obj,
        tags::CONTENT_LABEL,
        VR::CS,
        instance.content_label,
    );
    put_str(
        &mut obj,
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        instance.content_description,
    );
    put_str(&mut obj, tags::CONTENT_CREATOR_NAME, VR::PN, "");
    put_str(&mut obj, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");
    // Myocardium holds the scar: the segments may overlap.
    put_str(&mut obj, tags::SEGMENTS_OVERLAP, VR::CS, "YES");
    put_str(&mut obj, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
    put_u16(&mut obj, tags::SAMPLES_PER_PIXEL, 1);
    put_str(
        &mut obj,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    );
    put_u16(&mut obj, tags::ROWS, rows);
    put_u16(&mut obj, tags::COLUMNS, cols);
    put_u16(&mut obj, tags::BITS_ALLOCATED, 1);
    put_u16(&mut obj, tags::BITS_STORED, 1);
    put_u16(&mut obj, tags::HIGH_BIT, 0);
    put_u16(&mut obj, tags::PIXEL_REPRESENTATION, 0);
    put_seq(
        &mut obj,
        tags::SEGMENT_SEQUENCE,
        segments
            .iter()
            .enumerate()
            .map(|(i, seg)| segment_item(i as u16 + 1, seg))
            .collect(),
    );

    // Where every slice lies and what it was made from. Geometry common to all slices is
    // shared; otherwise each frame carries its own.
    let measures = |s: &Slice| {
        let mut item = InMemDicomObject::new_empty();
        put_str(
            &mut item,
            tags::PIXEL_SPACING,
            VR::DS,
            &ds_list(&s.spacing_mm),
        );
        put_str(
            &mut item,
            tags::SLICE_THICKNESS,
            VR::DS,
            &ds(s.thickness_mm),
        );
        item
    };
    let orientation = |s: &Slice| {
        let mut item = InMemDicomObject::new_empty();
        put_str(
            &mut item,
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            &ds_list(&s.orientation),
        );
        item
    };
    let same_measures = slices
        .iter()
        .all(|s| s.spacing_mm == first.spacing_mm && s.thickness_mm == first.thickness_mm);
    let same_orientation = slices.iter().all(|s| s.orientation == first.orientation);
    let mut shared = InMemDicomObject::new_empty();
    if same_measures {
        put_seq(
            &mut shared,
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![measures(first)],
        );
    }
    if same_orientation {
        put_seq(
            &mut shared,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![orientation(first)],
        );
    }
    put_seq(
        &mut obj,
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    );
    let mut frames = Vec::with_capacity(segments.len() * slices.len());
    for number in 1..=segments.len() as u16 {
        for (k, (s, src)) in slices.iter().zip(&sources).enumerate() {
            let mut frame = InMemDicomObject::new_empty();
            frame.put(DataElement::new(
                tags::DERIVATION_IMAGE_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![derivation_item(src)]),
            ));
            let mut content = InMemDicomObject::new_empty();
            content.put(DataElement::new(
                tags::DIMENSION_INDEX_VALUES,
                VR::UL,
                PrimitiveValue::U32(vec![u32::from(number), k as u32 + 1].into()),
            ));
            put_seq(&mut frame, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
            let mut position = InMemDicomObject::new_empty();
            put_str(
                &mut position,
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &ds_list(&s.position_mm),
            );
            put_seq(&mut frame, tags::PLANE_POSITION_SEQUENCE, vec![position]);
            if !same_measures {
                put_seq(&mut frame, tags::PIXEL_MEASURES_SEQUENCE, vec![measures(s)]);
            }
            if !same_orientation {
                put_seq(
                    &mut frame,
                    tags::PLANE_ORIENTATION_SEQUENCE,
                    vec![orientation(s)],
                );
            }
            let mut identification = InMemDicomObject::new_empty();
            put_u16(&mut identification, tags::REFERENCED_SEGMENT_NUMBER, number);
            put_seq(
                &mut frame,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                vec![identification],
            );
            frames.push(frame);
        }
    }
    put_str(
        &mut obj,
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &frames.len().to_string(),
    );
    put_seq(&mut obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames);

    // Multi-frame Dimension: segment number, then position.
    let organisation = format!("{}.1", instance.sop_instance_uid);
    let mut org = InMemDicomObject::new_empty();
    put_str(
        &mut org,
        tags::DIMENSION_ORGANIZATION_UID,
        VR::UI,
        &organisation,
    );
    put_seq(&mut obj, tags::DIMENSION_ORGANIZATION_SEQUENCE, vec![org]);
    let dimension = |pointer: Tag, group: Tag, label: &str| {
        let mut item = InMemDicomObject::new_empty();
        put_str(
            &mut item,
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            &organisation,
        );
        item.put(DataElement::new(
            tags::DIMENSION_INDEX_POINTER,
            VR::AT,
            PrimitiveValue::Tags(vec![pointer].into()),
        ));
        item.put(DataElement::new(
            tags::FUNCTIONAL_GROUP_POINTER,
            VR::AT,
            PrimitiveValue::Tags(vec![group].into()),
        ));
        put_str(&mut item, tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label);
        item
    };
    put_seq(
        &mut obj,
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dimension(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            dimension(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "ImagePositionPatient",
            ),
        ],
    );

    // Common Instance Reference: every source image, by series.
    put_seq(
        &mut obj,
        tags::REFERENCED_SERIES_SEQUENCE,
        series_references(
            sources
                .iter()
                .map(|s| (&*s.series_uid, &*s.sop_class_uid, &*s.sop_instance_uid)),
            tags::REFERENCED_INSTANCE_SEQUENCE,
        ),
    );

    let masks = segments.iter().flat_map(|seg| seg.masks.iter().copied());
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(pack_bits(masks).into()),
    ));

    part10(
        obj,
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        SEGMENTATION_STORAGE,
        instance.sop_instance_uid,
    )
    .map_err(err)
}

/// What a segment of a segmentation read as labels is, by its property code or, failing that,
/// its label: ScarSeg's own and other tools' names for the same things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Myocardium,
    Scar,
    Other,
}

/// SNOMED CT codes read as the myocardium: left-ventricular myocardium, myocardium.
const MYOCARDIUM_CODES: [&str; 2] = ["49848007", "74281007"];
/// Read as scar: scar, infarct, fibrosis; DCM's "scarred myocardium".
const SCAR_CODES: [&str; 4] = ["12402003", "55641003", "112674009", "122113"];

fn meaning(segment: &InMemDicomObject) -> Meaning {
    let code = segment
        .element(tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE)
        .ok()
        .and_then(|e| e.items())
        .and_then(|items| items.first())
        .and_then(|item| dicom_text(item, tags::CODE_VALUE));
    if let Some(code) = code.as_deref() {
        if MYOCARDIUM_CODES.contains(&code) {
            return Meaning::Myocardium;
        }
        if SCAR_CODES.contains(&code) {
            return Meaning::Scar;
        }
    }
    let label = dicom_text(segment, tags::SEGMENT_LABEL)
        .unwrap_or_default()
        .to_lowercase();
    if [
        "scar",
        "infarct",
        "fibrosis",
        "enhancement",
        "no-reflow",
        "no reflow",
        "mvo",
    ]
    .iter()
    .any(|w| label.contains(w))
    {
        Meaning::Scar
    } else if label.contains("myocard") {
        Meaning::Myocardium
    } else {
        Meaning::Other
    }
}

/// How a segmentation's frame pixel says "in the segment".
enum Coding {
    /// One bit per pixel: in or out.
    Binary,
    /// 8 bits per pixel: in at half the maximum or more.
    Fractional { max: i64 },
    /// The pixel's value is the segment's number (one frame per slice for all segments).
    LabelMap { bytes: usize },
}

impl Coding {
    fn bits(&self) -> u64 {
        match self {
            Coding::Binary => 1,
            Coding::Fractional { .. } => 8,
            Coding::LabelMap { bytes } => 8 * *bytes as u64,
        }
    }
}

/// Every frame's pixels, frame after frame, as stored (bits packed for an uncompressed BINARY
/// segmentation) or as decoded (one byte a pixel for a compressed one).
enum FramePixels {
    /// One bit a pixel, the first pixel in the lowest bit.
    Bits(Vec<u8>),
    /// One byte a pixel.
    Bytes(Vec<u8>),
    /// Little-endian 16-bit values.
    Words(Vec<u8>),
}

impl FramePixels {
    /// Lays frame `frame` (of `into.len()` pixels) over `into`: each pixel's label becomes the
    /// larger of its own and `labels[value]`.
    fn overlay(&self, frame: usize, labels: &[u8], into: &mut [u8]) {
        let start = frame * into.len();
        let end = start + into.len();
        let over = |label: &mut u8, value: usize| *label = (*label).max(labels[value]);
        match self {
            FramePixels::Bits(b) if start.is_multiple_of(8) => {
                // Byte by byte: frames of a multiple of 8 pixels start on a byte.
                for (chunk, &byte) in into.chunks_mut(8).zip(&b[start / 8..]) {
                    for (k, label) in chunk.iter_mut().enumerate() {
                        over(label, usize::from(byte >> k & 1));
                    }
                }
            }
            FramePixels::Bits(b) => {
                for (label, bit) in into.iter_mut().zip(start..end) {
                    over(label, usize::from(b[bit / 8] >> (bit % 8) & 1));
                }
            }
            FramePixels::Bytes(b) => {
                for (label, &v) in into.iter_mut().zip(&b[start..end]) {
                    over(label, usize::from(v));
                }
            }
            FramePixels::Words(b) => {
                for (label, v) in into.iter_mut().zip(b[2 * start..2 * end].chunks_exact(2)) {
                    over(label, usize::from(u16::from_le_bytes([v[0], v[1]])));
                }
            }
        }
    }
}

/// Every frame's pixels (`pixels` of them, frame after frame). Compressed frames go through the
/// image decoder and its checks; binary ones come back one byte a pixel.
fn frame_values(
    obj: &FileDicomObject<InMemDicomObject>,
    coding: &Coding,
    pixels: usize,
    compressed: bool,
    limits: &Limits,
) -> Result<FramePixels, String> {
    let bits = coding.bits();
    let (bytes, per_pixel_bits) = if compressed {
        (decode_frames(obj, coding, pixels, limits)?, bits.max(8))
    } else {
        match obj.element(tags::PIXEL_DATA).ok().map(|e| e.to_bytes()) {
            Some(Ok(bytes)) => (bytes.into_owned(), bits),
            _ => return Err("no Pixel Data (7FE0,0010)".into()),
        }
    };
    let needed = (pixels as u64).saturating_mul(per_pixel_bits).div_ceil(8);
    if (bytes.len() as u64) < needed {
        return Err(if compressed {
            format!(
                "the compressed frames decode to {} bytes where the header's frames need {needed}",
                bytes.len()
            )
        } else {
            format!(
                "{} bytes of Pixel Data where the frames need {needed}",
                bytes.len()
            )
        });
    }
    Ok(match per_pixel_bits {
        1 => FramePixels::Bits(bytes),
        8 => FramePixels::Bytes(bytes),
        _ => FramePixels::Words(bytes),
    })
}

/// The compressed frames of `obj`, decoded (binary frames one byte a pixel), after the size
/// limit and the decoder's frame checks.
fn decode_frames(
    obj: &FileDicomObject<InMemDicomObject>,
    coding: &Coding,
    pixels: usize,
    limits: &Limits,
) -> Result<Vec<u8>, String> {
    // What the decoder will allocate: one byte per pixel for binary frames (below), else their
    // own size.
    let decoded_bytes = (pixels as u64).saturating_mul(coding.bits().max(8) / 8);
    if decoded_bytes > limits.max_bytes {
        return Err(ErrorKind::TooLarge {
            bytes: decoded_bytes,
            limit: limits.max_bytes,
        }
        .to_string());
    }
    let (rows, cols) = (
        dicom_int(obj, tags::ROWS).unwrap_or(0) as u64,
        dicom_int(obj, tags::COLUMNS).unwrap_or(0) as u64,
    );
    let transfer_syntax = obj.meta().transfer_syntax().trim_end_matches('\0');
    // Only lossless syntaxes reach here (`labels_for`): JPEG-LS and JPEG 2000 are ours, RLE
    // dicom-rs's.
    let frames = dicom_int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as u64;
    let codec = Codec::of(obj, transfer_syntax, frames as usize);
    if !codec.is_some_and(Codec::checks_its_headers) {
        check_compressed_frames(obj, transfer_syntax, rows, cols, 1).map_err(|e| e.to_string())?;
    }
    // A compressed binary frame is one frame of one-bit samples (not packed across frames);
    // the decoders give 8 or 16 bits a sample, so one byte (0 or 1) a pixel is asked for.
    let own;
    let source = if matches!(coding, Coding::Binary) || codec.is_some() {
        let mut copy = obj.clone();
        if matches!(coding, Coding::Binary) {
            copy.put(DataElement::new(
                tags::BITS_ALLOCATED,
                VR::US,
                PrimitiveValue::from(8u16),
            ));
        }
        if let Some(codec) = codec {
            codec
                .to_native(&mut copy, rows, cols, frames)
                .map_err(|e| e.to_string())?;
        }
        own = copy;
        &own
    } else {
        obj
    };
    let decoded = source
        .decode_pixel_data()
        .map_err(|e| format!("Pixel Data: {}", error_chain(&e)))?;
    let mut data = decoded.into_data();
    if matches!(coding, Coding::Binary) {
        data.iter_mut().for_each(|b| *b = u8::from(*b != 0));
    }
    Ok(data)
}

/// A DICOM Segmentation `obj` (from file `name`) as label maps for the slices of `image`
/// (named `image_name`), EMIDEC's values: 3 where a scar segment is, else 2 where a myocardium
/// segment is, else 0. Each frame goes to the slice whose instance (and frame) it references or,
/// without references it can match, the slice that lies where the frame does; a slice no frame
/// covers is background (writers leave empty frames out). BINARY, FRACTIONAL (at half the
/// maximum) and LABELMAP segmentations, uncompressed or in a lossless compression the image
/// decoder reads (RLE, JPEG-LS and JPEG 2000). Errors name the file.
pub(crate) fn labels_from_seg(
    image: &[Slice],
    image_name: &str,
    name: &str,
    obj: &FileDicomObject<InMemDicomObject>,
    limits: &Limits,
) -> Result<Vec<Vec<u8>>, String> {
    let fail = |why: String| Err(format!("{name}: DICOM segmentation: {why}"));
    let transfer_syntax = obj.meta().transfer_syntax();
    let registry = dicom_transfer_syntax_registry::TransferSyntaxRegistry;
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    // The lossless syntaxes highdicom writes segmentations in (RLE by dicom-rs; JPEG-LS and JPEG
    // 2000 decoded in jpeg_ls.rs and jpeg2000.rs). Lossy ones would change the values that say
    // which segment a pixel is in.
    let compressed = match registry.get(transfer_syntax) {
        Some(ts) if !ts.is_encapsulated_pixel_data() => false,
        Some(ts) if ts.uid() == uids::RLE_LOSSLESS && ts.can_decode_all() => true,
        Some(ts) if [uids::JPEGLS_LOSSLESS, uids::JPEG2000_LOSSLESS].contains(&ts.uid()) => true,
        other => {
            let why = match other {
                Some(ts) if ts.uid() == uids::RLE_LOSSLESS => "is not read here",
                Some(ts) if ts.is_encapsulated_pixel_data() => {
                    "is not read (only RLE, JPEG-LS and JPEG 2000 lossless; lossy compression \
                     changes the values that say which segment a pixel is in)"
                }
                _ => "is not read",
            };
            return fail(format!(
                "transfer syntax {} {why}: save it uncompressed (explicit VR little endian) or \
                 RLE Lossless",
                other.map_or(transfer_syntax, |ts| ts.name())
            ));
        }
    };
    let kind = dicom_text(obj, tags::SEGMENTATION_TYPE).unwrap_or_default();
    let (rows, cols) = (
        dicom_int(obj, tags::ROWS).unwrap_or(-1),
        dicom_int(obj, tags::COLUMNS).unwrap_or(-1),
    );
    let frames = dicom_int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    let bits = dicom_int(obj, tags::BITS_ALLOCATED).unwrap_or(-1);
    let coding = match (kind.as_str(), bits) {
        ("BINARY", 1) => Coding::Binary,
        ("FRACTIONAL", 8) => Coding::Fractional {
            max: dicom_int(obj, tags::MAXIMUM_FRACTIONAL_VALUE)
                .unwrap_or(255)
                .max(1),
        },
        ("LABELMAP", 8) => Coding::LabelMap { bytes: 1 },
        ("LABELMAP", 16) => Coding::LabelMap { bytes: 2 },
        _ => {
            return fail(format!(
                "Segmentation Type {kind:?} with Bits Allocated {bits} is not read (BINARY with \
                 1 bit, FRACTIONAL with 8, LABELMAP with 8 or 16)"
            ));
        }
    };
    let Some(first) = image.first() else {
        return fail(format!("{image_name} has no slices"));
    };
    if (rows, cols) != (first.rows as i64, first.cols as i64) {
        return fail(format!(
            "frames are {rows} x {cols} but the image is {} x {}",
            first.rows, first.cols
        ));
    }
    if frames < 1 {
        return fail(format!("Number of Frames is {frames}"));
    }
    let (frames, plane) = (frames as usize, first.rows * first.cols);
    let pixels = match frame_values(obj, &coding, frames * plane, compressed, limits) {
        Ok(pixels) => pixels,
        Err(why) => return fail(why),
    };
    // dcmjs's Cornerstone adapter (OHIF 2's export) writes its default, RLE-compressed
    // segmentations as FRACTIONAL of maximum 255 but stores 1 where a segment is, and reads any
    // non-zero value back as in. A probability map of nothing but 0 and 1 in 255 is not one, so
    // such a file is read as the masks its writer meant.
    let coding = match (coding, &pixels) {
        (Coding::Fractional { max }, FramePixels::Bytes(values))
            if max > 2 && values[..frames * plane].iter().all(|&v| v <= 1) =>
        {
            Coding::Fractional { max: 1 }
        }
        (coding, _) => coding,
    };
    let segments: Vec<(i64, Meaning, String)> = obj
        .element(tags::SEGMENT_SEQUENCE)
        .ok()
        .and_then(|e| e.items())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                dicom_int(s, tags::SEGMENT_NUMBER).unwrap_or(-1),
                meaning(s),
                dicom_text(s, tags::SEGMENT_LABEL).unwrap_or_default(),
            )
        })
        .collect();
    if !segments.iter().any(|s| s.1 == Meaning::Myocardium) {
        let labels: Vec<&str> = segments.iter().map(|s| s.2.as_str()).collect();
        return fail(format!(
            "no myocardium segment among {labels:?}: ScarSeg's labels need the myocardium (a \
             segment coded SNOMED CT 49848007 or 74281007, or labelled \"myocardium\")"
        ));
    }
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).unwrap_or_default();
    if per_frame.len() != frames && frames > 1 {
        return fail(format!(
            "{} per-frame functional group item(s) for {frames} frames",
            per_frame.len()
        ));
    }
    // Each segment number's label value: 3 scar, 2 myocardium, 0 anything else.
    let value_of = |number: i64| match segments.iter().find(|s| s.0 == number) {
        Some((_, Meaning::Scar, _)) => 3u8,
        Some((_, Meaning::Myocardium, _)) => 2,
        _ => 0,
    };
    // Each stored value's label in a frame of segment `number`: a label map's values are
    // segment numbers (its table the same for every frame); the others' are in or out.
    let values = match coding {
        Coding::Binary => 2,
        Coding::Fractional { .. } | Coding::LabelMap { bytes: 1 } => 256,
        Coding::LabelMap { .. } => 65536,
    };
    let table = |number: i64| -> Vec<u8> {
        (0..values as i64)
            .map(|v| match coding {
                Coding::Binary if v != 0 => value_of(number),
                Coding::Fractional { max } if v * 2 >= max => value_of(number),
                Coding::LabelMap { .. } => value_of(v),
                _ => 0,
            })
            .collect()
    };
    let label_map_table = matches!(coding, Coding::LabelMap { .. }).then(|| table(0));
    let mut maps = vec![vec![0u8; plane]; image.len()];
    let mut unplaced = 0;
    for f in 0..frames {
        // A label map's frames hold every segment; the others' one each.
        let number = match coding {
            Coding::LabelMap { .. } => 0,
            _ => {
                let number = functional_group(obj, f, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
                    .and_then(|g| dicom_int(g, tags::REFERENCED_SEGMENT_NUMBER));
                match number.filter(|n| segments.iter().any(|s| s.0 == *n)) {
                    Some(n) if value_of(n) == 0 => continue,
                    Some(n) => n,
                    None => return fail(format!("frame {} names no segment of the file", f + 1)),
                }
            }
        };
        let Some(k) = slice_of(image, obj, f) else {
            unplaced += 1;
            continue;
        };
        let frame_table;
        let labels = match &label_map_table {
            Some(table) => table,
            None => {
                frame_table = table(number);
                &frame_table
            }
        };
        pixels.overlay(f, labels, &mut maps[k]);
    }
    if unplaced > 0 {
        return fail(format!(
            "{unplaced} frame(s) reference no image of {image_name} and lie on none of its \
             slices: a segmentation of another series?"
        ));
    }
    Ok(maps)
}

/// The slice of `image` frame `frame` of `obj` was drawn on: the one whose instance (and frame)
/// its source image reference names, else the one at its plane position (within 0.01 mm).
fn slice_of(image: &[Slice], obj: &InMemDicomObject, frame: usize) -> Option<usize> {
    let source = functional_group(obj, frame, tags::DERIVATION_IMAGE_SEQUENCE)
        .and_then(|d| first_item(d, tags::SOURCE_IMAGE_SEQUENCE));
    if let Some(source) = source {
        let uid = dicom_text(source, tags::REFERENCED_SOP_INSTANCE_UID);
        let referenced = dicom_int(source, tags::REFERENCED_FRAME_NUMBER);
        let found = image.iter().position(|s| {
            s.dicom.as_ref().is_some_and(|d| {
                Some(&d.sop_instance_uid) == uid.as_ref()
                    && (d.frame.map(i64::from) == referenced
                        || (d.frame.is_none() && referenced == Some(1)))
            })
        });
        if found.is_some() {
            return found;
        }
    }
    let position = dicom_floats(
        functional_group(obj, frame, tags::PLANE_POSITION_SEQUENCE)?,
        tags::IMAGE_POSITION_PATIENT,
    )?;
    let [x, y, z] = position[..] else {
        return None;
    };
    image.iter().position(|s| {
        s.is_placed()
            && (s.position_mm[0] - x).abs() < 0.01
            && (s.position_mm[1] - y).abs() < 0.01
            && (s.position_mm[2] - z).abs() < 0.01
    })
}

/// Referenced Series Sequence items: the instances `(series UID, SOP class, SOP instance)`
/// grouped by series, each instance once, in the order they come; each series' instances under
/// `instances` (Referenced Instance Sequence in a Common Instance Reference, Referenced SOP
/// Sequence in an SR's evidence).
pub(crate) fn series_references<'a>(
    references: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    instances: Tag,
) -> Vec<InMemDicomObject> {
    let mut series: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
    for (series_uid, class, instance) in references {
        match series.iter_mut().find(|(uid, _)| *uid == series_uid) {
            Some((_, list)) => {
                if !list.iter().any(|(_, i)| *i == instance) {
                    list.push((class, instance));
                }
            }
            None => series.push((series_uid, vec![(class, instance)])),
        }
    }
    series
        .into_iter()
        .map(|(uid, list)| {
            let mut item = InMemDicomObject::new_empty();
            put_str(&mut item, tags::SERIES_INSTANCE_UID, VR::UI, uid);
            put_seq(
                &mut item,
                instances,
                list.into_iter()
                    .map(|(class, instance)| {
                        let mut r = InMemDicomObject::new_empty();
                        put_str(&mut r, tags::REFERENCED_SOP_CLASS_UID, VR::UI, class);
                        put_str(&mut r, tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance);
                        r
                    })
                    .collect(),
            );
            item
        })
        .collect()
}

/// What every object ScarSeg derives from a DICOM series starts with: UTF-8 text, its SOP
/// class and instance, the source's patient and study (so it joins the study), its own series
/// (`modality`, number, description, date and time) and the equipment that made it (General and
/// Enhanced General Equipment).
pub(crate) fn derived_object(
    sop_class_uid: &str,
    modality: &str,
    instance: &Instance<'_>,
    study: &DicomSource,
) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    // Text is written as UTF-8, whatever the source's character set was when it was read.
    put_str(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put_str(&mut obj, tags::SOP_CLASS_UID, VR::UI, sop_class_uid);
    put_str(
        &mut obj,
        tags::SOP_INSTANCE_UID,
        VR::UI,
        instance.sop_instance_uid,
    );
    put_patient_and_study(&mut obj, study);
    put_str(&mut obj, tags::MODALITY, VR::CS, modality);
    put_str(
        &mut obj,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        instance.series_uid,
    );
    put_str(
        &mut obj,
        tags::SERIES_NUMBER,
        VR::IS,
        &instance.series_number.to_string(),
    );
    put_str(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        instance.series_description,
    );
    put_str(&mut obj, tags::SERIES_DATE, VR::DA, instance.date);
    put_str(&mut obj, tags::SERIES_TIME, VR::TM, instance.time);
    put_str(&mut obj, tags::MANUFACTURER, VR::LO, instance.manufacturer);
    put_str(
        &mut obj,
        tags::MANUFACTURER_MODEL_NAME,
        VR::LO,
        instance.model_name,
    );
    put_str(
        &mut obj,
        tags::DEVICE_SERIAL_NUMBER,
        VR::LO,
        instance.device_serial,
    );
    put_str(
        &mut obj,
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        instance.software_version,
    );
    obj
}

/// The Patient and General Study modules: the source's, so that a derived object joins its
/// study.
pub(crate) fn put_patient_and_study(obj: &mut InMemDicomObject, study: &DicomSource) {
    put_str(obj, tags::PATIENT_NAME, VR::PN, &study.patient_name);
    put_str(obj, tags::PATIENT_ID, VR::LO, &study.patient_id);
    put_str(
        obj,
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        &study.patient_birth_date,
    );
    put_str(obj, tags::PATIENT_SEX, VR::CS, &study.patient_sex);
    put_str(obj, tags::STUDY_INSTANCE_UID, VR::UI, &study.study_uid);
    put_str(obj, tags::STUDY_DATE, VR::DA, &study.study_date);
    put_str(obj, tags::STUDY_TIME, VR::TM, &study.study_time);
    put_str(
        obj,
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        &study.referring_physician,
    );
    put_str(obj, tags::STUDY_ID, VR::SH, &study.study_id);
    put_str(obj, tags::ACCESSION_NUMBER, VR::SH, &study.accession_number);
    if !study.study_description.is_empty() {
        put_str(
            obj,
            tags::STUDY_DESCRIPTION,
            VR::LO,
            &study.study_description,
        );
    }
}

/// Frames of one bit per pixel, back to back with no padding between frames (PS3.5 8.1.1),
/// the first pixel in each byte's lowest bit; the whole padded to an even length.
pub fn pack_bits<'a>(frames: impl IntoIterator<Item = &'a [bool]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bit = 0usize;
    for frame in frames {
        for &on in frame {
            if bit.is_multiple_of(8) {
                out.push(0);
            }
            if on {
                *out.last_mut().expect("a byte was pushed") |= 1 << (bit % 8);
            }
            bit += 1;
        }
    }
    if !out.len().is_multiple_of(2) {
        out.push(0);
    }
    out
}

fn segment_item(number: u16, seg: &Segment<'_>) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_u16(&mut item, tags::SEGMENT_NUMBER, number);
    put_str(&mut item, tags::SEGMENT_LABEL, VR::LO, seg.label);
    put_str(
        &mut item,
        tags::SEGMENT_DESCRIPTION,
        VR::ST,
        seg.description,
    );
    put_str(
        &mut item,
        tags::SEGMENT_ALGORITHM_TYPE,
        VR::CS,
        seg.algorithm_type.code_string(),
    );
    if seg.algorithm_type != AlgorithmType::Manual {
        put_str(
            &mut item,
            tags::SEGMENT_ALGORITHM_NAME,
            VR::LO,
            seg.algorithm_name,
        );
    }
    put_seq(
        &mut item,
        tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
        vec![code_item(seg.category)],
    );
    put_seq(
        &mut item,
        tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
        vec![code_item(seg.property)],
    );
    if let Some(region) = seg.region {
        put_seq(
            &mut item,
            tags::ANATOMIC_REGION_SEQUENCE,
            vec![code_item(region)],
        );
    }
    item.put(DataElement::new(
        tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
        VR::US,
        PrimitiveValue::U16(seg.colour_lab.to_vec().into()),
    ));
    item
}

/// The frame's source image (and frame), for "source image for image processing operation"
/// of a "segmentation" derivation.
fn derivation_item(src: &DicomSource) -> InMemDicomObject {
    let mut source = InMemDicomObject::new_empty();
    put_str(
        &mut source,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        &src.sop_class_uid,
    );
    put_str(
        &mut source,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &src.sop_instance_uid,
    );
    if let Some(frame) = src.frame {
        put_str(
            &mut source,
            tags::REFERENCED_FRAME_NUMBER,
            VR::IS,
            &frame.to_string(),
        );
    }
    // The masks lie on the source's own pixel grid.
    put_str(
        &mut source,
        tags::SPATIAL_LOCATIONS_PRESERVED,
        VR::CS,
        "YES",
    );
    put_seq(
        &mut source,
        tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
        vec![code_item(Code {
            value: "121322",
            scheme: "DCM",
            meaning: "Source image for image processing operation",
        })],
    );
    let mut derivation = InMemDicomObject::new_empty();
    put_seq(
        &mut derivation,
        tags::DERIVATION_CODE_SEQUENCE,
        vec![code_item(Code {
            value: "113076",
            scheme: "DCM",
            meaning: "Segmentation",
        })],
    );
    put_seq(&mut derivation, tags::SOURCE_IMAGE_SEQUENCE, vec![source]);
    derivation
}

pub(crate) fn code_item(code: Code<'_>) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_str(&mut item, tags::CODE_VALUE, VR::SH, code.value);
    put_str(
        &mut item,
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        code.scheme,
    );
    put_str(&mut item, tags::CODE_MEANING, VR::LO, code.meaning);
    item
}

pub(crate) fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

pub(crate) fn put_strs(obj: &mut InMemDicomObject, tag: Tag, vr: VR, values: &[&str]) {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    obj.put(DataElement::new(
        tag,
        vr,
        PrimitiveValue::Strs(values.into()),
    ));
}

pub(crate) fn put_u16(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

pub(crate) fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

/// A decimal string of at most 16 characters (DS's limit), as precise as fits.
pub(crate) fn ds(v: f64) -> String {
    (0..=6)
        .rev()
        .map(|p| format!("{v:.p$}"))
        .find(|s| s.len() <= 16)
        .unwrap_or_else(|| format!("{v:.6e}"))
}

pub(crate) fn ds_list(values: &[f64]) -> String {
    values.iter().map(|v| ds(*v)).collect::<Vec<_>>().join("\\")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Cursor;

    use dicom_object::OpenFileOptions;
    use dicom_object::file::ReadPreamble;

    use super::*;

    fn source(instance: u32) -> DicomSource {
        DicomSource {
            sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
            sop_instance_uid: format!("1.2.3.4.{instance}"),
            study_uid: "1.2.3".into(),
            series_uid: "1.2.3.4".into(),
            series_number: Some(7),
            frame_of_reference_uid: Some("1.2.3.9".into()),
            patient_name: "Müller^Jürgen".into(),
            patient_id: "P-01".into(),
            study_date: "20260102".into(),
            accession_number: "A7".into(),
            ..Default::default()
        }
    }

    fn slices() -> Vec<Slice> {
        (0..2)
            .map(|k| {
                let mut s = Slice::new(2, 3, vec![0.0; 6], format!("IM{k}.dcm"));
                s.spacing_mm = [1.5, 1.25];
                s.position_mm = [0.0, 0.0, 8.0 * k as f64];
                s.dicom = Some(source(k as u32 + 1));
                s
            })
            .collect()
    }

    const MASKS: [[bool; 6]; 4] = [
        [true, false, false, false, false, true],
        [true; 6],
        [false, false, false, false, false, true],
        [false, true, false, false, false, false],
    ];

    fn segments() -> Vec<Segment<'static>> {
        let code = Code {
            value: "1",
            scheme: "99TEST",
            meaning: "test",
        };
        (0..2)
            .map(|i| Segment {
                label: ["Myocardium", "Scar"][i],
                description: "",
                category: code,
                property: code,
                region: None,
                algorithm_type: AlgorithmType::Automatic,
                algorithm_name: "test",
                colour_lab: [1, 2, 3],
                masks: vec![&MASKS[2 * i][..], &MASKS[2 * i + 1][..]],
            })
            .collect()
    }

    /// A derived object's identity for tests (the measurement report's too).
    pub(crate) const INSTANCE: Instance<'static> = Instance {
        sop_instance_uid: "2.25.1",
        series_uid: "2.25.2",
        series_number: 1007,
        series_description: "test",
        content_label: "TEST",
        content_description: "test",
        manufacturer: "m",
        model_name: "m",
        software_version: "1",
        device_serial: "1",
        date: "20261204",
        time: "120000",
    };

    fn read(bytes: &[u8]) -> dicom_object::DefaultDicomObject {
        OpenFileOptions::new()
            .read_preamble(ReadPreamble::Always)
            .from_reader(Cursor::new(bytes))
            .expect("reads back")
    }

    fn text(obj: &InMemDicomObject, tag: Tag) -> String {
        obj.element(tag)
            .expect("present")
            .to_str()
            .expect("text")
            .trim_end_matches('\0')
            .trim()
            .to_string()
    }

    #[test]
    fn bits_run_on_across_frames_lowest_bit_first() {
        // Worked by hand: bits 0, 5, 6, 7 | 8-11 | 17, 19, then a byte of padding.
        let packed = pack_bits(MASKS.iter().map(|m| &m[..]));
        assert_eq!(packed, vec![0xE1, 0x0F, 0x0A, 0x00]);
        assert_eq!(pack_bits([&[true; 8][..]]), vec![0xFF, 0x00]);
    }

    #[test]
    fn a_segmentation_references_each_source_and_joins_its_study() {
        let obj = read(&dicom_seg(&slices(), &segments(), &INSTANCE).expect("writes"));
        assert_eq!(text(&obj, tags::SOP_CLASS_UID), SEGMENTATION_STORAGE);
        assert_eq!(text(&obj, tags::MODALITY), "SEG");
        assert_eq!(text(&obj, tags::STUDY_INSTANCE_UID), "1.2.3");
        assert_eq!(text(&obj, tags::FRAME_OF_REFERENCE_UID), "1.2.3.9");
        // UTF-8 text survives the round trip.
        assert_eq!(text(&obj, tags::PATIENT_NAME), "Müller^Jürgen");
        assert_eq!(text(&obj, tags::ACCESSION_NUMBER), "A7");
        assert_eq!(text(&obj, tags::NUMBER_OF_FRAMES), "4");
        assert_eq!(text(&obj, tags::ROWS), "2");
        assert_eq!(text(&obj, tags::COLUMNS), "3");
        let pixels = obj.element(tags::PIXEL_DATA).expect("pixels").to_bytes();
        assert_eq!(&pixels.expect("bytes")[..], &[0xE1, 0x0F, 0x0A, 0x00]);
        let frames = obj
            .element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .expect("frames")
            .items()
            .expect("items");
        assert_eq!(frames.len(), 4);
        // Segment 1 on slices 1 and 2, then segment 2 on slices 1 and 2.
        for (f, (segment, k)) in [(1, 0), (1, 1), (2, 0), (2, 1)].into_iter().enumerate() {
            let frame = &frames[f];
            let item = |obj: &InMemDicomObject, tag| -> InMemDicomObject {
                obj.element(tag).expect("sequence").items().expect("items")[0].clone()
            };
            let source = item(
                &item(frame, tags::DERIVATION_IMAGE_SEQUENCE),
                tags::SOURCE_IMAGE_SEQUENCE,
            );
            assert_eq!(
                text(&source, tags::REFERENCED_SOP_INSTANCE_UID),
                format!("1.2.3.4.{}", k + 1)
            );
            let id = item(frame, tags::SEGMENT_IDENTIFICATION_SEQUENCE);
            assert_eq!(
                text(&id, tags::REFERENCED_SEGMENT_NUMBER),
                segment.to_string()
            );
            let position = item(frame, tags::PLANE_POSITION_SEQUENCE);
            assert_eq!(
                text(&position, tags::IMAGE_POSITION_PATIENT),
                format!("0.000000\\0.000000\\{:.6}", 8.0 * k as f64)
            );
        }
        let series = obj
            .element(tags::REFERENCED_SERIES_SEQUENCE)
            .expect("references")
            .items()
            .expect("items");
        assert_eq!(series.len(), 1);
        let instances = series[0]
            .element(tags::REFERENCED_INSTANCE_SEQUENCE)
            .expect("instances")
            .items()
            .expect("items");
        assert_eq!(instances.len(), 2);
    }

    #[test]
    fn a_segmentation_is_not_read_back_as_an_image_to_segment() {
        let bytes = dicom_seg(&slices(), &segments(), &INSTANCE).expect("writes");
        let e = crate::decode::decode_file("x_seg.dcm", &bytes, &Default::default())
            .expect_err("not an image");
        assert_eq!(
            e.to_string(),
            "x_seg.dcm: not an image: a DICOM Segmentation (masks drawn on images, not an image \
             to segment; load it as labels onto its series: \"load labels\" on the page, \
             --corrections for predict)"
        );
    }

    #[test]
    fn a_segmentation_reads_back_as_the_label_maps_it_was_made_from() {
        let bytes = dicom_seg(&slices(), &segments(), &INSTANCE).expect("writes");
        let limits = crate::Limits::default();
        let read = |image: &[Slice]| {
            crate::decode::labels_for(image, "series", "x_seg.dcm", &bytes, &limits)
        };
        // Scar 3, else myocardium 2: MASKS by hand.
        assert_eq!(
            read(&slices()).expect("labels"),
            vec![vec![2, 0, 0, 0, 0, 3], vec![2, 3, 2, 2, 2, 2]]
        );
        let mut wide = slices();
        for s in &mut wide {
            (s.rows, s.cols) = (3, 2);
        }
        assert_eq!(
            read(&wide).expect_err("another grid"),
            "x_seg.dcm: DICOM segmentation: frames are 2 x 3 but the image is 3 x 2"
        );
        let mut unnamed = segments();
        unnamed[0].label = "Region 1";
        let bytes = dicom_seg(&slices(), &unnamed, &INSTANCE).expect("writes");
        let e = crate::decode::labels_for(&slices(), "series", "x_seg.dcm", &bytes, &limits)
            .expect_err("no myocardium");
        assert!(
            e.contains("no myocardium segment among [\"Region 1\", \"Scar\"]"),
            "{e}"
        );
    }

    #[test]
    fn what_cannot_be_segmented_in_dicom_is_said() {
        let message = |slices: &[Slice]| {
            dicom_seg(slices, &segments(), &INSTANCE)
                .expect_err("refused")
                .message
        };
        let mut plain = slices();
        plain[1].dicom = None;
        assert!(message(&plain).contains("IM1.dcm was not read from DICOM"));
        let mut unplaced = slices();
        for s in &mut unplaced {
            s.dicom.as_mut().expect("dicom").frame_of_reference_uid = None;
        }
        assert!(message(&unplaced).contains("no Frame of Reference UID"));
        let mut other = slices();
        other[1].dicom.as_mut().expect("dicom").study_uid = "9.9".into();
        assert!(message(&other).contains("IM1.dcm is of another study"));
        let mut sizes = slices();
        sizes[1] = Slice {
            rows: 3,
            cols: 2,
            ..sizes[1].clone()
        };
        assert!(message(&sizes).contains("IM1.dcm is 3 x 2 pixels where IM0.dcm is 2 x 3"));
        let mut short = segments();
        short[1].masks.pop();
        let e = dicom_seg(&slices(), &short, &INSTANCE).expect_err("refused");
        assert!(
            e.message
                .contains("segment 'Scar' has 1 mask(s) for 2 slice(s)")
        );
    }
}
