//! ZIP archives of images (a web PACS's or a viewer's study download), and ZIP archives inside
//! them: their files, read as a folder's would be, by the page and `scarseg predict` alike.
//! Archives are as hostile as any input: the declared sizes are not trusted (every entry is
//! inflated under the byte limit, all of them together too), entry names that climb out of the
//! archive (`../`, absolute paths) are refused, and an entry that cannot be read (encrypted, a
//! compression method other than stored and deflate, corrupt) is reported by name while the
//! others are read.

use std::future::Future;
use std::io::{Cursor, Read};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

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

/// How much of one entry is inflated between two [`Pause`]s: a few milliseconds' work, so that
/// a single large file (a long volume) does not hold the page's thread for seconds either.
pub const PIECE_BYTES: u64 = 1 << 20;

/// What a reader of an archive does between pieces of work: the page gives its thread back to
/// the browser ([`Unzipping::step_with`]); [`Unzipping::step`] goes straight on.
pub trait Pause {
    /// Called after every [`PIECE_BYTES`] of an entry inflated.
    fn pause(&mut self) -> impl Future<Output = ()>;
}

/// No pause: the whole step at once.
struct NoPause;

impl Pause for NoPause {
    fn pause(&mut self) -> impl Future<Output = ()> {
        std::future::ready(())
    }
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
/// does not open among them, is one of [`Unzipped::errors`]. [`Unzipping`] reads the same entry
/// by entry.
pub fn unzip(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Unzipped, ImagingError> {
    let mut unzipping = Unzipping::new(name, bytes, limits)?;
    while unzipping.step()? {}
    Ok(unzipping.into_unzipped())
}

/// A ZIP archive being read one entry at a time, as [`unzip`] reads it: for a caller that must
/// not hold its thread for the whole archive (the page's, which would stop answering for
/// seconds on a large study), and so may pause between [`Unzipping::step`]s, and inside one
/// large entry's with [`Unzipping::step_with`].
pub struct Unzipping {
    /// The archives being read: the one given, then each archive inside being read, innermost
    /// last.
    levels: Vec<Level>,
    limits: Limits,
    /// What is held at once: the files read and the archives being read inside the first.
    held_bytes: u64,
    /// The entries of every archive opened.
    entries: usize,
    out: Unzipped,
}

struct Level {
    name: String,
    archive: zip::ZipArchive<Cursor<Vec<u8>>>,
    /// The index of the entry the next step reads.
    next: usize,
    /// How many archives this one is inside (0: the one given).
    depth: usize,
    /// Its bytes, counted as held while it is read (0 for the one given, which the caller has).
    own_bytes: u64,
}

impl Unzipping {
    /// Opens the archive `bytes`, named `name`; see [`unzip`] for what is an error.
    pub fn new(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Self, ImagingError> {
        let archive = open(name, bytes)?;
        let mut unzipping = Self {
            levels: Vec::new(),
            limits: *limits,
            held_bytes: 0,
            entries: 0,
            out: Unzipped::default(),
        };
        unzipping.enter(name.to_string(), archive, 0, 0)?;
        Ok(unzipping)
    }

    fn enter(
        &mut self,
        name: String,
        archive: zip::ZipArchive<Cursor<Vec<u8>>>,
        depth: usize,
        own_bytes: u64,
    ) -> Result<(), ImagingError> {
        self.entries += archive.len();
        if self.entries > MAX_ENTRIES {
            let with = if depth == 0 {
                String::new()
            } else {
                format!(" ({} with the archives around it)", self.entries)
            };
            return Err(ImagingError::new(
                name,
                ErrorKind::Archive(format!(
                    "{} entries{with}, over the limit of {MAX_ENTRIES}",
                    archive.len()
                )),
            ));
        }
        self.levels.push(Level {
            name,
            archive,
            next: 0,
            depth,
            own_bytes,
        });
        Ok(())
    }

    /// Reads the next entry: a file kept, an entry that does not read noted, an archive inside
    /// opened (its entries are the next steps'). `Ok(false)` once every entry is read; an error
    /// ends the reading (a limit passed).
    pub fn step(&mut self) -> Result<bool, ImagingError> {
        // Nothing in a step without pauses waits: its future is done at the first poll.
        let mut no_pause = NoPause;
        let mut step = pin!(self.step_with(&mut no_pause));
        match step.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => result,
            Poll::Pending => unreachable!("a step without pauses never waits"),
        }
    }

    /// [`Unzipping::step`], with `pause` awaited after every [`PIECE_BYTES`] of the entry.
    pub async fn step_with(&mut self, pause: &mut impl Pause) -> Result<bool, ImagingError> {
        let Some(level) = self.levels.last_mut() else {
            return Ok(false);
        };
        if level.next == level.archive.len() {
            // Its files are out: an archive inside is let go.
            self.held_bytes -= level.own_bytes;
            self.levels.pop();
            return Ok(!self.levels.is_empty());
        }
        let (index, depth, name) = (level.next, level.depth, level.name.clone());
        level.next += 1;
        // Named before it is opened, so that an entry that does not open is named too.
        let listed = level
            .archive
            .name_for_index(index)
            .and_then(Result::ok)
            .map_or_else(|| format!("entry {}", index + 1), |n| n.to_string());
        let mut entry = match level.archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                self.out
                    .errors
                    .push(entry_error(&name, &listed, &e.to_string()));
                return Ok(true);
            }
        };
        if entry.is_dir() || is_beside(&listed) {
            return Ok(true);
        }
        let Some(path) = entry.enclosed_name() else {
            self.out.errors.push(entry_error(
                &name,
                &listed,
                "a path that leaves the archive (absolute, or through ..)",
            ));
            return Ok(true);
        };
        let path = path.to_string_lossy().replace('\\', "/");
        if entry.encrypted() {
            self.out.errors.push(entry_error(&name, &path, "encrypted"));
            return Ok(true);
        }
        // Declared sizes are the archive's word only: inflate under what is left of the limit.
        let left = self.limits.max_bytes.saturating_sub(self.held_bytes);
        // Room for the size declared, within the limit, so that a large file is not copied as
        // it grows (which held the page 0.5 s for a 256 MiB volume); trimmed below if it lied.
        let mut data = Vec::new();
        let _ = data.try_reserve_exact(entry.size().min(left + 1) as usize);
        let mut limited = (&mut entry).take(left + 1);
        let read = loop {
            match (&mut limited).take(PIECE_BYTES).read_to_end(&mut data) {
                Ok(n) if (n as u64) < PIECE_BYTES => break Ok(()),
                Ok(_) => pause.pause().await,
                Err(e) => break Err(e),
            }
        };
        match read {
            Ok(()) if data.len() as u64 > left => {
                return Err(ImagingError::new(
                    name,
                    ErrorKind::TooLarge {
                        bytes: self.held_bytes + data.len() as u64,
                        limit: self.limits.max_bytes,
                    },
                ));
            }
            Ok(_) => {}
            Err(e) => {
                self.out
                    .errors
                    .push(entry_error(&name, &path, &e.to_string()));
                return Ok(true);
            }
        }
        drop(entry);
        if data.capacity() > data.len() {
            data.shrink_to_fit();
        }
        let size = data.len() as u64;
        self.held_bytes += size;
        let member = format!("{name}/{path}");
        if !is_zip(&data) {
            self.out.files.push((member, data));
        } else if depth == MAX_NESTING {
            self.held_bytes -= size;
            self.out.errors.push(entry_error(
                &name,
                &path,
                &format!(
                    "a ZIP archive {} levels inside the first; archives are opened \
                     {MAX_NESTING} levels in: unzip it first",
                    depth + 1
                ),
            ));
        } else {
            // Read in place by the next steps, its own bytes held until its files are out.
            match open(&member, data) {
                Ok(inner) => self.enter(member, inner, depth + 1, size)?,
                Err(e) => {
                    self.held_bytes -= size;
                    self.out.errors.push(e);
                }
            }
        }
        Ok(true)
    }

    /// The files read and the entries that did not read (so far, if called before the last
    /// step).
    pub fn into_unzipped(self) -> Unzipped {
        self.out
    }
}

fn open(name: &str, bytes: Vec<u8>) -> Result<zip::ZipArchive<Cursor<Vec<u8>>>, ImagingError> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        ImagingError::new(
            name,
            ErrorKind::Archive(format!("not a ZIP archive that reads ({e})")),
        )
    })
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
