//! Model folders (`manifest.json` + weights + model card), as `export` writes them and the web
//! app loads them, a ZIP or tar archive of one (as a model is sent to a colleague), and the
//! bundled default model.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use scarseg_imaging::Limits;
use scarseg_imaging::archive::{is_archive, unpack};
use scarseg_pipeline::manifest::{
    LoadedModel, MANIFEST_FILE, Manifest, check_device, load_model, model_in_archive,
    parse_manifest,
};

/// Name of the bundled default model (its folder under `public/models/`).
pub const DEFAULT_MODEL: &str = "scarseg-atto-phantom";

// The default model is compiled in, so a `scarseg` copied or installed away from this source
// tree (`cargo install`, a packed trainer, a release archive) still has it.
const BUNDLED_MANIFEST: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../public/models/scarseg-atto-phantom/manifest.json"
));
const BUNDLED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../public/models/scarseg-atto-phantom/weights.safetensors"
));

/// The weights a command runs: an exported model folder (or an archive of one), or the default
/// model built into this binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    Folder(PathBuf),
    Bundled,
}

impl ModelRef {
    /// `--weights DIR`, or the built-in default model without it.
    pub fn from_arg(dir: Option<&PathBuf>) -> Self {
        dir.map_or(Self::Bundled, |d| Self::Folder(d.clone()))
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder(dir) => write!(f, "{}", dir.display()),
            Self::Bundled => write!(f, "built-in default model {DEFAULT_MODEL}"),
        }
    }
}

/// Loads a model, checking the weights' digest and architecture against the manifest.
pub fn load(model: &ModelRef, device: &Device) -> Result<LoadedModel> {
    let (manifest, weights, what) = match model {
        ModelRef::Folder(file) if file.is_file() => {
            let (manifest, weights) = read_archive(file)?;
            let what = format!("model archive {}", file.display());
            (manifest, Cow::Owned(weights), what)
        }
        ModelRef::Folder(dir) => {
            let (manifest, weights) = read(dir)?;
            let what = format!("model folder {}", dir.display());
            (manifest, Cow::Owned(weights), what)
        }
        ModelRef::Bundled => {
            let manifest = parse_manifest(BUNDLED_MANIFEST).with_context(|| model.to_string())?;
            (manifest, Cow::Borrowed(BUNDLED_WEIGHTS), model.to_string())
        }
    };
    let loaded = load_model(manifest, &weights, device).context(what)?;
    futures_lite::future::block_on(check_device(&loaded.manifest, device))
        .with_context(|| format!("device {device:?}"))?;
    Ok(loaded)
}

/// The model folder packed in the archive `file` ([`model_in_archive`]): its checked manifest
/// and weights, as [`read`] gives a folder's.
fn read_archive(file: &Path) -> Result<(Manifest, Vec<u8>)> {
    let name = file.display().to_string();
    let limits = Limits::default();
    let bytes = crate::files::read(file, &limits)?;
    anyhow::ensure!(
        is_archive(&bytes),
        "{name}: not a model folder, nor a ZIP or tar archive of one"
    );
    let unpacked = unpack(&name, bytes, &limits)?;
    match model_in_archive(&name, unpacked.files) {
        Ok(found) => Ok((found.manifest, found.weights)),
        // What did not read may be what was looked for.
        Err(e) => match unpacked.errors.first() {
            Some(unread) => anyhow::bail!("{e} ({unread})"),
            None => anyhow::bail!(e),
        },
    }
}

/// A model folder's checked manifest and its weights file's bytes (of the size the manifest
/// says; their digest is for the caller to check, as [`load`] does).
pub fn read(dir: &Path) -> Result<(Manifest, Vec<u8>)> {
    let manifest_path = dir.join(MANIFEST_FILE);
    // A pipe or a device would be read until it ends (or block); the weights below are checked
    // by their size first.
    crate::files::regular(&manifest_path)?;
    let json = std::fs::read(&manifest_path).with_context(|| {
        format!(
            "{}: cannot read (a model folder holds manifest.json and its weights)",
            manifest_path.display()
        )
    })?;
    let manifest =
        parse_manifest(&json).with_context(|| format!("model folder {}", dir.display()))?;
    let weights_path = dir.join(&manifest.weights.file);
    let cannot_read = || format!("{}: cannot read", weights_path.display());
    let length = std::fs::metadata(&weights_path)
        .with_context(cannot_read)?
        .len();
    // Before reading: a file of another size cannot match the digest, however large it is.
    anyhow::ensure!(
        length == manifest.weights.bytes,
        "{}: {length} bytes, the manifest says {}",
        weights_path.display(),
        manifest.weights.bytes
    );
    let weights = std::fs::read(&weights_path).with_context(cannot_read)?;
    Ok((manifest, weights))
}
