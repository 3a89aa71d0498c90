//! The exported model: `manifest.json` beside a safetensors file. The CLI writes it, and the CLI
//! and the browser load through [`load_model`], which checks the weights' sha256 against the
//! manifest and their stored config against the manifest's architecture before anything runs.

use std::collections::BTreeMap;

use burn::tensor::Device;
use scarseg_imaging::postprocess::{PostprocessOptions, THRESHOLD_RULE, is_threshold};
use scarseg_model::weights::from_safetensors_expecting;
use scarseg_model::{ModelError, ScarSegNet, ScarSegNetConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Manifest format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The largest input side a manifest may ask for: 16 times the bundled model's 128, where an
/// atto network's first stage already holds 40 x 512 x 512 values per slice. Without a bound,
/// a mistyped or hostile size would be allocated (by the device check at load, then by every
/// pass) until the tab or process dies.
pub const MAX_INPUT_SIZE: usize = 2048;

/// What a network input side must be, for messages: the network halves it five times.
pub const INPUT_SIZE_RULE: &str = "must be a multiple of 32 from 32 to 2048";

/// Whether `size` is an input side a manifest may carry (see [`INPUT_SIZE_RULE`]), so that
/// `train` and `export` refuse a size whose model neither the page nor `predict` would load.
pub fn is_input_size(size: usize) -> bool {
    size != 0 && size.is_multiple_of(32) && size <= MAX_INPUT_SIZE
}

/// File name of the manifest inside a model folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a model folder holds and how its model must be run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Short name, also the folder name under `public/models/`.
    pub name: String,
    /// The architecture (the same JSON the weights carry in their metadata).
    pub architecture: ScarSegNetConfig,
    /// The weights file.
    pub weights: WeightsEntry,
    /// How images are brought to the network.
    pub preprocessing: Preprocessing,
    /// Default postprocessing (users may change the threshold).
    pub postprocessing: PostprocessOptions,
    /// How the weights were made.
    pub provenance: BTreeMap<String, String>,
    /// Measured test metrics (name -> value).
    pub metrics: BTreeMap<String, f64>,
    /// File name of the model card inside the folder.
    pub card: String,
}

/// The weights file named by a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsEntry {
    /// File name inside the model folder.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// `f16` or `f32`.
    pub precision: String,
}

/// How an image becomes the network's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The network's square input side (a multiple of 32).
    pub size: usize,
    /// Human-readable description of the resampling and normalisation.
    pub description: String,
    /// Present for a two-pass model: the network runs on the whole slice, then again on the
    /// heart's crop found from the first pass's myocardium. Absent in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roi: Option<RoiSpec>,
    /// Test-time mirroring (as nnU-Net does by default): the pass that draws the result also
    /// runs on the left-right mirrored input, and the two probability maps are averaged. Absent
    /// (off) in older manifests.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mirror: bool,
}

/// The heart crop of a two-pass model (`scarseg_imaging::roi`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoiSpec {
    /// Margin around the first pass's myocardium box, a fraction of its larger side.
    pub margin: f64,
    /// Smallest crop side, source pixels.
    pub min_side: usize,
    /// First-pass myocardium components (8-connected) smaller than this fraction of the largest
    /// are left out of the box the crop is placed around, so that a stray blob far from the
    /// heart does not widen the crop. 0 keeps every pixel, as older manifests (where it is
    /// absent) did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_component_fraction: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Manifest {
    /// The 95% limits of agreement of the model's burden with the reference on its test set,
    /// percentage points (bias -+ 1.96 SD, from `scarseg eval`'s Bland-Altman figures in the
    /// metrics); `None` where it was not evaluated so.
    pub fn burden_limits(&self) -> Option<(f64, f64)> {
        let metric = |k: &str| self.metrics.get(k).copied();
        let (bias, sd) =
            metric("burden_bland_altman_mean").zip(metric("burden_bland_altman_sd"))?;
        Some((bias - 1.96 * sd, bias + 1.96 * sd))
    }
}

impl Default for RoiSpec {
    fn default() -> Self {
        Self {
            margin: scarseg_imaging::roi::ROI_MARGIN,
            min_side: scarseg_imaging::roi::ROI_MIN_SIDE,
            min_component_fraction: scarseg_imaging::roi::ROI_MIN_COMPONENT_FRACTION,
        }
    }
}

impl Preprocessing {
    /// The pipeline's one-pass preprocessing at `size`.
    pub fn at(size: usize) -> Self {
        Self {
            size,
            description: "aspect-preserving bilinear resample into a size x size square, zero \
                          padding; z-score over the image's own pixels"
                .to_string(),
            roi: None,
            mirror: false,
        }
    }

    /// Two passes at `size`: the whole slice, then the heart's crop.
    pub fn two_pass(size: usize, roi: RoiSpec) -> Self {
        Self {
            description: format!(
                "two passes: the whole slice, then a square crop around the first pass's \
                 myocardium ({}margin {} of its larger side, at least {} px); each pass an \
                 aspect-preserving bilinear resample into a size x size square, zero padding, \
                 z-score over the pass's own pixels",
                if roi.min_component_fraction > 0.0 {
                    format!(
                        "components of at least {} of the largest one, ",
                        roi.min_component_fraction
                    )
                } else {
                    String::new()
                },
                roi.margin,
                roi.min_side
            ),
            roi: Some(roi),
            ..Self::at(size)
        }
    }

    /// The same with test-time mirroring on or off.
    pub fn with_mirror(self, mirror: bool) -> Self {
        let base = self.description.trim_end_matches(MIRROR_NOTE).to_string();
        Self {
            description: if mirror { base + MIRROR_NOTE } else { base },
            mirror,
            ..self
        }
    }
}

const MIRROR_NOTE: &str = "; the pass that draws the result is averaged with the same pass on \
                           the left-right mirrored input";

/// Why a model folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is not valid JSON of the expected shape.
    #[error("manifest.json: {0}")]
    Manifest(String),
    /// The manifest is from a newer or older format.
    #[error("manifest.json: format version {found}, this build reads {expected}")]
    Version {
        /// This build's version.
        expected: u32,
        /// The file's version.
        found: u32,
    },
    /// The weights' digest differs from the manifest's.
    #[error(
        "{file}: sha256 {found} does not match the manifest's {expected} (corrupt or a different file)"
    )]
    Digest {
        /// The weights file name.
        file: String,
        /// The manifest's digest.
        expected: String,
        /// The file's digest.
        found: String,
    },
    /// The weights do not fit the architecture.
    #[error("{file}: {error}")]
    Weights {
        /// The weights file name.
        file: String,
        /// The model crate's error.
        error: ModelError,
    },
    /// The architecture config cannot be built, or takes other than one-channel slices.
    #[error("manifest.json: architecture: {0}")]
    Architecture(String),
    /// The preprocessing size is not one the network accepts.
    #[error("manifest.json: input size {0} {INPUT_SIZE_RULE}")]
    Size(usize),
    /// The default threshold is not a probability.
    #[error("manifest.json: threshold {0} {rule}", rule = THRESHOLD_RULE)]
    Threshold(f32),
    /// A file the manifest names is not a plain file name inside the model folder.
    #[error("manifest.json: {field} {name:?} is not a file name inside the model folder")]
    FileName {
        /// The manifest field (`weights.file` or `card`).
        field: &'static str,
        /// What it holds.
        name: String,
    },
    /// The heart crop's settings are out of range.
    #[error(
        "manifest.json: heart crop margin {0} (must be 0-10) or smallest side {1} (must be at least 1) is out of range"
    )]
    Roi(f64, usize),
    /// The crop's component fraction is out of range.
    #[error("manifest.json: heart crop min_component_fraction {0} must be between 0 and 1")]
    RoiComponents(f64),
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses and checks a manifest.
pub fn parse_manifest(json: &[u8]) -> Result<Manifest, LoadError> {
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let version: Version =
        serde_json::from_slice(json).map_err(|e| LoadError::Manifest(e.to_string()))?;
    if version.format_version != FORMAT_VERSION {
        return Err(LoadError::Version {
            expected: FORMAT_VERSION,
            found: version.format_version,
        });
    }
    let manifest: Manifest =
        serde_json::from_slice(json).map_err(|e| LoadError::Manifest(e.to_string()))?;
    manifest
        .architecture
        .check()
        .map_err(|e| LoadError::Architecture(e.to_string()))?;
    // The pipeline feeds one greyscale slice; a multi-channel network would fail on every one.
    if manifest.architecture.in_channels != 1 {
        return Err(LoadError::Architecture(format!(
            "in_channels is {}, this pipeline feeds one-channel slices",
            manifest.architecture.in_channels
        )));
    }
    let size = manifest.preprocessing.size;
    if !is_input_size(size) {
        return Err(LoadError::Size(size));
    }
    let threshold = manifest.postprocessing.threshold;
    if !is_threshold(threshold) {
        return Err(LoadError::Threshold(threshold));
    }
    // The CLI reads these beside manifest.json; a path ("../x", "/dev/zero") would read
    // something else, or never finish.
    for (field, name) in [
        ("weights.file", &manifest.weights.file),
        ("card", &manifest.card),
    ] {
        let plain = std::path::Path::new(name)
            .file_name()
            .is_some_and(|f| f == name.as_str());
        if !plain || name.contains(['/', '\\']) {
            return Err(LoadError::FileName {
                field,
                name: name.clone(),
            });
        }
    }
    if let Some(roi) = &manifest.preprocessing.roi
        && !(roi.margin.is_finite() && (0.0..=10.0).contains(&roi.margin) && roi.min_side > 0)
    {
        return Err(LoadError::Roi(roi.margin, roi.min_side));
    }
    if let Some(roi) = &manifest.preprocessing.roi
        && !(0.0..=1.0).contains(&roi.min_component_fraction)
    {
        return Err(LoadError::RoiComponents(roi.min_component_fraction));
    }
    Ok(manifest)
}

/// An exported model folder found in an archive: its manifest (as read, and parsed) and the
/// weights file the manifest names.
#[derive(Debug)]
pub struct ModelFiles {
    /// The manifest's bytes, for a reader that parses them itself (the page's worker).
    pub manifest_json: Vec<u8>,
    pub manifest: Manifest,
    pub weights: Vec<u8>,
}

/// The model folder packed in the archive `name` (`tar czf model.tar.gz NAME/`, a ZIP of it, as
/// one sends a model to a colleague), from the archive's files as
/// `scarseg_imaging::archive::unpack` gives them: the one [`MANIFEST_FILE`] in it, at any depth,
/// and the weights file that manifest names, beside it. An archive without a manifest, with
/// several (several models), with a manifest that does not parse, or without the weights it
/// names is an error that says which. The digest and the architecture are for the loader to
/// check, as for a folder.
pub fn model_in_archive(
    name: &str,
    mut files: Vec<(String, Vec<u8>)>,
) -> Result<ModelFiles, String> {
    let folder = |path: &str| path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let manifests: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].0.rsplit('/').next() == Some(MANIFEST_FILE))
        .collect();
    let at = match manifests[..] {
        [at] => at,
        [] => {
            return Err(format!(
                "{name}: holds no {MANIFEST_FILE}, so no exported model folder (`scarseg export` \
                 writes {MANIFEST_FILE} beside the weights)"
            ));
        }
        _ => {
            let folders: Vec<String> = manifests.iter().map(|&i| folder(&files[i].0)).collect();
            return Err(format!(
                "{name}: holds {} model folders ({}): pack one",
                folders.len(),
                folders.join(", ")
            ));
        }
    };
    let dir = folder(&files[at].0);
    let manifest = parse_manifest(&files[at].1).map_err(|e| format!("{dir}/{e}"))?;
    let wanted = format!("{dir}/{}", manifest.weights.file);
    let weights = files
        .iter()
        .position(|(path, _)| *path == wanted)
        .ok_or_else(|| format!("{wanted}: not in the archive, and its {MANIFEST_FILE} names it"))?;
    Ok(ModelFiles {
        weights: std::mem::take(&mut files[weights].1),
        manifest_json: std::mem::take(&mut files[at].1),
        manifest,
    })
}

/// What to tell a user who opened a model folder as images (an archive of one dropped with the
/// scans): where it goes instead. `paths` are the files left out as not images; `None` when none
/// of them is a [`MANIFEST_FILE`].
pub fn model_folder_hint(paths: &[String]) -> Option<String> {
    let manifest = paths
        .iter()
        .find(|p| p.rsplit('/').next() == Some(MANIFEST_FILE))?;
    let folder = manifest.rsplit_once('/').map_or(".", |(dir, _)| dir);
    Some(format!(
        "{folder}: an exported model folder ({MANIFEST_FILE} and its weights), not images: open \
         it as weights (\"Open your own weights\" in the page, --weights in scarseg)"
    ))
}

/// A model ready to run, with what it was loaded from.
#[derive(Debug)]
pub struct LoadedModel {
    /// The network.
    pub model: ScarSegNet,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Checks that `weights` are the file `manifest` names, by their sha256.
pub fn check_digest(manifest: &Manifest, weights: &[u8]) -> Result<(), LoadError> {
    let found = sha256_hex(weights);
    if found != manifest.weights.sha256 {
        return Err(LoadError::Digest {
            file: manifest.weights.file.clone(),
            expected: manifest.weights.sha256.clone(),
            found,
        });
    }
    Ok(())
}

/// Checks `weights` against `manifest` (digest, then architecture) and loads them on `device`.
pub fn load_model(
    manifest: Manifest,
    weights: &[u8],
    device: &Device,
) -> Result<LoadedModel, LoadError> {
    check_digest(&manifest, weights)?;
    let file = manifest.weights.file.clone();
    let model = from_safetensors_expecting(weights, &manifest.architecture, device)
        .map_err(|error| LoadError::Weights { file, error })?;
    Ok(LoadedModel { model, manifest })
}

/// Checks that `device` computes the top-k problems of this model's passes correctly (batch 1,
/// and 2 for a mirrored pass), before any result from it is trusted
/// ([`scarseg_model::device_check`]). The browser's worker and the CLI call it after loading.
pub async fn check_device(manifest: &Manifest, device: &Device) -> Result<(), ModelError> {
    let size = manifest.preprocessing.size;
    for batch in [1, 2] {
        scarseg_model::device_check::check_ase_topk(
            &manifest.architecture,
            device,
            batch,
            size,
            size,
        )
        .await?;
    }
    Ok(())
}

/// A model on the device it will run on.
pub struct Placed {
    /// The model, on `device`.
    pub model: LoadedModel,
    /// The GPU it was asked for, or the CPU when the GPU could not be trusted.
    pub device: Device,
    /// Why the model runs on the CPU instead of the GPU, when it does.
    pub fallback: Option<String>,
}

/// Loads a model for a GPU that nothing has vouched for yet (a clinician's browser): on `gpu`
/// if it passes [`check_device`] before `give_up` resolves, otherwise on `cpu`, with the reason.
/// A GPU that computes top-k wrongly gives wrong masks without any error; one that never answers
/// (a hung or lost device) would freeze the page; the CPU is slower but right, so either way the
/// user still gets correct results. `give_up` yields the words for the second case (the browser
/// passes a timer); it wins a tie, so an already-resolved one always falls back. The model is
/// loaded on the CPU before the caller switches, so a failure there leaves the caller as it was
/// (an `Err`), never with a model on one device and inputs on the other.
pub async fn load_trusted(
    manifest: Manifest,
    weights: &[u8],
    gpu: &Device,
    cpu: &Device,
    give_up: impl Future<Output = String>,
) -> Result<Placed, LoadError> {
    let model = load_model(manifest.clone(), weights, gpu)?;
    let verdict = futures_lite::future::or(async { Err(give_up.await) }, async {
        check_device(&model.manifest, gpu)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    match verdict {
        Ok(()) => Ok(Placed {
            model,
            device: gpu.clone(),
            fallback: None,
        }),
        Err(why) => {
            drop(model);
            Ok(Placed {
                model: load_model(manifest, weights, cpu)?,
                device: cpu.clone(),
                fallback: Some(why),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scarseg_model::weights::{Precision, to_safetensors};

    #[test]
    fn a_model_folder_opened_as_images_is_pointed_to_the_weights() {
        let left = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(
            model_folder_hint(&left(&[
                "m.zip/rho/MODEL_CARD.md",
                "m.zip/rho/manifest.json"
            ])),
            Some(
                "m.zip/rho: an exported model folder (manifest.json and its weights), not images: \
                 open it as weights (\"Open your own weights\" in the page, --weights in scarseg)"
                    .to_string()
            )
        );
        assert_eq!(model_folder_hint(&left(&["m.zip/readme.txt"])), None);
        // A file merely ending so is not the manifest.
        assert_eq!(model_folder_hint(&left(&["m.zip/old_manifest.json"])), None);
    }

    #[test]
    fn a_model_folder_is_found_in_an_archive_s_files() {
        let weights = b"not really weights".to_vec();
        let manifest = manifest_for(
            &ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]),
            &weights,
        );
        let json = serde_json::to_vec(&manifest).expect("json");
        let file = |path: &str, bytes: &[u8]| (format!("m.zip/{path}"), bytes.to_vec());
        // A folder inside the archive, with its card and a readme beside it.
        let files = vec![
            file("readme.txt", b"hi"),
            file("rho/MODEL_CARD.md", b"card"),
            file("rho/weights.safetensors", &weights),
            file("rho/manifest.json", &json),
        ];
        let found = model_in_archive("m.zip", files.clone()).expect("found");
        assert_eq!(found.manifest, manifest);
        assert_eq!(found.manifest_json, json);
        assert_eq!(found.weights, weights);
        // Or at the archive's root.
        let root = vec![
            file("manifest.json", &json),
            file("weights.safetensors", &weights),
        ];
        assert_eq!(
            model_in_archive("m.zip", root).expect("found").weights,
            weights
        );

        // No manifest; two; weights missing or in another folder; a manifest that is not one.
        let e = model_in_archive("m.zip", files[..3].to_vec()).expect_err("none");
        assert!(e.starts_with("m.zip: holds no manifest.json"), "{e}");
        let mut two = files.clone();
        two.push(file("other/manifest.json", &json));
        assert_eq!(
            model_in_archive("m.zip", two).expect_err("two"),
            "m.zip: holds 2 model folders (m.zip/rho, m.zip/other): pack one"
        );
        let mut moved = files.clone();
        moved[2].0 = "m.zip/weights.safetensors".into();
        assert_eq!(
            model_in_archive("m.zip", moved).expect_err("elsewhere"),
            "m.zip/rho/weights.safetensors: not in the archive, and its manifest.json names it"
        );
        let mut broken = files;
        broken[3].1 = b"{".to_vec();
        let e = model_in_archive("m.zip", broken).expect_err("broken");
        assert!(e.starts_with("m.zip/rho/manifest.json: "), "{e}");
    }

    fn manifest_for(config: &ScarSegNetConfig, weights: &[u8]) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            name: "t".into(),
            architecture: config.clone(),
            weights: WeightsEntry {
                file: "weights.safetensors".into(),
                sha256: sha256_hex(weights),
                bytes: weights.len() as u64,
                precision: "f32".into(),
            },
            preprocessing: Preprocessing::at(64),
            postprocessing: PostprocessOptions::default(),
            provenance: BTreeMap::new(),
            metrics: BTreeMap::new(),
            card: "MODEL_CARD.md".into(),
        }
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn manifest_round_trips_and_guards_weights() {
        let device = Device::flex();
        let config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let model = config.init(&device);
        let bytes = to_safetensors(&model, &config, Precision::F32).expect("serialise");
        let manifest = manifest_for(&config, &bytes);
        let json = serde_json::to_vec(&manifest).expect("json");
        let parsed = parse_manifest(&json).expect("parse");
        assert_eq!(parsed, manifest);
        assert!(load_model(parsed.clone(), &bytes, &device).is_ok());

        // One flipped byte: the digest check names the file.
        let mut corrupt = bytes.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        let err = load_model(parsed.clone(), &corrupt, &device).expect_err("corrupt");
        assert!(matches!(err, LoadError::Digest { .. }));
        assert!(err.to_string().starts_with("weights.safetensors: sha256"));

        // Weights of another architecture whose digest the manifest carries: config mismatch.
        let other = ScarSegNetConfig::new([8, 16, 24, 40], [1, 1, 1, 1]);
        let other_bytes =
            to_safetensors(&other.init(&device), &other, Precision::F32).expect("serialise");
        let mut lying = manifest_for(&config, &other_bytes);
        lying.architecture = config.clone();
        let err = load_model(lying, &other_bytes, &device).expect_err("mismatch");
        assert!(matches!(
            err,
            LoadError::Weights {
                error: ModelError::ConfigMismatch { .. },
                ..
            }
        ));
    }

    /// A small network's weights and manifest, with ASE keeping `rho` of each stage's pixels.
    fn small_export(rho: f64) -> (Manifest, Vec<u8>) {
        let mut config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        config.ase_rho = rho;
        let bytes = to_safetensors(&config.init(&Device::flex()), &config, Precision::F32)
            .expect("serialise");
        (manifest_for(&config, &bytes), bytes)
    }

    /// lavapipe, Mesa's software Vulkan driver, which CI installs (mesa-vulkan-drivers): a real
    /// GPU API with burn 0.22.1's top-k fault (`benchmarks/topk_survey_wgpu.md`).
    fn lavapipe() -> Device {
        Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
    }

    #[test]
    fn a_gpu_that_passes_the_check_keeps_the_model() {
        // The default model's rho (1/64) at 64 x 64: k = 1 of 256 at stage 0, inside the range
        // where lavapipe's top-k is right.
        let (manifest, bytes) = small_export(1.0 / 64.0);
        let gpu = lavapipe();
        let placed = futures_lite::future::block_on(load_trusted(
            manifest,
            &bytes,
            &gpu,
            &Device::flex(),
            std::future::pending(),
        ))
        .expect("load");
        assert_eq!(placed.fallback, None);
        assert_eq!(placed.device, gpu);
    }

    #[test]
    fn a_gpu_that_computes_top_k_wrongly_hands_the_model_to_the_cpu() {
        // rho 1 at 64 x 64: stage 0 keeps all 256 of 256 values, past k = 160, where lavapipe's
        // top-k first leaves slots unfilled at n = 256 (the survey). On it, ASE, and every mask,
        // would be wrong without an error.
        let (manifest, bytes) = small_export(1.0);
        let cpu = Device::flex();
        let placed = futures_lite::future::block_on(load_trusted(
            manifest,
            &bytes,
            &lavapipe(),
            &cpu,
            std::future::pending(),
        ))
        .expect("load");
        assert_eq!(placed.device, cpu);
        let why = placed.fallback.expect("a reason");
        assert!(
            why.starts_with("this device computes top-k wrongly (stage 0: the 256 largest of 256"),
            "{why}"
        );
    }

    #[test]
    fn a_gpu_that_does_not_answer_in_time_hands_the_model_to_the_cpu() {
        // A timer that has already run out stands for a GPU that hangs (SwiftShader on a k of
        // 1,024 ran 300 s and then lost its device): the caller's words come back as the reason.
        let (manifest, bytes) = small_export(1.0 / 64.0);
        let cpu = Device::flex();
        let placed = futures_lite::future::block_on(load_trusted(
            manifest.clone(),
            &bytes,
            &lavapipe(),
            &cpu,
            std::future::ready("the GPU did not finish the check in 30 s".to_string()),
        ))
        .expect("load");
        assert_eq!(placed.device, cpu);
        assert_eq!(
            placed.fallback.as_deref(),
            Some("the GPU did not finish the check in 30 s")
        );
        // Weights that do not load are an error whatever the timer says, not a switch.
        let mut corrupt = bytes.clone();
        corrupt[100] ^= 1;
        let err = futures_lite::future::block_on(load_trusted(
            manifest,
            &corrupt,
            &lavapipe(),
            &cpu,
            std::future::ready(String::new()),
        ))
        .err()
        .expect("corrupt");
        assert!(matches!(err, LoadError::Digest { .. }), "{err}");
    }

    #[test]
    fn input_sizes_are_multiples_of_32_up_to_the_bound() {
        for good in [32, 128, 2016, 2048] {
            assert!(is_input_size(good), "{good}");
        }
        for bad in [0, 16, 48, 100, 2080, 4096, usize::MAX] {
            assert!(!is_input_size(bad), "{bad}");
        }
        // The rule's text names the bound the check uses.
        assert!(INPUT_SIZE_RULE.ends_with(&format!("to {MAX_INPUT_SIZE}")));
    }

    #[test]
    fn bad_manifests_are_named() {
        assert!(matches!(parse_manifest(b"{"), Err(LoadError::Manifest(_))));
        assert!(matches!(
            parse_manifest(br#"{"format_version": 99}"#),
            Err(LoadError::Version { found: 99, .. })
        ));
        let device = Device::flex();
        let config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let bytes = to_safetensors(&config.init(&device), &config, Precision::F32).expect("ok");
        let mut manifest = manifest_for(&config, &bytes);
        manifest.preprocessing.size = 100;
        let json = serde_json::to_vec(&manifest).expect("json");
        assert!(matches!(parse_manifest(&json), Err(LoadError::Size(100))));
        // A multiple of 32 past the bound (the device check at load would allocate
        // (size / 4)^2 values per channel row), and the bound itself.
        manifest.preprocessing.size = 1 << 20;
        let json = serde_json::to_vec(&manifest).expect("json");
        assert_eq!(
            parse_manifest(&json).expect_err("huge").to_string(),
            "manifest.json: input size 1048576 must be a multiple of 32 from 32 to 2048"
        );
        manifest.preprocessing.size = 2048;
        let json = serde_json::to_vec(&manifest).expect("json");
        assert!(parse_manifest(&json).is_ok());
        manifest.preprocessing.size = 64;
        // Pixels strictly above the threshold are kept: 1 would keep none, 0 is allowed.
        for bad in [1.5, 1.0, -0.1, f32::NAN] {
            let mut m = manifest.clone();
            m.postprocessing.threshold = bad;
            // serde_json writes NaN as null, which is not a number: refused while parsing.
            let err = parse_manifest(&serde_json::to_vec(&m).expect("json")).expect_err("bad");
            assert!(
                matches!(err, LoadError::Threshold(t) if t == bad)
                    || (bad.is_nan() && matches!(err, LoadError::Manifest(_))),
                "{bad}: {err}"
            );
        }
        for (weights, card) in [
            ("../weights.safetensors", "MODEL_CARD.md"),
            ("/dev/zero", "MODEL_CARD.md"),
            ("", "MODEL_CARD.md"),
            ("..", "MODEL_CARD.md"),
            ("weights.safetensors", "docs/MODEL_CARD.md"),
            ("weights.safetensors", "..\\MODEL_CARD.md"),
        ] {
            let mut m = manifest.clone();
            m.weights.file = weights.into();
            m.card = card.into();
            let err = parse_manifest(&serde_json::to_vec(&m).expect("json")).expect_err("path");
            let (field, name) = if weights == "weights.safetensors" {
                ("card", card)
            } else {
                ("weights.file", weights)
            };
            assert_eq!(
                err.to_string(),
                format!(
                    "manifest.json: {field} {name:?} is not a file name inside the model folder"
                )
            );
        }
        manifest.preprocessing = Preprocessing::two_pass(
            64,
            RoiSpec {
                margin: -0.5,
                min_side: 32,
                min_component_fraction: 0.0,
            },
        );
        let json = serde_json::to_vec(&manifest).expect("json");
        assert!(matches!(parse_manifest(&json), Err(LoadError::Roi(..))));
        manifest.preprocessing = Preprocessing::two_pass(
            64,
            RoiSpec {
                min_component_fraction: 1.5,
                ..RoiSpec::default()
            },
        );
        let json = serde_json::to_vec(&manifest).expect("json");
        assert!(matches!(
            parse_manifest(&json),
            Err(LoadError::RoiComponents(f)) if f == 1.5
        ));

        // Architectures the network cannot be built from, or that the pipeline cannot feed,
        // are refused while parsing, before any weights are read.
        let mut manifest = manifest_for(&config, &bytes);
        manifest.architecture.dims[0] = 0;
        let json = serde_json::to_vec(&manifest).expect("json");
        let err = parse_manifest(&json).expect_err("zero width");
        assert_eq!(
            err.to_string(),
            "manifest.json: architecture: config: dims[0] is 0, expected 1-4096"
        );
        let mut manifest = manifest_for(&config, &bytes);
        manifest.architecture.in_channels = 3;
        let json = serde_json::to_vec(&manifest).expect("json");
        let err = parse_manifest(&json).expect_err("three channels");
        assert_eq!(
            err.to_string(),
            "manifest.json: architecture: in_channels is 3, this pipeline feeds one-channel slices"
        );
    }

    #[test]
    fn one_pass_manifests_without_a_crop_still_load_and_two_pass_ones_round_trip() {
        // A manifest written before the heart crop existed has no "roi" key.
        let device = Device::flex();
        let config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let bytes = to_safetensors(&config.init(&device), &config, Precision::F32).expect("ok");
        let manifest = manifest_for(&config, &bytes);
        let json = serde_json::to_string(&manifest).expect("json");
        assert!(!json.contains("\"roi\""));
        assert_eq!(parse_manifest(json.as_bytes()).expect("loads"), manifest);
        let mut two = manifest;
        two.preprocessing = Preprocessing::two_pass(64, RoiSpec::default());
        let json = serde_json::to_vec(&two).expect("json");
        let back = parse_manifest(&json).expect("loads");
        assert_eq!(back.preprocessing.roi, Some(RoiSpec::default()));
        // Mirroring: absent means off; on is written and read back, and says so in the
        // description; turning it off again restores the description.
        assert!(!back.preprocessing.mirror);
        assert!(!String::from_utf8_lossy(&json).contains("\"mirror\""));
        let mut mirrored = back.clone();
        mirrored.preprocessing = back.preprocessing.clone().with_mirror(true);
        let json = serde_json::to_vec(&mirrored).expect("json");
        let again = parse_manifest(&json).expect("loads");
        assert!(again.preprocessing.mirror);
        assert!(again.preprocessing.description.contains("mirrored input"));
        assert_eq!(again.preprocessing.with_mirror(false), back.preprocessing);
    }
}
