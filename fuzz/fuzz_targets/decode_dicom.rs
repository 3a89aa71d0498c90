//! Bytes after a DICOM preamble and "DICM", so every input reaches the DICOM decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_imaging::{
    Limits,
    decode::{decode_file, decode_series_stacks, dicom_patient_id},
};

fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(data);
    let limits = Limits { max_bytes: 1 << 24, max_side: 1024, max_slices: 64 };
    let _ = decode_file("fuzz.dcm", &bytes, &limits);
    // A folder of two copies: its slices are grouped into stacks by series and acquisition
    // across files (the size check, the slice limit, the part labels).
    let files = [("a.dcm".to_string(), bytes.clone()), ("b.dcm".to_string(), bytes.clone())];
    let _ = decode_series_stacks("fuzz", &files, &limits);
    // `--pairs` reads the Patient ID of files it has not decoded yet.
    let _ = dicom_patient_id(&bytes, &limits);
});
