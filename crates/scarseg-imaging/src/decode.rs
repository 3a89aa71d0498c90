//! Decoding DICOM (dicom-rs), NIfTI-1 (`nifti`) and NIfTI-2, and PNG/JPEG (`image`) bytes into a
//! [`Stack`].
//!
//! Every input is hostile: sizes are checked against [`Limits`] before anything large is
//! allocated, compressed payloads are expanded under the same limit, and every failure is an
//! [`ImagingError`] that names the file. Nothing here panics on any byte sequence (see the fuzz
//! targets in `fuzz/`).

use std::io::{Cursor, Read};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::{FileDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{
    ConvertOptions, ModalityLutOption, PhotometricInterpretation, PixelDecoder,
    PixelRepresentation, PlanarConfiguration, Rescale,
};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::codec::Codec;
use crate::error::{ErrorKind, ImagingError};
use crate::seg::is_segmentation;
use crate::slice::{DicomSource, Limits, Slice, Stack, match_grids};

/// The formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// DICOM: Part 10 (the 128-byte preamble, "DICM" and the file meta group), "DICM" without
    /// the preamble, or a bare data set ([`bare_data_set`]).
    Dicom,
    /// NIfTI-1 or NIfTI-2 single file, possibly gzip-compressed.
    Nifti,
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
}

/// Which format the first bytes announce, if any.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if has_part10_magic(bytes) || bytes.starts_with(b"DICM") {
        Some(Format::Dicom)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(&[0x1F, 0x8B]) || is_nifti_header(bytes) {
        Some(Format::Nifti)
    } else if bare_data_set(bytes).is_some() {
        Some(Format::Dicom)
    } else {
        None
    }
}

/// File meta element (0002,`element`) of `vr` (UL, UI or OB here) holding `value`, as explicit VR
/// little endian writes it: OB with two reserved bytes and a 4-byte length, the others with a
/// 2-byte one.
fn meta_element(element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = vec![0x02, 0x00];
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    if vr == b"OB" {
        e.extend_from_slice(&[0, 0]);
        e.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        e.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    e.extend_from_slice(value);
    e
}

/// Whether `bytes` start as a Part 10 file does: a 128-byte preamble, then "DICM".
fn has_part10_magic(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM")
}

/// How a DICOM data set stored without a Part 10 header (no preamble, "DICM" or file meta group,
/// so no transfer syntax) is written, if `bytes` are one: as ACR-NEMA-era systems and some
/// archives and research exports store images, and as DCMTK, GDCM and pydicom (forced) read
/// them. Told as they tell it: the first element is of group 0008 (the identifying attributes
/// every image carries first, as groups 0000-0007 are never stored in a data set), little endian
/// (implicit VR, or explicit where its VR is one the standard knows) or big endian (explicit
/// VR); and so that another file is not taken for one, its first two elements must read in
/// that encoding, in ascending tag order, with lengths that fit the file. Such a data set is
/// necessarily uncompressed.
fn bare_data_set(bytes: &[u8]) -> Option<BodyEncoding> {
    let encoding = match bytes.get(..6)? {
        [0x00, 0x08, ..] => BodyEncoding::ExplicitBe,
        [0x08, 0x00, _, _, a, b] if dicom_core::VR::from_binary([*a, *b]).is_some() => {
            BodyEncoding::ExplicitLe
        }
        [0x08, 0x00, ..] => BodyEncoding::ImplicitLe,
        _ => return None,
    };
    let (mut at, mut last) = (0, Tag(0x0008, 0x0000));
    for _ in 0..2 {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break; // a data set of one element
        }
        let (header, read) = encoding.known_header(rest)?;
        if header.tag < last {
            return None;
        }
        // Undefined length (a sequence): nothing more to check cheaply.
        let Some(len) = header.len.get() else {
            break;
        };
        if len as usize > rest.len() - read {
            return None;
        }
        at += read + len as usize;
        last = header.tag;
    }
    Some(encoding)
}

/// `bytes` as a Part 10 file where they are DICOM without one: 128 zero bytes put before a
/// "DICM" that starts the file, or before a bare data set a preamble, "DICM" and a file meta
/// group that declares the transfer syntax it is written in ([`bare_data_set`]), with a warning
/// that says so. The SOP Class and Instance UIDs of that meta group are left empty: those of
/// the data set are read instead. `None` for anything else.
fn part10_added(bytes: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
    if has_part10_magic(bytes) {
        return None;
    }
    let mut file = vec![0u8; 128];
    if bytes.starts_with(b"DICM") {
        file.extend_from_slice(bytes);
        return Some((file, None));
    }
    let encoding = bare_data_set(bytes)?;
    let uid: &[u8] = match encoding {
        BodyEncoding::ImplicitLe => b"1.2.840.10008.1.2\0",
        BodyEncoding::ExplicitLe => b"1.2.840.10008.1.2.1\0",
        BodyEncoding::ExplicitBe => b"1.2.840.10008.1.2.2\0",
        BodyEncoding::DeflatedExplicitLe => return None,
    };
    let group = [
        meta_element(0x0001, b"OB", &[0, 1]),
        meta_element(0x0002, b"UI", &[]),
        meta_element(0x0003, b"UI", &[]),
        meta_element(0x0010, b"UI", uid),
    ]
    .concat();
    file.extend_from_slice(b"DICM");
    file.extend_from_slice(&meta_element(
        0x0000,
        b"UL",
        &(group.len() as u32).to_le_bytes(),
    ));
    file.extend_from_slice(&group);
    file.extend_from_slice(bytes);
    let warning = format!(
        "no DICOM Part 10 header (preamble, \"DICM\" and file meta group), so no transfer \
         syntax: read as a bare data set in {}, as it is written",
        encoding.name()
    );
    Some((file, Some(warning)))
}

/// Whether a file met while walking a folder is worth decoding: its first bytes (`head`, 132 or
/// more for DICOM, 512 for a tar archive) name a supported format or an archive
/// ([`crate::archive::archive_kind`]), or its name could be an image's: an image extension,
/// none, or only digits after the last dot (exports name DICOM files by number or UID). The rest
/// (a CD's viewer program, an autorun file, a document) is left out of a folder's inputs instead
/// of each being reported as an unreadable image; a file chosen by name is always decoded, so it
/// fails with its reason.
pub fn worth_decoding(name: &str, head: &[u8]) -> bool {
    sniff(head).is_some() || crate::archive::is_archive(head) || named_like_an_image(name)
}

/// The name half of [`worth_decoding`]: whether `name` (a path's last part counts) could be an
/// image's whatever its bytes, so that a broken one is still reported.
pub fn named_like_an_image(name: &str) -> bool {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return true;
    };
    let ext = ext.to_ascii_lowercase();
    ext.is_empty()
        || ext.bytes().all(|b| b.is_ascii_digit())
        || matches!(
            ext.as_str(),
            "dcm"
                | "dicom"
                | "dic"
                | "ima"
                | "nii"
                | "gz"
                | "png"
                | "jpg"
                | "jpeg"
                | "jpe"
                | "jfif"
        )
}

fn is_nifti_header(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && (bytes[..4] == 348i32.to_le_bytes() || bytes[..4] == 348i32.to_be_bytes())
        || is_nifti2_header(bytes)
}

/// NIfTI-2 (a 540-byte header with the magic "n+2").
fn is_nifti2_header(bytes: &[u8]) -> bool {
    bytes.len() >= 8
        && (bytes[..4] == 540i32.to_le_bytes() || bytes[..4] == 540i32.to_be_bytes())
        && &bytes[4..8] == b"n+2\0"
}

/// A NIfTI-2 header (the `nifti` crate reads NIfTI-1 only) as the NIfTI-1 header that says the
/// same, so that one decoder reads both: NIfTI-2 widens NIfTI-1's fields (64-bit dimensions
/// and offset, double-precision spacing, scaling and affine) and moves them, and means them
/// alike (the NIfTI-2 format description, nifti2.h). Dimensions beyond NIfTI-1's 16 bits (far
/// past the size limit) and an offset a 32-bit float does not hold exactly are refused.
fn nifti2_header(bytes: &[u8]) -> Result<nifti::NiftiHeader, ErrorKind> {
    let Some(h) = bytes.get(..540) else {
        return Err(ErrorKind::Truncated(format!(
            "{} bytes, shorter than the 540-byte NIfTI-2 header",
            bytes.len()
        )));
    };
    let big = h[..4] == 540i32.to_be_bytes();
    let word = |at: usize, n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&h[at..at + n]);
        if big {
            b[..n].reverse();
        }
        b
    };
    let i16_at = |at| i16::from_le_bytes(word(at, 2)[..2].try_into().unwrap_or_default());
    let i32_at = |at| i32::from_le_bytes(word(at, 4)[..4].try_into().unwrap_or_default());
    let i64_at = |at| i64::from_le_bytes(word(at, 8));
    let f64_at = |at| f64::from_le_bytes(word(at, 8));
    let f32_at = |at| f64_at(at) as f32;
    let f32s = |at: usize| [0, 1, 2, 3].map(|k| f32_at(at + 8 * k));
    let mut dim = [0u16; 8];
    for (k, d) in dim.iter_mut().enumerate() {
        let v = i64_at(16 + 8 * k);
        *d = u16::try_from(v).map_err(|_| {
            ErrorKind::Nifti(format!(
                "NIfTI-2 dim[{k}] = {v}: out of the range read here"
            ))
        })?;
    }
    let vox_offset = i64_at(168);
    if vox_offset as f32 as i64 != vox_offset {
        return Err(ErrorKind::Nifti(format!(
            "NIfTI-2 vox_offset = {vox_offset}: out of the range read here"
        )));
    }
    let narrow = |v: i32| i16::try_from(v).unwrap_or(i16::MAX);
    Ok(nifti::NiftiHeader {
        sizeof_hdr: 540,
        datatype: i16_at(12),
        bitpix: i16_at(14),
        dim,
        intent_p1: f32_at(80),
        intent_p2: f32_at(88),
        intent_p3: f32_at(96),
        pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map(|k| f32_at(104 + 8 * k)),
        vox_offset: vox_offset as f32,
        scl_slope: f32_at(176),
        scl_inter: f32_at(184),
        cal_max: f32_at(192),
        cal_min: f32_at(200),
        slice_duration: f32_at(208),
        toffset: f32_at(216),
        descrip: h[240..320].to_vec(),
        qform_code: narrow(i32_at(344)),
        sform_code: narrow(i32_at(348)),
        quatern_b: f32_at(352),
        quatern_c: f32_at(360),
        quatern_d: f32_at(368),
        quatern_x: f32_at(376),
        quatern_y: f32_at(384),
        quatern_z: f32_at(392),
        srow_x: f32s(400),
        srow_y: f32s(432),
        srow_z: f32s(464),
        intent_code: narrow(i32_at(504)),
        dim_info: h[524],
        endianness: if big {
            nifti::Endianness::Big
        } else {
            nifti::Endianness::Little
        },
        ..nifti::NiftiHeader::default()
    })
}

/// Decodes one file of any supported format that holds one stack, as training and pairing need:
/// a file of several (an enhanced DICOM's magnitude and real images, a 4-D NIfTI's volumes;
/// see [`decode_file_stacks`]) is refused, naming them.
pub fn decode_file(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ImagingError> {
    let mut stacks = decode_file_stacks(name, bytes, limits)?;
    if stacks.len() > 1 {
        return Err(ImagingError::new(name, several_stacks(&stacks)));
    }
    Ok(stacks.remove(0))
}

/// Decodes one file of any supported format into its stacks: one, unless the file holds
/// slices of several acquisitions ([`Slice::acquisition`]), each of which is then a stack of its
/// own, named after the file with the part's label ("IM1 (image type REAL)").
pub fn decode_file_stacks(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Stack>, ImagingError> {
    let stack = decode_one(name, bytes, limits)?;
    let dicom = sniff(bytes) == Some(Format::Dicom);
    let mut groups: Vec<Vec<Slice>> = Vec::new();
    for slice in stack.slices {
        match groups.iter_mut().find(|g| same_stack(&g[0], &slice)) {
            Some(g) => g.push(slice),
            None => groups.push(vec![slice]),
        }
    }
    groups.sort_by(|a, b| acquisition_order(&a[0], &b[0]));
    let labels = part_labels(&groups.iter().map(|g| &g[0]).collect::<Vec<_>>());
    Ok(groups
        .into_iter()
        .zip(labels)
        .map(|(slices, part)| {
            let mut warnings = stack.warnings.clone();
            if dicom {
                warnings.extend(geometry_warnings(&slices));
            }
            Stack {
                name: part_name(name, part.as_deref()),
                part,
                slices,
                warnings,
            }
        })
        .collect())
}

/// The order stacks are listed in: by their acquisitions' values, numbers as numbers ("time 2"
/// before "time 10", series 7 before series 12), else in the order they were met (the sort is
/// stable).
fn acquisition_order(a: &Slice, b: &Slice) -> std::cmp::Ordering {
    // A value's leading number (as in "7 LGE PSIR"), then the whole value.
    let key = |v: &str| {
        let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
        (digits.parse::<u64>().ok(), v.to_string())
    };
    for ((wa, va), (wb, vb)) in a.acquisition.iter().zip(&b.acquisition) {
        let order = wa.cmp(wb).then_with(|| key(va).cmp(&key(vb)));
        if order.is_ne() {
            return order;
        }
    }
    a.acquisition.len().cmp(&b.acquisition.len())
}

/// Whether two slices belong to one stack: same series, same acquisition.
fn same_stack(a: &Slice, b: &Slice) -> bool {
    a.series_uid == b.series_uid && a.acquisition == b.acquisition
}

/// "NAME (PART)", or NAME for a whole file or folder: how one of several stacks is named,
/// here and wherever a stack's input is named with its part.
pub fn part_name(name: &str, part: Option<&str>) -> String {
    match part {
        Some(part) => format!("{name} ({part})"),
        None => name.to_string(),
    }
}

/// One label per stack, from the first slice of each: the (what, value) pairs that differ
/// between them ("image type REAL"), or the series UID where nothing else does. `None` for
/// every stack when there is only one.
fn part_labels(firsts: &[&Slice]) -> Vec<Option<String>> {
    if firsts.len() < 2 {
        return vec![None; firsts.len()];
    }
    let mut whats: Vec<&str> = Vec::new();
    for s in firsts {
        for (what, _) in &s.acquisition {
            if !whats.contains(&what.as_str()) {
                whats.push(what);
            }
        }
    }
    let value = |s: &Slice, what: &str| {
        s.acquisition
            .iter()
            .find(|(w, _)| w == what)
            .map(|(_, v)| v.clone())
    };
    // Only what tells the stacks apart: "time 3", not "stack 1, time 3" when all are stack 1.
    whats.retain(|what| {
        firsts
            .iter()
            .any(|s| value(s, what) != value(firsts[0], what))
    });
    let labels: Vec<String> = firsts
        .iter()
        .map(|s| {
            whats
                .iter()
                .map(|what| format!("{what} {}", value(s, what).unwrap_or_else(|| "-".into())))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    // Stacks of one acquisition in two series described alike differ only by their UIDs.
    let uid = |s: &Slice| format!("series {}", s.series_uid.as_deref().unwrap_or("-"));
    labels
        .iter()
        .zip(firsts)
        .map(|(label, s)| {
            Some(match labels.iter().filter(|l| *l == label).count() {
                1 => label.clone(),
                _ if label.is_empty() => uid(s),
                _ => format!("{label}, {}", uid(s)),
            })
        })
        .collect()
}

/// Why one stack was needed and several were found.
fn several_stacks(stacks: &[Stack]) -> ErrorKind {
    let labels: Vec<&str> = stacks.iter().filter_map(|s| s.part.as_deref()).collect();
    ErrorKind::SeveralStacks {
        count: stacks.len(),
        labels: labels.join("; "),
    }
}

/// The Patient ID (0010,0020) of a DICOM file, where it has a non-empty one: what groups a flat
/// folder's single-slice files by patient when no folder does. Read up to the pixel data, after
/// the same length checks as decoding; `None` for anything else.
pub fn dicom_patient_id(bytes: &[u8], limits: &Limits) -> Option<String> {
    let header = dicom_header(bytes, limits)?;
    dicom_text(&header, tags::PATIENT_ID).filter(|s| !s.is_empty())
}

/// A DICOM file's data set up to its pixel data, after the same length checks as decoding;
/// `None` for anything else.
fn dicom_header(bytes: &[u8], limits: &Limits) -> Option<FileDicomObject<InMemDicomObject>> {
    if sniff(bytes) != Some(Format::Dicom) {
        return None;
    }
    open_dicom(bytes, limits, true)
        .ok()
        .map(|(header, _)| header)
}

/// A label map (EMIDEC's 0-4, a mask) in any supported format: as [`decode_file`], except that
/// a file of one value is a label map like any other (a slice beyond the heart is all
/// background), where an image of one value is refused as blank.
pub fn decode_label_file(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ImagingError> {
    let stack = decode_bytes(name, bytes, limits)?;
    check_finite(&stack).map_err(|kind| ImagingError::new(name, kind))?;
    Ok(stack)
}

/// A label file's maps (EMIDEC's values 0-4) for the slices of `image` (named `image_name` in
/// messages), in the image's order: counts and sizes must agree, and labels that carry geometry
/// must lie on the image's grid, paired by position ([`match_grids`]). The training pairs and the
/// page's "load labels" read labels through this one check. Errors name the label file.
pub fn labels_for(
    image: &[Slice],
    image_name: &str,
    name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Vec<u8>>, String> {
    if let Some(seg) = as_segmentation(bytes, limits) {
        return crate::seg::labels_from_seg(image, image_name, name, &seg, limits);
    }
    let stack = decode_label_file(name, bytes, limits).map_err(|e| e.to_string())?;
    let mut maps = stack
        .slices
        .iter()
        .map(|s| {
            s.pixels
                .iter()
                .map(|v| {
                    let l = v.round();
                    if (v - l).abs() > 1e-3 || !(0.0..=4.0).contains(&l) {
                        return Err(format!(
                            "{name}: label value {v} is not one of 0, 1, 2, 3, 4"
                        ));
                    }
                    Ok(l as u8)
                })
                .collect::<Result<Vec<u8>, String>>()
        })
        .collect::<Result<Vec<_>, String>>()?;
    if stack.slices.len() != image.len() {
        return Err(format!(
            "{name}: {} label slices for {} image slices in {image_name}",
            stack.slices.len(),
            image.len()
        ));
    }
    for (a, l) in image.iter().zip(&stack.slices) {
        if (l.rows, l.cols) != (a.rows, a.cols) {
            return Err(format!(
                "{name}: labels are {} x {} but the image is {} x {}",
                l.rows, l.cols, a.rows, a.cols
            ));
        }
    }
    // Labels that are the right size but lie elsewhere (another tool's export flipped the
    // volume, or the wrong case's file) would be taken for truth without a sign; labels stored
    // in the other slice order are paired by position.
    let order = match_grids(image, &stack.slices)
        .map_err(|why| format!("{name}: not on the pixel grid of {image_name}: {why}"))?;
    // `order` is a permutation: each label map is taken once.
    Ok(order
        .into_iter()
        .map(|j| std::mem::take(&mut maps[j]))
        .collect())
}

/// `bytes` as a DICOM Segmentation object, if they are one (after the same length checks as
/// decoding); anything else, a broken file included, is left to the image decoder to name.
fn as_segmentation(bytes: &[u8], limits: &Limits) -> Option<FileDicomObject<InMemDicomObject>> {
    // The header tells; an image label file is then decoded once, by the image decoder.
    if !is_dicom_segmentation(bytes, limits) {
        return None;
    }
    open_dicom(bytes, limits, false).ok().map(|(obj, _)| obj)
}

/// Whether `bytes` are a DICOM Segmentation, told from its header (read to the pixel data,
/// after the same length checks as decoding): labels to lay over a series, not a slice of it.
/// The page keeps one dropped with its series to offer it as that series' labels.
pub fn is_dicom_segmentation(bytes: &[u8], limits: &Limits) -> bool {
    if bytes.len() as u64 > limits.max_bytes {
        return false;
    }
    dicom_header(bytes, limits).is_some_and(|header| {
        let class = dicom_str(&header, tags::SOP_CLASS_UID)
            .unwrap_or_else(|| header.meta().media_storage_sop_class_uid().to_string());
        is_segmentation(class.trim_end_matches('\0'))
    })
}

/// One file, without the checks that concern a whole stack (which a series makes once).
fn decode_one(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ImagingError> {
    let mut stack = decode_bytes(name, bytes, limits)?;
    fill_not_a_number(&mut stack);
    check_pixels(&stack).map_err(|kind| ImagingError::new(name, kind))?;
    Ok(stack)
}

/// NaN pixels of an image set to its lowest value, with a warning, where the image has no
/// infinite values and some real ones: a volume resampled or registered into another's space
/// (nilearn, ANTs, SPM write float NIfTI) holds NaN outside its field of view, which is no
/// signal, as dark as the background. Set so, it is segmented as background and leaves the
/// intensity range as it was. Infinite values (an overflow, a broken writer) and an image of
/// NaN alone are left for [`check_finite`] to refuse; label maps never come here.
fn fill_not_a_number(stack: &mut Stack) {
    let values = || stack.slices.iter().flat_map(|s| s.pixels.iter());
    if values().any(|v| v.is_infinite()) {
        return;
    }
    let count = values().filter(|v| v.is_nan()).count();
    let Some(lowest) = values().copied().filter(|v| !v.is_nan()).reduce(f32::min) else {
        return;
    };
    if count == 0 {
        return;
    }
    for slice in &mut stack.slices {
        slice
            .pixels
            .iter_mut()
            .filter(|v| v.is_nan())
            .for_each(|v| *v = lowest);
    }
    stack.warnings.push(format!(
        "{count} pixels are NaN (no value, as outside a resampled volume's field of view): set \
         to the image's lowest value, {lowest}, so that they read as background"
    ));
}

/// One file's slices, pixel values unchecked.
fn decode_bytes(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ImagingError> {
    let err = |kind| ImagingError::new(name, kind);
    if bytes.is_empty() {
        return Err(err(ErrorKind::Empty));
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(err(ErrorKind::TooLarge {
            bytes: bytes.len() as u64,
            limit: limits.max_bytes,
        }));
    }
    match sniff(bytes) {
        Some(Format::Dicom) => decode_dicom(name, bytes, limits),
        Some(Format::Nifti) => decode_nifti(name, bytes, limits),
        Some(Format::Png | Format::Jpeg) => decode_raster(name, bytes, limits),
        None => Err(ErrorKind::UnknownFormat),
    }
    .map_err(err)
}

/// Why `other` cannot join the stack that starts with `first` (same series and acquisition).
fn size_mismatch(first: &Slice, other: &Slice) -> Option<String> {
    ((other.rows, other.cols) != (first.rows, first.cols)).then(|| {
        format!(
            "{} x {} pixels, but the stack's first file has {} x {}",
            other.rows, other.cols, first.rows, first.cols
        )
    })
}

/// One stack being gathered from a folder's files.
struct Gathered<'a> {
    slices: Vec<Slice>,
    /// The files that gave it slices.
    files: Vec<&'a String>,
    /// Each warning once, with the files that gave it: a series without PixelSpacing would
    /// otherwise repeat the same line for every one of its files.
    said: Vec<(String, Vec<&'a String>)>,
}

/// Decodes the files of one DICOM series (or any files meant as one stack) as one stack, as
/// training and pairing need: the slices are ordered by slice location, then instance number
/// (position along the slice normal where a file has no SliceLocation). Files that fail are
/// returned beside the stack, never silently dropped, and so are the files of any other series
/// or acquisition in the folder (see [`decode_series_stacks`], which reads each); the stack is
/// `None` when no file decoded. DICOM objects that hold no image (a DICOMDIR, a report) are named
/// in the stack's warnings instead, as long as some file held an image.
pub fn decode_series(
    name: &str,
    files: &[(String, Vec<u8>)],
    limits: &Limits,
) -> (Option<Stack>, Vec<ImagingError>) {
    let (mut gathered, mut errors, left_out) = gather(files, limits);
    if gathered.is_empty() {
        errors.extend(left_out);
        return (None, errors);
    }
    let first = gathered.remove(0);
    let (a, a_label) = (&first.slices[0], acquisition_label(&first.slices[0]));
    for other in &gathered {
        let b = &other.slices[0];
        let why = match (&a.series_uid, &b.series_uid) {
            (Some(x), Some(y)) if x != y => format!(
                "another series ({y}) than the folder's first file ({x}); give each series its \
                 own folder"
            ),
            _ => format!(
                "slices of another acquisition ({}) than the folder's first stack ({a_label}): \
                 one stack is needed here; give each its own folder (`scarseg predict` and the \
                 page read each on its own)",
                acquisition_label(b)
            ),
        };
        for file in &other.files {
            // A file with slices of both stays one error.
            if !errors.iter().any(|e| &e.file == *file) {
                errors.push(ImagingError::new(
                    file.as_str(),
                    ErrorKind::Series(why.clone()),
                ));
            }
        }
    }
    let stack = finish(name, None, first, &left_out);
    (Some(stack), errors)
}

/// Decodes the files of one folder into its stacks: one per series and acquisition
/// ([`Slice::acquisition`]; an export may put a PSIR acquisition's magnitude and real images,
/// or a whole study, in one folder), each ordered as [`decode_series`] orders one and named
/// after the folder, with the part's label where there are several. Files that fail come back
/// beside the stacks; DICOM objects without an image are named in every stack's warnings.
pub fn decode_series_stacks(
    name: &str,
    files: &[(String, Vec<u8>)],
    limits: &Limits,
) -> (Vec<Stack>, Vec<ImagingError>) {
    let (mut gathered, mut errors, left_out) = gather(files, limits);
    if gathered.is_empty() {
        errors.extend(left_out);
        return (vec![], errors);
    }
    gathered.sort_by(|a, b| acquisition_order(&a.slices[0], &b.slices[0]));
    let labels = part_labels(&gathered.iter().map(|g| &g.slices[0]).collect::<Vec<_>>());
    let stacks = gathered
        .into_iter()
        .zip(labels)
        .map(|(g, part)| finish(name, part, g, &left_out))
        .collect();
    (stacks, errors)
}

/// Decodes `files` and puts their slices into stacks by series and acquisition, in the order
/// they first appear; also returns the files that failed and the objects that hold no image.
fn gather<'a>(
    files: &'a [(String, Vec<u8>)],
    limits: &Limits,
) -> (Vec<Gathered<'a>>, Vec<ImagingError>, Vec<ImagingError>) {
    let mut errors = Vec::new();
    let mut gathered: Vec<Gathered> = Vec::new();
    let mut total = 0u64;
    let mut left_out = Vec::new();
    for (file, bytes) in files {
        let stack = match decode_one(file, bytes, limits) {
            Ok(stack) => stack,
            Err(e) if matches!(e.kind, ErrorKind::NotAnImage(_)) => {
                left_out.push(e);
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let count = total + stack.slices.len() as u64;
        if count > limits.max_slices {
            errors.push(ImagingError::new(
                file.as_str(),
                ErrorKind::TooManySlices {
                    count,
                    limit: limits.max_slices,
                },
            ));
            continue;
        }
        let mismatch = stack.slices.iter().find_map(|s| {
            let g = gathered.iter().find(|g| same_stack(&g.slices[0], s))?;
            size_mismatch(&g.slices[0], s)
        });
        if let Some(why) = mismatch {
            errors.push(ImagingError::new(file.as_str(), ErrorKind::Series(why)));
            continue;
        }
        total = count;
        let mut touched = Vec::new();
        for slice in stack.slices {
            let k = match gathered
                .iter()
                .position(|g| same_stack(&g.slices[0], &slice))
            {
                Some(k) => k,
                None => {
                    gathered.push(Gathered {
                        slices: Vec::new(),
                        files: Vec::new(),
                        said: Vec::new(),
                    });
                    gathered.len() - 1
                }
            };
            gathered[k].slices.push(slice);
            if !touched.contains(&k) {
                touched.push(k);
            }
        }
        for k in touched {
            let g = &mut gathered[k];
            g.files.push(file);
            for w in &stack.warnings {
                match g.said.iter_mut().find(|(text, _)| text == w) {
                    Some((_, files)) => files.push(file),
                    None => g.said.push((w.clone(), vec![file])),
                }
            }
        }
    }
    (gathered, errors, left_out)
}

/// A gathered stack, sorted, with its warnings.
fn finish(name: &str, part: Option<String>, g: Gathered, left_out: &[ImagingError]) -> Stack {
    let mut warnings: Vec<String> = g
        .said
        .into_iter()
        .map(|(w, files)| match files.len() {
            1 => format!("{}: {w}", files[0]),
            2 => format!("{} and 1 other file: {w}", files[0]),
            n => format!("{} and {} other files: {w}", files[0], n - 1),
        })
        .collect();
    // A DICOMDIR or a report beside the images is expected in an export, not a failure.
    warnings.extend(left_out.iter().map(|e| format!("{e}; left out")));
    let mut slices = g.slices;
    sort_slices(&mut slices);
    warnings.extend(geometry_warnings(&slices));
    Stack {
        name: part_name(name, part.as_deref()),
        part,
        slices,
        warnings,
    }
}

/// A slice's acquisition in words, for messages: "image type REAL, time 2", or "no stack,
/// time or image type given".
fn acquisition_label(s: &Slice) -> String {
    if s.acquisition.is_empty() {
        return "no stack, time or image type given".into();
    }
    s.acquisition
        .iter()
        .map(|(what, value)| format!("{what} {value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a DICOM stack's geometry says about its volumes, which are sums over its slices: slices
/// of more than one orientation (short- and long-axis views, or a localiser, in one series) or
/// at one position (a repeated acquisition, or files without ImagePositionPatient) make that
/// sum mean something else, so the user is told.
fn geometry_warnings(slices: &[Slice]) -> Vec<String> {
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    // Distinct planes up to the normal's sign; 0.999 is about 2.6 degrees, far below the angle
    // between any two cardiac views and far above rounding in the direction cosines.
    let mut normals: Vec<[f64; 3]> = Vec::new();
    for n in slices.iter().map(Slice::normal) {
        if !normals.iter().any(|m| dot(*m, n).abs() > 0.999) {
            normals.push(n);
        }
    }
    if normals.len() > 1 {
        // Positions along different normals cannot be compared, so this is the one warning.
        return vec![format!(
            "slices in {} orientations (short- and long-axis views in one series?): the \
             stack's volumes and burden mix them; give each view its own folder",
            normals.len()
        )];
    }
    let mut along: Vec<f64> = slices.iter().map(Slice::position_along_normal).collect();
    along.sort_by(f64::total_cmp);
    // 0.01 mm: well below any slice spacing, well above rounding in a DS value.
    let mut counts: Vec<usize> = Vec::new();
    for (k, w) in along.iter().enumerate() {
        match counts.last_mut() {
            Some(n) if w - along[k - 1] < 0.01 => *n += 1,
            _ => counts.push(1),
        }
    }
    let repeats = slices.len() - counts.len();
    if repeats == 0 {
        return vec![];
    }
    let n = counts[0];
    // The same number at every position is how a cine (its phases), a TI scout (its inversion
    // times) or a whole stack acquired twice lies; naming it tells the user what they dropped.
    let text = if counts.len() == 1 {
        format!(
            "all {n} slices lie at one position (a TI scout or a cine of one slice, or no \
             ImagePositionPatient): the stack's volumes count that position {n} times"
        )
    } else if counts.iter().all(|c| *c == n) {
        format!(
            "each of the stack's {} positions holds {n} slices (a cine's phases, a TI scout, or \
             a stack acquired {n} times): its volumes count every position {n} times",
            counts.len()
        )
    } else {
        format!(
            "{repeats} of {} slices repeat another slice's position (a repeated acquisition, or \
             no ImagePositionPatient): the stack's volumes count that position more than once",
            slices.len()
        )
    };
    vec![text]
}

/// Orders slices by slice location when every slice has one (else by position along the
/// normal), then instance number. One key for all: a series where only some files carry
/// SliceLocation would otherwise compare locations with positions, two different scales.
pub fn sort_slices(slices: &mut [Slice]) {
    let locations = slices.iter().all(|s| s.slice_location_mm.is_some());
    slices.sort_by(|a, b| {
        let key = |s: &Slice| match s.slice_location_mm {
            Some(location) if locations => location,
            _ => s.position_along_normal(),
        };
        key(a)
            .total_cmp(&key(b))
            .then(a.instance_number.cmp(&b.instance_number))
    });
}

fn check_pixels(stack: &Stack) -> Result<(), ErrorKind> {
    check_finite(stack)?;
    let first = stack.slices.first().and_then(|s| s.pixels.first()).copied();
    if let Some(value) = first
        && stack
            .slices
            .iter()
            .all(|s| s.pixels.iter().all(|v| *v == value))
    {
        return Err(ErrorKind::ConstantImage { value });
    }
    Ok(())
}

fn check_finite(stack: &Stack) -> Result<(), ErrorKind> {
    let non_finite = stack
        .slices
        .iter()
        .flat_map(|s| s.pixels.iter())
        .filter(|v| !v.is_finite())
        .count();
    if non_finite > 0 {
        return Err(ErrorKind::NonFinitePixels { count: non_finite });
    }
    Ok(())
}

fn check_dims(rows: u64, cols: u64, slices: u64, limits: &Limits) -> Result<(), ErrorKind> {
    if rows == 0 || cols == 0 || rows > limits.max_side || cols > limits.max_side {
        return Err(ErrorKind::BadDimensions {
            rows,
            cols,
            limit: limits.max_side,
        });
    }
    if slices == 0 || slices > limits.max_slices {
        return Err(ErrorKind::TooManySlices {
            count: slices,
            limit: limits.max_slices,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- DICOM

pub(crate) fn dicom_floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_multi_float64().ok())
        .filter(|v| v.iter().all(|x| x.is_finite()))
}

pub(crate) fn dicom_int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<i64>().ok())
}

fn dicom_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// [`dicom_str`] without the NUL that pads UIDs to an even length (and any space before it).
pub(crate) fn dicom_text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    dicom_str(obj, tag).map(|s| s.trim_end_matches('\0').trim().to_string())
}

/// How a DICOM data set's elements are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEncoding {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
    DeflatedExplicitLe,
}

impl BodyEncoding {
    /// The encoding transfer syntax `uid` declares: every syntax but these three, the
    /// compressed ones included, has an explicit VR little-endian data set.
    fn declared(uid: &str) -> Self {
        use dicom_dictionary_std::uids;
        match uid {
            uids::IMPLICIT_VR_LITTLE_ENDIAN => Self::ImplicitLe,
            // Retired in the standard, so the dictionary marks it deprecated; archives keep it.
            "1.2.840.10008.1.2.2" => Self::ExplicitBe,
            uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN => Self::DeflatedExplicitLe,
            _ => Self::ExplicitLe,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::ImplicitLe => "implicit VR little endian",
            Self::ExplicitLe => "explicit VR little endian",
            Self::ExplicitBe => "explicit VR big endian",
            Self::DeflatedExplicitLe => "deflated explicit VR little endian",
        }
    }

    /// The first element header of `body` read in this encoding, and its size in bytes.
    fn first_header(self, body: &[u8]) -> Option<(dicom_core::DataElementHeader, usize)> {
        use dicom_encoding::decode::Decode;
        use dicom_encoding::decode::explicit_be::ExplicitVRBigEndianDecoder;
        use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
        use dicom_encoding::decode::implicit_le::ImplicitVRLittleEndianDecoder;
        let mut cursor = Cursor::new(body);
        match self {
            Self::ImplicitLe => ImplicitVRLittleEndianDecoder::default().decode_header(&mut cursor),
            Self::ExplicitLe => ExplicitVRLittleEndianDecoder::default().decode_header(&mut cursor),
            Self::ExplicitBe => ExplicitVRBigEndianDecoder::default().decode_header(&mut cursor),
            Self::DeflatedExplicitLe => return None,
        }
        .ok()
    }

    /// [`Self::first_header`] where, read in an explicit VR encoding, the element's VR is one
    /// the standard knows: dicom-rs reads an unknown VR as UN, so an implicit VR element (a
    /// group length (gggg,0000) first, as older writers put it) would otherwise read as an
    /// explicit one with a length that fits.
    fn known_header(self, body: &[u8]) -> Option<(dicom_core::DataElementHeader, usize)> {
        let explicit = matches!(self, Self::ExplicitLe | Self::ExplicitBe);
        let vr = body.get(4..6)?;
        if explicit && dicom_core::VR::from_binary([vr[0], vr[1]]).is_none() {
            return None;
        }
        self.first_header(body)
    }
}

/// The encoding a data set is really written in, where its meta group declares the other of
/// implicit and explicit VR little endian: some writers do that, and pydicom reads such files
/// with a warning. Told from the first element, as pydicom tells it: read as declared it would
/// hold more bytes than the file has left or (explicit) have no VR the standard knows, and read
/// the other way it fits (with a VR the standard knows, when that way is explicit). A file that
/// reads as declared is never re-read.
fn misdeclared_encoding(body: &[u8], declared: BodyEncoding) -> Option<BodyEncoding> {
    let other = match declared {
        BodyEncoding::ImplicitLe => BodyEncoding::ExplicitLe,
        BodyEncoding::ExplicitLe => BodyEncoding::ImplicitLe,
        BodyEncoding::ExplicitBe | BodyEncoding::DeflatedExplicitLe => return None,
    };
    let room = |(header, read): (dicom_core::DataElementHeader, usize)| {
        header
            .len
            .get()
            .map(|len| len as usize <= body.len() - read)
    };
    // Undefined length (a sequence first) fits any file: read as declared.
    let fits_declared = declared
        .known_header(body)
        .is_some_and(|h| room(h) != Some(false));
    let fits_other = other
        .known_header(body)
        .is_some_and(|h| room(h) == Some(true));
    (!fits_declared && fits_other).then_some(other)
}

/// A DICOM file read by dicom-rs (to its end, or with `until_pixel_data` up to its pixel data)
/// after [`check_dicom_body_lengths`], with warnings: when its data set is not encoded as its
/// meta group declares ([`misdeclared_encoding`]), such a data set is read as it is written,
/// and its pixel data still decoded by the declared transfer syntax; one without a Part 10
/// header is given one first ([`part10_added`]).
///
/// The meta group is walked first with dicom-rs's own header decoder (explicit VR little
/// endian, right after "DICM") to check that no element declares more bytes than the file
/// holds: dicom-rs reserves and zero-fills a declared length before reading it, so a forged
/// 4 GB length would otherwise be allocated first (found by fuzzing). Like dicom-rs, the walk
/// goes on until the declared group length is used up.
fn open_dicom(
    bytes: &[u8],
    limits: &Limits,
    until_pixel_data: bool,
) -> Result<(FileDicomObject<InMemDicomObject>, Vec<String>), ErrorKind> {
    let with_part10 = part10_added(bytes);
    let bytes = with_part10.as_ref().map_or(bytes, |(file, _)| &file[..]);
    let mut warnings: Vec<String> = with_part10.iter().filter_map(|(_, w)| w.clone()).collect();
    let mut options = OpenFileOptions::new().read_preamble(ReadPreamble::Always);
    if until_pixel_data {
        options = options.read_until(tags::PIXEL_DATA);
    }
    let as_declared = |options: OpenFileOptions<_, _>, bytes: &[u8]| {
        options
            .from_reader(Cursor::new(bytes))
            .map_err(|e| dicom_error(&error_chain(&e)))
    };
    let with_group_length = meta_group_length_added(bytes);
    let bytes = with_group_length.as_deref().unwrap_or(bytes);
    // Without a walkable meta group dicom-rs says what is wrong with it.
    let Some((start, uid)) = walk_dicom_meta(bytes)? else {
        return Ok((as_declared(options, bytes)?, warnings));
    };
    let body = &bytes[start..];
    let declared = BodyEncoding::declared(&uid);
    let actual = misdeclared_encoding(body, declared);
    let un_sequences = check_dicom_body_lengths(body, actual.unwrap_or(declared), limits)?;
    let (nested, top): (Vec<_>, Vec<_>) = un_sequences.into_iter().partition(|u| u.nested);
    // One inside a sequence's item gets the length of its value, delimiter included: the same
    // 12-byte header, so the lengths of the sequences and items around it still hold, and
    // dicom-rs keeps its value as bytes, which `read_un_as_known` reads as the sequence it is
    // where the dictionary knows its tag (a private one stays bytes, which nothing here reads).
    let patched = if nested.is_empty() {
        None
    } else {
        let mut copy = bytes.to_vec();
        for u in &nested {
            let length = u32::try_from(u.range.len() - 12)
                .map_err(|_| dicom_error("a sequence in VR UN of undefined length over 4 GB"))?;
            let at = start + u.range.start + 8;
            copy[at..at + 4].copy_from_slice(&length.to_le_bytes());
        }
        Some(copy)
    };
    let (bytes, body) = match &patched {
        Some(copy) => (&copy[..], &copy[start..]),
        None => (bytes, body),
    };
    // dicom-rs reads the file without its top-level sequences in VR UN, which are read apart
    // below.
    let spliced: Vec<u8>;
    let (read_bytes, read_body) = if top.is_empty() {
        (bytes, body)
    } else {
        let mut kept = bytes[..start].to_vec();
        let mut from = 0;
        for u in &top {
            kept.extend_from_slice(&body[from..u.range.start]);
            from = u.range.end;
        }
        kept.extend_from_slice(&body[from..]);
        spliced = kept;
        (&spliced[..], &spliced[start..])
    };
    let mut obj = match actual {
        None => as_declared(options, read_bytes)?,
        Some(actual) => {
            let meta = dicom_object::FileMetaTable::from_reader(Cursor::new(&read_bytes[128..]))
                .map_err(|e| dicom_error(&error_chain(&e)))?;
            let ts = match actual {
                BodyEncoding::ImplicitLe => {
                    dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN
                }
                _ => dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN,
            };
            let obj = InMemDicomObject::read_dataset_with_ts(Cursor::new(read_body), &ts.erased())
                .map_err(|e| dicom_error(&error_chain(&e)))?
                .with_exact_meta(meta);
            warnings.push(format!(
                "the file meta group's transfer syntax ({uid}) means a data set in {}, but this \
                 one is written in {} (a fault of the program that wrote it); read as written",
                declared.name(),
                actual.name()
            ));
            obj
        }
    };
    for u in top {
        obj.put(un_sequence(&body[u.range])?);
    }
    read_un_as_known(&mut obj, 16);
    default_high_bit(&mut obj);
    Ok((obj, warnings))
}

/// High Bit is Bits Stored - 1 in every image MR scanners write and in every segmentation;
/// dicom-pixeldata refuses to decode pixel data without it (pydicom reads such a file, and
/// DCMTK, taking Bits Stored - 1 as here). Set where the file is read, so that images and
/// segmentations, uncompressed or not, are read alike.
fn default_high_bit(obj: &mut InMemDicomObject) {
    if obj.element_opt(tags::HIGH_BIT).ok().flatten().is_none()
        && let Some(stored) = dicom_int(obj, tags::BITS_STORED).filter(|b| (1..=16).contains(b))
    {
        obj.put(dicom_core::DataElement::new(
            tags::HIGH_BIT,
            dicom_core::VR::US,
            dicom_core::PrimitiveValue::from(stored as u16 - 1),
        ));
    }
}

/// Elements of VR UN whose tag the standard dictionary knows, in `obj` and its sequences'
/// items (`depth` levels down at most), read again as that VR, as pydicom does. A writer without
/// a dictionary (an anonymiser, an archive) may write every element as UN, whose value is then
/// the bytes implicit VR little endian would hold (PS3.5 6.2.2); dicom-rs keeps them as bytes,
/// and numbers read from bytes are the bytes' values: a Rescale Slope of "1 " became 49 and the
/// image 49 times too bright (pydicom-data's explicit_VR-UN.dcm, a TCIA CT image). A value that
/// does not read is left as it is; one read again is implicit VR throughout, so not walked into.
fn read_un_as_known(obj: &mut InMemDicomObject, depth: usize) {
    use dicom_core::dictionary::DataDictionary;
    use dicom_dictionary_std::StandardDataDictionary;
    let known: Vec<Tag> = obj.tags().collect();
    for tag in known {
        let Some(element) = obj.get(tag) else {
            continue;
        };
        match element.vr() {
            dicom_core::VR::UN
                if tag != tags::PIXEL_DATA && StandardDataDictionary.by_tag(tag).is_some() =>
            {
                let Ok(value) = element.value().to_bytes() else {
                    continue;
                };
                let Ok(length) = u32::try_from(value.len()) else {
                    continue;
                };
                if let Some(read) = read_implicit_element(tag, Some(length), &value)
                    && read.vr() != dicom_core::VR::UN
                {
                    obj.put(read);
                }
            }
            // Real data sets nest a few levels; a forged one is not followed down every level.
            dicom_core::VR::SQ if depth > 0 => {
                obj.update_value(tag, |value| {
                    for item in value.items_mut().into_iter().flatten() {
                        read_un_as_known(item, depth - 1);
                    }
                });
            }
            _ => {}
        }
    }
}

/// Element `tag` of `length` (`None`: undefined) with `value` as implicit VR little endian
/// encodes it, read with the same length checks as a file's data set; `None` if it does not
/// read.
fn read_implicit_element(
    tag: Tag,
    length: Option<u32>,
    value: &[u8],
) -> Option<dicom_object::mem::InMemElement> {
    use dicom_encoding::decode::implicit_le::ImplicitVRLittleEndianDecoder;
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&tag.group().to_le_bytes());
    bytes.extend_from_slice(&tag.element().to_le_bytes());
    bytes.extend_from_slice(&length.unwrap_or(u32::MAX).to_le_bytes());
    bytes.extend_from_slice(value);
    walk_body(&ImplicitVRLittleEndianDecoder::default(), &bytes, false).ok()?;
    let ts = dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
    InMemDicomObject::read_dataset_with_ts(Cursor::new(bytes), &ts.erased())
        .ok()?
        .into_iter()
        .next()
}

/// `bytes` with the file meta group's length (0002,0000) put in front of the group where the
/// writer left it out: PS3.10 requires it and dicom-rs refuses a group without it, but pydicom
/// reads one. `None` where the group has it, or where it cannot be walked (dicom-rs then says
/// what is wrong).
fn meta_group_length_added(bytes: &[u8]) -> Option<Vec<u8>> {
    use dicom_encoding::decode::Decode;
    let decoder = dicom_encoding::decode::file_header_decoder();
    let meta = bytes.get(132..)?;
    let mut at = 0;
    while let Ok((header, read)) = decoder.decode_header(&mut Cursor::new(&meta[at..])) {
        if header.tag.group() != 0x0002 {
            break;
        }
        if header.tag == Tag(0x0002, 0x0000) {
            return None;
        }
        let len = header.len.get()? as usize;
        if len > meta.len() - at - read {
            return None;
        }
        at += read + len;
    }
    if at == 0 {
        return None;
    }
    let mut added = bytes[..132].to_vec();
    let length = u32::try_from(at).ok()?.to_le_bytes();
    added.extend_from_slice(&meta_element(0x0000, b"UL", &length));
    added.extend_from_slice(meta);
    Some(added)
}

/// An element of VR UN and undefined length (explicit VR header: tag, "UN", 2 reserved bytes,
/// FFFFFFFF; then implicit VR items and a sequence delimitation item) read as the sequence it
/// is: its tag, an undefined length and its items, read in implicit VR, where dicom-rs takes
/// an element of undefined length for a sequence.
fn un_sequence(element: &[u8]) -> Result<dicom_object::mem::InMemElement, ErrorKind> {
    let tag = Tag(
        u16::from_le_bytes([element[0], element[1]]),
        u16::from_le_bytes([element[2], element[3]]),
    );
    read_implicit_element(tag, None, &element[12..]).ok_or_else(|| {
        dicom_error(&format!(
            "element {tag} in VR UN of undefined length does not read as a sequence of implicit \
             VR items"
        ))
    })
}

/// Checks that no element of the data set after the meta group declares more bytes than remain
/// (found by fuzzing: a body element declaring 3.9 GB made dicom-rs reserve it). Items of
/// sequences are walked into; fragments of encapsulated pixel data are skipped. dicom-rs
/// reserves the lengths it inflates as well (found by fuzzing: a deflated body declaring 4 GB),
/// so a deflated body is inflated here, within the size limit, and walked.
///
/// Returns an explicit VR little-endian data set's sequences in VR UN ([`UnSequence`]).
fn check_dicom_body_lengths(
    body: &[u8],
    encoding: BodyEncoding,
    limits: &Limits,
) -> Result<Vec<UnSequence>, ErrorKind> {
    use dicom_encoding::decode::explicit_be::ExplicitVRBigEndianDecoder;
    use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
    use dicom_encoding::decode::implicit_le::ImplicitVRLittleEndianDecoder;
    match encoding {
        BodyEncoding::ImplicitLe => {
            walk_body(&ImplicitVRLittleEndianDecoder::default(), body, false)
        }
        BodyEncoding::ExplicitBe => walk_body(&ExplicitVRBigEndianDecoder::default(), body, false),
        BodyEncoding::DeflatedExplicitLe => {
            // As dicom-rs inflates (raw deflate). A corrupt stream gives what inflated before
            // the damage: dicom-rs reads that much too, then reports the error itself.
            let (inflated, _) =
                read_limited(flate2::read::DeflateDecoder::new(body), limits.max_bytes)?;
            walk_body(&ExplicitVRLittleEndianDecoder::default(), &inflated, false)
        }
        BodyEncoding::ExplicitLe => {
            walk_body(&ExplicitVRLittleEndianDecoder::default(), body, true)
        }
    }
}

/// Reads `reader` to its end or its first error without ever holding more than `limit` bytes;
/// more is a `TooLarge` error. Returns what was read and how the read ended.
fn read_limited(
    reader: impl Read,
    limit: u64,
) -> Result<(Vec<u8>, std::io::Result<usize>), ErrorKind> {
    let mut out = Vec::new();
    let ended = reader.take(limit + 1).read_to_end(&mut out);
    if out.len() as u64 > limit {
        return Err(ErrorKind::TooLarge {
            bytes: out.len() as u64,
            limit,
        });
    }
    Ok((out, ended))
}

/// An element of VR UN and undefined length in an explicit VR little-endian data set: a sequence
/// whose items are implicit VR little endian (PS3.5 6.2.2), as an archive writes a sequence it
/// has no dictionary entry for. dicom-rs reads those items as explicit VR, so [`open_dicom`]
/// reads them apart.
struct UnSequence {
    /// The element's bytes in the data set, header included.
    range: std::ops::Range<usize>,
    /// Whether it lies inside another sequence's item.
    nested: bool,
}

/// What the body walk is inside of.
#[derive(Clone, Copy, PartialEq)]
enum Container {
    /// A sequence's items.
    Sequence,
    /// An item's data set.
    Item,
    /// Encapsulated pixel data's fragments.
    Fragments,
}

/// Walks a data set (see [`check_dicom_body_lengths`]). In an explicit VR data set
/// (`explicit`), returns its elements of VR UN and undefined length ([`UnSequence`]).
fn walk_body(
    decoder: &impl dicom_encoding::decode::Decode,
    body: &[u8],
    explicit: bool,
) -> Result<Vec<UnSequence>, ErrorKind> {
    let mut un_sequences = Vec::new();
    walk_data_set(decoder, body, Vec::new(), explicit, &mut un_sequences)?;
    Ok(un_sequences)
}

/// Walks `body` from its start inside the containers `open` (none: a whole data set) and
/// returns where it stopped: the end of `body`, or where the last of `open` closed.
fn walk_data_set(
    decoder: &impl dicom_encoding::decode::Decode,
    body: &[u8],
    mut open: Vec<(Container, Option<usize>)>,
    explicit: bool,
    un_sequences: &mut Vec<UnSequence>,
) -> Result<usize, ErrorKind> {
    use dicom_encoding::decode::implicit_le::ImplicitVRLittleEndianDecoder;
    let inside_one = !open.is_empty();
    let mut at = 0usize;
    while at < body.len() {
        while open
            .last()
            .is_some_and(|(_, end)| end.is_some_and(|e| at >= e))
        {
            open.pop();
        }
        let mut cursor = Cursor::new(&body[at..]);
        let Ok((header, read)) = decoder.decode_header(&mut cursor) else {
            return Ok(at); // dicom-rs reports malformed headers itself
        };

        let tag = header.tag;
        let element_start = at;
        at += read;
        let inside = open.last().map(|(c, _)| *c);
        let item = tag.group() == 0xFFFE;
        if let Some(len) = header.len.get()
            && len as usize > body.len() - at
        {
            return Err(ErrorKind::Truncated(format!(
                "{} {tag} declares {len} bytes, {} remain",
                if item { "item" } else { "element" },
                body.len() - at
            )));
        }
        if item {
            match tag.element() {
                0xE000 => {
                    // dicom-parser reads an item outside a sequence or pixel data as a fragment
                    // and goes on reading 8-byte item headers, out of step with the data set
                    // (found by fuzzing: a "length" of 4 GB then reserved). The standard has no
                    // such item: refuse it.
                    if !matches!(inside, Some(Container::Sequence | Container::Fragments)) {
                        return Err(ErrorKind::Dicom(format!(
                            "item {tag} outside a sequence or encapsulated pixel data"
                        )));
                    }
                    let len = header.len.get().map(|l| l as usize);
                    match (inside, len) {
                        // A fragment: skipped.
                        (Some(Container::Fragments), Some(len)) => at += len,
                        (Some(Container::Fragments), None) => {
                            return Err(ErrorKind::Dicom(format!(
                                "pixel data fragment {tag} of undefined length"
                            )));
                        }
                        // An item of a sequence holds a data set: walked into.
                        (_, len) => open.push((Container::Item, len.map(|l| at + l))),
                    }
                }
                // A delimitation item has length 0 (PS3.5 7.5); dicom-parser may read a declared
                // length as a value, out of step with the data set after it (found by fuzzing:
                // 1.6 GB reserved for a 3.5 KB file).
                0xE00D | 0xE0DD if header.len.get() != Some(0) => {
                    return Err(ErrorKind::Dicom(format!(
                        "delimitation item {tag} declares {} bytes (the standard says 0)",
                        header
                            .len
                            .get()
                            .map_or("undefined".to_string(), |l| l.to_string())
                    )));
                }
                0xE00D if inside == Some(Container::Item) => {
                    open.pop();
                }
                0xE0DD if matches!(inside, Some(Container::Sequence | Container::Fragments)) => {
                    open.pop();
                    if inside_one && open.is_empty() {
                        return Ok(at);
                    }
                }
                0xE00D | 0xE0DD => {}
                // dicom-parser reads any other (FFFE,xxxx) as a value of its declared length
                // (found by fuzzing: 4 GB reserved); the standard has only the three above.
                _ => {
                    return Err(ErrorKind::Dicom(format!(
                        "{tag} is not an item or delimitation tag"
                    )));
                }
            }
            continue;
        }
        match header.len.get() {
            // Encapsulated pixel data declared UN stays pixel data, as dicom-rs reads it.
            None if explicit && header.vr == dicom_core::VR::UN && tag != tags::PIXEL_DATA => {
                // Its items are implicit VR: walked as such to find its end.
                let length = walk_data_set(
                    &ImplicitVRLittleEndianDecoder::default(),
                    &body[at..],
                    vec![(Container::Sequence, None)],
                    false,
                    un_sequences,
                )?;
                if !body[at..at + length].ends_with(&SEQUENCE_DELIMITATION) {
                    return Err(ErrorKind::Truncated(format!(
                        "element {tag} (VR UN, undefined length) has no sequence delimitation \
                         item"
                    )));
                }
                at += length;
                un_sequences.push(UnSequence {
                    range: element_start..at,
                    nested: !open.is_empty(),
                });
            }
            None => {
                // Undefined length: encapsulated pixel data or a sequence, walked into. Pixel
                // Data declared SQ is a sequence to dicom-parser, whose items it reads as data
                // sets (found by fuzzing: RLE fragments read as headers, 3.1 GB reserved).
                let kind = if tag == Tag(0x7FE0, 0x0010) && header.vr != dicom_core::VR::SQ {
                    Container::Fragments
                } else {
                    Container::Sequence
                };
                open.push((kind, None));
            }
            Some(len) => {
                let len = len as usize;
                // dicom-parser reads len / size values of a binary VR and leaves the rest of
                // the value in the stream, where it is then taken for the next header (found by
                // fuzzing: an FD of 2 bytes made the next "length" 4 GB). The standard allows
                // only whole values, so refuse the element here.
                let unit = binary_value_size(header.vr);
                if !len.is_multiple_of(unit) {
                    return Err(ErrorKind::Dicom(format!(
                        "element {tag} ({}) has {len} bytes, not a whole number of {unit}-byte \
                         values",
                        header.vr.to_string()
                    )));
                }
                if header.vr == dicom_core::VR::SQ {
                    open.push((Container::Sequence, Some(at + len)));
                } else {
                    at += len;
                }
            }
        }
    }
    Ok(at)
}

/// (FFFE,E0DD) with length 0, little endian: the end of a sequence of undefined length.
const SEQUENCE_DELIMITATION: [u8; 8] = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0];

/// Bytes per value of a binary VR (1 for the byte and text VRs).
fn binary_value_size(vr: dicom_core::VR) -> usize {
    use dicom_core::VR::*;
    match vr {
        US | OW | SS => 2,
        AT | FL | OF | OL | UL | SL => 4,
        FD | OD | OV | UV | SV => 8,
        _ => 1,
    }
}

/// Walks the meta group; returns where the body starts and the transfer syntax UID.
///
/// It stops exactly where dicom-object's `FileMetaTable::from_reader` stops: that reader needs
/// (0002,0000) first, then takes elements of any group until the declared group length is
/// used up. The body's start therefore comes from the count, never from decoding the body's
/// first header as explicit VR (which fails on an implicit VR body and once hid a forged 4 GB
/// body length from the walk; found by fuzzing).
fn walk_dicom_meta(bytes: &[u8]) -> Result<Option<(usize, String)>, ErrorKind> {
    use dicom_encoding::decode::Decode;
    let decoder = dicom_encoding::decode::file_header_decoder();
    let meta = &bytes[132..];
    let mut cursor = Cursor::new(meta);
    let Ok((header, read)) = decoder.decode_header(&mut cursor) else {
        return Ok(None); // dicom-rs reports malformed headers itself
    };
    if header.tag != Tag(0x0002, 0x0000) || header.len.get() != Some(4) || meta.len() < read + 4 {
        return Ok(None); // dicom-rs refuses a meta group without its length first
    }
    let v = &meta[read..read + 4];
    let group_length = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize;
    let first = read + 4;
    let mut at = first;
    let mut uid = String::new();
    while at - first < group_length {
        let mut cursor = Cursor::new(&meta[at.min(meta.len())..]);
        let Ok((header, read)) = decoder.decode_header(&mut cursor) else {
            return Ok(None); // dicom-rs reports malformed headers itself
        };
        let tag = header.tag;
        let Some(len) = header.len.get() else {
            return Err(ErrorKind::Dicom(format!(
                "undefined length in the file meta element {tag}"
            )));
        };
        let len = len as usize;
        if at + read + len > meta.len() {
            return Err(ErrorKind::Truncated(format!(
                "file meta element {tag} declares {len} bytes, {} remain",
                meta.len() - (at + read).min(meta.len())
            )));
        }
        if tag == Tag(0x0002, 0x0010) {
            // Trimmed as dicom-object trims it (any whitespace or NUL): a UID padded with a tab
            // once chose another body decoder here than dicom-rs's, and the walk missed a
            // forged 4 GB length (found by fuzzing).
            uid = String::from_utf8_lossy(&meta[at + read..at + read + len])
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string();
        }
        at += read + len;
    }
    Ok(Some((132 + at, uid)))
}

/// How a DICOM image's colour samples lie in its decoded pixel data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    /// One sample per pixel.
    Grey,
    /// R G B (or Y Cb Cr when `ybr`) per pixel.
    Interleaved { ybr: bool },
    /// A plane per channel (Planar Configuration 1).
    Planes { ybr: bool },
    /// YBR_FULL_422 as stored: Y1 Y2 Cb Cr for each two pixels of a row.
    Ybr422,
}

fn decode_dicom(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ErrorKind> {
    let (mut obj, read_warnings) = open_dicom(bytes, limits, false)?;

    let uid = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    // JPEG-LS and JPEG 2000 are decoded here (codec.rs), not by dicom-rs, whose codecs for them
    // are C.
    let ts = TransferSyntaxRegistry.get(&uid);
    if !Codec::owns_syntax(&uid) && !ts.is_some_and(|ts| ts.can_decode_all()) {
        return Err(ErrorKind::UnsupportedTransferSyntax {
            uid,
            name: ts.map_or("unknown", |ts| ts.name()).to_string(),
            hint: ": convert the file to an uncompressed transfer syntax first".to_string(),
        });
    }

    let class = dicom_str(&obj, tags::SOP_CLASS_UID)
        .unwrap_or_else(|| obj.meta().media_storage_sop_class_uid().to_string());
    let class = class.trim_end_matches('\0');
    if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_none() {
        return Err(ErrorKind::NotAnImage(format!(
            "{} without Pixel Data (7FE0,0010)",
            non_image_object(class)
        )));
    }
    // A segmentation's frames are masks (one bit per pixel), not intensities: one written by
    // `scarseg predict` beside its series must not join it as slices.
    if is_segmentation(class) {
        return Err(ErrorKind::NotAnImage(
            "a DICOM Segmentation (masks drawn on images, not an image to segment; load it as \
             labels onto its series: \"load labels\" on the page, --corrections for predict)"
                .into(),
        ));
    }
    let rows = dicom_int(&obj, tags::ROWS).ok_or_else(|| dicom_error("no Rows (0028,0010)"))?;
    let cols =
        dicom_int(&obj, tags::COLUMNS).ok_or_else(|| dicom_error("no Columns (0028,0011)"))?;
    let frames = dicom_int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    if rows < 0 || cols < 0 || frames < 0 {
        return Err(dicom_error("negative Rows, Columns or NumberOfFrames"));
    }
    check_dims(rows as u64, cols as u64, frames as u64, limits)?;
    // Grey (1) or colour (3), checked before decoding: dicom-rs's JPEG adapter sizes its output by
    // Samples per Pixel, and 0 there is a slice out of range, a panic (found by fuzzing).
    let samples = dicom_int(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if samples != 1 && samples != 3 {
        return Err(dicom_error(&format!(
            "Samples per Pixel (0028,0002) is {samples}: expected 1 (grey) or 3 (colour)"
        )));
    }
    let samples = samples as u64;
    let declared = rows as u64 * cols as u64 * frames as u64 * samples * 4;
    if declared > limits.max_bytes {
        return Err(ErrorKind::TooLarge {
            bytes: declared,
            limit: limits.max_bytes,
        });
    }

    let codec = Codec::of(&obj, &uid, frames as usize);
    if !codec.is_some_and(Codec::checks_its_headers) {
        check_compressed_frames(&obj, &uid, rows as u64, cols as u64, samples)?;
    }
    let near = match codec {
        Some(codec) => codec.to_native(&mut obj, rows as u64, cols as u64, frames as u64)?,
        None => 0,
    };
    let decoded = obj
        .decode_pixel_data()
        .map_err(|e| dicom_error(&format!("pixel data: {}", error_chain(&e))))?;
    // dicom-pixeldata builds a lookup table of 2^BitsStored entries and asserts 1-32 bits (a
    // panic, fatal in the browser's worker); MR images store 8-16.
    let (stored, allocated) = (decoded.bits_stored(), decoded.bits_allocated());
    if stored == 0 || stored > allocated || stored > 16 {
        return Err(dicom_error(&format!(
            "Bits Stored (0028,0101) is {stored} with Bits Allocated (0028,0100) {allocated}: \
             expected 1-16 and no more than Bits Allocated"
        )));
    }
    let (rows, cols) = (decoded.rows() as usize, decoded.columns() as usize);
    let frames = decoded.number_of_frames() as usize;
    let samples = decoded.samples_per_pixel() as usize;
    // Grey (1) or colour (3); 0 would make every frame empty and the colour path divide by it.
    if samples != 1 && samples != 3 {
        return Err(dicom_error(&format!(
            "Samples per Pixel (0028,0002) is {samples}: expected 1 (grey) or 3 (colour)"
        )));
    }
    // A palette image's values are indices into colour tables: read as grey they would look
    // like an image and mean nothing.
    if matches!(
        decoded.photometric_interpretation(),
        PhotometricInterpretation::PaletteColor
    ) {
        return Err(dicom_error(
            "PALETTE COLOR image: its values index a colour table, not intensities; export it \
             as grey (MONOCHROME2) or RGB",
        ));
    }
    // How the colour samples lie as decoded: codecs hand back interleaved RGB (dicom-pixeldata
    // says so), uncompressed data stays as stored, which may be YCbCr, 4:2:2 (Y1 Y2 Cb Cr per
    // two pixels) or one plane per channel.
    let layout = if samples == 1 {
        Colour::Grey
    } else {
        let pi = decoded.photometric_interpretation();
        let ybr = matches!(pi, PhotometricInterpretation::YbrFull);
        match (pi, decoded.planar_configuration()) {
            (PhotometricInterpretation::YbrFull422, _) => Colour::Ybr422,
            (_, PlanarConfiguration::PixelFirst) => Colour::Planes { ybr },
            _ => Colour::Interleaved { ybr },
        }
    };
    let values: Vec<f32> = match layout {
        Colour::Grey | Colour::Interleaved { .. } => decoded
            .to_vec::<f32>()
            .map_err(|e| dicom_error(&format!("pixel values: {e}")))?,
        // dicom-pixeldata converts neither layout (planes: its issue #129); colour images carry
        // no rescale, so the stored bytes are the values.
        Colour::Ybr422 | Colour::Planes { .. } => {
            if allocated != 8 {
                return Err(dicom_error(&format!(
                    "{photometric} colour with Bits Allocated {allocated} in this layout is not \
                     read (8 expected); convert the file to grey or to interleaved RGB",
                    photometric = decoded.photometric_interpretation()
                )));
            }
            decoded.data().iter().map(|b| f32::from(*b)).collect()
        }
    };
    let per_frame = match layout {
        Colour::Ybr422 => rows * cols * 2,
        _ => rows * cols * samples,
    };
    if values.len() < per_frame * frames {
        return Err(ErrorKind::Truncated(format!(
            "{} pixel values for {frames} frame(s) of {rows} x {cols} x {samples}",
            values.len()
        )));
    }
    // Padding is told from the stored values, before the rescale (PS3.3 C.7.5.1.1.2): the range
    // of them that is padding, with every frame's stored values.
    let padding = match layout {
        Colour::Grey => padding_range(
            &obj,
            allocated,
            decoded.pixel_representation() == PixelRepresentation::Signed,
        ),
        _ => None,
    }
    .map(|range| {
        let identity = ModalityLutOption::Override(Rescale::new(1.0, 0.0));
        decoded
            .to_vec_with_options::<f32>(&ConvertOptions::new().with_modality_lut(identity))
            .map(|stored| (range, stored))
            .map_err(|e| dicom_error(&format!("pixel values: {e}")))
    })
    .transpose()?;
    let mut warnings = read_warnings;
    if near > 0 {
        warnings.push(format!(
            "near-lossless JPEG-LS (NEAR {near}): each pixel value may differ from the \
             scanner's by up to {near}"
        ));
    }
    // A CT or an X-ray dropped by mistake would still get masks; say what they are worth.
    if let Some(modality) = dicom_str(&obj, tags::MODALITY).filter(|m| !m.is_empty() && m != "MR") {
        warnings.push(format!(
            "Modality is {modality}, not MR: the network was trained on LGE MR images, so its \
             masks here mean little"
        ));
    }
    warnings.extend(not_inversion_recovery(&obj));
    // A lookup table instead of a rescale: in the modalities that use one (X-ray angiography,
    // ultrasound, secondary captures), not in MR.
    if obj
        .element_opt(tags::MODALITY_LUT_SEQUENCE)
        .ok()
        .flatten()
        .is_some()
    {
        warnings.push(
            "its Modality LUT Sequence (0028,3000) is not applied: the values are the stored ones"
                .into(),
        );
    }
    let photometric = dicom_str(&obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    match layout {
        Colour::Grey => {}
        Colour::Interleaved { ybr: true } | Colour::Planes { ybr: true } | Colour::Ybr422 => {
            warnings.push(format!(
                "{photometric} colour image converted to grey (its luma, Y)"
            ))
        }
        _ => warnings.push(format!(
            "{photometric} colour image converted to grey (ITU-R BT.601 luma)"
        )),
    }

    // UIDs are padded to an even length with NUL.
    let series_uid = dicom_str(&obj, tags::SERIES_INSTANCE_UID)
        .map(|s| s.trim_end_matches('\0').to_string())
        .filter(|s| !s.is_empty());
    // "7 LGE PSIR": how a viewer names a series, for the label of one of several stacks.
    let series = [tags::SERIES_NUMBER, tags::SERIES_DESCRIPTION]
        .iter()
        .filter_map(|t| dicom_str(&obj, *t).filter(|v| !v.is_empty()))
        .collect::<Vec<_>>()
        .join(" ");
    let series = (!series.is_empty())
        .then_some(series)
        .or_else(|| series_uid.clone());
    let slice_location = dicom_floats(&obj, tags::SLICE_LOCATION).and_then(|v| v.first().copied());
    let instance = dicom_int(&obj, tags::INSTANCE_NUMBER);
    let invert = photometric == "MONOCHROME1";
    let source = dicom_source(&obj);

    let (mut missing_spacing, mut missing_thickness) = (false, false);
    let mut unusable_spacing = None;
    let mut padded = 0;
    let mut slices = Vec::with_capacity(frames);
    for frame in 0..frames {
        let raw = &values[frame * per_frame..(frame + 1) * per_frame];
        let luma = |r: f32, g: f32, b: f32| 0.299 * r + 0.587 * g + 0.114 * b;
        let plane = rows * cols;
        // Y is the luma already (YBR_FULL is BT.601 full range), so it is taken as it is.
        let mut pixels: Vec<f32> = match layout {
            Colour::Grey => raw.to_vec(),
            Colour::Interleaved { ybr: true } => raw.chunks_exact(3).map(|p| p[0]).collect(),
            Colour::Interleaved { ybr: false } => raw
                .chunks_exact(3)
                .map(|p| luma(p[0], p[1], p[2]))
                .collect(),
            Colour::Planes { ybr: true } => raw[..plane].to_vec(),
            Colour::Planes { ybr: false } => (0..plane)
                .map(|i| luma(raw[i], raw[plane + i], raw[2 * plane + i]))
                .collect(),
            Colour::Ybr422 => raw
                .chunks_exact(4)
                .flat_map(|q| [q[0], q[1]])
                .chain(std::iter::repeat(0.0))
                .take(plane)
                .collect(),
        };
        if let Some((range, stored)) = &padding {
            let stored = &stored[frame * per_frame..(frame + 1) * per_frame];
            padded += fill_padding(&mut pixels, stored, *range, invert);
        }
        let mut display_window = stored_window(&obj, frame);
        if invert {
            // MONOCHROME1 shows low values bright: mirror within the frame's range, and the
            // scanner's window with the pixels.
            let (lo, hi) = min_max(&pixels);
            pixels.iter_mut().for_each(|v| *v = lo + hi - *v);
            if let Some([centre, _]) = display_window.as_mut() {
                *centre = f64::from(lo) + f64::from(hi) - *centre;
            }
        }
        let mut slice = Slice::new(rows, cols, pixels, source_name(name, frame, frames));
        slice.display_window = display_window;
        let geometry = FrameGeometry::read(&obj, frame);
        missing_spacing |= geometry.spacing_mm.is_none();
        if geometry.spacing_mm.is_none() && unusable_spacing.is_none() {
            unusable_spacing = geometry.unusable_spacing;
        }
        missing_thickness |= geometry.thickness_mm.is_none();
        slice.spacing_mm = geometry.spacing_mm.unwrap_or([1.0, 1.0]);
        slice.thickness_mm = geometry.thickness_mm.unwrap_or(1.0);
        slice.orientation = geometry
            .orientation
            .unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        match geometry.frame_position_mm {
            // An enhanced image places each frame itself.
            Some(position) => slice.position_mm = position,
            None => {
                // A classic multi-frame image has one position, of its first frame; the others
                // follow along the normal, one slice spacing apart.
                let n = slice.normal();
                let position = geometry.position_mm.unwrap_or([0.0; 3]);
                let between = geometry.between_mm.unwrap_or(slice.thickness_mm);
                let offset = between * frame as f64;
                slice.position_mm = [
                    position[0] + n[0] * offset,
                    position[1] + n[1] * offset,
                    position[2] + n[2] * offset,
                ];
                slice.slice_location_mm = slice_location.map(|l| l + offset);
            }
        }
        slice.instance_number = instance;
        slice.series_uid = series_uid.clone();
        slice.acquisition = frame_acquisition(&obj, frame, series.as_ref());
        slice.dicom = source.clone().map(|s| DicomSource {
            frame: (frames > 1).then_some(frame as u32 + 1),
            ..s
        });
        slices.push(slice);
    }
    // Frames in the order they lie, as a series' files are put: an enhanced image may store
    // them in acquisition order, and the viewer and the label volume's geometry need space.
    sort_slices(&mut slices);
    match (missing_spacing, unusable_spacing) {
        (false, _) => {}
        (true, None) => {
            warnings.push("no PixelSpacing: assuming 1 mm pixels, so areas are in pixels".into())
        }
        (true, Some(v)) => {
            let v: Vec<String> = v.iter().map(f64::to_string).collect();
            warnings.push(format!(
                "PixelSpacing ({}) is not two positive numbers: assuming 1 mm pixels, so areas \
                 are in pixels",
                v.join("\\")
            ));
        }
    }
    if missing_thickness {
        warnings.push("no SliceThickness: assuming 1 mm for volumes".into());
    }
    // Without the count, which differs from file to file, so that a series says it once.
    if let (Some(((lo, hi), _)), true) = (&padding, padded > 0) {
        let stored = if lo == hi {
            format!("stored value {lo}, its Pixel Padding Value (0028,0120)")
        } else {
            format!(
                "stored values {lo} to {hi}, its Pixel Padding Value (0028,0120) and Range \
                 Limit (0028,0121)"
            )
        };
        warnings.push(format!(
            "pixels of padding round the image ({stored}) are read as its background, its \
             darkest value"
        ));
    }
    Ok(Stack {
        name: name.to_string(),
        part: None,
        slices,
        warnings,
    })
}

/// The stored values that are padding, not image (PS3.3 C.7.5.1.1.2): the Pixel Padding Value,
/// or every value from it to the Pixel Padding Range Limit, inclusive. The elements are US or SS
/// as the pixels are unsigned or signed, but an implicit VR file cannot say which and writers
/// mix them up (-2000 read as US is 63536), so their bits are read as the pixels' own.
fn padding_range(obj: &InMemDicomObject, bits_allocated: u16, signed: bool) -> Option<(i64, i64)> {
    let width = u32::from(bits_allocated.clamp(1, 16));
    let as_pixels = |v: i64| {
        let bits = v.rem_euclid(1 << width);
        if signed && bits >= 1 << (width - 1) {
            bits - (1 << width)
        } else {
            bits
        }
    };
    let value = as_pixels(dicom_int(obj, tags::PIXEL_PADDING_VALUE)?);
    let limit = dicom_int(obj, tags::PIXEL_PADDING_RANGE_LIMIT).map_or(value, as_pixels);
    Some((value.min(limit), value.max(limit)))
}

/// Sets a frame's padding pixels, those whose stored value lies in `range`, to its darkest image
/// value (the lowest, or for MONOCHROME1 the highest, before it is mirrored): a CT's or a
/// resampled image's -2000 outside its circle, or a maximum, would otherwise stretch the
/// intensity range the network normalises by and show as an edge. Returns how many it set; a
/// frame of padding alone is left as it is, having no image value to take.
fn fill_padding(pixels: &mut [f32], stored: &[f32], range: (i64, i64), monochrome1: bool) -> usize {
    let (lo, hi) = (range.0 as f32, range.1 as f32);
    let is_padding = |s: &f32| (lo..=hi).contains(s);
    let image = pixels
        .iter()
        .zip(stored)
        .filter(|(_, s)| !is_padding(s))
        .map(|(p, _)| *p);
    let darkest = if monochrome1 {
        image.reduce(f32::max)
    } else {
        image.reduce(f32::min)
    };
    let Some(darkest) = darkest else {
        return 0;
    };
    let mut count = 0;
    for (p, s) in pixels.iter_mut().zip(stored) {
        if is_padding(s) {
            *p = darkest;
            count += 1;
        }
    }
    count
}

/// The window the scanner stored for frame `frame` ([`Slice::display_window`]): WindowCenter and
/// WindowWidth of the frame's FrameVOILUTSequence (an enhanced image's, per frame or shared),
/// else the top level's; the first value where several presets are stored, as viewers open
/// with. Both apply to the rescaled values, the units the pixels are decoded in. `None` without
/// a positive width.
fn stored_window(obj: &InMemDicomObject, frame: usize) -> Option<[f64; 2]> {
    let read = |o: &InMemDicomObject| {
        let first = |tag| dicom_floats(o, tag).and_then(|v| v.first().copied());
        Some([first(tags::WINDOW_CENTER)?, first(tags::WINDOW_WIDTH)?])
    };
    functional_group(obj, frame, tags::FRAME_VOILUT_SEQUENCE)
        .and_then(read)
        .or_else(|| read(obj))
        .filter(|[c, w]| c.is_finite() && w.is_finite() && *w > 0.0)
}

/// The instance's identity and its patient and study attributes ([`DicomSource`]), for every
/// frame; `None` without the SOP and study UIDs a reference needs.
fn dicom_source(obj: &FileDicomObject<InMemDicomObject>) -> Option<DicomSource> {
    // UIDs are padded to an even length with NUL; text with spaces.
    let text = |tag| dicom_text(obj, tag).unwrap_or_default();
    let uid = |tag| Some(text(tag)).filter(|s| !s.is_empty());
    let sop_class_uid =
        uid(tags::SOP_CLASS_UID).or_else(|| uid_of(obj.meta().media_storage_sop_class_uid()))?;
    let sop_instance_uid = uid(tags::SOP_INSTANCE_UID)
        .or_else(|| uid_of(obj.meta().media_storage_sop_instance_uid()))?;
    Some(DicomSource {
        sop_class_uid,
        sop_instance_uid,
        frame: None,
        study_uid: uid(tags::STUDY_INSTANCE_UID)?,
        series_uid: uid(tags::SERIES_INSTANCE_UID)?,
        series_number: dicom_int(obj, tags::SERIES_NUMBER),
        frame_of_reference_uid: uid(tags::FRAME_OF_REFERENCE_UID),
        patient_name: text(tags::PATIENT_NAME),
        patient_id: text(tags::PATIENT_ID),
        patient_birth_date: text(tags::PATIENT_BIRTH_DATE),
        patient_sex: text(tags::PATIENT_SEX),
        study_date: text(tags::STUDY_DATE),
        study_time: text(tags::STUDY_TIME),
        referring_physician: text(tags::REFERRING_PHYSICIAN_NAME),
        study_id: text(tags::STUDY_ID),
        accession_number: text(tags::ACCESSION_NUMBER),
        study_description: text(tags::STUDY_DESCRIPTION),
    })
}

fn uid_of(meta: &str) -> Option<String> {
    Some(meta.trim_end_matches('\0').trim().to_string()).filter(|s| !s.is_empty())
}

/// What sets frame `frame`'s stack apart from others in the same file or folder
/// ([`Slice::acquisition`]): its series; an enhanced image's StackID and TemporalPositionIndex
/// (FrameContentSequence, per frame); and its image type: ComplexImageComponent (MAGNITUDE,
/// REAL, PHASE: a PSIR acquisition stores magnitude and real images at the same positions),
/// else the frame's FrameType, else the image's ImageType.
fn frame_acquisition(
    obj: &InMemDicomObject,
    frame: usize,
    series: Option<&String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut put = |what: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((what.to_string(), v));
        }
    };
    put("series", series.cloned());
    let content = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|frames| frames.get(frame))
        .and_then(|group| first_item(group, tags::FRAME_CONTENT_SEQUENCE));
    put("stack", content.and_then(|c| dicom_str(c, tags::STACK_ID)));
    put(
        "time",
        content
            .and_then(|c| dicom_int(c, tags::TEMPORAL_POSITION_INDEX))
            .map(|t| t.to_string()),
    );
    let frame_type = functional_group(obj, frame, tags::MR_IMAGE_FRAME_TYPE_SEQUENCE);
    let in_frame = |tag| {
        frame_type
            .and_then(|g| dicom_str(g, tag))
            .filter(|v| !v.is_empty())
    };
    let top = |tag| dicom_str(obj, tag).filter(|v| !v.is_empty());
    put(
        "image type",
        in_frame(tags::COMPLEX_IMAGE_COMPONENT)
            .or_else(|| top(tags::COMPLEX_IMAGE_COMPONENT))
            .or_else(|| in_frame(tags::FRAME_TYPE))
            .or_else(|| top(tags::IMAGE_TYPE)),
    );
    out
}

/// A warning when an MR image says it is not an inversion-recovery image, as every LGE image is:
/// a study exported whole puts cine, T2 and mapping series beside the LGE ones, and the network
/// draws scar on them all the same. An enhanced image says so in InversionRecovery (0018,9009);
/// a classic one by ScanningSequence (0018,0020) without IR, SequenceVariant (0018,0021)
/// without MP (magnetisation prepared: GE writes its delayed-enhancement sequence as a prepared
/// gradient echo) and no InversionTime (0018,0082). Where a file says nothing, nothing is
/// assumed.
fn not_inversion_recovery(obj: &InMemDicomObject) -> Option<String> {
    const WHY: &str = "LGE images are inversion-recovery images, and the network was trained on \
                       them, so its masks here (a cine, T2 or mapping image?) mean little";
    if let Some(ir) = dicom_str(obj, tags::INVERSION_RECOVERY).filter(|v| !v.is_empty()) {
        return (ir == "NO").then(|| format!("InversionRecovery (0018,9009) is NO: {WHY}"));
    }
    let sequence = dicom_str(obj, tags::SCANNING_SEQUENCE).filter(|v| !v.is_empty())?;
    let has = |values: &str, code: &str| values.split('\\').any(|v| v.trim() == code);
    let variant = dicom_str(obj, tags::SEQUENCE_VARIANT).unwrap_or_default();
    let inversion_time = dicom_floats(obj, tags::INVERSION_TIME)
        .and_then(|v| v.first().copied())
        .is_some_and(|t| t > 0.0);
    (!has(&sequence, "IR") && !has(&variant, "MP") && !inversion_time).then(|| {
        format!(
            "ScanningSequence (0018,0020) is {sequence}, with no IR, no magnetisation \
             preparation and no InversionTime: {WHY}"
        )
    })
}

/// Where one frame lies and how large its pixels are. Classic images carry this at the top
/// level; enhanced (multi-frame) MR images, as many scanners now export, carry it in
/// functional groups: the frame's own (per-frame) or one for all frames (shared).
struct FrameGeometry {
    spacing_mm: Option<[f64; 2]>,
    /// A PixelSpacing that is there but not two positive numbers (the warning names it).
    unusable_spacing: Option<Vec<f64>>,
    thickness_mm: Option<f64>,
    between_mm: Option<f64>,
    /// The top-level ImagePositionPatient: a classic image's first frame.
    position_mm: Option<[f64; 3]>,
    /// The frame's own ImagePositionPatient, from its PlanePositionSequence.
    frame_position_mm: Option<[f64; 3]>,
    orientation: Option<[f64; 6]>,
}

impl FrameGeometry {
    fn read(obj: &InMemDicomObject, frame: usize) -> Self {
        let measures = functional_group(obj, frame, tags::PIXEL_MEASURES_SEQUENCE);
        let plane = functional_group(obj, frame, tags::PLANE_POSITION_SEQUENCE);
        let orientation = functional_group(obj, frame, tags::PLANE_ORIENTATION_SEQUENCE);
        // The frame's functional group first, then the top level.
        let floats = |group: Option<&InMemDicomObject>, tag| {
            group
                .and_then(|g| dicom_floats(g, tag))
                .or_else(|| dicom_floats(obj, tag))
        };
        let positive = |group, tag| {
            floats(group, tag)
                .and_then(|v| v.first().copied())
                .filter(|t| *t > 0.0)
        };
        let usable = |v: &Vec<f64>| v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0;
        let pixel_spacing = floats(measures, tags::PIXEL_SPACING);
        let spacing_mm = pixel_spacing
            .clone()
            .filter(usable)
            .or_else(|| dicom_floats(obj, tags::IMAGER_PIXEL_SPACING).filter(usable))
            .map(|v| [v[0], v[1]]);
        let unusable_spacing = pixel_spacing.filter(|v| !usable(v));
        let between_mm = positive(measures, tags::SPACING_BETWEEN_SLICES);
        let three = |v: Vec<f64>| (v.len() >= 3).then(|| [v[0], v[1], v[2]]);
        Self {
            spacing_mm,
            unusable_spacing,
            thickness_mm: positive(measures, tags::SLICE_THICKNESS).or(between_mm),
            between_mm,
            position_mm: dicom_floats(obj, tags::IMAGE_POSITION_PATIENT).and_then(three),
            frame_position_mm: plane
                .and_then(|g| dicom_floats(g, tags::IMAGE_POSITION_PATIENT))
                .and_then(three),
            orientation: floats(orientation, tags::IMAGE_ORIENTATION_PATIENT)
                .filter(|v| v.len() >= 6)
                .map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]]),
        }
    }
}

/// The first item of a functional group `sequence` for `frame`: in the frame's item of the
/// per-frame groups, else in the shared groups.
pub(crate) fn functional_group(
    obj: &InMemDicomObject,
    frame: usize,
    sequence: Tag,
) -> Option<&InMemDicomObject> {
    items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|frames| frames.get(frame))
        .and_then(|group| first_item(group, sequence))
        .or_else(|| {
            first_item(
                first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)?,
                sequence,
            )
        })
}

/// The first item of a sequence element, if `obj` has one.
pub(crate) fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(obj, tag)?.first()
}

/// The items of a sequence element, if `obj` has one.
pub(crate) fn items(obj: &InMemDicomObject, tag: Tag) -> Option<&[InMemDicomObject]> {
    obj.element_opt(tag).ok().flatten().and_then(|e| e.items())
}

/// What a DICOM object of SOP class `uid` is, for the message that leaves it out.
fn non_image_object(uid: &str) -> String {
    use dicom_core::dictionary::UidDictionary;
    use dicom_dictionary_std::StandardSopClassDictionary;
    if uid == dicom_dictionary_std::uids::MEDIA_STORAGE_DIRECTORY_STORAGE {
        return "a DICOMDIR (the index of a DICOM disc or export)".into();
    }
    match StandardSopClassDictionary.by_uid(uid) {
        Some(entry) => format!("a DICOM {} object", entry.name),
        None if uid.is_empty() => "a DICOM object".into(),
        None => format!("a DICOM object of SOP class {uid}"),
    }
}

/// An error and its sources, joined: dicom-rs keeps the useful part ("unexpected end of file")
/// in the sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Checks that every JPEG or JPEG 2000 frame in the Pixel Data is the size the header declares.
/// dicom-rs 0.10's adapters size their output from Rows, Columns and Samples per Pixel and then
/// copy each decoded frame in without comparing (a JPEG of more pixels, a JPEG 2000 of more
/// components: index out of range, a panic that kills the page's worker; found by fuzzing).
pub(crate) fn check_compressed_frames(
    obj: &InMemDicomObject,
    uid: &str,
    rows: u64,
    cols: u64,
    samples: u64,
) -> Result<(), ErrorKind> {
    use dicom_dictionary_std::uids;
    // The syntaxes dicom-rs decodes with its JPEG, JPEG 2000 and RLE adapters.
    const JPEG: [&str; 4] = [
        uids::JPEG_BASELINE8_BIT,
        uids::JPEG_EXTENDED12_BIT,
        uids::JPEG_LOSSLESS,
        uids::JPEG_LOSSLESS_SV1,
    ];
    const JPEG_2000: [&str; 7] = [
        uids::JPEG2000_LOSSLESS,
        uids::JPEG2000,
        uids::JPEG2000MC_LOSSLESS,
        uids::JPEG2000MC,
        uids::HTJ2K_LOSSLESS,
        uids::HTJ2K_LOSSLESS_RPCL,
        uids::HTJ2K,
    ];
    const RLE: &str = uids::RLE_LOSSLESS;
    let jpeg2000 = JPEG_2000.contains(&uid);
    if !JPEG.contains(&uid) && !jpeg2000 && uid != RLE {
        return Ok(());
    }
    let Some(fragments) = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .and_then(|e| e.value().fragments())
    else {
        return Ok(());
    };
    let bits = dicom_int(obj, tags::BITS_ALLOCATED)
        .unwrap_or(16)
        .clamp(8, 16) as u64;
    if uid == RLE {
        return check_rle_frames(fragments, rows * cols, samples * (bits / 8));
    }
    let data: Vec<u8> = fragments.iter().flatten().copied().collect();
    let wrong = |what: String| {
        dicom_error(&format!(
            "the compressed frame is {what}, but the header declares {cols} x {rows} pixels of \
             {samples} sample(s) ({bits} bits allocated)"
        ))
    };
    if jpeg2000 {
        // Each codestream starts SOC, SIZ (FF4F FF51): Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz,
        // four tile fields, Csiz (ISO 15444-1 A.5.1). The marker pair cannot occur inside
        // a codestream's coded data, and a JP2 wrapper's boxes come before it.
        let be32 = |at: usize| -> Option<u64> {
            Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?) as u64)
        };
        for start in (0..data.len().saturating_sub(3))
            .filter(|&i| data[i..i + 4] == [0xFF, 0x4F, 0xFF, 0x51])
        {
            let siz = start + 4;
            let (Some(x), Some(y), Some(x0), Some(y0)) =
                (be32(siz + 4), be32(siz + 8), be32(siz + 12), be32(siz + 16))
            else {
                continue;
            };
            let components = data
                .get(siz + 36..siz + 38)
                .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]) as u64);
            let (width, height) = (x.saturating_sub(x0), y.saturating_sub(y0));
            if (width, height) != (cols, rows) || components > samples {
                return Err(wrong(format!(
                    "a JPEG 2000 image of {width} x {height} pixels and {components} \
                     component(s)"
                )));
            }
        }
        return Ok(());
    }
    // A JPEG image starts SOI and a marker (FF D8 FF); FF D8 cannot occur inside coded data.
    for start in (0..data.len().saturating_sub(2)).filter(|&i| data[i..i + 3] == [0xFF, 0xD8, 0xFF])
    {
        let mut decoder = jpeg_decoder::Decoder::new(&data[start..]);
        match decoder.read_info() {
            Ok(()) => {}
            // 12-bit lossy JPEG in colour (grey is read by jpeg12.rs): no pure-Rust decoder
            // reads it, nor pydicom's default one; dicom-rs's own error names only a "feature".
            Err(jpeg_decoder::Error::Unsupported(
                jpeg_decoder::UnsupportedFeature::SamplePrecision(precision),
            )) => {
                return Err(ErrorKind::UnsupportedTransferSyntax {
                    uid: uid.to_string(),
                    name: format!("lossy colour JPEG with {precision}-bit samples"),
                    hint: ": convert the file to an uncompressed or lossless transfer syntax \
                           first (DCMTK's dcmdjpeg does)"
                        .to_string(),
                });
            }
            // Not a header that parses: dicom-rs's decoder fails there too, with its own error.
            Err(_) => continue,
        }
        let Some(info) = decoder.info() else {
            continue;
        };
        let bytes = info.pixel_format.pixel_bytes() as u64;
        if (u64::from(info.width), u64::from(info.height)) != (cols, rows)
            || bytes > samples * (bits / 8)
        {
            return Err(wrong(format!(
                "a JPEG image of {} x {} pixels of {bytes} byte(s)",
                info.width, info.height
            )));
        }
    }
    Ok(())
}

/// RLE frames (DICOM PS3.5 annex G) as dicom-rs 0.10's adapter reads them without checks: a
/// 64-byte header of a segment count (at most 15) and offsets, then one PackBits segment per
/// byte plane. A fragment shorter than its header or with more segments than fit panics there
/// (a slice out of range), and so does a segment that holds fewer than `pixels` bytes (it indexes
/// past the decoded bytes); found by fuzzing. Only run lengths are summed here, nothing is
/// decoded.
fn check_rle_frames(fragments: &[Vec<u8>], pixels: u64, planes: u64) -> Result<(), ErrorKind> {
    let le32 = |f: &[u8], at: usize| -> u64 {
        u32::from_le_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]) as u64
    };
    for (frame, f) in fragments.iter().enumerate() {
        let bad = |what: String| dicom_error(&format!("RLE frame {}: {what}", frame + 1));
        if f.len() < 64 {
            return Err(bad(format!(
                "{} bytes, shorter than the 64-byte RLE header",
                f.len()
            )));
        }
        let count = le32(f, 0);
        if !(planes..=15).contains(&count) {
            return Err(bad(format!(
                "{count} segments where {planes} (one per byte of each sample, at most 15) are \
                 expected"
            )));
        }
        let offsets: Vec<u64> = (0..count as usize).map(|k| le32(f, 4 + 4 * k)).collect();
        for k in 0..planes as usize {
            let end = offsets.get(k + 1).copied().unwrap_or(f.len() as u64);
            let Some(segment) = f.get(offsets[k] as usize..end as usize) else {
                return Err(bad(format!("segment {} lies outside the frame", k + 1)));
            };
            // PackBits: n < 128 copies the next n + 1 bytes (fewer if the segment ends first),
            // n > 128 repeats the next byte 257 - n times, 128 does nothing.
            let (mut at, mut decoded) = (0usize, 0u64);
            while at < segment.len() && decoded < pixels {
                let n = segment[at] as usize;
                let left = segment.len() - at - 1;
                (at, decoded) = match n {
                    0..128 => (at + 1 + n + 1, decoded + (n + 1).min(left) as u64),
                    128 => (at + 1, decoded),
                    _ if left == 0 => (segment.len(), decoded),
                    _ => (at + 2, decoded + 257 - n as u64),
                };
            }
            if decoded < pixels {
                return Err(bad(format!(
                    "segment {} holds {decoded} of the image's {pixels} pixels",
                    k + 1
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn dicom_error(message: &str) -> ErrorKind {
    let lower = message.to_lowercase();
    if lower.contains("unexpected end")
        || lower.contains("eof")
        || lower.contains("fill whole buffer")
    {
        ErrorKind::Truncated(message.to_string())
    } else {
        ErrorKind::Dicom(message.to_string())
    }
}

fn source_name(name: &str, index: usize, count: usize) -> String {
    if count > 1 {
        format!("{name} [{index}]")
    } else {
        name.to_string()
    }
}

fn min_max(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        })
}

// ---------------------------------------------------------------- NIfTI

/// Expands gzip `bytes` without ever holding more than `limit` bytes.
fn gunzip_limited(bytes: &[u8], limit: u64) -> Result<Vec<u8>, ErrorKind> {
    // `take` stops at limit + 1 bytes with Ok, so a read error and TooLarge never coincide.
    let (out, ended) = read_limited(flate2::read::GzDecoder::new(bytes), limit)?;
    ended.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ErrorKind::Truncated(format!("gzip stream: {e}")),
        _ => ErrorKind::Nifti(format!("gzip stream: {e}")),
    })?;
    Ok(out)
}

fn decode_nifti(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ErrorKind> {
    let expanded;
    let bytes = if bytes.starts_with(&[0x1F, 0x8B]) {
        expanded = gunzip_limited(bytes, limits.max_bytes)?;
        let inner = match sniff(&expanded) {
            Some(Format::Dicom) => Some("DICOM"),
            Some(Format::Png) => Some("PNG"),
            Some(Format::Jpeg) => Some("JPEG"),
            Some(Format::Nifti) | None => None,
        };
        if let Some(format) = inner {
            return Err(ErrorKind::Gzipped(format));
        }
        &expanded[..]
    } else {
        bytes
    };
    let (header, header_size) = if is_nifti2_header(bytes) {
        (nifti2_header(bytes)?, 540)
    } else {
        if bytes.len() < 348 {
            return Err(ErrorKind::Truncated(format!(
                "{} bytes, shorter than the 348-byte NIfTI-1 header",
                bytes.len()
            )));
        }
        if !is_nifti_header(bytes) {
            return Err(ErrorKind::Nifti(
                "sizeof_hdr is not 348: not a NIfTI-1 file".into(),
            ));
        }
        let header = nifti::NiftiHeader::from_reader(&bytes[..348])
            .map_err(|e| ErrorKind::Nifti(format!("header: {e}")))?;
        if &header.magic != b"n+1\0" {
            return Err(ErrorKind::Nifti(
                "not a single-file NIfTI-1 (.nii): the magic is not \"n+1\" (a .hdr/.img pair?)"
                    .into(),
            ));
        }
        (header, 348)
    };
    // CIFTI (NIfTI intent codes 3000-3099): values on a brain's surface vertices and voxels,
    // or a matrix between them (a connectome), in the shape of an image but not one.
    if (3000..3100).contains(&header.intent_code) {
        return Err(ErrorKind::Nifti(format!(
            "a CIFTI file (intent code {}): brain-surface data or a matrix, not an image volume",
            header.intent_code
        )));
    }
    let ndim = header.dim[0] as usize;
    if !(2..=7).contains(&ndim) {
        return Err(ErrorKind::Nifti(format!(
            "dim[0] = {ndim}: expected 2 to 7 dimensions"
        )));
    }
    let dim = |i: usize| {
        if i <= ndim {
            header.dim[i].max(1) as u64
        } else {
            1
        }
    };
    let (cols, rows) = (dim(1), dim(2));
    // Every plane beyond the first two dimensions becomes a slice (z, then time, ...).
    // Saturating: five dimensions of 32767 overflow u64 (found by fuzzing); the slice limit
    // then refuses the count.
    let planes: u64 = (3..=ndim).map(dim).fold(1, u64::saturating_mul);
    check_dims(rows, cols, planes, limits)?;
    let element = nifti_element_size(header.datatype)?;
    let voxels = rows * cols * planes;
    let offset = (header.vox_offset.max(header_size as f32) as u64).max(header_size);
    // Saturating: a forged vox_offset (any f32, found by fuzzing) must not overflow.
    let needed = offset.saturating_add(voxels.saturating_mul(element as u64));
    if voxels * 4 > limits.max_bytes {
        return Err(ErrorKind::TooLarge {
            bytes: voxels * 4,
            limit: limits.max_bytes,
        });
    }
    if (bytes.len() as u64) < needed {
        return Err(ErrorKind::Truncated(format!(
            "the header declares {needed} bytes ({cols} x {rows} x {planes} voxels of {element} \
             bytes from offset {offset}), the file has {}",
            bytes.len()
        )));
    }
    let data = &bytes[offset as usize..needed as usize];
    let big = header.endianness == nifti::Endianness::Big;
    let mut values = nifti_values(data, header.datatype, big)?;
    // scl_slope = 0 means "no scaling" (NIfTI-1 standard).
    if header.scl_slope != 0.0 && header.scl_slope.is_finite() && header.scl_inter.is_finite() {
        let (slope, inter) = (header.scl_slope, header.scl_inter);
        values.iter_mut().for_each(|v| *v = *v * slope + inter);
    }

    // cal_min to cal_max: the display range a converter or an editor stored, in the scaled
    // units; both 0 (unset) in most files.
    let (cal_min, cal_max) = (f64::from(header.cal_min), f64::from(header.cal_max));
    let display_window = (cal_min.is_finite() && cal_max.is_finite() && cal_max > cal_min)
        .then(|| [(cal_min + cal_max) / 2.0, cal_max - cal_min]);
    let mut warnings = Vec::new();
    let pix = |i: usize| {
        let v = header.pixdim[i].abs() as f64;
        if v.is_finite() && v > 0.0 { v } else { 1.0 }
    };
    // Each in-plane axis on its own: a missing one is taken as 1 mm, a negative one (which some
    // converters write for a flipped axis) by its magnitude, as ITK and nibabel read it.
    for i in [1, 2] {
        let v = header.pixdim[i];
        if !(v.is_finite() && v != 0.0) {
            warnings.push(format!(
                "no pixel spacing in pixdim[{i}] ({v}): assuming 1 mm, so areas may be off"
            ));
        } else if v < 0.0 {
            warnings.push(format!(
                "pixdim[{i}] is negative ({v}): taking {} mm as the pixel spacing",
                v.abs()
            ));
        }
    }
    // Voxel (i, j, k) -> RAS mm through the sform/qform; we report LPS, as DICOM does.
    let affine = nifti_affine(&header);
    let ras = |i: f64, j: f64, k: f64| -> [f64; 3] {
        let row = |r: [f64; 4]| r[0] * i + r[1] * j + r[2] * k + r[3];
        [row(affine[0]), row(affine[1]), row(affine[2])]
    };
    let origin = ras(0.0, 0.0, 0.0);
    let unit = |p: [f64; 3]| {
        let d = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
        let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        if len > 0.0 {
            [d[0] / len, d[1] / len, d[2] / len]
        } else {
            [0.0; 3]
        }
    };
    let row_dir = unit(ras(1.0, 0.0, 0.0));
    let col_dir = unit(ras(0.0, 1.0, 0.0));
    let orientation = if row_dir == [0.0; 3] || col_dir == [0.0; 3] {
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    } else {
        [
            -row_dir[0],
            -row_dir[1],
            row_dir[2],
            -col_dir[0],
            -col_dir[1],
            col_dir[2],
        ]
    };
    let plane = (rows * cols) as usize;
    let slices = (0..planes as usize)
        .map(|k| {
            let mut slice = Slice::new(
                rows as usize,
                cols as usize,
                values[k * plane..(k + 1) * plane].to_vec(),
                source_name(name, k, planes as usize),
            );
            slice.spacing_mm = [pix(2), pix(1)];
            slice.thickness_mm = if ndim >= 3 { pix(3) } else { 1.0 };
            let p = ras(0.0, 0.0, (k as u64 % dim(3)) as f64);
            slice.position_mm = [-p[0], -p[1], p[2]];
            slice.orientation = orientation;
            // A cine or multi-TI series (dimensions 4 and up): each volume is a stack of its
            // own, as summing them would count each position once per volume.
            if planes > dim(3) {
                slice.acquisition = vec![("volume".into(), (k as u64 / dim(3) + 1).to_string())];
            }
            slice.display_window = display_window;
            slice
        })
        .collect();
    Ok(Stack {
        name: name.to_string(),
        part: None,
        slices,
        warnings,
    })
}

/// The voxel-to-RAS affine by the NIfTI-1 standard's three methods: sform when sform_code > 0,
/// else the qform quaternion when qform_code > 0, else plain pixdim scaling.
fn nifti_affine(h: &nifti::NiftiHeader) -> [[f64; 4]; 3] {
    let finite = |r: [f32; 4]| r.iter().all(|v| v.is_finite());
    if h.sform_code > 0 && finite(h.srow_x) && finite(h.srow_y) && finite(h.srow_z) {
        let f = |r: [f32; 4]| r.map(f64::from);
        return [f(h.srow_x), f(h.srow_y), f(h.srow_z)];
    }
    let pix = |i: usize| {
        let v = f64::from(h.pixdim[i]);
        if v.is_finite() && v != 0.0 {
            v.abs()
        } else {
            1.0
        }
    };
    let (dx, dy, dz) = (pix(1), pix(2), pix(3));
    if h.qform_code > 0 {
        let (b, c, d) = (
            f64::from(h.quatern_b),
            f64::from(h.quatern_c),
            f64::from(h.quatern_d),
        );
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let offset = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        let mut m = [[0.0; 4]; 3];
        for row in 0..3 {
            m[row] = [
                r[row][0] * dx,
                r[row][1] * dy,
                r[row][2] * dz * qfac,
                offset[row],
            ];
        }
        if m.iter().flatten().all(|v| v.is_finite()) {
            return m;
        }
    }
    [
        [dx, 0.0, 0.0, 0.0],
        [0.0, dy, 0.0, 0.0],
        [0.0, 0.0, dz, 0.0],
    ]
}

fn nifti_element_size(datatype: i16) -> Result<usize, ErrorKind> {
    Ok(match datatype {
        2 | 256 => 1,      // u8, i8
        4 | 512 => 2,      // i16, u16
        8 | 768 | 16 => 4, // i32, u32, f32
        64 | 1024 | 1280 => 8,
        other => {
            return Err(ErrorKind::Nifti(format!(
                "datatype {other} is not a grey-level type we read (integers, float32, float64)"
            )));
        }
    })
}

fn nifti_values(data: &[u8], datatype: i16, big: bool) -> Result<Vec<f32>, ErrorKind> {
    macro_rules! read {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|b| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(b);
                    (if big {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f32
                })
                .collect()
        };
    }
    Ok(match datatype {
        2 => data.iter().map(|v| *v as f32).collect(),
        256 => data.iter().map(|v| *v as i8 as f32).collect(),
        4 => read!(i16, 2),
        512 => read!(u16, 2),
        8 => read!(i32, 4),
        768 => read!(u32, 4),
        16 => read!(f32, 4),
        64 => read!(f64, 8),
        1024 => read!(i64, 8),
        1280 => read!(u64, 8),
        other => {
            return Err(ErrorKind::Nifti(format!(
                "datatype {other} is not supported"
            )));
        }
    })
}

// ---------------------------------------------------------------- PNG and JPEG

/// Pixel spacing from a PNG's pHYs chunk when its unit is the metre.
pub fn png_spacing_mm(bytes: &[u8]) -> Option<[f64; 2]> {
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = bytes.get(at + 8..at.checked_add(8 + len)?)?;
        if kind == b"pHYs" && len == 9 && data[8] == 1 {
            let x = u32::from_be_bytes(data[0..4].try_into().ok()?) as f64;
            let y = u32::from_be_bytes(data[4..8].try_into().ok()?) as f64;
            if x > 0.0 && y > 0.0 {
                return Some([1000.0 / y, 1000.0 / x]);
            }
        }
        if kind == b"IDAT" {
            return None;
        }
        at = at.checked_add(12 + len)?;
    }
    None
}

fn decode_raster(name: &str, bytes: &[u8], limits: &Limits) -> Result<Stack, ErrorKind> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ErrorKind::Raster(e.to_string()))?;
    let (cols, rows) = reader.into_dimensions().map_err(|e| raster_error(&e))?;
    check_dims(rows as u64, cols as u64, 1, limits)?;
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ErrorKind::Raster(e.to_string()))?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side as u32);
    image_limits.max_image_height = Some(limits.max_side as u32);
    image_limits.max_alloc = Some(limits.max_bytes);
    reader.limits(image_limits);
    let image = reader.decode().map_err(|e| raster_error(&e))?;
    let mut warnings = Vec::new();
    let pixels: Vec<f32> = match &image {
        image::DynamicImage::ImageLuma8(img) => img.as_raw().iter().map(|v| *v as f32).collect(),
        image::DynamicImage::ImageLuma16(img) => img.as_raw().iter().map(|v| *v as f32).collect(),
        image::DynamicImage::ImageLumaA8(_) | image::DynamicImage::ImageLumaA16(_) => image
            .to_luma16()
            .as_raw()
            .iter()
            .map(|v| *v as f32)
            .collect(),
        other => {
            warnings.push(format!(
                "{:?} colour image converted to grey (ITU-R BT.601 luma)",
                other.color()
            ));
            if other.color().bytes_per_pixel() > 4 {
                other
                    .to_luma16()
                    .as_raw()
                    .iter()
                    .map(|v| *v as f32)
                    .collect()
            } else {
                other
                    .to_luma8()
                    .as_raw()
                    .iter()
                    .map(|v| *v as f32)
                    .collect()
            }
        }
    };
    let mut slice = Slice::new(rows as usize, cols as usize, pixels, name);
    match png_spacing_mm(bytes) {
        Some(spacing) => slice.spacing_mm = spacing,
        None => warnings.push("no pixel spacing in a PNG/JPEG: assuming 1 mm pixels".into()),
    }
    Ok(Stack {
        name: name.to_string(),
        part: None,
        slices: vec![slice],
        warnings,
    })
}

fn raster_error(e: &image::ImageError) -> ErrorKind {
    let message = e.to_string();
    let lower = message.to_lowercase();
    if lower.contains("eof") || lower.contains("end of") || lower.contains("truncat") {
        ErrorKind::Truncated(message)
    } else if let image::ImageError::Limits(_) = e {
        ErrorKind::Raster(format!("over the size limits: {message}"))
    } else {
        ErrorKind::Raster(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folders_files_are_worth_decoding_by_content_or_by_name() {
        // Images by name, whatever their bytes (a broken one must still be reported).
        for name in [
            "IM0001",
            "1.3.12.2.1107.5.2.30.25245.2019",
            "scan.DCM",
            "case.nii.gz",
            "case.nii",
            "slice.png",
            "slice.JPG",
            "CD/DICOM/IMG00001.ima",
        ] {
            assert!(worth_decoding(name, b"garbage"), "{name}");
        }
        // Not images by name: left out unless their bytes say otherwise.
        for name in [
            "AUTORUN.INF",
            "viewer/bin/viewer.exe",
            "Report.pdf",
            "index.htm",
        ] {
            assert!(!worth_decoding(name, b"MZ\x90\0"), "{name}");
        }
        let mut dicom = vec![0u8; 132];
        dicom[128..].copy_from_slice(b"DICM");
        assert!(worth_decoding("image.bin", &dicom));
        assert!(worth_decoding("photo.bin", b"\x89PNG\r\n\x1a\n"));
    }

    fn first(uid: &str, acquisition: &[(&str, &str)]) -> Slice {
        let mut s = Slice::new(1, 1, vec![0.0], "x");
        s.series_uid = Some(uid.into());
        s.acquisition = acquisition
            .iter()
            .map(|(w, v)| (w.to_string(), v.to_string()))
            .collect();
        s
    }

    #[test]
    fn stacks_are_listed_by_their_values_numbers_as_numbers() {
        let t = |time| first("1.1", &[("series", "7 LGE"), ("time", time)]);
        let mut slices = [t("10"), t("2"), t("1")];
        slices.sort_by(acquisition_order);
        let times: Vec<&str> = slices.iter().map(|s| s.acquisition[1].1.as_str()).collect();
        assert_eq!(times, ["1", "2", "10"]);
        let series = |label| first("1.1", &[("series", label)]);
        let mut slices = [series("12 LGE"), series("7 LGE PSIR"), series("7 LGE MAG")];
        slices.sort_by(acquisition_order);
        let labels: Vec<&str> = slices.iter().map(|s| s.acquisition[0].1.as_str()).collect();
        assert_eq!(labels, ["7 LGE MAG", "7 LGE PSIR", "12 LGE"]);
    }

    #[test]
    fn part_labels_name_what_differs_and_are_never_alike() {
        let one = first("1.1", &[("series", "7 LGE"), ("image type", "M")]);
        // One stack: no label.
        assert_eq!(part_labels(&[&one]), [None]);
        // Magnitude and real images of one series: only the image type, not the series.
        let real = first("1.1", &[("series", "7 LGE"), ("image type", "R")]);
        assert_eq!(
            part_labels(&[&one, &real]),
            [Some("image type M".into()), Some("image type R".into())]
        );
        // The same again in a second series described alike: the magnitude stacks of the two
        // would be named alike, so each such label gets its series UID.
        let other = first("1.2", &[("series", "7 LGE"), ("image type", "M")]);
        assert_eq!(
            part_labels(&[&one, &real, &other]),
            [
                Some("image type M, series 1.1".into()),
                Some("image type R".into()),
                Some("image type M, series 1.2".into())
            ]
        );
        // A component one stack lacks is shown as "-".
        let bare = first("1.1", &[("series", "7 LGE")]);
        assert_eq!(
            part_labels(&[&one, &bare]),
            [Some("image type M".into()), Some("image type -".into())]
        );
        // Time and stack: both named where both differ.
        let t = |stack, time| first("1.1", &[("stack", stack), ("time", time)]);
        assert_eq!(
            part_labels(&[&t("1", "1"), &t("1", "2"), &t("2", "1")]),
            [
                Some("stack 1, time 1".into()),
                Some("stack 1, time 2".into()),
                Some("stack 2, time 1".into())
            ]
        );
    }
}
