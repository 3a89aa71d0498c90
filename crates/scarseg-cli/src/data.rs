//! Training and evaluation data: phantom cases generated from seeds, the EMIDEC challenge layout,
//! and image/label pairs; the patient-level split; augmentation; batches for the network.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use scarseg_imaging::decode::{
    decode_file, decode_series, dicom_patient_id, labels_for, worth_decoding,
};
use scarseg_imaging::metrics::Mask;
use scarseg_imaging::phantom::{PhantomConfig, ScarPattern, generate, label};
use scarseg_imaging::preprocess::{bilinear, labels_to_model, preprocess};
use scarseg_imaging::roi::{ROI_MARGIN, ROI_MIN_SIDE, Roi};
use scarseg_imaging::{ErrorKind, Limits, Slice};
use scarseg_pipeline::outputs::{LABEL_EXTS, SEG_SUFFIX, left_out_note};

use crate::files::{self, Visited};

/// First seed of the fixed validation phantom cases (training's fresh cases start at
/// `train::TRAIN_SEED`).
pub const VALIDATION_SEED: u64 = 1_000_000_000;
/// Seeds each phantom set owns from its first: validation, test and training never overlap.
pub const SEED_BLOCK: u64 = 1_000_000_000;
/// First seed of the fixed test phantom cases (`eval --phantom`, the default model's figures).
pub const TEST_SEED: u64 = VALIDATION_SEED + SEED_BLOCK;

/// The (scar, myocardium) masks of a label map in EMIDEC's values: scar is infarction or
/// no-reflow (3, 4), myocardium 2 and up.
pub fn label_masks(rows: usize, cols: usize, labels: &[u8]) -> (Mask, Mask) {
    let mask = |f: &dyn Fn(u8) -> bool| Mask {
        rows,
        cols,
        data: labels.iter().map(|l| f(*l)).collect(),
    };
    (
        mask(&|l| l == label::SCAR || l == label::MVO),
        mask(&|l| l >= label::MYOCARDIUM),
    )
}

/// One labelled slice.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The image on its own grid.
    pub image: Slice,
    /// Scar truth (labels 3 and 4).
    pub scar: Mask,
    /// Myocardium truth, scar included (labels 2, 3, 4).
    pub myocardium: Mask,
    /// Patient (case) the slice belongs to: splits and stack aggregates group by it.
    pub patient: String,
    /// The image file or DICOM series folder the slice was read from (`None` for a phantom
    /// case generated in memory): `eval --predictions` finds its label volume by it.
    pub file: Option<PathBuf>,
    /// How the phantom drew the case's scar (`None` for a case without scar, or read from
    /// files): `eval` breaks its figures down by it.
    pub pattern: Option<ScarPattern>,
}

impl Sample {
    /// A sample from a label map in EMIDEC's values (0 background, 1 cavity, 2 myocardium,
    /// 3 infarction, 4 no-reflow).
    pub fn from_labels(image: Slice, labels: &[u8], patient: &str) -> Self {
        let (scar, myocardium) = label_masks(image.rows, image.cols, labels);
        Self {
            scar,
            myocardium,
            image,
            patient: patient.to_string(),
            file: None,
            pattern: None,
        }
    }
}

impl Sample {
    /// The sample cropped to `roi` (image and both masks).
    pub fn cropped(&self, roi: &Roi) -> Self {
        Self {
            image: roi.crop_slice(&self.image),
            scar: roi.crop_mask(&self.scar),
            myocardium: roi.crop_mask(&self.myocardium),
            patient: self.patient.clone(),
            file: self.file.clone(),
            pattern: self.pattern,
        }
    }

    /// The sample framed on the heart as a two-pass model's second pass sees it: the crop around
    /// the true myocardium. With `jitter`, the margin is drawn from 0.15-0.5 and the crop moved by
    /// up to a tenth of its side in each axis, as an imperfect first pass would place it;
    /// without, the pipeline's own margin. A slice without myocardium is kept whole.
    pub fn heart_crop(&self, jitter: Option<&mut ChaCha8Rng>) -> Self {
        let (rows, cols) = (self.image.rows, self.image.cols);
        let roi = match jitter {
            None => Roi::around(&self.myocardium, ROI_MARGIN, ROI_MIN_SIDE),
            Some(rng) => Roi::around(&self.myocardium, rng.random_range(0.15..=0.5), ROI_MIN_SIDE)
                .map(|r| {
                    let reach = (r.rows.max(r.cols) / 10) as i64;
                    let dr = rng.random_range(-reach..=reach);
                    let dc = rng.random_range(-reach..=reach);
                    r.shifted(dr, dc, rows, cols)
                }),
        };
        match roi {
            Some(roi) => self.cropped(&roi),
            None => self.clone(),
        }
    }
}

/// `--pattern`: where in the wall phantom scar lies (`scarseg_imaging::phantom::ScarPattern`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PatternArg {
    /// From the endocardium outwards in a coronary territory: what the default model learnt.
    #[default]
    Ischemic,
    /// A band through the middle of the septal wall (dilated cardiomyopathy's pattern).
    MidWall,
    /// From the epicardium inwards in the inferolateral wall (myocarditis's pattern).
    Subepicardial,
    /// Each case one of the three, with equal chances.
    Mixed,
}

impl From<PatternArg> for ScarPattern {
    fn from(p: PatternArg) -> Self {
        match p {
            PatternArg::Ischemic => ScarPattern::Ischemic,
            PatternArg::MidWall => ScarPattern::MidWall,
            PatternArg::Subepicardial => ScarPattern::Subepicardial,
            PatternArg::Mixed => ScarPattern::Mixed,
        }
    }
}

/// `--pattern` draws phantom cases only. Clap's `requires` cannot refuse it beside `--emidec`
/// or `--pairs`: it lets an argument's requirements go where what it requires conflicts with
/// one given.
pub fn check_pattern(pattern: PatternArg, phantom: bool) -> Result<()> {
    if pattern != PatternArg::Ischemic && !phantom {
        bail!(
            "--pattern {}: draws phantom cases (--phantom N); a dataset's scar is where it is",
            ScarPattern::from(pattern).name()
        );
    }
    Ok(())
}

/// The scar patterns among `patterns` (a phantom's cases'), once each, in [`ScarPattern`]'s
/// order, where there are several; none for one (a breakdown would repeat the whole): what
/// eval and train break their figures down by.
pub fn several_patterns(
    patterns: impl IntoIterator<Item = Option<ScarPattern>>,
) -> Vec<ScarPattern> {
    let mut patterns: Vec<ScarPattern> = patterns.into_iter().flatten().collect();
    patterns.sort_by_key(|p| *p as u8);
    patterns.dedup();
    if patterns.len() < 2 {
        patterns.clear();
    }
    patterns
}

/// Phantom cases `first_seed .. first_seed + count`, one slice each.
pub fn phantom_samples(first_seed: u64, count: usize, config: &PhantomConfig) -> Vec<Sample> {
    (0..count as u64)
        .flat_map(|i| {
            let case = generate(first_seed + i, config);
            let (name, pattern) = (case.name.clone(), case.params.pattern);
            case.slices
                .into_iter()
                .map(|s| Sample {
                    pattern,
                    ..Sample::from_labels(s.image, &s.labels, &name)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Pairs an image file's (or a series folder's) slices with a label file's: counts and sizes
/// must agree, and labels that carry geometry must lie on the image's grid, and are paired with
/// it by position (`scarseg_imaging::decode::labels_for`).
/// `bytes` are the image file's, or `None` for a series folder.
fn paired(
    image: &Path,
    bytes: Option<Vec<u8>>,
    labels: &Path,
    patient: &str,
    limits: &Limits,
) -> Result<Vec<Sample>> {
    let name = image.display().to_string();
    let stack = match bytes {
        None => series(image, limits)?,
        Some(bytes) => decode_file(&name, &bytes, limits)?,
    };
    // Counts, sizes, values and the grid are checked where the page's "load labels" checks
    // them; labels stored in the other slice order come back in the image's.
    let maps = labels_for(
        &stack.slices,
        &name,
        &labels.display().to_string(),
        &files::read(labels, limits)?,
        limits,
    )
    .map_err(|why| anyhow::anyhow!(why))?;
    Ok(stack
        .slices
        .into_iter()
        .zip(&maps)
        .map(|(slice, values)| Sample {
            file: Some(image.to_path_buf()),
            ..Sample::from_labels(slice, values, patient)
        })
        .collect())
}

/// The entries of `dir`, sorted by path; `what` completes the error ("DIR: cannot list ...").
pub(crate) fn sorted_entries(dir: &Path, what: &str) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: {what}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// A folder of DICOM files read as one series. Training data must be whole, so a file that fails
/// fails the folder (predict would analyse the rest); objects without an image (a DICOMDIR) are
/// left out.
fn series(dir: &Path, limits: &Limits) -> Result<scarseg_imaging::Stack> {
    let files: Vec<PathBuf> = sorted_entries(dir, "cannot list the series folder")?
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    let loaded = files
        .iter()
        .map(|f| Ok((f.display().to_string(), files::read(f, limits)?)))
        .collect::<Result<Vec<_>>>()?;
    let name = dir.display().to_string();
    let (stack, errors) = decode_series(&name, &loaded, limits);
    if let Some(e) = errors
        .iter()
        .find(|e| !matches!(e.kind, ErrorKind::NotAnImage(_)))
    {
        bail!("{e}");
    }
    stack.with_context(|| format!("{name}: no DICOM image in the series folder"))
}

/// Loads the EMIDEC challenge layout: `DIR/Case_*/Images/Case_*.nii.gz` with
/// `DIR/Case_*/Contours/Case_*.nii.gz`. The patient is the case folder.
pub fn emidec_samples(dir: &Path, limits: &Limits) -> Result<Vec<Sample>> {
    let cases: Vec<PathBuf> = sorted_entries(dir, "cannot list the EMIDEC folder")?
        .into_iter()
        .filter(|p| p.join("Images").is_dir())
        .collect();
    if cases.is_empty() {
        bail!(
            "{}: no case folders with Images/ and Contours/ (EMIDEC layout)",
            dir.display()
        );
    }
    let mut out = Vec::new();
    for case in cases {
        let patient = case
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let image = first_volume(&case.join("Images"))?;
        let labels = first_volume(&case.join("Contours"))?;
        let bytes = files::read(&image, limits)?;
        out.extend(paired(&image, Some(bytes), &labels, &patient, limits)?);
    }
    Ok(out)
}

fn first_volume(dir: &Path) -> Result<PathBuf> {
    sorted_entries(dir, "cannot list")?
        .into_iter()
        .find(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".nii") || n.ends_with(".nii.gz")
        })
        .with_context(|| format!("{}: no .nii or .nii.gz file", dir.display()))
}

/// Label file suffix for `--pairs`: `NAME.EXT` is labelled by `NAME_labels.png` (or `.nii`,
/// `.nii.gz`), values 0-4 as in EMIDEC; a DICOM series folder `NAME/` by a label volume
/// `NAME_labels.nii.gz` (or `.nii`) beside the folder, as `scarseg phantom --format dicom`
/// writes it. Defined beside the other output names, since the page names its label volumes alike.
pub use scarseg_pipeline::outputs::LABEL_SUFFIX;

/// Splits a file name into its stem and extension, `.nii.gz` counted as one extension.
pub fn stem_and_ext(name: &str) -> (&str, &str) {
    if let Some(stem) = name.strip_suffix(".nii.gz") {
        return (stem, ".nii.gz");
    }
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// An image's name without its extension; a series folder's name whole.
pub fn image_stem(image: &Path) -> String {
    let name = image.file_name().unwrap_or_default().to_string_lossy();
    if image.is_dir() {
        name.into_owned()
    } else {
        stem_and_ext(&name).0.to_string()
    }
}

/// The names a stack's labels may have in a folder of a run's outputs, in the order they are
/// looked for: `STEM_labels` with each of [`LABEL_EXTS`], then the DICOM segmentation
/// `STEM_seg.dcm` (predict's own, or one edited in a viewer).
pub fn output_label_names(stem: &str) -> Vec<String> {
    LABEL_EXTS
        .iter()
        .map(|ext| format!("{stem}{LABEL_SUFFIX}{ext}"))
        .chain([format!("{stem}{SEG_SUFFIX}")])
        .collect()
}

/// The names [`output_label_names`] looks for, for a message: "A_labels.nii.gz (.nii, .png) or
/// A_seg.dcm".
pub fn output_label_hint(stem: &str) -> String {
    format!("{stem}{LABEL_SUFFIX}.nii.gz (.nii, .png) or {stem}{SEG_SUFFIX}")
}

/// The stack a file of a run's labels is for: its name without `_labels.EXT` or `_seg.dcm`.
pub fn output_label_stack(name: &str) -> Option<&str> {
    if let Some(stem) = name.strip_suffix(SEG_SUFFIX) {
        return Some(stem);
    }
    let (stem, ext) = stem_and_ext(name);
    stem.strip_suffix(LABEL_SUFFIX)
        .filter(|_| LABEL_EXTS.contains(&ext))
}

/// The first of `dir`'s files [`output_label_names`] gives for `stem`.
pub fn output_labels_in(dir: &Path, stem: &str) -> Option<PathBuf> {
    output_label_names(stem)
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// The label file beside `image` (a file, or a series folder) that `--pairs` pairs it with:
/// `STEM_labels.png|.nii.gz|.nii`, else a DICOM segmentation `STEM_seg.dcm`.
fn label_beside(image: &Path) -> Option<PathBuf> {
    let stem = image_stem(image);
    [".png", ".nii.gz", ".nii"]
        .iter()
        .map(|ext| format!("{stem}{LABEL_SUFFIX}{ext}"))
        .chain([format!("{stem}{SEG_SUFFIX}")])
        .map(|name| image.with_file_name(name))
        .find(|p| p.is_file())
}

/// Loads image/label pairs from a folder (searched recursively): image files with their label
/// files, and DICOM series folders with their label volumes. The patient is the first folder
/// below `dir`; for those directly inside it, a DICOM file's Patient ID, else the image's stem
/// (the series folder's name).
pub fn pair_samples(dir: &Path, limits: &Limits) -> Result<Vec<Sample>> {
    let mut images = Vec::new();
    walk(dir, &mut images, &mut Visited::default())
        .with_context(|| format!("{}: cannot list the pairs folder", dir.display()))?;
    images.sort();
    let mut out = Vec::new();
    let mut not_images = Vec::new();
    for image in &images {
        let name = image.file_name().unwrap_or_default().to_string_lossy();
        let stem = image_stem(image);
        if stem.ends_with(LABEL_SUFFIX)
            || name.ends_with(SEG_SUFFIX)
            || name.ends_with(".json")
            || name.ends_with(".csv")
        {
            continue;
        }
        let rel = image.strip_prefix(dir).unwrap_or(image);
        // A readme or a notes file among the pairs is no image without its labels, as `predict`
        // walks a folder. A pipe or a device is not left out: reading it says what it is.
        if !image.is_dir()
            && files::special_kind(image).is_none()
            && !worth_decoding(&name, &files::head(image))
        {
            not_images.push(rel.display().to_string());
            continue;
        }
        let label = label_beside(image).with_context(|| {
            format!(
                "{}: no label file {stem}{LABEL_SUFFIX}.png/.nii/.nii.gz or {stem}{SEG_SUFFIX} \
                 beside it",
                image.display()
            )
        })?;
        // Read once: for the Patient ID below and for decoding.
        let bytes = if image.is_dir() {
            None
        } else {
            Some(files::read(image, limits)?)
        };
        let patient = match rel.components().count() {
            // A flat folder of DICOM slices names no patient by its layout; the files do (a
            // series given as DIR would otherwise be one patient per slice, and a split could
            // divide it).
            0 | 1 => bytes
                .as_deref()
                .and_then(|bytes| dicom_patient_id(bytes, limits))
                .unwrap_or_else(|| stem.to_string()),
            _ => rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .unwrap_or_default(),
        };
        out.extend(paired(image, bytes, &label, &patient, limits)?);
    }
    if !not_images.is_empty() {
        eprintln!("note: {}: {}", dir.display(), left_out_note(&not_images));
    }
    if out.is_empty() {
        bail!("{}: no image/label pairs found", dir.display());
    }
    Ok(out)
}

/// Collects image files, and series folders (those with a label file beside them) whole
/// instead of their files; a folder reached again through a link is not walked again.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, visited: &mut Visited) -> std::io::Result<()> {
    if !visited.first_visit(dir) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && label_beside(&path).is_none() {
            walk(&path, out, visited)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Splits samples by patient: a shuffled `validation_fraction` of the patients (at least one
/// when there are two or more) goes to validation. Never splits one patient's slices.
pub fn split_by_patient(
    samples: Vec<Sample>,
    validation_fraction: f64,
    seed: u64,
) -> (Vec<Sample>, Vec<Sample>) {
    let patients = shuffled_patients(&samples, seed);
    let n_val = if patients.len() < 2 {
        0
    } else {
        ((patients.len() as f64 * validation_fraction).round() as usize)
            .clamp(1, patients.len() - 1)
    };
    let validation: BTreeSet<String> = patients.into_iter().take(n_val).collect();
    samples
        .into_iter()
        .partition(|s| !validation.contains(&s.patient))
}

/// The samples' patients in name order, shuffled by `seed`: the order the validation split
/// and the folds draw from.
fn shuffled_patients(samples: &[Sample], seed: u64) -> Vec<String> {
    let mut patients: Vec<String> = samples
        .iter()
        .map(|s| s.patient.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    patients.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    patients
}

/// K-fold cross-validation by patient: the patients, in name order shuffled by `seed` (the
/// same order [`split_by_patient`] draws from), are dealt into `folds` folds in turn; fold
/// `fold`'s patients are held out. Returns (the other folds' samples, the held-out ones). The
/// same `folds` and `seed` give every run of `train` and `eval` the same folds, and each patient
/// is held out in exactly one.
pub fn fold_split(
    samples: Vec<Sample>,
    folds: usize,
    fold: usize,
    seed: u64,
) -> (Vec<Sample>, Vec<Sample>) {
    let of = folds_of_patients(&samples, folds, seed);
    samples
        .into_iter()
        .partition(|s| of.get(&s.patient) != Some(&fold))
}

/// Each patient's fold (see [`fold_split`]).
pub fn folds_of_patients(
    samples: &[Sample],
    folds: usize,
    seed: u64,
) -> std::collections::BTreeMap<String, usize> {
    shuffled_patients(samples, seed)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i % folds.max(1)))
        .collect()
}

/// Checks `--folds K --fold I` as `train` and `eval` take them: at least two folds, a fold
/// among them, and no more folds than patients.
pub fn check_folds(folds: usize, fold: Option<usize>, patients: usize) -> Result<()> {
    if folds < 2 {
        bail!("--folds {folds}: cross-validation needs at least 2 folds");
    }
    if let Some(f) = fold
        && f >= folds
    {
        bail!("--fold {f}: folds are numbered 0 to {}", folds - 1);
    }
    if patients < folds {
        bail!("--folds {folds}: only {patients} patient(s) to deal into them");
    }
    Ok(())
}

/// One network-ready example: `size * size` values each.
#[derive(Debug, Clone)]
pub struct Example {
    /// z-scored image.
    pub image: Vec<f32>,
    /// Scar target in [0, 1].
    pub scar: Vec<f32>,
    /// Myocardium target in [0, 1].
    pub myocardium: Vec<f32>,
}

/// Augmentation ranges (seeds 000-004): rotation +-15 degrees, flips p = 0.5, brightness and
/// contrast 0.8-1.2, scale 0.7-1.4, Gaussian noise.
#[derive(Debug, Clone, Copy)]
pub struct Augment {
    /// Maximum rotation, degrees.
    pub rotation_deg: f64,
    /// Flip probability (each axis).
    pub flip: f64,
    /// Scale range.
    pub scale: [f64; 2],
    /// Multiplicative brightness range.
    pub brightness: [f64; 2],
    /// Contrast range (about the mean).
    pub contrast: [f64; 2],
    /// Maximum Gaussian noise SD in z-score units.
    pub noise: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            rotation_deg: 15.0,
            flip: 0.5,
            scale: [0.7, 1.4],
            brightness: [0.8, 1.2],
            contrast: [0.8, 1.2],
            noise: 0.1,
        }
    }
}

/// Brings a sample to the network's grid (the pipeline's own preprocessing), with optional
/// augmentation; `soft` keeps the partial-volume label fractions (for the KL loss).
pub fn example(
    sample: &Sample,
    size: usize,
    augment: Option<(&Augment, &mut ChaCha8Rng)>,
    soft: bool,
) -> Example {
    let s = &sample.image;
    let input = preprocess(&s.pixels, s.rows, s.cols, size);
    let g = &input.geometry;
    let to_model = |m: &Mask| -> Vec<f32> {
        let f: Vec<f32> = m.data.iter().map(|b| *b as u8 as f32).collect();
        labels_to_model(&f, g)
    };
    let mut ex = Example {
        image: input.values,
        scar: to_model(&sample.scar),
        myocardium: to_model(&sample.myocardium),
    };
    if let Some((a, rng)) = augment {
        ex = augmented(ex, size, a, rng);
    }
    if !soft {
        for v in ex.scar.iter_mut().chain(ex.myocardium.iter_mut()) {
            *v = if *v >= 0.5 { 1.0 } else { 0.0 };
        }
    }
    ex
}

fn augmented(ex: Example, n: usize, a: &Augment, rng: &mut ChaCha8Rng) -> Example {
    let angle = rng
        .random_range(-a.rotation_deg..=a.rotation_deg)
        .to_radians();
    let scale = rng.random_range(a.scale[0]..=a.scale[1]);
    let flip_y = rng.random_bool(a.flip);
    let flip_x = rng.random_bool(a.flip);
    let (sin, cos) = angle.sin_cos();
    let centre = (n as f64 - 1.0) / 2.0;
    let floor = ex.image.iter().copied().fold(f32::INFINITY, f32::min);
    let mut out = Example {
        image: vec![floor; n * n],
        scar: vec![0.0; n * n],
        myocardium: vec![0.0; n * n],
    };
    for r in 0..n {
        for c in 0..n {
            // Inverse map: output pixel -> input coordinates.
            let (mut dy, mut dx) = (r as f64 - centre, c as f64 - centre);
            if flip_y {
                dy = -dy;
            }
            if flip_x {
                dx = -dx;
            }
            let y = (cos * dy - sin * dx) / scale + centre;
            let x = (sin * dy + cos * dx) / scale + centre;
            if y < -0.5 || x < -0.5 || y > n as f64 - 0.5 || x > n as f64 - 0.5 {
                continue;
            }
            let i = r * n + c;
            out.image[i] = bilinear(&ex.image, n, n, y, x);
            out.scar[i] = bilinear(&ex.scar, n, n, y, x);
            out.myocardium[i] = bilinear(&ex.myocardium, n, n, y, x);
        }
    }
    let brightness = rng.random_range(a.brightness[0]..=a.brightness[1]) as f32;
    let contrast = rng.random_range(a.contrast[0]..=a.contrast[1]) as f32;
    let mean = out.image.iter().sum::<f32>() / out.image.len() as f32;
    let sd = rng.random_range(0.0..=a.noise) as f32;
    let noise = Normal::new(0.0f32, sd.max(1e-12)).ok();
    for v in &mut out.image {
        *v = ((*v - mean) * contrast + mean) * brightness;
        if let Some(noise) = &noise {
            *v += noise.sample(rng);
        }
    }
    out
}

/// Packs examples into flat `[batch, 1, size, size]` buffers: (images, scar, myocardium).
pub fn pack(examples: &[Example]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut images = Vec::new();
    let mut scar = Vec::new();
    let mut myo = Vec::new();
    for e in examples {
        images.extend_from_slice(&e.image);
        scar.extend_from_slice(&e.scar);
        myo.extend_from_slice(&e.myocardium);
    }
    (images, scar, myo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(patient: &str) -> Sample {
        let image = Slice::new(4, 4, (0..16).map(|v| v as f32).collect(), "x");
        let labels = [0, 1, 2, 3, 4, 0, 2, 2, 0, 0, 0, 0, 3, 0, 0, 0];
        Sample::from_labels(image, &labels, patient)
    }

    #[test]
    fn labels_follow_emidec() {
        let s = sample("p");
        // Scar = 3 + 4 at indices 3, 4, 12; myocardium = 2 + 3 + 4 at 2, 3, 4, 6, 7, 12.
        let on = |m: &Mask| -> Vec<usize> { (0..16).filter(|i| m.data[*i]).collect() };
        assert_eq!(on(&s.scar), vec![3, 4, 12]);
        assert_eq!(on(&s.myocardium), vec![2, 3, 4, 6, 7, 12]);
    }

    #[test]
    fn split_never_separates_a_patient() {
        let mut samples = Vec::new();
        for p in 0..10 {
            for _ in 0..3 {
                samples.push(sample(&format!("p{p}")));
            }
        }
        let (train, val) = split_by_patient(samples, 0.2, 1);
        assert_eq!(val.len(), 6, "two of ten patients, three slices each");
        let t: BTreeSet<_> = train.iter().map(|s| &s.patient).collect();
        let v: BTreeSet<_> = val.iter().map(|s| &s.patient).collect();
        assert!(t.is_disjoint(&v));
        assert_eq!(t.len() + v.len(), 10);
    }

    #[test]
    fn every_patient_is_held_out_in_exactly_one_fold() {
        let mut samples = Vec::new();
        for p in 0..11 {
            for _ in 0..2 {
                samples.push(sample(&format!("p{p}")));
            }
        }
        let mut held_out_by: Vec<BTreeSet<String>> = Vec::new();
        for fold in 0..3 {
            let (rest, held) = fold_split(samples.clone(), 3, fold, 7);
            assert_eq!(rest.len() + held.len(), 22);
            let h: BTreeSet<String> = held.iter().map(|s| s.patient.clone()).collect();
            let r: BTreeSet<String> = rest.iter().map(|s| s.patient.clone()).collect();
            assert!(h.is_disjoint(&r), "fold {fold}");
            // Eleven patients into three folds: 4, 4 and 3, a patient's slices together.
            assert_eq!(h.len(), if fold < 2 { 4 } else { 3 }, "fold {fold}");
            assert_eq!(held.len(), 2 * h.len());
            held_out_by.push(h);
        }
        let all: BTreeSet<String> = held_out_by.iter().flatten().cloned().collect();
        assert_eq!(all.len(), 11);
        assert_eq!(held_out_by.iter().map(BTreeSet::len).sum::<usize>(), 11);
        // The same seed deals the same folds; another seed others.
        let again: BTreeSet<String> = fold_split(samples.clone(), 3, 0, 7)
            .1
            .iter()
            .map(|s| s.patient.clone())
            .collect();
        assert_eq!(again, held_out_by[0]);
        let other: Vec<BTreeSet<String>> = (0..3)
            .map(|f| {
                let held = fold_split(samples.clone(), 3, f, 8).1;
                held.iter().map(|s| s.patient.clone()).collect()
            })
            .collect();
        assert_ne!(other, held_out_by);
        assert!(check_folds(3, Some(2), 11).is_ok());
        for (folds, fold, patients, message) in [
            (1, None, 11, "at least 2 folds"),
            (3, Some(3), 11, "folds are numbered 0 to 2"),
            (5, None, 4, "only 4 patient(s)"),
        ] {
            let e = check_folds(folds, fold, patients).expect_err(message);
            assert!(e.to_string().contains(message), "{e}");
        }
    }

    #[test]
    fn stems_keep_nii_gz_whole() {
        assert_eq!(stem_and_ext("a.b.nii.gz"), ("a.b", ".nii.gz"));
        assert_eq!(stem_and_ext("case.png"), ("case", ".png"));
        assert_eq!(stem_and_ext("IM0001"), ("IM0001", ""));
    }

    #[test]
    fn heart_crop_keeps_all_of_the_myocardium() {
        let cfg = PhantomConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for s in phantom_samples(40, 5, &cfg) {
            for crop in [s.heart_crop(None), s.heart_crop(Some(&mut rng))] {
                assert!(crop.image.rows < s.image.rows || crop.image.cols < s.image.cols);
                // Margin 0.15 of the box or more and a shift of at most a tenth of 1.3 boxes: no myocardium is cut off.
                assert_eq!(crop.myocardium.area_px(), s.myocardium.area_px());
                assert_eq!(crop.scar.area_px(), s.scar.area_px());
                assert_eq!(crop.image.pixels.len(), crop.image.rows * crop.image.cols);
            }
        }
    }

    #[test]
    fn identity_augmentation_keeps_the_example() {
        let cfg = PhantomConfig {
            size_px: [64, 64],
            ..Default::default()
        };
        let s = &phantom_samples(5, 1, &cfg)[0];
        let plain = example(s, 64, None, false);
        let none = Augment {
            rotation_deg: 0.0,
            flip: 0.0,
            scale: [1.0, 1.0],
            brightness: [1.0, 1.0],
            contrast: [1.0, 1.0],
            noise: 0.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let same = example(s, 64, Some((&none, &mut rng)), false);
        assert_eq!(plain.scar, same.scar);
        assert_eq!(plain.myocardium, same.myocardium);
        for (a, b) in plain.image.iter().zip(&same.image) {
            assert!((a - b).abs() < 1e-5);
        }
        // A flip in both axes is a 180 degree rotation: pixel (r, c) -> (n-1-r, n-1-c).
        let flip = Augment { flip: 1.0, ..none };
        let flipped = example(s, 64, Some((&flip, &mut rng)), false);
        for r in 0..64 {
            for c in 0..64 {
                assert_eq!(
                    flipped.scar[r * 64 + c],
                    plain.scar[(63 - r) * 64 + (63 - c)]
                );
            }
        }
    }
}
