//! `scarseg eval`: the papers' tables for a model or for the classic methods on the same cases:
//! scar and myocardium Dice, HD95 (pixels and mm), burden Pearson r against the reference, and
//! sensitivity / specificity of the >5% flag; with `--noise`, ScarNet's Monte Carlo robustness
//! protocol. Means per slice and per patient (a volume Dice over the patient's slices), each
//! with its median and interquartile range; every figure with its 95% confidence interval
//! (`stats`). Prints a table; `--out` adds CSV and JSON.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use scarseg_imaging::classic::{fwhm, n_sd};
use scarseg_imaging::decode::labels_for;
use scarseg_imaging::metrics::{
    BlandAltman, Confusion, LinearFit, Mask, WALL_SECTORS, bland_altman, burden_percent,
    coefficient_of_variation, dice, hausdorff_3d, hd95, high_risk, icc_agreement, intersection_px,
    is_transmural, linear_fit, mean_sd, pearson_r, percentile, sector_scar_percent, surface_dice,
    transmural_sectors, two_way_anova,
};
use scarseg_imaging::noise::add_noise;
use scarseg_imaging::phantom::{PhantomConfig, ScarPattern};
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::quality::{listed, slice_doubts};
use scarseg_imaging::{Limits, Slice};
use scarseg_pipeline::analyse_slice;
use scarseg_pipeline::manifest::LoadedModel;
use scarseg_pipeline::{Preprocessing, RoiSpec};
use serde::Serialize;

use crate::Outcome;
use crate::data::{
    PatternArg, SEED_BLOCK, Sample, TEST_SEED, VALIDATION_SEED, check_folds, check_pattern,
    emidec_samples, folds_of_patients, image_stem, label_masks, output_label_hint,
    output_labels_in, pair_samples, phantom_samples, several_patterns,
};
use crate::model_dir::{self, ModelRef};
use crate::plots;
use crate::stats::{
    BlandAltmanCi, Interval, bland_altman_ci95, icc_agreement_ci95, mean_ci95, pearson_ci95,
    wilson_ci95,
};

/// What segments the scar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Method {
    /// The network (scar and myocardium).
    Network,
    /// Full width at half maximum inside the reference myocardium.
    Fwhm,
    /// Mean + n SD of remote myocardium inside the reference myocardium (`--n`).
    Nsd,
    /// Label volumes made elsewhere (`--predictions DIR`), not a method to name.
    #[value(skip)]
    Predictions,
}

/// Arguments of `scarseg eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model folder, or a ZIP or tar archive of one; the bundled default model when absent. Given
    /// K times with `--folds K`
    /// and no `--fold`, each fold's patients are segmented by its own model (fold 0's first):
    /// cross-validation's pooled table.
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// K-fold cross-validation (EMIDEC and pairs): the patients dealt into K folds as `train
    /// --folds K` deals them (same `--fold-seed`). With `--fold I`, fold I's patients only.
    #[arg(long, conflicts_with = "phantom")]
    pub folds: Option<usize>,
    /// The fold to evaluate (0 to K - 1), with one model: the one trained without it.
    #[arg(long, requires = "folds")]
    pub fold: Option<usize>,
    /// Seed that dealt the patients into folds (`train --fold-seed`).
    #[arg(long, default_value_t = 0, requires = "folds")]
    pub fold_seed: u64,
    /// Method to evaluate.
    #[arg(long, value_enum, default_value = "network")]
    pub method: Method,
    /// n for `--method nsd`: 2, 3, 5 or 6.
    #[arg(long, default_value_t = 5)]
    pub n: u32,
    /// Evaluate on N phantom test cases (fixed test seeds, never used in training).
    #[arg(long, conflicts_with_all = ["emidec", "pairs"])]
    pub phantom: Option<usize>,
    /// With --phantom: the validation cases (the seeds training validates on) instead of the
    /// test cases, for choosing a threshold without touching the test set.
    #[arg(long, requires = "phantom")]
    pub validation: bool,
    /// With --phantom: leave out the first K cases (seeds start K later), so that a run scores
    /// only cases that earlier runs did not rank or confirm on.
    #[arg(long, requires = "phantom", default_value_t = 0)]
    pub skip: u64,
    /// With --phantom: where in the wall the cases' scar lies, to measure a model on the
    /// non-ischemic patterns (the same seeds then draw other cases); `mixed` also gives each
    /// pattern's figures.
    #[arg(long, value_enum, requires = "phantom", default_value = "ischemic")]
    pub pattern: PatternArg,
    /// Probability threshold instead of the model's own (manifest) one.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    /// Remove scar and myocardium components smaller than this many pixels, instead of the
    /// model's own (manifest) setting.
    #[arg(long)]
    pub min_component_px: Option<usize>,
    /// Test-time mirroring on (true) or off (false) instead of the model's own (manifest)
    /// setting: the pass that draws the result is averaged with its left-right mirror.
    #[arg(long)]
    pub mirror: Option<bool>,
    /// For a two-pass model, instead of its own (manifest) setting: first-pass myocardium
    /// components smaller than this fraction of the largest are left out when placing the
    /// heart's crop (0 keeps all).
    #[arg(long)]
    pub crop_components: Option<f64>,
    /// Evaluate on the EMIDEC layout in DIR.
    #[arg(long, conflicts_with = "pairs")]
    pub emidec: Option<PathBuf>,
    /// Evaluate on image files with `NAME_labels.*` beside them.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Monte Carlo robustness: Gaussian noise SD as a fraction of each image's
    /// intensity range (MODEL.md: 0.05).
    #[arg(long, allow_negative_numbers = true)]
    pub noise: Option<f64>,
    /// Monte Carlo iterations per slice.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// flex (CPU), `wgpu[:i]`, vulkan, `cuda[:i]` or libtorch (CPU, `tch` feature).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Folder for eval.csv and eval.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Evaluate label volumes made elsewhere instead of a method, against the reference of
    /// --pairs or --emidec: for each image NAME, DIR/NAME_labels.nii.gz (or .nii, .png; EMIDEC's
    /// values 0-4 on the image's grid), as `scarseg predict --out DIR` writes them: another
    /// reader's contours (inter-observer agreement), another tool's output, corrected masks.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "weights", "method", "phantom", "noise", "threshold", "min_component_px", "mirror",
        "crop_components",
    ])]
    pub predictions: Option<PathBuf>,
}

/// Per-slice figures.
#[derive(Debug, Clone, Serialize)]
pub struct SliceEval {
    /// Patient (case).
    pub patient: String,
    /// How the phantom drew the case's scar (empty for a case without scar or read from files).
    pub pattern: Option<ScarPattern>,
    /// The slice's source.
    pub source: String,
    /// Scar Dice.
    pub scar_dice: f64,
    /// Myocardium Dice (network only).
    pub myocardium_dice: Option<f64>,
    /// Scar HD95, pixels (None when either mask is empty).
    pub scar_hd95_px: Option<f64>,
    /// Scar HD95, mm.
    pub scar_hd95_mm: Option<f64>,
    /// Scar surface Dice at 1 pixel: the share of both scar boundaries within 1 px of the other.
    pub scar_surface_dice_1px: f64,
    /// Myocardium HD95, pixels.
    pub myocardium_hd95_px: Option<f64>,
    /// Myocardium HD95, mm.
    pub myocardium_hd95_mm: Option<f64>,
    /// Predicted scar area, mm2.
    pub scar_area_mm2: f64,
    /// Predicted myocardium area, mm2.
    pub myocardium_area_mm2: f64,
    /// Reference scar area, mm2.
    pub reference_scar_area_mm2: f64,
    /// Reference myocardium area, mm2.
    pub reference_myocardium_area_mm2: f64,
    /// Wall sectors whose predicted scar fills more than half their predicted myocardium
    /// (`scarseg_imaging::metrics::sector_scar_percent`, twelve per slice).
    pub transmural_sectors: usize,
    /// The same from the reference masks.
    pub reference_transmural_sectors: usize,
    /// Monte Carlo: burden mean, SD and CoV over the noisy copies.
    pub noise_burden_mean: Option<f64>,
    /// Monte Carlo burden SD.
    pub noise_burden_sd: Option<f64>,
    /// Monte Carlo burden CoV.
    pub noise_burden_cov: Option<f64>,
    /// Monte Carlo mean scar Dice.
    pub noise_scar_dice_mean: Option<f64>,
    /// Whether the outline checks (`scarseg_imaging::quality`) doubt the evaluated masks: not
    /// one ring round a bright cavity (network and label volumes; the classic methods take the
    /// reference's myocardium).
    pub outline_doubted: Option<bool>,
    /// Why, joined by "; " (empty where not doubted).
    pub outline_doubts: String,
}

/// Per-patient figures, one row per patient of `eval_patients.csv`: the burdens the agreement
/// statistics compare (what a Bland-Altman plot draws: the mean against the difference), and
/// the patient's volume Dice and volumes, as EMIDEC and ScarNet score a patient.
#[derive(Debug, Clone, Serialize)]
pub struct PatientEval {
    /// Patient (case).
    pub patient: String,
    /// How the phantom drew the case's scar, as in [`SliceEval::pattern`].
    pub pattern: Option<ScarPattern>,
    /// Slices evaluated.
    pub slices: usize,
    /// Volume-weighted scar burden from the evaluated masks, percent (0 without myocardium).
    pub burden_percent: f64,
    /// The same from the reference.
    pub reference_burden_percent: f64,
    /// burden minus reference, percentage points.
    pub difference_pp: f64,
    /// The two burdens' mean, percent.
    pub mean_percent: f64,
    /// Scar Dice over the patient's slices together (each pixel weighted by its volume), not
    /// the mean of the slices' Dice: a slice with a sliver of scar counts for its sliver.
    pub scar_dice: f64,
    /// Myocardium Dice likewise (the network and label volumes; the classic methods take the
    /// reference's myocardium).
    pub myocardium_dice: Option<f64>,
    /// Scar volume from the evaluated masks, mL (area x slice thickness).
    pub scar_volume_ml: f64,
    /// The same from the reference.
    pub reference_scar_volume_ml: f64,
    /// Myocardium volume (scar included) from the evaluated masks, mL.
    pub myocardium_volume_ml: f64,
    /// The same from the reference.
    pub reference_myocardium_volume_ml: f64,
    /// 3-D Hausdorff distance of the myocardium over the patient's stack, mm (EMIDEC's), with
    /// [`MIN_SLICES_3D`] slices or more (network and label volumes only).
    pub myocardium_hd_mm: Option<f64>,
    /// 3-D 95th-percentile Hausdorff distance of the myocardium, mm.
    pub myocardium_hd95_mm: Option<f64>,
    /// 3-D 95th-percentile Hausdorff distance of the scar, mm (`None` where either has none).
    pub scar_hd95_mm: Option<f64>,
}

/// Slices a patient needs for 3-D surface distances: with fewer, every voxel of a mask lies
/// on its first or last slice, so the whole mask would count as surface.
pub const MIN_SLICES_3D: usize = 3;

/// A patient's 3-D Hausdorff distances, mm: (myocardium HD, myocardium HD95, scar HD95).
type Distances3d = (Option<f64>, Option<f64>, Option<f64>);

/// The 3-D distances of one patient's consecutive slices `group`, whose evaluated (scar,
/// myocardium) are `evaluated`: none with fewer than [`MIN_SLICES_3D`] slices or slices of
/// differing spacing; the myocardium's only where the method draws its own (`network`).
fn distances_3d(group: &[Sample], evaluated: &[(Mask, Mask)], network: bool) -> Distances3d {
    let first = &group[0].image;
    if evaluated.len() < MIN_SLICES_3D
        || evaluated.len() != group.len()
        || group.iter().any(|s| s.image.spacing_mm != first.spacing_mm)
    {
        return (None, None, None);
    }
    // Each slice's position along the first slice's normal, mm.
    let n = first.normal();
    let z: Vec<f64> = group
        .iter()
        .map(|s| (0..3).map(|i| s.image.position_mm[i] * n[i]).sum())
        .collect();
    let scar: Vec<&Mask> = evaluated.iter().map(|m| &m.0).collect();
    let myo: Vec<&Mask> = evaluated.iter().map(|m| &m.1).collect();
    let reference_scar: Vec<&Mask> = group.iter().map(|s| &s.scar).collect();
    let reference_myo: Vec<&Mask> = group.iter().map(|s| &s.myocardium).collect();
    let spacing = first.spacing_mm;
    let myo = network
        .then(|| hausdorff_3d(&myo, &reference_myo, spacing, &z))
        .flatten();
    let scar = hausdorff_3d(&scar, &reference_scar, spacing, &z);
    (myo.map(|d| d.0), myo.map(|d| d.1), scar.map(|d| d.1))
}

/// A patient's slices summed as volumes (area x thickness), mm3.
#[derive(Debug, Clone, Copy, Default)]
struct Volumes {
    slices: usize,
    scar: f64,
    reference_scar: f64,
    scar_overlap: f64,
    myocardium: f64,
    reference_myocardium: f64,
    myocardium_overlap: f64,
}

/// Dice from volumes: 2 |A n B| / (|A| + |B|), empty against empty 1.
fn volume_dice(overlap: f64, a: f64, b: f64) -> f64 {
    if a + b > 0.0 {
        2.0 * overlap / (a + b)
    } else {
        1.0
    }
}

/// A mean and SD over `n` values.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample SD.
    pub sd: f64,
    /// Values that entered.
    pub n: usize,
    /// 95% confidence interval of the mean, patients as the independent unit
    /// ([`mean_ci95`]); `None` with fewer than two patients.
    pub ci95: Option<Interval>,
    /// Median (ScarNet reports Dice as median and interquartile range, its Dice not being
    /// normally distributed).
    pub median: f64,
    /// First quartile (NumPy's default interpolation).
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
}

/// The values a Dice (or surface Dice) can take.
const UNIT: (f64, f64) = (0.0, 1.0);
/// The values a distance, an absolute difference or a coefficient of variation can take.
const NON_NEGATIVE: (f64, f64) = (0.0, f64::INFINITY);

/// [`Stat`] of per-slice values, `(patient, value)`, of a quantity that lies in `range` (its
/// confidence interval is clipped to it); missing and non-finite values are left out.
fn stat<'a>(
    values: impl Iterator<Item = (&'a str, Option<f64>)>,
    range: (f64, f64),
) -> Option<Stat> {
    let v: Vec<(&str, f64)> = values
        .filter_map(|(p, x)| Some((p, x?)))
        .filter(|(_, x)| x.is_finite())
        .collect();
    let values: Vec<f64> = v.iter().map(|x| x.1).collect();
    let (mean, sd) = mean_sd(&values)?;
    let quantile = |q: f64| percentile(&values, q);
    Some(Stat {
        mean,
        sd,
        n: v.len(),
        ci95: mean_ci95(v.iter().copied()).map(|i| i.clipped(range)),
        median: quantile(50.0)?,
        q1: quantile(25.0)?,
        q3: quantile(75.0)?,
    })
}

/// The table.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// What was evaluated.
    pub method: String,
    /// Slices.
    pub slices: usize,
    /// Patients (stacks).
    pub patients: usize,
    /// Scar Dice.
    pub scar_dice: Option<Stat>,
    /// Myocardium Dice.
    pub myocardium_dice: Option<Stat>,
    /// Scar HD95, pixels.
    pub scar_hd95_px: Option<Stat>,
    /// Scar HD95, mm.
    pub scar_hd95_mm: Option<Stat>,
    /// Scar surface Dice at a 1-pixel tolerance.
    pub scar_surface_dice_1px: Option<Stat>,
    /// Myocardium HD95, pixels.
    pub myocardium_hd95_px: Option<Stat>,
    /// Myocardium HD95, mm.
    pub myocardium_hd95_mm: Option<Stat>,
    /// Scar Dice per patient, over the patient's slices together ([`PatientEval::scar_dice`]).
    pub patient_scar_dice: Option<Stat>,
    /// Myocardium Dice per patient, likewise.
    pub patient_myocardium_dice: Option<Stat>,
    /// 3-D Hausdorff distance of the myocardium per patient, mm ([`PatientEval::myocardium_hd_mm`]).
    pub patient_myocardium_hd_mm: Option<Stat>,
    /// 3-D HD95 of the myocardium per patient, mm.
    pub patient_myocardium_hd95_mm: Option<Stat>,
    /// 3-D HD95 of the scar per patient, mm.
    pub patient_scar_hd95_mm: Option<Stat>,
    /// Absolute difference of each patient's scar volume from the reference's, mL (EMIDEC's
    /// clinical metrics: absolute volume differences of the infarct and the myocardium, and of
    /// the infarct's share of it).
    pub patient_scar_volume_abs_difference_ml: Option<Stat>,
    /// The same for the myocardium (network and label volumes only).
    pub patient_myocardium_volume_abs_difference_ml: Option<Stat>,
    /// Absolute difference of each patient's burden from the reference's, percentage points.
    pub patient_burden_abs_difference_pp: Option<Stat>,
    /// Pearson r of per-patient burden against the reference.
    pub burden_pearson_r: Option<f64>,
    /// Its 95% confidence interval (Fisher's z).
    pub burden_pearson_r_ci95: Option<Interval>,
    /// The least-squares line of per-patient burden (y) on the reference's (x).
    pub burden_fit: Option<LinearFit>,
    /// Bland-Altman agreement of per-patient burden with the reference, percentage points
    /// (predicted minus reference: the bias, SD and 95% limits of agreement).
    pub burden_bland_altman: Option<BlandAltman>,
    /// 95% confidence intervals of the bias and of each limit of agreement.
    pub burden_bland_altman_ci95: Option<BlandAltmanCi>,
    /// Intraclass correlation of per-patient burden with the reference (two-way random,
    /// absolute agreement, single measurement: ICC(A,1)).
    pub burden_icc: Option<f64>,
    /// Its 95% confidence interval (McGraw and Wong).
    pub burden_icc_ci95: Option<Interval>,
    /// Sensitivity of the >5% flag per patient.
    pub flag_sensitivity: Option<f64>,
    /// Its 95% confidence interval (Wilson).
    pub flag_sensitivity_ci95: Option<Interval>,
    /// Specificity of the >5% flag per patient.
    pub flag_specificity: Option<f64>,
    /// Its 95% confidence interval (Wilson).
    pub flag_specificity_ci95: Option<Interval>,
    /// The flag's counts per patient.
    pub flag_counts: Confusion,
    /// Sensitivity of the transmural call (scar over half a wall sector's myocardium), over
    /// every sector of every slice where both the prediction and the reference hold myocardium.
    /// No confidence interval: a slice's sectors are not independent of each other.
    pub transmural_sector_sensitivity: Option<f64>,
    /// Specificity of the transmural call, likewise.
    pub transmural_sector_specificity: Option<f64>,
    /// The transmural call's counts over sectors.
    pub transmural_sector_counts: Confusion,
    /// Monte Carlo: mean over slices of the burden CoV.
    pub noise_burden_cov: Option<Stat>,
    /// Monte Carlo: mean scar Dice over all noisy copies.
    pub noise_scar_dice: Option<Stat>,
    /// Slices whose evaluated masks the outline checks doubt (`SliceEval::outline_doubted`;
    /// `None` for the classic methods).
    pub doubted_slices: Option<usize>,
    /// Scar Dice on those slices: whether the checks find the failures.
    pub doubted_scar_dice: Option<Stat>,
    /// Scar Dice on the others.
    pub undoubted_scar_dice: Option<Stat>,
}

struct Segmenter<'a> {
    method: Method,
    n: u32,
    /// The network's models: one, or one per cross-validation fold.
    models: Vec<&'a LoadedModel>,
    /// Each sample's model, by index into `models`.
    model_of: Vec<usize>,
    device: &'a Device,
    options: PostprocessOptions,
    /// With `Method::Predictions`: each sample's (scar, myocardium), in the samples' order.
    predictions: Vec<(Mask, Mask)>,
}

impl Segmenter<'_> {
    /// (scar, myocardium) on the sample's grid for the given pixels; `index` is the sample's
    /// place among those evaluated.
    fn segment(&self, index: usize, sample: &Sample, pixels: Vec<f32>) -> Result<(Mask, Mask)> {
        let mut slice = sample.image.clone();
        slice.pixels = pixels;
        let model = self
            .model_of
            .get(index)
            .and_then(|&m| self.models.get(m).copied());
        match (self.method, model) {
            (Method::Predictions, _) => self
                .predictions
                .get(index)
                .cloned()
                .context("no label volume for this slice"),
            (Method::Network, Some(model)) => {
                let r = futures_lite::future::block_on(analyse_slice(
                    &model.model,
                    self.device,
                    &slice,
                    &model.manifest.preprocessing,
                    &self.options,
                ))?;
                Ok((r.scar, r.myocardium))
            }
            (Method::Fwhm, _) => Ok((
                fwhm(&slice.pixels, &sample.myocardium).scar,
                sample.myocardium.clone(),
            )),
            (Method::Nsd, _) => Ok((
                n_sd(&slice.pixels, &sample.myocardium, self.n as f64).scar,
                sample.myocardium.clone(),
            )),
            (Method::Network, None) => bail!("no model loaded"),
        }
    }
}

fn area(m: &Mask, sample: &Sample) -> f64 {
    m.area_px() as f64 * sample.image.pixel_area_mm2()
}

/// What [`evaluate`] measured: per-slice rows, per-patient rows, and each row's (predicted,
/// reference) transmural calls of the sectors both masks' walls reach.
struct Measured {
    rows: Vec<SliceEval>,
    patients: Vec<PatientEval>,
    calls: Vec<Vec<(bool, bool)>>,
}

impl Measured {
    /// The cases whose scar the phantom drew with `pattern`.
    fn of_pattern(&self, pattern: ScarPattern) -> Self {
        let (rows, calls) = self
            .rows
            .iter()
            .zip(&self.calls)
            .filter(|(r, _)| r.pattern == Some(pattern))
            .map(|(r, c)| (r.clone(), c.clone()))
            .unzip();
        let patients = self
            .patients
            .iter()
            .filter(|p| p.pattern == Some(pattern))
            .cloned()
            .collect();
        Self {
            rows,
            patients,
            calls,
        }
    }

    /// The scar patterns among the cases, where there are several ([`several_patterns`]).
    fn patterns(&self) -> Vec<ScarPattern> {
        several_patterns(self.rows.iter().map(|r| r.pattern))
    }
}

/// Evaluates `samples`: the per-slice and per-patient rows.
fn evaluate(
    seg: &Segmenter<'_>,
    samples: &[Sample],
    noise: Option<(f64, usize, u64)>,
) -> Result<Measured> {
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| ProgressBar::new(samples.len() as u64));
    let mut rows = Vec::new();
    let mut calls: Vec<Vec<(bool, bool)>> = Vec::new();
    // The network and label volumes draw their own myocardium; the classic methods take the
    // reference's.
    let network = matches!(seg.method, Method::Network | Method::Predictions);
    // Per patient: volumes (slice thickness from each slice), and the 3-D distances of its
    // stack of consecutive slices; a patient whose slices are not consecutive gets none.
    let mut by_patient: BTreeMap<&str, (Volumes, Option<ScarPattern>)> = BTreeMap::new();
    let mut distances: BTreeMap<&str, Distances3d> = BTreeMap::new();
    let mut index = 0;
    for group in samples.chunk_by(|a, b| a.patient == b.patient) {
        // The group's evaluated masks, kept for its 3-D distances where it has enough slices.
        let mut evaluated = Vec::new();
        for s in group {
            let (scar, myo) = seg.segment(index, s, s.image.pixels.clone())?;
            let doubts = network.then(|| slice_doubts(&s.image.pixels, &scar, &myo));
            let spacing = s.image.spacing_mm;
            let sectors = sector_scar_percent(&scar, &myo, spacing, WALL_SECTORS);
            let reference_sectors =
                sector_scar_percent(&s.scar, &s.myocardium, spacing, WALL_SECTORS);
            calls.push(
                sectors
                    .iter()
                    .zip(&reference_sectors)
                    .filter_map(|(p, r)| Some((is_transmural((*p)?), is_transmural((*r)?))))
                    .collect(),
            );
            let mut row = SliceEval {
                patient: s.patient.clone(),
                pattern: s.pattern,
                source: s.image.source.clone(),
                scar_dice: dice(&scar, &s.scar),
                myocardium_dice: network.then(|| dice(&myo, &s.myocardium)),
                scar_hd95_px: hd95(&scar, &s.scar, [1.0, 1.0]),
                scar_hd95_mm: hd95(&scar, &s.scar, spacing),
                scar_surface_dice_1px: surface_dice(&scar, &s.scar, [1.0, 1.0], 1.0),
                myocardium_hd95_px: network
                    .then(|| hd95(&myo, &s.myocardium, [1.0, 1.0]))
                    .flatten(),
                myocardium_hd95_mm: network
                    .then(|| hd95(&myo, &s.myocardium, spacing))
                    .flatten(),
                scar_area_mm2: area(&scar, s),
                myocardium_area_mm2: area(&myo, s),
                reference_scar_area_mm2: area(&s.scar, s),
                reference_myocardium_area_mm2: area(&s.myocardium, s),
                transmural_sectors: transmural_sectors(&sectors),
                reference_transmural_sectors: transmural_sectors(&reference_sectors),
                noise_burden_mean: None,
                noise_burden_sd: None,
                noise_burden_cov: None,
                noise_scar_dice_mean: None,
                outline_doubted: doubts.as_ref().map(|d| !d.is_empty()),
                outline_doubts: doubts.as_deref().map(listed).unwrap_or_default(),
            };
            if let Some((sigma, iterations, seed)) = noise {
                let mut burdens = Vec::new();
                let mut dices = Vec::new();
                for k in 0..iterations {
                    // Each case's noise is its own stream of the run's seed: repeatable per case.
                    let stream = seed ^ (rows.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let noisy = add_noise(&s.image.pixels, sigma, stream, k as u64);
                    let (scar, myo) = seg.segment(index, s, noisy)?;
                    if let Some(b) = burden_percent(area(&scar, s), area(&myo, s)) {
                        burdens.push(b);
                    }
                    dices.push(dice(&scar, &s.scar));
                }
                let ms = mean_sd(&burdens);
                row.noise_burden_mean = ms.map(|m| m.0);
                row.noise_burden_sd = ms.map(|m| m.1);
                row.noise_burden_cov = coefficient_of_variation(&burdens);
                row.noise_scar_dice_mean = mean_sd(&dices).map(|m| m.0);
            }
            let (v, pattern) = by_patient.entry(s.patient.as_str()).or_default();
            *pattern = s.pattern;
            // Areas in mm2 times the slice's thickness: mm3.
            let t = s.image.thickness_mm;
            let pixel_mm3 = s.image.pixel_area_mm2() * t;
            v.slices += 1;
            v.scar += row.scar_area_mm2 * t;
            v.reference_scar += row.reference_scar_area_mm2 * t;
            v.scar_overlap += intersection_px(&scar, &s.scar) as f64 * pixel_mm3;
            v.myocardium += row.myocardium_area_mm2 * t;
            v.reference_myocardium += row.reference_myocardium_area_mm2 * t;
            v.myocardium_overlap += intersection_px(&myo, &s.myocardium) as f64 * pixel_mm3;
            rows.push(row);
            if group.len() >= MIN_SLICES_3D {
                evaluated.push((scar, myo));
            }
            index += 1;
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        let patient = group[0].patient.as_str();
        let d = distances_3d(group, &evaluated, network);
        if distances.insert(patient, d).is_some() {
            distances.insert(patient, (None, None, None));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut patients = Vec::new();
    for (name, (v, pattern)) in &by_patient {
        let (myocardium_hd_mm, myocardium_hd95_mm, scar_hd95_mm) =
            distances.get(name).copied().unwrap_or_default();
        // A patient without reference myocardium has no burden to compare with.
        if let Some(r) = burden_percent(v.reference_scar, v.reference_myocardium) {
            let b = burden_percent(v.scar, v.myocardium).unwrap_or(0.0);
            patients.push(PatientEval {
                patient: name.to_string(),
                pattern: *pattern,
                slices: v.slices,
                burden_percent: b,
                reference_burden_percent: r,
                difference_pp: b - r,
                mean_percent: (b + r) / 2.0,
                scar_dice: volume_dice(v.scar_overlap, v.scar, v.reference_scar),
                myocardium_dice: network.then(|| {
                    volume_dice(v.myocardium_overlap, v.myocardium, v.reference_myocardium)
                }),
                scar_volume_ml: v.scar / 1000.0,
                reference_scar_volume_ml: v.reference_scar / 1000.0,
                myocardium_volume_ml: v.myocardium / 1000.0,
                reference_myocardium_volume_ml: v.reference_myocardium / 1000.0,
                myocardium_hd_mm,
                myocardium_hd95_mm,
                scar_hd95_mm,
            });
        }
    }
    Ok(Measured {
        rows,
        patients,
        calls,
    })
}

/// The summary of what was measured, under the method's name `label`.
fn summarize(measured: &Measured, label: String) -> Summary {
    let Measured {
        rows,
        patients,
        calls,
    } = measured;
    let predicted: Vec<f64> = patients.iter().map(|p| p.burden_percent).collect();
    let reference: Vec<f64> = patients
        .iter()
        .map(|p| p.reference_burden_percent)
        .collect();
    let flags = |v: &[f64]| v.iter().map(|b| high_risk(*b)).collect::<Vec<_>>();
    let flag = Confusion::of(&flags(&predicted), &flags(&reference));
    let (called, truth): (Vec<bool>, Vec<bool>) = calls.iter().flatten().copied().unzip();
    // Patients evaluated, those without reference myocardium (no burden) included.
    let evaluated: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.patient.as_str()).collect();
    let sectors = Confusion::of(&called, &truth);
    let r = pearson_r(&predicted, &reference);
    let agreement = bland_altman(&predicted, &reference);
    let icc = icc_agreement(&predicted, &reference);
    let per_slice = |f: fn(&SliceEval) -> Option<f64>| {
        rows.iter().map(move |row| (row.patient.as_str(), f(row)))
    };
    let per_patient = |f: fn(&PatientEval) -> Option<f64>| {
        patients.iter().map(move |p| (p.patient.as_str(), f(p)))
    };
    Summary {
        method: label,
        slices: rows.len(),
        patients: evaluated.len(),
        scar_dice: stat(per_slice(|r| Some(r.scar_dice)), UNIT),
        myocardium_dice: stat(per_slice(|r| r.myocardium_dice), UNIT),
        scar_hd95_px: stat(per_slice(|r| r.scar_hd95_px), NON_NEGATIVE),
        scar_hd95_mm: stat(per_slice(|r| r.scar_hd95_mm), NON_NEGATIVE),
        scar_surface_dice_1px: stat(per_slice(|r| Some(r.scar_surface_dice_1px)), UNIT),
        myocardium_hd95_px: stat(per_slice(|r| r.myocardium_hd95_px), NON_NEGATIVE),
        myocardium_hd95_mm: stat(per_slice(|r| r.myocardium_hd95_mm), NON_NEGATIVE),
        patient_scar_dice: stat(per_patient(|p| Some(p.scar_dice)), UNIT),
        patient_myocardium_dice: stat(per_patient(|p| p.myocardium_dice), UNIT),
        patient_myocardium_hd_mm: stat(per_patient(|p| p.myocardium_hd_mm), NON_NEGATIVE),
        patient_myocardium_hd95_mm: stat(per_patient(|p| p.myocardium_hd95_mm), NON_NEGATIVE),
        patient_scar_hd95_mm: stat(per_patient(|p| p.scar_hd95_mm), NON_NEGATIVE),
        patient_scar_volume_abs_difference_ml: stat(
            per_patient(|p| Some((p.scar_volume_ml - p.reference_scar_volume_ml).abs())),
            NON_NEGATIVE,
        ),
        // The classic methods take the reference's myocardium, as their Dice says.
        patient_myocardium_volume_abs_difference_ml: stat(
            per_patient(|p| {
                let d = p.myocardium_volume_ml - p.reference_myocardium_volume_ml;
                p.myocardium_dice.map(|_| d.abs())
            }),
            NON_NEGATIVE,
        ),
        patient_burden_abs_difference_pp: stat(
            per_patient(|p| Some(p.difference_pp.abs())),
            NON_NEGATIVE,
        ),
        burden_pearson_r: r,
        burden_pearson_r_ci95: r.and_then(|r| pearson_ci95(r, predicted.len())),
        burden_fit: linear_fit(&reference, &predicted),
        burden_bland_altman: agreement,
        burden_bland_altman_ci95: agreement.as_ref().and_then(bland_altman_ci95),
        burden_icc: icc,
        burden_icc_ci95: icc
            .zip(two_way_anova(&predicted, &reference))
            .and_then(|(icc, anova)| icc_agreement_ci95(&anova, icc)),
        flag_sensitivity: flag.sensitivity(),
        flag_sensitivity_ci95: wilson_ci95(flag.true_positive, flag.positives()),
        flag_specificity: flag.specificity(),
        flag_specificity_ci95: wilson_ci95(flag.true_negative, flag.negatives()),
        flag_counts: flag,
        transmural_sector_sensitivity: sectors.sensitivity(),
        transmural_sector_specificity: sectors.specificity(),
        transmural_sector_counts: sectors,
        noise_burden_cov: stat(per_slice(|r| r.noise_burden_cov), NON_NEGATIVE),
        noise_scar_dice: stat(per_slice(|r| r.noise_scar_dice_mean), UNIT),
        doubted_slices: rows
            .iter()
            .map(|r| r.outline_doubted.map(usize::from))
            .sum(),
        doubted_scar_dice: stat(
            per_slice(|r| r.outline_doubted.filter(|d| *d).map(|_| r.scar_dice)),
            UNIT,
        ),
        undoubted_scar_dice: stat(
            per_slice(|r| r.outline_doubted.filter(|d| !*d).map(|_| r.scar_dice)),
            UNIT,
        ),
    }
}

/// The figures of each scar pattern, one row each: patients and slices, scar Dice per slice
/// (mean and 95% CI), the burden's bias, and the flag's sensitivity and specificity with their
/// counts. The full summaries are eval.json's `by_pattern`.
pub fn pattern_table(by_pattern: &BTreeMap<&str, Summary>) -> String {
    let mut out = String::from(
        "by scar pattern (cases with scar):\n  pattern        patients  slices  \
         scar Dice (95% CI)      burden bias (pp)  >5% flag sens   >5% flag spec\n",
    );
    for (name, s) in by_pattern {
        let dice = s.scar_dice.map_or("-".into(), |d| match d.ci95 {
            Some(i) => format!("{:.3} ({:.3}-{:.3})", d.mean, i.lower, i.upper),
            None => format!("{:.3}", d.mean),
        });
        let bias = s
            .burden_bland_altman
            .map_or("-".into(), |b| format!("{:+.2}", b.mean));
        let c = &s.flag_counts;
        let share = |x: Option<f64>, hits: usize, of: usize| {
            x.map_or("-".into(), |v| format!("{v:.3} ({hits}/{of})"))
        };
        out.push_str(&format!(
            "  {name:<14} {:>8}  {:>6}  {dice:<22}  {bias:<16}  {:<14}  {}\n",
            s.patients,
            s.slices,
            share(s.flag_sensitivity, c.true_positive, c.positives()),
            share(s.flag_specificity, c.true_negative, c.negatives()),
        ));
    }
    out
}

/// The summary as an aligned text table, each figure with its 95% confidence interval.
pub fn table(s: &Summary) -> String {
    let ci = |i: Option<Interval>, digits: usize| {
        i.map_or(String::new(), |i| {
            format!("95% CI {:.d$} to {:.d$}", i.lower, i.upper, d = digits)
        })
    };
    // "0.787 +- 0.207  (95% CI 0.745 to 0.828; median 0.853, IQR 0.712 to 0.930; n = 100)".
    let f = |x: &Option<Stat>, digits: usize| match x {
        Some(x) => {
            let interval = x
                .ci95
                .map_or(String::new(), |i| format!("{}; ", ci(Some(i), digits)));
            format!(
                "{:.d$} +- {:.d$}  ({interval}median {:.d$}, IQR {:.d$} to {:.d$}; n = {})",
                x.mean,
                x.sd,
                x.median,
                x.q1,
                x.q3,
                x.n,
                d = digits
            )
        }
        None => "-".to_string(),
    };
    let o = |x: Option<f64>, i: Option<Interval>| match (x, i) {
        (Some(v), Some(_)) => format!("{v:.3}  ({})", ci(i, 3)),
        (Some(v), None) => format!("{v:.3}"),
        (None, _) => "-".into(),
    };
    // A proportion with its counts: "0.966  (56 of 58; 95% CI 0.883 to 0.990)".
    let p = |x: Option<f64>, hits: usize, of: usize, i: Option<Interval>| match x {
        Some(v) if i.is_some() => format!("{v:.3}  ({hits} of {of}; {})", ci(i, 3)),
        Some(v) => format!("{v:.3}  ({hits} of {of})"),
        None => "-".into(),
    };
    let (flag, sectors) = (&s.flag_counts, &s.transmural_sector_counts);
    let mut out = format!(
        "{}: {} slices, {} patients\n",
        s.method, s.slices, s.patients
    );
    let lines = [
        ("scar Dice", f(&s.scar_dice, 3)),
        ("myocardium Dice", f(&s.myocardium_dice, 3)),
        ("scar HD95 (px)", f(&s.scar_hd95_px, 2)),
        ("scar HD95 (mm)", f(&s.scar_hd95_mm, 2)),
        ("scar surface Dice 1px", f(&s.scar_surface_dice_1px, 3)),
        ("myocardium HD95 (px)", f(&s.myocardium_hd95_px, 2)),
        ("myocardium HD95 (mm)", f(&s.myocardium_hd95_mm, 2)),
        ("scar Dice per patient", f(&s.patient_scar_dice, 3)),
        ("myo Dice per patient", f(&s.patient_myocardium_dice, 3)),
        ("myo HD 3-D (mm)", f(&s.patient_myocardium_hd_mm, 2)),
        ("myo HD95 3-D (mm)", f(&s.patient_myocardium_hd95_mm, 2)),
        ("scar HD95 3-D (mm)", f(&s.patient_scar_hd95_mm, 2)),
        (
            "|scar volume diff| mL",
            f(&s.patient_scar_volume_abs_difference_ml, 3),
        ),
        (
            "|myo volume diff| mL",
            f(&s.patient_myocardium_volume_abs_difference_ml, 3),
        ),
        (
            "|burden diff| (pp)",
            f(&s.patient_burden_abs_difference_pp, 2),
        ),
        (
            "burden Pearson r",
            o(s.burden_pearson_r, s.burden_pearson_r_ci95),
        ),
        (
            "burden fit",
            s.burden_fit.map_or("-".into(), |l| {
                format!(
                    "burden = {:.3} x reference {} {:.3} pp  (R^2 {:.3})",
                    l.slope,
                    if l.intercept < 0.0 { "-" } else { "+" },
                    l.intercept.abs(),
                    l.r_squared
                )
            }),
        ),
        ("burden ICC(A,1)", o(s.burden_icc, s.burden_icc_ci95)),
        (
            "burden bias (pp)",
            s.burden_bland_altman.map_or("-".into(), |b| {
                let around = |x: f64, i: Option<Interval>| match i {
                    Some(i) => format!("{x:+.2} ({:+.2} to {:+.2})", i.lower, i.upper),
                    None => format!("{x:+.2}"),
                };
                let i = s.burden_bland_altman_ci95;
                format!(
                    "{} +- {:.2}, 95% limits {} to {}  (n = {})",
                    around(b.mean, i.map(|i| i.mean)),
                    b.sd,
                    around(b.lower_loa, i.map(|i| i.lower_loa)),
                    around(b.upper_loa, i.map(|i| i.upper_loa)),
                    b.n
                )
            }),
        ),
        (
            ">5% flag sensitivity",
            p(
                s.flag_sensitivity,
                flag.true_positive,
                flag.positives(),
                s.flag_sensitivity_ci95,
            ),
        ),
        (
            ">5% flag specificity",
            p(
                s.flag_specificity,
                flag.true_negative,
                flag.negatives(),
                s.flag_specificity_ci95,
            ),
        ),
        (
            "transmural sector sens",
            p(
                s.transmural_sector_sensitivity,
                sectors.true_positive,
                sectors.positives(),
                None,
            ),
        ),
        (
            "transmural sector spec",
            p(
                s.transmural_sector_specificity,
                sectors.true_negative,
                sectors.negatives(),
                None,
            ),
        ),
        ("noise: burden CoV", f(&s.noise_burden_cov, 3)),
        ("noise: scar Dice", f(&s.noise_scar_dice, 3)),
        (
            "outline doubted",
            s.doubted_slices.map_or("-".into(), |d| {
                format!(
                    "{d} of {} slices (not one ring round a bright cavity)",
                    s.slices
                )
            }),
        ),
        ("scar Dice, doubted", f(&s.doubted_scar_dice, 3)),
        ("scar Dice, not doubted", f(&s.undoubted_scar_dice, 3)),
    ];
    // Lines a run has nothing for: per patient where each patient is one slice (the per-slice
    // lines say it), 3-D distances where no stack has enough slices, the noise protocol's
    // without `--noise`, the outline checks' for the classic methods (and a Dice of doubted
    // slices where none was).
    let one_slice_each = s.patients == s.slices;
    // With --noise every slice has a noisy scar Dice, while a burden CoV needs myocardium.
    let noise_run = s.noise_scar_dice.is_some();
    for (name, value) in lines {
        let per_patient = name.contains("per patient");
        let empty = value == "-" && (name.contains("3-D") || name.contains("doubted"));
        if (per_patient && one_slice_each) || empty || (name.starts_with("noise:") && !noise_run) {
            continue;
        }
        out.push_str(&format!("  {name:<22} {value}\n"));
    }
    out.push_str(
        "  (95% CI: of a mean by patient (t, slices of a patient as one cluster; within what \
         the metric can take, 0 to 1 for a Dice, 0 and up for a distance); of r by Fisher's z; \
         of the ICC by McGraw and Wong; of a proportion by Wilson's score. Per patient: over \
         the patient's slices together.)\n",
    );
    out
}

/// Each sample's (scar, myocardium) from the label volume `dir` holds for its image: for the
/// image `NAME.EXT` (or a series folder `NAME`), `dir/NAME_labels.*`. Checked and paired by
/// position as `--pairs` labels are (`labels_for`); a missing or unfitting volume is an error
/// naming it, since a partial evaluation would not be the table it claims to be.
fn predicted_masks(dir: &Path, samples: &[Sample], limits: &Limits) -> Result<Vec<(Mask, Mask)>> {
    if !dir.is_dir() {
        bail!("{}: no such folder (--predictions)", dir.display());
    }
    let mut out = Vec::with_capacity(samples.len());
    // A file's slices are consecutive among the samples, in its stack's order.
    for group in samples.chunk_by(|a, b| a.file == b.file) {
        let file = group[0]
            .file
            .as_deref()
            .context("--predictions needs samples read from files")?;
        let stem = image_stem(file);
        let path = output_labels_in(dir, &stem).with_context(|| {
            format!(
                "{}: no {} for {}",
                dir.display(),
                output_label_hint(&stem),
                file.display()
            )
        })?;
        let bytes = crate::files::read(&path, limits)?;
        let slices: Vec<Slice> = group.iter().map(|s| s.image.clone()).collect();
        let maps = labels_for(
            &slices,
            &file.display().to_string(),
            &path.display().to_string(),
            &bytes,
            limits,
        )
        .map_err(|why| anyhow::anyhow!(why))?;
        for (s, labels) in group.iter().zip(&maps) {
            out.push(label_masks(s.image.rows, s.image.cols, labels));
        }
    }
    Ok(out)
}

/// A model folder, loaded with eval's overrides of its preprocessing (`--mirror`,
/// `--crop-components`).
fn load_for_eval(model: &ModelRef, args: &EvalArgs, device: &Device) -> Result<LoadedModel> {
    let mut loaded = model_dir::load(model, device)?;
    if let Some(on) = args.mirror {
        loaded.manifest.preprocessing = loaded.manifest.preprocessing.with_mirror(on);
    }
    if let Some(f) = args.crop_components {
        if !(0.0..=1.0).contains(&f) {
            bail!("--crop-components {f}: must be within 0-1");
        }
        let pre = &loaded.manifest.preprocessing;
        let Some(roi) = pre.roi else {
            bail!("--crop-components: {model} is a one-pass model (no heart crop)");
        };
        loaded.manifest.preprocessing = Preprocessing::two_pass(
            pre.size,
            RoiSpec {
                min_component_fraction: f,
                ..roi
            },
        )
        .with_mirror(pre.mirror);
    }
    Ok(loaded)
}

/// Which weights an eval.json scored: name, sha256 and folder (or the built-in model).
fn weights_json(m: &LoadedModel, model: &ModelRef) -> serde_json::Value {
    serde_json::json!({
        "name": m.manifest.name,
        "sha256": m.manifest.weights.sha256,
        "folder": model.to_string(),
    })
}

/// Runs `scarseg eval`.
pub fn run(args: EvalArgs, command_line: String) -> Result<Outcome> {
    check_pattern(args.pattern, args.phantom.is_some())?;
    if args.method == Method::Nsd && ![2, 3, 5, 6].contains(&args.n) {
        bail!("--n {}: n-SD is defined here for n in 2, 3, 5, 6", args.n);
    }
    if let Some(sigma) = args.noise
        && !(sigma.is_finite() && sigma >= 0.0)
    {
        bail!("--noise {sigma}: must be a non-negative number");
    }
    if args.noise.is_some() && args.iterations == 0 {
        bail!("--iterations 0: the noise protocol needs at least one iteration per slice");
    }
    if let Some(t) = args.threshold {
        crate::check_threshold(t)?;
    }
    // Before the evaluation, which can take hours: a folder that cannot be made fails now.
    if let Some(out) = &args.out {
        crate::output_folder(out)?;
    }
    let limits = Limits::default();
    let (samples, data) = match (&args.phantom, &args.emidec, &args.pairs) {
        (Some(n), None, None) => {
            if *n == 0 {
                bail!("--phantom 0: give at least one case");
            }
            let (first, set) = if args.validation {
                (VALIDATION_SEED, "validation")
            } else {
                (TEST_SEED, "test")
            };
            // Each set owns a block of SEED_BLOCK seeds; past it lie the next set's cases.
            if args.skip.saturating_add(*n as u64) > SEED_BLOCK {
                bail!(
                    "--skip {} with --phantom {n}: past the {SEED_BLOCK} {set} seeds",
                    args.skip
                );
            }
            let first_seed = first + args.skip;
            let config = PhantomConfig {
                pattern: args.pattern.into(),
                ..PhantomConfig::default()
            };
            (
                phantom_samples(first_seed, *n, &config),
                serde_json::json!({
                    "source": "phantom", "set": set, "first_seed": first_seed, "cases": n,
                    "pattern": config.pattern.name(),
                }),
            )
        }
        (None, Some(dir), None) => (
            emidec_samples(dir, &limits)?,
            serde_json::json!({"source": "emidec", "folder": dir.display().to_string()}),
        ),
        (None, None, Some(dir)) => (
            pair_samples(dir, &limits)?,
            serde_json::json!({"source": "pairs", "folder": dir.display().to_string()}),
        ),
        _ => bail!("give one of --phantom N, --emidec DIR or --pairs DIR"),
    };
    // Cross-validation: fold I's patients, or every patient with its fold's model.
    let (samples, model_of, data) = match args.folds {
        Some(folds) => {
            // Each patient's fold; as many entries as patients.
            let of = folds_of_patients(&samples, folds, args.fold_seed);
            check_folds(folds, args.fold, of.len())?;
            let mut data = data;
            data["cross_validation"] = serde_json::json!({
                "folds": folds, "fold": args.fold, "fold_seed": args.fold_seed,
            });
            match args.fold {
                Some(fold) => {
                    let mut held_out = samples;
                    held_out.retain(|s| of[&s.patient] == fold);
                    let n = held_out.len();
                    (held_out, vec![0; n], data)
                }
                None => {
                    if args.method == Method::Network
                        && args.predictions.is_none()
                        && args.weights.len() != folds
                    {
                        bail!(
                            "--folds {folds} without --fold: give --weights once per fold ({folds} \
                             models, fold 0's first), not {}",
                            args.weights.len()
                        );
                    }
                    let model_of = samples.iter().map(|s| of[&s.patient]).collect();
                    (samples, model_of, data)
                }
            }
        }
        None => {
            let n = samples.len();
            (samples, vec![0; n], data)
        }
    };
    if args.weights.len() > 1 && !(args.folds.is_some() && args.fold.is_none()) {
        bail!(
            "--weights given {} times: several models are for cross-validation, --folds K \
             without --fold",
            args.weights.len()
        );
    }
    let predictions = match &args.predictions {
        Some(dir) => {
            if args.phantom.is_some() || (args.emidec.is_none() && args.pairs.is_none()) {
                bail!("--predictions: give the reference with --pairs DIR or --emidec DIR");
            }
            predicted_masks(dir, &samples, &limits)?
        }
        None => vec![],
    };
    let method = if args.predictions.is_some() {
        Method::Predictions
    } else {
        args.method
    };
    let device = crate::device::parse(&args.device)?;
    let refs: Vec<ModelRef> = if args.weights.is_empty() {
        vec![ModelRef::Bundled]
    } else {
        args.weights.iter().cloned().map(ModelRef::Folder).collect()
    };
    let models: Vec<LoadedModel> = match method {
        Method::Network => {
            let models = refs
                .iter()
                .map(|dir| load_for_eval(dir, &args, &device))
                .collect::<Result<Vec<_>>>()?;
            // One table needs one setting: fold models of one recipe share theirs.
            for (model, m) in refs.iter().zip(&models).skip(1) {
                let first = &models[0].manifest;
                if m.manifest.preprocessing != first.preprocessing
                    || m.manifest.postprocessing != first.postprocessing
                {
                    bail!(
                        "{model}: its pre- or postprocessing differs from {}'s; the folds' models \
                         must share their settings",
                        refs[0]
                    );
                }
            }
            models
        }
        _ => Vec::new(),
    };
    let model = models.first();
    let label = match (method, &model) {
        (Method::Predictions, _) => format!(
            "label volumes in {}",
            args.predictions
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        ),
        (Method::Network, Some(m)) if models.len() == 1 => format!(
            "network {} ({})",
            m.manifest.name,
            &m.manifest.weights.sha256[..12]
        ),
        (Method::Network, Some(_)) => format!(
            "network, {} fold models ({})",
            models.len(),
            models
                .iter()
                .map(|m| format!("{} {}", m.manifest.name, &m.manifest.weights.sha256[..12]))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Method::Nsd, _) => format!("{}-SD (reference myocardium)", args.n),
        _ => "FWHM (reference myocardium)".to_string(),
    };
    let seg = Segmenter {
        method,
        predictions,
        n: args.n,
        models: models.iter().collect(),
        model_of,
        device: &device,
        options: {
            let mut options = model.map(|m| m.manifest.postprocessing).unwrap_or_default();
            if let Some(t) = args.threshold {
                options.threshold = t;
            }
            if let Some(m) = args.min_component_px {
                options.min_component_px = m;
            }
            options
        },
    };
    let noise = args.noise.map(|s| (s, args.iterations, args.seed));
    let measured = evaluate(&seg, &samples, noise)?;
    let summary = summarize(&measured, label);
    print!("{}", table(&summary));
    // A phantom of several scar patterns (`--pattern mixed`): the figures of each, over the
    // cases with scar of that pattern (the cases without scar belong to none).
    let by_pattern: BTreeMap<&str, Summary> = measured
        .patterns()
        .into_iter()
        .map(|p| {
            let label = format!("{}, {} scar", summary.method, p.name());
            (p.name(), summarize(&measured.of_pattern(p), label))
        })
        .collect();
    if !by_pattern.is_empty() {
        print!("{}", pattern_table(&by_pattern));
    }
    let Measured { rows, patients, .. } = measured;
    if let Some(out) = &args.out {
        let mut csv = csv::Writer::from_path(out.join("eval.csv"))
            .with_context(|| format!("{}: cannot write eval.csv", out.display()))?;
        for r in &rows {
            csv.serialize(r)?;
        }
        csv.flush()?;
        let mut csv = csv::Writer::from_path(out.join("eval_patients.csv"))
            .with_context(|| format!("{}: cannot write eval_patients.csv", out.display()))?;
        for p in &patients {
            csv.serialize(p)?;
        }
        csv.flush()?;
        std::fs::write(
            out.join("eval.json"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "summary": summary,
                // With several scar patterns, each one's summary; absent otherwise.
                "by_pattern": (!by_pattern.is_empty()).then_some(&by_pattern),
                // Which weights on which cases: `export --metrics` checks both before the
                // numbers become a model's test metrics.
                // Cross-validation's several models are listed by fold instead, which export
                // refuses: their pooled table is no one model's.
                "weights": match models.len() {
                    0 => serde_json::Value::Null,
                    1 => weights_json(&models[0], &refs[0]),
                    _ => serde_json::json!({
                        "folds": models
                            .iter()
                            .zip(&refs)
                            .map(|(m, model)| weights_json(m, model))
                            .collect::<Vec<_>>(),
                    }),
                },
                "data": data,
                "predictions": args.predictions.as_ref().map(|d| d.display().to_string()),
                "command": command_line,
                "scarseg_version": env!("CARGO_PKG_VERSION"),
                // What the network ran with, overrides applied, so that a result file explains
                // itself; the classic methods' settings are the summary's method name.
                // Through JSON text, so that an f32 threshold of 0.55 reads 0.55, not the
                // 0.550000011920929 a direct conversion to a JSON value widens it to.
                "settings": model.map(|m| -> Result<serde_json::Value> {
                    let options = serde_json::from_slice::<serde_json::Value>(
                        &serde_json::to_vec(&seg.options)?,
                    )?;
                    Ok(serde_json::json!({
                        "preprocessing": &m.manifest.preprocessing,
                        "postprocessing": options,
                    }))
                }).transpose()?,
                "slices": rows,
                "noise": args.noise.map(|s| serde_json::json!({"sigma_fraction_of_intensity_range": s, "iterations": args.iterations, "seed": args.seed})),
            }))?,
        )?;
        // The agreement figures, where there is agreement to draw (two patients or more).
        if let Some(ba) = &summary.burden_bland_altman {
            let figures = [
                (
                    "eval_bland_altman.svg",
                    plots::bland_altman_svg(
                        &patients
                            .iter()
                            .map(|p| (p.mean_percent, p.difference_pp))
                            .collect::<Vec<_>>(),
                        ba,
                        &summary.method,
                    )?,
                ),
                (
                    "eval_burden.svg",
                    plots::burden_svg(
                        &patients
                            .iter()
                            .map(|p| (p.reference_burden_percent, p.burden_percent))
                            .collect::<Vec<_>>(),
                        summary.burden_fit.as_ref(),
                        &summary.method,
                    )?,
                ),
            ];
            for (name, svg) in figures {
                std::fs::write(out.join(name), svg)
                    .with_context(|| format!("{}: cannot write {name}", out.display()))?;
            }
        }
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_gives_the_median_and_quartiles_numpy_gives() {
        // 1, 2, 3, 4, 10 of five patients: mean 4, SD sqrt(50 / 4) = 3.535534; NumPy's
        // percentiles 25, 50, 75 sit on order statistics 1, 2, 3: 2, 3 and 4. A missing value
        // and a NaN are left out.
        let values = [1.0, 2.0, 3.0, 4.0, 10.0].map(Some);
        let names = ["a", "b", "c", "d", "e", "f", "g"];
        let with_gaps = values.into_iter().chain([None, Some(f64::NAN)]);
        let s = stat(names.into_iter().zip(with_gaps), NON_NEGATIVE).expect("five values");
        assert_eq!((s.n, s.mean, s.median, s.q1, s.q3), (5, 4.0, 3.0, 2.0, 4.0));
        assert!((s.sd - 12.5f64.sqrt()).abs() < 1e-12);
        // Even counts interpolate: 1, 2, 3, 4 gives 1.75, 2.5 and 3.25.
        let s = stat(
            names.into_iter().zip([1.0, 2.0, 3.0, 4.0].map(Some)),
            NON_NEGATIVE,
        )
        .expect("four");
        assert_eq!((s.median, s.q1, s.q3), (2.5, 1.75, 3.25));
        assert!(stat(std::iter::empty(), UNIT).is_none());
    }
}
