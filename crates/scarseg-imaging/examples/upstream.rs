//! What the crates ScarSeg decodes DICOM with do on the committed bad files when ScarSeg's own
//! checks are not in front of them: which of ScarSeg's guards an upgrade of dicom-rs or
//! pure_jpegls could retire, and the reproducers for the reports that belong upstream
//! (`docs/UPSTREAM.md`).
//!
//! `cargo run -p scarseg-imaging --example upstream` prints a table and writes
//! `docs/upstream-table.md`. Each file runs in a child process of this example whose address
//! space `ulimit -v` caps at 6 GiB (so Linux or another Unix with `sh`), so a forged length
//! shows as the bytes asked for instead of taking the machine's memory.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use dicom_pixeldata::PixelDecoder;
use scarseg_imaging::Limits;
use scarseg_imaging::decode::{decode_file, error_chain};

/// The child's address space, KiB (6 GiB): above every request these files make, so each crate
/// shows what it does with the memory a desktop has, and below what would take the machine.
const ADDRESS_SPACE_KIB: u64 = 6 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, file] = &args[..] {
        // A child: one file through one upstream crate, the outcome on stdout.
        let bytes = std::fs::read(file)?;
        let outcome = match mode.as_str() {
            "dicom" => upstream_dicom(&bytes),
            "jpegls" => upstream_jpeg_ls(&bytes),
            _ => return Err(format!("unknown mode {mode}").into()),
        };
        println!("{outcome}; peak resident memory {}", peak_resident());
        return Ok(());
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad = root.join("tests/corpus/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&bad)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "dcm"));
    files.sort();

    let exe = std::env::current_exe()?;
    let limits = Limits::default();
    let (mut rows, mut refused, mut panics, mut hungry) = (Vec::new(), 0, 0, 0);
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let bytes = std::fs::read(file)?;
        // Caught: with pure_jpegls's overflow checks turned on (above), ScarSeg panics too.
        let decoded = std::panic::catch_unwind(|| decode_file(&name, &bytes, &limits));
        let ours = match decoded {
            Ok(Ok(stack)) => format!("read: {} slice(s)", stack.slices.len()),
            Ok(Err(e)) => {
                refused += 1;
                format!("refused: {}", e.kind)
            }
            Err(_) => "**panic** (see stderr)".to_string(),
        };
        // The JPEG-LS transfer syntaxes' UIDs (lossless, near-lossless) in the meta group.
        let jpeg_ls = [b"1.2.840.10008.1.2.4.80", b"1.2.840.10008.1.2.4.81"]
            .iter()
            .any(|uid| bytes.windows(uid.len()).any(|w| w == *uid));
        let modes: &[&str] = if jpeg_ls {
            &["dicom", "jpegls"]
        } else {
            &["dicom"]
        };
        for mode in modes {
            // `ulimit -v` rather than an allocator of our own: the workspace forbids unsafe code.
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$1\" \"$2\""
                ))
                .arg(&exe)
                .arg(mode)
                .arg(file)
                .output()?;
            let upstream = child_outcome(&out);
            panics += usize::from(upstream.contains("**panic**"));
            hungry += usize::from(upstream.contains(" MiB**"));
            let crate_name = match *mode {
                "dicom" => "dicom-object + dicom-pixeldata 0.10.1",
                _ => "pure_jpegls 2.0.0 (the stream alone)",
            };
            rows.push(format!(
                "| `{name}` ({} bytes) | {crate_name} | {} | {} |",
                thousands(bytes.len()),
                cell(&upstream),
                cell(&ours)
            ));
        }
    }

    let table = format!(
        "# The decoding crates on ScarSeg's bad files, without ScarSeg's checks\n\n\
         Command: `cargo run -p scarseg-imaging --example upstream` (this file is its \
         output; {arch}, {rustc}). Each `.dcm` file of `crates/scarseg-imaging/tests/corpus/bad/` \
         is opened by dicom-object and decoded by dicom-pixeldata, values and all, as ScarSeg \
         calls them but without ScarSeg's checks in front (native features: no CharLS, so \
         JPEG-LS is unsupported there), in a child process of 6 GiB of address space; the \
         JPEG-LS files' first stream also by pure_jpegls alone, sized from its own frame \
         header. \"Peak resident memory\" is the child's (VmHWM), in bold above 64 MiB, which \
         files of a few kilobytes cannot justify. The last column is what ScarSeg's decoder says \
         of the same file in this run. pure_jpegls's overflow (`jpeg_ls_overflow.dcm`) shows \
         only where overflow is checked, which this workspace turns off for that crate; add \
         `--config 'profile.dev.package.pure_jpegls.overflow-checks=true'` to the command \
         to see it. See `docs/UPSTREAM.md` for the reports.\n\n\
         Upstream: {panics} panics, {hungry} runs above 64 MiB. ScarSeg: {refused} of {n} files \
         refused, each with one line.\n\n\
         | file | crate | without ScarSeg's checks | ScarSeg |\n|---|---|---|---|\n{rows}\n",
        arch = std::env::consts::ARCH,
        rustc = rustc_version(),
        rows = rows.join("\n"),
        n = files.len(),
    );
    print!("{table}");
    let out = root.join("../../docs/upstream-table.md");
    std::fs::write(&out, table)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// What dicom-rs does with the file as ScarSeg calls it, with none of ScarSeg's checks.
fn upstream_dicom(bytes: &[u8]) -> String {
    let obj = match OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(Cursor::new(bytes))
    {
        Ok(obj) => obj,
        Err(e) => return format!("error opening: {}", error_chain(&e)),
    };
    let decoded = match obj.decode_pixel_data() {
        Ok(d) => d,
        Err(e) => return format!("error decoding: {}", error_chain(&e)),
    };
    let (rows, cols, frames) = (
        decoded.rows(),
        decoded.columns(),
        decoded.number_of_frames(),
    );
    // ScarSeg's next call for grey and interleaved images: the values, rescaled.
    match decoded.to_vec::<f32>() {
        Ok(values) => format!(
            "decoded {rows} x {cols} x {frames} frame(s) into {} values",
            values.len()
        ),
        Err(e) => format!(
            "decoded {rows} x {cols} x {frames} frame(s); values: {}",
            error_chain(&e)
        ),
    }
}

/// What pure_jpegls does with the file's first JPEG-LS stream (SOI to EOI), sized from the
/// stream's own frame header, as ScarSeg calls it after its checks.
fn upstream_jpeg_ls(bytes: &[u8]) -> String {
    let Some(start) = bytes.windows(4).position(|w| w == b"\xff\xd8\xff\xf7") else {
        return "no JPEG-LS stream".into();
    };
    let stream = &bytes[start..];
    let end = stream
        .windows(2)
        .position(|w| w == b"\xff\xd9")
        .map_or(stream.len(), |e| e + 2);
    let stream = &stream[..end];
    // SOF55: FFF7, length (2), precision (1), rows (2), columns (2).
    if stream.len() < 13 {
        return "stream shorter than its frame header".into();
    }
    let rows = u16::from_be_bytes([stream[7], stream[8]]) as u32;
    let cols = u16::from_be_bytes([stream[9], stream[10]]) as u32;
    match jpegls::decode(stream, cols, rows) {
        Ok((values, w, h)) => format!("decoded {w} x {h} ({} values)", values.len()),
        Err(e) => format!("error: {e}"),
    }
}

/// This process's peak resident set (VmHWM), as Linux reports it.
fn peak_resident() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            let mib = kib / 1024.0;
            // Bold where the file, at most a few kilobytes, cannot explain it.
            Some(if mib > 64.0 {
                format!("**{mib:.0} MiB**")
            } else {
                format!("{mib:.0} MiB")
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

fn child_outcome(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Rust's handler: "memory allocation of N bytes failed".
    if let Some(line) = stderr
        .lines()
        .find(|l| l.starts_with("memory allocation of "))
    {
        let bytes: usize = line
            .split_whitespace()
            .nth(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return format!(
            "asked for one allocation of {} bytes ({}), refused by the 6 GiB cap",
            thousands(bytes),
            mib(bytes)
        );
    }
    if let Some(at) = stderr.find("panicked at") {
        let message = stderr[at..].lines().take(2).collect::<Vec<_>>().join(" ");
        // The crate's own path, not this machine's registry folder.
        let message = match message.find("registry/src/") {
            Some(i) => {
                let rest = &message[i + "registry/src/".len()..];
                let local = rest.find('/').map_or(rest, |j| &rest[j + 1..]);
                format!("panicked at {local}")
            }
            None => message,
        };
        return format!("**panic**: {message}");
    }
    if !out.status.success() {
        return format!("exit {:?}: {}", out.status, stderr.trim());
    }
    stdout
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Markdown-safe: a UID's NUL padding shown as `\u{0}`, line breaks as spaces.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => "\\|".to_string(),
            '\n' => " ".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
