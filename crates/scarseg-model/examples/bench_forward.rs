//! Forward time per slice at 256x256 for atto, femto, pico and nano on `flex` (batch 1 and 8)
//! and on `wgpu` (natively Vulkan; lavapipe where there is no GPU), plus parameters and FLOPs.
//! Prints a Markdown table and writes it to `benchmarks/model.md`.
//!
//! `cargo run --profile bench-dev -p scarseg-model --features train --example bench_forward [--quick]`
//! (bench-dev builds every dependency at opt-level 3; `--quick` runs atto only.)

use std::time::Instant;

use burn::tensor::{Device, DeviceKind, Distribution, Tensor};
use scarseg_model::cost::{forward_flops, parameter_count};
use scarseg_model::weights::{Precision, from_safetensors, to_safetensors};
use scarseg_model::{ScarSegNet, ScarSegNetConfig, Variant};

const SIZE: usize = 256;

/// Median seconds per slice over `runs` timed forwards (after one warm-up).
fn time_forward(model: &ScarSegNet, device: &Device, batch: usize, runs: usize) -> f64 {
    let x = Tensor::<4>::random(
        [batch, 1, SIZE, SIZE],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let run = || {
        let out = model.forward(x.clone()).expect("valid input");
        // Reading the result back forces the work to finish on asynchronous backends.
        let _ = out.scar.into_data();
    };
    run();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() / batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let variants: &[Variant] = if quick {
        &[Variant::Atto]
    } else {
        &[Variant::Atto, Variant::Femto, Variant::Pico, Variant::Nano]
    };
    let cpu = Device::flex();
    let gpu = Device::wgpu(DeviceKind::DefaultDevice);
    let mut rows = Vec::new();
    for &variant in variants {
        let config = ScarSegNetConfig::variant(variant);
        let model = config.init(&cpu);
        let flex1 = time_forward(&model, &cpu, 1, 5);
        let flex8 = time_forward(&model, &cpu, 8, 3);
        let bytes = to_safetensors(&model, &config, Precision::F32)?;
        let (gpu_model, _) = from_safetensors(&bytes, &gpu)?;
        let wgpu1 = time_forward(&gpu_model, &gpu, 1, 3);
        let row = format!(
            "| {} | {:.2} M | {:.2} | {:.0} | {:.0} | {:.0} |",
            variant.name(),
            parameter_count(&config) as f64 / 1e6,
            forward_flops(&config, SIZE, SIZE) as f64 / 1e9,
            flex1 * 1e3,
            flex8 * 1e3,
            wgpu1 * 1e3,
        );
        println!("{row}");
        rows.push(row);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let table = format!(
        "# ScarSegNet forward time per slice at {SIZE}x{SIZE}\n\n\
         Machine: {threads} CPU threads, no GPU (`wgpu` runs on Mesa's lavapipe software Vulkan \
         driver, so its column says nothing about a real GPU).\n\
         Command: `cargo run --profile bench-dev -p scarseg-model --features train --example \
         bench_forward` (dependencies at opt-level 3; burn 0.22.1 `flex` with `rayon` + `simd`).\n\
         Median of 5 (flex batch 1) or 3 runs after a warm-up; ms per slice.\n\n\
         | variant | parameters | GFLOPs | flex batch 1 (ms) | flex batch 8 (ms/slice) | wgpu/lavapipe batch 1 (ms) |\n\
         |---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benchmarks/model.md");
    std::fs::write(&out, table)?;
    println!("wrote {}", out.display());
    Ok(())
}
