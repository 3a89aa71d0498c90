//! ZIP archives of images (a web PACS's or a viewer's study download), and ZIP archives inside
//! them: their files, read as a folder's would be, by the page and `scarseg predict` alike. Archives are as hostile as any
//! input: the declared sizes are not trusted (every entry is inflated under the byte limit, all
//! of them together too), entry names that climb out of the archive (`../`, absolute paths) are
//! refused, and an entry that cannot be read (encrypted, a compression method other than stored
//! and deflate, corrupt) is reported by name while the others are read.

use std::io::{Cursor, Read};

use crate::decode::{Format, sniff};
use crate::error::{ErrorKind, ImagingError};
use crate::slice::Limits;

/// The most files an archive may hold: a whole study's slices, with room to spare.
pub const MAX_ENTRIES: usize = 20_000;

/// Whether `bytes` (a whole file, or its first 132 bytes at least) are a ZIP archive: a local
/// file header first (or the end record of an empty one), and not a DICOM file whose 128-byte
/// preamble, the writer's to fill, happens to start like one.
pub fn is_zip(bytes: &[u8]) -> bool {
    (bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06"))
        && sniff(bytes) != Some(Format::Dicom)
}

/// An archive's files and the entries that could not be read.
#[derive(Debug, Default)]
pub struct Unzipped {
    /// Each file as (`archive name`/`path inside it`, its bytes), in the archive's order:
    /// folders inside the archive stay folders of that path.
    pub files: Vec<(String, Vec<u8>)>,
    /// The entries that could not be read, each naming its path in the archive.
    pub errors: Vec<ImagingError>,
}

/// How deep archives inside the dropped one are opened: a ZIP of series ZIPs (what some PACS
/// and teaching collections hand out) and two levels below that.
pub const MAX_NESTING: usize = 3;

/// The files of the ZIP archive `bytes` (named `name` in paths and messages), leaving out
/// folders and what archivers add beside the files (macOS's `__MACOSX/` and hidden files). A ZIP
/// archive inside it is opened in its place, as the folder it holds (`study.zip/SE1.zip/IM1`),
/// down to [`MAX_NESTING`] levels. An archive that does not open, holds more than
/// [`MAX_ENTRIES`] entries (with the archives inside it) or inflates to more than
/// `limits.max_bytes` is an error; a single entry that does not read, an archive inside that
/// does not open among them, is one of [`Unzipped::errors`].
pub fn unzip(name: &str, bytes: &[u8], limits: &Limits) -> Result<Unzipped, ImagingError> {
    let mut out = Unzipped::default();
    let archive = open(name, bytes)?;
    read_entries(name, archive, limits, 0, &mut out, &mut Held::default())?;
    Ok(out)
}

/// What the archives read so far hold at once: the bytes of their files and of the archives
/// being read inside them, and their entries.
#[derive(Default)]
struct Held {
    bytes: u64,
    entries: usize,
}

fn open<'a>(
    name: &str,
    bytes: &'a [u8],
) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>, ImagingError> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        ImagingError::new(
            name,
            ErrorKind::Archive(format!("not a ZIP archive that reads ({e})")),
        )
    })
}

/// Reads the entries of `archive` (named `name`, `depth` archives inside the dropped one) into
/// `out`; an error is one that ends the whole reading (a limit passed).
fn read_entries(
    name: &str,
    mut archive: zip::ZipArchive<Cursor<&[u8]>>,
    limits: &Limits,
    depth: usize,
    out: &mut Unzipped,
    held: &mut Held,
) -> Result<(), ImagingError> {
    held.entries += archive.len();
    if held.entries > MAX_ENTRIES {
        let with = if depth == 0 {
            String::new()
        } else {
            format!(" ({} with the archives around it)", held.entries)
        };
        return Err(ImagingError::new(
            name,
            ErrorKind::Archive(format!(
                "{} entries{with}, over the limit of {MAX_ENTRIES}",
                archive.len()
            )),
        ));
    }
    for index in 0..archive.len() {
        // Named before it is opened, so that an entry that does not open is named too.
        let listed = archive
            .name_for_index(index)
            .and_then(Result::ok)
            .map_or_else(|| format!("entry {}", index + 1), |n| n.to_string());
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                out.errors.push(entry_error(name, &listed, &e.to_string()));
                continue;
            }
        };
        if entry.is_dir() || is_beside(&listed) {
            continue;
        }
        let Some(path) = entry.enclosed_name() else {
            out.errors.push(entry_error(
                name,
                &listed,
                "a path that leaves the archive (absolute, or through ..)",
            ));
            continue;
        };
        let path = path.to_string_lossy().replace('\\', "/");
        if entry.encrypted() {
            out.errors.push(entry_error(name, &path, "encrypted"));
            continue;
        }
        // Declared sizes are the archive's word only: inflate under what is left of the limit.
        let left = limits.max_bytes.saturating_sub(held.bytes);
        let mut data = Vec::new();
        match (&mut entry).take(left + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > left => {
                return Err(ImagingError::new(
                    name,
                    ErrorKind::TooLarge {
                        bytes: held.bytes + data.len() as u64,
                        limit: limits.max_bytes,
                    },
                ));
            }
            Ok(_) => {}
            Err(e) => {
                out.errors.push(entry_error(name, &path, &e.to_string()));
                continue;
            }
        }
        drop(entry);
        let member = format!("{name}/{path}");
        // An archive inside is read in place while its own bytes still count against the limit,
        // then let go.
        if is_zip(&data) {
            held.bytes += data.len() as u64;
            if depth == MAX_NESTING {
                out.errors.push(entry_error(
                    name,
                    &path,
                    &format!(
                        "a ZIP archive {} levels inside the first; archives are opened \
                         {MAX_NESTING} levels in: unzip it first",
                        depth + 1
                    ),
                ));
            } else {
                match open(&member, &data) {
                    Ok(inner) => read_entries(&member, inner, limits, depth + 1, out, held)?,
                    Err(e) => out.errors.push(e),
                }
            }
            held.bytes -= data.len() as u64;
        } else {
            held.bytes += data.len() as u64;
            out.files.push((member, data));
        }
    }
    Ok(())
}

/// What archivers put beside the files: macOS's resource forks and hidden files (not `..`,
/// which is refused as a path out of the archive).
fn is_beside(path: &str) -> bool {
    path.split('/')
        .any(|part| part == "__MACOSX" || (part.starts_with('.') && part != "." && part != ".."))
}

fn entry_error(name: &str, path: &str, why: &str) -> ImagingError {
    ImagingError::new(
        format!("{name}/{path}"),
        ErrorKind::Archive(format!("cannot be read from the archive: {why}")),
    )
}
