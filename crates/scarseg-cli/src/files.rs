//! Reading the files and folders a user names: regular files only, never more than the decoders'
//! byte limit, and each folder once however links lead back to it. A FIFO would block the run
//! on open, a link to `/dev/zero` would be read until memory ran out (its size reads as 0), and
//! a link to a folder above it would walk the same files again and again.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use scarseg_imaging::Limits;

/// What `path` is when it is neither a regular file nor a folder (links followed): "a pipe
/// (FIFO)", "a character device" and so on; `None` for a file or a folder, or for a path that
/// cannot be looked at (reading it then says why).
pub fn special_kind(path: &Path) -> Option<&'static str> {
    let kind = std::fs::metadata(path).ok()?.file_type();
    if kind.is_file() || kind.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a pipe (FIFO)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a file")
}

/// Refuses, naming it, a `path` that is a pipe or a device: one would block on open, the other
/// be read until it ends, which `/dev/zero` never does.
pub fn regular(path: &Path) -> Result<()> {
    match special_kind(path) {
        Some(kind) => bail!("{}: not a regular file but {kind}", path.display()),
        None => Ok(()),
    }
}

/// The bytes of the regular file at `path`, at most `limits.max_bytes` of them: anything else
/// is an error that names the path. The limit is kept while reading too, since a file's size
/// can say less than it holds (`/proc`) or grow.
pub fn read(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let shown = path.display();
    regular(path)?;
    let len = std::fs::metadata(path)
        .with_context(|| format!("{shown}: cannot read"))?
        .len();
    if len > limits.max_bytes {
        bail!(
            "{shown}: {len} bytes is over the limit of {} bytes",
            limits.max_bytes
        );
    }
    let file = std::fs::File::open(path).with_context(|| format!("{shown}: cannot read"))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("{shown}: cannot read"))?;
    if bytes.len() as u64 > limits.max_bytes {
        bail!("{shown}: more bytes than the limit of {}", limits.max_bytes);
    }
    Ok(bytes)
}

/// The bytes of the regular file at `path`, however large (a checkpoint, which no image limit
/// fits); a pipe or a device is refused by name ([`regular`]).
pub fn read_regular(path: &Path) -> Result<Vec<u8>> {
    regular(path)?;
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// A regular file's first 512 bytes, for telling its format (fewer if it is shorter; none if it
/// cannot be read, which reading it whole then reports, or is a pipe or a device, which opening
/// would block on or never finish).
pub fn head(path: &Path) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    if special_kind(path).is_some() {
        return head;
    }
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(512).read_to_end(&mut head);
    }
    head
}

/// The folders a walk has entered and the files it has taken, by their canonical paths.
#[derive(Default)]
pub struct Visited(HashSet<PathBuf>);

impl Visited {
    /// Whether `path` (a folder or a file) is met for the first time; `false` for one reached
    /// again (through a link back up, or named twice), which the walk then leaves out. A path
    /// whose canonical form cannot be found counts as new: reading it says what is wrong.
    pub fn first_visit(&mut self, path: &Path) -> bool {
        match std::fs::canonicalize(path) {
            Ok(canonical) => self.0.insert(canonical),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_bytes: u64) -> Limits {
        Limits {
            max_bytes,
            ..Limits::default()
        }
    }

    #[test]
    fn a_regular_file_is_read_whole_up_to_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.png");
        std::fs::write(&file, [7u8; 10]).expect("write");
        assert_eq!(read(&file, &limits(10)).expect("read"), [7u8; 10]);
        let err = read(&file, &limits(9)).expect_err("over").to_string();
        assert_eq!(
            err,
            format!("{}: 10 bytes is over the limit of 9 bytes", file.display())
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_and_pipes_are_refused_by_name_without_reading() {
        // /dev/zero never ends: read, it would fill the memory.
        let err = read(Path::new("/dev/zero"), &limits(1 << 20))
            .expect_err("a device")
            .to_string();
        assert_eq!(err, "/dev/zero: not a regular file but a character device");
        let err = read_regular(Path::new("/dev/zero"))
            .expect_err("a device")
            .to_string();
        assert_eq!(err, "/dev/zero: not a regular file but a character device");
        // A FIFO blocks on open until a writer comes: refused before opening.
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = read(&fifo, &limits(1 << 20))
            .expect_err("a fifo")
            .to_string();
        assert_eq!(
            err,
            format!("{}: not a regular file but a pipe (FIFO)", fifo.display())
        );
        // Nor is it opened to tell its format.
        assert!(head(&fifo).is_empty());
        // A file whose size says 0 but which holds more is still cut at the limit.
        let err = read(Path::new("/proc/self/maps"), &limits(16))
            .expect_err("longer than its size says")
            .to_string();
        assert_eq!(err, "/proc/self/maps: more bytes than the limit of 16");
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_reached_again_through_a_link_is_not_entered_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        std::os::unix::fs::symlink("..", sub.join("up")).expect("symlink");
        let mut visited = Visited::default();
        assert!(visited.first_visit(dir.path()));
        assert!(visited.first_visit(&sub));
        assert!(!visited.first_visit(&sub.join("up")));
        assert!(!visited.first_visit(&sub.join("up/sub")));
        // A file, by whichever path it is reached.
        std::fs::write(sub.join("a.png"), b"x").expect("write");
        assert!(visited.first_visit(&sub.join("a.png")));
        assert!(!visited.first_visit(&sub.join("up/sub/a.png")));
    }
}
