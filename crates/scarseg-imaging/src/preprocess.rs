//! The model's input, and the exact way back: aspect-preserving resampling to the model size with
//! padding (never stretching), per-image z-score normalisation, and the inverse that maps
//! model-size masks and probabilities onto the original pixel grid.
//!
//! Geometry: the image is scaled by `scale = size / max(rows, cols)` and centred; model pixel
//! centre `(r + 0.5)` corresponds to source coordinate `(r + 0.5 - pad_top) / scale` (in pixel
//! edges), the same half-pixel convention as the network's bilinear upsampling.
//!
//! **\[decided\]** The z-score's mean and population SD are taken over the image content only, and
//! the padding gets the normalised minimum of the content, so a small image in a large canvas is
//! normalised as the image itself would be.

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;

/// The z-score floor on the SD (MODEL.md: `max(std, 1e-6)`).
pub const ZSCORE_MIN_STD: f64 = 1e-6;

/// How a source image sits in the square model input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Source rows.
    pub src_rows: usize,
    /// Source columns.
    pub src_cols: usize,
    /// Model input side in pixels.
    pub size: usize,
    /// Model pixels per source pixel.
    pub scale: f64,
    /// Model rows above the content.
    pub pad_top: f64,
    /// Model columns left of the content.
    pub pad_left: f64,
}

impl Geometry {
    /// Fits a `rows` x `cols` image into a `size` x `size` input.
    pub fn fit(rows: usize, cols: usize, size: usize) -> Self {
        let scale = size as f64 / rows.max(cols).max(1) as f64;
        let content_rows = rows as f64 * scale;
        let content_cols = cols as f64 * scale;
        Self {
            src_rows: rows,
            src_cols: cols,
            size,
            scale,
            pad_top: ((size as f64 - content_rows) / 2.0).floor().max(0.0),
            pad_left: ((size as f64 - content_cols) / 2.0).floor().max(0.0),
        }
    }

    /// Source coordinate (pixel-centre units, may be fractional) of model pixel `(r, c)`.
    pub fn model_to_source(&self, r: usize, c: usize) -> (f64, f64) {
        (
            (r as f64 + 0.5 - self.pad_top) / self.scale - 0.5,
            (c as f64 + 0.5 - self.pad_left) / self.scale - 0.5,
        )
    }

    /// Model coordinate (pixel-centre units) of source pixel `(i, j)`.
    pub fn source_to_model(&self, i: usize, j: usize) -> (f64, f64) {
        (
            (i as f64 + 0.5) * self.scale + self.pad_top - 0.5,
            (j as f64 + 0.5) * self.scale + self.pad_left - 0.5,
        )
    }

    /// Whether model pixel `(r, c)` shows image content rather than padding.
    pub fn is_content(&self, r: usize, c: usize) -> bool {
        let (y, x) = self.model_to_source(r, c);
        y > -0.5 - 1e-9
            && x > -0.5 - 1e-9
            && y < self.src_rows as f64 - 0.5 + 1e-9
            && x < self.src_cols as f64 - 0.5 + 1e-9
    }
}

/// Bilinear sample of a row-major grid at fractional pixel-centre coordinates, edges clamped.
pub fn bilinear(values: &[f32], rows: usize, cols: usize, y: f64, x: f64) -> f32 {
    let y = y.clamp(0.0, (rows - 1) as f64);
    let x = x.clamp(0.0, (cols - 1) as f64);
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(rows - 1), (x0 + 1).min(cols - 1));
    let (fy, fx) = ((y - y0 as f64) as f32, (x - x0 as f64) as f32);
    let at = |r: usize, c: usize| values[r * cols + c];
    let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
    let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// A slice ready for the network: `size * size` z-scored values and how to map back.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// Row-major `size * size` values.
    pub values: Vec<f32>,
    /// The geometry, for the inverse.
    pub geometry: Geometry,
}

/// Resamples `pixels` (`rows` x `cols`) into a `size` x `size` input and z-scores it.
pub fn preprocess(pixels: &[f32], rows: usize, cols: usize, size: usize) -> ModelInput {
    let geometry = Geometry::fit(rows, cols, size);
    let mut values = vec![0f32; size * size];
    let mut content = vec![false; size * size];
    for r in 0..size {
        for c in 0..size {
            if geometry.is_content(r, c) {
                let (y, x) = geometry.model_to_source(r, c);
                values[r * size + c] = bilinear(pixels, rows, cols, y, x);
                content[r * size + c] = true;
            }
        }
    }
    let inside: Vec<f64> = values
        .iter()
        .zip(&content)
        .filter(|(_, inside)| **inside)
        .map(|(v, _)| *v as f64)
        .collect();
    let (mean, std) = population_mean_std(&inside);
    let std = std.max(ZSCORE_MIN_STD);
    let floor = inside.iter().copied().fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { mean };
    for (v, inside) in values.iter_mut().zip(&content) {
        let raw = if *inside { *v as f64 } else { floor };
        *v = ((raw - mean) / std) as f32;
    }
    ModelInput { values, geometry }
}

/// Mean and population SD (divide by N).
pub fn population_mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Brings per-pixel label values (0/1 or soft) onto the model grid by bilinear sampling, padding
/// 0: how training makes its targets.
pub fn labels_to_model(values: &[f32], geometry: &Geometry) -> Vec<f32> {
    let n = geometry.size;
    let mut out = vec![0f32; n * n];
    for r in 0..n {
        for c in 0..n {
            if geometry.is_content(r, c) {
                let (y, x) = geometry.model_to_source(r, c);
                out[r * n + c] = bilinear(values, geometry.src_rows, geometry.src_cols, y, x);
            }
        }
    }
    out
}

/// Maps model-size probabilities back onto the source grid by bilinear sampling.
pub fn probabilities_to_source(probabilities: &[f32], geometry: &Geometry) -> Vec<f32> {
    let n = geometry.size;
    let mut out = Vec::with_capacity(geometry.src_rows * geometry.src_cols);
    for i in 0..geometry.src_rows {
        for j in 0..geometry.src_cols {
            let (y, x) = geometry.source_to_model(i, j);
            out.push(bilinear(probabilities, n, n, y, x));
        }
    }
    out
}

/// Maps a model-size mask back onto the source grid (nearest model pixel).
pub fn mask_to_source(mask: &Mask, geometry: &Geometry) -> Mask {
    let n = geometry.size;
    Mask::from_fn(geometry.src_rows, geometry.src_cols, |i, j| {
        let (y, x) = geometry.source_to_model(i, j);
        let r = (y.round().max(0.0) as usize).min(n - 1);
        let c = (x.round().max(0.0) as usize).min(n - 1);
        mask.get(r, c)
    })
}

/// Maps a source mask into the model grid (nearest source pixel; padding is outside).
pub fn mask_to_model(mask: &Mask, geometry: &Geometry) -> Mask {
    Mask::from_fn(geometry.size, geometry.size, |r, c| {
        if !geometry.is_content(r, c) {
            return false;
        }
        let (y, x) = geometry.model_to_source(r, c);
        let i = (y.round().max(0.0) as usize).min(geometry.src_rows - 1);
        let j = (x.round().max(0.0) as usize).min(geometry.src_cols - 1);
        mask.get(i, j)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wide_image_is_centred_with_padding_not_stretched() {
        // 100 x 200 into 256: scale 1.28, content 128 x 256, 64 rows of padding above.
        let g = Geometry::fit(100, 200, 256);
        assert_eq!(g.scale, 1.28);
        assert_eq!(g.pad_top, 64.0);
        assert_eq!(g.pad_left, 0.0);
        assert!(!g.is_content(63, 10));
        assert!(g.is_content(64, 10));
        assert!(g.is_content(191, 10));
        assert!(!g.is_content(192, 10));
    }

    #[test]
    fn zscore_of_the_content_by_hand() {
        // A 2 x 2 image [0, 2, 4, 6] at model size 2 (scale 1): mean 3, population SD sqrt(5).
        let input = preprocess(&[0.0, 2.0, 4.0, 6.0], 2, 2, 2);
        let s = 5f32.sqrt();
        let want = [-3.0 / s, -1.0 / s, 1.0 / s, 3.0 / s];
        for (got, want) in input.values.iter().zip(want) {
            assert!((got - want).abs() < 1e-6);
        }
    }

    #[test]
    fn constant_image_stays_finite() {
        let input = preprocess(&[5.0; 16], 4, 4, 8);
        assert!(input.values.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn padding_gets_the_normalised_minimum() {
        // 1 x 2 image [1, 3] into 2 x 2: scale 1, one content row, pad_top = floor(0.5) = 0, so
        // row 1 is padding. Mean 2, SD 1: content [-1, 1], padding the minimum, -1.
        let input = preprocess(&[1.0, 3.0], 1, 2, 2);
        assert_eq!(input.values, vec![-1.0, 1.0, -1.0, -1.0]);
    }

    proptest! {
        #[test]
        fn mask_round_trip_is_exact_when_upsampling(
            rows in 1usize..40, cols in 1usize..40, seed in any::<u64>()
        ) {
            let mask = Mask::from_fn(rows, cols, |i, j| {
                (seed.rotate_left(((i * 7 + j * 13) % 64) as u32) & 1) == 1
            });
            let g = Geometry::fit(rows, cols, 64);
            let back = mask_to_source(&mask_to_model(&mask, &g), &g);
            prop_assert_eq!(back, mask);
        }

        #[test]
        fn block_masks_round_trip_when_downsampling(half_cols in 1usize..64, seed in any::<u64>()) {
            // 128 rows into 64: scale 0.5. A mask constant on 2x2 blocks survives the halving.
            let (rows, cols) = (128, 2 * half_cols);
            let mask = Mask::from_fn(rows, cols, |i, j| {
                (seed.rotate_left((((i / 2) * 7 + (j / 2) * 13) % 64) as u32) & 1) == 1
            });
            let g = Geometry::fit(rows, cols, 64);
            let back = mask_to_source(&mask_to_model(&mask, &g), &g);
            prop_assert_eq!(back, mask);
        }
    }
}
