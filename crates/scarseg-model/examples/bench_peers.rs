//! One ScarSeg measurement for `benchmarks/peers.py`, which runs PyTorch and ONNX Runtime on the
//! same weights and inputs: one process per measurement, so the driver reads each one's peak
//! memory from the operating system.
//!
//! `cargo run --profile bench-dev -p scarseg-model --features train --example bench_peers -- \
//!     --weights W.safetensors --mode infer|train --batch N --size S --runs R`
//!
//! Prints one JSON line: the median seconds per batch over `runs` timed repetitions after one
//! warm-up. `infer` is a forward of both heads on `flex`; `train` is forward, the paper's loss,
//! backward and one AdamW step on `flex` with autodiff.

use std::time::Instant;

use burn::optim::AdamWConfig;
use burn::tensor::{Device, Distribution, Tensor};
use scarseg_model::loss::{SegLossConfig, SegTargets};
use scarseg_model::train::train_step;
use scarseg_model::weights::from_safetensors;

struct Args {
    weights: String,
    mode: String,
    batch: usize,
    size: usize,
    runs: usize,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        weights: String::new(),
        mode: "infer".into(),
        batch: 1,
        size: 256,
        runs: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--weights" => args.weights = value.clone(),
            "--mode" => args.mode = value.clone(),
            "--batch" => args.batch = number()?,
            "--size" => args.size = number()?,
            "--runs" => args.runs = number()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.weights.is_empty() {
        return Err("--weights is required".into());
    }
    Ok(args)
}

/// This process's peak resident set (VmHWM, Linux), 0 where unknown. Read by the process
/// itself: the rusage a parent sees also counts the parent's own pages from before the exec.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let bytes = std::fs::read(&args.weights).map_err(|e| format!("{}: {e}", args.weights))?;
    let shape = [args.batch, 1, args.size, args.size];
    let seconds = match args.mode.as_str() {
        "infer" => {
            let device = Device::flex();
            let (model, _) = from_safetensors(&bytes, &device)?;
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let run = || -> Result<(), Box<dyn std::error::Error>> {
                let out = model.forward(x.clone())?;
                // Both heads read back, as a user of the result would.
                let _ = out.scar.into_data();
                let _ = out.myocardium.into_data();
                Ok(())
            };
            run()?;
            let mut times = Vec::with_capacity(args.runs);
            for _ in 0..args.runs {
                let start = Instant::now();
                run()?;
                times.push(start.elapsed().as_secs_f64());
            }
            median(times)
        }
        "train" => {
            let device = Device::flex().autodiff();
            let (mut model, _) = from_safetensors(&bytes, &device)?;
            let mut optimizer = AdamWConfig::new().init();
            let loss = SegLossConfig::new();
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let myo = Tensor::<4>::random(shape, Distribution::Bernoulli(0.3), &device);
            let scar =
                myo.clone() * Tensor::<4>::random(shape, Distribution::Bernoulli(0.4), &device);
            let targets = SegTargets {
                scar,
                myocardium: myo,
            };
            let mut times = Vec::with_capacity(args.runs);
            for i in 0..=args.runs {
                let start = Instant::now();
                let (next, breakdown) =
                    train_step(model, &mut optimizer, &loss, x.clone(), &targets, 1e-4)?;
                // The loss value read back ends the step on every backend.
                let _ = breakdown.total.into_data();
                model = next;
                if i > 0 {
                    times.push(start.elapsed().as_secs_f64());
                }
            }
            median(times)
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    println!(
        "{{\"framework\":\"scarseg-flex\",\"mode\":\"{}\",\"batch\":{},\"size\":{},\"seconds_per_batch\":{seconds},\"peak_kib\":{}}}",
        args.mode,
        args.batch,
        args.size,
        peak_kib()
    );
    Ok(())
}
