//! Any bytes as an archive (ZIP, tar, gzipped tar) dropped on the page or given to `scarseg
//! predict` (crates/scarseg-imaging/src/archive.rs), under a small byte limit so that inflation
//! bombs meet it; then every file it gave decoded, as the page and predict decode a folder's.
//! The seeds (the committed corpus) hold archives of each kind.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, archive::unpack, decode::decode_series_stacks};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 22,
        max_side: 1024,
        max_slices: 64,
    };
    if let Ok(unpacked) = unpack("fuzz.archive", data.to_vec(), &limits) {
        let _ = decode_series_stacks("fuzz.archive", &unpacked.files, &limits);
    }
});
