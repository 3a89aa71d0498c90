//! What the analysis after the network costs on the CPU: per slice, `slice_result` (post-
//! processing, areas, burden, the classic FWHM and n-SD burdens, the gray zone and the wall
//! sectors, where in the wall the scar lies, the outline checks) and the sectors alone; where in
//! the wall the scar lies alone (`depth::scar_depth`), also with all the wall scarred, its worst
//! case; the outline checks alone (`quality::slice_doubts`); per stack, the AHA segments (`StackResult::aha_map`, each
//! slice cut again at the insertion); and what the page does on every move of a brush stroke
//! (`MaskEdits::stroke` of a 4 mm brush over 10 pixels, the slice measured again with its
//! corrections by `SliceResult::remeasured`, the stack's totals by `StackResult::set_slice`),
//! rendering aside; per stack, a label volume laid over it as corrections
//! (`StackResult::towards_labels`: the page's "load labels", `predict --corrections`) and the RV
//! insertion suggested from the images (`StackResult::suggested_insertion`); the stack's DICOM
//! segmentation written (`outputs::dicom_seg`: predict's `NAME_seg.dcm`, the page's "DICOM SEG")
//! and read back as label maps (`decode::labels_for`), also re-encoded as OHIF's dcmjs writes one
//! (RLE-compressed FRACTIONAL frames of 0 and 1), and its measurement report written
//! (`outputs::dicom_sr`). Phantom stacks of 10 slices at three image sizes; the
//! network's probability maps stand in as the exact labels at 0.9 and 0.1, so no model runs.
//! Prints a markdown table; `benchmarks/analysis.sh` writes it to `benchmarks/analysis.md`.
//!
//! `cargo run --profile bench-dev -p scarseg-pipeline --example analysis_cost [REPEATS]` (bench-dev
//! optimises every dependency and scarseg-imaging, where the metrics live).

use std::time::Instant;

use scarseg_imaging::Limits;
use scarseg_imaging::decode::labels_for;
use scarseg_imaging::depth::scar_depth;
use scarseg_imaging::edit::{MaskEdits, Tool};
use scarseg_imaging::metrics::{AhaOrientation, WALL_SECTORS, sector_scar_percent};
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_imaging::quality::slice_doubts;
use scarseg_imaging::slice::DicomSource;
use scarseg_pipeline::outputs::{SegMaker, dicom_seg, dicom_sr, label_map};
use scarseg_pipeline::{StackResult, slice_result};

/// The median of `runs` timings of `f`, in ms.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7)
        .max(1);
    println!(
        "| image (px) | slice_result, ms per slice | sectors alone, ms per slice | scar depth alone, ms per slice | scar depth, all the wall scar, ms per slice | outline checks alone, ms per slice | AHA map, ms per 10-slice stack | brush move, ms | labels as corrections, ms per 10-slice stack | insertion suggested, ms per 10-slice stack | DICOM SEG written, ms per 10-slice stack | DICOM SEG read as labels, ms per 10-slice stack | DICOM SEG, KiB | the same as dcmjs's RLE, read, ms per 10-slice stack | dcmjs's RLE, KiB | DICOM SR written, ms per 10-slice stack |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for side in [128usize, 256, 512] {
        let config = PhantomConfig {
            size_px: [side, side],
            slices: 10,
            ..PhantomConfig::default()
        };
        let case = generate(9_900_000 + side as u64, &config);
        let mut stack = case.stack();
        // As if read from a DICOM series, so that it has a segmentation to write.
        for (k, s) in stack.slices.iter_mut().enumerate() {
            s.dicom = Some(DicomSource {
                sop_class_uid: "1.2.840.10008.5.1.4.1.1.4".into(),
                sop_instance_uid: format!("2.25.99.{}", k + 1),
                study_uid: "2.25.98".into(),
                series_uid: "2.25.99".into(),
                frame_of_reference_uid: Some("2.25.97".into()),
                ..Default::default()
            });
        }
        let p = |m: &scarseg_imaging::metrics::Mask| -> Vec<f32> {
            m.data.iter().map(|b| if *b { 0.9 } else { 0.1 }).collect()
        };
        let maps: Vec<(Vec<f32>, Vec<f32>)> = case
            .slices
            .iter()
            .map(|s| (p(&s.scar()), p(&s.myocardium())))
            .collect();
        let options = Default::default();
        let analyse = || -> Vec<_> {
            stack
                .slices
                .iter()
                .zip(&maps)
                .map(|(s, (scar, myo))| slice_result(s, scar.clone(), myo.clone(), None, &options))
                .collect()
        };
        let per_slice = median_ms(runs, || {
            std::hint::black_box(analyse());
        }) / stack.slices.len() as f64;
        let result = StackResult::from_slices(analyse(), &stack);
        let sectors = median_ms(runs, || {
            for (r, s) in result.slices.iter().zip(&stack.slices) {
                std::hint::black_box(sector_scar_percent(
                    &r.scar,
                    &r.myocardium,
                    s.spacing_mm,
                    WALL_SECTORS,
                ));
            }
        }) / stack.slices.len() as f64;
        let depth = |all_scar: bool| {
            median_ms(runs, || {
                for (r, s) in result.slices.iter().zip(&stack.slices) {
                    let scar = if all_scar { &r.myocardium } else { &r.scar };
                    std::hint::black_box(scar_depth(scar, &r.myocardium, s.spacing_mm));
                }
            }) / stack.slices.len() as f64
        };
        let (depth, depth_worst) = (depth(false), depth(true));
        let outline = median_ms(runs, || {
            for (r, s) in result.slices.iter().zip(&stack.slices) {
                std::hint::black_box(slice_doubts(&s.pixels, &r.scar, &r.myocardium));
            }
        }) / stack.slices.len() as f64;
        let orientation = AhaOrientation {
            anterior_insertion_deg: 320.0,
            septum_clockwise: false,
        };
        let aha = median_ms(runs, || {
            std::hint::black_box(result.aha_map(&stack, orientation, None, None).ok());
        });
        // A stroke piece across the middle slice's wall: from its centre rightwards.
        let k = stack.slices.len() / 2;
        let s = &stack.slices[k];
        let mut edits = MaskEdits::new(s.rows, s.cols);
        let mut corrected = result.clone();
        let (x, y) = (s.cols as f64 / 2.0, s.rows as f64 / 2.0);
        let brush = median_ms(runs, || {
            edits.stroke(Tool::PaintScar, s.spacing_mm, (x, y), (x + 10.0, y), 4.0);
            let r = &corrected.slices[k];
            let new = r.remeasured(s, &options, Some(&edits));
            corrected.set_slice(k, new, &stack);
        });
        assert!(corrected.slices[k].edited_px > 0);
        // The phantom's labels with each slice's scar taken out, laid over the exact masks.
        let labels: Vec<Vec<u8>> = case
            .slices
            .iter()
            .map(|s| s.labels.iter().map(|l| (*l).min(2)).collect())
            .collect();
        let towards = median_ms(runs, || {
            std::hint::black_box(result.towards_labels(&stack, &options, &labels));
        });
        assert!(
            result
                .towards_labels(&stack, &options, &labels)
                .0
                .edited_px()
                > 0
        );
        let suggest = median_ms(runs, || {
            std::hint::black_box(result.suggested_insertion(&stack));
        });
        let maker = SegMaker {
            model_name: "benchmark",
            weights_sha256: "0123456789abcdef",
            date: "20261204",
            time: "120000",
            verified_by: None,
        };
        let seg_write = median_ms(runs, || {
            std::hint::black_box(dicom_seg(&stack, &result, &maker).expect("a segmentation"));
        });
        let seg = dicom_seg(&stack, &result, &maker).expect("a segmentation");
        let read = || labels_for(&stack.slices, "stack", "seg.dcm", &seg, &Limits::default());
        let seg_read = median_ms(runs, || {
            std::hint::black_box(read().expect("labels"));
        });
        // Read back, the segmentation is the masks it was written from.
        for (map, r) in read().expect("labels").iter().zip(&result.slices) {
            assert_eq!(map, &label_map(&r.scar, &r.myocardium));
        }
        let kib = seg.len() as f64 / 1024.0;
        let rle = as_dcmjs_rle(&seg);
        let read_rle = || labels_for(&stack.slices, "stack", "rle.dcm", &rle, &Limits::default());
        let rle_read = median_ms(runs, || {
            std::hint::black_box(read_rle().expect("labels"));
        });
        assert_eq!(read_rle().expect("labels"), read().expect("labels"));
        let rle_kib = rle.len() as f64 / 1024.0;
        let sr_write = median_ms(runs, || {
            std::hint::black_box(dicom_sr(&stack, &result, &maker).expect("a report"));
        });
        println!(
            "| {side} x {side} | {per_slice:.2} | {sectors:.3} | {depth:.3} | {depth_worst:.3} | {outline:.3} | {aha:.2} | {brush:.2} | {towards:.2} | {suggest:.2} | {seg_write:.2} | {seg_read:.2} | {kib:.0} | {rle_read:.2} | {rle_kib:.0} | {sr_write:.2} |"
        );
    }
}

/// The binary segmentation `seg` as OHIF's dcmjs writes its default one: each frame one byte a
/// pixel (1 where the segment is), RLE Lossless (PS3.5 annex G: one PackBits segment, here
/// runs of at most 128 equal bytes, which suits masks), FRACTIONAL of maximum 255.
fn as_dcmjs_rle(seg: &[u8]) -> Vec<u8> {
    use dicom_core::value::{PixelFragmentSequence, PrimitiveValue, Value};
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::{tags, uids};
    let mut obj = dicom_object::OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Always)
        .from_reader(seg)
        .expect("our segmentation");
    let int = |tag| {
        obj.element(tag)
            .expect("present")
            .to_int::<usize>()
            .expect("a number")
    };
    let (rows, cols, frames) = (
        int(tags::ROWS),
        int(tags::COLUMNS),
        int(tags::NUMBER_OF_FRAMES),
    );
    let bits = obj
        .element(tags::PIXEL_DATA)
        .expect("pixels")
        .to_bytes()
        .expect("bytes");
    let plane = rows * cols;
    let fragments: Vec<Vec<u8>> = (0..frames)
        .map(|f| {
            let bytes: Vec<u8> = (f * plane..(f + 1) * plane)
                .map(|bit| bits[bit / 8] >> (bit % 8) & 1)
                .collect();
            let mut frame = vec![0u8; 64];
            frame[0..4].copy_from_slice(&1u32.to_le_bytes());
            frame[4..8].copy_from_slice(&64u32.to_le_bytes());
            for run in bytes.chunk_by(|a, b| a == b) {
                for piece in run.chunks(128) {
                    // A replicate run of n bytes is the header 1 - n; one byte is a literal.
                    let header = if piece.len() == 1 {
                        0
                    } else {
                        1 - piece.len() as i16
                    };
                    frame.extend([header as u8, piece[0]]);
                }
            }
            if frame.len() % 2 == 1 {
                frame.push(0x80); // no-op
            }
            frame
        })
        .collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(vec![], fragments)),
    ));
    for (tag, value) in [
        (tags::BITS_ALLOCATED, 8u16),
        (tags::BITS_STORED, 8),
        (tags::HIGH_BIT, 7),
    ] {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
    }
    obj.put(DataElement::new(
        tags::MAXIMUM_FRACTIONAL_VALUE,
        VR::US,
        PrimitiveValue::from(255u16),
    ));
    for (tag, value) in [
        (tags::SEGMENTATION_TYPE, "FRACTIONAL"),
        (tags::SEGMENTATION_FRACTIONAL_TYPE, "PROBABILITY"),
    ] {
        obj.put(DataElement::new(tag, VR::CS, PrimitiveValue::from(value)));
    }
    obj.update_meta(|meta| meta.transfer_syntax = format!("{}\0", uids::RLE_LOSSLESS));
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("written");
    out
}
