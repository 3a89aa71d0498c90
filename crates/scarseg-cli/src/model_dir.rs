//! Model folders (`manifest.json` + weights + model card), as `export` writes them and the web
//! app loads them, and the bundled default model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use scarseg_pipeline::manifest::{
    LoadedModel, MANIFEST_FILE, Manifest, check_device, load_model, parse_manifest,
};

/// Name of the bundled default model (its folder under `public/models/`).
pub const DEFAULT_MODEL: &str = "scarseg-atto-phantom";

/// The bundled default model's folder in this source tree.
pub fn default_model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../public/models")
        .join(DEFAULT_MODEL)
}

/// Loads a model folder, checking the weights' digest and architecture against the manifest.
pub fn load(dir: &Path, device: &Device) -> Result<LoadedModel> {
    let (manifest, weights) = read(dir)?;
    let model = load_model(manifest, &weights, device)
        .with_context(|| format!("model folder {}", dir.display()))?;
    futures_lite::future::block_on(check_device(&model.manifest, device))
        .with_context(|| format!("device {device:?}"))?;
    Ok(model)
}

/// A model folder's checked manifest and its weights file's bytes (of the size the manifest
/// says; their digest is for the caller to check, as [`load`] does).
pub fn read(dir: &Path) -> Result<(Manifest, Vec<u8>)> {
    let manifest_path = dir.join(MANIFEST_FILE);
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
