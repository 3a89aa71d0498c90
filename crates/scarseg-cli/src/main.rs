//! `scarseg`: the native command line on the model, imaging and pipeline crates. It trains
//! ScarSegNet (`train`), evaluates it and the classic methods with the papers' protocols
//! (`eval`), segments files (`predict`), exports weights for the web app (`export`), and writes
//! phantom datasets (`phantom`). Nothing here re-implements the science: it parses arguments,
//! reads and writes files, and reports.

mod dashboard;
mod data;
mod device;
mod eval;
mod export;
mod files;
mod model_dir;
mod phantom;
mod plots;
mod predict;
mod stats;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Private, on-device segmentation of myocardial scar in LGE cardiac MRI.
#[derive(Debug, Parser)]
#[command(name = "scarseg", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train ScarSegNet on phantom, EMIDEC or paired data.
    Train(train::TrainArgs),
    /// Evaluate a model (or FWHM / n-SD) with the papers' metrics.
    Eval(eval::EvalArgs),
    /// Segment DICOM, NIfTI, PNG or JPEG files; masks on each input's own grid (and a DICOM
    /// segmentation and measurement report of each DICOM series).
    Predict(predict::PredictArgs),
    /// Export trained weights as a web-app model folder (f16 weights, manifest, model card).
    Export(export::ExportArgs),
    /// Write a synthetic LGE phantom dataset (PNG, NIfTI or DICOM) with exact labels.
    Phantom(phantom::PhantomArgs),
}

/// Creates an output folder (and its parents) before any long work, so that a path that cannot
/// hold results fails at once, with a message that says why.
pub fn output_folder(path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    if path.exists() && !path.is_dir() {
        anyhow::bail!("{}: exists and is not a folder", path.display());
    }
    std::fs::create_dir_all(path).with_context(|| format!("{}: cannot create", path.display()))
}

/// A `--threshold` given on the command line, checked by the one rule manifests follow too.
pub fn check_threshold(t: f32) -> anyhow::Result<()> {
    use scarseg_imaging::postprocess::{THRESHOLD_RULE, is_threshold};
    anyhow::ensure!(is_threshold(t), "--threshold {t}: {THRESHOLD_RULE}");
    Ok(())
}

/// The one `--size` rule for `train` and `export`: the manifest's, so that no run writes a
/// model that the page and `predict` would refuse to load.
pub fn check_size(size: usize) -> anyhow::Result<()> {
    use scarseg_pipeline::manifest::{INPUT_SIZE_RULE, is_input_size};
    anyhow::ensure!(is_input_size(size), "--size {size}: {INPUT_SIZE_RULE}");
    Ok(())
}

/// The machine, for provenance: CPU model, cores, OS.
pub fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

fn main() -> ExitCode {
    let command_line = std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(a, command_line),
        Command::Eval(a) => eval::run(a, command_line),
        Command::Predict(a) => predict::run(a),
        Command::Export(a) => export::run(a, command_line),
        Command::Phantom(a) => phantom::run(a),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            // One line: the context chain joined, outermost first.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

/// What a subcommand returns: success, or success with some inputs skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything done.
    Done,
    /// Some inputs failed and were reported; the rest were written.
    Partial,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Done => ExitCode::SUCCESS,
            // Distinct from 1 (nothing done) so scripts can tell partial results apart.
            Outcome::Partial => ExitCode::from(2),
        }
    }
}
