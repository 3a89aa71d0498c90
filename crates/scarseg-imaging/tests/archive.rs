//! ZIP archives of a study, written by Python's zipfile (`tests/corpus/make_good_corpus.py`
//! `archives`): their files read back byte for byte, and the hostile ones refused by name.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use scarseg_imaging::archive::{ArchiveKind, PIECE_BYTES, Pause, Unpacking, archive_kind, unpack};
use scarseg_imaging::decode::worth_decoding;
use scarseg_imaging::{ErrorKind, Limits};

fn corpus(kind: &str, name: &str) -> Vec<u8> {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::fs::read(format!("{dir}/tests/corpus/{kind}/{name}")).expect("corpus file")
}

#[test]
fn a_study_archive_gives_its_files_under_the_archive_name() {
    let bytes = corpus("good", "study.zip");
    assert_eq!(archive_kind(&bytes), Some(ArchiveKind::Zip));
    let unzipped = unpack("study.zip", bytes, &Limits::default()).expect("opens");
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
    assert_eq!(archive_kind(&corpus("good", "seg_mr_0.dcm")), None);
}

/// An archive of `name` holding 2 MiB of zeros as one file: under a 1 MiB limit its reading
/// stops a byte past the limit; under the default limit it is that one file.
fn a_bomb_stops_at_the_limit(name: &str, bytes: Vec<u8>) {
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = unpack(name, bytes.clone(), &small).expect_err("a bomb");
    assert_eq!(e.file, name);
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: (1 << 20) + 1,
            limit: 1 << 20
        }
    );
    let whole = unpack(name, bytes, &Limits::default()).expect("under the default limit");
    assert_eq!(whole.files.len(), 1);
    assert_eq!(whole.files[0].1, vec![0; 2 << 20]);
}

#[test]
fn hostile_archives_are_refused_by_name() {
    // A path that climbs out of the archive is refused; the entry beside it is read.
    let unzipped = unpack(
        "slip.zip",
        corpus("bad", "zip_slip.zip"),
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

    // 2 MiB of zeros deflated to 2 KiB.
    a_bomb_stops_at_the_limit("bomb.zip", corpus("bad", "zip_bomb.zip"));

    // Cut before its central directory, the archive does not open.
    let e = unpack(
        "cut.zip",
        corpus("bad", "zip_truncated.zip"),
        &Limits::default(),
    )
    .expect_err("cut");
    let message = e.to_string();
    assert!(
        message.starts_with("cut.zip: ZIP archive: not a ZIP archive that reads ("),
        "{message}"
    );
}

#[test]
fn archives_inside_an_archive_are_read_as_its_folders() {
    let unzipped = unpack(
        "nested.zip",
        corpus("good", "nested.zip"),
        &Limits::default(),
    )
    .expect("opens");
    let names: Vec<&str> = unzipped.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "nested.zip/SE1.zip/IM1.dcm",
            "nested.zip/SE1.zip/IM2.dcm",
            "nested.zip/SE1.zip/IM3.dcm",
            "nested.zip/more/volume.zip/deeper.zip/volume.nii",
            "nested.zip/readme.txt",
        ]
    );
    for (k, (_, data)) in unzipped.files.iter().take(3).enumerate() {
        assert_eq!(*data, corpus("good", &format!("seg_mr_{k}.dcm")));
    }
    assert_eq!(unzipped.files[3].1, corpus("good", "qform_left_handed.nii"));
    // The cut archive inside does not open: named by its path, the others read.
    let errors: Vec<String> = unzipped.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("nested.zip/cut.zip: ZIP archive: not a ZIP archive that reads ("),
        "{errors:?}"
    );
}

#[test]
fn archives_nested_too_deep_or_inflating_too_far_are_refused() {
    // level1.zip holds level2.zip, level2.zip level3.zip, which holds level4.zip: one level
    // more than are opened.
    let unzipped = unpack(
        "deep.zip",
        corpus("bad", "zip_nest_deep.zip"),
        &Limits::default(),
    )
    .expect("opens");
    assert!(unzipped.files.is_empty());
    let errors: Vec<String> = unzipped.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        [
            "deep.zip/level1.zip/level2.zip/level3.zip/level4.zip: ZIP archive: cannot be read \
             from the archive: a ZIP archive 4 levels inside the first; archives are opened 3 \
             levels in: unzip it first"
        ]
    );

    // The bomb of the test above, inside an archive: the inner archive's own bytes count while
    // it is read, so the inflation stops where the limit is, as for the bomb alone.
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = unpack("outer.zip", corpus("bad", "zip_bomb_nested.zip"), &small)
        .expect_err("a bomb inside");
    assert_eq!(e.file, "outer.zip/zip_bomb.zip");
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: (1 << 20) + 1,
            limit: 1 << 20
        }
    );
}

/// CRC-32 as ZIP has it (ISO 3309's polynomial, reflected), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive of `entries` stored (not deflated), as APPNOTE.TXT lays one out: a local header
/// and the data for each, then the central directory and its end record.
fn stored_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(data), data.len() as u32);
        // Version 2.0, no flags, stored, a zero time and date.
        let common = |out: &mut Vec<u8>| {
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend(crc.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend([0, 0]);
        };
        out.extend(b"PK\x03\x04");
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(b"PK\x01\x02\x14\x00");
        common(&mut central);
        // No comment, disk 0, no attributes, then where the local header is.
        central.extend([0; 10]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (at, size, count) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend(central);
    out.extend(b"PK\x05\x06\0\0\0\0");
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(at.to_le_bytes());
    out.extend([0, 0]);
    out
}

/// An archive of `n` empty files.
fn empties(n: usize) -> Vec<u8> {
    let entries: Vec<_> = (0..n).map(|k| (format!("IM{k}"), vec![])).collect();
    stored_zip(&entries)
}

#[test]
fn entries_are_counted_with_the_archives_inside() {
    let limits = Limits::default();
    let outer = |inner: usize| {
        stored_zip(&[
            ("a.zip".into(), empties(inner)),
            ("b.zip".into(), empties(inner)),
        ])
    };
    // 2 + 2 x 9,999 = 20,000 entries: all read.
    let unzipped = unpack("outer.zip", outer(9_999), &limits).expect("at the limit");
    assert!(unzipped.errors.is_empty(), "{:?}", unzipped.errors);
    assert_eq!(unzipped.files.len(), 19_998);
    assert_eq!(unzipped.files[9_999].0, "outer.zip/b.zip/IM0");
    // 2 + 2 x 10,000: the second inner archive passes the limit, and is named.
    let e = unpack("outer.zip", outer(10_000), &limits).expect_err("over");
    assert_eq!(
        e.to_string(),
        "outer.zip/b.zip: ZIP archive: 10000 entries (20002 with the archives around it), over \
         the limit of 20000"
    );
    let e = unpack("flat.zip", empties(20_001), &limits).expect_err("over");
    assert_eq!(
        e.to_string(),
        "flat.zip: ZIP archive: 20001 entries, over the limit of 20000"
    );
    // The writer is checked against the reader on a file with content.
    let one = unpack(
        "one.zip",
        stored_zip(&[("IM1".into(), b"abc".to_vec())]),
        &limits,
    )
    .expect("reads");
    assert_eq!(one.files, [("one.zip/IM1".to_string(), b"abc".to_vec())]);
}

#[test]
fn an_archive_inside_counts_while_it_is_read_and_is_then_let_go() {
    // a.zip (a 1,000-byte IM1 and its headers) and then a 1,000-byte IM2: at most a.zip and IM1
    // are held at once (a.zip's bytes go once IM1 is out), never all three.
    let inner = stored_zip(&[("IM1".into(), vec![1; 1000])]);
    let outer = stored_zip(&[
        ("a.zip".into(), inner.clone()),
        ("IM2".into(), vec![2; 1000]),
    ]);
    let most = inner.len() as u64 + 1000;
    let limits = |max_bytes| Limits {
        max_bytes,
        ..Limits::default()
    };
    let read = unpack("outer.zip", outer.clone(), &limits(most)).expect("fits");
    let names: Vec<&str> = read.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["outer.zip/a.zip/IM1", "outer.zip/IM2"]);
    let e = unpack("outer.zip", outer, &limits(most - 1)).expect_err("a byte short");
    assert_eq!(e.file, "outer.zip/a.zip");
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: most,
            limit: most - 1
        }
    );
}

#[test]
fn a_dicom_file_whose_preamble_starts_like_an_archive_stays_a_file() {
    // The 128-byte preamble is the writer's to fill (DICOM allows a TIFF header there); one that
    // starts with a ZIP's signature does not make the file an archive.
    let mut dicom = corpus("good", "seg_mr_0.dcm");
    dicom[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(archive_kind(&dicom), None);
    assert_eq!(archive_kind(&dicom[..132]), None);
    // Without its DICM magic it would be taken for an archive.
    let mut no_magic = dicom.clone();
    no_magic[128..132].copy_from_slice(b"DICN");
    assert_eq!(archive_kind(&no_magic), Some(ArchiveKind::Zip));
    let read = unpack(
        "study.zip",
        stored_zip(&[("IM1.dcm".into(), dicom.clone())]),
        &Limits::default(),
    )
    .expect("reads");
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.files, [("study.zip/IM1.dcm".to_string(), dicom)]);
}

/// A pause that gives the thread back once (its future pends at its first poll), counted.
struct Yielding {
    pauses: usize,
}

impl Pause for Yielding {
    fn pause(&mut self) -> impl Future<Output = ()> {
        self.pauses += 1;
        let mut waited = false;
        std::future::poll_fn(move |_| {
            if std::mem::replace(&mut waited, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// `bytes` read by [`Unpacking::step_with`] as the page reads them, each future polled until it
/// is done: the files, the pauses, and how often a step was left waiting.
fn unzip_pausing(
    name: &str,
    bytes: Vec<u8>,
    limits: &Limits,
) -> (Vec<(String, Vec<u8>)>, usize, usize) {
    let mut unzipping = Unpacking::new(name, bytes, limits).expect("opens");
    let mut pause = Yielding { pauses: 0 };
    let mut pending = 0;
    loop {
        let more = {
            let mut step = pin!(unzipping.step_with(&mut pause));
            loop {
                match step.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(more) => break more.expect("a step"),
                    Poll::Pending => pending += 1,
                }
            }
        };
        if !more {
            break;
        }
    }
    (unzipping.into_unpacked().files, pause.pauses, pending)
}

#[test]
fn a_large_entry_is_inflated_a_piece_at_a_time() {
    // 3.5 pieces of a pattern, stored, and a small file: three full pieces each end with a
    // pause, the last half piece ends the entry, and the small file needs none.
    let large: Vec<u8> = (0..PIECE_BYTES * 7 / 2).map(|i| (i % 251) as u8).collect();
    let archive = stored_zip(&[
        ("SE1/volume.nii".into(), large.clone()),
        ("SE1/IM1".into(), b"small".to_vec()),
    ]);
    let limits = Limits::default();
    let (files, pauses, pending) = unzip_pausing("big.zip", archive.clone(), &limits);
    assert_eq!((pauses, pending), (3, 3));
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], ("big.zip/SE1/volume.nii".to_string(), large));
    assert_eq!(files[1], ("big.zip/SE1/IM1".to_string(), b"small".to_vec()));
    // Read without pauses, the same files.
    assert_eq!(
        unpack("big.zip", archive, &limits).expect("opens").files,
        files
    );

    // Deflated: the bomb's 2 MiB of zeros are two full pieces, then the end.
    let (files, pauses, _) = unzip_pausing("bomb.zip", corpus("bad", "zip_bomb.zip"), &limits);
    assert_eq!(pauses, 2);
    assert_eq!(files.len(), 1);
    assert!(files[0].1.len() == 2 << 20 && files[0].1.iter().all(|&b| b == 0));
}

/// `bytes` gunzipped (the test's own reading of the corpus's gzip files).
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).expect("gzip");
    out
}

fn names(unpacked: &scarseg_imaging::archive::Unpacked) -> Vec<&str> {
    unpacked.files.iter().map(|(n, _)| n.as_str()).collect()
}

fn messages(unpacked: &scarseg_imaging::archive::Unpacked) -> Vec<String> {
    unpacked.errors.iter().map(|e| e.to_string()).collect()
}

#[test]
fn a_tar_archive_gives_its_files_as_a_zip_archive_does() {
    // study.zip's files as `tar czf` packs them (Python's tarfile, GNU format; gzip's module):
    // the folder's own entry and the AppleDouble file beside IM1 left out.
    let packed = corpus("good", "study.tar.gz");
    let tar = gunzip(&packed);
    assert_eq!(archive_kind(&packed), Some(ArchiveKind::TarGz));
    // The CLI tells an archive from a file's first 512 bytes.
    assert_eq!(archive_kind(&packed[..512]), Some(ArchiveKind::TarGz));
    assert_eq!(archive_kind(&tar), Some(ArchiveKind::Tar));
    assert_eq!(archive_kind(&tar[..512]), Some(ArchiveKind::Tar));
    // Met in a folder, an archive is read whatever its name.
    assert!(worth_decoding("export/study.bin", &tar[..512]));
    assert!(worth_decoding("export/study.bin", &packed[..512]));
    // A gzipped NIfTI volume is not an archive, nor is a tar header whose checksum is off.
    assert_eq!(
        archive_kind(&corpus("good", "nifti2_big_endian.nii.gz")),
        None
    );
    let mut damaged = tar.clone();
    damaged[0] ^= 1;
    assert_eq!(archive_kind(&damaged), None);
    for (name, bytes) in [("study.tar.gz", packed), ("study.tar", tar)] {
        let unpacked = unpack(name, bytes, &Limits::default()).expect("opens");
        assert!(unpacked.errors.is_empty(), "{:?}", unpacked.errors);
        let want: Vec<String> = ["SE1/IM1.dcm", "SE1/IM2.dcm", "SE1/IM3.dcm", "volume.nii"]
            .iter()
            .chain(&["readme.txt"])
            .map(|p| format!("{name}/{p}"))
            .collect();
        assert_eq!(names(&unpacked), want);
        for (k, (_, data)) in unpacked.files.iter().take(3).enumerate() {
            assert_eq!(
                *data,
                corpus("good", &format!("seg_mr_{k}.dcm")),
                "IM{}",
                k + 1
            );
        }
        assert_eq!(unpacked.files[3].1, corpus("good", "qform_left_handed.nii"));
        assert_eq!(unpacked.files[4].1, b"Exported by a colleague's tar czf.\n");
    }
}

#[test]
fn long_names_links_and_pipes_in_a_tar_archive() {
    // A folder name of 133 characters (past the header's 100: a pax record in one archive, a
    // GNU long name in the other), `./` before every path, a symbolic link to the file (its
    // target's name too long as well) and a named pipe.
    let long = format!("series_{}stack", "LGE_PSIR_short_axis_".repeat(6));
    for file in ["paths_pax.tar", "paths_gnu.tar"] {
        let unpacked = unpack("paths.tar", corpus("good", file), &Limits::default()).expect(file);
        assert_eq!(
            names(&unpacked),
            [
                format!("paths.tar/{long}/IM1.dcm"),
                "paths.tar/SE2/IM2.dcm".to_string()
            ],
            "{file}"
        );
        assert_eq!(unpacked.files[0].1, corpus("good", "seg_mr_0.dcm"));
        assert_eq!(unpacked.files[1].1, corpus("good", "seg_mr_1.dcm"));
        // The link is left out (its target is read as itself); the pipe is named.
        assert_eq!(
            messages(&unpacked),
            [
                "paths.tar/pipe: tar archive: cannot be read from the archive: a device or a pipe, \
              not a file"
            ],
            "{file}"
        );
    }
}

#[test]
fn hostile_tar_archives_are_refused_by_name() {
    // Paths that climb out of the archive or start at the root are refused; the file beside
    // them is read.
    let unpacked = unpack(
        "slip.tar",
        corpus("bad", "tar_slip.tar"),
        &Limits::default(),
    )
    .expect("opens");
    assert_eq!(names(&unpacked), ["slip.tar/IM2.dcm"]);
    assert_eq!(unpacked.files[0].1, corpus("good", "seg_mr_1.dcm"));
    let leaves = "tar archive: cannot be read from the archive: a path that leaves the archive \
                  (absolute, or through ..)";
    assert_eq!(
        messages(&unpacked),
        [
            format!("slip.tar/../IM1.dcm: {leaves}"),
            format!("slip.tar//IM3.dcm: {leaves}")
        ]
    );

    // 2 MiB of zeros gzipped to 2 KiB (the header's 512 bytes counted with the file's).
    a_bomb_stops_at_the_limit("bomb.tar.gz", corpus("bad", "tar_bomb.tar.gz"));
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    // The same zeros as a hidden file, which is not kept: passing over them counts too.
    let hidden = corpus("bad", "tar_hidden_bomb.tar.gz");
    let e = unpack("hidden.tar.gz", hidden.clone(), &small).expect_err("a bomb");
    assert_eq!(
        e.kind,
        ErrorKind::TooLarge {
            bytes: 512 + (2 << 20),
            limit: 1 << 20
        }
    );
    let read = unpack("hidden.tar.gz", hidden, &Limits::default()).expect("read");
    assert_eq!(names(&read), ["hidden.tar.gz/IM2.dcm"]);

    // Cut 100 bytes into IM2's data: IM1 is read, IM2 is named, nothing after it is read.
    let cut = unpack(
        "cut.tar",
        corpus("bad", "tar_truncated.tar"),
        &Limits::default(),
    )
    .expect("opens");
    assert_eq!(names(&cut), ["cut.tar/SE1/IM1.dcm"]);
    assert_eq!(
        messages(&cut),
        [
            "cut.tar/SE1/IM2.dcm: tar archive: cannot be read from the archive: cut short (100 of \
          its 930 bytes)"
        ]
    );
    // Its gzip stream cut in half: what came before the cut is read, the cut named.
    let packed = corpus("good", "study.tar.gz");
    let half = unpack(
        "cut.tar.gz",
        packed[..packed.len() / 2].to_vec(),
        &Limits::default(),
    )
    .expect("opens");
    let whole = unpack("cut.tar.gz", packed, &Limits::default()).expect("opens");
    assert!(half.files.len() < whole.files.len());
    assert_eq!(half.files, whole.files[..half.files.len()]);
    let errors = messages(&half);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("cut.tar.gz")
            && errors[0].contains(": gzip-compressed tar archive: "),
        "{errors:?}"
    );
}

/// A POSIX tar header for a regular file `name` of `size` bytes, as the standard lays it out
/// (numbers in octal, the checksum over the header with its own field as spaces).
fn ustar_header(name: &str, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A tar archive of `entries`, each file padded to whole blocks, and its two closing blocks.
fn ustar(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        out.extend(ustar_header(name, data.len()));
        out.extend(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend([0; 1024]);
    out
}

#[test]
fn tar_archives_inside_a_zip_archive_and_their_limits() {
    // A series packed with tar and gzip, inside a ZIP archive, beside a plain tar.
    let outer = stored_zip(&[
        ("SE1.tar.gz".into(), corpus("good", "study.tar.gz")),
        (
            "more/one.tar".into(),
            ustar(&[("IM9.dcm".into(), b"nine".to_vec())]),
        ),
    ]);
    let unpacked = unpack("outer.zip", outer, &Limits::default()).expect("opens");
    assert!(unpacked.errors.is_empty(), "{:?}", unpacked.errors);
    assert_eq!(
        names(&unpacked),
        [
            "outer.zip/SE1.tar.gz/SE1/IM1.dcm",
            "outer.zip/SE1.tar.gz/SE1/IM2.dcm",
            "outer.zip/SE1.tar.gz/SE1/IM3.dcm",
            "outer.zip/SE1.tar.gz/volume.nii",
            "outer.zip/SE1.tar.gz/readme.txt",
            "outer.zip/more/one.tar/IM9.dcm",
        ]
    );
    assert_eq!(unpacked.files[5].1, b"nine");

    // A tar archive four levels in is named, not opened.
    let mut deep = ustar(&[("IM1.dcm".into(), b"one".to_vec())]);
    for inner in ["level4.tar", "level3.zip", "level2.zip", "level1.zip"] {
        deep = stored_zip(&[(inner.into(), deep)]);
    }
    let unpacked = unpack("deep.zip", deep, &Limits::default()).expect("opens");
    assert_eq!(
        messages(&unpacked),
        [
            "deep.zip/level1.zip/level2.zip/level3.zip/level4.tar: ZIP archive: cannot be read from the \
          archive: a tar archive 4 levels inside the first; archives are opened 3 levels in: \
          extract it first"
        ]
    );

    // Entries are counted as the stream is read.
    let entries: Vec<_> = (0..20_001).map(|k| (format!("IM{k}"), vec![])).collect();
    let e = unpack("flat.tar", ustar(&entries), &Limits::default()).expect_err("over");
    assert_eq!(
        e.to_string(),
        "flat.tar: tar archive: more than 20000 entries, over the limit"
    );
    let read = unpack("flat.tar", ustar(&entries[..20_000]), &Limits::default()).expect("at it");
    assert_eq!(read.files.len(), 20_000);
}

#[test]
fn a_large_tar_entry_is_read_a_piece_at_a_time() {
    // As the ZIP entry above: 3.5 pieces give three pauses, a small file none.
    let large: Vec<u8> = (0..PIECE_BYTES * 7 / 2).map(|i| (i % 251) as u8).collect();
    let archive = ustar(&[
        ("SE1/volume.nii".into(), large.clone()),
        ("SE1/IM1".into(), b"small".to_vec()),
    ]);
    let limits = Limits::default();
    let (files, pauses, pending) = unzip_pausing("big.tar", archive.clone(), &limits);
    assert_eq!((pauses, pending), (3, 3));
    assert_eq!(files[0], ("big.tar/SE1/volume.nii".to_string(), large));
    assert_eq!(files[1], ("big.tar/SE1/IM1".to_string(), b"small".to_vec()));
    assert_eq!(
        unpack("big.tar", archive, &limits).expect("opens").files,
        files
    );
}
