//! The two classic scar quantification methods clinicians know, given a myocardium mask:
//!
//! - **n-SD**: scar = myocardium brighter than mean + n SD of remote (healthy) myocardium, with n
//!   in {2, 3, 5, 6}; the remote region is chosen automatically as the darkest of six 60-degree
//!   sectors around the myocardium's centroid.
//! - **FWHM** (full width at half maximum): scar = myocardium at or above half the maximum signal
//!   of the hyperenhanced region, which is found automatically as the brightest 8-connected region
//!   of myocardium above remote mean + 2 SD. With no such region there is no scar.
//! - **Gray zone** (peri-infarct zone): myocardium above remote mean + 2 SD but below the FWHM
//!   threshold, the heterogeneous border of a scar.

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;
use crate::postprocess::components;
use crate::preprocess::population_mean_std;

/// Sectors the myocardium is divided into to find remote myocardium.
pub const REMOTE_SECTORS: usize = 6;

/// The n of the n-SD method that clinical papers use.
pub const NSD_CHOICES: [u32; 4] = [2, 3, 5, 6];

/// A classic method's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicScar {
    /// Scar pixels (always within the myocardium).
    pub scar: Mask,
    /// The intensity threshold used, if any region qualified.
    pub threshold: Option<f32>,
    /// The remote myocardium used as the healthy reference.
    pub remote: Mask,
}

/// The darkest of [`REMOTE_SECTORS`] angular sectors of the myocardium (by mean intensity),
/// among sectors holding at least 5% of the myocardium. Empty when the myocardium is.
pub fn remote_sector(pixels: &[f32], myocardium: &Mask) -> Mask {
    let cols = myocardium.cols;
    let inside: Vec<usize> = (0..myocardium.data.len())
        .filter(|i| myocardium.data[*i])
        .collect();
    if inside.is_empty() {
        return Mask::empty(myocardium.rows, cols);
    }
    let n = inside.len() as f64;
    let cy = inside.iter().map(|i| (i / cols) as f64).sum::<f64>() / n;
    let cx = inside.iter().map(|i| (i % cols) as f64).sum::<f64>() / n;
    let sector_of = |i: usize| {
        let angle = ((i / cols) as f64 - cy).atan2((i % cols) as f64 - cx);
        let turn = (angle + std::f64::consts::PI) / (2.0 * std::f64::consts::PI);
        ((turn * REMOTE_SECTORS as f64) as usize).min(REMOTE_SECTORS - 1)
    };
    let mut sums = [0f64; REMOTE_SECTORS];
    let mut counts = [0usize; REMOTE_SECTORS];
    for &i in &inside {
        let s = sector_of(i);
        sums[s] += pixels[i] as f64;
        counts[s] += 1;
    }
    let min_count = (inside.len() / 20).max(1);
    let darkest = (0..REMOTE_SECTORS)
        .filter(|s| counts[*s] >= min_count)
        .min_by(|a, b| (sums[*a] / counts[*a] as f64).total_cmp(&(sums[*b] / counts[*b] as f64)))
        .unwrap_or(0);
    let mut remote = Mask::empty(myocardium.rows, cols);
    for &i in &inside {
        remote.data[i] = sector_of(i) == darkest;
    }
    remote
}

fn region_stats(pixels: &[f32], mask: &Mask) -> (f64, f64) {
    let values: Vec<f64> = mask
        .data
        .iter()
        .zip(pixels)
        .filter(|(m, _)| **m)
        .map(|(_, v)| *v as f64)
        .collect();
    population_mean_std(&values)
}

fn above(pixels: &[f32], myocardium: &Mask, threshold: f32, inclusive: bool) -> Mask {
    Mask {
        rows: myocardium.rows,
        cols: myocardium.cols,
        data: myocardium
            .data
            .iter()
            .zip(pixels)
            .map(|(m, v)| {
                *m && if inclusive {
                    *v >= threshold
                } else {
                    *v > threshold
                }
            })
            .collect(),
    }
}

/// n-SD: myocardium brighter than remote mean + n SD.
pub fn n_sd(pixels: &[f32], myocardium: &Mask, n: f64) -> ClassicScar {
    let remote = remote_sector(pixels, myocardium);
    if remote.area_px() == 0 {
        return ClassicScar {
            scar: Mask::empty(myocardium.rows, myocardium.cols),
            threshold: None,
            remote,
        };
    }
    let (mean, sd) = region_stats(pixels, &remote);
    let threshold = (mean + n * sd) as f32;
    ClassicScar {
        scar: above(pixels, myocardium, threshold, false),
        threshold: Some(threshold),
        remote,
    }
}

/// FWHM: myocardium at or above half the maximum of the brightest hyperenhanced region.
pub fn fwhm(pixels: &[f32], myocardium: &Mask) -> ClassicScar {
    let candidates = n_sd(pixels, myocardium, 2.0);
    let remote = candidates.remote.clone();
    let (labels, sizes) = components(&candidates.scar);
    let mut best: Option<(f64, f32)> = None; // (mean, max) of the brightest region
    for label in 1..sizes.len() {
        let values: Vec<f32> = labels
            .iter()
            .zip(pixels)
            .filter(|(l, _)| **l as usize == label)
            .map(|(_, v)| *v)
            .collect();
        let mean = values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64;
        let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if best.is_none_or(|(m, _)| mean > m) {
            best = Some((mean, max));
        }
    }
    match best {
        Some((_, max)) => {
            let threshold = max / 2.0;
            ClassicScar {
                scar: above(pixels, myocardium, threshold, true),
                threshold: Some(threshold),
                remote,
            }
        }
        None => ClassicScar {
            scar: Mask::empty(myocardium.rows, myocardium.cols),
            threshold: None,
            remote,
        },
    }
}

/// The peri-infarct gray zone (Yan et al., Circulation 2006; Schmidt et al., Circulation 2007):
/// myocardium brighter than remote mean + 2 SD but below half the maximum of the brightest
/// hyperenhanced region, that is the 2-SD scar less the FWHM core. Its extent, a mix of scar and
/// viable myocardium at the scar's border, has been linked to ventricular arrhythmia and
/// mortality beyond the scar's size. Empty where FWHM finds no hyperenhanced region. Takes the
/// two masks (`n_sd(.., 2.0).scar`, `fwhm(..).scar`) rather than the pixels, because the reports
/// compute both for their own columns already.
pub fn gray_zone(two_sd: &Mask, fwhm_core: &Mask) -> Mask {
    Mask {
        rows: two_sd.rows,
        cols: two_sd.cols,
        data: two_sd
            .data
            .iter()
            .zip(&fwhm_core.data)
            .map(|(b, c)| *b && !*c)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of radius 6..10 around (15.5, 15.5) on 32x32, value 10 except a bright patch of 100
    /// (rows < 12, cols > 16) and one remote sector at 5 (rows > 20, cols < 12).
    fn ring() -> (Vec<f32>, Mask) {
        let myo = Mask::from_fn(32, 32, |r, c| {
            let d = ((r as f64 - 15.5).powi(2) + (c as f64 - 15.5).powi(2)).sqrt();
            (6.0..10.0).contains(&d)
        });
        let pixels = (0..32 * 32)
            .map(|i| {
                let (r, c) = (i / 32, i % 32);
                if !myo.data[i] {
                    0.0
                } else if r < 12 && c > 16 {
                    100.0
                } else if r > 20 && c < 12 {
                    5.0
                } else {
                    10.0
                }
            })
            .collect();
        (pixels, myo)
    }

    #[test]
    fn remote_is_the_darkest_sector() {
        let (pixels, myo) = ring();
        let remote = remote_sector(&pixels, &myo);
        // Every remote pixel is in the ring, and its mean is the lowest sector mean: the
        // sector holding the 5-valued patch (lower left) must be chosen.
        let (mean, _) = region_stats(&pixels, &remote);
        assert!(mean < 10.0, "remote mean {mean}");
        assert!(remote.data.iter().zip(&myo.data).all(|(r, m)| !r || *m));
    }

    #[test]
    fn fwhm_takes_half_the_brightest_region() {
        let (pixels, myo) = ring();
        let result = fwhm(&pixels, &myo);
        assert_eq!(result.threshold, Some(50.0));
        let expected = Mask::from_fn(32, 32, |r, c| myo.get(r, c) && r < 12 && c > 16);
        assert_eq!(result.scar, expected);
    }

    #[test]
    fn nsd_threshold_is_remote_mean_plus_n_sd() {
        let (pixels, myo) = ring();
        let remote = remote_sector(&pixels, &myo);
        let (mean, sd) = region_stats(&pixels, &remote);
        for n in NSD_CHOICES {
            let result = n_sd(&pixels, &myo, n as f64);
            assert_eq!(result.threshold, Some((mean + n as f64 * sd) as f32));
            // The 100-valued patch is above any of these thresholds (all below 100 here).
            assert!(result.scar.area_px() > 0);
        }
    }

    #[test]
    fn gray_zone_lies_between_two_sd_and_half_the_maximum() {
        // A ring of healthy myocardium at 10 (so remote mean 10, SD 0: the 2-SD threshold is
        // 10, exclusive), a core of 100 at the upper right (FWHM threshold 50) and a border of
        // 30 at the lower left: above 2 SD, below half the maximum, so the gray zone is exactly
        // the border.
        let myo = Mask::from_fn(32, 32, |r, c| {
            let d = ((r as f64 - 15.5).powi(2) + (c as f64 - 15.5).powi(2)).sqrt();
            (6.0..10.0).contains(&d)
        });
        let core = |r: usize, c: usize| r < 12 && c > 16;
        let border = |r: usize, c: usize| r > 20 && c < 12;
        let pixels: Vec<f32> = (0..32 * 32)
            .map(|i| {
                let (r, c) = (i / 32, i % 32);
                match (myo.data[i], core(r, c), border(r, c)) {
                    (false, _, _) => 0.0,
                    (true, true, _) => 100.0,
                    (true, _, true) => 30.0,
                    _ => 10.0,
                }
            })
            .collect();
        let gray_of = |p: &[f32]| gray_zone(&n_sd(p, &myo, 2.0).scar, &fwhm(p, &myo).scar);
        let gray = gray_of(&pixels);
        let want = Mask::from_fn(32, 32, |r, c| myo.get(r, c) && border(r, c));
        assert!(want.area_px() > 0);
        assert_eq!(gray, want);
        // A uniform wall has no hyperenhancement, hence no gray zone.
        let flat: Vec<f32> = myo
            .data
            .iter()
            .map(|m| if *m { 10.0 } else { 0.0 })
            .collect();
        assert_eq!(gray_of(&flat).area_px(), 0);
    }

    #[test]
    fn no_hyperenhancement_means_no_fwhm_scar() {
        let myo = Mask::from_fn(16, 16, |r, c| (4..12).contains(&r) && (4..12).contains(&c));
        let pixels = vec![10.0; 256];
        let result = fwhm(&pixels, &myo);
        assert_eq!(result.scar.area_px(), 0);
        assert_eq!(result.threshold, None);
    }
}
