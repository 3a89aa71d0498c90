//! Is a 3x3 convolution on `flex` slow because of its im2col or because of its matrix product?
//! For the convolutions that dominate ScarSegNet's forward (`profile_forward`), this times
//! burn's `conv2d` against the matrix product of the same shape alone (`[C_out, 9 C_in]` times
//! `[9 C_in, H W]`), and reports the convolution's GFLOP/s.
//!
//! `cargo run -p scarseg-model --features flex --example gemm_probe -- [RUNS]`

use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

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
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("RUNS"));
    let device = Device::flex();
    println!("| conv 3x3 (batch 1) | conv2d ms | GFLOP/s | matrix product alone ms |");
    println!("|---|---|---|---|");
    // The decoder's last two levels and the high-resolution stem at a 256 x 256 input.
    for (c_in, c_out, side) in [(60, 20, 256), (20, 20, 256), (80, 40, 128), (40, 40, 128)] {
        let x = Tensor::<4>::random(
            [1, c_in, side, side],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let w = Tensor::<4>::random([c_out, c_in, 3, 3], Distribution::Normal(0.0, 0.1), &device);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let conv = time(runs, || conv2d(x.clone(), w.clone(), None, options.clone()));
        let cols = Tensor::<3>::random([1, 9 * c_in, side * side], Distribution::Default, &device);
        let weights = Tensor::<3>::random([1, c_out, 9 * c_in], Distribution::Default, &device);
        let product = time(runs, || weights.clone().matmul(cols.clone()));
        let gflop = 2.0 * (9 * c_in * c_out * side * side) as f64 / 1e9;
        println!(
            "| {c_in} -> {c_out} at {side} x {side} | {conv:.1} | {:.1} | {product:.1} |",
            gflop / (conv / 1e3)
        );
    }
}
