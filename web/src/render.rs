//! What the viewer draws, as pure functions: window/level, and an RGBA image of a slice with
//! scar and myocardium overlays (fill or outline) or a probability map, and the wall sectors
//! the report counts.

use scarseg_imaging::Slice;
use scarseg_imaging::metrics::{Mask, is_transmural, percentile, wall_centre_mm};

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
        }
    }
}

/// The wall sectors as the canvas draws them, in canvas pixels (a pixel's centre at +0.5): the
/// spokes from the wall's centroid, and an arc outside the wall for each transmural sector.
#[derive(Debug, Clone, PartialEq)]
pub struct SectorDrawing {
    /// The centroid.
    pub centre: (f64, f64),
    /// One spoke's far end per sector boundary, clockwise from 12 o'clock.
    pub spokes: Vec<(f64, f64)>,
    /// Points along the outer arc of each sector whose scar exceeds half its myocardium.
    pub transmural_arcs: Vec<Vec<(f64, f64)>>,
}

/// Where to draw the sectors of `sector_percent` (one value per sector, from
/// `scarseg_imaging::metrics::sector_scar_percent` on the same myocardium): around the same
/// centroid, in mm turned into pixels, so a spoke at 45 degrees stays at 45 degrees on a grid of
/// non-square pixels shown at their physical aspect. The spokes reach one pixel beyond the
/// wall's farthest pixel. `None` without myocardium.
pub fn sector_drawing(
    myocardium: &Mask,
    spacing_mm: [f64; 2],
    sector_percent: &[Option<f64>],
) -> Option<SectorDrawing> {
    let (cx, cy) = wall_centre_mm(myocardium, spacing_mm)?;
    if sector_percent.is_empty() {
        return None;
    }
    let [dy, dx] = spacing_mm;
    let reach = myocardium
        .data
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| {
            let (x, y) = (
                (i % myocardium.cols) as f64 * dx,
                (i / myocardium.cols) as f64 * dy,
            );
            ((x - cx).powi(2) + (y - cy).powi(2)).sqrt()
        })
        .fold(0.0, f64::max)
        + dx.max(dy);
    // Clockwise from 12 o'clock on screen: up is towards smaller rows.
    let point = |degrees: f64| {
        let a = degrees.to_radians();
        (
            (cx + reach * a.sin()) / dx + 0.5,
            (cy - reach * a.cos()) / dy + 0.5,
        )
    };
    let width = 360.0 / sector_percent.len() as f64;
    Some(SectorDrawing {
        centre: (cx / dx + 0.5, cy / dy + 0.5),
        spokes: (0..sector_percent.len())
            .map(|k| point(k as f64 * width))
            .collect(),
        transmural_arcs: sector_percent
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some_and(is_transmural))
            .map(|(k, _)| {
                (0..=8)
                    .map(|j| point((k as f64 + j as f64 / 8.0) * width))
                    .collect()
            })
            .collect(),
    })
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
    fn sectors_are_drawn_around_the_wall_by_hand() {
        // The 16-pixel border of a 5 x 5 grid: centroid at the centre pixel, canvas (2.5, 2.5);
        // farthest wall pixels the corners, sqrt(8) mm away, so the spokes reach sqrt(8) + 1.
        let ring = Mask::from_fn(5, 5, |r, c| r == 0 || r == 4 || c == 0 || c == 4);
        let mut percent = vec![Some(0.0); 4];
        percent[1] = Some(75.0);
        percent[2] = Some(50.0); // half is not more than half
        let d = sector_drawing(&ring, [1.0, 1.0], &percent).expect("a wall");
        let reach = 8f64.sqrt() + 1.0;
        let near =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
        assert!(near(d.centre, (2.5, 2.5)), "{d:?}");
        // Up, right, down, left: four sectors of 90 degrees.
        let want = [
            (2.5, 2.5 - reach),
            (2.5 + reach, 2.5),
            (2.5, 2.5 + reach),
            (2.5 - reach, 2.5),
        ];
        assert_eq!(d.spokes.len(), 4);
        for (got, want) in d.spokes.iter().zip(want) {
            assert!(near(*got, want), "{got:?} against {want:?}");
        }
        // Sector 1 alone is marked: its arc runs from the right spoke to the bottom one.
        assert_eq!(d.transmural_arcs.len(), 1);
        let arc = &d.transmural_arcs[0];
        assert!(
            near(arc[0], want[1]) && near(arc[arc.len() - 1], want[2]),
            "{arc:?}"
        );
        // Columns 2 mm apart: the centre is still the centre pixel, and the spoke at 90 degrees
        // reaches (sqrt(4 * 4 + 2 * 2) + 2) mm = that over 2 columns to the right.
        let d = sector_drawing(&ring, [1.0, 2.0], &percent).expect("a wall");
        let reach = 20f64.sqrt() + 2.0;
        assert!(near(d.spokes[1], (2.5 + reach / 2.0, 2.5)), "{d:?}");
        assert!(near(d.spokes[0], (2.5, 2.5 - reach)), "{d:?}");
        assert_eq!(
            sector_drawing(&Mask::from_fn(2, 2, |_, _| false), [1.0, 1.0], &percent),
            None
        );
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

/// Viridis at five stops (perceptually uniform, readable in grey and by most colour-blind
/// viewers): the teaching view's probability and attention maps.
const VIRIDIS: [[f64; 3]; 5] = [
    [68.0, 1.0, 84.0],
    [59.0, 82.0, 139.0],
    [33.0, 145.0, 140.0],
    [94.0, 201.0, 98.0],
    [253.0, 231.0, 37.0],
];

/// Colour of a value in \[0, 1\] (clamped; NaN as 0) on the viridis map, linear between stops.
pub fn viridis(value: f32) -> [u8; 3] {
    let v = if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0) as f64
    };
    let x = v * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let t = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [0, 1, 2].map(|c| (a[c] + (b[c] - a[c]) * t).round() as u8)
}

/// RGBA of a map whose values are in \[0, 1\] (probabilities, attention).
pub fn heat_rgba(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| {
            let [r, g, b] = viridis(*v);
            [r, g, b, 255]
        })
        .collect()
}

/// RGBA of a map in grey, windowed automatically (1st to 99th percentile).
pub fn grey_rgba(values: &[f32]) -> Vec<u8> {
    let w = Window::auto(values);
    values
        .iter()
        .flat_map(|v| {
            let g = w.grey(*v);
            [g, g, g, 255]
        })
        .collect()
}

#[cfg(test)]
mod colour_tests {
    use super::*;

    #[test]
    fn viridis_ends_mid_stop_and_clamps() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(0.5), [33, 145, 140]);
        // Halfway between the first two stops.
        assert_eq!(viridis(0.125), [64, 42, 112]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f32::NAN), viridis(0.0));
    }

    #[test]
    fn heat_and_grey_images_are_opaque_rgba() {
        let heat = heat_rgba(&[0.0, 1.0]);
        assert_eq!(heat, vec![68, 1, 84, 255, 253, 231, 37, 255]);
        let values: Vec<f32> = (0..100).map(|v| v as f32).collect();
        let grey = grey_rgba(&values);
        assert_eq!(grey.len(), 400);
        assert_eq!(&grey[..4], &[0, 0, 0, 255]);
        assert_eq!(&grey[396..], &[255, 255, 255, 255]);
    }
}
