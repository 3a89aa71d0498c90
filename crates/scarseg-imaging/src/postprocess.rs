//! From probabilities to masks: threshold (adjustable), scar restricted to the myocardium
//! (option), and removal of connected components below a size (option).

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;

/// Postprocessing options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PostprocessOptions {
    /// A pixel is positive when its probability is strictly above this (0.5 = logit > 0).
    pub threshold: f32,
    /// Keep only scar pixels that are also myocardium.
    pub scar_within_myocardium: bool,
    /// Remove 8-connected components smaller than this many pixels (0 keeps all).
    pub min_component_px: usize,
}

impl Default for PostprocessOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            scar_within_myocardium: true,
            min_component_px: 0,
        }
    }
}

/// What a threshold must be, for messages: a pixel is kept when its probability is strictly
/// above it, so 1 (or more) would keep nothing whatever the network says.
pub const THRESHOLD_RULE: &str = "must be from 0 up to (not including) 1";

/// Whether `t` is a usable threshold (see [`THRESHOLD_RULE`]); NaN is not.
pub fn is_threshold(t: f32) -> bool {
    (0.0..1.0).contains(&t)
}

/// Pixels whose probability is strictly above `threshold`.
pub fn threshold(probabilities: &[f32], rows: usize, cols: usize, threshold: f32) -> Mask {
    Mask {
        rows,
        cols,
        data: probabilities.iter().map(|p| *p > threshold).collect(),
    }
}

/// `a` and `b`.
pub fn intersect(a: &Mask, b: &Mask) -> Mask {
    Mask {
        rows: a.rows,
        cols: a.cols,
        data: a.data.iter().zip(&b.data).map(|(x, y)| *x && *y).collect(),
    }
}

/// 8-connected component labels (0 = outside, 1.. = component) and each component's size.
pub fn components(mask: &Mask) -> (Vec<u32>, Vec<usize>) {
    let (rows, cols) = (mask.rows, mask.cols);
    let mut labels = vec![0u32; rows * cols];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..rows * cols {
        if !mask.data[start] || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0;
        labels[start] = label;
        stack.push(start);
        while let Some(p) = stack.pop() {
            size += 1;
            let (r, c) = ((p / cols) as i64, (p % cols) as i64);
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (nr, nc) = (r + dr, c + dc);
                    if nr < 0 || nc < 0 || nr >= rows as i64 || nc >= cols as i64 {
                        continue;
                    }
                    let q = nr as usize * cols + nc as usize;
                    if mask.data[q] && labels[q] == 0 {
                        labels[q] = label;
                        stack.push(q);
                    }
                }
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// Drops 8-connected components with fewer than `min_px` pixels.
pub fn remove_small_components(mask: &Mask, min_px: usize) -> Mask {
    if min_px <= 1 {
        return mask.clone();
    }
    let (labels, sizes) = components(mask);
    keep_at_least(mask, &labels, &sizes, min_px)
}

/// Drops 8-connected components smaller than `fraction` of the largest one (0 keeps all).
pub fn remove_components_below_fraction(mask: &Mask, fraction: f64) -> Mask {
    if fraction <= 0.0 {
        return mask.clone();
    }
    let (labels, sizes) = components(mask);
    let largest = sizes.iter().skip(1).copied().max().unwrap_or(0);
    // A size n >= fraction * largest exactly when n >= its ceiling, n being whole.
    keep_at_least(
        mask,
        &labels,
        &sizes,
        (fraction * largest as f64).ceil() as usize,
    )
}

/// The components of `labels` with at least `min_px` pixels.
fn keep_at_least(mask: &Mask, labels: &[u32], sizes: &[usize], min_px: usize) -> Mask {
    Mask {
        rows: mask.rows,
        cols: mask.cols,
        data: labels
            .iter()
            .map(|l| *l != 0 && sizes[*l as usize] >= min_px)
            .collect(),
    }
}

/// Scar and myocardium masks from their probability maps.
pub fn postprocess(
    scar_probabilities: &[f32],
    myocardium_probabilities: &[f32],
    rows: usize,
    cols: usize,
    options: &PostprocessOptions,
) -> (Mask, Mask) {
    let mut myo = threshold(myocardium_probabilities, rows, cols, options.threshold);
    let mut scar = threshold(scar_probabilities, rows, cols, options.threshold);
    if options.min_component_px > 0 {
        myo = remove_small_components(&myo, options.min_component_px);
        scar = remove_small_components(&scar, options.min_component_px);
    }
    if options.scar_within_myocardium {
        scar = intersect(&scar, &myo);
    }
    (scar, myo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_from_0_up_to_but_not_1() {
        // Strictly-above keeping: 0 keeps any positive probability, 1 could keep nothing.
        for t in [0.0, 0.5, 0.999] {
            assert!(is_threshold(t), "{t}");
        }
        for t in [1.0, 1.5, -0.1, f32::NAN, f32::INFINITY] {
            assert!(!is_threshold(t), "{t}");
        }
        assert!(threshold(&[1.0], 1, 1, 1.0).data == [false]);
    }

    #[test]
    fn threshold_is_strict_and_adjustable() {
        let m = threshold(&[0.2, 0.5, 0.51, 0.9], 2, 2, 0.5);
        assert_eq!(m.data, vec![false, false, true, true]);
        let m = threshold(&[0.2, 0.5, 0.51, 0.9], 2, 2, 0.1);
        assert_eq!(m.data, vec![true, true, true, true]);
    }

    #[test]
    fn small_components_go_diagonals_connect() {
        // Row-major 4x4:
        // 1 1 0 0
        // 1 0 0 1
        // 0 0 0 0
        // 0 0 1 0   an L of 3 pixels, and single pixels at (1, 3) and (3, 2).
        let data = [1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
            .map(|v| v == 1)
            .to_vec();
        let m = Mask {
            rows: 4,
            cols: 4,
            data,
        };
        let (_, sizes) = components(&m);
        assert_eq!(sizes[1..], [3, 1, 1]);
        let kept = remove_small_components(&m, 2);
        assert_eq!(kept.area_px(), 3);
        // Relative to the largest (3 px): half of it is 1.5, so the two 1 px components go; at
        // 0 every component stays.
        assert_eq!(remove_components_below_fraction(&m, 0.5).area_px(), 3);
        assert_eq!(remove_components_below_fraction(&m, 0.0).area_px(), 5);
        // A diagonal step is one component under 8-connectivity.
        let diag = Mask::from_fn(3, 3, |r, c| r == c);
        assert_eq!(components(&diag).1[1..], [3]);
    }

    #[test]
    fn scar_outside_myocardium_is_dropped_when_asked() {
        let scar = [0.9, 0.9, 0.1, 0.1];
        let myo = [0.9, 0.1, 0.9, 0.1];
        let (s, _) = postprocess(&scar, &myo, 2, 2, &PostprocessOptions::default());
        assert_eq!(s.data, vec![true, false, false, false]);
        let options = PostprocessOptions {
            scar_within_myocardium: false,
            ..Default::default()
        };
        let (s, _) = postprocess(&scar, &myo, 2, 2, &options);
        assert_eq!(s.data, vec![true, true, false, false]);
    }
}
