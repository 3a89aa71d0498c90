//! An MR image whose Pixel Data is one encapsulated stream, around a fuzzer's bytes: what the
//! codec targets (decode_jpeg_ls, decode_jpeg12) feed the decoder.

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

/// A Part 10 file of transfer syntax `uid`: a grey MR image of `rows` x `cols`, `bits`
/// allocated and `stored` stored, whose Pixel Data is `stream` as its one fragment.
pub fn mr_image(stream: &[u8], uid: &str, rows: u16, cols: u16, bits: u16, stored: u16) -> Vec<u8> {
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
    short(&mut meta, 0x0002, 0x0010, b"UI", &text(uid, 0));
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
    bytes
}
