//! What the pipeline's examples share: their arguments `[MODEL_DIR] [CASES] [FIRST_SEED]`, the
//! model they load, and the case-by-case comparison they print.

use burn::tensor::Device;
use scarseg_imaging::metrics::mean_sd;
use scarseg_pipeline::manifest::{LoadedModel, load_model, parse_manifest};
use std::path::PathBuf;

/// `scarseg eval --validation`'s first seed (crates/scarseg-cli/src/data.rs).
const VALIDATION_SEED: u64 = 1_000_000_000;

pub struct Setup {
    pub dir: PathBuf,
    pub cases: u64,
    pub first_seed: u64,
    pub device: Device,
    pub loaded: LoadedModel,
}

/// Reads the arguments (default: the bundled model, 100 cases from the first validation seed)
/// and loads the model on `flex`; a missing or foreign model folder names the file.
pub fn setup() -> Result<Setup, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../public/models/scarseg-atto-phantom")
    });
    let cases: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let first_seed: u64 = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(VALIDATION_SEED);
    let device = Device::flex();
    let read = |path: PathBuf| {
        std::fs::read(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
    };
    let manifest = parse_manifest(&read(dir.join("manifest.json"))?)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let weights = read(dir.join(&manifest.weights.file))?;
    let loaded = load_model(manifest, &weights, &device)?;
    Ok(Setup {
        dir,
        cases,
        first_seed,
        device,
        loaded,
    })
}

/// Mean and SD of `v`, then the mean of `v - base` case by case and its standard error.
#[allow(dead_code)] // the quality example compares no two decodings
pub fn paired(v: &[f64], base: &[f64]) -> [f64; 4] {
    let (m, sd) = mean_sd(v).unwrap_or((f64::NAN, f64::NAN));
    let diff: Vec<f64> = v.iter().zip(base).map(|(a, b)| a - b).collect();
    let (dm, dsd) = mean_sd(&diff).unwrap_or((f64::NAN, f64::NAN));
    [m, sd, dm, dsd / (diff.len() as f64).sqrt()]
}
