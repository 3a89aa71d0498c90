//! Bytes after a NIfTI-1 sizeof_hdr, plain or gzip (first input byte picks), so every input
//! reaches the NIfTI decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let bytes = if first % 2 == 0 {
        let mut b = 348i32.to_le_bytes().to_vec();
        b.extend_from_slice(rest);
        b
    } else {
        let mut b = vec![0x1F, 0x8B];
        b.extend_from_slice(rest);
        b
    };
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    let _ = decode_file("fuzz.nii", &bytes, &limits);
});
