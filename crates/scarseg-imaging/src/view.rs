//! What a slice looks like on screen, shared by the page's viewer and `scarseg predict
//! --overlays`: the window (level and width: the scanner's stored one, or the 1st to 99th
//! percentile) and the slice's RGBA image under the scar and myocardium overlays (fill or
//! outline) or the scar probability.

use crate::Slice;
use crate::metrics::{Mask, percentile};

/// Window centre and width, in the slice's own intensity units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Centre (level).
    pub centre: f64,
    /// Width (> 0).
    pub width: f64,
}

impl Window {
    /// The 1st to 99th percentile of the pixels: the usual automatic window for MR.
    pub fn auto(pixels: &[f32]) -> Self {
        let v: Vec<f64> = pixels.iter().map(|p| *p as f64).collect();
        let lo = percentile(&v, 1.0).unwrap_or(0.0);
        let hi = percentile(&v, 99.0).unwrap_or(1.0);
        Self::from_range(lo, hi)
    }

    /// The window spanning `lo..hi`.
    pub fn from_range(lo: f64, hi: f64) -> Self {
        Self {
            centre: (lo + hi) / 2.0,
            width: (hi - lo).max(1e-6),
        }
    }

    /// The window a slice came with (the scanner's, [`Slice::display_window`]), else the
    /// automatic one: what a case opens with.
    pub fn initial(slice: &Slice) -> Self {
        match slice.display_window {
            Some([centre, width]) => Self { centre, width },
            None => Self::auto(&slice.pixels),
        }
    }

    /// The step of the level and width fields: a power of ten about a hundredth of the width,
    /// so that the arrows move the window visibly on any scale (0-1 floats, 12-bit integers).
    pub fn field_step(&self) -> f64 {
        10f64.powf((self.width / 100.0).log10().floor())
    }

    /// `value` as the level and width fields show it: to `step`'s decimals.
    pub fn field_text(value: f64, step: f64) -> String {
        let decimals = (-step.log10()).round().clamp(0.0, 12.0) as usize;
        format!("{value:.decimals$}")
    }

    /// Grey value 0-255 of an intensity (linear, clamped).
    pub fn grey(&self, value: f32) -> u8 {
        let t = (value as f64 - (self.centre - self.width / 2.0)) / self.width;
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }

    /// Drag by (dx, dy) screen pixels: right widens, down raises the level (OHIF's convention),
    /// scaled to the current width.
    pub fn dragged(&self, dx: f64, dy: f64) -> Self {
        let k = self.width / 256.0;
        Self {
            centre: self.centre + dy * k,
            width: (self.width + dx * k).max(1e-6),
        }
    }
}

/// How overlays are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlay {
    /// Show the scar mask.
    pub scar: bool,
    /// Show the myocardium mask.
    pub myocardium: bool,
    /// Opacity 0-1 of filled overlays.
    pub opacity: f32,
    /// Outline instead of fill.
    pub outline: bool,
    /// Show the scar probability map instead of masks.
    pub probability: bool,
    /// Draw the wall sectors, marking those whose scar fills more than half their myocardium.
    pub sectors: bool,
    /// Draw the AHA segments, once the RV insertion is marked.
    pub aha: bool,
}

impl Default for Overlay {
    fn default() -> Self {
        Self {
            scar: true,
            myocardium: true,
            opacity: 0.45,
            outline: false,
            probability: false,
            sectors: false,
            aha: true,
        }
    }
}

/// Scar colour (yellow) and myocardium colour (cyan).
pub const SCAR_RGB: [u8; 3] = [255, 214, 0];
/// Myocardium overlay colour.
pub const MYO_RGB: [u8; 3] = [0, 200, 255];

fn on_edge(m: &Mask, r: usize, c: usize) -> bool {
    if !m.get(r, c) {
        return false;
    }
    r == 0
        || c == 0
        || r + 1 == m.rows
        || c + 1 == m.cols
        || !m.get(r - 1, c)
        || !m.get(r + 1, c)
        || !m.get(r, c - 1)
        || !m.get(r, c + 1)
}

fn blend(px: &mut [u8], rgb: [u8; 3], alpha: f32) {
    for k in 0..3 {
        px[k] = (px[k] as f32 * (1.0 - alpha) + rgb[k] as f32 * alpha).round() as u8;
    }
}

/// RGBA bytes (`rows * cols * 4`) of a slice under `window` with overlays; `scar_probability`
/// drives the probability view.
pub fn rgba(
    slice: &Slice,
    window: &Window,
    scar: &Mask,
    myocardium: &Mask,
    scar_probability: &[f32],
    overlay: &Overlay,
) -> Vec<u8> {
    let (pixels, rows, cols) = (&slice.pixels, slice.rows, slice.cols);
    let mut out = vec![255u8; rows * cols * 4];
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            let g = window.grey(pixels[i]);
            let px = &mut out[i * 4..i * 4 + 4];
            px[0] = g;
            px[1] = g;
            px[2] = g;
            if overlay.probability {
                // Probability as a red ramp over the image.
                let p = scar_probability
                    .get(i)
                    .copied()
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0);
                blend(px, [255, 0, 0], p * overlay.opacity.max(0.2));
                continue;
            }
            let layers = [
                (overlay.myocardium, myocardium, MYO_RGB),
                (overlay.scar, scar, SCAR_RGB),
            ];
            for (show, mask, rgb) in layers {
                if !show {
                    continue;
                }
                if overlay.outline {
                    if on_edge(mask, r, c) {
                        blend(px, rgb, 1.0);
                    }
                } else if mask.get(r, c) {
                    blend(px, rgb, overlay.opacity);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_opens_with_its_stored_window_and_the_fields_step_with_its_width() {
        let mut slice = Slice::new(1, 4, vec![0.0, 10.0, 20.0, 30.0], "x");
        slice.display_window = Some([600.0, 1200.0]);
        assert_eq!(
            Window::initial(&slice),
            Window {
                centre: 600.0,
                width: 1200.0
            }
        );
        slice.display_window = None;
        assert_eq!(Window::initial(&slice), Window::auto(&slice.pixels));
        // Width 1200: steps of 10; 250: of 1; 0.8 (a float image): of 0.001.
        let step = |width| Window { centre: 0.0, width }.field_step();
        assert_eq!(step(1200.0), 10.0);
        assert_eq!(step(250.0), 1.0);
        assert!((step(0.8) - 0.001).abs() < 1e-12, "{}", step(0.8));
        assert_eq!(Window::field_text(123.456, 10.0), "123");
        assert_eq!(Window::field_text(123.456, 1.0), "123");
        assert_eq!(Window::field_text(0.123456, 0.001), "0.123");
    }

    #[test]
    fn window_maps_its_ends_to_black_and_white() {
        let w = Window::from_range(100.0, 300.0);
        assert_eq!(w.grey(100.0), 0);
        assert_eq!(w.grey(300.0), 255);
        assert_eq!(w.grey(200.0), 128); // 0.5 * 255 = 127.5 rounds to 128
        assert_eq!(w.grey(-5.0), 0);
        assert_eq!(w.grey(1e6), 255);
    }

    #[test]
    fn auto_window_ignores_outliers() {
        // 0..=99 plus one huge outlier: the 99th percentile stays near 99.
        let mut v: Vec<f32> = (0..100).map(|x| x as f32).collect();
        v.push(1e6);
        let w = Window::auto(&v);
        assert!(w.centre - w.width / 2.0 < 2.0);
        assert!(w.centre + w.width / 2.0 < 200.0, "{w:?}");
    }

    #[test]
    fn drag_right_widens_and_down_raises_level() {
        let w = Window::from_range(0.0, 256.0);
        let d = w.dragged(10.0, 5.0);
        assert_eq!(d.width, 266.0);
        assert_eq!(d.centre, 133.0);
    }

    #[test]
    fn overlays_fill_and_outline() {
        // 3x3 image, all 0 under window 0..1 (black); scar the centre pixel, myocardium all.
        let slice = Slice::new(3, 3, vec![0f32; 9], "s");
        let w = Window::from_range(0.0, 1.0);
        let scar = Mask::from_fn(3, 3, |r, c| r == 1 && c == 1);
        let myo = Mask::from_fn(3, 3, |_, _| true);
        let fill = Overlay {
            opacity: 1.0,
            ..Default::default()
        };
        let img = rgba(&slice, &w, &scar, &myo, &[0.0; 9], &fill);
        assert_eq!(
            &img[0..4],
            &[0, 200, 255, 255],
            "myocardium cyan at a corner"
        );
        assert_eq!(
            &img[16..20],
            &[255, 214, 0, 255],
            "scar yellow on top at the centre"
        );
        let outline = Overlay {
            outline: true,
            ..Default::default()
        };
        let img = rgba(&slice, &w, &scar, &myo, &[0.0; 9], &outline);
        // The single scar pixel is its own edge; the myocardium's centre is not an edge.
        assert_eq!(&img[16..20], &[255, 214, 0, 255]);
        let no_scar = Overlay {
            outline: true,
            scar: false,
            ..Default::default()
        };
        let img = rgba(&slice, &w, &scar, &myo, &[0.0; 9], &no_scar);
        assert_eq!(
            &img[16..20],
            &[0, 0, 0, 255],
            "interior of the myocardium stays grey"
        );
    }
}
