//! Writers for the formats users upload and export: PNG (8- and 16-bit grey, with pixel spacing
//! in pHYs), NIfTI-1 (image and label volumes) and DICOM (MR images with spacing and position
//! tags, in several transfer syntaxes). Bytes out, no file I/O; the phantom and the exports use
//! them, and tests read their output back through the real decoders.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::slice::Slice;

/// An encoding failure (these come only from the underlying encoders).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("encoding {format}: {message}")]
pub struct EncodeError {
    /// The format being written.
    pub format: &'static str,
    /// What failed.
    pub message: String,
}

fn png_error(e: impl std::fmt::Display) -> EncodeError {
    EncodeError {
        format: "PNG",
        message: e.to_string(),
    }
}

/// An 8-bit RGBA PNG of `rgba` (`rows * cols * 4` bytes, row-major), e.g. a slice under its
/// overlays ([`crate::view::rgba`]).
pub fn png_rgba8(
    rows: usize,
    cols: usize,
    rgba: &[u8],
    spacing_mm: Option<[f64; 2]>,
) -> Result<Vec<u8>, EncodeError> {
    png_with(
        rows,
        cols,
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        spacing_mm,
        rgba,
    )
}

fn png_with(
    rows: usize,
    cols: usize,
    colour: png::ColorType,
    depth: png::BitDepth,
    spacing_mm: Option<[f64; 2]>,
    data: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, cols as u32, rows as u32);
        encoder.set_color(colour);
        encoder.set_depth(depth);
        if let Some([row_mm, col_mm]) = spacing_mm {
            encoder.set_pixel_dims(Some(png::PixelDimensions {
                xppu: (1000.0 / col_mm).round() as u32,
                yppu: (1000.0 / row_mm).round() as u32,
                unit: png::Unit::Meter,
            }));
        }
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(data).map_err(png_error)?;
    }
    Ok(out)
}

/// An 8-bit grey PNG of `values` (row-major), e.g. a 0/255 mask or a label map.
pub fn png_grey8(
    rows: usize,
    cols: usize,
    values: &[u8],
    spacing_mm: Option<[f64; 2]>,
) -> Result<Vec<u8>, EncodeError> {
    png_with(
        rows,
        cols,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        spacing_mm,
        values,
    )
}

/// A 16-bit grey PNG of `values`, rounded and clamped to 0..=65535.
pub fn png_grey16(
    rows: usize,
    cols: usize,
    values: &[f32],
    spacing_mm: Option<[f64; 2]>,
) -> Result<Vec<u8>, EncodeError> {
    let data: Vec<u8> = values
        .iter()
        .flat_map(|v| (v.round().clamp(0.0, 65535.0) as u16).to_be_bytes())
        .collect();
    png_with(
        rows,
        cols,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        spacing_mm,
        &data,
    )
}

/// Voxel data for [`nifti1`].
pub enum NiftiData<'a> {
    /// 32-bit floats (images).
    F32(&'a [f32]),
    /// Unsigned bytes (label volumes, masks).
    U8(&'a [u8]),
}

/// A single-file little-endian NIfTI-1 volume of `slices` (all the same size), columns fastest,
/// with spacing, thickness and an sform built from the first slice's position and orientation
/// and the step to the second slice (converted from DICOM's LPS to NIfTI's RAS). `gzip` makes a
/// .nii.gz.
pub fn nifti1(slices: &[Slice], data: NiftiData<'_>, gzip: bool) -> Result<Vec<u8>, EncodeError> {
    let first = slices.first().ok_or(EncodeError {
        format: "NIfTI",
        message: "no slices".into(),
    })?;
    let (rows, cols, depth) = (first.rows, first.cols, slices.len());
    let image = matches!(data, NiftiData::F32(_));
    let (datatype, bitpix, payload): (i16, i16, Vec<u8>) = match data {
        NiftiData::F32(v) => (16, 32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        NiftiData::U8(v) => (2, 8, v.to_vec()),
    };
    let expected = rows * cols * depth * (bitpix as usize / 8);
    if payload.len() != expected {
        return Err(EncodeError {
            format: "NIfTI",
            message: format!(
                "{} data bytes for {cols} x {rows} x {depth} voxels",
                payload.len()
            ),
        });
    }
    let mut h = vec![0u8; 352];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 =
        |h: &mut Vec<u8>, at: usize, v: f32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let dims = [3i16, cols as i16, rows as i16, depth as i16, 1, 1, 1, 1];
    for (k, d) in dims.iter().enumerate() {
        put_i16(&mut h, 40 + 2 * k, *d);
    }
    put_i16(&mut h, 70, datatype);
    put_i16(&mut h, 72, bitpix);
    // The step from one slice to the next, direction included: slices stored against the normal
    // (a series sorted by a SliceLocation whose sign runs the other way) must be placed that
    // way, or every slice of the volume lands on another's position.
    let n = first.normal();
    let along = |d: f64| [n[0] * d, n[1] * d, n[2] * d];
    let step = match slices.get(1) {
        Some(next) => {
            let d: Vec<f64> = (0..3)
                .map(|i| next.position_mm[i] - first.position_mm[i])
                .collect();
            if d.iter().map(|v| v * v).sum::<f64>().sqrt() > 1e-6 {
                [d[0], d[1], d[2]]
            } else {
                along(first.thickness_mm)
            }
        }
        None => along(first.thickness_mm),
    };
    let thickness = step.iter().map(|v| v * v).sum::<f64>().sqrt();
    let pixdim = [
        1.0,
        first.spacing_mm[1],
        first.spacing_mm[0],
        thickness,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    for (k, p) in pixdim.iter().enumerate() {
        put_f32(&mut h, 76 + 4 * k, *p as f32);
    }
    put_f32(&mut h, 108, 352.0); // vox_offset
    put_f32(&mut h, 112, 1.0); // scl_slope
    // An image's display range, where its first slice came with a window.
    if let (true, Some([centre, width])) = (image, first.display_window) {
        put_f32(&mut h, 124, (centre + width / 2.0) as f32); // cal_max
        put_f32(&mut h, 128, (centre - width / 2.0) as f32); // cal_min
    }
    h[123] = 2; // xyzt_units: mm
    put_i16(&mut h, 252, 0); // qform_code
    put_i16(&mut h, 254, 1); // sform_code: scanner
    // Columns of the affine: row direction * col spacing, column direction * row spacing, the
    // slice step; LPS -> RAS flips x and y.
    let o = first.orientation;
    let p = first.position_mm;
    let ras = [-1.0, -1.0, 1.0];
    for axis in 0..3 {
        let row = [
            ras[axis] * o[axis] * first.spacing_mm[1],
            ras[axis] * o[3 + axis] * first.spacing_mm[0],
            ras[axis] * step[axis],
            ras[axis] * p[axis],
        ];
        for (k, v) in row.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * axis + 4 * k, *v as f32);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(&payload);
    if !gzip {
        return Ok(h);
    }
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&h)
        .and_then(|_| encoder.finish())
        .map_err(|e| EncodeError {
            format: "NIfTI",
            message: e.to_string(),
        })
}

/// `obj` as a DICOM Part 10 file in transfer syntax `syntax`, as SOP `class` instance
/// `instance`; what went wrong otherwise.
pub(crate) fn part10(
    obj: InMemDicomObject,
    syntax: &str,
    class: &str,
    instance: &str,
) -> Result<Vec<u8>, String> {
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(syntax)
                .media_storage_sop_class_uid(class)
                .media_storage_sop_instance_uid(instance),
        )
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    file.write_all(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// DICOM transfer syntaxes the writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DicomSyntax {
    /// Explicit VR little endian (the usual one).
    ExplicitLittle,
    /// Implicit VR little endian (the default one).
    ImplicitLittle,
    /// Explicit VR big endian (retired, still found in archives).
    ExplicitBig,
    /// Deflated explicit VR little endian.
    Deflated,
}

impl DicomSyntax {
    fn uid(self) -> &'static str {
        match self {
            DicomSyntax::ExplicitLittle => uids::EXPLICIT_VR_LITTLE_ENDIAN,
            DicomSyntax::ImplicitLittle => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            // Retired in the standard, so the dictionary marks it deprecated; archives keep it.
            DicomSyntax::ExplicitBig => "1.2.840.10008.1.2.2",
            DicomSyntax::Deflated => uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
        }
    }
}

/// Identifiers that tie the slices of one series together.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesIds {
    /// Study Instance UID.
    pub study_uid: String,
    /// Series Instance UID.
    pub series_uid: String,
    /// Patient name, also written as the Patient ID (the phantom writes its case name).
    pub patient_name: String,
}

/// A single-frame MR DICOM of `slice`, stored as unsigned 16-bit values with RescaleSlope and
/// RescaleIntercept chosen to span the slice's range.
pub fn dicom_mr(
    slice: &Slice,
    ids: &SeriesIds,
    instance: u32,
    syntax: DicomSyntax,
) -> Result<Vec<u8>, EncodeError> {
    let err = |e: &dyn std::fmt::Display| EncodeError {
        format: "DICOM",
        message: e.to_string(),
    };
    let (lo, hi) = slice
        .pixels
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo.is_finite() {
        (lo as f64, hi as f64)
    } else {
        (0.0, 0.0)
    };
    let slope = if hi > lo { (hi - lo) / 65535.0 } else { 1.0 };
    let stored: Vec<u16> = slice
        .pixels
        .iter()
        .map(|v| ((*v as f64 - lo) / slope).round().clamp(0.0, 65535.0) as u16)
        .collect();
    let sop_uid = format!("{}.{instance}", ids.series_uid);
    let ds = |v: f64| format!("{v:.6}");
    let multi = |v: &[f64]| v.iter().map(|x| ds(*x)).collect::<Vec<_>>().join("\\");
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| {
        obj.put(DataElement::new(tag, vr, value));
    };
    put(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE.into());
    put(tags::SOP_INSTANCE_UID, VR::UI, sop_uid.clone().into());
    put(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        ids.study_uid.clone().into(),
    );
    put(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        ids.series_uid.clone().into(),
    );
    // One space for the series, so that derived objects (a segmentation) can be placed on it.
    put(
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        format!("{}.0", ids.series_uid).into(),
    );
    put(tags::MODALITY, VR::CS, "MR".into());
    put(tags::PATIENT_NAME, VR::PN, ids.patient_name.clone().into());
    put(tags::PATIENT_ID, VR::LO, ids.patient_name.clone().into());
    // The MR Image IOD's type 2 attributes, empty where a synthetic case has nothing to say, so
    // that an archive takes the series (and a segmentation of it) as it takes a scanner's.
    for (tag, vr) in [
        (tags::PATIENT_BIRTH_DATE, VR::DA),
        (tags::PATIENT_SEX, VR::CS),
        (tags::STUDY_DATE, VR::DA),
        (tags::STUDY_TIME, VR::TM),
        (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
        (tags::STUDY_ID, VR::SH),
        (tags::ACCESSION_NUMBER, VR::SH),
        (tags::POSITION_REFERENCE_INDICATOR, VR::LO),
        (tags::SCAN_OPTIONS, VR::CS),
        (tags::ECHO_TIME, VR::DS),
        (tags::ECHO_TRAIN_LENGTH, VR::IS),
        (tags::REPETITION_TIME, VR::DS),
        (tags::INVERSION_TIME, VR::DS),
    ] {
        put(tag, vr, PrimitiveValue::Empty);
    }
    put(tags::SERIES_NUMBER, VR::IS, "1".into());
    put(tags::PATIENT_POSITION, VR::CS, "HFS".into());
    put(tags::BODY_PART_EXAMINED, VR::CS, "HEART".into());
    put(tags::MANUFACTURER, VR::LO, "ScarSeg phantom".into());
    put(tags::MR_ACQUISITION_TYPE, VR::CS, "2D".into());
    put(
        tags::IMAGE_TYPE,
        VR::CS,
        PrimitiveValue::Strs(
            vec![
                "DERIVED".to_string(),
                "PRIMARY".to_string(),
                "OTHER".to_string(),
            ]
            .into(),
        ),
    );
    put(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "ScarSeg synthetic LGE phantom".into(),
    );
    // What the phantom simulates, an inversion-recovery gradient echo, so that readers (the
    // decoder's warning for images that are not inversion recovery, among them) see LGE.
    put(
        tags::SCANNING_SEQUENCE,
        VR::CS,
        PrimitiveValue::Strs(["GR".to_string(), "IR".to_string()].into()),
    );
    put(
        tags::SEQUENCE_VARIANT,
        VR::CS,
        PrimitiveValue::Strs(["SP".to_string(), "MP".to_string()].into()),
    );
    put(tags::INSTANCE_NUMBER, VR::IS, instance.to_string().into());
    put(tags::PIXEL_SPACING, VR::DS, multi(&slice.spacing_mm).into());
    put(tags::SLICE_THICKNESS, VR::DS, ds(slice.thickness_mm).into());
    put(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        multi(&slice.position_mm).into(),
    );
    put(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        multi(&slice.orientation).into(),
    );
    put(
        tags::SLICE_LOCATION,
        VR::DS,
        ds(slice
            .slice_location_mm
            .unwrap_or_else(|| slice.position_along_normal()))
        .into(),
    );
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2".into(),
    );
    put(tags::ROWS, VR::US, PrimitiveValue::from(slice.rows as u16));
    put(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(slice.cols as u16),
    );
    put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
    put(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16));
    put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16));
    put(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0u16),
    );
    // The window the slice came with (a scanner's, kept through a round trip).
    if let Some([centre, width]) = slice.display_window {
        put(tags::WINDOW_CENTER, VR::DS, ds(centre).into());
        put(tags::WINDOW_WIDTH, VR::DS, ds(width).into());
    }
    put(tags::RESCALE_INTERCEPT, VR::DS, ds(lo).into());
    put(tags::RESCALE_SLOPE, VR::DS, format!("{slope:.9e}").into());
    put(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(stored.into()));
    part10(obj, syntax.uid(), uids::MR_IMAGE_STORAGE, &sop_uid).map_err(|e| err(&e))
}
