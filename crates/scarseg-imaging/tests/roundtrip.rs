//! Phantom cases written in every format and read back through the real decoders.

use scarseg_imaging::decode::{
    decode_file, decode_file_stacks, decode_series, decode_series_stacks, sort_slices,
};
use scarseg_imaging::encode::{
    DicomSyntax, NiftiData, SeriesIds, dicom_mr, nifti1, png_grey8, png_grey16,
};
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_imaging::{Limits, Slice};

fn small_config(slices: usize) -> PhantomConfig {
    PhantomConfig {
        size_px: [96, 128],
        slices,
        ..PhantomConfig::default()
    }
}

fn ids(name: &str) -> SeriesIds {
    SeriesIds {
        study_uid: "1.2.826.0.1.3680043.10.1234.1".into(),
        series_uid: "1.2.826.0.1.3680043.10.1234.1.1".into(),
        patient_name: name.into(),
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn assert_geometry(got: &Slice, want: &Slice) {
    assert_eq!((got.rows, got.cols), (want.rows, want.cols));
    for k in 0..2 {
        assert!(
            (got.spacing_mm[k] - want.spacing_mm[k]).abs() < 1e-4,
            "spacing {:?} vs {:?}",
            got.spacing_mm,
            want.spacing_mm
        );
    }
    assert!((got.thickness_mm - want.thickness_mm).abs() < 1e-4);
    for k in 0..3 {
        assert!(
            (got.position_mm[k] - want.position_mm[k]).abs() < 1e-3,
            "position {:?} vs {:?}",
            got.position_mm,
            want.position_mm
        );
    }
    for k in 0..6 {
        assert!((got.orientation[k] - want.orientation[k]).abs() < 1e-6);
    }
}

#[test]
fn dicom_series_in_every_transfer_syntax_round_trips() {
    let case = generate(11, &small_config(3));
    for syntax in [
        DicomSyntax::ExplicitLittle,
        DicomSyntax::ImplicitLittle,
        DicomSyntax::ExplicitBig,
        DicomSyntax::Deflated,
    ] {
        // Written in reverse order: the series decoder must sort them back.
        let files: Vec<(String, Vec<u8>)> = case
            .slices
            .iter()
            .enumerate()
            .rev()
            .map(|(k, s)| {
                let bytes =
                    dicom_mr(&s.image, &ids(&case.name), k as u32 + 1, syntax).expect("encode");
                (format!("slice{k}.dcm"), bytes)
            })
            .collect();
        let (stack, errors) = decode_series("series", &files, &Limits::default());
        assert!(errors.is_empty(), "{syntax:?}: {errors:?}");
        let stack = stack.expect("decoded");
        assert_eq!(stack.slices.len(), 3);
        for (got, want) in stack.slices.iter().zip(&case.slices) {
            assert_geometry(got, &want.image);
            // 16-bit storage of the range: error at most half a step.
            let (lo, hi) = want
                .image
                .pixels
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            let step = (hi - lo) / 65535.0;
            assert!(
                max_abs_diff(&got.pixels, &want.image.pixels) <= step * 0.51 + 1e-3,
                "{syntax:?}"
            );
        }
    }
}

#[test]
fn nifti_volume_and_labels_round_trip_plain_and_gzipped() {
    let case = generate(12, &small_config(4));
    let images: Vec<Slice> = case.slices.iter().map(|s| s.image.clone()).collect();
    let pixels: Vec<f32> = images
        .iter()
        .flat_map(|s| s.pixels.iter().copied())
        .collect();
    let labels: Vec<u8> = case
        .slices
        .iter()
        .flat_map(|s| s.labels.iter().copied())
        .collect();
    for gzip in [false, true] {
        let bytes = nifti1(&images, NiftiData::F32(&pixels), gzip).expect("encode");
        let stack = decode_file("case.nii", &bytes, &Limits::default()).expect("decode");
        assert_eq!(stack.slices.len(), 4);
        for (got, want) in stack.slices.iter().zip(&images) {
            assert_geometry(got, want);
            assert_eq!(got.pixels, want.pixels);
        }
        let label_bytes = nifti1(&images, NiftiData::U8(&labels), gzip).expect("encode labels");
        let label_stack =
            decode_file("labels.nii", &label_bytes, &Limits::default()).expect("decode");
        let decoded: Vec<u8> = label_stack
            .slices
            .iter()
            .flat_map(|s| s.pixels.iter().map(|v| *v as u8))
            .collect();
        assert_eq!(decoded, labels);
    }
}

#[test]
fn png_image_and_mask_round_trip_with_spacing() {
    let case = generate(13, &small_config(1));
    let s = &case.slices[0];
    let bytes = png_grey16(
        s.image.rows,
        s.image.cols,
        &s.image.pixels,
        Some(s.image.spacing_mm),
    )
    .expect("encode");
    let stack = decode_file("case.png", &bytes, &Limits::default()).expect("decode");
    let got = &stack.slices[0];
    assert_eq!((got.rows, got.cols), (s.image.rows, s.image.cols));
    // pHYs stores whole pixels per metre: spacing to within 0.1%.
    assert!((got.spacing_mm[0] / s.image.spacing_mm[0] - 1.0).abs() < 1e-3);
    assert!(
        max_abs_diff(
            &got.pixels,
            &s.image
                .pixels
                .iter()
                .map(|v| v.round().min(65535.0))
                .collect::<Vec<_>>()
        ) < 1e-3
    );
    let mask = png_grey8(s.image.rows, s.image.cols, &s.labels, None).expect("encode");
    let decoded = decode_file("mask.png", &mask, &Limits::default()).expect("decode");
    let labels: Vec<u8> = decoded.slices[0].pixels.iter().map(|v| *v as u8).collect();
    assert_eq!(labels, s.labels);
    assert!(
        decoded
            .warnings
            .iter()
            .any(|w| w.contains("no pixel spacing"))
    );
}

#[test]
fn the_display_window_survives_both_writers_and_nifti_cal_range_is_read() {
    let mut slice = Slice::new(4, 5, (0..20).map(|v| v as f32 * 50.0).collect(), "x");
    slice.display_window = Some([600.0, 1200.0]);
    let dicom = dicom_mr(&slice, &ids("w"), 1, DicomSyntax::ExplicitLittle).expect("encode");
    let got = decode_file("w.dcm", &dicom, &Limits::default()).expect("decode");
    assert_eq!(got.slices[0].display_window, Some([600.0, 1200.0]));
    let nifti = nifti1(
        std::slice::from_ref(&slice),
        NiftiData::F32(&slice.pixels.clone()),
        false,
    )
    .expect("encode");
    let got = decode_file("w.nii", &nifti, &Limits::default()).expect("decode");
    assert_eq!(got.slices[0].display_window, Some([600.0, 1200.0]));
    // cal_max (offset 124) and cal_min (128) as another writer sets them: 900 and 100 are the
    // window centred on 500, 800 wide; unset (both 0) or reversed, no window.
    let mut bytes = nifti.clone();
    bytes[124..128].copy_from_slice(&900f32.to_le_bytes());
    bytes[128..132].copy_from_slice(&100f32.to_le_bytes());
    let got = decode_file("w.nii", &bytes, &Limits::default()).expect("decode");
    assert_eq!(got.slices[0].display_window, Some([500.0, 800.0]));
    for (max, min) in [(0f32, 0f32), (100.0, 900.0)] {
        bytes[124..128].copy_from_slice(&max.to_le_bytes());
        bytes[128..132].copy_from_slice(&min.to_le_bytes());
        let got = decode_file("w.nii", &bytes, &Limits::default()).expect("decode");
        assert_eq!(
            got.slices[0].display_window, None,
            "cal_max {max}, cal_min {min}"
        );
    }
    // A label volume carries no display range.
    let labels = nifti1(
        std::slice::from_ref(&slice),
        NiftiData::U8(&[0, 1, 2, 3, 4].repeat(4)),
        false,
    )
    .expect("encode");
    let got = decode_file("l.nii", &labels, &Limits::default()).expect("decode");
    assert_eq!(got.slices[0].display_window, None);
}

#[test]
fn two_dimensional_nifti_reads_as_one_slice() {
    let mut slice = Slice::new(4, 5, (0..20).map(|v| v as f32).collect(), "x");
    slice.spacing_mm = [0.5, 0.25];
    let mut bytes = nifti1(
        std::slice::from_ref(&slice),
        NiftiData::F32(&slice.pixels.clone()),
        false,
    )
    .expect("encode");
    bytes[40..42].copy_from_slice(&2i16.to_le_bytes()); // dim[0] = 2
    let stack = decode_file("flat.nii", &bytes, &Limits::default()).expect("decode");
    assert_eq!(stack.slices.len(), 1);
    assert_eq!((stack.slices[0].rows, stack.slices[0].cols), (4, 5));
    assert_eq!(stack.slices[0].spacing_mm, [0.5, 0.25]);
    assert_eq!(stack.slices[0].pixels, slice.pixels);
}

#[test]
fn nan_voxels_of_a_resampled_nifti_read_as_its_lowest_value_with_a_warning() {
    let nan = f32::NAN;
    // Two 3 x 4 planes: the first half outside the field of view, the second wholly.
    let first = [nan, nan, 5.0, 7.0, nan, -3.0, 2.5, 9.0, nan, 0.0, 1.0, 4.0];
    let slices: Vec<Slice> = (0..2)
        .map(|k| {
            let pixels = if k == 0 {
                first.to_vec()
            } else {
                vec![nan; 12]
            };
            Slice::new(3, 4, pixels, format!("plane {k}"))
        })
        .collect();
    let values: Vec<f32> = slices.iter().flat_map(|s| s.pixels.clone()).collect();
    let bytes = nifti1(&slices, NiftiData::F32(&values), false).expect("encode");
    let stack = decode_file("resampled.nii", &bytes, &Limits::default()).expect("decode");
    // 4 + 12 NaN voxels; the lowest real value is -3.
    let lowest = -3.0;
    assert_eq!(
        stack.slices[0].pixels,
        [
            lowest, lowest, 5.0, 7.0, lowest, -3.0, 2.5, 9.0, lowest, 0.0, 1.0, 4.0
        ]
    );
    assert_eq!(stack.slices[1].pixels, [lowest; 12]);
    assert!(
        stack
            .warnings
            .iter()
            .any(|w| w.starts_with("16 pixels are NaN") && w.contains("lowest value, -3,")),
        "{:?}",
        stack.warnings
    );

    // A volume of NaN alone has no value to take: refused, as before.
    let blank: Vec<f32> = vec![nan; 24];
    let bytes = nifti1(&slices, NiftiData::F32(&blank), false).expect("encode");
    let err = decode_file("blank.nii", &bytes, &Limits::default()).expect_err("all NaN");
    assert_eq!(
        err.kind,
        scarseg_imaging::ErrorKind::NonFinitePixels { count: 24 }
    );
}

#[test]
fn nifti_pixel_spacing_that_is_negative_or_missing_is_said() {
    // 0.5 mm rows (pixdim[2], bytes 84-87) and 0.25 mm columns (pixdim[1], bytes 80-83).
    let mut slice = Slice::new(4, 5, (0..20).map(|v| v as f32).collect(), "x");
    slice.spacing_mm = [0.5, 0.25];
    let bytes = nifti1(
        std::slice::from_ref(&slice),
        NiftiData::F32(&slice.pixels.clone()),
        false,
    )
    .expect("encode");
    let with_pixdim = |one: f32, two: f32| {
        let mut b = bytes.clone();
        b[80..84].copy_from_slice(&one.to_le_bytes());
        b[84..88].copy_from_slice(&two.to_le_bytes());
        decode_file("p.nii", &b, &Limits::default()).expect("decode")
    };
    let plain = with_pixdim(0.25, 0.5);
    assert!(plain.warnings.is_empty(), "{:?}", plain.warnings);
    assert_eq!(plain.slices[0].spacing_mm, [0.5, 0.25]);
    // A negative spacing is read by its magnitude, and said.
    let flipped = with_pixdim(-0.25, 0.5);
    assert_eq!(flipped.slices[0].spacing_mm, [0.5, 0.25]);
    assert_eq!(
        flipped.warnings,
        ["pixdim[1] is negative (-0.25): taking 0.25 mm as the pixel spacing"]
    );
    // A missing one is 1 mm, on its own axis only.
    let missing = with_pixdim(0.25, 0.0);
    assert_eq!(missing.slices[0].spacing_mm, [1.0, 0.25]);
    assert_eq!(
        missing.warnings,
        ["no pixel spacing in pixdim[2] (0): assuming 1 mm, so areas may be off"]
    );
    let both = with_pixdim(f32::NAN, 0.0);
    assert_eq!(both.slices[0].spacing_mm, [1.0, 1.0]);
    assert_eq!(both.warnings.len(), 2, "{:?}", both.warnings);
}

#[test]
fn a_four_dimensional_nifti_is_one_stack_per_volume() {
    // Two volumes of two 2 x 3 slices, stored as one 4-D image (x, y, z, t): a cine or
    // multi-TI series. Summed as one stack, each position would count twice.
    let slices: Vec<Slice> = (0..4)
        .map(|k| {
            let mut s = Slice::new(2, 3, vec![k as f32; 6], "x");
            s.thickness_mm = 5.0;
            s.position_mm = [0.0, 0.0, 5.0 * (k % 2) as f64];
            s
        })
        .collect();
    let pixels: Vec<f32> = slices.iter().flat_map(|s| s.pixels.clone()).collect();
    let mut bytes = nifti1(&slices, NiftiData::F32(&pixels), false).expect("encode");
    bytes[40..42].copy_from_slice(&4i16.to_le_bytes()); // dim[0] = 4
    bytes[46..48].copy_from_slice(&2i16.to_le_bytes()); // dim[3] = 2 slices
    bytes[48..50].copy_from_slice(&2i16.to_le_bytes()); // dim[4] = 2 volumes
    let stacks = decode_file_stacks("cine.nii", &bytes, &Limits::default()).expect("decode");
    let names: Vec<&str> = stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cine.nii (volume 1)", "cine.nii (volume 2)"]);
    for (t, stack) in stacks.iter().enumerate() {
        assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
        assert_eq!(stack.slices.len(), 2);
        // Volume t holds planes 2t and 2t + 1, at z = 0 and 5 mm like every volume.
        for (z, slice) in stack.slices.iter().enumerate() {
            assert_eq!(slice.position_mm, stacks[0].slices[z].position_mm);
            assert_eq!(slice.pixels, vec![(2 * t + z) as f32; 6]);
        }
    }
    assert_ne!(
        stacks[0].slices[1].position_mm,
        stacks[0].slices[0].position_mm
    );
    let err = decode_file("cine.nii", &bytes, &Limits::default()).expect_err("two stacks");
    assert!(
        err.to_string()
            .starts_with("cine.nii: holds 2 stacks (volume 1; volume 2) where one is needed"),
        "{err}"
    );
}

#[test]
fn gzipped_dicom_is_refused_by_name() {
    use std::io::Write;
    let case = generate(19, &small_config(1));
    let dicom = dicom_mr(
        &case.slices[0].image,
        &ids("x"),
        1,
        DicomSyntax::ExplicitLittle,
    )
    .expect("encode");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&dicom).expect("gzip");
    let gz = gz.finish().expect("gzip");
    assert_eq!(
        decode_file("IM0001.dcm.gz", &gz, &Limits::default())
            .expect_err("gzipped DICOM")
            .to_string(),
        "IM0001.dcm.gz: a DICOM file compressed with gzip: decompress it first (gunzip); only \
         NIfTI is read gzipped"
    );
}

fn good_corpus(name: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(format!("{dir}/tests/corpus/good/{name}")).expect("corpus file")
}

#[test]
fn nifti_2_reads_as_its_nifti_1_twin_and_cifti_is_refused() {
    // Written by nibabel (make_good_corpus.py `nifti2`): one 5 x 4 x 3 int16 volume, stored
    // i + 5 j + 20 k + 100 at voxel (i, j, k) and scaled 0.5 v + 10, with an oblique sform,
    // as NIfTI-2 (little endian; big endian and gzipped) and as NIfTI-1.
    let limits = Limits::default();
    let twin = decode_file("twin.nii", &good_corpus("nifti1_twin.nii"), &limits).expect("decode");
    for name in ["nifti2.nii", "nifti2_big_endian.nii.gz"] {
        let stack = decode_file(name, &good_corpus(name), &limits).expect("decode");
        assert!(stack.warnings.is_empty(), "{name}: {:?}", stack.warnings);
        assert_eq!(stack.slices.len(), 3, "{name}");
        for (k, (got, want)) in stack.slices.iter().zip(&twin.slices).enumerate() {
            // Row j, column i: the stored value by its formula, then the scaling.
            let expected: Vec<f32> = (0..4)
                .flat_map(|j| (0..5).map(move |i| 0.5 * (i + 5 * j + 20 * k) as f32 + 60.0))
                .collect();
            assert_eq!(got.pixels, expected, "{name} [{k}]");
            // The geometry as the NIfTI-1 reader gives it (double precision narrowed to single).
            assert_geometry(got, want);
        }
    }

    // CIFTI (intent codes 3000-3099) has an image's shape but holds surface data or a matrix.
    let mut cifti = good_corpus("nifti1_twin.nii");
    cifti[68..70].copy_from_slice(&3001i16.to_le_bytes()); // intent_code
    assert_eq!(
        decode_file("conn.nii", &cifti, &limits)
            .expect_err("CIFTI")
            .to_string(),
        "conn.nii: NIfTI: a CIFTI file (intent code 3001): brain-surface data or a matrix, not an \
         image volume"
    );
    // A NIfTI-2 dimension past what NIfTI-1 holds, and a header cut short.
    let mut wide = good_corpus("nifti2.nii");
    wide[24..32].copy_from_slice(&70_000i64.to_le_bytes()); // dim[1]
    assert_eq!(
        decode_file("wide.nii", &wide, &limits)
            .expect_err("too wide")
            .to_string(),
        "wide.nii: NIfTI: NIfTI-2 dim[1] = 70000: out of the range read here"
    );
    let cut = &good_corpus("nifti2.nii")[..500];
    assert_eq!(
        decode_file("cut.nii", cut, &limits)
            .expect_err("cut")
            .to_string(),
        "cut.nii: the file is truncated: 500 bytes, shorter than the 540-byte NIfTI-2 header"
    );
}

#[test]
fn colour_jpeg_is_converted_to_grey_with_a_warning() {
    let rgb: Vec<u8> = (0..8 * 8).flat_map(|i| [(i * 4) as u8, 100, 50]).collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode(&rgb, 8, 8, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    let stack = decode_file("photo.jpg", &jpeg, &Limits::default()).expect("decode");
    assert_eq!((stack.slices[0].rows, stack.slices[0].cols), (8, 8));
    assert!(
        stack
            .warnings
            .iter()
            .any(|w| w.contains("converted to grey")),
        "{:?}",
        stack.warnings
    );
}

#[test]
fn a_failing_file_in_a_series_is_reported_and_the_others_kept() {
    let case = generate(14, &small_config(2));
    let mut files: Vec<(String, Vec<u8>)> = case
        .slices
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (
                format!("{k}.dcm"),
                dicom_mr(
                    &s.image,
                    &ids("x"),
                    k as u32 + 1,
                    DicomSyntax::ExplicitLittle,
                )
                .expect("encode"),
            )
        })
        .collect();
    files.insert(1, ("broken.dcm".into(), b"not dicom".to_vec()));
    let (stack, errors) = decode_series("series", &files, &Limits::default());
    assert_eq!(stack.expect("two good files").slices.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].file, "broken.dcm");
}

/// A DICOMDIR as a disc or PACS export writes one beside the images: no pixel data.
fn dicomdir() -> Vec<u8> {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::{tags, uids};
    let obj = dicom_object::InMemDicomObject::from_element_iter([DataElement::new(
        tags::FILE_SET_ID,
        VR::CS,
        PrimitiveValue::from("EXPORT"),
    )]);
    let file = obj
        .with_meta(
            dicom_object::FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::MEDIA_STORAGE_DIRECTORY_STORAGE)
                .media_storage_sop_instance_uid("1.2.826.0.1.3680043.10.1234.7"),
        )
        .expect("meta");
    let mut out = Vec::new();
    file.write_all(&mut out).expect("write");
    out
}

#[test]
fn a_dicomdir_beside_a_series_is_named_in_the_warnings_not_an_error() {
    let case = generate(17, &small_config(2));
    let mut files: Vec<(String, Vec<u8>)> = (0..2)
        .map(|k| {
            let bytes = dicom_mr(
                &case.slices[k].image,
                &ids("x"),
                k as u32 + 1,
                DicomSyntax::ExplicitLittle,
            )
            .expect("encode");
            (format!("{k}.dcm"), bytes)
        })
        .collect();
    files.insert(0, ("DICOMDIR".into(), dicomdir()));
    let message = "DICOMDIR: not an image: a DICOMDIR (the index of a DICOM disc or export) \
                   without Pixel Data (7FE0,0010)";
    let (stack, errors) = decode_series("export", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    let stack = stack.expect("the series");
    assert_eq!(stack.slices.len(), 2);
    assert_eq!(stack.warnings, [format!("{message}; left out")]);
    // With no image beside it, it is the folder's error: the user learns why nothing ran.
    let (stack, errors) = decode_series("export", &files[..1], &Limits::default());
    assert!(stack.is_none());
    assert_eq!(
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        [message]
    );
}

/// The warnings of a series of three phantom slices, after `edit` changes their geometry.
fn series_warnings(edit: impl Fn(usize, &mut Slice)) -> Vec<String> {
    series_warnings_of(3, edit)
}

/// The warnings of a series of `n` phantom slices, after `edit` changes their geometry.
fn series_warnings_of(n: usize, edit: impl Fn(usize, &mut Slice)) -> Vec<String> {
    let case = generate(18, &small_config(n));
    let files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|k| {
            let mut image = case.slices[k].image.clone();
            edit(k, &mut image);
            let bytes = dicom_mr(&image, &ids("x"), k as u32 + 1, DicomSyntax::ExplicitLittle)
                .expect("encode");
            (format!("{k}.dcm"), bytes)
        })
        .collect();
    let (stack, errors) = decode_series("series", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    stack.expect("stack").warnings
}

#[test]
fn a_series_that_mixes_views_or_repeats_a_position_says_so() {
    // As written: three parallel slices at distinct positions.
    assert!(series_warnings(|_, _| {}).is_empty());
    // The same plane with its normal flipped (rows and columns read the other way) is one
    // orientation.
    let flipped = series_warnings(|k, s| {
        if k == 1 {
            s.orientation = [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        }
    });
    assert!(flipped.is_empty(), "{flipped:?}");
    // A long-axis slice among short-axis ones: normal z against normal x.
    let mixed = series_warnings(|k, s| {
        if k == 2 {
            s.orientation = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        }
    });
    assert_eq!(
        mixed,
        [
            "slices in 2 orientations (short- and long-axis views in one series?): the stack's \
          volumes and burden mix them; give each view its own folder"
        ]
    );
    // The third slice acquired again where the first was.
    let repeated = series_warnings(|k, s| {
        if k == 2 {
            s.slice_location_mm = None;
            s.position_mm = [s.position_mm[0] + 3.0, s.position_mm[1], 0.0];
        }
        if k == 0 {
            s.slice_location_mm = None;
            s.position_mm[2] = 0.0;
        }
    });
    assert_eq!(
        repeated,
        [
            "1 of 3 slices repeat another slice's position (a repeated acquisition, or no \
          ImagePositionPatient): the stack's volumes count that position more than once"
        ]
    );
    // A cine of two positions, three phases each (files 0-2 at the first slice's position,
    // 3-5 at the second's), as a study exported whole holds beside its LGE series.
    let case = generate(18, &small_config(2));
    let at = |k: usize| case.slices[k / 3].image.clone();
    let cine = series_warnings_of(6, |k, s| {
        let place = at(k);
        s.position_mm = place.position_mm;
        s.slice_location_mm = place.slice_location_mm;
    });
    assert_eq!(
        cine,
        [
            "each of the stack's 2 positions holds 3 slices (a cine's phases, a TI scout, or a \
             stack acquired 3 times): its volumes count every position 3 times"
        ]
    );
    // A TI scout: four images of one slice.
    let scout = series_warnings_of(4, |_, s| {
        let place = at(0);
        s.position_mm = place.position_mm;
        s.slice_location_mm = place.slice_location_mm;
    });
    assert_eq!(
        scout,
        [
            "all 4 slices lie at one position (a TI scout or a cine of one slice, or no \
             ImagePositionPatient): the stack's volumes count that position 4 times"
        ]
    );
}

#[test]
fn a_second_series_in_a_folder_is_reported_not_mixed_in() {
    // Two series of the same image size (as a study exported whole may hold): the files of the
    // second are reported and the stack holds the first's slices only.
    let files: Vec<(String, Vec<u8>)> = [
        (15, "1.2.826.0.1.3680043.10.1234.1.1"),
        (16, "1.2.826.0.1.3680043.10.1234.1.2"),
    ]
    .into_iter()
    .flat_map(|(seed, uid)| {
        let case = generate(seed, &small_config(2));
        let ids = SeriesIds {
            series_uid: uid.into(),
            ..ids("x")
        };
        (0..2)
            .map(|k| {
                (
                    format!("{seed}-{k}.dcm"),
                    dicom_mr(
                        &case.slices[k].image,
                        &ids,
                        k as u32 + 1,
                        DicomSyntax::ExplicitLittle,
                    )
                    .expect("encode"),
                )
            })
            .collect::<Vec<_>>()
    })
    .collect();
    let (stack, errors) = decode_series("study", &files, &Limits::default());
    let stack = stack.expect("the first series");
    let sources: Vec<&str> = stack.slices.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(sources, ["15-0.dcm", "15-1.dcm"]);
    let named: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(named, ["16-0.dcm", "16-1.dcm"]);
    assert!(
        errors[0].to_string().contains(
            "another series (1.2.826.0.1.3680043.10.1234.1.2) than the folder's first file \
             (1.2.826.0.1.3680043.10.1234.1.1); give each series its own folder"
        ),
        "{}",
        errors[0]
    );
    // Read for analysis, the folder is two stacks, one per series; with nothing else to tell
    // them apart (the same description), each is named by its UID.
    let (stacks, errors) = decode_series_stacks("study", &files, &Limits::default());
    assert!(errors.is_empty(), "{errors:?}");
    let found: Vec<(&str, Vec<&str>)> = stacks
        .iter()
        .map(|s| {
            let sources = s.slices.iter().map(|x| x.source.as_str()).collect();
            (s.name.as_str(), sources)
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "study (series 1.2.826.0.1.3680043.10.1234.1.1)",
                vec!["15-0.dcm", "15-1.dcm"]
            ),
            (
                "study (series 1.2.826.0.1.3680043.10.1234.1.2)",
                vec!["16-0.dcm", "16-1.dcm"]
            )
        ]
    );
}

#[test]
fn nifti_keeps_slices_stored_against_the_normal_where_they_are() {
    // A series sorted by a SliceLocation that runs against the normal: z = 20, 12, 4 mm with
    // the normal (0, 0, 1). The volume must place slice k where slice k was, not at 20 + 8 k.
    let slices: Vec<Slice> = [20.0, 12.0, 4.0]
        .iter()
        .enumerate()
        .map(|(k, z)| {
            let mut s = Slice::new(2, 3, vec![k as f32 + 1.0; 6], "x");
            s.spacing_mm = [1.25, 1.5];
            s.thickness_mm = 8.0;
            s.position_mm = [-30.0, 15.0, *z];
            s
        })
        .collect();
    let pixels: Vec<f32> = slices.iter().flat_map(|s| s.pixels.clone()).collect();
    let bytes = nifti1(&slices, NiftiData::F32(&pixels), false).expect("encode");
    let stack = decode_file("down.nii", &bytes, &Limits::default()).expect("decode");
    let z: Vec<f64> = stack.slices.iter().map(|s| s.position_mm[2]).collect();
    assert_eq!(z, [20.0, 12.0, 4.0]);
    for s in &stack.slices {
        assert_eq!(&s.position_mm[..2], &[-30.0, 15.0]);
        assert_eq!(s.thickness_mm, 8.0);
    }
    assert_eq!(stack.slices[2].pixels, vec![3.0; 6]);
}

#[test]
fn a_series_where_some_files_lack_slice_location_is_ordered_by_position() {
    // SliceLocation measured from another origin (100 and 120 mm) on two files, missing on the
    // third: comparing locations with the third's position (30 mm) would put it first.
    let slice = |name: &str, z: f64, location: Option<f64>| {
        let mut s = Slice::new(2, 2, vec![0.0, 1.0, 2.0, 3.0], name);
        s.position_mm = [0.0, 0.0, z];
        s.slice_location_mm = location;
        s
    };
    let mut slices = vec![
        slice("b", 30.0, None),
        slice("a", 10.0, Some(100.0)),
        slice("c", 20.0, Some(120.0)),
    ];
    sort_slices(&mut slices);
    let order: Vec<&str> = slices.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(order, ["a", "c", "b"]);
    // With a location on every file, the locations decide (here against the positions).
    let mut slices = vec![
        slice("b", 30.0, Some(90.0)),
        slice("a", 10.0, Some(100.0)),
        slice("c", 20.0, Some(120.0)),
    ];
    sort_slices(&mut slices);
    let order: Vec<&str> = slices.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(order, ["b", "a", "c"]);
}

#[test]
fn a_left_handed_qform_from_nibabel_reads_as_nibabel_reads_it() {
    // Written by nibabel with only a qform (make_good_corpus.py); the expected positions and
    // directions are nibabel's own (`img.get_qform()` applied to voxels (0, 0, k) and the i, j
    // axes, then RAS -> LPS), printed when the file was made.
    let bytes = good_corpus("qform_left_handed.nii");
    let stack = decode_file("qform.nii", &bytes, &Limits::default()).expect("decode");
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    let positions = [
        [-10.0, 20.0, 30.0],
        [-7.035796622548332, 19.232570534924438, 22.609157669572568],
        [-4.071593245096666, 18.465141069848876, 15.21831533914514],
    ];
    let orientation = [
        -0.9273481675783165,
        -0.09422405456010755,
        -0.36214251839765005,
        0.05230953647654016,
        -0.9909185210169125,
        0.12387169611846133,
    ];
    assert_eq!(stack.slices.len(), 3);
    for (slice, want) in stack.slices.iter().zip(&positions) {
        assert_eq!((slice.rows, slice.cols), (4, 5));
        for (got, want) in slice.position_mm.iter().zip(want) {
            assert!((got - want).abs() < 1e-5, "{:?}", slice.position_mm);
        }
        for (got, want) in slice.orientation.iter().zip(&orientation) {
            assert!((got - want).abs() < 1e-5, "{:?}", slice.orientation);
        }
        assert!(
            (slice.spacing_mm[0] - 1.5).abs() < 1e-6 && (slice.spacing_mm[1] - 1.2).abs() < 1e-6
        );
        assert_eq!(slice.thickness_mm, 8.0);
    }
    // Column-fastest voxel order: voxel (i, j, k) = i + 5 j + 20 k, row j, column i.
    assert_eq!(
        stack.slices[2].pixels[2 * 5 + 3],
        (3 + 5 * 2 + 20 * 2) as f32
    );
}

#[test]
fn a_dicom_slice_keeps_what_a_segmentation_of_it_references() {
    let image = generate(5, &small_config(1)).slices[0].image.clone();
    let ids = ids("Case^One");
    let bytes = dicom_mr(&image, &ids, 3, DicomSyntax::ExplicitLittle).expect("encode");
    let stack = decode_file("IM3.dcm", &bytes, &Limits::default()).expect("decode");
    let d = stack.slices[0].dicom.as_ref().expect("a DICOM source");
    assert_eq!(d.sop_class_uid, "1.2.840.10008.5.1.4.1.1.4");
    assert_eq!(d.sop_instance_uid, format!("{}.3", ids.series_uid));
    assert_eq!(d.frame, None);
    assert_eq!(d.study_uid, ids.study_uid);
    assert_eq!(d.series_uid, ids.series_uid);
    assert_eq!(
        d.frame_of_reference_uid.as_deref(),
        Some(format!("{}.0", ids.series_uid).as_str())
    );
    assert_eq!(
        (d.patient_name.as_str(), d.patient_id.as_str()),
        ("Case^One", "Case^One")
    );
    // Neither a NIfTI nor a PNG has one.
    let png = png_grey16(2, 2, &[0.0, 1.0, 2.0, 3.0], None).expect("png");
    let stack = decode_file("a.png", &png, &Limits::default()).expect("decode");
    assert!(stack.slices[0].dicom.is_none());
}
