//! A JPEG 2000 codestream as the one fragment of a grey JPEG 2000 Lossless MR image, so every
//! input reaches ScarSeg's JPEG 2000 path (crates/scarseg-imaging/src/jpeg2000.rs, through
//! hayro-jpeg2000). Rows, columns and bits come from the stream's own SIZ segment where it has
//! one (so mutations of the coded data are decoded, not refused for their size), else 16 x 12
//! of 16 bits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

mod common;

/// (rows, columns, precision) from the codestream's SIZ, if it starts with SOC and SIZ.
fn frame(stream: &[u8]) -> Option<(u16, u16, u8)> {
    if stream.get(..4)? != [0xFF, 0x4F, 0xFF, 0x51] {
        return None;
    }
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(stream.get(at..at + 4)?.try_into().ok()?))
    };
    // Lsiz at 4, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz (ISO 15444-1 A.5.1); Ssiz of the first
    // component after four more sizes and Csiz.
    let (x, y, x0, y0) = (be32(8)?, be32(12)?, be32(16)?, be32(20)?);
    let precision = (stream.get(42)? & 0x7F) + 1;
    let side = |v: u32| u16::try_from(v).ok().filter(|&v| v > 0);
    Some((side(y.checked_sub(y0)?)?, side(x.checked_sub(x0)?)?, precision))
}

fuzz_target!(|stream: &[u8]| {
    let (rows, cols, precision) = frame(stream).unwrap_or((16, 12, 16));
    let bits: u16 = if precision <= 8 { 8 } else { 16 };
    let stored = u16::from(precision.clamp(1, 16)).min(bits);
    let bytes = common::mr_image(stream, "1.2.840.10008.1.2.4.90", rows, cols, bits, stored);
    let limits = Limits {
        max_bytes: 1 << 24,
        max_side: 1024,
        max_slices: 64,
    };
    let _ = decode_file("fuzz.dcm", &bytes, &limits);
});
