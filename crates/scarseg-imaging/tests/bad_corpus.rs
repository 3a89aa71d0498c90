//! Every file in the committed bad-file corpus (`tests/corpus/bad/`, made by
//! `cargo run -p scarseg-imaging --example bad_corpus`) fails with its own specific, typed error
//! that names the file, and never panics.

use scarseg_imaging::decode::{decode_file, decode_label_file};
use scarseg_imaging::{ErrorKind, Limits};

/// This crate's folder, read when the test runs (cargo sets it), because a test binary reused
/// from a target directory shared with another clone still has that clone's path compiled in.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/bad/{name}", manifest_dir());
    std::fs::read(&path).expect("corpus file")
}

fn decode(name: &str) -> ErrorKind {
    let bytes = corpus(name);
    let err = decode_file(name, &bytes, &Limits::default()).expect_err("a bad file must fail");
    assert_eq!(err.file, name);
    assert!(err.to_string().starts_with(&format!("{name}: ")), "{err}");
    err.kind
}

#[test]
fn empty_file() {
    assert_eq!(decode("empty.dcm"), ErrorKind::Empty);
}

#[test]
fn wrong_magic() {
    assert_eq!(decode("wrong_magic.dcm"), ErrorKind::UnknownFormat);
}

#[test]
fn truncated_dicom() {
    assert!(
        matches!(decode("truncated.dcm"), ErrorKind::Truncated(_)),
        "{:?}",
        decode("truncated.dcm")
    );
}

#[test]
fn truncated_nifti_data_and_header() {
    match decode("truncated.nii") {
        ErrorKind::Truncated(m) => assert!(m.contains("declares 608 bytes"), "{m}"),
        other => panic!("{other:?}"),
    }
    match decode("truncated_header.nii") {
        ErrorKind::Truncated(m) => assert!(m.contains("348-byte"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_png() {
    assert!(
        matches!(decode("truncated.png"), ErrorKind::Truncated(_)),
        "{:?}",
        decode("truncated.png")
    );
}

#[test]
fn absurd_declared_sizes() {
    assert_eq!(
        decode("absurd_size.nii"),
        ErrorKind::BadDimensions {
            rows: 30000,
            cols: 30000,
            limit: 4096
        }
    );
    assert_eq!(
        decode("absurd_size.dcm"),
        ErrorKind::BadDimensions {
            rows: 60000,
            cols: 60000,
            limit: 4096
        }
    );
}

#[test]
fn nan_and_infinity() {
    assert_eq!(
        decode("nan_inf.nii"),
        ErrorKind::NonFinitePixels { count: 2 }
    );
}

#[test]
fn constant_image() {
    assert_eq!(
        decode("constant.png"),
        ErrorKind::ConstantImage { value: 77.0 }
    );
    // The same file as a label map is a map of one label, not an error: a slice beyond the
    // heart is all background.
    let labels = decode_label_file("constant.png", &corpus("constant.png"), &Limits::default())
        .expect("a constant label map decodes");
    assert!(labels.slices[0].pixels.iter().all(|v| *v == 77.0));
    // NaN is refused in labels too.
    let err = decode_label_file("nan_inf.nii", &corpus("nan_inf.nii"), &Limits::default())
        .expect_err("NaN labels");
    assert_eq!(err.kind, ErrorKind::NonFinitePixels { count: 2 });
}

#[test]
fn unsupported_transfer_syntax() {
    match decode("jpeg_xl.dcm") {
        ErrorKind::UnsupportedTransferSyntax { uid, name, hint } => {
            assert_eq!(uid, "1.2.840.10008.1.2.4.110");
            assert!(name.contains("JPEG XL"), "{name}");
            assert!(hint.contains("convert"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_jpeg_ls_stream_cut_in_its_frame_header() {
    // FF D8, then an SOF55 marker whose segment length is 0.
    assert_eq!(
        decode("jpeg_ls.dcm").to_string(),
        "DICOM: JPEG-LS frame 1: a frame header (SOF55) of 0 bytes"
    );
}

#[test]
fn dicom_without_pixel_data() {
    // An MR image object with its Pixel Data removed: named by its SOP class.
    let kind = decode("no_pixel_data.dcm");
    assert_eq!(
        kind.to_string(),
        "not an image: a DICOM MR Image Storage object without Pixel Data (7FE0,0010)"
    );
    assert!(matches!(kind, ErrorKind::NotAnImage(_)));
}

#[test]
fn file_over_the_byte_limit() {
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let err = decode_file("big.nii", &[0u8; 101], &limits).expect_err("too large");
    assert_eq!(
        err.kind,
        ErrorKind::TooLarge {
            bytes: 101,
            limit: 100
        }
    );
}

#[test]
fn gzip_that_expands_past_the_limit() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 1 << 20]).expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let limits = Limits {
        max_bytes: 64 * 1024,
        ..Limits::default()
    };
    let err = decode_file("bomb.nii.gz", &bytes, &limits).expect_err("bomb");
    assert!(
        matches!(err.kind, ErrorKind::TooLarge { limit: 65536, .. }),
        "{err}"
    );
}

/// Regression (found by fuzzing `decode_dicom`): a file meta element declaring about 4 GB made
/// dicom-rs reserve that much before reading.
#[test]
fn forged_meta_length_is_truncation_not_a_huge_allocation() {
    match decode("forged_meta_length.dcm") {
        ErrorKind::Truncated(m) => assert!(m.contains("file meta element"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): an element of the data set body, (E7E7,E7E7),
/// declares 3,890,735,079 bytes in an 891-byte file; dicom-parser reserved that much before
/// reading (3.8 GB resident). The walk over the body's element headers refuses it first.
#[test]
fn forged_body_length_is_truncation_not_a_huge_allocation() {
    match decode("forged_body_length.dcm") {
        ErrorKind::Truncated(m) => {
            assert!(m.contains("(E7E7,E7E7) declares 3890735079 bytes"), "{m}")
        }
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): the meta group's declared length (194) takes in
/// zero-filled elements of group 0000, so the implicit VR body starts at byte 346 with
/// (0000,0000) declaring 4,294,966,016 bytes. The meta walk used to decode that first body
/// header as explicit VR, fail, and skip the body check, and dicom-parser reserved 4 GB.
#[test]
fn forged_length_right_after_the_meta_group_is_truncation() {
    match decode("forged_length_after_meta.dcm") {
        ErrorKind::Truncated(m) => {
            assert!(
                m.contains("(0000,0000) declares 4294966016 bytes, 0 remain"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): (0020,0013) is an FD of 2 bytes. dicom-parser
/// reads 2 / 8 = 0 values and takes the 2 bytes for the start of the next header, whose
/// "length" then becomes 4,294,701,047 bytes and is reserved (an allocation failure in the
/// browser). A binary value must hold whole values; the walk refuses the element first.
#[test]
fn partial_binary_value_is_refused_before_dicom_rs_loses_its_place() {
    match decode("partial_binary_value.dcm") {
        ErrorKind::Dicom(m) => assert!(
            m.contains("(0020,0013) (FD) has 2 bytes, not a whole number of 8-byte values"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): a NIfTI header whose vox_offset is a huge float
/// overflowed the size arithmetic (a panic in debug builds); it is a truncated file.
#[test]
fn huge_nifti_vox_offset_is_truncation_not_an_overflow() {
    let mut bytes = corpus("nan_inf.nii");
    // vox_offset is the f32 at byte 108 of a NIfTI-1 header (little endian here).
    bytes[108..112].copy_from_slice(&1e30f32.to_le_bytes());
    let err = decode_file("offset.nii", &bytes, &Limits::default()).expect_err("must fail");
    assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
}

/// Regression (found by fuzzing `decode_any`): the transfer syntax UID is
/// "1.2.840.10008.1.2\0\t\0". dicom-object trims any whitespace and reads the body as implicit
/// VR little endian, where (0000,0000) declares 4,294,966,016 bytes that dicom-parser reserves;
/// the body walk must pick the same decoder to see that length.
#[test]
fn uid_padded_with_a_tab_is_walked_as_dicom_rs_reads_it() {
    match decode("uid_padded_with_tab.dcm") {
        ErrorKind::Truncated(m) => assert!(m.contains("declares 4294966016 bytes"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): an item (FFFE,E000) in the top-level data set.
/// dicom-parser reads it as a pixel data fragment and goes on reading item headers out of step
/// with the data, until four bytes of a later tag become a 4,294,836,224-byte length that it
/// reserves. No valid file has such an item; it is refused before dicom-rs reads the body.
#[test]
fn item_outside_a_sequence_is_refused() {
    match decode("item_outside_sequence.dcm") {
        ErrorKind::Dicom(m) => assert!(
            m.contains("item (FFFE,E000) outside a sequence or encapsulated pixel data"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): a header (FFFE,DFDD), which is neither an item
/// nor a delimitation, declares 4,244,635,647 bytes with 8 left; dicom-parser reserves them.
#[test]
fn unknown_item_tag_is_truncation_not_a_huge_allocation() {
    match decode("unknown_item_tag.dcm") {
        ErrorKind::Truncated(m) => assert!(
            m.contains("item (FFFE,DFDD) declares 4244635647 bytes, 0 remain"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_dicom`, 2026-12-05): a dcmjs segmentation whose Study
/// Date declares 2824 bytes, which brings a sequence delimitation item of length 93 into step;
/// dicom-parser read those 93 bytes as a value, took a pixel value for the next header and
/// reserved 1.6 GB for a 3.5 KB file.
#[test]
fn a_delimitation_item_with_a_length_is_refused() {
    assert_eq!(
        decode("delimiter_with_length.dcm").to_string(),
        "DICOM: delimitation item (FFFE,E0DD) declares 93 bytes (the standard says 0)"
    );
}

/// Regression (found by fuzzing `decode_any`, 2026-12-05): a GDCM RLE image whose Pixel Data
/// says VR SQ. dicom-parser reads it as a sequence and the RLE header in its second item as a
/// data set's headers, one of which declared 3.1 GB; the walk had taken it for fragments.
#[test]
fn pixel_data_declared_a_sequence_is_walked_as_one() {
    match decode("pixel_data_as_sequence.dcm") {
        ErrorKind::Truncated(m) => assert!(
            m.contains("element (0BE7,11FC) declares 3114569594 bytes, 192 remain"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_jpeg_ls`, 2026-12-05): a JPEG-LS scan of garbage under
/// valid headers overflows pure_jpegls 2.0's i32 context statistics, a panic where overflow is
/// checked (this test's profile, but for the override in the workspace's Cargo.toml); wrapping,
/// as release builds do, the stream fails the decoder's own check.
#[test]
fn a_corrupt_jpeg_ls_scan_is_an_error_not_a_panic() {
    assert_eq!(
        decode("jpeg_ls_overflow.dcm").to_string(),
        "DICOM: JPEG-LS frame 1: truncated JPEG-LS stream at offset 323 (entropy-coded scan)"
    );
}

/// Regression (found by fuzzing `decode_any`, 2026-12-04): Samples per Pixel 0 on a 2 x 8
/// image, which split each frame into chunks of zero values (a panic).
#[test]
fn zero_samples_per_pixel_is_refused() {
    // And (found by fuzzing `decode_any`, 2026-12-05) on a JPEG Lossless 16 x 12 image, where
    // dicom-rs's JPEG adapter sized its output by the 0 and indexed past it (a panic).
    for file in ["samples_per_pixel_0.dcm", "jpeg_samples_per_pixel_0.dcm"] {
        assert_eq!(
            decode(file).to_string(),
            "DICOM: Samples per Pixel (0028,0002) is 0: expected 1 (grey) or 3 (colour)",
            "{file}"
        );
    }
}

/// Regression (found by fuzzing `decode_any`, 2026-12-03): Bits Stored 1040 with 16 allocated,
/// on which dicom-pixeldata's rescale lookup table asserts (a panic) rather than returning an
/// error.
#[test]
fn absurd_bits_stored_is_refused() {
    match decode("bits_stored_1040.dcm") {
        ErrorKind::Dicom(m) => assert!(
            m.contains("Bits Stored (0028,0101) is 1040 with Bits Allocated (0028,0100) 16"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_any`): a deflated body whose inflated data set declares
/// about 4 GB; dicom-rs reserves lengths it inflates as it reserves plain ones. The body is
/// inflated within the size limit and walked before dicom-rs reads it. The stream is also
/// damaged further on, and flate2's backends differ in how much they inflate before saying so
/// (miniz_oxide, this crate's alone, inflates the forged header; zlib-rs, which burn's
/// dependencies select in the workspace build, nothing): either the walk sees the length, or
/// the stream is refused as corrupt; both inflate with the same backend, so dicom-rs never gets
/// further than the walk.
#[test]
fn deflated_body_with_a_forged_length_is_refused() {
    match decode("deflated_forged_length.dcm") {
        ErrorKind::Truncated(m) => assert!(m.contains("declares 4177066232 bytes"), "{m}"),
        ErrorKind::Dicom(m) => assert!(m.contains("corrupt deflate stream"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_nifti`): five dimensions of 32767 overflowed the plane
/// count (a panic in debug builds); it is a slice count over the limit.
#[test]
fn nifti_plane_count_that_overflows_is_too_many_slices() {
    let mut bytes = corpus("nan_inf.nii");
    // dim[0..8] are the i16s at byte 40 of a NIfTI-1 header (little endian here).
    let dims: [i16; 8] = [7, 4, 4, 32767, 32767, 32767, 32767, 32767];
    for (k, d) in dims.iter().enumerate() {
        bytes[40 + 2 * k..42 + 2 * k].copy_from_slice(&d.to_le_bytes());
    }
    let err = decode_file("planes.nii", &bytes, &Limits::default()).expect_err("must fail");
    match err.kind {
        ErrorKind::TooManySlices { count, limit } => {
            assert_eq!(count, u64::MAX);
            assert_eq!(limit, Limits::default().max_slices);
        }
        other => panic!("{other:?}"),
    }
}

/// Regression (found by fuzzing `decode_dicom` once its seeds were real DICOM bodies,
/// 2026-12-04): a JPEG frame that declares 21256 x 67 pixels in an 8 x 8 image. dicom-rs 0.10's
/// JPEG adapter copies the decoded frame into a buffer sized from Rows and Columns without
/// comparing: index out of range, a panic.
#[test]
fn a_jpeg_frame_larger_than_the_header_is_refused() {
    assert_eq!(
        decode("jpeg_larger_than_header.dcm").to_string(),
        "DICOM: the compressed frame is a JPEG image of 21256 x 67 pixels of 3 byte(s), but the \
         header declares 8 x 8 pixels of 3 sample(s) (8 bits allocated)"
    );
}

/// The same for JPEG 2000: the good corpus's GDCM file (a 12 x 16 codestream) with Rows edited
/// from 16 to 8. dicom-rs's JPEG 2000 adapter writes each component's samples at offsets
/// computed from the codestream's size into a buffer sized from the header.
#[test]
#[cfg(not(target_arch = "wasm32"))]
fn a_jpeg_2000_frame_larger_than_the_header_is_refused() {
    let path = format!("{}/tests/corpus/good/jpeg2000_lossless.dcm", manifest_dir());
    let mut bytes = std::fs::read(path).expect("good file");
    // (0028,0010) Rows, US, 2 bytes, explicit VR little endian: 28 00 10 00 'U' 'S' 02 00 16 00.
    let rows = [0x28, 0x00, 0x10, 0x00, b'U', b'S', 0x02, 0x00, 0x10, 0x00];
    let at = bytes
        .windows(rows.len())
        .position(|w| w == rows)
        .expect("the Rows element");
    bytes[at + 8] = 8;
    let err = decode_file("rows_8.dcm", &bytes, &Limits::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "rows_8.dcm: DICOM: the compressed frame is a JPEG 2000 image of 12 x 16 pixels and 1 \
         component(s), but the header declares 12 x 8 pixels of 1 sample(s) (16 bits allocated)"
    );
}

/// Regression (found by fuzzing `decode_dicom`, 2026-12-04): an RLE frame whose header declares
/// 131074 segments. dicom-rs 0.10's RLE adapter slices the header by that count without
/// checking it against the 64 bytes there are: index out of range, a panic.
#[test]
fn an_rle_header_with_too_many_segments_is_refused() {
    assert_eq!(
        decode("rle_segment_count.dcm").to_string(),
        "DICOM: RLE frame 1: 131074 segments where 2 (one per byte of each sample, at most 15) \
         are expected"
    );
}

/// An RLE segment that decodes to fewer bytes than the image has pixels: the good corpus's GDCM
/// RLE file (16 x 12, 16-bit: two segments) with the second segment's offset moved to 2 bytes
/// after the first's. dicom-rs's RLE adapter indexes past the decoded bytes (a panic).
#[test]
fn a_short_rle_segment_is_refused() {
    let path = format!("{}/tests/corpus/good/rle_lossless.dcm", manifest_dir());
    let mut bytes = std::fs::read(path).expect("good file");
    // The RLE header: 2 segments, the first at byte 64.
    let header = [2, 0, 0, 0, 64, 0, 0, 0];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .expect("the RLE header");
    bytes[at + 8..at + 12].copy_from_slice(&66u32.to_le_bytes());
    let err = decode_file("short.dcm", &bytes, &Limits::default()).expect_err("refused");
    let message = err.to_string();
    assert!(
        message.starts_with("short.dcm: DICOM: RLE frame 1: segment 1 holds ")
            && message.ends_with(" of the image's 192 pixels"),
        "{message}"
    );
}
