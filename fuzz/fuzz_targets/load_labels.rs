//! Any bytes as a label file for a fixed image stack (the page's "load labels", `scarseg train
//! --pairs`): must return the maps or a message naming the file, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, Slice, decode::labels_for};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    // Two unplaced 8 x 8 slices and one: label files of either count meet a stack they fit and
    // one they do not.
    let image = vec![Slice::new(8, 8, vec![0.0; 64], "a"), Slice::new(8, 8, vec![0.0; 64], "b")];
    for slices in [&image[..], &image[..1]] {
        if let Ok(maps) = labels_for(slices, "image", "fuzz", data, &limits) {
            assert_eq!(maps.len(), slices.len());
            assert!(maps.iter().all(|m| m.len() == 64 && m.iter().all(|v| *v <= 4)));
        }
    }
});
