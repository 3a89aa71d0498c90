//! A JPEG-LS stream as the one fragment of a JPEG-LS Lossless MR image, so every input reaches
//! ScarSeg's header checks and pure_jpegls (crates/scarseg-imaging/src/jpeg_ls.rs). Rows, columns
//! and bits come from the stream's own frame header where it has one (so mutations of the scan
//! are decoded, not refused for their size), else 16 x 12 x 16 bits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{Limits, decode::decode_file};

/// An explicit VR little endian element with a 2-byte length.
fn short(out: &mut Vec<u8>, group: u16, element: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend(group.to_le_bytes());
    out.extend(element.to_le_bytes());
    out.extend(vr);
    out.extend((value.len() as u16).to_le_bytes());
    out.extend(value);
}

/// An even-length UI or CS value.
fn text(s: &str, pad: u8) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    v
}

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
    let mut meta = Vec::new();
    meta.extend([0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0, 2, 0, 0, 0, 0, 1]);
    short(
        &mut meta,
        0x0002,
        0x0002,
        b"UI",
        &text("1.2.840.10008.5.1.4.1.1.4", 0),
    );
    short(
        &mut meta,
        0x0002,
        0x0003,
        b"UI",
        &text("1.2.826.0.1.3680043.10.1234.99.1", 0),
    );
    short(
        &mut meta,
        0x0002,
        0x0010,
        b"UI",
        &text("1.2.840.10008.1.2.4.80", 0),
    );
    let mut bytes = vec![0u8; 128];
    bytes.extend(b"DICM");
    short(
        &mut bytes,
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    bytes.extend(meta);
    short(
        &mut bytes,
        0x0008,
        0x0016,
        b"UI",
        &text("1.2.840.10008.5.1.4.1.1.4", 0),
    );
    short(&mut bytes, 0x0008, 0x0060, b"CS", &text("MR", b' '));
    short(&mut bytes, 0x0028, 0x0002, b"US", &1u16.to_le_bytes());
    short(
        &mut bytes,
        0x0028,
        0x0004,
        b"CS",
        &text("MONOCHROME2", b' '),
    );
    short(&mut bytes, 0x0028, 0x0010, b"US", &rows.to_le_bytes());
    short(&mut bytes, 0x0028, 0x0011, b"US", &cols.to_le_bytes());
    short(&mut bytes, 0x0028, 0x0100, b"US", &bits.to_le_bytes());
    short(&mut bytes, 0x0028, 0x0101, b"US", &stored.to_le_bytes());
    short(
        &mut bytes,
        0x0028,
        0x0102,
        b"US",
        &(stored.max(1) - 1).to_le_bytes(),
    );
    short(&mut bytes, 0x0028, 0x0103, b"US", &0u16.to_le_bytes());
    // Pixel Data, undefined length: an empty offset table, the stream (even length), the end.
    bytes.extend([
        0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    let padded = stream.len() + stream.len() % 2;
    bytes.extend([0xFE, 0xFF, 0x00, 0xE0]);
    bytes.extend((padded as u32).to_le_bytes());
    bytes.extend(stream);
    bytes.resize(bytes.len() + stream.len() % 2, 0);
    bytes.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    let limits = Limits {
        max_bytes: 1 << 24,
        max_side: 1024,
        max_slices: 64,
    };
    let _ = decode_file("fuzz.dcm", &bytes, &limits);
});
