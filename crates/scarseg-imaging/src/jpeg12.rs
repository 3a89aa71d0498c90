//! Grey 12-bit lossy JPEG frames (DICOM's JPEG Extended syntax `1.2.840.10008.1.2.4.51` with
//! 12-bit samples: ITU-T T.81 process 4, sequential DCT with Huffman coding), decoded here
//! because no pure-Rust JPEG decoder reads 12-bit lossy samples (jpeg-decoder and zune-jpeg stop
//! at 8; dicom-rs's JPEG adapter is jpeg-decoder), and some archives store MR so. One component
//! (MR is grey), one scan of all 64 coefficients, with restart intervals; what else T.81 allows
//! for these files (progressive or arithmetic-coded 12-bit, a height given after the scan) is
//! refused by name. Each frame then becomes native Pixel Data, as [`crate::jpeg_ls`] does.
//!
//! The inverse DCT is the exact one of T.81 A.3.3 in double precision, so values may differ by
//! one grey level from libjpeg's integer approximation (the readers check compares them).

use dicom_core::VR;
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, InMemDicomObject};

use crate::codec::{encapsulated_frames, put_native};
use crate::decode::{dicom_error, dicom_int};
use crate::error::ErrorKind;

/// Zig-zag order (T.81 figure A.6): the natural (row-major) index of the k-th coefficient.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Whether `obj` (of transfer syntax `uid`) is a grey JPEG Extended image whose first frame
/// holds 12-bit samples: what [`to_native`] decodes. Its 8-bit frames are jpeg-decoder's.
pub(crate) fn is_grey_12_bit(obj: &InMemDicomObject, uid: &str, frames: usize) -> bool {
    uid == uids::JPEG_EXTENDED12_BIT
        && dicom_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) == 1
        && encapsulated_frames(obj, frames, "JPEG")
            .ok()
            .and_then(|streams| streams.first().and_then(|s| precision(s)))
            == Some(12)
}

/// Decodes `obj`'s frames in place into native Pixel Data of the declared `rows` x `cols` x
/// `frames` (16 bits allocated) and sets its transfer syntax to Explicit VR Little Endian.
pub(crate) fn to_native(
    obj: &mut FileDicomObject<InMemDicomObject>,
    rows: u64,
    cols: u64,
    frames: u64,
) -> Result<(), ErrorKind> {
    let allocated = dicom_int(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    if allocated != 16 {
        return Err(dicom_error(&format!(
            "12-bit JPEG with Bits Allocated (0028,0100) {allocated}: expected 16"
        )));
    }
    let streams = encapsulated_frames(obj, frames as usize, "JPEG")?;
    let (rows, cols) = (rows as usize, cols as usize);
    let mut native = Vec::with_capacity(rows * cols * 2 * streams.len());
    for (k, stream) in streams.iter().enumerate() {
        let values = decode(stream, rows, cols)
            .map_err(|why| dicom_error(&format!("12-bit JPEG frame {}: {why}", k + 1)))?;
        native.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    put_native(obj, VR::OW, native);
    Ok(())
}

/// The sample precision of the first frame header in `stream`, if it has one.
fn precision(stream: &[u8]) -> Option<u8> {
    let mut at = 2;
    while let Some((marker, segment, next)) = segment_at(stream, at) {
        if is_frame_header(marker) {
            return segment.first().copied();
        }
        if marker == 0xDA {
            return None;
        }
        at = next;
    }
    None
}

fn is_frame_header(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// The marker at `at` (after any fill bytes), its segment's contents (after the length) and
/// where the next one starts; `None` at the end or where there is no marker.
fn segment_at(stream: &[u8], mut at: usize) -> Option<(u8, &[u8], usize)> {
    while stream.get(at) == Some(&0xFF) && stream.get(at + 1) == Some(&0xFF) {
        at += 1;
    }
    if *stream.get(at)? != 0xFF {
        return None;
    }
    let marker = *stream.get(at + 1)?;
    // Markers without a segment: SOI, EOI, RSTn, TEM.
    if matches!(marker, 0xD0..=0xD9 | 0x01) {
        return Some((marker, &[], at + 2));
    }
    let length = u16::from_be_bytes([*stream.get(at + 2)?, *stream.get(at + 3)?]) as usize;
    if length < 2 {
        return None;
    }
    let segment = stream.get(at + 4..at + 2 + length)?;
    Some((marker, segment, at + 2 + length))
}

/// A Huffman table by T.81 annex C and the decoding procedure of F.2.2.3.
#[derive(Clone, Default)]
struct Huffman {
    /// For each code length 1-16: the largest code (-1 for none), the first code, and where
    /// its values start.
    max_code: [i32; 17],
    min_code: [i32; 17],
    first_value: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8], values: &[u8]) -> Result<Self, String> {
        let mut table = Huffman {
            max_code: [-1; 17],
            values: values.to_vec(),
            ..Huffman::default()
        };
        let (mut code, mut k) = (0i32, 0usize);
        for length in 1..=16 {
            let n = counts[length - 1] as usize;
            if n > 0 {
                table.first_value[length] = k;
                table.min_code[length] = code;
                code += n as i32;
                k += n;
                table.max_code[length] = code - 1;
            }
            // Codes of this length must fit in it.
            if code > 1 << length {
                return Err("a Huffman table with more codes than its lengths hold".into());
            }
            code <<= 1;
        }
        Ok(table)
    }

    fn decode(&self, bits: &mut Bits) -> Result<u8, String> {
        let mut code = bits.bit()? as i32;
        for length in 1..=16 {
            if code <= self.max_code[length] {
                // Checked: a table whose codes do not follow the canonical order would
                // otherwise index out of its values.
                return usize::try_from(code - self.min_code[length])
                    .ok()
                    .and_then(|k| self.values.get(self.first_value[length] + k))
                    .copied()
                    .ok_or_else(|| "a Huffman code without a value".to_string());
            }
            code = (code << 1) | bits.bit()? as i32;
        }
        Err("a Huffman code that is in no table".into())
    }
}

/// The entropy-coded data of a scan, read bit by bit: a 0xFF byte is followed by a stuffed 0,
/// and any other marker ends the data.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    byte: u8,
    left: u8,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        if self.left == 0 {
            let byte = *self
                .data
                .get(self.at)
                .ok_or("the coded data ends before the image does")?;
            if byte == 0xFF {
                match self.data.get(self.at + 1) {
                    Some(0) => self.at += 1,
                    _ => return Err("the coded data ends before the image does".into()),
                }
            }
            self.at += 1;
            self.byte = byte;
            self.left = 8;
        }
        self.left -= 1;
        Ok(u32::from(self.byte >> self.left) & 1)
    }

    /// RECEIVE(s) and EXTEND (T.81 F.2.2.1): an `s`-bit difference, signed.
    fn value(&mut self, s: u8) -> Result<i32, String> {
        if s == 0 {
            return Ok(0);
        }
        if s > 16 {
            return Err(format!("a coefficient of {s} bits"));
        }
        let mut v = 0i32;
        for _ in 0..s {
            v = (v << 1) | self.bit()? as i32;
        }
        Ok(if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        })
    }

    /// At a restart interval's end: the rest of the byte is padding, then RSTn.
    fn restart(&mut self) -> Result<(), String> {
        self.left = 0;
        while self.data.get(self.at) == Some(&0xFF) && self.data.get(self.at + 1) == Some(&0xFF) {
            self.at += 1;
        }
        match self.data.get(self.at..self.at + 2) {
            Some([0xFF, 0xD0..=0xD7]) => {
                self.at += 2;
                Ok(())
            }
            _ => Err("a restart marker is missing".into()),
        }
    }
}

/// One frame's `rows` x `cols` samples, row by row.
fn decode(stream: &[u8], rows: usize, cols: usize) -> Result<Vec<u16>, String> {
    if stream.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("no JPEG start of image".into());
    }
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut frame: Option<(u8, usize)> = None; // component id, its quantisation table
    let mut interval = 0usize;
    let mut at = 2;
    loop {
        let (marker, segment, next) =
            segment_at(stream, at).ok_or("the stream ends before its scan")?;
        match marker {
            0xDB => read_quantisation(segment, &mut quant)?,
            0xC4 => read_huffman(segment, &mut dc, &mut ac)?,
            0xDD => {
                let s = segment.get(..2).ok_or("a short restart interval segment")?;
                interval = u16::from_be_bytes([s[0], s[1]]) as usize;
            }
            0xC1 => frame = Some(read_frame(segment, rows, cols)?),
            m if is_frame_header(m) => {
                return Err(format!(
                    "frame type {m:#04X}: only sequential Huffman-coded 12-bit JPEG is read"
                ));
            }
            0xDA => {
                let (id, table) = frame.ok_or("a scan before the frame header")?;
                let (dc_table, ac_table) = read_scan(segment, id)?;
                let q = quant[table].ok_or("no quantisation table for the component")?;
                let dc = dc[dc_table]
                    .as_ref()
                    .ok_or("no DC Huffman table for the scan")?;
                let ac = ac[ac_table]
                    .as_ref()
                    .ok_or("no AC Huffman table for the scan")?;
                let mut bits = Bits {
                    data: &stream[next..],
                    at: 0,
                    byte: 0,
                    left: 0,
                };
                return decode_scan(&mut bits, dc, ac, &q, interval, rows, cols);
            }
            0xD9 => return Err("the image ends before its scan".into()),
            _ => {} // APPn, COM and the like
        }
        at = next;
    }
}

fn read_quantisation(mut segment: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Result<(), String> {
    while let Some((&pq_tq, rest)) = segment.split_first() {
        let (precision, id) = (pq_tq >> 4, (pq_tq & 15) as usize);
        let width = if precision == 0 { 1 } else { 2 };
        let values = rest
            .get(..64 * width)
            .filter(|_| precision <= 1 && id < 4)
            .ok_or("a malformed quantisation table")?;
        let mut table = [0u16; 64];
        for (k, q) in table.iter_mut().enumerate() {
            *q = if width == 1 {
                u16::from(values[k])
            } else {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
            };
        }
        quant[id] = Some(table);
        segment = &rest[64 * width..];
    }
    Ok(())
}

fn read_huffman(
    mut segment: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), String> {
    while let Some((&tc_th, rest)) = segment.split_first() {
        let (class, id) = (tc_th >> 4, (tc_th & 15) as usize);
        let counts = rest
            .get(..16)
            .filter(|_| class <= 1 && id < 4)
            .ok_or("a malformed Huffman table")?;
        let total: usize = counts.iter().map(|&n| n as usize).sum();
        let values = rest
            .get(16..16 + total)
            .ok_or("a malformed Huffman table")?;
        let table = Some(Huffman::new(counts, values)?);
        if class == 0 {
            dc[id] = table;
        } else {
            ac[id] = table;
        }
        segment = &rest[16 + total..];
    }
    Ok(())
}

/// SOF1: precision 12, the declared size, one component; returns its id and table.
fn read_frame(segment: &[u8], rows: usize, cols: usize) -> Result<(u8, usize), String> {
    let s = segment.get(..9).ok_or("a short frame header")?;
    let precision = s[0];
    let height = u16::from_be_bytes([s[1], s[2]]) as usize;
    let width = u16::from_be_bytes([s[3], s[4]]) as usize;
    let components = s[5];
    if precision != 12 || components != 1 || (width, height) != (cols, rows) {
        return Err(format!(
            "a frame of {width} x {height} pixels, {components} component(s) of {precision} \
             bits, but the header declares {cols} x {rows} grey pixels of 12 bits"
        ));
    }
    let table = (s[8] & 15) as usize;
    if table > 3 {
        return Err(format!("quantisation table {table}"));
    }
    Ok((s[6], table))
}

/// SOS: the frame's one component; returns its DC and AC tables. The spectral selection and
/// successive approximation fields (0, 63, 0 and 0 in a sequential scan) are not read, as
/// libjpeg reads such a scan whatever they hold: a GE writer's Se of 0 (pydicom's
/// JPEG-lossy.dcm) would otherwise refuse an image every other reader shows.
fn read_scan(segment: &[u8], id: u8) -> Result<(usize, usize), String> {
    let s = segment.get(..6).ok_or("a short scan header")?;
    if s[0] != 1 || s[1] != id {
        return Err("a scan of another component than the frame's one".into());
    }
    let (dc, ac) = ((s[2] >> 4) as usize, (s[2] & 15) as usize);
    if dc > 3 || ac > 3 {
        return Err("a Huffman table number over 3".into());
    }
    Ok((dc, ac))
}

/// Every 8 x 8 block of the component, left to right and top to bottom (one block per MCU in a
/// scan of one component, T.81 A.2.2), into `rows` x `cols` samples.
fn decode_scan(
    bits: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    q: &[u16; 64],
    interval: usize,
    rows: usize,
    cols: usize,
) -> Result<Vec<u16>, String> {
    let cosines = cosine_table();
    let (across, down) = (cols.div_ceil(8), rows.div_ceil(8));
    let mut out = vec![0u16; rows * cols];
    let mut predictor = 0i64;
    for block in 0..across * down {
        if interval > 0 && block > 0 && block % interval == 0 {
            bits.restart()?;
            predictor = 0;
        }
        let mut coefficients = [0f64; 64];
        let size = dc.decode(bits)?;
        predictor += i64::from(bits.value(size)?);
        coefficients[0] = predictor as f64 * f64::from(q[0]);
        let mut k = 1;
        while k < 64 {
            let rs = ac.decode(bits)?;
            let (run, size) = ((rs >> 4) as usize, rs & 15);
            if size == 0 {
                if run != 15 {
                    break; // end of block
                }
                k += 16;
                continue;
            }
            k += run;
            if k > 63 {
                return Err("a block of more than 64 coefficients".into());
            }
            coefficients[ZIGZAG[k]] = f64::from(bits.value(size)?) * f64::from(q[k]);
            k += 1;
        }
        let samples = inverse_dct(&coefficients, &cosines);
        let (bx, by) = (block % across * 8, block / across * 8);
        for y in 0..8.min(rows - by) {
            for x in 0..8.min(cols - bx) {
                // Level shift by 2^(P-1), then the 12-bit range.
                let v = (samples[y * 8 + x] + 2048.0).round().clamp(0.0, 4095.0);
                out[(by + y) * cols + bx + x] = v as u16;
            }
        }
    }
    Ok(out)
}

/// C(u) cos((2x + 1) u pi / 16) / 2 at [x][u] (T.81 A.3.3).
fn cosine_table() -> [[f64; 8]; 8] {
    let mut table = [[0.0; 8]; 8];
    for (x, row) in table.iter_mut().enumerate() {
        for (u, c) in row.iter_mut().enumerate() {
            let scale = if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            };
            *c = scale * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos() / 2.0;
        }
    }
    table
}

/// The inverse DCT of one block (natural order), rows then columns.
fn inverse_dct(coefficients: &[f64; 64], cosines: &[[f64; 8]; 8]) -> [f64; 64] {
    let mut rows = [0.0; 64];
    for v in 0..8 {
        for x in 0..8 {
            rows[v * 8 + x] = (0..8)
                .map(|u| cosines[x][u] * coefficients[v * 8 + u])
                .sum();
        }
    }
    let mut out = [0.0; 64];
    for y in 0..8 {
        for x in 0..8 {
            out[y * 8 + x] = (0..8).map(|v| cosines[y][v] * rows[v * 8 + x]).sum();
        }
    }
    out
}
