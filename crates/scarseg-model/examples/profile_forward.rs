//! Where ScarSegNet's forward spends its time on a device: each part of the network timed on
//! its own (inputs made beforehand, outputs read back so lazy backends finish), and, inside the
//! encoder, its three kinds of layer: the depthwise 7x7 convolutions, the pointwise MLPs and the
//! LayerNorms; then burn's 3x3 convolution against its matrix product alone. Written for issue
//! 9's profile of the CPU gap to PyTorch.
//!
//! `cargo run --profile bench-dev -p scarseg-model --features flex --example profile_forward -- WEIGHTS [SIZE] [RUNS]`

use std::time::Instant;

use burn::tensor::activation::gelu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use scarseg_model::convnext::{channel_norm, pointwise};
use scarseg_model::decoder::upsample2x;
use scarseg_model::weights::from_safetensors;

fn time<const D: usize>(runs: usize, mut f: impl FnMut() -> Tensor<D>) -> f64 {
    let _ = f().into_data(); // warm-up
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let _ = f().into_data();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[runs / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let weights = args.next().expect("WEIGHTS");
    let size: usize = args.next().map_or(256, |s| s.parse().expect("SIZE"));
    let runs: usize = args.next().map_or(5, |s| s.parse().expect("RUNS"));
    let device = Device::flex();
    let bytes = std::fs::read(&weights).expect("weights");
    let (model, _) = from_safetensors(&bytes, &device).expect("ScarSegNet weights");
    let x = Tensor::<4>::random([1, 1, size, size], Distribution::Normal(0.0, 1.0), &device);

    let mut rows: Vec<(String, f64)> = Vec::new();
    rows.push((
        "whole forward".into(),
        time(runs, || {
            model.forward(x.clone()).expect("a valid input").scar
        }),
    ));
    rows.push((
        "high-resolution stem".into(),
        time(runs, || model.hr_stem.forward(x.clone()).0),
    ));
    rows.push((
        "ConvNeXt stem".into(),
        time(runs, || model.encoder.stem(x.clone())),
    ));

    // Stage inputs, then each stage and, per stage, the kinds of layer in its blocks.
    let mut features = model.encoder.stem(x.clone());
    let mut stage_outputs = Vec::new();
    for (i, (stage, ase)) in model.encoder.stages.iter().zip(&model.ase).enumerate() {
        let input = features.clone();
        rows.push((
            format!("stage {i}"),
            time(runs, || stage.forward(input.clone())),
        ));
        let inner = match &stage.downsample {
            Some(down) => down.conv.forward(channel_norm(&down.norm, input.clone())),
            None => input.clone(),
        };
        let block = &stage.blocks[0];
        let n = stage.blocks.len() as f64;
        let dw = time(runs, || block.conv_dw.forward(inner.clone()));
        let norm = time(runs, || channel_norm(&block.norm, inner.clone()));
        let dims = inner.dims();
        let mlp = time(runs, || {
            pointwise(
                &block.mlp.fc2,
                gelu(pointwise(&block.mlp.fc1, inner.clone())),
            )
        });
        rows.push((format!("  {n} x depthwise 7x7 on {dims:?}"), dw * n));
        rows.push((format!("  {n} x LayerNorm"), norm * n));
        rows.push((format!("  {n} x MLP C->4C->C"), mlp * n));
        let stage_out = stage.forward(input);
        rows.push((
            format!("ASE {i}"),
            time(runs, || ase.forward(stage_out.clone()).0),
        ));
        let out = ase.forward(stage_out).0;
        stage_outputs.push(out.clone());
        features = out;
    }
    let (skip1, skip2) = model.hr_stem.forward(x.clone());
    let skips = [
        stage_outputs[2].clone(),
        stage_outputs[1].clone(),
        stage_outputs[0].clone(),
        skip2,
        skip1,
    ];
    let mut d = features;
    for (i, (level, skip)) in model.decoder.iter().zip(skips).enumerate() {
        let below = d.clone();
        rows.push((
            format!("decoder level {i} (to {:?})", skip.dims()),
            time(runs, || level.forward(below.clone(), skip.clone()).0),
        ));
        // Inside the level: upsampling, the attention gate, the two conv-BN-ReLUs.
        let up = upsample2x(below.clone());
        let gated = level.cag.forward(up.clone(), skip.clone()).0;
        let joined = Tensor::cat(vec![up.clone(), gated], 1);
        let after1 = level.conv1.forward(joined.clone());
        rows.push((
            "  upsample x2".into(),
            time(runs, || upsample2x(below.clone())),
        ));
        rows.push((
            "  CAG".into(),
            time(runs, || level.cag.forward(up.clone(), skip.clone()).0),
        ));
        rows.push((
            format!(
                "  conv-BN-ReLU {:?} -> {:?}",
                joined.dims()[1],
                after1.dims()[1]
            ),
            time(runs, || level.conv1.forward(joined.clone())),
        ));
        rows.push((
            format!(
                "  conv-BN-ReLU {:?} -> {:?}",
                after1.dims()[1],
                after1.dims()[1]
            ),
            time(runs, || level.conv2.forward(after1.clone())),
        ));
        d = level.forward(d, skip).0;
    }
    rows.push((
        "heads".into(),
        time(runs, || model.scar_head.forward(d.clone())),
    ));

    println!("| part ({size} x {size}, batch 1, flex) | median ms |");
    println!("|---|---|");
    for (name, ms) in rows {
        println!("| {name} | {ms:.1} |");
    }
    println!();
    conv_against_matmul(&device, runs);
}

/// Is a 3x3 convolution slow because of its im2col or because of its matrix product? For the
/// convolutions that dominate the forward, burn's `conv2d` against the matrix product of the same
/// shape alone (`[C_out, 9 C_in]` times `[9 C_in, H W]`), and the convolution's GFLOP/s.
fn conv_against_matmul(device: &Device, runs: usize) {
    println!("| conv 3x3 (batch 1) | conv2d ms | GFLOP/s | matrix product alone ms |");
    println!("|---|---|---|---|");
    // The decoder's last two levels and the high-resolution stem at a 256 x 256 input.
    for (c_in, c_out, side) in [(60, 20, 256), (20, 20, 256), (80, 40, 128), (40, 40, 128)] {
        let x = Tensor::<4>::random(
            [1, c_in, side, side],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let w = Tensor::<4>::random([c_out, c_in, 3, 3], Distribution::Normal(0.0, 0.1), device);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let conv = time(runs, || conv2d(x.clone(), w.clone(), None, options.clone()));
        let cols = Tensor::<3>::random([1, 9 * c_in, side * side], Distribution::Default, device);
        let weights = Tensor::<3>::random([1, c_out, 9 * c_in], Distribution::Default, device);
        let product = time(runs, || weights.clone().matmul(cols.clone()));
        let gflop = 2.0 * (9 * c_in * c_out * side * side) as f64 / 1e9;
        println!(
            "| {c_in} -> {c_out} at {side} x {side} | {conv:.1} | {:.1} | {product:.1} |",
            gflop / (conv / 1e3)
        );
    }
}
