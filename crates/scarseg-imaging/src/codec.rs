//! The compressed Pixel Data decoded here rather than by dicom-rs, whose codecs for it are C
//! (JPEG-LS, JPEG 2000) or stop at 8-bit grey (its JPEG adapter): which of the four codecs a file
//! needs ([`Codec::of`]), and what they share: each frame's stream out of the encapsulated pixel
//! data, and native samples put back in its place, so that dicom-pixeldata reads the rest
//! (rescale, frames, geometry) as any uncompressed image.

use std::borrow::Cow;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;

use crate::decode::{dicom_error, dicom_int};
use crate::error::ErrorKind;

/// A codec of this crate's, and so a file dicom-rs's adapters do not decode here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Grey JPEG-LS, lossless or near-lossless ([`crate::jpeg_ls`]).
    JpegLs,
    /// Grey 12-bit lossy JPEG ([`crate::jpeg12`]).
    Jpeg12,
    /// JPEG 2000, lossless or not, grey or colour ([`crate::jpeg2000`]).
    Jpeg2000,
    /// 8-bit colour JPEG whose header says RGB ([`crate::jpeg_rgb`]).
    JpegRgb,
}

impl Codec {
    /// The codec that decodes every file of transfer syntax `uid` (dicom-rs may decode none),
    /// if one does: told before the header is read.
    fn of_syntax(uid: &str) -> Option<Self> {
        if crate::jpeg_ls::is_jpeg_ls(uid) {
            Some(Self::JpegLs)
        } else if crate::jpeg2000::is_jpeg2000(uid) {
            Some(Self::Jpeg2000)
        } else {
            None
        }
    }

    /// Whether every file of transfer syntax `uid` is decoded here (dicom-rs may decode none).
    pub(crate) fn owns_syntax(uid: &str) -> bool {
        Self::of_syntax(uid).is_some()
    }

    /// The codec `obj`, of transfer syntax `uid` and `frames` frames, is decoded by here, if any.
    pub(crate) fn of(obj: &InMemDicomObject, uid: &str, frames: usize) -> Option<Self> {
        if let Some(codec) = Self::of_syntax(uid) {
            Some(codec)
        } else if crate::jpeg12::is_grey_12_bit(obj, uid, frames) {
            Some(Self::Jpeg12)
        } else if crate::jpeg_rgb::is_rgb_jpeg(obj, uid) {
            Some(Self::JpegRgb)
        } else {
            None
        }
    }

    /// Whether the codec checks each frame's header against the DICOM header itself; the others
    /// go through `decode::check_compressed_frames` first, as dicom-rs's do.
    pub(crate) fn checks_its_headers(self) -> bool {
        matches!(self, Self::JpegLs | Self::Jpeg12)
    }

    /// Decodes `obj`'s frames in place into native Pixel Data of the declared `rows` x `cols` x
    /// `frames` under Explicit VR Little Endian. Returns the most any value may differ from the
    /// scanner's by the codec's own bound: a near-lossless JPEG-LS file's NEAR, else 0.
    pub(crate) fn to_native(
        self,
        obj: &mut FileDicomObject<InMemDicomObject>,
        rows: u64,
        cols: u64,
        frames: u64,
    ) -> Result<u8, ErrorKind> {
        match self {
            Self::JpegLs => crate::jpeg_ls::to_native(obj, rows, cols, frames),
            Self::Jpeg12 => crate::jpeg12::to_native(obj, rows, cols, frames).map(|()| 0),
            Self::Jpeg2000 => crate::jpeg2000::to_native(obj, rows, cols, frames).map(|()| 0),
            Self::JpegRgb => crate::jpeg_rgb::to_native(obj, rows, cols, frames).map(|()| 0),
        }
    }
}

/// The bytes of each native sample `obj` declares (Bits Allocated 8 or 16, what the codecs
/// decoded here write back); another value is an error naming `codec`.
pub(crate) fn bytes_per_sample(obj: &InMemDicomObject, codec: &str) -> Result<usize, ErrorKind> {
    match dicom_int(obj, tags::BITS_ALLOCATED).unwrap_or(16) {
        8 => Ok(1),
        16 => Ok(2),
        other => Err(dicom_error(&format!(
            "{codec} with Bits Allocated (0028,0100) {other}: expected 8 or 16"
        ))),
    }
}

/// Puts `native` in as `obj`'s pixel data, uncompressed (explicit VR little endian), in place
/// of the frames decoded here.
pub(crate) fn put_native(obj: &mut FileDicomObject<InMemDicomObject>, vr: VR, native: Vec<u8>) {
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        vr,
        PrimitiveValue::from(native),
    ));
    obj.update_meta(|meta| meta.set_transfer_syntax(&EXPLICIT_VR_LITTLE_ENDIAN));
}

/// Each frame's `codec` stream in `obj`'s encapsulated pixel data (see [`frame_streams`]).
pub(crate) fn encapsulated_frames<'a>(
    obj: &'a InMemDicomObject,
    frames: usize,
    codec: &str,
) -> Result<Vec<Cow<'a, [u8]>>, ErrorKind> {
    let element = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| dicom_error("no Pixel Data (7FE0,0010)"))?;
    let fragments = element.value().fragments().ok_or_else(|| {
        dicom_error(&format!(
            "{codec} transfer syntax, but the Pixel Data is not encapsulated"
        ))
    })?;
    let offsets = element.value().offset_table().unwrap_or(&[]);
    frame_streams(fragments, offsets, frames, codec)
}

/// Each frame's stream (of `codec`, for the error): one fragment per frame (what writers do),
/// all fragments for a single frame, or the fragments between the Basic Offset Table's entries
/// (offsets count from the first fragment's item tag, 8 bytes of tag and length per item).
fn frame_streams<'a>(
    fragments: &'a [Vec<u8>],
    offsets: &[u32],
    frames: usize,
    codec: &str,
) -> Result<Vec<Cow<'a, [u8]>>, ErrorKind> {
    if fragments.len() == frames {
        return Ok(fragments
            .iter()
            .map(|f| Cow::Borrowed(f.as_slice()))
            .collect());
    }
    if frames == 1 {
        return Ok(vec![Cow::Owned(fragments.concat())]);
    }
    let unsplittable = || {
        dicom_error(&format!(
            "{} {codec} fragments for {frames} frames, and no offset table that splits them",
            fragments.len()
        ))
    };
    if offsets.len() != frames {
        return Err(unsplittable());
    }
    // Where each fragment's item starts, in the offset table's terms.
    let mut starts = Vec::with_capacity(fragments.len());
    let mut at = 0u64;
    for f in fragments {
        starts.push(at);
        at += f.len() as u64 + 8;
    }
    let first: Vec<usize> = offsets
        .iter()
        .map(|&o| starts.iter().position(|&s| s == u64::from(o)))
        .collect::<Option<_>>()
        .ok_or_else(unsplittable)?;
    if first.first() != Some(&0) || first.windows(2).any(|w| w[0] >= w[1]) {
        return Err(unsplittable());
    }
    Ok(first
        .iter()
        .enumerate()
        .map(|(k, &from)| {
            let to = first.get(k + 1).copied().unwrap_or(fragments.len());
            Cow::Owned(fragments[from..to].concat())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_by_the_offset_table() {
        let f = |n: usize, b: u8| vec![b; n];
        let one_each = [f(4, 1), f(6, 2)];
        let streams = frame_streams(&one_each, &[], 2, "JPEG-LS").expect("one per frame");
        assert_eq!(
            streams,
            vec![Cow::Borrowed(&[1u8; 4][..]), Cow::Borrowed(&[2; 6][..])]
        );
        // Three fragments, two frames: the second frame starts at the third item, after 4 + 8
        // and 2 + 8 bytes.
        let three = [f(4, 1), f(2, 1), f(6, 2)];
        let streams = frame_streams(&three, &[0, 22], 2, "JPEG-LS").expect("split");
        assert_eq!(streams[0].as_ref(), &[1u8; 6][..]);
        assert_eq!(streams[1].as_ref(), &[2u8; 6][..]);
        assert_eq!(
            frame_streams(&three, &[], 1, "JPEG-LS").expect("one frame")[0].len(),
            12
        );
        // An offset that is no item's start, or none: refused with the counts.
        assert!(frame_streams(&three, &[0, 20], 2, "JPEG-LS").is_err());
        let ErrorKind::Dicom(why) = frame_streams(&three, &[], 2, "JPEG-LS").expect_err("no table")
        else {
            panic!("not a DICOM error");
        };
        assert!(why.contains("3 JPEG-LS fragments for 2 frames"), "{why}");
    }
}
