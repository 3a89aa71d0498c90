//! Phantom cases written in every format and read back through the real decoders.

use scarseg_imaging::decode::{decode_file, decode_series};
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
