//! ZIP archives of images (a web PACS's or a viewer's study download): their files, read as a
//! folder's would be, by the page and `scarseg predict` alike. Archives are as hostile as any
//! input: the declared sizes are not trusted (every entry is inflated under the byte limit, all
//! of them together too), entry names that climb out of the archive (`../`, absolute paths) are
//! refused, and an entry that cannot be read (encrypted, a compression method other than stored
//! and deflate, corrupt) is reported by name while the others are read.

use std::io::{Cursor, Read};

use crate::error::{ErrorKind, ImagingError};
use crate::slice::Limits;

/// The most files an archive may hold: a whole study's slices, with room to spare.
pub const MAX_ENTRIES: usize = 20_000;

/// Whether `bytes` are a ZIP archive (a local file header first, or the end record of an empty
/// one).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
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

/// The files of the ZIP archive `bytes` (named `name` in paths and messages), leaving out
/// folders and what archivers add beside the files (macOS's `__MACOSX/` and hidden files).
/// An archive that does not open, holds more than [`MAX_ENTRIES`] entries or inflates to more
/// than `limits.max_bytes` is an error; a single entry that does not read is one of
/// [`Unzipped::errors`].
pub fn unzip(name: &str, bytes: &[u8], limits: &Limits) -> Result<Unzipped, ImagingError> {
    let archive_error = |why: String| ImagingError::new(name, ErrorKind::Archive(why));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| archive_error(format!("not a ZIP archive that reads ({e})")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(archive_error(format!(
            "{} entries, over the limit of {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut out = Unzipped::default();
    let mut total = 0u64;
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
        let left = limits.max_bytes.saturating_sub(total);
        let mut data = Vec::new();
        match (&mut entry).take(left + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > left => {
                return Err(ImagingError::new(
                    name,
                    ErrorKind::TooLarge {
                        bytes: total + data.len() as u64,
                        limit: limits.max_bytes,
                    },
                ));
            }
            Ok(_) => {
                total += data.len() as u64;
                out.files.push((format!("{name}/{path}"), data));
            }
            Err(e) => out.errors.push(entry_error(name, &path, &e.to_string())),
        }
    }
    Ok(out)
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
