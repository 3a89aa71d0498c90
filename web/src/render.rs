//! What the viewer draws, as pure functions (the window and the slice under its overlays are the
//! imaging crate's `view`, re-exported here): the pixel readout, the wall sectors the report
//! counts, the AHA segments once the RV insertion is marked, and the bull's-eye plot.

use scarseg_imaging::Slice;
use scarseg_imaging::metrics::{
    AhaCut, AhaOrientation, Mask, WallLevel, clock_angle_deg, is_transmural, wall_centre_mm,
    wall_points_mm,
};
// The window and the overlays are the imaging crate's, so that `scarseg predict --overlays`
// draws what the page draws.
pub use scarseg_imaging::view::{MYO_RGB, Overlay, SCAR_RGB, Window, rgba};

/// `value` to four significant digits, fixed-point (no exponent): how the readout shows pixel
/// values on any scale (0-1 floats, 12-bit integers).
pub fn four_digits(value: f64) -> String {
    let magnitude = if value == 0.0 || !value.is_finite() {
        0.0
    } else {
        value.abs().log10().floor()
    };
    let decimals = (3.0 - magnitude).clamp(0.0, 8.0) as usize;
    format!("{value:.decimals$}")
}

/// What the viewer says of the pixel at canvas point `at` (pixel units, the top-left corner at
/// 0) of a slice: where it is, its value in the image's units, the network's scar probability
/// and which masks hold it; `None` off the slice.
pub fn pixel_readout(
    slice: &Slice,
    scar_probability: &[f32],
    scar: &Mask,
    myocardium: &Mask,
    at: (f64, f64),
) -> Option<String> {
    let (x, y) = (at.0.floor(), at.1.floor());
    if x < 0.0 || y < 0.0 || x >= slice.cols as f64 || y >= slice.rows as f64 {
        return None;
    }
    let i = y as usize * slice.cols + x as usize;
    let inside = match (
        scar.data.get(i).copied().unwrap_or(false),
        myocardium.data.get(i).copied().unwrap_or(false),
    ) {
        (true, _) => "scar",
        (false, true) => "myocardium, not scar",
        (false, false) => "outside the myocardium",
    };
    let probability = scar_probability
        .get(i)
        .map_or(String::new(), |p| format!(", scar probability {p:.2}"));
    // The pixel's centre in the scanner's coordinates (DICOM's LPS, mm), for checking a place
    // against another tool.
    let (o, p) = (slice.orientation, slice.position_mm);
    let (along, down) = (x * slice.spacing_mm[1], y * slice.spacing_mm[0]);
    let lps: Vec<String> = (0..3)
        .map(|k| format!("{:.1}", p[k] + o[k] * along + o[3 + k] * down))
        .collect();
    Some(format!(
        "pixel x {x}, y {y} (from the top left, from 0), LPS ({}) mm: value {}{probability}; \
         {inside}",
        lps.join(", "),
        four_digits(f64::from(*slice.pixels.get(i)?))
    ))
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
    if sector_percent.is_empty() {
        return None;
    }
    let wall = WallFrame::new(myocardium, spacing_mm)?;
    let width = 360.0 / sector_percent.len() as f64;
    Some(SectorDrawing {
        centre: wall.centre(),
        spokes: (0..sector_percent.len())
            .map(|k| wall.point(k as f64 * width, 1.0))
            .collect(),
        transmural_arcs: sector_percent
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some_and(is_transmural))
            .map(|(k, _)| {
                (0..=8)
                    .map(|j| wall.point((k as f64 + j as f64 / 8.0) * width, 1.0))
                    .collect()
            })
            .collect(),
    })
}

/// A slice's wall as the overlays see it: its centroid and how far it reaches, in mm.
struct WallFrame {
    centre_mm: (f64, f64),
    spacing_mm: [f64; 2],
    /// One pixel beyond the wall's farthest pixel.
    reach_mm: f64,
}

impl WallFrame {
    fn new(myocardium: &Mask, spacing_mm: [f64; 2]) -> Option<Self> {
        let (cx, cy) = wall_centre_mm(myocardium, spacing_mm)?;
        let [dy, dx] = spacing_mm;
        let reach = wall_points_mm(myocardium, spacing_mm)
            .map(|(_, (x, y))| (x - cx).hypot(y - cy))
            .fold(0.0, f64::max);
        Some(Self {
            centre_mm: (cx, cy),
            spacing_mm,
            reach_mm: reach + dx.max(dy),
        })
    }

    /// The centroid in canvas pixels.
    fn centre(&self) -> (f64, f64) {
        self.point(0.0, 0.0)
    }

    /// The canvas point `scale` times the reach from the centroid, `degrees` clockwise from 12
    /// o'clock on screen (up is towards smaller rows).
    fn point(&self, degrees: f64, scale: f64) -> (f64, f64) {
        let ((cx, cy), [dy, dx]) = (self.centre_mm, self.spacing_mm);
        let (a, r) = (degrees.to_radians(), self.reach_mm * scale);
        ((cx + r * a.sin()) / dx + 0.5, (cy - r * a.cos()) / dy + 0.5)
    }
}

/// The angle of canvas point `at` (canvas pixels, a pixel's centre at +0.5) around the wall's
/// centroid, degrees clockwise from 12 o'clock in [0, 360), taken in mm like the segments: where
/// a click on the image puts the RV insertion. `None` without myocardium or on the centroid.
pub fn angle_at(myocardium: &Mask, spacing_mm: [f64; 2], at: (f64, f64)) -> Option<f64> {
    let (cx, cy) = wall_centre_mm(myocardium, spacing_mm)?;
    let [dy, dx] = spacing_mm;
    let (x, y) = ((at.0 - 0.5) * dx - cx, (at.1 - 0.5) * dy - cy);
    (x != 0.0 || y != 0.0).then(|| clock_angle_deg(x, y).rem_euclid(360.0))
}

/// The AHA segments of one slice as the canvas draws them, in canvas pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct AhaDrawing {
    /// The centroid.
    pub centre: (f64, f64),
    /// The far end of the spoke through the anterior RV insertion.
    pub insertion: (f64, f64),
    /// The far ends of the other segment boundaries.
    pub spokes: Vec<(f64, f64)>,
    /// Each segment's number and where to write it: mid-segment, just beyond the spokes.
    pub labels: Vec<(usize, (f64, f64))>,
}

/// Where to draw the AHA segments `scarseg_imaging::metrics::aha_slice_counts` cuts on this
/// slice: the same boundaries around the same centroid, the insertion's spoke apart. `None`
/// without myocardium.
pub fn aha_drawing(
    myocardium: &Mask,
    spacing_mm: [f64; 2],
    orientation: AhaOrientation,
    level: WallLevel,
) -> Option<AhaDrawing> {
    let wall = WallFrame::new(myocardium, spacing_mm)?;
    let cut = AhaCut::new(orientation, level);
    let (start, width) = (cut.offset_deg, cut.width_deg);
    Some(AhaDrawing {
        centre: wall.centre(),
        insertion: wall.point(cut.angle(0.0), 1.0),
        spokes: (0..cut.segments.len())
            .map(|k| start + k as f64 * width)
            .filter(|d| *d != 0.0)
            .map(|d| wall.point(cut.angle(d), 1.0))
            .collect(),
        labels: cut
            .segments
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let mid = cut.angle(start + (k as f64 + 0.5) * width);
                (i + 1, wall.point(mid, 1.15))
            })
            .collect(),
    })
}

/// One AHA segment of the bull's-eye plot: basal outermost, apical innermost, the septum on
/// the left and anterior up (as the AHA draws it), on a 240 x 240 view box centred at (120,
/// 120).
#[derive(Debug, Clone, PartialEq)]
pub struct BullseyeSegment {
    /// 1 to 16.
    pub number: usize,
    /// The SVG path of its annular sector.
    pub path: String,
    /// Where to write its label.
    pub label: (f64, f64),
}

/// Radius of the bull's-eye's rings in its view box: apical cap, apical, mid, basal.
pub const BULLSEYE_RADII: [f64; 4] = [25.0, 55.0, 85.0, 115.0];

/// The 16 segments of the bull's-eye, in order.
pub fn bullseye() -> Vec<BullseyeSegment> {
    let [cap, apical, mid, basal] = BULLSEYE_RADII;
    let point = |r: f64, deg: f64| {
        let a = f64::to_radians(deg);
        (120.0 + r * a.sin(), 120.0 - r * a.cos())
    };
    (1..=16)
        .map(|n| {
            // Centre angle clockwise from 12 o'clock: anterior (1, 7, 13) up, then round
            // counterclockwise through the septum, on the left.
            let (inner, outer, centre, half) = match n {
                1..=6 => (mid, basal, -60.0 * (n - 1) as f64, 30.0),
                7..=12 => (apical, mid, -60.0 * (n - 7) as f64, 30.0),
                _ => (cap, apical, -90.0 * (n - 13) as f64, 45.0),
            };
            let (a1, a2) = (centre - half, centre + half);
            let f = |p: (f64, f64)| format!("{:.2} {:.2}", p.0, p.1);
            let path = format!(
                "M {} A {outer} {outer} 0 0 1 {} L {} A {inner} {inner} 0 0 0 {} Z",
                f(point(outer, a1)),
                f(point(outer, a2)),
                f(point(inner, a2)),
                f(point(inner, a1)),
            );
            BullseyeSegment {
                number: n,
                path,
                label: point((inner + outer) / 2.0, centre),
            }
        })
        .collect()
}

/// Fill colours of the transmurality grades 0 to 4 (none, up to 25, 50, 75, above 75%), light
/// to dark red; and of a segment no slice reaches.
pub const GRADE_FILL: [&str; 5] = ["#f4f4f4", "#fde0c5", "#f9a66c", "#e8543b", "#a50f15"];
/// Fill of a segment without myocardium in any slice.
pub const NO_WALL_FILL: &str = "#9a9a9a";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readout_names_the_pixel_its_value_and_masks() {
        assert_eq!(four_digits(245.2671), "245.3");
        assert_eq!(four_digits(1624.898), "1625");
        assert_eq!(four_digits(0.012345), "0.01235");
        assert_eq!(four_digits(0.0), "0.000");
        assert_eq!(four_digits(-3.25159), "-3.252");
        // A 2 x 3 slice: pixel (x 2, y 1) is index 5, scar; (x 1, y 0) myocardium only.
        let mut slice = Slice::new(2, 3, vec![0.0, 1.5, 2.0, 3.0, 4.0, 5.25], "x");
        // Rows 0.5 mm apart, columns 2 mm, the first pixel's centre at (10, -20, 30): pixel
        // (x 2, y 1) lies at (10 + 2 * 2, -20 + 1 * 0.5, 30).
        slice.spacing_mm = [0.5, 2.0];
        slice.position_mm = [10.0, -20.0, 30.0];
        let mut scar = Mask::empty(2, 3);
        let mut wall = Mask::empty(2, 3);
        scar.data[5] = true;
        wall.data[5] = true;
        wall.data[1] = true;
        let p = [0.0, 0.25, 0.0, 0.0, 0.0, 0.875];
        assert_eq!(
            pixel_readout(&slice, &p, &scar, &wall, (2.9, 1.1)).as_deref(),
            Some(
                "pixel x 2, y 1 (from the top left, from 0), LPS (14.0, -19.5, 30.0) mm: value \
                 5.250, scar probability 0.88; scar"
            )
        );
        assert_eq!(
            pixel_readout(&slice, &p, &scar, &wall, (1.0, 0.0)).as_deref(),
            Some(
                "pixel x 1, y 0 (from the top left, from 0), LPS (12.0, -20.0, 30.0) mm: value \
                 1.500, scar probability 0.25; myocardium, not scar"
            )
        );
        assert!(pixel_readout(&slice, &p, &scar, &wall, (3.0, 0.5)).is_none());
        assert!(pixel_readout(&slice, &p, &scar, &wall, (-0.1, 0.5)).is_none());
    }

    #[test]
    fn a_click_gives_its_angle_around_the_wall_by_hand() {
        // The 5 x 5 border ring's centroid is canvas (2.5, 2.5): straight up is 0 degrees,
        // right 90, the top-left corner 315.
        let ring = Mask::from_fn(5, 5, |r, c| r == 0 || r == 4 || c == 0 || c == 4);
        let at = |x: f64, y: f64, spacing: [f64; 2]| angle_at(&ring, spacing, (x, y));
        assert_eq!(at(2.5, 0.5, [1.0, 1.0]), Some(0.0));
        assert_eq!(at(4.5, 2.5, [1.0, 1.0]), Some(90.0));
        assert_eq!(at(2.5, 4.0, [1.0, 1.0]), Some(180.0));
        assert_eq!(at(0.5, 0.5, [1.0, 1.0]), Some(315.0));
        assert_eq!(at(2.5, 2.5, [1.0, 1.0]), None);
        // Columns 2 mm apart: canvas (3.5, 1.5) is 2 mm right and 1 mm up, atan(2) = 63.43
        // degrees, not the 45 of its pixel offsets.
        let a = at(3.5, 1.5, [1.0, 2.0]).expect("an angle");
        assert!((a - 2f64.atan().to_degrees()).abs() < 1e-9, "{a}");
        assert_eq!(angle_at(&Mask::empty(3, 3), [1.0, 1.0], (0.5, 0.5)), None);
    }

    #[test]
    fn aha_segments_are_drawn_where_they_are_cut() {
        // The border ring with the insertion at 300 degrees and the septum counterclockwise:
        // basal boundaries at 240, 180, 120, 60 and 0 besides the insertion's; segments 2 to 6
        // and 1 centred at 270, 210, 150, 90, 30 and 330, written 1.15 times as far out.
        let ring = Mask::from_fn(5, 5, |r, c| r == 0 || r == 4 || c == 0 || c == 4);
        let standard = AhaOrientation {
            anterior_insertion_deg: 300.0,
            septum_clockwise: false,
        };
        let reach = 8f64.sqrt() + 1.0;
        let point = |deg: f64, scale: f64| {
            let a = deg.to_radians();
            (2.5 + scale * reach * a.sin(), 2.5 - scale * reach * a.cos())
        };
        let near =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
        let d = aha_drawing(&ring, [1.0, 1.0], standard, WallLevel::Basal).expect("a wall");
        assert!(near(d.centre, (2.5, 2.5)));
        assert!(near(d.insertion, point(300.0, 1.0)), "{d:?}");
        assert_eq!(d.spokes.len(), 5);
        for (got, deg) in d.spokes.iter().zip([240.0, 180.0, 120.0, 60.0, 0.0]) {
            assert!(near(*got, point(deg, 1.0)), "{got:?} at {deg}");
        }
        let want = [
            (2, 270.0),
            (3, 210.0),
            (4, 150.0),
            (5, 90.0),
            (6, 30.0),
            (1, 330.0),
        ];
        assert_eq!(d.labels.len(), 6);
        for ((n, at), (m, deg)) in d.labels.iter().zip(want) {
            assert_eq!(*n, m);
            assert!(near(*at, point(deg, 1.15)), "segment {n}");
        }
        // Apical quarters from 285, mirrored: the septum clockwise from an insertion at 60
        // puts them at 75, 165, 255 and 345, the septal one (14) centred at 120.
        let mirrored = AhaOrientation {
            anterior_insertion_deg: 60.0,
            septum_clockwise: true,
        };
        let d = aha_drawing(&ring, [1.0, 1.0], mirrored, WallLevel::Apical).expect("a wall");
        assert!(near(d.insertion, point(60.0, 1.0)));
        for (got, deg) in d.spokes.iter().zip([75.0, 165.0, 255.0, 345.0]) {
            assert!(near(*got, point(deg, 1.0)), "{got:?} at {deg}");
        }
        assert_eq!(d.labels[0].0, 14);
        assert!(near(d.labels[0].1, point(120.0, 1.15)));
        assert_eq!(
            aha_drawing(&Mask::empty(2, 2), [1.0, 1.0], standard, WallLevel::Mid),
            None
        );
    }

    #[test]
    fn the_bullseye_puts_anterior_up_and_the_septum_left() {
        let b = bullseye();
        assert_eq!(
            b.iter().map(|s| s.number).collect::<Vec<_>>(),
            (1..=16).collect::<Vec<_>>()
        );
        let near =
            |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
        // Labels mid-ring: basal at radius 100, mid 70, apical 40 from (120, 120).
        assert!(near(b[0].label, (120.0, 20.0)), "basal anterior up");
        assert!(near(b[3].label, (120.0, 220.0)), "basal inferior down");
        assert!(near(b[13].label, (80.0, 120.0)), "apical septal left");
        assert!(near(b[15].label, (160.0, 120.0)), "apical lateral right");
        // Basal anteroseptal (2) is centred at 300 degrees, upper left: 70 * (sin, -cos).
        let (x, y) = (120.0 - 100.0 * 0.75f64.sqrt(), 120.0 - 50.0);
        assert!(near(b[1].label, (x, y)), "{:?}", b[1].label);
        // Segment 1's outline starts on the outer circle at -30 degrees, 115 * (-1/2, -cos 30)
        // from the centre, and arcs clockwise to +30.
        assert!(
            b[0].path
                .starts_with("M 62.50 20.41 A 115 115 0 0 1 177.50 20.41 L"),
            "{}",
            b[0].path
        );
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
}

/// The viewer's zoom range (CSS pixels per image pixel): a 4096-pixel image still fits a screen
/// at the least, a 16-pixel one fills it at the most.
pub const ZOOM_RANGE: (f64, f64) = (0.25, 16.0);

/// The zoom at which a whole slice of `rows` x `cols` pixels, each `aspect` times as wide as it
/// is high, fits a box of `width` x `height` CSS pixels as large as it can, within `ZOOM_RANGE`:
/// how a viewer opens an image. `None` for a box with no size (not laid out).
pub fn fit_zoom(width: f64, height: f64, rows: usize, cols: usize, aspect: f64) -> Option<f64> {
    if !(width >= 1.0 && height >= 1.0 && aspect > 0.0 && aspect.is_finite())
        || rows == 0
        || cols == 0
    {
        return None;
    }
    // Whole CSS pixels: the canvas's size is rounded to them, and a pixel past the box would
    // give it scroll bars.
    let zoom = (width.floor() / (cols as f64 * aspect)).min(height.floor() / rows as f64);
    Some(zoom.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1))
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

#[cfg(test)]
mod zoom_tests {
    use super::*;

    /// The canvas's CSS size at `zoom`, as the viewer rounds it.
    fn shown(rows: usize, cols: usize, aspect: f64, zoom: f64) -> (f64, f64) {
        (
            (cols as f64 * zoom * aspect).round(),
            (rows as f64 * zoom).round(),
        )
    }

    #[test]
    fn a_slice_fits_its_box_as_large_as_it_can() {
        // A 208-pixel phantom in a 1152 x 720 box: the height binds, 720 / 208.
        let z = fit_zoom(1152.0, 720.0, 208, 208, 1.0).unwrap();
        assert!((z - 720.0 / 208.0).abs() < 1e-12, "{z}");
        assert_eq!(shown(208, 208, 1.0, z), (720.0, 720.0));
        // A 512-pixel scan in the same box: 1.40625, smaller than the old fixed zoom of 2.
        assert_eq!(fit_zoom(1152.0, 720.0, 512, 512, 1.0), Some(1.40625));
        // A wide image (256 columns, 128 rows) in a narrow box (400 x 720): the width binds.
        assert_eq!(fit_zoom(400.0, 720.0, 128, 256, 1.0), Some(1.5625));
        // Pixels twice as wide as high: 100 columns show as 200 pixels' width, so 1000 / 200.
        let z = fit_zoom(1000.0, 1000.0, 100, 100, 2.0).unwrap();
        assert_eq!(z, 5.0);
        assert_eq!(shown(100, 100, 2.0, z), (1000.0, 500.0));
        // A box of 719.6 pixels (80% of a window's height) gives 719, never a pixel more.
        let z = fit_zoom(1152.0, 719.6, 256, 208, 1.0).unwrap();
        assert!((z - 719.0 / 256.0).abs() < 1e-12, "{z}");
        assert_eq!(shown(256, 208, 1.0, z).1, 719.0);
    }

    #[test]
    fn the_fit_stays_in_the_zoom_range_and_needs_a_box() {
        assert_eq!(fit_zoom(1152.0, 720.0, 16, 16, 1.0), Some(16.0));
        assert_eq!(fit_zoom(800.0, 600.0, 4096, 4096, 1.0), Some(0.25));
        assert_eq!(fit_zoom(0.0, 720.0, 208, 208, 1.0), None);
        assert_eq!(fit_zoom(1152.0, 720.0, 0, 208, 1.0), None);
        assert_eq!(fit_zoom(1152.0, 720.0, 208, 208, f64::NAN), None);
    }
}
