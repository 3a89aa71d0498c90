//! Where in the wall scar lies, from the endocardium to the epicardium. Ischemic scar starts at
//! the endocardium and grows outwards (the wavefront of infarction), while the scar of
//! myocarditis, dilated and hypertrophic cardiomyopathy and sarcoid spares it: mid-wall or
//! subepicardial (Mahrholdt et al., Eur Heart J 2005). So an LGE read names the pattern before it
//! grades the extent; these measures describe it, per slice, for the reader to name.

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;
use crate::postprocess::{components, intersect};

/// Scar by its depth in the wall: how much of it lies in the wall's inner, middle and outer
/// thirds (a pixel's depth is how far its centre lies from the endocardial edge, as a share of
/// the wall's thickness there: [`scar_depths`]), in mm2 on a slice and in mm3 once a stack's
/// slices are added over their discs; and its connected regions, with how many are
/// subendocardial-based.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScarDepth {
    /// Scar in the inner (subendocardial) third of the wall.
    pub inner: f64,
    /// Scar in the middle third.
    pub middle: f64,
    /// Scar in the outer (subepicardial) third.
    pub outer: f64,
    /// Scar's 8-connected regions.
    pub regions: usize,
    /// Regions with some scar in the inner third or at the cavity's edge: subendocardial-based,
    /// as ischemic scar is.
    pub endocardial_regions: usize,
}

impl ScarDepth {
    /// The thirds' shares of the scar, percent (inner, middle, outer); `None` without scar.
    pub fn thirds_percent(&self) -> Option<[f64; 3]> {
        let total = self.inner + self.middle + self.outer;
        (total > 0.0).then(|| [self.inner, self.middle, self.outer].map(|a| 100.0 * a / total))
    }

    /// Two slices' (or stacks') together: areas weighted by `weight` (a slice's disc height,
    /// turning mm2 into mm3), regions counted.
    pub fn add(&mut self, other: &ScarDepth, weight: f64) {
        self.inner += other.inner * weight;
        self.middle += other.middle * weight;
        self.outer += other.outer * weight;
        self.regions += other.regions;
        self.endocardial_regions += other.endocardial_regions;
    }
}

/// Each scar pixel's depth in the wall, 0 at the endocardial edge and 1 at the epicardial edge,
/// and whether it borders the cavity (among its 8 neighbours), in the order of `scar`'s pixels
/// (row-major); `None` where the myocardium encloses no cavity (an open ring at the base, a wall
/// cut by the slice's edge) or has no outside, since then one of the two edges is missing.
///
/// The cavity is the background the myocardium encloses: what no 4-connected path of background
/// joins to the slice's edge. A pixel's depth is d_endo / (d_endo + d_epi), each the distance in
/// mm from its centre to the nearest pixel square of the cavity or of the outside (exact on
/// non-square pixels): a wall n pixels thick puts its k-th pixel from the cavity (from 0) at
/// (k + 1/2) / n, and a wall one pixel thin at 1/2.
pub fn scar_depths(
    scar: &Mask,
    myocardium: &Mask,
    spacing_mm: [f64; 2],
) -> Option<Vec<(f64, bool)>> {
    let (rows, cols) = (myocardium.rows, myocardium.cols);
    assert_eq!(
        (scar.rows, scar.cols),
        (rows, cols),
        "masks on different grids"
    );
    let outside = outside(myocardium);
    // The background squares that border the wall, by side: the nearest square of either side
    // to a wall pixel is one of them.
    // Kept by row, their columns in each, so that a search can stop at the first row farther
    // than the nearest square found.
    let mut edge = vec![false; rows * cols];
    for i in (0..rows * cols).filter(|&i| myocardium.data[i]) {
        for j in neighbours(rows, cols, i / cols, i % cols) {
            edge[j] |= !myocardium.data[j];
        }
    }
    let (mut endo, mut epi) = (vec![Vec::new(); rows], vec![Vec::new(); rows]);
    for i in (0..rows * cols).filter(|&i| edge[i]) {
        let side = if outside[i] { &mut epi } else { &mut endo };
        side[i / cols].push(i % cols);
    }
    if endo.iter().all(Vec::is_empty) || epi.iter().all(Vec::is_empty) {
        return None;
    }
    let [dy, dx] = spacing_mm;
    // From a pixel's centre to the nearest point of another pixel's square, mm: never 0, so
    // a depth is always defined. Rows k away are searched in turn, up and down, until their
    // squares (at least (k - 1/2) rows away) cannot be nearer than one found.
    let nearest = |r: usize, c: usize, edge: &[Vec<usize>]| -> f64 {
        let mut best = f64::INFINITY;
        for k in 0..rows {
            let y = (k as f64 - 0.5).max(0.0) * dy;
            if y * y >= best {
                break;
            }
            let row_cols = [r.checked_sub(k), Some(r + k).filter(|&n| n < rows && k > 0)];
            for row in row_cols.into_iter().flatten() {
                for &ec in &edge[row] {
                    let x = (c.abs_diff(ec) as f64 - 0.5).max(0.0) * dx;
                    best = best.min(x * x + y * y);
                }
            }
        }
        best.sqrt()
    };
    Some(
        scar.data
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| {
                let (r, c) = (i / cols, i % cols);
                let (to_endo, to_epi) = (nearest(r, c, &endo), nearest(r, c, &epi));
                let cavity = |i: usize| !myocardium.data[i] && !outside[i];
                (
                    to_endo / (to_endo + to_epi),
                    neighbours(rows, cols, r, c).any(cavity),
                )
            })
            .collect(),
    )
}

/// [`ScarDepth`] of one slice's masks (scar outside the myocardium is not counted); `None` where
/// [`scar_depths`] has no depths. A region is subendocardial-based where some of it lies in the
/// inner third or borders the cavity (a wall one or two pixels thin has no inner third to speak
/// of).
pub fn scar_depth(scar: &Mask, myocardium: &Mask, spacing_mm: [f64; 2]) -> Option<ScarDepth> {
    let scar = intersect(scar, myocardium);
    let depths = scar_depths(&scar, myocardium, spacing_mm)?;
    let pixel = spacing_mm[0] * spacing_mm[1];
    // Labels from 1; sizes[0] stands for the background.
    let (labels, sizes) = components(&scar);
    let mut endocardial = vec![false; sizes.len()];
    let mut depth = ScarDepth {
        regions: sizes.len() - 1,
        ..ScarDepth::default()
    };
    let scar_pixels = scar.data.iter().enumerate().filter(|(_, s)| **s);
    for ((i, _), (d, at_cavity)) in scar_pixels.zip(depths) {
        let third = third(d);
        *[&mut depth.inner, &mut depth.middle, &mut depth.outer][third] += pixel;
        if third == 0 || at_cavity {
            endocardial[labels[i] as usize] = true;
        }
    }
    depth.endocardial_regions = endocardial.iter().filter(|e| **e).count();
    Some(depth)
}

/// The third of the wall a depth lies in: 0 inner, 1 middle, 2 outer. A depth on a boundary
/// (a wall of three pixels puts none there) goes outwards.
fn third(depth: f64) -> usize {
    ((depth * 3.0 + 1e-9) as usize).min(2)
}

/// The indices of pixel (r, c) and its 8 neighbours on a `rows` x `cols` grid.
fn neighbours(rows: usize, cols: usize, r: usize, c: usize) -> impl Iterator<Item = usize> {
    (r.saturating_sub(1)..=(r + 1).min(rows - 1)).flat_map(move |nr| {
        (c.saturating_sub(1)..=(c + 1).min(cols - 1)).map(move |nc| nr * cols + nc)
    })
}

/// The indices of pixel `i`'s 4 neighbours on a `rows` x `cols` grid.
fn four_neighbours(rows: usize, cols: usize, i: usize) -> impl Iterator<Item = usize> {
    let (r, c) = (i / cols, i % cols);
    [
        (r > 0).then(|| i - cols),
        (r + 1 < rows).then(|| i + cols),
        (c > 0).then(|| i - 1),
        (c + 1 < cols).then(|| i + 1),
    ]
    .into_iter()
    .flatten()
}

/// The background joined to the slice's edge by a 4-connected path of background.
pub(crate) fn outside(myocardium: &Mask) -> Vec<bool> {
    let (rows, cols) = (myocardium.rows, myocardium.cols);
    // Beyond the wall's bounding box all is background joined to the edge, so the fill runs
    // only inside the box grown by a pixel, from that box's border (the slice's edge where the
    // box reaches it).
    let Some([r0, r1, c0, c1]) = myocardium.bounding_box() else {
        return vec![true; rows * cols];
    };
    let (r0, c0, r1, c1) = (
        r0.saturating_sub(1),
        c0.saturating_sub(1),
        (r1 + 1).min(rows - 1),
        (c1 + 1).min(cols - 1),
    );
    let mut seen = vec![true; rows * cols];
    let mut stack = Vec::new();
    for r in r0..=r1 {
        for c in c0..=c1 {
            let i = r * cols + c;
            let border = r == r0 || r == r1 || c == c0 || c == c1;
            seen[i] = border && !myocardium.data[i];
            if seen[i] {
                stack.push(i);
            }
        }
    }
    while let Some(i) = stack.pop() {
        // Pixels beyond the box are marked already, so the fill stays inside it.
        for j in four_neighbours(rows, cols, i) {
            if !seen[j] && !myocardium.data[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An 11 x 11 grid's pixels at Chebyshev distances `from..=to` from its centre (5, 5).
    pub(crate) fn square_ring(from: usize, to: usize) -> Mask {
        Mask::from_fn(11, 11, |r, c| {
            let d = r.abs_diff(5).max(c.abs_diff(5));
            (from..=to).contains(&d)
        })
    }

    #[test]
    fn depths_by_hand() {
        // A wall three pixels thick (Chebyshev 2 to 4) round a 3 x 3 cavity, the slice's edge
        // outside it. (5, 3): 0.5 px from the cavity square (5, 4), 2.5 from the outside square
        // (5, 0): depth 1/6. (5, 2): 1.5 and 1.5: 1/2. (5, 1): 5/6. The corner (3, 3): sqrt(0.5)
        // from the square (4, 4), 2.5 from (0, 3): 0.707 / 3.207.
        let myo = square_ring(2, 4);
        let mut scar = Mask::empty(11, 11);
        for (r, c) in [(3, 3), (5, 1), (5, 2), (5, 3)] {
            scar.data[r * 11 + c] = true;
        }
        let depths = scar_depths(&scar, &myo, [1.0, 1.0]).expect("a closed wall");
        let h = 0.5f64.sqrt();
        let want = [
            (h / (h + 2.5), true),
            (5.0 / 6.0, false),
            (0.5, false),
            (1.0 / 6.0, true),
        ];
        assert_eq!(depths.len(), 4);
        for ((d, at), (wd, wat)) in depths.iter().zip(want) {
            assert!((d - wd).abs() < 1e-12 && *at == wat, "{depths:?}");
        }
        // The wall's inner ring (Chebyshev 2) borders the cavity, its corners diagonally.
        let inner = square_ring(2, 2);
        let at: Vec<bool> = scar_depths(&inner, &myo, [1.0, 1.0])
            .expect("closed")
            .iter()
            .map(|(_, a)| *a)
            .collect();
        assert_eq!(at, vec![true; 16]);
    }

    #[test]
    fn thirds_and_regions_by_hand() {
        let myo = square_ring(2, 4);
        let spacing = [2.0, 1.0];
        // Scar in the outer ring only (32 pixels of 2 mm2): every pixel in the outer third,
        // one region, not subendocardial-based: the pattern of a subepicardial scar.
        let outer = square_ring(4, 4);
        let d = scar_depth(&outer, &myo, spacing).expect("closed");
        assert_eq!(
            d,
            ScarDepth {
                inner: 0.0,
                middle: 0.0,
                outer: 64.0,
                regions: 1,
                endocardial_regions: 0,
            }
        );
        assert_eq!(d.thirds_percent(), Some([0.0, 0.0, 100.0]));
        // The inner ring (16 pixels): all inner third, subendocardial-based.
        let d = scar_depth(&square_ring(2, 2), &myo, spacing).expect("closed");
        assert_eq!((d.inner, d.middle, d.outer), (32.0, 0.0, 0.0));
        assert_eq!((d.regions, d.endocardial_regions), (1, 1));
        // A mid-wall stripe on the left (column 2, rows 3 to 7: corners excluded, depth 1/2)
        // and a transmural bar on the right (row 5, columns 7 to 9): two regions, one of them
        // reaching the endocardium. Scar outside the myocardium (the cavity's centre) is not
        // counted.
        let mut scar = Mask::empty(11, 11);
        for r in 3..=7 {
            scar.data[r * 11 + 2] = true;
        }
        for c in 7..=9 {
            scar.data[5 * 11 + c] = true;
        }
        scar.data[5 * 11 + 5] = true;
        let d = scar_depth(&scar, &myo, [1.0, 1.0]).expect("closed");
        assert_eq!((d.inner, d.middle, d.outer), (1.0, 6.0, 1.0));
        assert_eq!((d.regions, d.endocardial_regions), (2, 1));
        assert_eq!(d.thirds_percent(), Some([12.5, 75.0, 12.5]));
        // Without scar: no regions and no shares.
        let none = scar_depth(&Mask::empty(11, 11), &myo, spacing).expect("closed");
        assert_eq!((none.regions, none.thirds_percent()), (0, None));
        // A stack of the two slices, the first's areas over a 10 mm disc, the second's over 8.
        let mut stack = ScarDepth::default();
        stack.add(&d, 10.0);
        stack.add(&none, 8.0);
        assert_eq!((stack.inner, stack.middle, stack.outer), (10.0, 60.0, 10.0));
        assert_eq!((stack.regions, stack.endocardial_regions), (2, 1));
    }

    #[test]
    fn a_wall_one_pixel_thin_borders_both_sides() {
        // Every pixel of a one-pixel ring touches both the cavity and the outside: depth 1/2,
        // and its scar is subendocardial-based.
        let myo = square_ring(3, 3);
        let d = scar_depth(&myo, &myo, [1.0, 1.0]).expect("closed");
        assert_eq!((d.inner, d.middle, d.outer), (0.0, 24.0, 0.0));
        assert_eq!((d.regions, d.endocardial_regions), (1, 1));
    }

    #[test]
    fn an_open_wall_has_no_depth() {
        // The ring cut through to the slice's edge at 3 o'clock: its cavity joins the outside.
        let mut myo = square_ring(2, 4);
        for c in 7..=9 {
            myo.data[5 * 11 + c] = false;
        }
        assert_eq!(scar_depth(&myo, &myo, [1.0, 1.0]), None);
        // A wall filling the whole slice has no outside.
        let full = Mask::from_fn(5, 5, |r, c| !(r == 2 && c == 2));
        assert_eq!(scar_depth(&full, &full, [1.0, 1.0]), None);
        assert_eq!(
            scar_depth(&Mask::empty(5, 5), &Mask::empty(5, 5), [1.0, 1.0]),
            None
        );
    }

    #[test]
    fn the_row_by_row_search_finds_the_nearest_square() {
        // Against every pair, on phantom walls with their scar taken as the whole wall and
        // pixels stretched to 1.3 x 0.7 mm, where the nearest square is often rows away; the
        // outside found here by sweeping the grid until nothing changes, not by a fill.
        use crate::phantom::{PhantomConfig, generate};
        let spacing = [1.3, 0.7];
        let mut checked = 0;
        for seed in 0..6u64 {
            let case = generate(7_200_000 + seed, &PhantomConfig::default());
            let myo = case.slices[0].myocardium();
            let (rows, cols) = (myo.rows, myo.cols);
            let mut out: Vec<bool> = (0..rows * cols)
                .map(|i| {
                    let (r, c) = (i / cols, i % cols);
                    !myo.data[i] && (r == 0 || c == 0 || r + 1 == rows || c + 1 == cols)
                })
                .collect();
            let mut changed = true;
            while changed {
                changed = false;
                for i in 0..rows * cols {
                    let (r, c) = (i / cols, i % cols);
                    let joined = (r > 0 && out[i - cols])
                        || (r + 1 < rows && out[i + cols])
                        || (c > 0 && out[i - 1])
                        || (c + 1 < cols && out[i + 1]);
                    if !myo.data[i] && !out[i] && joined {
                        out[i] = true;
                        changed = true;
                    }
                }
            }
            assert_eq!(out, outside(&myo), "seed {seed}");
            let side = |want_outside: bool| -> Vec<(usize, usize)> {
                (0..myo.data.len())
                    .filter(|&i| !myo.data[i] && out[i] == want_outside)
                    .map(|i| (i / cols, i % cols))
                    .collect()
            };
            let (endo, epi) = (side(false), side(true));
            let brute = |r: usize, c: usize, edge: &[(usize, usize)]| -> f64 {
                edge.iter()
                    .map(|&(a, b)| {
                        let y = (r.abs_diff(a) as f64 - 0.5).max(0.0) * spacing[0];
                        let x = (c.abs_diff(b) as f64 - 0.5).max(0.0) * spacing[1];
                        (x * x + y * y).sqrt()
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            let depths = scar_depths(&myo, &myo, spacing).expect("closed");
            let pixels = (0..myo.data.len()).filter(|&i| myo.data[i]);
            for (i, (d, _)) in pixels.zip(depths) {
                let (r, c) = (i / cols, i % cols);
                let (e, o) = (brute(r, c, &endo), brute(r, c, &epi));
                assert!(
                    (d - e / (e + o)).abs() < 1e-12,
                    "seed {seed}, pixel ({r}, {c})"
                );
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    proptest::proptest! {
        // Any masks a network or a brush can give: never a panic (the page measures every
        // slice the user corrects), every depth within the wall, and the thirds adding up to
        // the scar within the myocardium.
        #[test]
        fn any_masks_measure_sensibly(
            rows in 1usize..9,
            cols in 1usize..9,
            bits in proptest::collection::vec(0u8..4, 64),
            dy in 0.3f64..3.0,
            dx in 0.3f64..3.0,
        ) {
            let mask = |bit: u8| Mask::from_fn(rows, cols, |r, c| bits[r * 8 + c] & bit != 0);
            let (scar, myo) = (mask(1), mask(2));
            if let Some(depths) = scar_depths(&scar, &myo, [dy, dx]) {
                proptest::prop_assert_eq!(depths.len(), scar.area_px());
                proptest::prop_assert!(depths.iter().all(|(d, _)| (0.0..=1.0).contains(d)));
            }
            if let Some(d) = scar_depth(&scar, &myo, [dy, dx]) {
                let inside = scar.data.iter().zip(&myo.data).filter(|(s, m)| **s && **m).count();
                let total = d.inner + d.middle + d.outer;
                proptest::prop_assert!((total - inside as f64 * dy * dx).abs() < 1e-9);
                proptest::prop_assert!(d.endocardial_regions <= d.regions);
                proptest::prop_assert!(d.regions <= inside);
            }
        }
    }

    #[test]
    fn the_phantoms_ischemic_scar_starts_at_the_endocardium() {
        // The phantom draws scar from the endocardium outwards to a chosen depth
        // (`transmurality`, tapering at the territory's edges), so on its exact labels every
        // region of a scar that is not patchy is subendocardial-based, a scar drawn through
        // less than 30% of the wall has none in the outer third and more in the inner than in
        // the middle, and one drawn through 90% or more reaches the outer third.
        use crate::phantom::{PhantomConfig, generate};
        let config = PhantomConfig {
            slices: 3,
            ..PhantomConfig::default()
        };
        let (mut shallow, mut deep, mut regions) = (0, 0, 0);
        for seed in 0..60u64 {
            let case = generate(7_100_000 + seed, &config);
            let p = &case.params;
            let mut total = ScarDepth::default();
            for s in &case.slices {
                let myo = s.myocardium();
                if myo.area_px() == 0 {
                    continue;
                }
                let d = scar_depth(&s.scar(), &myo, s.image.spacing_mm)
                    .unwrap_or_else(|| panic!("seed {}: the phantom's wall is closed", p.seed));
                total.add(&d, 1.0);
            }
            if p.territory.is_none() || p.patchy {
                continue;
            }
            regions += total.regions;
            assert_eq!(
                total.endocardial_regions, total.regions,
                "seed {}: {p:?}",
                p.seed
            );
            if p.transmurality < 0.3 {
                shallow += 1;
                assert_eq!(total.outer, 0.0, "seed {}: {total:?}", p.seed);
                assert!(total.inner > total.middle, "seed {}: {total:?}", p.seed);
            } else if p.transmurality >= 0.9 {
                deep += 1;
                assert!(total.outer > 0.0, "seed {}: {total:?}", p.seed);
            }
        }
        assert!(
            shallow >= 3 && deep >= 3 && regions >= 20,
            "{shallow} {deep} {regions}"
        );
    }

    #[test]
    fn the_phantoms_non_ischemic_scar_spares_the_endocardium() {
        // Subepicardial scar reaches in from the epicardium through at most 60% of the wall, so
        // none of it lies in the inner third and no region reaches the endocardium. A mid-wall
        // band keeps at least 15% of the wall healthy on either side, so most of it lies in
        // the middle third and little of it borders the cavity or the outside: a pixel's
        // neighbour differs from it by a pixel's share of the wall, so only where the wall is
        // under about seven pixels thick (thin septa at coarse spacing) can the band reach a
        // border on the grid.
        use crate::phantom::{PhantomConfig, ScarPattern, generate, label};
        let (mut mid, mut bordering, mut mid_pixels, mut epi_cases) =
            (ScarDepth::default(), 0, 0, 0);
        for pattern in [ScarPattern::MidWall, ScarPattern::Subepicardial] {
            let config = PhantomConfig {
                slices: 3,
                pattern,
                ..PhantomConfig::default()
            };
            for seed in 0..60u64 {
                let case = generate(7_300_000 + seed, &config);
                let p = &case.params;
                if p.territory.is_none() {
                    continue;
                }
                assert_eq!(p.pattern, Some(pattern), "seed {}", p.seed);
                let mut total = ScarDepth::default();
                for s in &case.slices {
                    let d = scar_depth(&s.scar(), &s.myocardium(), s.image.spacing_mm)
                        .unwrap_or_else(|| panic!("seed {}: the phantom's wall is closed", p.seed));
                    total.add(&d, 1.0);
                    let (rows, cols) = (s.image.rows, s.image.cols);
                    for i in (0..rows * cols).filter(|&i| s.labels[i] >= label::SCAR) {
                        mid_pixels += usize::from(pattern == ScarPattern::MidWall);
                        if pattern == ScarPattern::MidWall
                            && four_neighbours(rows, cols, i)
                                .any(|j| s.labels[j] < label::MYOCARDIUM)
                        {
                            bordering += 1;
                        }
                    }
                }
                if pattern == ScarPattern::Subepicardial {
                    epi_cases += 1;
                    assert_eq!(total.inner, 0.0, "seed {}: {total:?}", p.seed);
                    assert_eq!(total.endocardial_regions, 0, "seed {}: {total:?}", p.seed);
                    assert!(total.outer > total.middle, "seed {}: {total:?}", p.seed);
                } else {
                    mid.add(&total, 1.0);
                }
            }
        }
        let [inner, middle, outer] = mid.thirds_percent().expect("mid-wall scar");
        assert!(
            middle > 60.0 && inner < 25.0 && outer < 25.0,
            "mid-wall scar by third: {inner:.0} / {middle:.0} / {outer:.0}%"
        );
        assert!(
            epi_cases >= 40 && mid_pixels > 3000 && bordering * 10 < mid_pixels,
            "{epi_cases} cases; {bordering} of {mid_pixels} mid-wall scar pixels at a border"
        );
    }
}
