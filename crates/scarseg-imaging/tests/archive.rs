//! ZIP archives of a study, written by Python's zipfile (`tests/corpus/make_good_corpus.py`
//! `archives`): their files read back byte for byte, and the hostile ones refused by name.

use scarseg_imaging::archive::{is_zip, unzip};
use scarseg_imaging::{ErrorKind, Limits};

fn corpus(kind: &str, name: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(format!("{dir}/tests/corpus/{kind}/{name}")).expect("corpus file")
}

#[test]
fn a_study_archive_gives_its_files_under_the_archive_name() {
    let bytes = corpus("good", "study.zip");
    assert!(is_zip(&bytes));
    let unzipped = unzip("study.zip", &bytes, &Limits::default()).expect("opens");
    assert!(unzipped.errors.is_empty(), "{:?}", unzipped.errors);
    // The folder's own entry and macOS's __MACOSX resource fork are left out; the readme is a
    // file like the others (whether it is an image is the caller's question).
    let names: Vec<&str> = unzipped.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "study.zip/SE1/IM1.dcm",
            "study.zip/SE1/IM2.dcm",
            "study.zip/SE1/IM3.dcm",
            "study.zip/volume.nii",
            "study.zip/readme.txt",
        ]
    );
    // Deflated and stored entries come back as the files that went in.
    for (k, (_, data)) in unzipped.files.iter().take(3).enumerate() {
        assert_eq!(
            *data,
            corpus("good", &format!("seg_mr_{k}.dcm")),
            "IM{}",
            k + 1
        );
    }
    assert_eq!(unzipped.files[3].1, corpus("good", "qform_left_handed.nii"));
    assert_eq!(unzipped.files[4].1, b"Exported by a web PACS.\n");
    assert!(!is_zip(&corpus("good", "seg_mr_0.dcm")));
}

#[test]
fn hostile_archives_are_refused_by_name() {
    // A path that climbs out of the archive is refused; the entry beside it is read.
    let unzipped = unzip(
        "slip.zip",
        &corpus("bad", "zip_slip.zip"),
        &Limits::default(),
    )
    .expect("opens");
    let names: Vec<&str> = unzipped.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["slip.zip/IM2.dcm"]);
    assert_eq!(unzipped.files[0].1, corpus("good", "seg_mr_1.dcm"));
    let errors: Vec<String> = unzipped.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        [
            "slip.zip/../IM1.dcm: ZIP archive: cannot be read from the archive: a path that leaves \
          the archive (absolute, or through ..)"
        ]
    );

    // 2 MiB of zeros deflated to 2 KiB: under a 1 MiB limit the inflation stops at the limit.
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = unzip("bomb.zip", &corpus("bad", "zip_bomb.zip"), &small).expect_err("a bomb");
    assert_eq!(e.file, "bomb.zip");
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: (1 << 20) + 1,
            limit: 1 << 20
        }
    );
    // Read under the default limit, it is one file of 2 MiB.
    let whole = unzip(
        "bomb.zip",
        &corpus("bad", "zip_bomb.zip"),
        &Limits::default(),
    )
    .expect("under the default limit");
    assert_eq!(whole.files[0].1.len(), 2 << 20);

    // Cut before its central directory, the archive does not open.
    let e = unzip(
        "cut.zip",
        &corpus("bad", "zip_truncated.zip"),
        &Limits::default(),
    )
    .expect_err("cut");
    let message = e.to_string();
    assert!(
        message.starts_with("cut.zip: ZIP archive: not a ZIP archive that reads ("),
        "{message}"
    );
}
