//! Any bytes, through format sniffing: must return Ok or a typed error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    let _ = decode_file("fuzz", data, &limits);
});
