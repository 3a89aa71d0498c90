//! Colour JPEG frames whose DICOM header says RGB, decoded here rather than by dicom-rs.
//!
//! DICOM's Photometric Interpretation is to say what a JPEG stream's components hold (PS3.5
//! 8.2.1; RGB: no colour transform before compression), but writers disagree: GDCM 3.2 says RGB
//! of the YCbCr streams it writes, and DCMTK's img2dcm of an RGB stream without a marker.
//! jpeg-decoder, behind dicom-rs's JPEG adapter, decides from the stream alone and, where the
//! stream says nothing, takes three components for YCbCr: pydicom's
//! SC_jpeg_no_color_transform.dcm came out with its luma off by up to 77 grey levels. pydicom
//! goes by the header alone and gets GDCM's files wrong instead. Here the stream's own evidence
//! decides where it has any (an Adobe marker's transform, a JFIF marker, the component
//! identifiers libjpeg writes for RGB or YCbCr, subsampled chroma), and the header where it has
//! none.

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, InMemDicomObject};
use jpeg_decoder::{ColorTransform, PixelFormat};

use crate::codec::{encapsulated_frames, put_native};
use crate::decode::{dicom_error, dicom_int, dicom_text};
use crate::error::ErrorKind;

/// Whether `obj` (of transfer syntax `uid`) is an 8-bit colour JPEG whose header says RGB:
/// what [`to_native`] decodes.
pub(crate) fn is_rgb_jpeg(obj: &InMemDicomObject, uid: &str) -> bool {
    [uids::JPEG_BASELINE8_BIT, uids::JPEG_EXTENDED12_BIT].contains(&uid)
        && dicom_int(obj, tags::SAMPLES_PER_PIXEL) == Some(3)
        && dicom_int(obj, tags::BITS_ALLOCATED) == Some(8)
        && dicom_text(obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref() == Some("RGB")
}

/// Decodes every frame to interleaved RGB and puts it back as native pixel data (explicit VR
/// little endian), as [`crate::jpeg_ls::to_native`] does for JPEG-LS.
pub(crate) fn to_native(
    obj: &mut FileDicomObject<InMemDicomObject>,
    rows: u64,
    cols: u64,
    frames: u64,
) -> Result<(), ErrorKind> {
    let streams = encapsulated_frames(obj, frames as usize, "JPEG")?;
    let (rows, cols) = (rows as usize, cols as usize);
    let mut native = Vec::with_capacity(rows * cols * 3 * streams.len());
    for (k, stream) in streams.iter().enumerate() {
        let frame_error = |why: &str| dicom_error(&format!("JPEG frame {}: {why}", k + 1));
        let mut decoder = jpeg_decoder::Decoder::new(&stream[..]);
        decoder.set_color_transform(stream_colour(stream));
        // The size is checked before the decode allocates for it.
        decoder
            .read_info()
            .map_err(|e| frame_error(&e.to_string()))?;
        let info = decoder
            .info()
            .ok_or_else(|| frame_error("no frame header"))?;
        if (info.width as usize, info.height as usize) != (cols, rows)
            || info.pixel_format != PixelFormat::RGB24
        {
            return Err(frame_error(&format!(
                "a {} x {} image of {:?}, but the header declares {cols} x {rows} RGB pixels",
                info.width, info.height, info.pixel_format
            )));
        }
        let pixels = decoder.decode().map_err(|e| frame_error(&e.to_string()))?;
        if pixels.len() != rows * cols * 3 {
            return Err(frame_error(&format!(
                "{} bytes decoded for {cols} x {rows} RGB pixels",
                pixels.len()
            )));
        }
        native.extend_from_slice(&pixels);
    }
    obj.put(DataElement::new(
        tags::PLANAR_CONFIGURATION,
        VR::US,
        PrimitiveValue::from(0u16),
    ));
    put_native(obj, VR::OB, native);
    Ok(())
}

/// What a three-component stream holds by its own evidence, read from its markers before the
/// first scan; RGB, as the header says, where it has none.
fn stream_colour(stream: &[u8]) -> ColorTransform {
    let (mut adobe, mut jfif, mut components) = (None, false, Vec::new());
    let mut at = 2; // after SOI
    while at + 4 <= stream.len() && stream[at] == 0xFF {
        let marker = stream[at + 1];
        let length = u16::from_be_bytes([stream[at + 2], stream[at + 3]]) as usize;
        let Some(payload) = stream.get(at + 4..at + 2 + length) else {
            break;
        };
        match marker {
            // APP0 "JFIF": YCbCr by that format's definition.
            0xE0 => jfif |= payload.starts_with(b"JFIF\0"),
            // APP14 "Adobe", version, two flag words, then the transform (a short one, as in
            // pydicom's SC_rgb_jpeg.dcm, says nothing).
            0xEE if payload.len() >= 12 && payload.starts_with(b"Adobe") => {
                adobe = Some(payload[11]);
            }
            // A frame header: precision, height, width, count, then (identifier, sampling,
            // table) per component.
            0xC0..=0xC3 if payload.len() >= 6 => {
                components = payload[6..]
                    .chunks_exact(3)
                    .take(payload[5] as usize)
                    .map(|c| (c[0], c[1]))
                    .collect();
            }
            0xDA => break,
            _ => {}
        }
        at += 2 + length;
    }
    let identifiers: Vec<u8> = components.iter().map(|c| c.0).collect();
    let subsampled = components.windows(2).any(|w| w[0].1 != w[1].1);
    match adobe {
        Some(0) => ColorTransform::RGB,
        Some(_) => ColorTransform::YCbCr,
        None if jfif || subsampled || identifiers == [1, 2, 3] => ColorTransform::YCbCr,
        None => ColorTransform::RGB,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, the given marker segments (marker, payload), a frame header of three components
    /// (identifier, sampling), then SOS.
    fn stream(segments: &[(u8, &[u8])], components: [(u8, u8); 3]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        let mut frame = vec![8, 0, 16, 0, 16, 3];
        for (id, sampling) in components {
            frame.extend_from_slice(&[id, sampling, 0]);
        }
        for (marker, payload) in segments.iter().chain([&(0xC0, &frame[..])]) {
            out.extend_from_slice(&[0xFF, *marker]);
            out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
            out.extend_from_slice(payload);
        }
        out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
        out
    }

    #[test]
    fn a_streams_own_evidence_decides_its_colour_and_the_header_where_it_has_none() {
        let plain = [(0, 0x11), (1, 0x11), (2, 0x11)];
        let adobe = |transform: u8| [&b"Adobe\0\x64\0\0\0\0"[..], &[transform]].concat();
        let rgb = ColorTransform::RGB;
        let ycbcr = ColorTransform::YCbCr;
        let cases: [(&str, Vec<u8>, ColorTransform); 8] = [
            // DCMTK's img2dcm of an RGB tile (pydicom's SC_jpeg_no_color_transform.dcm).
            ("no evidence", stream(&[], plain), rgb),
            (
                "Adobe transform 0",
                stream(&[(0xEE, &adobe(0))], plain),
                rgb,
            ),
            (
                "Adobe transform 1",
                stream(&[(0xEE, &adobe(1))], plain),
                ycbcr,
            ),
            // pydicom's SC_rgb_jpeg.dcm: "Adobe" and five zeros.
            (
                "a short Adobe marker",
                stream(&[(0xEE, b"Adobe\0\0\0\0\0")], plain),
                rgb,
            ),
            ("JFIF", stream(&[(0xE0, b"JFIF\0\x01\x01")], plain), ycbcr),
            (
                "identifiers R G B",
                stream(&[], [(82, 0x11), (71, 0x11), (66, 0x11)]),
                rgb,
            ),
            // GDCM 3.2's YCbCr streams under an RGB header.
            (
                "identifiers 1 2 3",
                stream(&[], [(1, 0x22), (2, 0x11), (3, 0x11)]),
                ycbcr,
            ),
            (
                "subsampled chroma",
                stream(&[], [(0, 0x21), (1, 0x11), (2, 0x11)]),
                ycbcr,
            ),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(stream_colour(&bytes), want, "{what}");
        }
        // A marker after the first scan does not count.
        let late = [
            &stream(&[], plain)[..],
            &[0xFF, 0xEE, 0x00, 0x0E],
            &adobe(1),
        ]
        .concat();
        assert_eq!(stream_colour(&late), rgb);
    }
}
