//! Bytes after a PNG or JPEG signature (first input byte picks), so every input reaches the
//! raster decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let mut bytes = if first % 2 == 0 {
        b"\x89PNG\r\n\x1a\n".to_vec()
    } else {
        vec![0xFF, 0xD8, 0xFF]
    };
    bytes.extend_from_slice(rest);
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    let _ = decode_file("fuzz.png", &bytes, &limits);
});
