//! JPEG-LS Pixel Data (DICOM's lossless `1.2.840.10008.1.2.4.80` and near-lossless `.81`
//! syntaxes), which dicom-rs decodes only through CharLS, C code that does not build for the
//! browser. Here `pure_jpegls` (pure Rust) decodes each frame, after header checks it leaves to
//! its caller, and the object's Pixel Data becomes native samples under Explicit VR Little
//! Endian, so that the rest of decoding (rescale, frames, geometry) reads it as any uncompressed
//! image.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};

use crate::codec::{bytes_per_sample, encapsulated_frames, put_native};
use crate::decode::{dicom_error, dicom_int};
use crate::error::ErrorKind;

const LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";

/// Whether `uid` is one of the JPEG-LS transfer syntaxes.
pub(crate) fn is_jpeg_ls(uid: &str) -> bool {
    uid == LOSSLESS || uid == NEAR_LOSSLESS
}

/// Decodes `obj`'s JPEG-LS frames in place into native Pixel Data of the declared `rows` x
/// `cols` x `frames` and sets its transfer syntax to Explicit VR Little Endian. Returns the
/// largest NEAR of its frames (0: lossless), the most any value may differ from the scanner's.
pub(crate) fn to_native(
    obj: &mut FileDicomObject<InMemDicomObject>,
    rows: u64,
    cols: u64,
    frames: u64,
) -> Result<u8, ErrorKind> {
    let samples = dicom_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if samples != 1 {
        return Err(dicom_error(&format!(
            "JPEG-LS with Samples per Pixel (0028,0002) {samples}: only grey (1) JPEG-LS is read; \
             convert the file to an uncompressed transfer syntax first"
        )));
    }
    let bytes_per_sample = bytes_per_sample(obj, "JPEG-LS")?;
    let allocated = 8 * bytes_per_sample as u8;
    let streams = encapsulated_frames(obj, frames as usize, "JPEG-LS")?;
    let (rows, cols) = (rows as usize, cols as usize);
    let mut native = Vec::with_capacity(rows * cols * streams.len() * bytes_per_sample);
    let mut near = 0;
    for (k, stream) in streams.iter().enumerate() {
        let frame_error = |why: &str| dicom_error(&format!("JPEG-LS frame {}: {why}", k + 1));
        let header = check_header(stream, rows, cols, allocated).map_err(|w| frame_error(&w))?;
        near = near.max(header);
        let (values, width, height) = jpegls::decode(stream, cols as u32, rows as u32)
            .map_err(|e| frame_error(&e.to_string()))?;
        if (width as usize, height as usize) != (cols, rows) || values.len() != rows * cols {
            return Err(frame_error(&format!(
                "{} values decoded for {cols} x {rows} pixels",
                values.len()
            )));
        }
        if bytes_per_sample == 1 {
            // The header's precision is at most 8 here (checked), so every value fits a byte.
            native.extend(values.iter().map(|&v| v as u8));
        } else {
            native.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
    }
    let vr = if bytes_per_sample == 1 {
        VR::OB
    } else {
        VR::OW
    };
    put_native(obj, vr, native);
    Ok(near)
}

/// Checks a JPEG-LS stream's frame (SOF55) and scan (SOS) headers against the DICOM header and
/// the bounds ITU-T T.87 sets, which pure_jpegls does not all check (segment lengths, the point
/// transform) and whose breach can overflow its sample arithmetic. Returns the scan's NEAR.
fn check_header(data: &[u8], rows: usize, cols: usize, allocated: u8) -> Result<u8, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("the stream does not start with an SOI marker (FF D8)".into());
    }
    let mut precision = None;
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return Err(format!("no marker at byte {at} of the header"));
        }
        let marker = data[at + 1];
        let length = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        let segment = data
            .get(at + 4..at + 2 + length.max(2))
            .ok_or_else(|| format!("marker FF {marker:02X} runs past the end of the stream"))?;
        match marker {
            // SOF55: precision, lines, columns, component count, 3 bytes per component.
            0xF7 => {
                if segment.len() < 6 || segment.len() != 6 + 3 * usize::from(segment[5]) {
                    return Err(format!("a frame header (SOF55) of {length} bytes"));
                }
                let p = segment[0];
                let height = usize::from(u16::from_be_bytes([segment[1], segment[2]]));
                let width = usize::from(u16::from_be_bytes([segment[3], segment[4]]));
                if segment[5] != 1 {
                    return Err(format!(
                        "{} components: only grey (one component) JPEG-LS is read",
                        segment[5]
                    ));
                }
                if (width, height) != (cols, rows) {
                    return Err(format!(
                        "an image of {width} x {height} pixels, but the header declares {cols} x \
                         {rows}"
                    ));
                }
                if !(2..=16).contains(&p) || p > allocated {
                    return Err(format!(
                        "{p}-bit samples with Bits Allocated {allocated} (expected 2 up to it)"
                    ));
                }
                precision = Some(p);
            }
            // SOS: component count, 2 bytes per component, NEAR, interleave, point transform.
            0xDA => {
                let Some(p) = precision else {
                    return Err("a scan (SOS) before the frame header (SOF55)".into());
                };
                if segment.len() != 6 || segment[0] != 1 {
                    return Err(format!("a scan header (SOS) of {length} bytes"));
                }
                let (near, interleave, point_transform) = (segment[3], segment[4], segment[5]);
                let most = ((1u32 << p) - 1) / 2;
                if u32::from(near) > most.min(255) {
                    return Err(format!("NEAR {near} above {most} for {p}-bit samples"));
                }
                if interleave != 0 {
                    return Err(format!("interleave mode {interleave} with one component"));
                }
                if point_transform != 0 {
                    return Err(format!("a point transform of {point_transform} (not read)"));
                }
                return Ok(near);
            }
            _ => {}
        }
        at += 2 + length.max(2);
    }
    Err(match precision {
        None => "no frame header (SOF55)".into(),
        Some(_) => "no scan header (SOS)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream's headers: SOI, SOF55 (precision, height, width, one component), SOS (NEAR,
    /// interleave, point transform), then one byte of scan data.
    fn headers(precision: u8, height: u16, width: u16, near: u8, ilv: u8, pt: u8) -> Vec<u8> {
        let mut s = vec![0xFF, 0xD8, 0xFF, 0xF7, 0, 11, precision];
        s.extend(height.to_be_bytes());
        s.extend(width.to_be_bytes());
        s.extend([1, 1, 0x11, 0]);
        s.extend([0xFF, 0xDA, 0, 8, 1, 1, 0, near, ilv, pt, 0x00]);
        s
    }

    #[test]
    fn the_header_checks_name_what_is_wrong() {
        assert_eq!(
            check_header(&headers(12, 16, 12, 0, 0, 0), 16, 12, 16),
            Ok(0)
        );
        assert_eq!(
            check_header(&headers(12, 16, 12, 3, 0, 0), 16, 12, 16),
            Ok(3)
        );
        let why = |s: &[u8]| check_header(s, 16, 12, 16).expect_err("refused");
        assert!(why(&headers(12, 16, 13, 0, 0, 0)).contains("13 x 16 pixels"));
        assert!(why(&headers(12, 16, 12, 0, 1, 0)).contains("interleave mode 1"));
        assert!(why(&headers(12, 16, 12, 0, 0, 2)).contains("point transform of 2"));
        // NEAR at most (2^P - 1) / 2: 1 for 2-bit samples.
        assert!(why(&headers(2, 16, 12, 2, 0, 0)).contains("NEAR 2 above 1"));
        assert!(
            check_header(&headers(12, 16, 12, 0, 0, 0), 16, 12, 8)
                .expect_err("12 bits in 8")
                .contains("12-bit samples with Bits Allocated 8")
        );
        assert!(why(&[0xFF, 0xD8, 0xFF, 0xF7, 0, 11, 12]).contains("runs past the end"));
        assert!(why(&[0xFF, 0xD9]).contains("SOI"));
        // An SOS segment a byte longer than one component's (its length field at byte 18).
        let mut long_sos = headers(12, 16, 12, 0, 0, 0);
        long_sos[18] = 9;
        long_sos.extend([0, 0]);
        assert!(why(&long_sos).contains("scan header (SOS) of 9 bytes"));
    }
}
