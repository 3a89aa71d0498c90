//! JPEG 2000 Pixel Data (DICOM's `1.2.840.10008.1.2.4.90` lossless and `.91` lossy syntaxes),
//! decoded by `hayro-jpeg2000`, pure Rust, so that the browser reads it as the CLI does. dicom-rs
//! decodes it only through openjp2, a C translation that calls libc (no build for the browser)
//! and frees a null pointer at the end of every decode. Each frame becomes native Pixel Data, as
//! [`crate::jpeg_ls`] does, after [`crate::decode::check_compressed_frames`] has held the frame's
//! declared size to the header's.
//!
//! The decoder gives each component's samples as floats, level-shifted as for unsigned samples
//! and unclamped; what OpenJPEG (and so pydicom, GDCM, dicom-rs) gives is recovered here: each
//! sample rounded, clamped to its precision's range, and, for a component the codestream marks
//! signed, shifted back by half that range (`tests/other_readers_check.py` compares every JPEG
//! 2000 file of pydicom's with OpenJPEG's values).

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, InMemDicomObject};
use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};

use crate::codec::{bytes_per_sample, encapsulated_frames, put_native};
use crate::decode::{dicom_error, dicom_int, dicom_text};
use crate::error::ErrorKind;

/// Whether `uid` is one of the JPEG 2000 transfer syntaxes decoded here.
pub(crate) fn is_jpeg2000(uid: &str) -> bool {
    uid == uids::JPEG2000_LOSSLESS || uid == uids::JPEG2000
}

/// Decodes `obj`'s JPEG 2000 frames in place into native Pixel Data of the declared `rows` x
/// `cols` x `frames` (grey, or colour interleaved, then RGB: the codestream's component
/// transform is undone by the decoder) and sets its transfer syntax to Explicit VR Little Endian.
pub(crate) fn to_native(
    obj: &mut FileDicomObject<InMemDicomObject>,
    rows: u64,
    cols: u64,
    frames: u64,
) -> Result<(), ErrorKind> {
    let samples = dicom_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as usize;
    let bytes = bytes_per_sample(obj, "JPEG 2000")?;
    let streams = encapsulated_frames(obj, frames as usize, "JPEG 2000")?;
    let (rows, cols) = (rows as usize, cols as usize);
    let mut native = Vec::with_capacity(rows * cols * samples * bytes * streams.len());
    for (k, stream) in streams.iter().enumerate() {
        let values = decode_frame(stream, rows, cols, samples)
            .map_err(|why| dicom_error(&format!("JPEG 2000 frame {}: {why}", k + 1)))?;
        if bytes == 1 {
            // Two's complement where signed, as native 8-bit samples hold them.
            native.extend(values.iter().map(|&v| v as u8));
        } else {
            native.extend(values.iter().flat_map(|&v| (v as u16).to_le_bytes()));
        }
    }
    put_native(obj, if bytes == 1 { VR::OB } else { VR::OW }, native);
    if samples == 3 {
        // The decoder has undone the reversible or irreversible component transform that
        // YBR_RCT and YBR_ICT name, and the samples are interleaved.
        if matches!(
            dicom_text(obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref(),
            Some("YBR_RCT" | "YBR_ICT")
        ) {
            obj.put(DataElement::new(
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                PrimitiveValue::from("RGB"),
            ));
        }
        obj.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ));
    }
    Ok(())
}

/// One frame's samples, `samples` per pixel interleaved, row by row, as OpenJPEG gives them.
fn decode_frame(
    stream: &[u8],
    rows: usize,
    cols: usize,
    samples: usize,
) -> Result<Vec<i32>, String> {
    let image = Image::new(stream, &DecodeSettings::default()).map_err(|e| e.to_string())?;
    if (image.width() as usize, image.height() as usize) != (cols, rows) {
        return Err(format!(
            "an image of {} x {} pixels, but the header declares {cols} x {rows}",
            image.width(),
            image.height()
        ));
    }
    let signed = first_component_signed(stream);
    let mut context = DecoderContext::default();
    let decoded = image.decode(&mut context).map_err(|e| e.to_string())?;
    let components = decoded.components();
    if components.len() != samples {
        return Err(format!(
            "{} component(s), but the header declares {samples} sample(s) per pixel",
            components.len()
        ));
    }
    let pixels = rows * cols;
    if let Some(c) = components.iter().find(|c| c.samples().len() != pixels) {
        return Err(format!(
            "a component of {} samples for {pixels} pixels (subsampled components are not read)",
            c.samples().len()
        ));
    }
    let ranges: Vec<(f32, i32)> = components
        .iter()
        .map(|c| {
            let depth = u32::from(c.bit_depth().clamp(1, 16));
            let shift = if signed { 1 << (depth - 1) } else { 0 };
            (((1u32 << depth) - 1) as f32, shift)
        })
        .collect();
    let mut values = Vec::with_capacity(pixels * samples);
    for i in 0..pixels {
        for (c, &(max, shift)) in components.iter().zip(&ranges) {
            values.push(c.samples()[i].round().clamp(0.0, max) as i32 - shift);
        }
    }
    Ok(values)
}

/// Whether the codestream's first component is signed (the top bit of its Ssiz in SIZ, ISO
/// 15444-1 A.5.1: marker, Lsiz, Rsiz, eight 4-byte sizes, Csiz, then Ssiz), which the decoder
/// does not report.
fn first_component_signed(stream: &[u8]) -> bool {
    stream
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .and_then(|at| stream.get(at + 2 + 2 + 38))
        .is_some_and(|ssiz| ssiz & 0x80 != 0)
}
