//! A JPEG stream as the one fragment of a grey JPEG Extended (12-bit) MR image, so every input
//! reaches ScarSeg's 12-bit lossy JPEG decoder (crates/scarseg-imaging/src/jpeg12.rs). Rows and
//! columns come from the stream's own SOF1 frame header where it has one (so mutations of the
//! scan are decoded, not refused for their size), else 16 x 12.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

mod common;

/// (rows, columns) from the stream's SOF1, if it has one within its first bytes.
fn frame(stream: &[u8]) -> Option<(u16, u16)> {
    let at = stream.windows(2).take(256).position(|w| w == [0xFF, 0xC1])?;
    let s = stream.get(at + 4..at + 9)?;
    Some((u16::from_be_bytes([s[1], s[2]]), u16::from_be_bytes([s[3], s[4]])))
}

fuzz_target!(|stream: &[u8]| {
    let (rows, cols) = frame(stream).unwrap_or((16, 12));
    let bytes = common::mr_image(stream, "1.2.840.10008.1.2.4.51", rows, cols, 16, 12);
    let limits = Limits {
        max_bytes: 1 << 24,
        max_side: 1024,
        max_slices: 64,
    };
    let _ = decode_file("fuzz.dcm", &bytes, &limits);
});
