//! A JPEG-LS stream as the one fragment of a JPEG-LS Lossless MR image, so every input reaches
//! ScarSeg's header checks and pure_jpegls (crates/scarseg-imaging/src/jpeg_ls.rs). Rows, columns
//! and bits come from the stream's own frame header where it has one (so mutations of the scan
//! are decoded, not refused for their size), else 16 x 12 x 16 bits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

mod common;

/// (rows, columns, precision) from the stream's SOF55, if it has one within its first bytes.
fn frame(stream: &[u8]) -> Option<(u16, u16, u8)> {
    let at = stream.windows(2).take(64).position(|w| w == [0xFF, 0xF7])?;
    let s = stream.get(at + 4..at + 9)?;
    Some((
        u16::from_be_bytes([s[1], s[2]]),
        u16::from_be_bytes([s[3], s[4]]),
        s[0],
    ))
}

fuzz_target!(|stream: &[u8]| {
    let (rows, cols, precision) = frame(stream).unwrap_or((16, 12, 16));
    let bits: u16 = if precision <= 8 { 8 } else { 16 };
    let stored = u16::from(precision.clamp(1, 16)).min(bits);
    let bytes = common::mr_image(stream, "1.2.840.10008.1.2.4.80", rows, cols, bits, stored);
    let limits = Limits {
        max_bytes: 1 << 24,
        max_side: 1024,
        max_slices: 64,
    };
    let _ = decode_file("fuzz.dcm", &bytes, &limits);
});
