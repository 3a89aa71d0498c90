//! What the analysis after the network costs on the CPU: per slice, `slice_result` (post-
//! processing, areas, burden, the classic FWHM and n-SD burdens, the gray zone and the wall
//! sectors) and the sectors alone; per stack, the AHA segments (`StackResult::aha_map`, each
//! slice cut again at the insertion); and what the page does on every move of a brush stroke
//! (`MaskEdits::stroke` of a 4 mm brush over 10 pixels, the slice measured again with its
//! corrections by `SliceResult::remeasured`, the stack's totals by `StackResult::set_slice`),
//! rendering aside; per stack, a label volume laid over it as corrections
//! (`StackResult::towards_labels`: the page's "load labels", `predict --corrections`) and the RV
//! insertion suggested from the images (`StackResult::suggested_insertion`); the stack's DICOM
//! segmentation written (`outputs::dicom_seg`: predict's `NAME_seg.dcm`, the page's "DICOM SEG")
//! and read back as label maps (`decode::labels_for`), and its measurement report written
//! (`outputs::dicom_sr`). Phantom stacks of 10 slices at three image sizes; the
//! network's probability maps stand in as the exact labels at 0.9 and 0.1, so no model runs.
//! Prints a markdown table; `benchmarks/analysis.sh` writes it to `benchmarks/analysis.md`.
//!
//! `cargo run -p scarseg-pipeline --example analysis_cost [REPEATS]` (the dev profile optimises the
//! dependencies and scarseg-imaging, where the metrics live).

use std::time::Instant;

use scarseg_imaging::Limits;
use scarseg_imaging::decode::labels_for;
use scarseg_imaging::edit::{MaskEdits, Tool};
use scarseg_imaging::metrics::{AhaOrientation, WALL_SECTORS, sector_scar_percent};
use scarseg_imaging::phantom::{PhantomConfig, generate};
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
        "| image (px) | slice_result, ms per slice | sectors alone, ms per slice | AHA map, ms per 10-slice stack | brush move, ms | labels as corrections, ms per 10-slice stack | insertion suggested, ms per 10-slice stack | DICOM SEG written, ms per 10-slice stack | DICOM SEG read as labels, ms per 10-slice stack | DICOM SEG, KiB | DICOM SR written, ms per 10-slice stack |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
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
        let sr_write = median_ms(runs, || {
            std::hint::black_box(dicom_sr(&stack, &result, &maker).expect("a report"));
        });
        println!(
            "| {side} x {side} | {per_slice:.2} | {sectors:.3} | {aha:.2} | {brush:.2} | {towards:.2} | {suggest:.2} | {seg_write:.2} | {seg_read:.2} | {kib:.0} | {sr_write:.2} |"
        );
    }
}
