//! Regenerates the committed corpus of bad files in `tests/corpus/bad/` that
//! `tests/bad_corpus.rs` checks, one file per way an upload can be wrong.
//!
//! `cargo run -p scarseg-imaging --example bad_corpus`

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, open_file};
use scarseg_imaging::Slice;
use scarseg_imaging::encode::{DicomSyntax, NiftiData, SeriesIds, dicom_mr, nifti1, png_grey8};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad");
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes);

    let pixels: Vec<f32> = (0..64).map(|v| v as f32).collect();
    let slice = Slice::new(8, 8, pixels.clone(), "good");
    let ids = SeriesIds {
        study_uid: "1.2.826.0.1.3680043.10.1234.9".into(),
        series_uid: "1.2.826.0.1.3680043.10.1234.9.1".into(),
        patient_name: "corpus".into(),
    };
    let dicom = dicom_mr(&slice, &ids, 1, DicomSyntax::ExplicitLittle)?;
    let nifti = nifti1(std::slice::from_ref(&slice), NiftiData::F32(&pixels), false)?;
    let png = png_grey8(8, 8, &(0..64).map(|v| v as u8).collect::<Vec<_>>(), None)?;

    write("empty.dcm", &[])?;
    write("truncated.dcm", &dicom[..dicom.len() - 60])?;
    write("truncated.nii", &nifti[..nifti.len() - 40])?;
    write("truncated_header.nii", &nifti[..200])?;
    write("truncated.png", &png[..png.len() / 2])?;
    write(
        "wrong_magic.dcm",
        b"This is a text file that somebody named .dcm by mistake.\n",
    )?;

    // NIfTI declaring 30000 x 30000 x 30000 voxels in a 352-byte file.
    let mut absurd = nifti[..352].to_vec();
    for (k, d) in [3i16, 30000, 30000, 30000].iter().enumerate() {
        absurd[40 + 2 * k..42 + 2 * k].copy_from_slice(&d.to_le_bytes());
    }
    write("absurd_size.nii", &absurd)?;

    // NIfTI float image with NaN and infinity.
    let mut bad_values = pixels.clone();
    bad_values[3] = f32::NAN;
    bad_values[10] = f32::INFINITY;
    write(
        "nan_inf.nii",
        &nifti1(
            std::slice::from_ref(&slice),
            NiftiData::F32(&bad_values),
            false,
        )?,
    )?;

    write("constant.png", &png_grey8(8, 8, &[77u8; 64], None)?)?;

    // DICOM declaring 60000 x 60000 pixels (Rows/Columns patched in the good file).
    let path = dir.join("tmp_good.dcm");
    std::fs::write(&path, &dicom)?;
    let mut obj = open_file(&path)?;
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        dicom_core::PrimitiveValue::from(60000u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        dicom_core::PrimitiveValue::from(60000u16),
    ));
    let mut out = Vec::new();
    obj.write_all(&mut out)?;
    write("absurd_size.dcm", &out)?;

    // JPEG-LS encapsulated pixel data: a real transfer syntax that pure-Rust builds cannot decode.
    let mut obj = open_file(&path)?.into_inner();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(
            vec![],
            vec![vec![0xFF, 0xD8, 0xFF, 0xF7, 0, 0]],
        )),
    ));
    let file = obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::JPEGLS_LOSSLESS)
            .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("1.2.826.0.1.3680043.10.1234.9.1.1"),
    )?;
    let mut out = Vec::new();
    file.write_all(&mut out)?;
    // A JPEG-LS stream cut inside its frame header (SOF55 of length 0).
    write("jpeg_ls.dcm", &out)?;
    // The same fragments under a syntax nothing here decodes (JPEG XL).
    let mut file = file;
    file.update_meta(|meta| {
        meta.set_transfer_syntax(&dicom_transfer_syntax_registry::entries::JPEG_XL_LOSSLESS)
    });
    let mut out = Vec::new();
    file.write_all(&mut out)?;
    write("jpeg_xl.dcm", &out)?;

    // DICOM without pixel data (a structured report, say).
    let mut obj = open_file(&path)?;
    obj.remove_element(tags::PIXEL_DATA);
    let mut out = Vec::new();
    obj.write_all(&mut out)?;
    write("no_pixel_data.dcm", &out)?;

    std::fs::remove_file(&path)?;
    println!("wrote the bad-file corpus to {}", dir.display());
    Ok(())
}
