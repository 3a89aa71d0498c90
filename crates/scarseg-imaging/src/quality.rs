//! Whether a slice's outlines look like what they are meant to be: the left ventricle in a
//! short-axis bright-blood LGE slice, a ring of nulled (dark) myocardium round a bright blood
//! pool. A network answers every image it is given, a chest X-ray or a long-axis view as readily
//! as a short-axis slice, and draws "myocardium" somewhere; these checks read only the image and
//! the masks, so they hold for any model, and they flag outlines a reader should look at before
//! trusting the burden. They doubt, they do not refuse: a basal slice through the outflow tract
//! is open, and a dark-blood LGE sequence has a dark cavity; both are told so, since the bundled
//! model has seen neither.

use serde::{Deserialize, Serialize};

use crate::depth::outside;
use crate::metrics::{Mask, median};
use crate::postprocess::components;

/// A piece of myocardium counts as a piece of its own from this share of the largest one's
/// pixels; specks below it are what any threshold leaves and say nothing of the shape.
pub const PIECE_FRACTION: f64 = 0.1;

/// A ring encloses a cavity; less than this share of the myocardium's own pixels is a notch or
/// a gap between pieces, not a ventricle (a short-axis cavity is rarely below a third of the
/// wall, even at the apex).
pub const MIN_CAVITY_FRACTION: f64 = 0.05;

/// The cavity's median brightness must stand above the healthy wall's by this share of the
/// slice's range (1st to 99th percentile): blood is bright, nulled myocardium dark.
pub const MIN_CAVITY_CONTRAST: f64 = 0.05;

/// What was measured of a slice's outlines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RingShape {
    /// Myocardium pixels.
    pub myocardium_px: usize,
    /// Its 8-connected pieces of at least [`PIECE_FRACTION`] of the largest one.
    pub pieces: usize,
    /// Pixels the myocardium encloses (not joined to the slice's edge by a 4-connected path
    /// around it): the cavity.
    pub cavity_px: usize,
    /// The cavity's median brightness minus the healthy wall's (myocardium without scar), as a
    /// share of the slice's 1st-to-99th percentile range (its whole range where that is 0; 0
    /// on a flat slice); `None` without a cavity or without healthy wall.
    pub cavity_contrast: Option<f64>,
}

/// Why a slice's outlines are in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Doubt {
    /// The myocardium is in this many pieces, not one ring.
    Pieces(usize),
    /// The myocardium encloses no cavity.
    Open,
    /// The cavity is not brighter than the healthy wall (the contrast measured).
    DarkCavity(f64),
}

impl std::fmt::Display for Doubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Doubt::Pieces(n) => write!(f, "the myocardium found is in {n} pieces, not one ring"),
            Doubt::Open => write!(f, "the myocardium found encloses no cavity"),
            Doubt::DarkCavity(c) => write!(
                f,
                "the cavity inside the myocardium found is not brighter than the wall ({:+.0}% \
                 of the image's range), as blood is in bright-blood LGE",
                c * 100.0
            ),
        }
    }
}

/// The value at rank `q` (0..=1) of `values`, the nearest rank below; `None` when empty.
fn rank(values: &mut [f32], q: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let k = ((values.len() - 1) as f64 * q).floor() as usize;
    Some(*values.select_nth_unstable_by(k, f32::total_cmp).1)
}

/// Measures `myocardium` and `scar` on the image `pixels` (row-major, the masks' grid); `None`
/// without myocardium. Non-finite pixels are left out of every statistic.
pub fn ring_shape(pixels: &[f32], scar: &Mask, myocardium: &Mask) -> Option<RingShape> {
    let myocardium_px = myocardium.area_px();
    if myocardium_px == 0 {
        return None;
    }
    let (_, sizes) = components(myocardium);
    let largest = sizes.iter().skip(1).copied().max().unwrap_or(0);
    let pieces = sizes
        .iter()
        .skip(1)
        .filter(|s| **s as f64 >= PIECE_FRACTION * largest as f64)
        .count();
    let outside = outside(myocardium);
    let cavity: Vec<usize> = (0..pixels.len())
        .filter(|i| !outside[*i] && !myocardium.data[*i])
        .collect();
    let cavity_median = median(
        cavity
            .iter()
            .map(|i| pixels[*i])
            .filter(|p| p.is_finite())
            .collect(),
    );
    let wall_median = median(
        (0..pixels.len())
            .filter(|i| myocardium.data[*i] && !scar.data[*i] && pixels[*i].is_finite())
            .map(|i| pixels[i])
            .collect(),
    );
    let mut all: Vec<f32> = pixels.iter().copied().filter(|p| p.is_finite()).collect();
    let mut spread = |lo: f64, hi: f64| {
        rank(&mut all, hi)
            .zip(rank(&mut all, lo))
            .map(|(h, l)| f64::from(h) - f64::from(l))
            .unwrap_or(0.0)
    };
    // An image bright in under 1% of its pixels (a dot on black) has no 1st-to-99th range: its
    // whole range stands in; a flat one has none, and its cavity is as dark as its wall.
    let range = Some(spread(0.01, 0.99))
        .filter(|r| *r > 0.0)
        .unwrap_or_else(|| spread(0.0, 1.0));
    let cavity_contrast = cavity_median
        .zip(wall_median)
        .map(|(c, w)| f64::from(c) - f64::from(w))
        .map(|d| if range > 0.0 { d / range } else { 0.0 });
    Some(RingShape {
        myocardium_px,
        pieces,
        cavity_px: cavity.len(),
        cavity_contrast,
    })
}

/// The doubts [`RingShape`] raises: more than one piece, no cavity, a cavity not brighter than
/// the wall by [`MIN_CAVITY_CONTRAST`]. Empty for a well-formed ring, and without myocardium
/// (which the burden reports already).
pub fn doubts(shape: Option<&RingShape>) -> Vec<Doubt> {
    let Some(s) = shape else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if s.pieces > 1 {
        out.push(Doubt::Pieces(s.pieces));
    }
    if (s.cavity_px as f64) < MIN_CAVITY_FRACTION * s.myocardium_px as f64 {
        out.push(Doubt::Open);
    } else if let Some(c) = s.cavity_contrast.filter(|c| *c < MIN_CAVITY_CONTRAST) {
        out.push(Doubt::DarkCavity(c));
    }
    out
}

/// `doubts` in a list, as the CSV reports, `scarseg eval` and the page's table by slice give
/// them: joined by "; ", empty for none.
pub fn listed(doubts: &[Doubt]) -> String {
    doubts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// [`doubts`] of a slice's image and masks.
pub fn slice_doubts(pixels: &[f32], scar: &Mask, myocardium: &Mask) -> Vec<Doubt> {
    doubts(ring_shape(pixels, scar, myocardium).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depth::tests::square_ring;

    /// The 11 x 11 image with `cavity` within Chebyshev distance 1 of the centre, `wall` at 2 to
    /// 4, `outside` beyond.
    fn image(cavity: f32, wall: f32, outside: f32) -> Vec<f32> {
        (0..121usize)
            .map(|i| match (i / 11).abs_diff(5).max((i % 11).abs_diff(5)) {
                0 | 1 => cavity,
                2..=4 => wall,
                _ => outside,
            })
            .collect()
    }

    #[test]
    fn a_dark_ring_round_a_bright_cavity_passes() {
        // 81 pixels within distance 4, 9 within 1: a wall of 72 round a cavity of 9. Sorted, the
        // 121 values are 72 x 10, 40 x 50, 9 x 100; the 1st percentile's rank is floor(1.2) = 1
        // (10), the 99th's floor(118.8) = 118 (100): a range of 90, and (100 - 10) / 90 = 1.
        let myo = square_ring(2, 4);
        let shape = ring_shape(&image(100.0, 10.0, 50.0), &Mask::empty(11, 11), &myo).unwrap();
        assert_eq!(
            shape,
            RingShape {
                myocardium_px: 72,
                pieces: 1,
                cavity_px: 9,
                cavity_contrast: Some(1.0),
            }
        );
        assert!(doubts(Some(&shape)).is_empty());
    }

    #[test]
    fn scar_is_not_the_wall_the_cavity_is_compared_with() {
        // The wall by rows: rows 1-3 and 7-9 hold 9 pixels each, rows 4-6 two runs of 3. Scar
        // (bright, 100) on rows 1-7: 27 + 18 + 9 = 54 of the 72; the healthy rest (rows 8 and 9,
        // 18 pixels) stays at 10. Sorted: 18 x 10, 40 x 50, 63 x 100 (scar and cavity); ranks 1
        // and 118: 10 and 100. Were the scar counted as wall, the wall's median would be 100
        // and the cavity no brighter than it.
        let myo = square_ring(2, 4);
        let scar = Mask::from_fn(11, 11, |r, c| myo.get(r, c) && r < 8);
        assert_eq!(scar.area_px(), 54);
        let mut pixels = image(100.0, 10.0, 50.0);
        for (i, p) in pixels.iter_mut().enumerate() {
            if scar.data[i] {
                *p = 100.0;
            }
        }
        let shape = ring_shape(&pixels, &scar, &myo).unwrap();
        assert_eq!(shape.cavity_contrast, Some(1.0));
        assert!(doubts(Some(&shape)).is_empty());
    }

    #[test]
    fn a_cavity_as_dark_as_the_wall_is_doubted() {
        // Dark blood: cavity and wall both 10, the outside 50. Range: sorted 81 x 10, 40 x 50,
        // ranks 1 and 118: 10 and 50; contrast (10 - 10) / 40 = 0.
        let myo = square_ring(2, 4);
        let d = slice_doubts(&image(10.0, 10.0, 50.0), &Mask::empty(11, 11), &myo);
        assert_eq!(d, vec![Doubt::DarkCavity(0.0)]);
        assert_eq!(
            d[0].to_string(),
            "the cavity inside the myocardium found is not brighter than the wall (+0% of the \
             image's range), as blood is in bright-blood LGE"
        );
        // Darker than the wall: (0 - 10) / (50 - 0) = -0.2, "-20%". Ranks 1 and 118 of 9 x 0,
        // 72 x 10, 40 x 50: 0 and 50.
        let d = slice_doubts(&image(0.0, 10.0, 50.0), &Mask::empty(11, 11), &myo);
        assert_eq!(d, vec![Doubt::DarkCavity(-0.2)]);
        assert!(d[0].to_string().contains("(-20% of the image's range)"));
        // A cavity brighter by 4% of the range is still doubted, by 6% not: wall 0, outside
        // 100, cavity 4 or 6 (ranks 1 and 118 of 72 x 0, 9 x 4 or 6, 40 x 100: 0 and 100).
        assert_eq!(
            slice_doubts(&image(4.0, 0.0, 100.0), &Mask::empty(11, 11), &myo),
            vec![Doubt::DarkCavity(0.04)]
        );
        assert!(slice_doubts(&image(6.0, 0.0, 100.0), &Mask::empty(11, 11), &myo).is_empty());
    }

    #[test]
    fn a_dot_on_black_and_a_flat_image_have_no_bright_cavity() {
        // One bright pixel in the cavity's centre, all else 0: the 1st-to-99th range is 0, so
        // the whole range, 255, stands in; the cavity's median (8 x 0 and one 255) is 0, as is
        // the wall's.
        let myo = square_ring(2, 4);
        let mut dot = vec![0.0; 121];
        dot[5 * 11 + 5] = 255.0;
        let shape = ring_shape(&dot, &Mask::empty(11, 11), &myo).unwrap();
        assert_eq!(shape.cavity_contrast, Some(0.0));
        assert_eq!(doubts(Some(&shape)), vec![Doubt::DarkCavity(0.0)]);
        let flat = ring_shape(&[7.0; 121], &Mask::empty(11, 11), &myo).unwrap();
        assert_eq!(flat.cavity_contrast, Some(0.0));
    }

    #[test]
    fn pieces_and_an_open_wall_are_doubted_specks_are_not() {
        // Two 4 x 4 blocks (16 px each) and a single speck (1 px, under a tenth of 16): two
        // pieces, and nothing enclosed.
        let myo = Mask::from_fn(11, 11, |r, c| {
            (r < 4 && c < 4) || ((6..10).contains(&r) && (6..10).contains(&c)) || (r, c) == (0, 10)
        });
        let shape = ring_shape(&image(100.0, 10.0, 50.0), &Mask::empty(11, 11), &myo).unwrap();
        assert_eq!((shape.pieces, shape.cavity_px), (2, 0));
        let d = doubts(Some(&shape));
        assert_eq!(d, vec![Doubt::Pieces(2), Doubt::Open]);
        assert_eq!(
            d[0].to_string(),
            "the myocardium found is in 2 pieces, not one ring"
        );
        assert_eq!(d[1].to_string(), "the myocardium found encloses no cavity");
        assert_eq!(
            listed(&d),
            "the myocardium found is in 2 pieces, not one ring; the myocardium found encloses no \
             cavity"
        );
        assert_eq!(listed(&[]), "");
        // A ring cut open at one side (a C) is one piece that encloses nothing: the cut joins
        // the cavity to the outside.
        let c_shape = Mask::from_fn(11, 11, |r, c| {
            square_ring(2, 4).get(r, c) && !(r == 5 && c > 5)
        });
        assert_eq!(
            slice_doubts(&image(100.0, 10.0, 50.0), &Mask::empty(11, 11), &c_shape),
            vec![Doubt::Open]
        );
    }

    #[test]
    fn a_cavity_under_a_twentieth_of_the_wall_is_no_cavity() {
        // A 9 x 9 block with its centre pixel out: a cavity of 1 against 80 wall pixels (1/80,
        // under 1/20), while a 3 x 3 hole (9 against 72, 1/8) is one.
        let pinhole = Mask::from_fn(11, 11, |r, c| {
            r.abs_diff(5).max(c.abs_diff(5)) <= 4 && (r, c) != (5, 5)
        });
        let shape = ring_shape(&image(100.0, 10.0, 50.0), &Mask::empty(11, 11), &pinhole).unwrap();
        assert_eq!((shape.myocardium_px, shape.cavity_px), (80, 1));
        assert_eq!(doubts(Some(&shape)), vec![Doubt::Open]);
    }

    #[test]
    fn no_myocardium_no_doubts_and_non_finite_pixels_are_left_out() {
        assert_eq!(
            ring_shape(&[1.0; 121], &Mask::empty(11, 11), &Mask::empty(11, 11)),
            None
        );
        assert!(doubts(None).is_empty());
        // Infinite outside and NaN on the wall's rows 1-7 (54 of its 72 pixels) leave 27
        // finite values: 18 x 10 (wall rows 8 and 9) and 9 x 100 (cavity). Ranks floor(0.26) =
        // 0 and floor(25.74) = 25: 10 and 100, a range of 90; the wall's median is 10. Counted,
        // the NaN would be the wall's median (total order sorts it above everything) and the
        // infinity the range.
        let myo = square_ring(2, 4);
        let mut pixels = image(100.0, 10.0, f32::INFINITY);
        for (i, p) in pixels.iter_mut().enumerate() {
            if myo.data[i] && i / 11 < 8 {
                *p = f32::NAN;
            }
        }
        let shape = ring_shape(&pixels, &Mask::empty(11, 11), &myo).unwrap();
        assert_eq!(shape.cavity_contrast, Some(1.0));
    }

    #[test]
    fn random_masks_measure_as_a_plain_flood_fill_says() {
        // Random masks and images (NaN and infinite pixels among them) on grids up to 24 x 24:
        // the cavity is what a 4-connected flood fill of the whole grid from its edge does not
        // reach, the pieces are the 8-connected components of at least a tenth of the largest,
        // and a contrast, where there is one, is finite.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        for _ in 0..500 {
            let (rows, cols) = (rng.random_range(1..25), rng.random_range(1..25));
            let density = rng.random_range(0.05..0.8);
            let myo = Mask {
                rows,
                cols,
                data: (0..rows * cols).map(|_| rng.random_bool(density)).collect(),
            };
            let scar = Mask {
                rows,
                cols,
                data: (0..rows * cols).map(|_| rng.random_bool(0.2)).collect(),
            };
            let pixels: Vec<f32> = (0..rows * cols)
                .map(|_| match rng.random_range(0..40) {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    _ => rng.random_range(-100.0..100.0),
                })
                .collect();
            let Some(shape) = ring_shape(&pixels, &scar, &myo) else {
                assert_eq!(myo.area_px(), 0);
                continue;
            };
            // The flood fill, over the whole grid, from every edge pixel outside the wall.
            let mut reached = vec![false; rows * cols];
            let mut todo: Vec<usize> = (0..rows * cols)
                .filter(|i| {
                    let (r, c) = (i / cols, i % cols);
                    (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) && !myo.data[*i]
                })
                .collect();
            for i in &todo {
                reached[*i] = true;
            }
            while let Some(i) = todo.pop() {
                let (r, c) = ((i / cols) as i64, (i % cols) as i64);
                for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let (nr, nc) = (r + dr, c + dc);
                    if nr < 0 || nc < 0 || nr >= rows as i64 || nc >= cols as i64 {
                        continue;
                    }
                    let j = nr as usize * cols + nc as usize;
                    if !reached[j] && !myo.data[j] {
                        reached[j] = true;
                        todo.push(j);
                    }
                }
            }
            let enclosed = (0..rows * cols)
                .filter(|i| !reached[*i] && !myo.data[*i])
                .count();
            assert_eq!(shape.cavity_px, enclosed, "{rows} x {cols}");
            assert_eq!(shape.myocardium_px, myo.area_px());
            let (_, sizes) = components(&myo);
            let largest = *sizes[1..].iter().max().expect("a piece");
            let big = sizes[1..].iter().filter(|s| **s * 10 >= largest).count();
            assert_eq!(shape.pieces, big);
            assert!(
                shape.cavity_contrast.is_none_or(f64::is_finite),
                "{shape:?}"
            );
        }
    }
}
