//! ScarNet's Monte Carlo robustness protocol (seed 001; MODEL.md): additive Gaussian noise whose
//! SD is a fraction `sigma` of the image's intensity range (max - min of its finite pixels),
//! drawn from a seeded generator so a run can be repeated. `scarseg eval --noise` and the page's
//! noise panel both use it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One standard normal draw (Box-Muller).
pub(crate) fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Intensity range (max - min) of the finite values; 0 for none.
pub fn intensity_range(pixels: &[f32]) -> f64 {
    let (lo, hi) = pixels
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v as f64), hi.max(v as f64))
        });
    if hi >= lo { hi - lo } else { 0.0 }
}

/// `pixels` plus Gaussian noise of SD `sigma * intensity_range(pixels)`. Iteration `iteration`
/// of a run seeded by `seed` always gets the same noise.
pub fn add_noise(pixels: &[f32], sigma: f64, seed: u64, iteration: u64) -> Vec<f32> {
    let sd = sigma * intensity_range(pixels);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(iteration);
    pixels
        .iter()
        .map(|&v| (v as f64 + sd * gaussian(&mut rng)) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ignores_non_finite_values() {
        assert_eq!(
            intensity_range(&[2.0, f32::NAN, -1.0, f32::INFINITY, 5.0]),
            6.0
        );
        assert_eq!(intensity_range(&[]), 0.0);
    }

    #[test]
    fn noise_has_the_requested_sd_and_repeats_per_seed_and_iteration() {
        // Range 100 (0..=100), sigma 0.05: SD 5.
        let pixels: Vec<f32> = (0..40_000).map(|i| (i % 101) as f32).collect();
        let a = add_noise(&pixels, 0.05, 7, 0);
        let residual: Vec<f64> = a.iter().zip(&pixels).map(|(n, p)| (n - p) as f64).collect();
        let mean = residual.iter().sum::<f64>() / residual.len() as f64;
        let sd = (residual.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / residual.len() as f64)
            .sqrt();
        // SD of the sample SD over 40,000 draws is about 5 / sqrt(80,000) = 0.018.
        assert!((sd - 5.0).abs() < 0.1, "sd {sd}");
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert_eq!(a, add_noise(&pixels, 0.05, 7, 0));
        assert_ne!(a, add_noise(&pixels, 0.05, 7, 1));
        assert_ne!(a, add_noise(&pixels, 0.05, 8, 0));
        assert_eq!(add_noise(&pixels, 0.0, 7, 0), pixels);
    }
}
