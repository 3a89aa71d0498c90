//! `scarseg export`: a trained checkpoint (or the mean of several, a weight soup) ->
//! `public/models/<name>/` with half-precision weights, `manifest.json` (architecture,
//! preprocessing, sha256, provenance, metrics) and a model card; `--update` gives an exported
//! model new test metrics without touching its weights or provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Args;
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_model::weights::{Precision, from_safetensors, mean_of_checkpoints, to_safetensors};
use scarseg_pipeline::manifest::{
    FORMAT_VERSION, MANIFEST_FILE, Manifest, Preprocessing, RoiSpec, WeightsEntry, check_digest,
    sha256_hex,
};

use crate::Outcome;

/// File name of the weights inside an exported folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// File name of the model card.
pub const CARD_FILE: &str = "MODEL_CARD.md";

/// Arguments of `scarseg export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Trained weights (a run's best.safetensors or checkpoint/model.safetensors). Given more
    /// than once, the export holds the element-wise mean of the checkpoints (a weight soup of
    /// fine-tunes of one parent); run.json is read beside the first.
    #[arg(long, required_unless_present = "update")]
    pub checkpoint: Vec<PathBuf>,
    /// Model name (the folder name).
    #[arg(long, required_unless_present = "update")]
    pub name: Option<String>,
    /// An exported model's folder whose test metrics `--metrics` replaces, in its manifest and
    /// card: for an evaluation made after the export (on your own data, or by a newer scarseg
    /// that reports more), when the training checkpoint is gone or its provenance should stay.
    /// The weights, settings and provenance are kept (the command is added to the provenance).
    #[arg(long, value_name = "MODEL_DIR", requires = "metrics", conflicts_with_all = [
        "checkpoint", "name", "size", "full_precision", "threshold", "min_component_px", "roi",
        "crop_components", "mirror", "notes",
    ])]
    pub update: Option<PathBuf>,
    /// Parent folder of the model folder.
    #[arg(long, default_value = "public/models")]
    pub out: PathBuf,
    /// Network input side; taken from the run's run.json beside the checkpoint when absent.
    #[arg(long)]
    pub size: Option<usize>,
    /// An `eval --out` folder's eval.json whose summary goes into the manifest and card.
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Keep full precision (f32) instead of f16.
    #[arg(long)]
    pub full_precision: bool,
    /// The model's default probability threshold (the page's slider and `predict` start there).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub threshold: f32,
    /// The model's default smallest kept component, pixels (0 keeps all).
    #[arg(long, default_value_t = 0)]
    pub min_component_px: usize,
    /// A two-pass model: the network runs on the whole slice, then on the crop around the
    /// myocardium it found (train it with `train --roi-fraction`).
    #[arg(long)]
    pub roi: bool,
    /// With --roi: first-pass myocardium components smaller than this fraction of the largest
    /// are left out when placing the heart's crop (0 keeps all).
    #[arg(long, default_value_t = scarseg_imaging::roi::ROI_MIN_COMPONENT_FRACTION, requires = "roi")]
    pub crop_components: f64,
    /// Test-time mirroring: the pass that draws the result also runs on the left-right
    /// mirrored input and the two are averaged (twice that pass's compute).
    #[arg(long)]
    pub mirror: bool,
    /// Extra card text (a file), e.g. intended use and limitations beyond the defaults.
    #[arg(long)]
    pub notes: Option<PathBuf>,
}

/// Runs `scarseg export`.
pub fn run(args: ExportArgs, command_line: String) -> Result<Outcome> {
    if let (Some(dir), Some(metrics)) = (&args.update, &args.metrics) {
        return update_metrics(dir, metrics, command_line);
    }
    let name = args.name.clone().unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--name {name:?}: use letters, digits, - and _ only");
    }
    let device = Device::flex();
    let several = args.checkpoint.len() > 1;
    let mut sources = Vec::with_capacity(args.checkpoint.len());
    for path in &args.checkpoint {
        let bytes = crate::files::read_regular(path)?;
        if several {
            // Load each one alone first, so that an error names the file at fault.
            from_safetensors(&bytes, &device)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        sources.push(bytes);
    }
    let first = &args.checkpoint[0];
    let mean;
    let bytes: &[u8] = if several {
        let views: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
        mean = mean_of_checkpoints(&views).map_err(|e| {
            anyhow::anyhow!(
                "{} checkpoints from {}: {e}",
                sources.len(),
                first.display()
            )
        })?;
        &mean
    } else {
        &sources[0]
    };
    let (model, config) = from_safetensors(bytes, &device)
        .map_err(|e| anyhow::anyhow!("{}: {e}", first.display()))?;
    let run_json = first.parent().map(|d| d.join("run.json"));
    let run_info: Option<serde_json::Value> = run_json
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let size = match (
        args.size,
        run_info.as_ref().and_then(|r| r["size"].as_u64()),
    ) {
        (Some(s), _) => {
            crate::check_size(s)?;
            s
        }
        (None, Some(s)) => {
            // An edited or foreign run.json: say where the size came from.
            let s = usize::try_from(s).unwrap_or(usize::MAX);
            if !scarseg_pipeline::manifest::is_input_size(s) {
                bail!(
                    "{}: size {s} {}; give --size",
                    run_json.as_deref().unwrap_or(first).display(),
                    scarseg_pipeline::manifest::INPUT_SIZE_RULE
                );
            }
            s
        }
        (None, None) => bail!("--size is needed: no run.json beside {}", first.display()),
    };
    crate::check_threshold(args.threshold)?;
    if !(0.0..=1.0).contains(&args.crop_components) {
        bail!(
            "--crop-components {}: must be within 0-1",
            args.crop_components
        );
    }
    let precision = if args.full_precision {
        Precision::F32
    } else {
        Precision::F16
    };
    let weights = to_safetensors(&model, &config, precision)?;
    let mut provenance = BTreeMap::new();
    provenance.insert("export_command".to_string(), command_line);
    provenance.insert(
        "source_checkpoint_sha256".to_string(),
        sources
            .iter()
            .map(|b| sha256_hex(b))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if sources.len() > 1 {
        provenance.insert(
            "averaged_checkpoints".to_string(),
            sources.len().to_string(),
        );
    }
    if let Some(serde_json::Value::Object(map)) = &run_info {
        for (k, v) in map {
            let shared;
            let v = if k == "data_split" {
                shared = without_patient_names(v);
                &shared
            } else {
                v
            };
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            provenance.insert(format!("training_{k}"), v);
        }
    }
    let preprocessing = if args.roi {
        Preprocessing::two_pass(
            size,
            RoiSpec {
                min_component_fraction: args.crop_components,
                ..RoiSpec::default()
            },
        )
    } else {
        Preprocessing::at(size)
    }
    .with_mirror(args.mirror);
    let postprocessing = PostprocessOptions {
        threshold: args.threshold,
        min_component_px: args.min_component_px,
        ..Default::default()
    };
    let (metrics, metrics_text) = match &args.metrics {
        Some(path) => test_metrics(path, &sha256_hex(&weights), &preprocessing, &postprocessing)?,
        None => (BTreeMap::new(), String::from("Not evaluated at export.\n")),
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: name.clone(),
        architecture: config.clone(),
        weights: WeightsEntry {
            file: WEIGHTS_FILE.to_string(),
            sha256: sha256_hex(&weights),
            bytes: weights.len() as u64,
            precision: match precision {
                Precision::F16 => "f16".into(),
                Precision::F32 => "f32".into(),
            },
        },
        preprocessing,
        postprocessing,
        provenance,
        metrics,
        card: CARD_FILE.to_string(),
    };
    let dir = args.out.join(&name);
    crate::output_folder(&dir)?;
    std::fs::write(dir.join(WEIGHTS_FILE), &weights)?;
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    let notes = match &args.notes {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?
        }
        None => String::new(),
    };
    std::fs::write(dir.join(CARD_FILE), card(&manifest, &metrics_text, &notes))?;
    eprintln!(
        "exported {} ({} bytes, sha256 {}) to {}",
        name,
        weights.len(),
        manifest.weights.sha256,
        dir.display()
    );
    Ok(Outcome::Done)
}

/// Card headings around the test metrics, which `--update` replaces.
const METRICS_HEADING: &str = "## Test metrics\n";
const AFTER_METRICS_HEADING: &str = "## Limitations\n";

/// `export --update DIR --metrics EVAL`: the exported model in `dir` takes the test metrics of
/// `eval` (checked as at export: these weights, these settings, the test cases), in its
/// manifest and card; nothing else changes but a line of provenance.
fn update_metrics(dir: &Path, eval: &Path, command_line: String) -> Result<Outcome> {
    // The weights beside the manifest must be the ones it names, or the new metrics would be
    // attached to other weights.
    let (mut manifest, weights) = crate::model_dir::read(dir)?;
    check_digest(&manifest, &weights).with_context(|| format!("model folder {}", dir.display()))?;
    let manifest_path = dir.join(MANIFEST_FILE);
    let card_path = dir.join(&manifest.card);
    let card = std::fs::read_to_string(&card_path)
        .with_context(|| format!("{}: cannot read", card_path.display()))?;
    let (Some(start), Some(end)) = (card.find(METRICS_HEADING), card.find(AFTER_METRICS_HEADING))
    else {
        bail!(
            "{}: no \"{}\" section followed by \"{}\" to replace (a card scarseg export wrote)",
            card_path.display(),
            METRICS_HEADING.trim(),
            AFTER_METRICS_HEADING.trim()
        );
    };
    if end < start {
        bail!(
            "{}: \"{}\" comes before \"{}\"",
            card_path.display(),
            AFTER_METRICS_HEADING.trim(),
            METRICS_HEADING.trim()
        );
    }
    let (metrics, text) = test_metrics(
        eval,
        &manifest.weights.sha256,
        &manifest.preprocessing,
        &manifest.postprocessing,
    )?;
    manifest.metrics = metrics;
    manifest
        .provenance
        .insert("metrics_command".to_string(), command_line);
    // A manifest exported before the names were left out still lists its patients: an update
    // leaves them out as an export now does.
    if let Some(split) = manifest.provenance.get_mut("training_data_split")
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(split)
    {
        *split = without_patient_names(&v).to_string();
    }
    let card = format!(
        "{}{METRICS_HEADING}{text}\n{}",
        &card[..start],
        &card[end..]
    );
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::write(&card_path, card)?;
    eprintln!(
        "{}: test metrics from {} (sha256 {})",
        dir.display(),
        eval.display(),
        &manifest.weights.sha256[..12]
    );
    Ok(Outcome::Done)
}

/// The summary of an `eval --out` folder's eval.json as the model's test metrics (for the
/// manifest, and as a table for the card), once the file is shown to be about this export: the
/// same weights (sha256), the phantom test cases or the user's own data (never the validation
/// cases training chose by), and the pre- and postprocessing the manifest sets. Without these
/// checks the page would show another model's, or another threshold's, Dice as this one's.
fn test_metrics(
    path: &Path,
    sha256: &str,
    preprocessing: &Preprocessing,
    postprocessing: &PostprocessOptions,
) -> Result<(BTreeMap<String, f64>, String)> {
    let at = path.display();
    let eval: serde_json::Value = serde_json::from_slice(&crate::files::read(
        path,
        &scarseg_imaging::Limits::default(),
    )?)
    .with_context(|| format!("{at}: not an eval.json"))?;
    let summary = &eval["summary"];
    if !summary.is_object() {
        bail!("{at}: no `summary` (write it with scarseg eval --out)");
    }
    if let Some(folds) = eval["weights"]["folds"].as_array() {
        bail!(
            "{at}: pools {} cross-validation fold models, which is no one model's test; evaluate \
             the exported model itself (scarseg eval --weights DIR --out)",
            folds.len()
        );
    }
    let Some(evaluated) = eval["weights"]["sha256"].as_str() else {
        bail!(
            "{at}: names no evaluated weights (a classic method, or an older scarseg eval); \
             evaluate the exported model with `scarseg eval --weights DIR --out`"
        );
    };
    if evaluated != sha256 {
        bail!(
            "{at}: evaluated weights {}, not the ones exported now ({}); export, evaluate that \
             model, then export again with the same options and --metrics",
            // By characters: the file is the user's, and may hold anything there.
            evaluated.chars().take(12).collect::<String>(),
            &sha256[..12]
        );
    }
    let data = &eval["data"];
    if data["set"] == "validation" {
        bail!(
            "{at}: scores the phantom validation cases, which training chose by; a model's \
             metrics are test metrics (evaluate without --validation)"
        );
    }
    // Through JSON text, as eval writes its settings: an f32 threshold of 0.4 is 0.4 there, not
    // the 0.4000000059604645 a direct conversion to a JSON value gives. Numbers are compared
    // as f32 all the same, since eval.json files written before 2026-12-05 hold the widened
    // form.
    let as_written = |v: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&v);
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::{Array, Number, Object};
        match (a, b) {
            (Number(x), Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x as f32 == y as f32,
                _ => x == y,
            },
            (Object(x), Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
            _ => a == b,
        }
    }
    let differences: Vec<String> = [
        (
            "preprocessing",
            as_written(serde_json::to_vec(preprocessing)?)?,
        ),
        (
            "postprocessing",
            as_written(serde_json::to_vec(postprocessing)?)?,
        ),
    ]
    .into_iter()
    .flat_map(|(part, exported)| {
        let evaluated = eval["settings"][part].clone();
        let keys: std::collections::BTreeSet<String> = [&exported, &evaluated]
            .into_iter()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys().cloned())
            .collect();
        keys.into_iter()
            .filter(|k| !same(&exported[k], &evaluated[k]))
            .map(|k| format!("{k} {} evaluated, {} exported", evaluated[&k], exported[&k]))
            .collect::<Vec<_>>()
    })
    .collect();
    if !differences.is_empty() {
        bail!(
            "{at}: evaluated with other settings than this export's: {}",
            differences.join(", ")
        );
    }
    let on = match data["source"].as_str() {
        Some("phantom") => {
            // Evaluations before `--pattern` existed record none: theirs was the ischemic one.
            let drawn = match data["pattern"].as_str() {
                None | Some("ischemic") => String::new(),
                Some(p) => format!(", drawn with {p} scar (`--pattern {p}`)"),
            };
            format!(
                "{} synthetic phantom test cases from seed {}{drawn}",
                data["cases"], data["first_seed"]
            )
        }
        Some(source) => format!("{source} data in {}", data["folder"]),
        None => "unrecorded data".into(),
    };
    let mut metrics = BTreeMap::new();
    let mut text = format!(
        "Evaluated with `scarseg eval` ({}) on {on}:\n\n\
         | metric | mean | SD | 95% CI | median (IQR) | n |\n|---|---|---|---|---|---|\n",
        summary["method"].as_str().unwrap_or("?")
    );
    // A 95% confidence interval as eval writes it ({"lower", "upper"}): into the metrics as
    // KEY_ci95_lower and KEY_ci95_upper, and the card's cell.
    let interval = |metrics: &mut BTreeMap<String, f64>, key: &str, ci: &serde_json::Value| match (
        ci["lower"].as_f64(),
        ci["upper"].as_f64(),
    ) {
        (Some(lower), Some(upper)) => {
            metrics.insert(format!("{key}_ci95_lower"), lower);
            metrics.insert(format!("{key}_ci95_upper"), upper);
            format!("{lower:.4} to {upper:.4}")
        }
        _ => String::new(),
    };
    for (key, value) in summary.as_object().into_iter().flatten() {
        // A metric with a mean and SD over cases, or a single figure (r, ICC, a proportion).
        if let Some(mean) = value.get("mean").and_then(|m| m.as_f64()) {
            let sd = value.get("sd").and_then(|m| m.as_f64()).unwrap_or(f64::NAN);
            metrics.insert(format!("{key}_mean"), mean);
            metrics.insert(format!("{key}_sd"), sd);
            let ci = interval(&mut metrics, &format!("{key}_mean"), &value["ci95"]);
            let quartiles = match (
                value["median"].as_f64(),
                value["q1"].as_f64(),
                value["q3"].as_f64(),
            ) {
                (Some(m), Some(q1), Some(q3)) => format!("{m:.4} ({q1:.4} to {q3:.4})"),
                _ => String::new(),
            };
            let n = value["n"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default();
            text.push_str(&format!(
                "| {key} | {mean:.4} | {sd:.4} | {ci} | {quartiles} | {n} |\n"
            ));
        } else if let Some(v) = value.as_f64() {
            metrics.insert(key.clone(), v);
            let ci = interval(&mut metrics, key, &summary[format!("{key}_ci95")]);
            text.push_str(&format!("| {key} | {v:.4} | | {ci} | | |\n"));
        }
    }
    if let Some(n) = summary["slices"].as_u64() {
        metrics.insert("test_slices".into(), n as f64);
    }
    // An evaluation of several scar patterns: each one's figures, on the card only (the
    // manifest's metrics are the whole test set's, which the page's flag rests on).
    if let Some(by) = eval["by_pattern"].as_object() {
        text.push_str(
            "\nBy scar pattern, over the cases with scar of each:\n\n\
             | pattern | patients | scar Dice (95% CI) | burden bias (pp) | >5% flag sensitivity \
             | >5% flag specificity |\n|---|---|---|---|---|---|\n",
        );
        for (pattern, s) in by {
            let dice = &s["scar_dice"];
            let dice = match (dice["mean"].as_f64(), &dice["ci95"]) {
                (Some(m), ci) => match (ci["lower"].as_f64(), ci["upper"].as_f64()) {
                    (Some(l), Some(u)) => format!("{m:.3} ({l:.3} to {u:.3})"),
                    _ => format!("{m:.3}"),
                },
                (None, _) => "-".into(),
            };
            let bias = s["burden_bland_altman"]["mean"]
                .as_f64()
                .map_or("-".into(), |b| format!("{b:+.2}"));
            let c = &s["flag_counts"];
            let count = |k: &str| c[k].as_u64().unwrap_or(0);
            let share = |hits: u64, misses: u64| match hits + misses {
                0 => "-".to_string(),
                of => format!("{:.3} ({hits} of {of})", hits as f64 / of as f64),
            };
            text.push_str(&format!(
                "| {pattern} | {} | {dice} | {bias} | {} | {} |\n",
                s["patients"],
                share(count("true_positive"), count("false_negative")),
                share(count("true_negative"), count("false_positive")),
            ));
        }
    }
    Ok((metrics, text))
}

/// What a model was trained on, in the card's words: its opening sentence, its Data section
/// and the first paragraph of its Limitations. From the run's `data_split` (run.json), which
/// the export keeps in its provenance; a model trained on real scans must not be called a
/// phantom model, nor the other way round.
fn training_data(provenance: &BTreeMap<String, String>) -> [String; 3] {
    let split: serde_json::Value = provenance
        .get("training_data_split")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    // run.json written before `source` existed: a phantom run names its validation seeds.
    let source = split["source"].as_str().or_else(|| {
        if split.get("validation_seeds").is_some() {
            Some("phantom")
        } else if split.get("training_patients").is_some() {
            Some("dataset")
        } else {
            None
        }
    });
    match source {
        Some("phantom") => {
            let pattern = match split["pattern"].as_str() {
                None | Some("ischemic") => "Its scar is ischemic: in a coronary territory, from \
                     the endocardium outwards (the phantom's default pattern)."
                    .to_string(),
                Some("mixed") => "Its scar is of every pattern the phantom draws, a third of \
                     the cases each: ischemic, mid-wall and subepicardial (`--pattern mixed`)."
                    .to_string(),
                Some(p) => format!("Its scar is {p} only (`--pattern {p}`)."),
            };
            [
                "**A demonstration model, not a clinical one.** It was trained on synthetic \
                 phantom images only and has never seen a patient's scan. ScarSeg is not a \
                 certified medical device."
                    .into(),
                format!(
                    "Synthetic LGE phantom cases (`scarseg phantom`), generated fresh every epoch \
                     from seeds 3,000,000,000 and up; validation on fixed seeds from \
                     1,000,000,000; test on fixed seeds from 2,000,000,000. Image size, pixel \
                     spacing, contrast, noise, bias field and anatomy vary per case. {pattern}"
                ),
                "Real LGE differs from the phantom in ways the phantom does not model (motion, \
                 trabeculation, partial-volume at the apex, vendor-specific contrast). Expect \
                 lower accuracy on real scans; use it to learn the tool, not to make decisions."
                    .into(),
            ]
        }
        Some(source) => {
            let count = |k: &str| count_of(&split[k]);
            let slices = |k: &str| split[k].as_u64().unwrap_or(0) as usize;
            let what = match source {
                "emidec" => "EMIDEC-layout NIfTI volumes (`--emidec`)",
                "pairs" => "image and mask pairs (`--pairs`)",
                _ => "its own image and label files (`--emidec` or `--pairs`)",
            };
            let folder = split["folder"]
                .as_str()
                .map_or(String::new(), |f| format!(" in `{f}`"));
            let cv = &split["cross_validation"];
            let held_out = match (cv["fold"].as_u64(), cv["folds"].as_u64()) {
                (Some(fold), Some(folds)) => format!(
                    "; fold {fold} of {folds} (fold seed {}, {}) held out from both",
                    cv["fold_seed"],
                    plural(count_of(&cv["held_out_patients"]), "patient")
                ),
                _ => String::new(),
            };
            let patients = count("training_patients") + count("validation_patients");
            [
                format!(
                    "**A research model, not a clinical one.** It was made from the scans of \
                     {}, read as {what}. ScarSeg is not a certified medical device, and this \
                     model has not been validated for clinical use.",
                    plural(patients, "patient")
                ),
                format!(
                    "{}{folder}: {} ({}) trained, {} ({}) validated, split by patient \
                     (`run.json` beside the checkpoint names them){held_out}.",
                    capitalised(what),
                    plural(count("training_patients"), "patient"),
                    plural(slices("training_slices"), "slice"),
                    plural(count("validation_patients"), "patient"),
                    plural(slices("validation_slices"), "slice"),
                ),
                "It knows only what its training patients' scans show: other scanners, \
                 sequences, field strengths and populations may lower its accuracy. Check it \
                 against a reader on your own cases before relying on it."
                    .into(),
            ]
        }
        None => [
            "**A demonstration model, not a clinical one.** ScarSeg is not a certified medical \
             device."
                .into(),
            "Not recorded: no run.json was found beside the checkpoint it was exported from."
                .into(),
            "What it was trained on is not recorded, and so neither is where it can be \
             expected to work. Check it against a reader on your own cases before relying on it."
                .into(),
        ],
    }
}

/// A list of patients in a manifest's `training_data_split`: `{"count", "sha256"}`
/// ([`without_patient_names`]), or the names themselves in a manifest exported before.
fn count_of(list: &serde_json::Value) -> usize {
    list.as_array()
        .map(Vec::len)
        .or_else(|| list["count"].as_u64().map(|n| n as usize))
        .unwrap_or(0)
}

/// run.json's `data_split` as the manifest keeps it: each list of patients (training,
/// validation, a held-out fold) becomes its count and the sha256 of its names, sorted and
/// joined by newlines. A model folder is made to be shared, and a patient's name is often their
/// DICOM Patient ID or a hospital's folder name; run.json, which stays with the run, keeps the
/// names, and the digest says whether a list there is the one that made the model.
fn without_patient_names(split: &serde_json::Value) -> serde_json::Value {
    fn digest(list: &mut serde_json::Value) {
        if let Some(names) = list.as_array() {
            let mut names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
            names.sort_unstable();
            *list = serde_json::json!({
                "count": names.len(),
                "sha256": sha256_hex(names.join("\n").as_bytes()),
            });
        }
    }
    let mut split = split.clone();
    for key in ["training_patients", "validation_patients"] {
        if let Some(list) = split.get_mut(key) {
            digest(list);
        }
    }
    if let Some(list) = split
        .get_mut("cross_validation")
        .and_then(|cv| cv.get_mut("held_out_patients"))
    {
        digest(list);
    }
    split
}

/// "1 patient", "3 patients".
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

fn card(m: &Manifest, metrics: &str, notes: &str) -> String {
    let p = |k: &str| {
        m.provenance
            .get(k)
            .cloned()
            .unwrap_or_else(|| "not recorded".into())
    };
    let [opening, data, limits] = training_data(&m.provenance);
    format!(
        "# Model card: {name}\n\n\
         {opening}\n\n\
         ## What it is\n\
         ScarSegNet ({dims:?} channels, {depths:?} blocks per stage), input {size} x {size}, \
         weights in {precision} ({bytes} bytes, sha256 `{sha}`), default threshold \
         {threshold}.{passes}\n\n\
         ## How it was made\n\
         {soup}- Training command: `{cmd}`{resumed}\n\
         - Seed: {seed}; epochs: {epochs}; steps: {steps}; batch: {batch}\n\
         - Wall time: {wall} s on {machine} (device `{device}`)\n\
         - Best validation scar Dice during training: {best}\n\
         - Export command: `{export}`\n\n\
         ## Data\n\
         {data}\n\n\
         {METRICS_HEADING}{metrics}\n\
         {AFTER_METRICS_HEADING}\
         {limits}\n{notes}",
        name = m.name,
        dims = m.architecture.dims,
        depths = m.architecture.depths,
        size = m.preprocessing.size,
        precision = m.weights.precision,
        bytes = m.weights.bytes,
        sha = m.weights.sha256,
        threshold = m.postprocessing.threshold,
        passes = if m.preprocessing.roi.is_some() || m.preprocessing.mirror {
            format!(" Input: {}.", m.preprocessing.description)
        } else {
            String::new()
        },
        soup = match m.provenance.get("averaged_checkpoints") {
            Some(n) => format!(
                "- Weights: the element-wise mean of {n} checkpoints (a weight soup; sha256 \
                 `{}`); the training details below are the first one's run.\n",
                p("source_checkpoint_sha256")
            ),
            None => String::new(),
        },
        cmd = p("training_command"),
        resumed = match m.provenance.get("training_resumed_with") {
            Some(r) if !r.is_empty() => format!(", resumed with `{r}`"),
            _ => String::new(),
        },
        seed = p("training_seed"),
        epochs = p("training_epochs_done"),
        steps = p("training_steps_done"),
        batch = p("training_batch"),
        wall = p("training_wall_seconds"),
        machine = p("training_machine"),
        device = p("training_device"),
        best = p("training_best_validation_scar_dice"),
        export = p("export_command"),
    )
}
