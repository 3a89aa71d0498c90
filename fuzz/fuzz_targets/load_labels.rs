//! Any bytes as a label file for a fixed image stack (the page's "load labels", `scarseg train
//! --pairs`, `predict --corrections`): must return the maps or a message naming the file, never
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::slice::DicomSource;
use scarseg_imaging::{Limits, Slice, decode::labels_for};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    // Two unplaced 8 x 8 slices and one: label files of either count meet a stack they fit and
    // one they do not.
    let image = vec![Slice::new(8, 8, vec![0.0; 64], "a"), Slice::new(8, 8, vec![0.0; 64], "b")];
    // The three DICOM slices the corpus's segmentations (seg_*.dcm) were drawn on, so that
    // mutated segmentations reach the frames' references and positions.
    let series: Vec<Slice> = (0..3)
        .map(|k| {
            let mut s = Slice::new(8, 6, vec![0.0; 48], format!("seg_mr_{k}.dcm"));
            s.position_mm = [-5.0, -6.0, 10.0 + 8.0 * k as f64];
            s.dicom = Some(DicomSource {
                sop_instance_uid: format!("1.2.826.0.1.3680043.10.1234.30.1.{}", k + 1),
                ..Default::default()
            });
            s
        })
        .collect();
    for slices in [&image[..], &image[..1], &series[..]] {
        if let Ok(maps) = labels_for(slices, "image", "fuzz", data, &limits) {
            assert_eq!(maps.len(), slices.len());
            let side = slices[0].rows * slices[0].cols;
            assert!(maps.iter().all(|m| m.len() == side && m.iter().all(|v| *v <= 4)));
        }
    }
});
