//! Archives of images: ZIP (a web PACS's or a viewer's study download), tar and gzip-compressed
//! tar (a dataset's or a colleague's `tar czf`), and archives inside them: their files, read as a
//! folder's would be, by the page and `scarseg predict` alike. Archives are as hostile as any
//! input: the declared sizes are not trusted (every entry is read under the byte limit, all of
//! them together too, and so is what a compressed tar stream passes over), entry names that
//! climb out of the archive (`../`, absolute paths) are refused, and an entry that cannot be read
//! (encrypted, a compression method other than stored and deflate, a device, corrupt) is reported
//! by name while the others are read; a tar archive's links are left out (what one names inside
//! the archive is read as itself).

use std::future::Future;
use std::io::{Cursor, Read};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use flate2::read::MultiGzDecoder;

use crate::decode::{Format, sniff};
use crate::error::{ErrorKind, ImagingError};
use crate::slice::Limits;

/// The most files an archive may hold: a whole study's slices, with room to spare.
pub const MAX_ENTRIES: usize = 20_000;

/// The archive formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Zip,
    /// POSIX (ustar and pax) and GNU tar.
    Tar,
    /// A tar archive compressed with gzip (`.tar.gz`, `.tgz`).
    TarGz,
}

impl ArchiveKind {
    /// How messages name it.
    pub fn label(self) -> &'static str {
        match self {
            ArchiveKind::Zip => "ZIP archive",
            ArchiveKind::Tar => "tar archive",
            ArchiveKind::TarGz => "gzip-compressed tar archive",
        }
    }
}

/// A tar archive's blocks: its headers, and its files' bytes padded to a whole block.
const BLOCK: usize = 512;

/// Which archive `bytes` (a whole file, or its first 512 bytes at least) are, if one: a ZIP
/// local file header first (or the end record of an empty archive), a tar header (its `ustar`
/// magic and its checksum), or gzip whose first inflated block is a tar header (a gzipped NIfTI
/// volume is not). Not a DICOM file whose 128-byte preamble, the writer's to fill, happens to
/// start like one.
pub fn archive_kind(bytes: &[u8]) -> Option<ArchiveKind> {
    if sniff(bytes) == Some(Format::Dicom) {
        return None;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(ArchiveKind::Zip);
    }
    if is_tar_header(bytes) {
        return Some(ArchiveKind::Tar);
    }
    if bytes.starts_with(&[0x1F, 0x8B]) {
        // What the bytes given inflate to, up to a block: a head of the file ends early, and
        // `read_to_end` keeps what came before the error.
        let mut head = Vec::with_capacity(BLOCK);
        let _ = MultiGzDecoder::new(bytes)
            .take(BLOCK as u64)
            .read_to_end(&mut head);
        if is_tar_header(&head) {
            return Some(ArchiveKind::TarGz);
        }
    }
    None
}

/// Whether `bytes` are an archive [`unpack`] reads.
pub fn is_archive(bytes: &[u8]) -> bool {
    archive_kind(bytes).is_some()
}

/// A POSIX or GNU tar header: "ustar" at byte 257, and a checksum that adds up.
fn is_tar_header(bytes: &[u8]) -> bool {
    bytes.len() >= BLOCK && &bytes[257..262] == b"ustar" && checksum_matches(&bytes[..BLOCK])
}

/// A tar header's checksum: the sum of its bytes, the checksum field's eight counted as spaces.
fn checksum_matches(block: &[u8]) -> bool {
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    tar::Header::from_byte_slice(block).cksum().ok() == Some(sum)
}

/// An archive's files and the entries that could not be read.
#[derive(Debug, Default)]
pub struct Unpacked {
    /// Each file as (`archive name`/`path inside it`, its bytes), in the archive's order:
    /// folders inside the archive stay folders of that path.
    pub files: Vec<(String, Vec<u8>)>,
    /// The entries that could not be read, each naming its path in the archive.
    pub errors: Vec<ImagingError>,
}

/// How much of one entry is read between two [`Pause`]s: a few milliseconds' work, so that a
/// single large file (a long volume) does not hold the page's thread for seconds either.
pub const PIECE_BYTES: u64 = 1 << 20;

/// What a reader of an archive does between pieces of work: the page gives its thread back to
/// the browser ([`Unpacking::step_with`]); [`Unpacking::step`] goes straight on.
pub trait Pause {
    /// Called after every [`PIECE_BYTES`] of an entry read.
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

/// The files of the archive `bytes` ([`archive_kind`]; bytes of no kind are tried as ZIP, and
/// refused as one), named `name` in paths and messages, leaving out folders and what archivers
/// add beside the files (macOS's `__MACOSX/` and hidden files, `._` files among them). An
/// archive inside it is opened in its place, as the folder it holds (`study.zip/SE1.zip/IM1`),
/// down to [`MAX_NESTING`] levels. An archive that does not open, holds more than
/// [`MAX_ENTRIES`] entries (with the archives inside it) or reads to more than
/// `limits.max_bytes` is an error; a single entry that does not read, an archive inside that
/// does not open among them, is one of [`Unpacked::errors`]. [`Unpacking`] reads the same entry
/// by entry.
pub fn unpack(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Unpacked, ImagingError> {
    let mut unpacking = Unpacking::new(name, bytes, limits)?;
    while unpacking.step()? {}
    Ok(unpacking.into_unpacked())
}

/// An archive being read one entry at a time, as [`unpack`] reads it: for a caller that must
/// not hold its thread for the whole archive (the page's, which would stop answering for
/// seconds on a large study), and so may pause between [`Unpacking::step`]s, and inside one
/// large entry's with [`Unpacking::step_with`].
pub struct Unpacking {
    /// The archives being read: the one given, then each archive inside being read, innermost
    /// last.
    levels: Vec<Level>,
    limits: Limits,
    /// What is held at once: the files read and the archives being read inside the first.
    held_bytes: u64,
    /// What tar streams passed over without keeping (folders' and hidden files' contents, long
    /// names): counted against the limit beside what is held, since a compressed stream could
    /// otherwise inflate without end into entries nobody keeps.
    passed_bytes: u64,
    /// The entries of every archive opened.
    entries: usize,
    out: Unpacked,
}

struct Level {
    name: String,
    reader: Reader,
    /// How many archives this one is inside (0: the one given).
    depth: usize,
    /// Its bytes, counted as held while it is read (0 for the one given, which the caller has).
    own_bytes: u64,
}

enum Reader {
    Zip {
        archive: zip::ZipArchive<Cursor<Vec<u8>>>,
        /// The index of the entry the next step reads.
        next: usize,
    },
    Tar(TarStream),
}

impl Reader {
    fn kind(&self) -> ArchiveKind {
        match self {
            Reader::Zip { .. } => ArchiveKind::Zip,
            Reader::Tar(t) => t.kind,
        }
    }
}

/// A tar archive read as the stream it is (a compressed one inflated as it goes): header, the
/// file's blocks, the next header.
struct TarStream {
    kind: ArchiveKind,
    stream: Box<dyn Read + Send>,
    /// Its end, or a fault past which nothing can be told, was met.
    done: bool,
    /// Headers read, to name an entry whose own name did not read.
    headers: usize,
    /// What the extension records before an entry said of it: a GNU long name, a pax path and
    /// size.
    long_name: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

/// What reading one entry gave.
enum Next {
    /// The archive's entries are all read.
    End,
    /// A folder, or what an archiver adds beside the files.
    Skip,
    /// An entry that did not read.
    Failed(ImagingError),
    /// A file: its path in the archive and its bytes (more than the room left if the archive
    /// holds more, which the caller refuses).
    File { path: String, data: Vec<u8> },
}

/// The longest GNU long name or pax record an entry may have: far beyond any path.
const MAX_EXTENSION_BYTES: u64 = 1 << 20;

impl Unpacking {
    /// Opens the archive `bytes`, named `name`; see [`unpack`] for what is an error.
    pub fn new(name: &str, bytes: Vec<u8>, limits: &Limits) -> Result<Self, ImagingError> {
        let kind = archive_kind(&bytes).unwrap_or(ArchiveKind::Zip);
        let reader = open(kind, name, bytes)?;
        let mut unpacking = Self {
            levels: Vec::new(),
            limits: *limits,
            held_bytes: 0,
            passed_bytes: 0,
            entries: 0,
            out: Unpacked::default(),
        };
        unpacking.enter(name.to_string(), reader, 0, 0)?;
        Ok(unpacking)
    }

    fn enter(
        &mut self,
        name: String,
        reader: Reader,
        depth: usize,
        own_bytes: u64,
    ) -> Result<(), ImagingError> {
        // A ZIP archive says how many entries it holds; a tar stream is counted as it is read.
        if let Reader::Zip { archive, .. } = &reader {
            self.entries += archive.len();
            if self.entries > MAX_ENTRIES {
                let with = if depth == 0 {
                    String::new()
                } else {
                    format!(" ({} with the archives around it)", self.entries)
                };
                return Err(archive_error(
                    &name,
                    ArchiveKind::Zip,
                    &format!(
                        "{} entries{with}, over the limit of {MAX_ENTRIES}",
                        archive.len()
                    ),
                ));
            }
        }
        self.levels.push(Level {
            name,
            reader,
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

    /// [`Unpacking::step`], with `pause` awaited after every [`PIECE_BYTES`] of the entry.
    pub async fn step_with(&mut self, pause: &mut impl Pause) -> Result<bool, ImagingError> {
        let Some(level) = self.levels.last_mut() else {
            return Ok(false);
        };
        let (name, depth) = (level.name.clone(), level.depth);
        let next = match &mut level.reader {
            Reader::Zip { archive, next } => {
                let left = self
                    .limits
                    .max_bytes
                    .saturating_sub(self.held_bytes + self.passed_bytes);
                zip_entry(archive, next, &name, left, pause).await
            }
            Reader::Tar(tar) => {
                let mut counted = Counted {
                    entries: &mut self.entries,
                    passed: &mut self.passed_bytes,
                    held: self.held_bytes,
                    limit: self.limits.max_bytes,
                    depth,
                };
                tar_entry(tar, &name, &mut counted, pause).await?
            }
        };
        // Declared sizes are the archive's word only: each entry is read under what is left of
        // the limit.
        let left = self
            .limits
            .max_bytes
            .saturating_sub(self.held_bytes + self.passed_bytes);
        let (path, mut data) = match next {
            Next::End => {
                // Its files are out: an archive inside is let go.
                self.held_bytes -= level.own_bytes;
                self.levels.pop();
                return Ok(!self.levels.is_empty());
            }
            Next::Skip => return Ok(true),
            Next::Failed(e) => {
                self.out.errors.push(e);
                return Ok(true);
            }
            Next::File { path, data } => (path, data),
        };
        let kind = level.reader.kind();
        if data.len() as u64 > left {
            return Err(ImagingError::new(
                name,
                ErrorKind::TooLarge {
                    bytes: self.held_bytes + self.passed_bytes + data.len() as u64,
                    limit: self.limits.max_bytes,
                },
            ));
        }
        if data.capacity() > data.len() {
            data.shrink_to_fit();
        }
        let size = data.len() as u64;
        self.held_bytes += size;
        let member = format!("{name}/{path}");
        let Some(inner) = archive_kind(&data) else {
            self.out.files.push((member, data));
            return Ok(true);
        };
        if depth == MAX_NESTING {
            self.held_bytes -= size;
            let what = match inner {
                ArchiveKind::Zip => "unzip it first",
                _ => "extract it first",
            };
            self.out.errors.push(entry_error(
                kind,
                &name,
                &path,
                &format!(
                    "a {} {} levels inside the first; archives are opened \
                     {MAX_NESTING} levels in: {what}",
                    inner.label(),
                    depth + 1
                ),
            ));
            return Ok(true);
        }
        // Read in place by the next steps, its own bytes held until its files are out.
        match open(inner, &member, data) {
            Ok(reader) => self.enter(member, reader, depth + 1, size)?,
            Err(e) => {
                self.held_bytes -= size;
                self.out.errors.push(e);
            }
        }
        Ok(true)
    }

    /// The files read and the entries that did not read (so far, if called before the last
    /// step).
    pub fn into_unpacked(self) -> Unpacked {
        self.out
    }
}

/// The next entry of a ZIP archive.
async fn zip_entry(
    archive: &mut zip::ZipArchive<Cursor<Vec<u8>>>,
    next: &mut usize,
    name: &str,
    left: u64,
    pause: &mut impl Pause,
) -> Next {
    let zip = ArchiveKind::Zip;
    if *next == archive.len() {
        return Next::End;
    }
    let index = *next;
    *next += 1;
    // Named before it is opened, so that an entry that does not open is named too.
    let listed = archive
        .name_for_index(index)
        .and_then(Result::ok)
        .map_or_else(|| format!("entry {}", index + 1), |n| n.to_string());
    let mut entry = match archive.by_index(index) {
        Ok(entry) => entry,
        Err(e) => return Next::Failed(entry_error(zip, name, &listed, &e.to_string())),
    };
    if entry.is_dir() || is_beside(&listed) {
        return Next::Skip;
    }
    let Some(path) = entry.enclosed_name() else {
        return Next::Failed(entry_error(zip, name, &listed, LEAVES));
    };
    let path = path.to_string_lossy().replace('\\', "/");
    if entry.encrypted() {
        return Next::Failed(entry_error(zip, name, &path, "encrypted"));
    }
    // Room for the size declared, within the limit, so that a large file is not copied as it
    // grows (which held the page 0.5 s for a 256 MiB volume); trimmed by the caller if it lied.
    let mut data = Vec::new();
    let _ = data.try_reserve_exact(entry.size().min(left + 1) as usize);
    match read_pieces(&mut (&mut entry).take(left + 1), &mut data, pause).await {
        Ok(()) => Next::File { path, data },
        Err(e) => Next::Failed(entry_error(zip, name, &path, &e.to_string())),
    }
}

/// What a tar stream's entries count against: the limit on entries, and on bytes held and
/// passed over.
struct Counted<'a> {
    entries: &'a mut usize,
    passed: &'a mut u64,
    held: u64,
    limit: u64,
    depth: usize,
}

impl Counted<'_> {
    /// What may still be read, kept or passed over.
    fn left(&self) -> u64 {
        self.limit.saturating_sub(self.held + *self.passed)
    }
}

/// The next file of a tar stream, its extension records (long names, pax) read on the way.
async fn tar_entry(
    tar: &mut TarStream,
    name: &str,
    counted: &mut Counted<'_>,
    pause: &mut impl Pause,
) -> Result<Next, ImagingError> {
    let kind = tar.kind;
    loop {
        if tar.done {
            return Ok(Next::End);
        }
        let listed = format!("entry {}", tar.headers + 1);
        let mut block = [0u8; BLOCK];
        match read_full(&mut tar.stream, &mut block) {
            // An archive without its closing blocks ends at its last entry.
            Ok(0) => tar.done = true,
            Ok(BLOCK) => {}
            Ok(_) => return Ok(tar.fail(entry_error(kind, name, &listed, "cut short"))),
            Err(e) => return Ok(tar.fail(entry_error(kind, name, &listed, &e.to_string()))),
        }
        // Its end: a block of zeros (two, by the standard; nothing after them is read).
        if tar.done || block.iter().all(|&b| b == 0) {
            tar.done = true;
            return Ok(Next::End);
        }
        tar.headers += 1;
        // Every header counts against the limit: a compressed stream of empty records would
        // otherwise inflate without end.
        if counted.left() < BLOCK as u64 {
            return Err(ImagingError::new(
                name,
                ErrorKind::TooLarge {
                    bytes: counted.held + *counted.passed + BLOCK as u64,
                    limit: counted.limit,
                },
            ));
        }
        *counted.passed += BLOCK as u64;
        if !checksum_matches(&block) {
            let why = "a header whose checksum does not add up: the archive is damaged from here";
            return Ok(tar.fail(entry_error(kind, name, &listed, why)));
        }
        let header = tar::Header::from_byte_slice(&block);
        let entry_type = header.entry_type();
        let size = match tar.pax_size.take().map_or_else(|| header.entry_size(), Ok) {
            Ok(size) => size,
            Err(e) => return Ok(tar.fail(entry_error(kind, name, &listed, &e.to_string()))),
        };
        let pad = size.next_multiple_of(BLOCK as u64) - size;
        // Extension records describe the entry after them.
        if entry_type.is_gnu_longname() || entry_type.is_pax_local_extensions() {
            if size > MAX_EXTENSION_BYTES {
                let why = format!("an extension record of {size} bytes, not a name");
                return Ok(tar.fail(entry_error(kind, name, &listed, &why)));
            }
            let mut record = Vec::new();
            let read = tar.content(size, pad, Some(&mut record), counted, name, pause);
            if let Err(next) = read.await? {
                return Ok(next);
            }
            if entry_type.is_gnu_longname() {
                let end = record.iter().position(|&b| b == 0).unwrap_or(record.len());
                record.truncate(end);
                tar.long_name = Some(record);
            } else {
                for extension in tar::PaxExtensions::new(&record).flatten() {
                    match extension.key() {
                        Ok("path") => tar.pax_path = Some(extension.value_bytes().to_vec()),
                        Ok("size") => {
                            tar.pax_size = extension.value().ok().and_then(|v| v.parse().ok())
                        }
                        _ => {}
                    }
                }
            }
            continue;
        }
        if entry_type.is_pax_global_extensions() || entry_type.is_gnu_longlink() {
            if let Err(next) = tar.content(size, pad, None, counted, name, pause).await? {
                return Ok(next);
            }
            continue;
        }
        // Entries, not the extension records before them (macOS's tar writes one per file).
        *counted.entries += 1;
        if *counted.entries > MAX_ENTRIES {
            let with = if counted.depth == 0 {
                String::new()
            } else {
                " with the archives around it".to_string()
            };
            return Err(archive_error(
                name,
                kind,
                &format!("more than {MAX_ENTRIES} entries{with}, over the limit"),
            ));
        }
        let path_bytes = tar
            .long_name
            .take()
            .or_else(|| tar.pax_path.take())
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let listed = String::from_utf8_lossy(&path_bytes).into_owned();
        // Named by its path in the archive where it has one (`./SE1/IM1` is `SE1/IM1`).
        let inside = enclosed(&listed);
        let shown = inside.clone().unwrap_or_else(|| listed.clone());
        let failed = |why: &str| Next::Failed(entry_error(kind, name, &shown, why));
        // A link names another entry, which is read as itself (as a folder walk reads a file
        // met again through a link once), or a file outside the archive: left out as folders are.
        let link = entry_type.is_hard_link() || entry_type.is_symlink();
        let not_read = if entry_type.is_dir() || listed.ends_with('/') || is_beside(&listed) || link
        {
            Some(Next::Skip)
        } else if inside.is_none() {
            Some(failed(LEAVES))
        } else if entry_type.is_gnu_sparse() {
            Some(failed("a sparse file, which is not read"))
        } else if !(entry_type.is_file() || entry_type.is_contiguous()) {
            Some(failed("a device or a pipe, not a file"))
        } else {
            None
        };
        if let Some(next) = not_read {
            // Its content passed over; a stream that ends there says so instead.
            let passed = tar.content(size, pad, None, counted, name, pause).await?;
            return Ok(passed.err().unwrap_or(next));
        }
        // Inside the archive (a path out was refused above).
        let path = shown;
        // What the header says, within the limit; more is refused by the caller.
        let left = counted.left();
        let wanted = size.min(left + 1);
        let mut data = Vec::new();
        let _ = data.try_reserve_exact(wanted as usize);
        let mut limited = (&mut tar.stream).take(wanted);
        if let Err(e) = read_pieces(&mut limited, &mut data, pause).await {
            return Ok(tar.fail(entry_error(kind, name, &path, &e.to_string())));
        }
        if (data.len() as u64) < wanted {
            let why = format!("cut short ({} of its {size} bytes)", data.len());
            return Ok(tar.fail(entry_error(kind, name, &path, &why)));
        }
        if data.len() as u64 <= left {
            // The block's padding; a stream that ends inside it ends at the next header.
            let mut padding = [0u8; BLOCK];
            let _ = read_full(&mut tar.stream, &mut padding[..pad as usize]);
        }
        return Ok(Next::File { path, data });
    }
}

impl TarStream {
    /// Nothing more can be read after `e`.
    fn fail(&mut self, e: ImagingError) -> Next {
        self.done = true;
        Next::Failed(e)
    }

    /// Reads past an entry's `size` bytes and the `pad` after them, keeping them in `keep` if
    /// given, as bytes passed over (against the limit). `Ok(Err(next))`: the stream ended or
    /// failed (`next` says so); `Err`: the limit is passed.
    async fn content(
        &mut self,
        size: u64,
        pad: u64,
        mut keep: Option<&mut Vec<u8>>,
        counted: &mut Counted<'_>,
        name: &str,
        pause: &mut impl Pause,
    ) -> Result<Result<(), Next>, ImagingError> {
        if size > counted.left() {
            return Err(ImagingError::new(
                name,
                ErrorKind::TooLarge {
                    bytes: counted.held + *counted.passed + size,
                    limit: counted.limit,
                },
            ));
        }
        *counted.passed += size;
        let mut scratch = Vec::new();
        let mut rest = size;
        while rest > 0 {
            let piece = rest.min(PIECE_BYTES);
            let into = match keep.as_deref_mut() {
                Some(keep) => keep,
                None => {
                    scratch.clear();
                    &mut scratch
                }
            };
            let why = match (&mut self.stream).take(piece).read_to_end(into) {
                Ok(n) if n as u64 == piece => None,
                Ok(_) => Some("cut short".to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = why {
                return Ok(Err(self.fail(archive_error(name, self.kind, &why))));
            }
            rest -= piece;
            if rest > 0 {
                pause.pause().await;
            }
        }
        let mut padding = [0u8; BLOCK];
        let _ = read_full(&mut self.stream, &mut padding[..pad as usize]);
        Ok(Ok(()))
    }
}

/// Reads `reader` to its end into `data`, pausing after every [`PIECE_BYTES`].
async fn read_pieces(
    reader: &mut impl Read,
    data: &mut Vec<u8>,
    pause: &mut impl Pause,
) -> std::io::Result<()> {
    loop {
        match reader.by_ref().take(PIECE_BYTES).read_to_end(data) {
            Ok(n) if (n as u64) < PIECE_BYTES => return Ok(()),
            Ok(_) => pause.pause().await,
            Err(e) => return Err(e),
        }
    }
}

/// Fills `buf` as far as the stream goes: how many bytes it got.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn open(kind: ArchiveKind, name: &str, bytes: Vec<u8>) -> Result<Reader, ImagingError> {
    let stream: Box<dyn Read + Send> = match kind {
        ArchiveKind::Zip => {
            return zip::ZipArchive::new(Cursor::new(bytes))
                .map(|archive| Reader::Zip { archive, next: 0 })
                .map_err(|e| {
                    archive_error(name, kind, &format!("not a ZIP archive that reads ({e})"))
                });
        }
        ArchiveKind::Tar => Box::new(Cursor::new(bytes)),
        ArchiveKind::TarGz => Box::new(MultiGzDecoder::new(Cursor::new(bytes))),
    };
    // A tar stream's faults are met entry by entry, as it is read.
    Ok(Reader::Tar(TarStream {
        kind,
        stream,
        done: false,
        headers: 0,
        long_name: None,
        pax_path: None,
        pax_size: None,
    }))
}

const LEAVES: &str = "a path that leaves the archive (absolute, or through ..)";

/// A tar entry's path inside the archive, `.` parts and a leading `./` dropped; none for a path
/// that would leave it (absolute, a drive, `..`).
fn enclosed(path: &str) -> Option<String> {
    let path = path.replace('\\', "/");
    let drive = path.len() >= 2 && path.as_bytes()[1] == b':';
    if path.starts_with('/') || drive {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// What archivers put beside the files: macOS's resource forks and hidden files (not `..`,
/// which is refused as a path out of the archive).
fn is_beside(path: &str) -> bool {
    path.split('/')
        .any(|part| part == "__MACOSX" || (part.starts_with('.') && part != "." && part != ".."))
}

fn archive_error(name: &str, kind: ArchiveKind, why: &str) -> ImagingError {
    ImagingError::new(name, ErrorKind::Archive(format!("{}: {why}", kind.label())))
}

fn entry_error(kind: ArchiveKind, name: &str, path: &str, why: &str) -> ImagingError {
    archive_error(
        &format!("{name}/{path}"),
        kind,
        &format!("cannot be read from the archive: {why}"),
    )
}
