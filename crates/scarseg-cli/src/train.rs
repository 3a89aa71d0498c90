//! `scarseg train`: AdamW on phantom, EMIDEC or paired data, data loading on its own threads
//! beside the device, validation and a checkpoint every epoch, `--resume`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use clap::{Args, ValueEnum};
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use scarseg_imaging::Limits;
use scarseg_imaging::metrics::{Mask, dice, mean_sd};
use scarseg_imaging::phantom::{PhantomConfig, ScarPattern};
use scarseg_model::device_check::check_ase_topk;
use scarseg_model::loss::{LossKind, SegLossConfig, SegTargets};
use scarseg_model::train::{train_step, train_step_data_parallel};
use scarseg_model::weights::{Precision, from_safetensors, to_safetensors};
use scarseg_model::{ScarSegNet, ScarSegNetConfig, Variant};
use serde::{Deserialize, Serialize};

use crate::dashboard::Dashboard;
use crate::data::{
    Augment, Example, PatternArg, SEED_BLOCK, Sample, TEST_SEED, VALIDATION_SEED, check_folds,
    check_pattern, emidec_samples, example, fold_split, pack, pair_samples, phantom_samples,
    several_patterns, split_by_patient,
};

/// First seed of phantom training cases: fresh cases every epoch, never a validation or test seed.
pub const TRAIN_SEED: u64 = TEST_SEED + SEED_BLOCK;

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum Schedule {
    /// Linear warm-up over the first 3% of steps, then cosine to 1% of the peak.
    Cosine,
    /// Seed 001: the rate falls 5% every epoch.
    Decay5,
}

/// Loss families (the model crate's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum LossArg {
    /// The paper: BCE + Dice + MCL.
    Scarsegnet,
    /// ScarNet: Focal Tversky + Dice + weighted CE.
    Scarnet,
    /// Seed 004: KL to soft labels + Dice + MCL.
    Kl,
}

/// Arguments of `scarseg train`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct TrainArgs {
    /// Run folder: checkpoints, best weights, logs.
    #[arg(long)]
    pub out: PathBuf,
    /// flex (CPU), libtorch (CPU, `tch` feature), wgpu, wgpu:i, vulkan, cuda, cuda:i, or
    /// cuda:i,j,... / wgpu:i,j,... (data-parallel over those GPUs).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// ScarSegNet variant.
    #[arg(long, default_value = "atto")]
    pub variant: String,
    /// Network input side in pixels (a multiple of 32 from 32 to 2048).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Train on N phantom cases per epoch, generated with fresh seeds every epoch.
    #[arg(long, conflicts_with_all = ["emidec", "pairs", "folds"])]
    pub phantom: Option<usize>,
    /// Phantom validation cases (fixed seeds).
    #[arg(long, default_value_t = 32)]
    pub phantom_validation: usize,
    /// With --phantom: where in the wall the training and validation cases' scar lies
    /// (`mixed` teaches the non-ischemic patterns beside the ischemic one).
    #[arg(long, value_enum, requires = "phantom", default_value = "ischemic")]
    #[serde(default)]
    pub pattern: PatternArg,
    /// Train on the EMIDEC challenge layout in DIR.
    #[arg(long, conflicts_with = "pairs")]
    pub emidec: Option<PathBuf>,
    /// Train on image files with `NAME_labels.*` label files beside them.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Fraction of patients held out for validation (EMIDEC and pairs); with `--folds`, of the
    /// training folds' patients.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub validation_fraction: f64,
    /// K-fold cross-validation (EMIDEC and pairs): deal the patients into K folds and hold
    /// fold `--fold` out of training and validation alike, for `eval --folds K --fold I`.
    #[arg(long, requires = "fold")]
    #[serde(default)]
    pub folds: Option<usize>,
    /// The fold held out (0 to K - 1).
    #[arg(long, requires = "folds")]
    #[serde(default)]
    pub fold: Option<usize>,
    /// Seed that deals the patients into folds; the same in train and eval.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub fold_seed: u64,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value = "cosine")]
    pub schedule: Schedule,
    /// Loss.
    #[arg(long, value_enum, default_value = "scarsegnet")]
    pub loss: LossArg,
    /// Turn augmentation off.
    #[arg(long)]
    pub no_augment: bool,
    /// Fraction of training examples framed on the heart's crop instead of the whole slice,
    /// for a two-pass model (`export --roi`); validation then scores the crops. 0 trains a
    /// whole-slice model.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub roi_fraction: f64,
    /// Seed of initialisation, shuffling, augmentation and phantom training cases (at most
    /// 2^32 - 1).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue from the run folder's last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights (a run's best.safetensors or checkpoint) instead of a fresh
    /// initialisation: fine-tuning, or a change of loss or data. Optimizer state starts fresh.
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Threads that generate and augment training examples beside the device (0: one per
    /// logical CPU). The batches are the same whatever the number.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub loader_threads: usize,
}

/// What a checkpoint remembers besides the tensors.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    args: TrainArgs,
    epochs_done: usize,
    steps_done: usize,
    best_scar_dice: f64,
    wall_seconds: f64,
    /// Parameter path -> id, so the optimizer state finds its parameters again.
    param_ids: BTreeMap<String, u64>,
    /// The command that started the run, then every command that resumed it.
    #[serde(default)]
    commands: Vec<String>,
}

/// Per-epoch, per-pattern record in `train_val_by_pattern.csv`, written where the validation
/// cases hold several scar patterns (`--pattern mixed`): whether the run learns each one.
#[derive(Debug, Serialize)]
struct PatternLog {
    epoch: usize,
    pattern: ScarPattern,
    /// Validation slices of this pattern.
    slices: usize,
    val_scar_dice: f64,
}

/// Per-epoch record in `train_log.csv`.
#[derive(Debug, Serialize)]
struct EpochLog {
    epoch: usize,
    steps: usize,
    lr: f64,
    train_loss: f64,
    val_scar_dice: f64,
    val_myocardium_dice: f64,
    samples_per_second: f64,
    wall_seconds: f64,
    /// Seconds of the epoch the device waited for the data loader: well above zero means
    /// the loader, not the device, sets the pace (more `--loader-threads` or CPUs help).
    loader_wait_seconds: f64,
}

enum Source {
    Phantom {
        per_epoch: usize,
        config: PhantomConfig,
    },
    Samples(Vec<Sample>),
}

impl Source {
    /// Training examples per epoch.
    fn len(&self) -> usize {
        match self {
            Source::Phantom { per_epoch, .. } => *per_epoch,
            Source::Samples(s) => s.len(),
        }
    }
}

struct Batch {
    images: Vec<f32>,
    scar: Vec<f32>,
    myocardium: Vec<f32>,
    len: usize,
}

/// Runs `scarseg train`.
pub fn run(mut args: TrainArgs, command_line: String) -> Result<crate::Outcome> {
    // Before the output folder is made; a resumed run takes its pattern from its checkpoint.
    check_pattern(args.pattern, args.phantom.is_some())?;
    crate::output_folder(&args.out)?;
    let checkpoint_dir = args.out.join("checkpoint");
    let resumed: Option<State> = if args.resume {
        let path = checkpoint_dir.join("state.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: no checkpoint to resume", path.display()))?;
        let state: State = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a scarseg checkpoint state", path.display()))?;
        // The run's own settings win; only the epoch count may grow.
        let epochs = args.epochs.max(state.args.epochs);
        args = TrainArgs {
            epochs,
            resume: true,
            loader_threads: args.loader_threads,
            ..state.args.clone()
        };
        Some(state)
    } else {
        None
    };
    let variant: Variant = args
        .variant
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    crate::check_size(args.size)?;
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        bail!("--lr {}: must be a positive number", args.lr);
    }
    if !(args.weight_decay.is_finite() && args.weight_decay >= 0.0) {
        bail!(
            "--weight-decay {}: must be a non-negative number",
            args.weight_decay
        );
    }
    if !(args.validation_fraction > 0.0 && args.validation_fraction < 1.0) {
        bail!(
            "--validation-fraction {}: must be between 0 and 1 (exclusive)",
            args.validation_fraction
        );
    }
    // Phantom training seeds are TRAIN_SEED + seed x 10^8 + example: a larger seed would wrap
    // around into the validation and test seeds.
    if args.seed > u64::from(u32::MAX) {
        bail!("--seed {}: must be at most {}", args.seed, u32::MAX);
    }
    let bases = crate::device::parse_many(&args.device)?;
    for base in &bases {
        base.seed(args.seed);
    }
    // The model lives on the first device; with several, each step runs data-parallel.
    let devices: Vec<Device> = bases.iter().map(|d| d.clone().autodiff()).collect();
    let device = devices[0].clone();
    let base = bases[0].clone();

    let limits = Limits::default();
    let phantom_config = PhantomConfig {
        pattern: args.pattern.into(),
        ..PhantomConfig::default()
    };
    // Which patients (or seeds) trained and which validated, for run.json: a researcher
    // evaluating the run later must know which cases it has seen.
    let patients = |samples: &[Sample]| -> Vec<String> {
        samples
            .iter()
            .map(|s| s.patient.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let split_of = |t: &[Sample], v: &[Sample]| {
        serde_json::json!({
            "training_patients": patients(t),
            "training_slices": t.len(),
            "validation_patients": patients(v),
            "validation_slices": v.len(),
        })
    };
    let (source, validation, split) = match (&args.phantom, &args.emidec, &args.pairs) {
        (Some(n), None, None) => (
            Source::Phantom {
                per_epoch: *n,
                config: phantom_config,
            },
            phantom_samples(VALIDATION_SEED, args.phantom_validation, &phantom_config),
            serde_json::json!({
                "training": format!(
                    "{n} fresh phantom cases per epoch: epoch e's case i has seed {} + e x {n} + i",
                    TRAIN_SEED + args.seed * 100_000_000
                ),
                "source": "phantom",
                "validation_seeds": [VALIDATION_SEED, VALIDATION_SEED + args.phantom_validation as u64 - 1],
                "pattern": phantom_config.pattern.name(),
            }),
        ),
        (None, Some(_), None) | (None, None, Some(_)) => {
            let (samples, source, folder) = match (&args.emidec, &args.pairs) {
                (Some(dir), _) => (emidec_samples(dir, &limits)?, "emidec", dir),
                (_, Some(dir)) => (pair_samples(dir, &limits)?, "pairs", dir),
                _ => unreachable!("matched above"),
            };
            // With --folds, the held-out fold is set aside before the validation split, so
            // that neither training nor the choice of the best epoch sees it.
            let (samples, held_out) = match (args.folds, args.fold) {
                (Some(folds), Some(fold)) => {
                    check_folds(folds, Some(fold), patients(&samples).len())?;
                    fold_split(samples, folds, fold, args.fold_seed)
                }
                _ => (samples, Vec::new()),
            };
            let (t, v) = split_by_patient(samples, args.validation_fraction, args.seed);
            let mut split = split_of(&t, &v);
            // What the model card says it was trained on.
            split["source"] = source.into();
            let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.clone());
            split["folder"] = folder.display().to_string().into();
            if let (Some(folds), Some(fold)) = (args.folds, args.fold) {
                split["cross_validation"] = serde_json::json!({
                    "folds": folds,
                    "fold": fold,
                    "fold_seed": args.fold_seed,
                    "held_out_patients": patients(&held_out),
                });
            }
            (Source::Samples(t), v, split)
        }
        _ => bail!("give one of --phantom N, --emidec DIR or --pairs DIR"),
    };
    let per_epoch = source.len();
    if per_epoch == 0 {
        bail!("no training samples");
    }
    // best.safetensors is the epoch with the best validation scar Dice: without validation
    // cases no epoch would ever be written there.
    if validation.is_empty() {
        match (&args.emidec, &args.pairs) {
            (Some(dir), _) | (_, Some(dir)) => bail!(
                "{}: one patient; training holds whole patients out for validation, so it \
                 needs at least two",
                dir.display()
            ),
            _ => bail!("--phantom-validation 0: give at least one validation case"),
        }
    }
    let steps_per_epoch = per_epoch.div_ceil(args.batch);
    let total_steps = steps_per_epoch * args.epochs;
    let soft = args.loss == LossArg::Kl;
    if !(0.0..=1.0).contains(&args.roi_fraction) {
        bail!("--roi-fraction {}: must be within 0-1", args.roi_fraction);
    }
    // Each validation slice's scar pattern, and the patterns if there are several.
    let validation_patterns: Vec<Option<ScarPattern>> =
        validation.iter().map(|s| s.pattern).collect();
    let patterns = several_patterns(validation_patterns.iter().copied());
    let validation: Vec<Example> = validation
        .iter()
        .map(|s| {
            if args.roi_fraction > 0.0 {
                example(&s.heart_crop(None), args.size, None, false)
            } else {
                example(s, args.size, None, false)
            }
        })
        .collect();

    let config = ScarSegNetConfig::variant(variant);
    // A device whose top-k is wrong would train a wrong ASE without any error; batches of one,
    // two, each device's share and the whole batch cover the sizes a step and the last,
    // partial batch of an epoch give it.
    let share = args.batch.div_ceil(bases.len());
    let mut batches = vec![1, 2.min(args.batch), share, args.batch];
    batches.sort_unstable();
    batches.dedup();
    for base in &bases {
        for &batch in &batches {
            futures_lite::future::block_on(check_ase_topk(
                &config, base, batch, args.size, args.size,
            ))
            .with_context(|| format!("--device {}", args.device))?;
        }
    }
    let mut optimizer: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(args.weight_decay as f32)
        .init();
    let mut commands = resumed
        .as_ref()
        .map(|s| s.commands.clone())
        .unwrap_or_default();
    commands.push(command_line);
    let (mut model, first_epoch, mut step, mut best, wall_before) = match &resumed {
        Some(state) => {
            let bytes = std::fs::read(checkpoint_dir.join("model.safetensors"))
                .context("checkpoint/model.safetensors: cannot read")?;
            let (model, _) = from_safetensors(&bytes, &device)
                .map_err(|e| anyhow::anyhow!("checkpoint/model.safetensors: {e}"))?;
            let model = model.map(&mut IdSetter::new(&state.param_ids));
            let opt_path = checkpoint_dir.join("optimizer.bpk");
            optimizer = optimizer
                .load(&opt_path)
                .map_err(|e| anyhow::anyhow!("{}: {e:?}", opt_path.display()))?;
            eprintln!(
                "resuming {} after epoch {} (step {})",
                args.out.display(),
                state.epochs_done,
                state.steps_done
            );
            (
                model,
                state.epochs_done,
                state.steps_done,
                state.best_scar_dice,
                state.wall_seconds,
            )
        }
        None => {
            let model = match &args.init_from {
                Some(path) => {
                    let bytes = crate::files::read_regular(path)?;
                    scarseg_model::weights::from_safetensors_expecting(&bytes, &config, &device)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                None => config.init(&device),
            };
            (model, 0, 0, f64::NEG_INFINITY, 0.0)
        }
    };
    if first_epoch >= args.epochs {
        eprintln!("nothing to do: {} epochs already done", first_epoch);
        return Ok(crate::Outcome::Done);
    }

    let loss = SegLossConfig::new().with_kind(match args.loss {
        LossArg::Scarsegnet => LossKind::ScarSegNet,
        LossArg::Scarnet => LossKind::ScarNet,
        LossArg::Kl => LossKind::KlDivergence,
    });
    let batches = spawn_loader(source, &args, first_epoch, soft)?;
    let started = Instant::now();
    // burn-train's dashboard on a terminal; plain log lines otherwise (logs, CI, pipes).
    let mut dashboard =
        (std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
            Dashboard::start(
                args.epochs,
                first_epoch,
                args.batch,
                &args.out.display().to_string(),
                &patterns,
            )
        });
    let mut log = open_log(&args.out.join("train_log.csv"), first_epoch > 0)?;
    let mut pattern_log = if patterns.is_empty() {
        None
    } else {
        let path = args.out.join("train_val_by_pattern.csv");
        Some(open_log(&path, first_epoch > 0)?)
    };
    let n = args.size;

    for epoch in first_epoch..args.epochs {
        if let Some(d) = dashboard.as_mut() {
            d.epoch_start(epoch, steps_per_epoch);
        }
        let epoch_start = Instant::now();
        let (mut loss_sum, mut seen, mut lr) = (0.0, 0usize, args.lr);
        let mut waited = 0.0;
        for _ in 0..steps_per_epoch {
            let asked = Instant::now();
            let batch = batches
                .recv()
                .context("the data loader stopped unexpectedly")?;
            waited += asked.elapsed().as_secs_f64();
            lr = learning_rate(&args, step, total_steps, epoch);
            let t = |v: &[f32]| Tensor::<1>::from_floats(v, &device).reshape([batch.len, 1, n, n]);
            let targets = SegTargets {
                scar: t(&batch.scar),
                myocardium: t(&batch.myocardium),
            };
            let (next, breakdown) = if devices.len() > 1 {
                train_step_data_parallel(
                    model,
                    &mut optimizer,
                    &loss,
                    &devices,
                    t(&batch.images),
                    &targets,
                    lr,
                )?
            } else {
                train_step(model, &mut optimizer, &loss, t(&batch.images), &targets, lr)?
            };
            model = next;
            let value = breakdown.total.into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bail!("the loss became {value} at step {step}; lower --lr");
            }
            loss_sum += value * batch.len as f64;
            seen += batch.len;
            step += 1;
            if let Some(d) = dashboard.as_mut() {
                d.step(seen, loss_sum / seen as f64, lr);
                if d.stop_requested() {
                    drop(dashboard);
                    eprintln!(
                        "stopped from the dashboard during epoch {}; the checkpoint holds {} \
                         epochs, and `scarseg train --resume --out {}` continues from there",
                        epoch + 1,
                        epoch,
                        args.out.display()
                    );
                    return Ok(crate::Outcome::Done);
                }
            } else if step % 25 == 0 {
                eprintln!(
                    "epoch {}/{} step {step} loss {:.4} lr {lr:.2e} {:.1} samples/s",
                    epoch + 1,
                    args.epochs,
                    loss_sum / seen as f64,
                    seen as f64 / epoch_start.elapsed().as_secs_f64()
                );
            }
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let (scar_each, myo_each) = validate(&model.valid(), &base, &validation, n, args.batch)?;
        let mean = |v: &[f64]| mean_sd(v).map_or(f64::NAN, |m| m.0);
        let (scar_dice, myo_dice) = (mean(&scar_each), mean(&myo_each));
        let by_pattern: Vec<PatternLog> = patterns
            .iter()
            .map(|&pattern| {
                let of: Vec<f64> = scar_each
                    .iter()
                    .zip(&validation_patterns)
                    .filter(|(_, p)| **p == Some(pattern))
                    .map(|(d, _)| *d)
                    .collect();
                PatternLog {
                    epoch: epoch + 1,
                    pattern,
                    slices: of.len(),
                    val_scar_dice: mean(&of),
                }
            })
            .collect();
        let record = EpochLog {
            epoch: epoch + 1,
            steps: step,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            val_scar_dice: scar_dice,
            val_myocardium_dice: myo_dice,
            samples_per_second: seen as f64 / train_seconds,
            wall_seconds: wall_before + started.elapsed().as_secs_f64(),
            loader_wait_seconds: waited,
        };
        let waiting = waited / train_seconds.max(f64::MIN_POSITIVE);
        if let Some(d) = dashboard.as_mut() {
            let each: Vec<(ScarPattern, f64)> = by_pattern
                .iter()
                .map(|p| (p.pattern, p.val_scar_dice))
                .collect();
            d.epoch_end(scar_dice, myo_dice, &each, waiting);
        } else {
            let each: Vec<String> = by_pattern
                .iter()
                .map(|p| format!("{} {:.4}", p.pattern.name(), p.val_scar_dice))
                .collect();
            let of_patterns = if each.is_empty() {
                String::new()
            } else {
                format!(" ({})", each.join(", "))
            };
            eprintln!(
                "epoch {}/{} step {} loss {:.4} lr {:.2e} val scar Dice {:.4}{of_patterns} \
                 myocardium Dice {:.4} {:.1} samples/s, {:.0}% of it waiting for data",
                record.epoch,
                args.epochs,
                step,
                record.train_loss,
                lr,
                scar_dice,
                myo_dice,
                record.samples_per_second,
                100.0 * waiting
            );
        }
        log.serialize(&record)?;
        log.flush()?;
        if let Some(pattern_log) = pattern_log.as_mut() {
            for row in &by_pattern {
                pattern_log.serialize(row)?;
            }
            pattern_log.flush()?;
        }
        if scar_dice > best {
            best = scar_dice;
            write_atomic(
                &args.out.join("best.safetensors"),
                &to_safetensors(&model.valid(), &config, Precision::F32)?,
            )?;
        }
        let state = State {
            args: args.clone(),
            epochs_done: epoch + 1,
            steps_done: step,
            best_scar_dice: best,
            wall_seconds: record.wall_seconds,
            param_ids: collect_ids(&model),
            commands: commands.clone(),
        };
        save_checkpoint(&checkpoint_dir, &model, &config, &optimizer, &state)?;
        write_run_info(&args.out, &state, &record, &split)?;
    }
    drop(dashboard);
    eprintln!(
        "done: best validation scar Dice {best:.4}; weights in {}",
        args.out.join("best.safetensors").display()
    );
    Ok(crate::Outcome::Done)
}

fn learning_rate(args: &TrainArgs, step: usize, total: usize, epoch: usize) -> f64 {
    match args.schedule {
        Schedule::Decay5 => args.lr * 0.95f64.powi(epoch as i32),
        Schedule::Cosine => {
            let warmup = (total as f64 * 0.03).ceil().max(1.0);
            let s = step as f64;
            if s < warmup {
                args.lr * (s + 1.0) / warmup
            } else {
                let t = ((s - warmup) / (total as f64 - warmup).max(1.0)).min(1.0);
                let floor = args.lr * 0.01;
                floor + (args.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// What the loader needs from the arguments to build a batch.
#[derive(Debug, Clone, Copy)]
struct LoadPlan {
    size: usize,
    seed: u64,
    augment: bool,
    roi_fraction: f64,
    soft: bool,
}

impl LoadPlan {
    fn new(args: &TrainArgs, soft: bool) -> Self {
        Self {
            size: args.size,
            seed: args.seed,
            augment: !args.no_augment,
            roi_fraction: args.roi_fraction,
            soft,
        }
    }

    /// The epoch's random stream 0 shuffles; example `i` draws from stream `i + 1`, so what an
    /// example becomes depends on (seed, epoch, i) alone, not on which thread builds it.
    fn rng(&self, epoch: usize, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        rng.set_stream(stream);
        rng
    }
}

/// The examples at `indices` of `epoch`, built in parallel on `pool`, in the order given.
fn load_batch(
    source: &Source,
    indices: &[usize],
    epoch: usize,
    plan: &LoadPlan,
    pool: &rayon::ThreadPool,
) -> Batch {
    let aug = Augment::default();
    let examples: Vec<Example> = pool.install(|| {
        indices
            .par_iter()
            .map(|&i| {
                let mut rng = plan.rng(epoch, i as u64 + 1);
                let owned;
                let sample = match source {
                    Source::Phantom { per_epoch, config } => {
                        let seed = TRAIN_SEED
                            + plan.seed.wrapping_mul(100_000_000)
                            + (epoch * per_epoch + i) as u64;
                        owned = phantom_samples(seed, 1, config).remove(0);
                        &owned
                    }
                    Source::Samples(s) => &s[i],
                };
                let framed;
                let sample = if plan.roi_fraction > 0.0 && rng.random_bool(plan.roi_fraction) {
                    framed = sample.heart_crop(Some(&mut rng));
                    &framed
                } else {
                    sample
                };
                example(
                    sample,
                    plan.size,
                    plan.augment.then_some((&aug, &mut rng)),
                    plan.soft,
                )
            })
            .collect()
    });
    let (images, scar, myocardium) = pack(&examples);
    Batch {
        images,
        scar,
        myocardium,
        len: examples.len(),
    }
}

/// Generates (phantom) or shuffles and augments (datasets) batches on a thread pool beside
/// training, a few batches ahead, so a fast device does not wait for one core's data.
fn spawn_loader(
    source: Source,
    args: &TrainArgs,
    first_epoch: usize,
    soft: bool,
) -> Result<Receiver<Batch>> {
    let (tx, rx) = sync_channel::<Batch>(4);
    let (batch, epochs, plan) = (args.batch, args.epochs, LoadPlan::new(args, soft));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.loader_threads)
        .thread_name(|i| format!("scarseg-loader-{i}"))
        .build()
        .context("cannot start the data loader's threads")?;
    std::thread::spawn(move || {
        for epoch in first_epoch..epochs {
            let mut order: Vec<usize> = (0..source.len()).collect();
            order.shuffle(&mut plan.rng(epoch, 0));
            for chunk in order.chunks(batch) {
                if tx
                    .send(load_batch(&source, chunk, epoch, &plan, &pool))
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// Each image's scar and myocardium Dice at threshold 0.5 on the network's grid.
pub fn validate(
    model: &ScarSegNet,
    device: &Device,
    examples: &[Example],
    n: usize,
    batch: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut scar, mut myo) = (Vec::new(), Vec::new());
    for chunk in examples.chunks(batch) {
        let (images, _, _) = pack(chunk);
        let x = Tensor::<1>::from_floats(images.as_slice(), device).reshape([chunk.len(), 1, n, n]);
        let logits = model.forward(x)?;
        let read = |t: Tensor<4>| -> Result<Vec<f32>> {
            sigmoid(t)
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))
        };
        let (ps, pm) = (read(logits.scar)?, read(logits.myocardium)?);
        for (k, e) in chunk.iter().enumerate() {
            let mask = |v: &[f32]| Mask {
                rows: n,
                cols: n,
                data: v.iter().map(|p| *p > 0.5).collect(),
            };
            let range = k * n * n..(k + 1) * n * n;
            scar.push(dice(&mask(&ps[range.clone()]), &mask(&e.scar)));
            myo.push(dice(&mask(&pm[range]), &mask(&e.myocardium)));
        }
    }
    Ok((scar, myo))
}

fn open_log(path: &Path, append: bool) -> Result<csv::Writer<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(!append)
        .from_writer(file))
}

/// Writes `bytes` beside `path`, then renames: a run stopped mid-write (a scheduler's time
/// limit, `timeout`) leaves the previous file whole, never half of a new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

fn save_checkpoint(
    dir: &Path,
    model: &ScarSegNet,
    config: &ScarSegNetConfig,
    optimizer: &ModuleOptimizer,
    state: &State,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    // Write beside, then rename: an interrupted save never leaves a half checkpoint.
    write_atomic(
        &dir.join("model.safetensors"),
        &to_safetensors(&model.valid(), config, Precision::F32)?,
    )?;
    let tmp = dir.join("optimizer.bpk.tmp");
    optimizer
        .save(&tmp)
        .map_err(|e| anyhow::anyhow!("saving the optimizer state: {e:?}"))?;
    std::fs::rename(&tmp, dir.join("optimizer.bpk"))?;
    write_atomic(
        &dir.join("state.json"),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    Ok(())
}

fn write_run_info(
    out: &Path,
    state: &State,
    last: &EpochLog,
    split: &serde_json::Value,
) -> Result<()> {
    let info = serde_json::json!({
        "command": state.commands.first().cloned().unwrap_or_default(),
        "resumed_with": state.commands.iter().skip(1).cloned().collect::<Vec<_>>().join(" ; "),
        "seed": state.args.seed,
        "variant": state.args.variant,
        "size": state.args.size,
        "epochs_done": state.epochs_done,
        "steps_done": state.steps_done,
        "batch": state.args.batch,
        "wall_seconds": (last.wall_seconds * 10.0).round() / 10.0,
        "best_validation_scar_dice": state.best_scar_dice,
        "device": state.args.device,
        "machine": crate::machine_description(),
        "data_split": split,
    });
    write_atomic(
        &out.join("run.json"),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )
}

/// Records every float parameter's id by its module path.
struct IdCollector {
    path: Vec<String>,
    ids: BTreeMap<String, u64>,
}

impl ModuleVisitor for IdCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // BatchNorm running statistics are not optimised and get a fresh id on every visit.
        let path = self.path.join(".");
        if !path.contains("running_") {
            self.ids.insert(path, param.id.val());
        }
    }
}

fn collect_ids(model: &ScarSegNet) -> BTreeMap<String, u64> {
    let mut c = IdCollector {
        path: Vec::new(),
        ids: BTreeMap::new(),
    };
    model.visit(&mut c);
    c.ids
}

/// Gives every float parameter the id it had when the checkpoint was written.
struct IdSetter<'a> {
    path: Vec<String>,
    ids: &'a BTreeMap<String, u64>,
}

impl<'a> IdSetter<'a> {
    fn new(ids: &'a BTreeMap<String, u64>) -> Self {
        Self {
            path: Vec::new(),
            ids,
        }
    }
}

impl ModuleMapper for IdSetter<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(id) = self.ids.get(&self.path.join(".")) {
            param.id = ParamId::from(*id);
        }
        param
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::ModuleSnapshot;

    #[test]
    fn parameter_paths_are_unique_and_restorable() {
        let device = Device::flex();
        let model = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]).init(&device);
        let ids = collect_ids(&model);
        assert!(ids.len() > 20);
        // Every trainable parameter has its own path (no two collapse onto one key).
        let trainable_tensors = model
            .collect(None, None, false)
            .into_iter()
            .filter(|t| !t.name.contains("running_"))
            .count();
        assert_eq!(ids.len(), trainable_tensors);
        // A fresh model takes the recorded ids.
        let fresh = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]).init(&device);
        assert_ne!(collect_ids(&fresh), ids);
        let restored = collect_ids(&fresh.map(&mut IdSetter::new(&ids)));
        assert_eq!(restored, ids);
    }

    #[test]
    fn batches_do_not_depend_on_loader_threads_or_batch_neighbours() {
        let plan = LoadPlan {
            size: 64,
            seed: 7,
            augment: true,
            roi_fraction: 0.5,
            soft: false,
        };
        let source = Source::Phantom {
            per_epoch: 4,
            config: PhantomConfig::default(),
        };
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("pool")
        };
        let one = load_batch(&source, &[3, 0, 2], 1, &plan, &pool(1));
        let three = load_batch(&source, &[3, 0, 2], 1, &plan, &pool(3));
        let px = 64 * 64;
        assert_eq!(one.len, 3);
        assert_eq!(one.images.len(), 3 * px);
        assert!(one.images == three.images, "images differ with 3 threads");
        assert!(one.scar == three.scar && one.myocardium == three.myocardium);
        // Example 0 built alone is the batch's second example, bit for bit.
        let alone = load_batch(&source, &[0], 1, &plan, &pool(2));
        assert!(alone.images[..] == one.images[px..2 * px]);
        assert!(alone.myocardium[..] == one.myocardium[px..2 * px]);
        // The three examples are different cases, and another epoch brings others again.
        assert!(one.images[..px] != one.images[px..2 * px]);
        let next = load_batch(&source, &[3, 0, 2], 2, &plan, &pool(2));
        assert!(next.images != one.images);
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_one_percent() {
        let args = TrainArgs {
            out: PathBuf::new(),
            device: "flex".into(),
            variant: "atto".into(),
            size: 64,
            phantom: Some(1),
            phantom_validation: 1,
            pattern: PatternArg::Ischemic,
            emidec: None,
            pairs: None,
            validation_fraction: 0.2,
            folds: None,
            fold: None,
            fold_seed: 0,
            epochs: 1,
            batch: 1,
            lr: 1e-3,
            weight_decay: 0.05,
            schedule: Schedule::Cosine,
            loss: LossArg::Scarsegnet,
            no_augment: false,
            roi_fraction: 0.0,
            seed: 0,
            resume: false,
            init_from: None,
            loader_threads: 0,
        };
        // 100 steps: 3 warm-up steps at 1/3, 2/3, 3/3 of the peak.
        assert!((learning_rate(&args, 0, 100, 0) - 1e-3 / 3.0).abs() < 1e-12);
        assert!((learning_rate(&args, 2, 100, 0) - 1e-3).abs() < 1e-12);
        assert!((learning_rate(&args, 100, 100, 0) - 1e-5).abs() < 1e-12);
        let decay = TrainArgs {
            schedule: Schedule::Decay5,
            ..args
        };
        assert!((learning_rate(&decay, 0, 100, 2) - 1e-3 * 0.9025).abs() < 1e-12);
    }
}
