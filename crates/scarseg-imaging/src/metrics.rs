//! Segmentation metrics exactly as `shared/design/MODEL.md` defines them: Dice, HD95 in pixels and
//! millimetres, scar burden per slice and per stack, the >5% high-risk flag, and the dataset
//! aggregates of the papers' tables; beyond MODEL.md, surface Dice at a tolerance (it tells an
//! outline drawn a pixel off from a scar missed), scar's extent through the wall by sector (how
//! LGE reads grade viability), and the AHA segments once the user has marked the right
//! ventricle's insertion.

/// The clinical high-risk threshold on scar burden, in percent (the ScarSegNet paper).
pub const HIGH_RISK_BURDEN_PERCENT: f64 = 5.0;

/// The specific gravity of myocardium, g/mL, by which CMR turns myocardial and scar volumes into
/// masses (LV mass; LGE reported in grams and as a percentage of LV mass: the SCMR's
/// post-processing recommendations, Schulz-Menger et al., JCMR 2020).
pub const MYOCARDIAL_DENSITY_G_PER_ML: f64 = 1.05;

/// The mass of a volume of myocardium (scarred or not), grams, from mm3.
pub fn myocardial_mass_g(volume_mm3: f64) -> f64 {
    volume_mm3 / 1000.0 * MYOCARDIAL_DENSITY_G_PER_ML
}

/// A binary mask on a `rows` x `cols` grid, row-major.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mask {
    /// Rows (height).
    pub rows: usize,
    /// Columns (width).
    pub cols: usize,
    /// `rows * cols` values, row-major; true inside.
    pub data: Vec<bool>,
}

impl Mask {
    /// An empty mask.
    pub fn empty(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![false; rows * cols],
        }
    }

    /// A mask from a predicate on (row, col).
    pub fn from_fn(rows: usize, cols: usize, f: impl Fn(usize, usize) -> bool) -> Self {
        let data = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
        Self { rows, cols, data }
    }

    /// Number of pixels inside.
    pub fn area_px(&self) -> usize {
        self.data.iter().filter(|v| **v).count()
    }

    /// Whether (row, col) is inside.
    pub fn get(&self, row: usize, col: usize) -> bool {
        self.data[row * self.cols + col]
    }

    /// The rows and columns the mask spans: [first row, last row, first column, last column];
    /// `None` when it is empty.
    pub fn bounding_box(&self) -> Option<[usize; 4]> {
        let mut points = self
            .data
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| (i / self.cols, i % self.cols));
        let (r, c) = points.next()?;
        Some(points.fold([r, r, c, c], |[r0, r1, c0, c1], (r, c)| {
            [r0.min(r), r1.max(r), c0.min(c), c1.max(c)]
        }))
    }

    /// Pixels inside that have a 4-neighbour outside the mask or lie on the image edge.
    pub fn boundary(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for r in 0..self.rows {
            for c in 0..self.cols {
                if !self.get(r, c) {
                    continue;
                }
                let edge = r == 0 || c == 0 || r + 1 == self.rows || c + 1 == self.cols;
                if edge
                    || !self.get(r - 1, c)
                    || !self.get(r + 1, c)
                    || !self.get(r, c - 1)
                    || !self.get(r, c + 1)
                {
                    out.push((r, c));
                }
            }
        }
        out
    }
}

/// Dice = 2 |A n B| / (|A| + |B|), with empty-vs-empty = 1.
///
/// # Panics
/// If the masks' grids differ (a programming error, not a data error).
pub fn dice(a: &Mask, b: &Mask) -> f64 {
    assert_eq!(
        (a.rows, a.cols),
        (b.rows, b.cols),
        "Dice of masks on different grids"
    );
    let (mut inter, mut na, mut nb) = (0usize, 0usize, 0usize);
    for (x, y) in a.data.iter().zip(&b.data) {
        inter += (*x && *y) as usize;
        na += *x as usize;
        nb += *y as usize;
    }
    if na + nb == 0 {
        1.0
    } else {
        2.0 * inter as f64 / (na + nb) as f64
    }
}

/// |A n B|, pixels: with the masks' areas, the parts of a Dice that add up over a stack's
/// slices (a patient's volume Dice).
///
/// # Panics
/// If the masks' grids differ (a programming error, not a data error).
pub fn intersection_px(a: &Mask, b: &Mask) -> usize {
    assert_eq!(
        (a.rows, a.cols),
        (b.rows, b.cols),
        "intersection of masks on different grids"
    );
    a.data
        .iter()
        .zip(&b.data)
        .filter(|(x, y)| **x && **y)
        .count()
}

/// The median of `values` (the upper of the two middle ones for an even count, a value the
/// data holds); `None` when empty.
pub(crate) fn median(mut values: Vec<f32>) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mid = values.len() / 2;
    Some(*values.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// The q-th percentile (0..=100) with linear interpolation between order statistics (NumPy's
/// default). `None` for an empty slice.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let fraction = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// Directed distances from every boundary pixel of `from` to the nearest boundary pixel of `to`,
/// with pixel spacing (row, col) in any unit.
fn directed_distances(
    from: &[(usize, usize)],
    to: &[(usize, usize)],
    spacing: [f64; 2],
) -> Vec<f64> {
    from.iter()
        .map(|&(r, c)| {
            to.iter()
                .map(|&(r2, c2)| {
                    let dr = (r as f64 - r2 as f64) * spacing[0];
                    let dc = (c as f64 - c2 as f64) * spacing[1];
                    dr * dr + dc * dc
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

/// Symmetric 95th-percentile Hausdorff distance between the masks' boundaries, with pixel spacing
/// `[row, col]` (use `[1, 1]` for pixels, the image's spacing for mm). **\[decided\]** It is the
/// larger of the two directed 95th percentiles (MONAI's and DeepMind's surface-distance
/// convention; MedPy's `hd95` takes the percentile of both directions' distances pooled, which
/// can be lower). `None` (undefined, never 0)
/// when either mask is empty.
pub fn hd95(a: &Mask, b: &Mask, spacing: [f64; 2]) -> Option<f64> {
    assert_eq!(
        (a.rows, a.cols),
        (b.rows, b.cols),
        "HD95 of masks on different grids"
    );
    let (ba, bb) = (a.boundary(), b.boundary());
    if ba.is_empty() || bb.is_empty() {
        return None;
    }
    let ab = percentile(&directed_distances(&ba, &bb, spacing), 95.0)?;
    let ba_ = percentile(&directed_distances(&bb, &ba, spacing), 95.0)?;
    Some(ab.max(ba_))
}

/// Hausdorff distances between two masks of a stack in three dimensions, mm: `a` and `b` hold
/// one mask per slice (the same slices, on one grid), `spacing` the in-plane `[row, col]`
/// spacing and `z` each slice's position along the stack's normal. Surface voxels are those
/// with a face neighbour outside the mask (the slices above and below included, so the first
/// and last slices' masks are surface throughout), as MedPy takes them with the slices'
/// spacing as voxel spacing (EMIDEC scores the myocardium by this Hausdorff distance). Returns
/// (Hausdorff distance, 95th-percentile Hausdorff distance, the larger directed percentile as
/// [`hd95`] takes it); `None` when either mask is empty or the slices do not share a grid.
pub fn hausdorff_3d(a: &[&Mask], b: &[&Mask], spacing: [f64; 2], z: &[f64]) -> Option<(f64, f64)> {
    let grid = (a.first()?.rows, a.first()?.cols);
    if a.len() != b.len()
        || a.len() != z.len()
        || a.iter().chain(b).any(|m| (m.rows, m.cols) != grid)
    {
        return None;
    }
    let surface = |masks: &[&Mask]| -> Vec<[f64; 3]> {
        let mut out = Vec::new();
        let inside = |k: usize, r: usize, c: usize| masks[k].get(r, c);
        for (k, m) in masks.iter().enumerate() {
            for r in 0..m.rows {
                for c in 0..m.cols {
                    if !m.get(r, c) {
                        continue;
                    }
                    let on_surface = k == 0
                        || k + 1 == masks.len()
                        || r == 0
                        || c == 0
                        || r + 1 == m.rows
                        || c + 1 == m.cols
                        || !inside(k - 1, r, c)
                        || !inside(k + 1, r, c)
                        || !m.get(r - 1, c)
                        || !m.get(r + 1, c)
                        || !m.get(r, c - 1)
                        || !m.get(r, c + 1);
                    if on_surface {
                        out.push([r as f64 * spacing[0], c as f64 * spacing[1], z[k]]);
                    }
                }
            }
        }
        out
    };
    let (sa, sb) = (surface(a), surface(b));
    if sa.is_empty() || sb.is_empty() {
        return None;
    }
    let directed = |from: &[[f64; 3]], to: &[[f64; 3]]| -> Vec<f64> {
        from.iter()
            .map(|p| {
                to.iter()
                    .map(|q| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2))
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
            })
            .collect()
    };
    let (ab, ba) = (directed(&sa, &sb), directed(&sb, &sa));
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let hd = max(&ab).max(max(&ba));
    let hd95 = percentile(&ab, 95.0)?.max(percentile(&ba, 95.0)?);
    Some((hd, hd95))
}

/// Surface Dice at a tolerance (Nikolov et al. 2018's normalised surface Dice): the share of
/// both masks' boundary pixels (as for HD95) that lie within `tolerance` of the other mask's
/// boundary, with pixel spacing `[row, col]` in the tolerance's unit. Unlike Dice it does not
/// count a boundary drawn one pixel off as wrong, so on small blurred scars it separates
/// "found it, edge a pixel off" from "missed it". **\[decided\]** 1 when both masks are empty,
/// 0 when only one is.
pub fn surface_dice(a: &Mask, b: &Mask, spacing: [f64; 2], tolerance: f64) -> f64 {
    assert_eq!(
        (a.rows, a.cols),
        (b.rows, b.cols),
        "surface Dice of masks on different grids"
    );
    let (ba, bb) = (a.boundary(), b.boundary());
    if ba.is_empty() && bb.is_empty() {
        return 1.0;
    }
    if ba.is_empty() || bb.is_empty() {
        return 0.0;
    }
    let within = |from: &[(usize, usize)], to: &[(usize, usize)]| {
        directed_distances(from, to, spacing)
            .into_iter()
            .filter(|d| *d <= tolerance)
            .count()
    };
    (within(&ba, &bb) + within(&bb, &ba)) as f64 / (ba.len() + bb.len()) as f64
}

/// Scar burden in percent: scar area / myocardium area x 100. `None` without myocardium.
pub fn burden_percent(scar_area: f64, myocardium_area: f64) -> Option<f64> {
    (myocardium_area > 0.0).then(|| (scar_area / myocardium_area * 100.0).clamp(0.0, 100.0))
}

/// Per-stack burden: sum of scar volumes / sum of myocardium volumes x 100, each slice's areas
/// weighted by its thickness. `slices` are `(scar_area_mm2, myocardium_area_mm2, thickness_mm)`.
pub fn stack_burden_percent(slices: &[(f64, f64, f64)]) -> Option<f64> {
    let scar: f64 = slices.iter().map(|(s, _, t)| s * t).sum();
    let myo: f64 = slices.iter().map(|(_, m, t)| m * t).sum();
    burden_percent(scar, myo)
}

/// The high-risk flag: burden strictly above 5%.
pub fn high_risk(burden_percent: f64) -> bool {
    burden_percent > HIGH_RISK_BURDEN_PERCENT
}

/// Mean and sample standard deviation (n - 1); SD is 0 for one value. `None` when empty.
pub fn mean_sd(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some((mean, sd))
}

/// Coefficient of variation SD / mean (ScarNet's noise protocol). `None` when the mean is 0.
pub fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    let (mean, sd) = mean_sd(values)?;
    (mean != 0.0).then(|| sd / mean.abs())
}

/// Pearson correlation. `None` with fewer than two pairs or a constant series.
pub fn pearson_r(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    // Rounding can carry a perfect correlation just past 1 (1.0000000000000002 was printed for
    // two cases); r is in [-1, 1] by definition.
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Bland-Altman agreement of paired measurements of one quantity (Bland and Altman, Lancet
/// 1986): the mean difference `a - b` (the bias), the differences' sample SD, and the 95% limits
/// of agreement, bias +- 1.96 SD, within which most methods' differences lie.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BlandAltman {
    /// The mean difference, `a - b` (named `mean` so that tables of means read it alike).
    pub mean: f64,
    /// The differences' sample SD.
    pub sd: f64,
    /// Pairs.
    pub n: usize,
    /// bias - 1.96 SD.
    pub lower_loa: f64,
    /// bias + 1.96 SD.
    pub upper_loa: f64,
}

/// [`BlandAltman`] of `a` against `b`; `None` for fewer than two pairs (no SD) or series of
/// different lengths.
pub fn bland_altman(a: &[f64], b: &[f64]) -> Option<BlandAltman> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, sd) = mean_sd(&d)?;
    Some(BlandAltman {
        mean,
        sd,
        n: d.len(),
        lower_loa: mean - 1.96 * sd,
        upper_loa: mean + 1.96 * sd,
    })
}

/// The mean squares of a two-way analysis of variance of two measurements of each of `n`
/// subjects (subjects by raters, one measurement per cell), from which [`icc_agreement`] and
/// its confidence interval are computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoWayAnova {
    /// Subjects.
    pub n: usize,
    /// Between subjects (rows), n - 1 degrees of freedom.
    pub ms_subjects: f64,
    /// Between the two raters (columns), 1 degree of freedom.
    pub ms_raters: f64,
    /// Residual, n - 1 degrees of freedom.
    pub ms_error: f64,
}

/// A least-squares line `y = slope x + intercept`, as papers report a method's measurements
/// (y) against the reference's (x): ScarNet's "y = 0.96x - 0.11, R^2 = 1.0".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearFit {
    /// Slope: 1 where the method scales as the reference does.
    pub slope: f64,
    /// Intercept, in y's unit.
    pub intercept: f64,
    /// The share of y's variance the line explains (Pearson's r squared).
    pub r_squared: f64,
}

/// [`LinearFit`] of `y` on `x`; `None` for fewer than two pairs, series of different lengths,
/// or a constant `x` (no slope) or `y` (no R^2).
pub fn linear_fit(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let r = pearson_r(x, y)?;
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let slope = sxy / sxx;
    Some(LinearFit {
        slope,
        intercept: my - slope * mx,
        r_squared: r * r,
    })
}

/// [`TwoWayAnova`] of `a` against `b`; `None` for fewer than two subjects or series of different
/// lengths.
pub fn two_way_anova(a: &[f64], b: &[f64]) -> Option<TwoWayAnova> {
    let n = a.len();
    if n != b.len() || n < 2 {
        return None;
    }
    let (nf, k) = (n as f64, 2.0);
    let grand = (a.iter().sum::<f64>() + b.iter().sum::<f64>()) / (k * nf);
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / nf, b.iter().sum::<f64>() / nf);
    // Between subjects, between the two raters, in all.
    let ss_subjects: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| k * ((x + y) / k - grand).powi(2))
        .sum();
    let ss_raters = nf * ((mean_a - grand).powi(2) + (mean_b - grand).powi(2));
    let ss_total: f64 = a.iter().chain(b).map(|v| (v - grand).powi(2)).sum();
    Some(TwoWayAnova {
        n,
        ms_subjects: ss_subjects / (nf - 1.0),
        ms_raters: ss_raters / (k - 1.0),
        ms_error: ((ss_total - ss_subjects - ss_raters) / ((nf - 1.0) * (k - 1.0))).max(0.0),
    })
}

/// The intraclass correlation of two measurements of each subject, two-way random effects,
/// absolute agreement, single measurement: ICC(A,1) of McGraw and Wong (1996), Shrout and
/// Fleiss's ICC(2,1). Unlike Pearson's r, a constant offset between the two lowers it, which is
/// why agreement studies quote it. `None` for fewer than two subjects, series of different
/// lengths, or no variance at all.
pub fn icc_agreement(a: &[f64], b: &[f64]) -> Option<f64> {
    let t = two_way_anova(a, b)?;
    let (nf, k) = (t.n as f64, 2.0);
    let denominator = t.ms_subjects + (k - 1.0) * t.ms_error + k / nf * (t.ms_raters - t.ms_error);
    (denominator > 0.0).then(|| (t.ms_subjects - t.ms_error) / denominator)
}

/// Counts of a predicted flag against the reference flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    /// Flagged, and so in the reference.
    pub true_positive: usize,
    /// Not flagged, but flagged in the reference.
    pub false_negative: usize,
    /// Not flagged, nor in the reference.
    pub true_negative: usize,
    /// Flagged, but not in the reference.
    pub false_positive: usize,
}

impl Confusion {
    /// Counts `predicted` against `reference`, pair by pair.
    pub fn of(predicted: &[bool], reference: &[bool]) -> Self {
        let mut c = Confusion::default();
        for (p, r) in predicted.iter().zip(reference) {
            match (p, r) {
                (true, true) => c.true_positive += 1,
                (false, true) => c.false_negative += 1,
                (false, false) => c.true_negative += 1,
                (true, false) => c.false_positive += 1,
            }
        }
        c
    }

    /// The reference's positives.
    pub fn positives(&self) -> usize {
        self.true_positive + self.false_negative
    }

    /// The reference's negatives.
    pub fn negatives(&self) -> usize {
        self.true_negative + self.false_positive
    }

    /// True positives over the reference's positives; `None` without any.
    pub fn sensitivity(&self) -> Option<f64> {
        let n = self.positives();
        (n > 0).then(|| self.true_positive as f64 / n as f64)
    }

    /// True negatives over the reference's negatives; `None` without any.
    pub fn specificity(&self) -> Option<f64> {
        let n = self.negatives();
        (n > 0).then(|| self.true_negative as f64 / n as f64)
    }
}

/// Sensitivity and specificity of a predicted flag against the reference flag. Each is `None`
/// when the reference has no positives (or no negatives).
pub fn sensitivity_specificity(
    predicted: &[bool],
    reference: &[bool],
) -> (Option<f64>, Option<f64>) {
    let c = Confusion::of(predicted, reference);
    (c.sensitivity(), c.specificity())
}

/// Sectors of the wall in [`sector_scar_percent`]: twelve of 30 degrees.
pub const WALL_SECTORS: usize = 12;

/// A sector whose scar exceeds this share of its myocardium is "transmural" in the reports:
/// above half the wall's thickness, dysfunctional myocardium rarely recovers (Kim et al., NEJM
/// 2000), which is why LGE reads grade scar by its transmural extent.
pub const TRANSMURAL_PERCENT: f64 = 50.0;

/// Scar's extent through the wall, sector by sector: the wall is cut into `sectors` equal
/// angles around the myocardium's centroid, the first starting at 12 o'clock as the image is
/// shown (towards its first row) and the others following clockwise; each sector's value is the
/// percentage of its myocardium that is scar, an area-based transmural extent. Angles are taken
/// in mm, so that non-square pixels keep the wall's shape. `None` for a sector that holds no
/// myocardium (a wall cut by the slice's edge or a partial ring at the apex); empty without
/// myocardium. The sectors are not the AHA segments, which start at the right ventricle's
/// insertion, a landmark the network does not draw: [`aha_slice_counts`] takes it from the user.
pub fn sector_scar_percent(
    scar: &Mask,
    myocardium: &Mask,
    spacing_mm: [f64; 2],
    sectors: usize,
) -> Vec<Option<f64>> {
    wall_counts(scar, myocardium, spacing_mm, sectors, 0.0, true)
        .into_iter()
        .map(|(m, s)| (m > 0).then(|| 100.0 * s as f64 / m as f64))
        .collect()
}

/// Myocardium and scar pixels in `sectors` equal angles around the wall's centroid, the first
/// starting at `start_deg` (clockwise from 12 o'clock on screen) and the rest following
/// clockwise or counterclockwise; empty without myocardium.
fn wall_counts(
    scar: &Mask,
    myocardium: &Mask,
    spacing_mm: [f64; 2],
    sectors: usize,
    start_deg: f64,
    clockwise: bool,
) -> Vec<(usize, usize)> {
    assert_eq!(
        (scar.rows, scar.cols),
        (myocardium.rows, myocardium.cols),
        "sectors of masks on different grids"
    );
    let Some((cx, cy)) = wall_centre_mm(myocardium, spacing_mm).filter(|_| sectors > 0) else {
        return Vec::new();
    };
    let width = 360.0 / sectors as f64;
    let mut counts = vec![(0usize, 0usize); sectors];
    for (i, (x, y)) in wall_points_mm(myocardium, spacing_mm) {
        let angle = clock_angle_deg(x - cx, y - cy);
        let from_start = if clockwise {
            angle - start_deg
        } else {
            start_deg - angle
        };
        // A pixel on a boundary (at 90 degrees, say) starts the next sector, whatever the
        // rounding in atan2 and the degrees.
        let k = ((from_start.rem_euclid(360.0) / width + 1e-9) as usize) % sectors;
        counts[k].0 += 1;
        counts[k].1 += scar.data[i] as usize;
    }
    counts
}

/// The centroid of the myocardium, in mm right of and below the first pixel's centre (x, y), around
/// which [`sector_scar_percent`] cuts the wall (and the page draws its sectors); `None` without
/// myocardium.
pub fn wall_centre_mm(myocardium: &Mask, spacing_mm: [f64; 2]) -> Option<(f64, f64)> {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (_, (x, y)) in wall_points_mm(myocardium, spacing_mm) {
        n += 1;
        sx += x;
        sy += y;
    }
    (n > 0).then(|| (sx / n as f64, sy / n as f64))
}

/// Each myocardium pixel's index and its centre in mm right of and below the first pixel's
/// (x, y): the one place the wall's measures turn pixels into millimetres.
pub fn wall_points_mm(
    myocardium: &Mask,
    spacing_mm: [f64; 2],
) -> impl Iterator<Item = (usize, (f64, f64))> + '_ {
    let [dy, dx] = spacing_mm;
    let cols = myocardium.cols;
    myocardium
        .data
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(move |(i, _)| (i, ((i % cols) as f64 * dx, (i / cols) as f64 * dy)))
}

/// The angle of an offset `x` mm right and `y` mm down on screen, in degrees clockwise from 12
/// o'clock, in (-180, 180]: the one convention the sectors, the AHA segments and a click on the
/// image share.
pub fn clock_angle_deg(x: f64, y: f64) -> f64 {
    x.atan2(-y).to_degrees()
}

/// Whether a sector whose scar is `percent` of its myocardium is transmural: strictly above
/// [`TRANSMURAL_PERCENT`]. The one rule the reports, `eval` and the viewer apply.
pub fn is_transmural(percent: f64) -> bool {
    percent > TRANSMURAL_PERCENT
}

/// How many sectors' scar exceeds [`TRANSMURAL_PERCENT`] of their myocardium.
pub fn transmural_sectors(sector_percent: &[Option<f64>]) -> usize {
    sector_percent
        .iter()
        .filter(|p| p.is_some_and(is_transmural))
        .count()
}

/// The segments of the AHA 17-segment model (Cerqueira et al., Circulation 2002) that an LGE
/// read grades, numbered 1 to 16 in this order; the 17th, the apical cap beyond the cavity, is
/// not cut by short-axis slices through the cavity and is left out.
pub const AHA_SEGMENT_NAMES: [&str; 16] = [
    "basal anterior",
    "basal anteroseptal",
    "basal inferoseptal",
    "basal inferior",
    "basal inferolateral",
    "basal anterolateral",
    "mid anterior",
    "mid anteroseptal",
    "mid inferoseptal",
    "mid inferior",
    "mid inferolateral",
    "mid anterolateral",
    "apical anterior",
    "apical septal",
    "apical inferior",
    "apical lateral",
];

/// The coronary territory the AHA assigns each segment (Cerqueira et al., Circulation 2002),
/// with its segment numbers: the typical supply, which a dominant or wrapped artery shifts.
pub const CORONARY_TERRITORIES: [(&str, &[usize]); 3] = [
    ("LAD", &[1, 2, 7, 8, 13, 14]),
    ("RCA", &[3, 4, 9, 10, 15]),
    ("LCx", &[5, 6, 11, 12, 16]),
];

/// A short-axis slice's third of the ventricle, base to apex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WallLevel {
    /// Segments 1 to 6.
    Basal,
    /// Segments 7 to 12.
    Mid,
    /// Segments 13 to 16.
    Apical,
}

/// Where a stack's AHA segments start: the landmark the network does not draw, marked by the
/// user on the image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AhaOrientation {
    /// The anterior insertion of the right ventricle's wall into the septum, in degrees
    /// clockwise from 12 o'clock on screen, around each slice's wall centroid.
    pub anterior_insertion_deg: f64,
    /// Whether the septum runs clockwise from the insertion on screen. The standard short-axis
    /// display (seen from the apex: anterior up, septum on the viewer's left) has it
    /// counterclockwise, `false`; an image stored mirrored has it clockwise.
    pub septum_clockwise: bool,
}

/// How a short-axis slice at one level is cut into AHA segments: basal and mid slices into six
/// 60-degree segments, the first (anteroseptal) starting at the anterior RV insertion and
/// running towards the septum: anteroseptal, inferoseptal, inferior, inferolateral,
/// anterolateral, anterior. Apical slices into four 90-degree segments centred as the AHA
/// bull's-eye draws them, the septal one on the middle of the basal and mid septum (60 degrees
/// from the insertion), so starting 15 degrees past it: septal, inferior, lateral, anterior.
/// The one table [`aha_slice_counts`] cuts by and the viewer draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AhaCut {
    /// Where the segments start.
    pub orientation: AhaOrientation,
    /// Degrees from the insertion, towards the septum, at which the first segment starts.
    pub offset_deg: f64,
    /// Each segment's width, degrees.
    pub width_deg: f64,
    /// The segments' indices (0..16), in order towards the septum from the first.
    pub segments: &'static [usize],
}

impl AhaCut {
    /// The cut of a slice at `level`.
    pub fn new(orientation: AhaOrientation, level: WallLevel) -> Self {
        let (offset_deg, width_deg, segments): (f64, f64, &'static [usize]) = match level {
            WallLevel::Basal => (0.0, 60.0, &[1, 2, 3, 4, 5, 0]),
            WallLevel::Mid => (0.0, 60.0, &[7, 8, 9, 10, 11, 6]),
            WallLevel::Apical => (15.0, 90.0, &[13, 14, 15, 12]),
        };
        Self {
            orientation,
            offset_deg,
            width_deg,
            segments,
        }
    }

    /// The screen angle (degrees clockwise from 12 o'clock, not wrapped) `deg` degrees from
    /// the insertion towards the septum.
    pub fn angle(&self, deg: f64) -> f64 {
        let o = self.orientation;
        if o.septum_clockwise {
            o.anterior_insertion_deg + deg
        } else {
            o.anterior_insertion_deg - deg
        }
    }
}

/// The AHA segments one short-axis slice at `level` cuts ([`AhaCut`]), as (segment index
/// 0..16, myocardium pixels, scar pixels); empty without myocardium.
pub fn aha_slice_counts(
    scar: &Mask,
    myocardium: &Mask,
    spacing_mm: [f64; 2],
    orientation: AhaOrientation,
    level: WallLevel,
) -> Vec<(usize, usize, usize)> {
    let cut = AhaCut::new(orientation, level);
    wall_counts(
        scar,
        myocardium,
        spacing_mm,
        cut.segments.len(),
        cut.angle(cut.offset_deg),
        orientation.septum_clockwise,
    )
    .into_iter()
    .zip(cut.segments)
    .map(|((m, s), k)| (*k, m, s))
    .collect()
}

/// The signed turn from angle `b` to angle `a`, degrees, along the shorter arc: in [-180, 180).
pub fn turn_deg(a: f64, b: f64) -> f64 {
    (a - b + 540.0).rem_euclid(360.0) - 180.0
}

/// The mean direction of angles in degrees (the angle of the sum of their unit vectors), in
/// [0, 360); `None` without angles.
pub fn mean_direction_deg(angles: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut sin, mut cos, mut n) = (0.0, 0.0, 0usize);
    for a in angles {
        sin += a.to_radians().sin();
        cos += a.to_radians().cos();
        n += 1;
    }
    (n > 0).then(|| sin.atan2(cos).to_degrees().rem_euclid(360.0))
}

/// Each slice's anterior RV insertion (degrees clockwise from 12 o'clock, in [0, 360)) from
/// the slices the user marked, in stack order: a marked slice keeps its mark; a slice between
/// two marks takes the angle between them in proportion to its place, along the shorter arc
/// (the insertion turns a little from base to apex, never half round); a slice before the first
/// mark or after the last takes that mark. All `None` without a mark.
pub fn slice_insertions(marks: &[Option<f64>]) -> Vec<Option<f64>> {
    let marked: Vec<(usize, f64)> = marks
        .iter()
        .enumerate()
        .filter_map(|(k, m)| Some((k, (*m)?)))
        .filter(|(_, m)| m.is_finite())
        .collect();
    let (Some(first), Some(last)) = (marked.first(), marked.last()) else {
        return vec![None; marks.len()];
    };
    (0..marks.len())
        .map(|k| {
            let angle = if k <= first.0 {
                first.1
            } else if k >= last.0 {
                last.1
            } else {
                let j = marked.partition_point(|(at, _)| *at <= k);
                let ((k0, a0), (k1, a1)) = (marked[j - 1], marked[j]);
                a0 + turn_deg(a1, a0) * (k - k0) as f64 / (k1 - k0) as f64
            };
            Some(angle.rem_euclid(360.0))
        })
        .collect()
}

/// The level of each slice of a stack for the AHA segments: the slices that hold myocardium,
/// taken base to apex (`base_first`, else the last slice is the base), are split into thirds,
/// the basal third taking the remainder first (10 slices: 4 basal, 3 mid, 3 apical); `None` for
/// a slice without myocardium, and for every slice when fewer than three hold it (a slice or two
/// cannot be placed along the ventricle).
pub fn wall_levels(has_wall: &[bool], base_first: bool) -> Vec<Option<WallLevel>> {
    let n = has_wall.iter().filter(|w| **w).count();
    let mut levels = vec![None; has_wall.len()];
    if n < 3 {
        return levels;
    }
    let mut order: Vec<usize> = (0..has_wall.len()).filter(|k| has_wall[*k]).collect();
    if !base_first {
        order.reverse();
    }
    for (j, k) in order.into_iter().enumerate() {
        levels[k] = Some(match 3 * j / n {
            0 => WallLevel::Basal,
            1 => WallLevel::Mid,
            _ => WallLevel::Apical,
        });
    }
    levels
}

/// The mean distance of the myocardium from its centroid, mm: the ventricle narrows towards the
/// apex, so this tells a stack's base from its apex whatever order its files came in. `None`
/// without myocardium.
pub fn mean_wall_radius_mm(myocardium: &Mask, spacing_mm: [f64; 2]) -> Option<f64> {
    let (cx, cy) = wall_centre_mm(myocardium, spacing_mm)?;
    let (mut n, mut sum) = (0usize, 0.0);
    for (_, (x, y)) in wall_points_mm(myocardium, spacing_mm) {
        n += 1;
        sum += (x - cx).hypot(y - cy);
    }
    Some(sum / n as f64)
}

/// Whether a stack's first slices are its base: the mean wall radius ([`mean_wall_radius_mm`])
/// of the first third of the slices that hold myocardium against the last third's, the wider
/// end being the base. `None` when fewer than three slices hold myocardium or both ends are as
/// wide.
pub fn base_is_first(wall_radius_mm: &[Option<f64>]) -> Option<bool> {
    let radii: Vec<f64> = wall_radius_mm.iter().flatten().copied().collect();
    let third = radii.len() / 3;
    if third == 0 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&radii[..third]), mean(&radii[radii.len() - third..]));
    (first != last).then_some(first > last)
}

/// The usual grading of scar's transmural extent in a segment: 0 none, 1 up to 25%, 2 up to
/// 50%, 3 up to 75%, 4 above 75% of the segment's myocardium (Kim et al., NEJM 2000). Grades 3
/// and 4 are the [`is_transmural`] ones.
pub fn transmurality_grade(percent: f64) -> u8 {
    match percent {
        p if p <= 0.0 => 0,
        p if p <= 25.0 => 1,
        p if p <= 50.0 => 2,
        p if p <= 75.0 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icc_by_hand() {
        // Ratings 1-4 and the same plus 1: grand mean 3; subjects' means 1.5-4.5, SS 2 x 5 =
        // 10, MS 10 / 3; raters' means 2.5 and 3.5, SS 4 x 0.5 = 2, MS 2; total SS 12, so no
        // error. ICC = (10/3) / (10/3 + 2/4 x 2) = 10 / 13: the offset costs agreement, where
        // Pearson's r is 1.
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]);
        assert!((icc_agreement(&a, &b).expect("icc") - 10.0 / 13.0).abs() < 1e-12);
        assert_eq!(pearson_r(&a, &b), Some(1.0));
        assert_eq!(icc_agreement(&a, &a), Some(1.0));
        // 1, 2, 3 against 3, 2, 1: the subjects' means are all 2 (SS 0), the raters' too;
        // total SS 4, error MS 4 / 2 = 2: ICC (0 - 2) / (0 + 2 + 2/3 x (0 - 2)) = -3.
        let icc = icc_agreement(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).expect("icc");
        assert!((icc + 3.0).abs() < 1e-12, "{icc}");
        assert_eq!(icc_agreement(&[1.0], &[1.0]), None);
        assert_eq!(icc_agreement(&[2.0, 2.0], &[2.0, 2.0]), None);
    }

    #[test]
    fn hausdorff_3d_by_hand_and_as_medpy() {
        let mask = |rows: usize, cols: usize, bits: &str| Mask {
            rows,
            cols,
            data: bits.bytes().map(|b| b == b'1').collect(),
        };
        // The function takes the slices' masks by reference, as eval holds them.
        fn refs(masks: &[Mask]) -> Vec<&Mask> {
            masks.iter().collect()
        }
        // One pixel a slice, (1, 1) against (1, 2), three slices 5 mm apart: every voxel is on
        // the surface, and each is one column (2 mm) from its partner in the same slice.
        let a: Vec<Mask> = (0..3).map(|_| mask(3, 3, "000010000")).collect();
        let b: Vec<Mask> = (0..3).map(|_| mask(3, 3, "000001000")).collect();
        assert_eq!(
            hausdorff_3d(&refs(&a), &refs(&b), [1.0, 2.0], &[0.0, 5.0, 10.0]),
            Some((2.0, 2.0))
        );
        assert_eq!(
            hausdorff_3d(&refs(&a), &refs(&a), [1.0, 2.0], &[0.0, 5.0, 10.0]),
            Some((0.0, 0.0))
        );
        // A hole and blocks offset in every direction, 4 slices of 6 x 7 at 8 mm, spacing
        // 1.5 x 1.25 mm (a[1, 2, 3] cleared in a's block [0:4, 1:5, 1:6]; b's block
        // [1:4, 0:5, 2:7] without b[3, 4, 6]). MedPy 0.5.2: `hd(a, b, voxelspacing=(8.0, 1.5,
        // 1.25))` = 8.097067370350823. The larger directed 95th percentile, by NumPy on
        // MedPy's surface voxels (`a ^ binary_erosion(a, generate_binary_structure(3, 1))`):
        // 8.04368031665787 (MedPy's own `hd95` pools both directions: 8.0).
        let a = [
            "000000001111100111110011111001111100000000",
            "000000001111100110110011111001111100000000",
            "000000001111100111110011111001111100000000",
            "000000001111100111110011111001111100000000",
        ]
        .map(|bits| mask(6, 7, bits));
        let b = [
            "000000000000000000000000000000000000000000",
            "001111100111110011111001111100111110000000",
            "001111100111110011111001111100111110000000",
            "001111100111110011111001111100111100000000",
        ]
        .map(|bits| mask(6, 7, bits));
        let (hd, hd95) = hausdorff_3d(&refs(&a), &refs(&b), [1.5, 1.25], &[0.0, 8.0, 16.0, 24.0])
            .expect("both hold voxels");
        assert!((hd - 8.097_067_370_350_823).abs() < 1e-9, "{hd}");
        assert!((hd95 - 8.043_680_316_657_87).abs() < 1e-9, "{hd95}");
        // Empty, or slices on different grids: undefined.
        let empty = [
            Mask::empty(6, 7),
            Mask::empty(6, 7),
            Mask::empty(6, 7),
            Mask::empty(6, 7),
        ];
        assert_eq!(
            hausdorff_3d(&refs(&a), &refs(&empty), [1.0, 1.0], &[0.0, 1.0, 2.0, 3.0]),
            None
        );
        let mut other = b.clone();
        other[2] = Mask::empty(5, 7);
        assert_eq!(
            hausdorff_3d(&refs(&a), &refs(&other), [1.0, 1.0], &[0.0, 1.0, 2.0, 3.0]),
            None
        );
    }

    #[test]
    fn linear_fit_by_hand() {
        // x 1, 2, 3, 4; y 2, 3, 5, 6: means 2.5 and 4; deviations (-1.5, -0.5, 0.5, 1.5) and
        // (-2, -1, 1, 2): Sxy = 3 + 0.5 + 0.5 + 3 = 7, Sxx = 5, Syy = 10; slope 1.4, intercept
        // 4 - 3.5 = 0.5; R^2 = 49 / 50 = 0.98.
        let fit = linear_fit(&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 5.0, 6.0]).expect("fit");
        assert!((fit.slope - 1.4).abs() < 1e-12, "{fit:?}");
        assert!((fit.intercept - 0.5).abs() < 1e-12, "{fit:?}");
        assert!((fit.r_squared - 0.98).abs() < 1e-12, "{fit:?}");
        assert_eq!(linear_fit(&[1.0, 1.0], &[2.0, 3.0]), None, "constant x");
        assert_eq!(linear_fit(&[1.0], &[2.0]), None);
    }

    #[test]
    fn intersections_by_hand() {
        let a = Mask {
            rows: 1,
            cols: 4,
            data: vec![true, true, false, true],
        };
        let b = Mask {
            rows: 1,
            cols: 4,
            data: vec![false, true, true, true],
        };
        assert_eq!(intersection_px(&a, &b), 2);
        assert_eq!(intersection_px(&a, &Mask::empty(1, 4)), 0);
    }

    #[test]
    fn bland_altman_by_hand() {
        // Differences 2, 0, -1, 4: bias 1.25; squared deviations 0.5625 + 1.5625 + 5.0625 +
        // 7.5625 = 14.75 over 3, SD sqrt(4.91667) = 2.21736; limits 1.25 -+ 4.34602: -3.09602 and 5.59602.
        let ba = bland_altman(&[10.0, 12.0, 9.0, 15.0], &[8.0, 12.0, 10.0, 11.0]).expect("four");
        assert_eq!(ba.n, 4);
        assert!((ba.mean - 1.25).abs() < 1e-12);
        assert!((ba.sd - (14.75f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((ba.lower_loa - (1.25 - 1.96 * (14.75f64 / 3.0).sqrt())).abs() < 1e-12);
        assert!((ba.upper_loa - 5.596_02).abs() < 1e-5, "{ba:?}");
        assert_eq!(bland_altman(&[1.0], &[2.0]), None);
        assert_eq!(bland_altman(&[1.0, 2.0], &[2.0]), None);
    }

    #[test]
    fn turns_and_mean_directions_on_the_circle() {
        assert_eq!(turn_deg(10.0, 350.0), 20.0);
        assert_eq!(turn_deg(350.0, 10.0), -20.0);
        assert_eq!(turn_deg(180.0, 0.0), -180.0);
        assert_eq!(mean_direction_deg([]), None);
        let mean = mean_direction_deg([80.0, 100.0]).expect("two");
        assert!((mean - 90.0).abs() < 1e-9, "{mean}");
        let mean = mean_direction_deg([350.0, 20.0]).expect("two");
        assert!((mean - 5.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn insertions_between_marks_turn_along_the_shorter_arc() {
        let near = |got: Vec<Option<f64>>, want: &[f64]| {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                let g = g.expect("an angle");
                assert!((g - w).abs() < 1e-9, "{got:?} against {want:?}");
            }
        };
        // No mark: no angle anywhere.
        assert_eq!(slice_insertions(&[None, None]), vec![None, None]);
        // One mark serves the stack, wrapped into [0, 360).
        near(slice_insertions(&[None, Some(-60.0), None]), &[300.0; 3]);
        // 300 on slice 1 and 340 on slice 5: 310, 320, 330 between, the ends held.
        near(
            slice_insertions(&[None, Some(300.0), None, None, None, Some(340.0), None]),
            &[300.0, 300.0, 310.0, 320.0, 330.0, 340.0, 340.0],
        );
        // 350 to 30 turns 40 degrees clockwise through 0, not 320 the other way.
        near(
            slice_insertions(&[Some(350.0), None, None, None, Some(30.0)]),
            &[350.0, 0.0, 10.0, 20.0, 30.0],
        );
        // Three marks: each gap on its own; and back, 30 to 350, counterclockwise.
        near(
            slice_insertions(&[Some(10.0), None, Some(30.0), None, Some(350.0)]),
            &[10.0, 20.0, 30.0, 10.0, 350.0],
        );
        // A mark that is not a number is no mark.
        near(
            slice_insertions(&[Some(f64::NAN), Some(90.0)]),
            &[90.0, 90.0],
        );
    }
    use proptest::prelude::*;

    fn square(n: usize, r0: usize, c0: usize, side: usize) -> Mask {
        Mask::from_fn(n, n, |r, c| {
            r >= r0 && r < r0 + side && c >= c0 && c < c0 + side
        })
    }

    #[test]
    fn dice_by_hand() {
        // Two 4x4 squares overlapping in a 4x2 strip: 2 * 8 / (16 + 16) = 0.5.
        let a = square(10, 0, 0, 4);
        let b = square(10, 0, 2, 4);
        assert_eq!(dice(&a, &b), 0.5);
        assert_eq!(dice(&Mask::empty(3, 3), &Mask::empty(3, 3)), 1.0);
        assert_eq!(dice(&a, &Mask::empty(10, 10)), 0.0);
    }

    #[test]
    fn hd95_by_hand() {
        // A 3x3 square at cols 1..3 and one at cols 3..5 (rows 1..3); each boundary is the 8-pixel
        // ring. From A's ring to B's: col 3 (3 pixels) 0, col 2 (2 pixels) 1, col 1 (3 pixels) 2.
        // Sorted [0,0,0,1,1,2,2,2]: the 95th percentile sits at 6.65 -> 2. B to A is the mirror.
        let a = square(8, 1, 1, 3);
        let b = square(8, 1, 3, 3);
        assert_eq!(hd95(&a, &b, [1.0, 1.0]), Some(2.0));
        // Columns 1.5 mm apart, rows 0.5 mm: only column offsets matter here: 3 mm.
        assert_eq!(hd95(&a, &b, [0.5, 1.5]), Some(3.0));
        assert_eq!(hd95(&a, &Mask::empty(8, 8), [1.0, 1.0]), None);
    }

    #[test]
    fn surface_dice_by_hand() {
        // The squares of hd95_by_hand (Dice 2 * 3 / 18 = 0.33): from A's ring to B's, col 3
        // (3 pixels) is 0 away, col 2 (2 pixels) 1, col 1 (3 pixels) 2; B to A is the mirror.
        // Within 1 px: 5 of 8 on each side, 10 / 16. Within 2: all. Within 0.5: 6 / 16.
        let a = square(8, 1, 1, 3);
        let b = square(8, 1, 3, 3);
        assert_eq!(surface_dice(&a, &b, [1.0, 1.0], 1.0), 0.625);
        assert_eq!(surface_dice(&a, &b, [1.0, 1.0], 2.0), 1.0);
        assert_eq!(surface_dice(&a, &b, [1.0, 1.0], 0.5), 0.375);
        // Columns 1.5 mm apart: col 2 is 1.5 mm from col 3, within a 1.5 mm tolerance.
        assert_eq!(surface_dice(&a, &b, [0.5, 1.5], 1.5), 0.625);
        assert_eq!(
            surface_dice(&Mask::empty(8, 8), &Mask::empty(8, 8), [1.0, 1.0], 1.0),
            1.0
        );
        assert_eq!(surface_dice(&a, &Mask::empty(8, 8), [1.0, 1.0], 1.0), 0.0);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 95) = 3.85
        assert!((percentile(&[4.0, 1.0, 3.0, 2.0], 95.0).unwrap() - 3.85).abs() < 1e-12);
    }

    #[test]
    fn burden_and_flag_by_hand() {
        assert_eq!(burden_percent(12.0, 200.0), Some(6.0));
        assert!(high_risk(6.0));
        assert!(!high_risk(5.0));
        assert_eq!(burden_percent(1.0, 0.0), None);
        // Slices (scar, myo, thickness): (10, 100, 8) and (0, 100, 2): 80 / 1000 = 8%.
        assert_eq!(
            stack_burden_percent(&[(10.0, 100.0, 8.0), (0.0, 100.0, 2.0)]),
            Some(8.0)
        );
    }

    #[test]
    fn mass_by_hand() {
        // A typical LV: 120 mL of myocardium (120,000 mm3) weighs 126 g; 1 mL of scar 1.05 g.
        assert!((myocardial_mass_g(120_000.0) - 126.0).abs() < 1e-9);
        assert!((myocardial_mass_g(1_000.0) - 1.05).abs() < 1e-12);
        assert_eq!(myocardial_mass_g(0.0), 0.0);
    }

    #[test]
    fn aggregates_by_hand() {
        // mean 2.5, sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3.
        let (m, sd) = mean_sd(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m, 2.5);
        assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(
            (coefficient_of_variation(&[1.0, 2.0, 3.0, 4.0]).unwrap() - sd / 2.5).abs() < 1e-12
        );
        // Perfectly linear: r = 1; reversed: r = -1.
        assert!((pearson_r(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson_r(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        // y = 3x in floating point, where the sums round to r = 1 + 2^-52 unclamped.
        let x = [0.1, 0.1, 0.4];
        assert_eq!(pearson_r(&x, &x.map(|v| v * 3.0)), Some(1.0));
        assert_eq!(pearson_r(&x, &x.map(|v| v * -3.0)), Some(-1.0));
        // 2 of 3 positives found, 1 of 2 negatives correct.
        let (sens, spec) = sensitivity_specificity(
            &[true, true, false, true, false],
            &[true, true, true, false, false],
        );
        assert!((sens.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(spec, Some(0.5));
    }

    fn arb_mask() -> impl Strategy<Value = Mask> {
        proptest::collection::vec(any::<bool>(), 64).prop_map(|data| Mask {
            rows: 8,
            cols: 8,
            data,
        })
    }

    proptest! {
        #[test]
        fn dice_is_symmetric_and_bounded(a in arb_mask(), b in arb_mask()) {
            let d = dice(&a, &b);
            prop_assert_eq!(d, dice(&b, &a));
            prop_assert!((0.0..=1.0).contains(&d));
        }

        /// HD95 is 0 when the boundaries coincide, and positive values mean they differ. (The
        /// converse cannot hold for a percentile: one stray pixel among more than 20 boundary
        /// pixels can lie above the 95th percentile.)
        #[test]
        fn hd95_is_zero_when_boundaries_coincide(a in arb_mask(), b in arb_mask()) {
            let mut ba = a.boundary();
            let mut bb = b.boundary();
            ba.sort();
            bb.sort();
            if let Some(h) = hd95(&a, &b, [1.0, 1.0]) {
                prop_assert!(h >= 0.0);
                if h > 0.0 {
                    prop_assert_ne!(&ba, &bb);
                }
            }
            if !ba.is_empty() {
                prop_assert_eq!(hd95(&a, &a, [1.0, 1.0]), Some(0.0));
            }
        }

        #[test]
        fn burden_is_a_percentage(scar in 0.0f64..1e6, myo in 0.0f64..1e6) {
            if let Some(b) = burden_percent(scar.min(myo), myo) {
                prop_assert!((0.0..=100.0).contains(&b));
            }
        }
    }

    /// The 16-pixel border of a 5 x 5 grid: a square ring whose centroid is the centre pixel.
    fn border_ring() -> Mask {
        let mut m = Mask::empty(5, 5);
        for r in 0..5 {
            for c in 0..5 {
                m.data[r * 5 + c] = r == 0 || r == 4 || c == 0 || c == 4;
            }
        }
        m
    }

    #[test]
    fn sector_scar_by_hand() {
        // Angles clockwise from 12 o'clock around (2, 2), by hand: (0,2) 0, (0,3) 26.6, (0,4)
        // 45, (1,4) 63.4, (2,4) 90, (3,4) 116.6, (4,4) 135, (4,3) 153.4, (4,2) 180, (4,1)
        // 206.6, (4,0) 225, (3,0) 243.4, (2,0) 270, (1,0) 296.6, (0,0) 315, (0,1) 333.4 degrees.
        // So the twelve 30-degree sectors hold 2,1,1, 2,1,1, 2,1,1, 2,1,1 wall pixels.
        let myo = border_ring();
        let mut scar = Mask::empty(5, 5);
        for i in [2, 3, 4] {
            scar.data[i] = true; // (0,2), (0,3), (0,4): sectors 0 (both) and 1
        }
        scar.data[2 * 5 + 4] = true; // (2,4): one of sector 3's two
        scar.data[2 * 5 + 2] = true; // the centre, outside the wall: not counted
        let got = sector_scar_percent(&scar, &myo, [1.0, 1.0], 12);
        let mut want = vec![Some(0.0); 12];
        want[0] = Some(100.0);
        want[1] = Some(100.0);
        want[3] = Some(50.0);
        assert_eq!(got, want);
        // Half the wall is not above half.
        assert_eq!(transmural_sectors(&got), 2);
        // Four sectors of 90 degrees: 4 pixels each; scar 3 of the first, 1 of the second.
        assert_eq!(
            sector_scar_percent(&scar, &myo, [1.0, 1.0], 4),
            vec![Some(75.0), Some(25.0), Some(0.0), Some(0.0)]
        );
    }

    #[test]
    fn sectors_are_cut_in_mm_not_pixels() {
        // Columns 2 mm apart, rows 1 mm: (0,3) lies 2 mm right and 2 mm up of the centre, at 45
        // degrees (sector 1, not 0); (1,4) 4 mm right and 1 mm up, at 76.0 degrees (sector 2).
        let myo = border_ring();
        let mut scar = Mask::empty(5, 5);
        scar.data[3] = true;
        scar.data[5 + 4] = true;
        let got = sector_scar_percent(&scar, &myo, [1.0, 2.0], 12);
        // Every wall pixel's angle with these spacings, by hand: (0,2) 0, (0,3) 45, (0,4) 63.4,
        // (1,4) 76.0, (2,4) 90, (3,4) 104.0, (4,4) 116.6, (4,3) 135, (4,2) 180, (4,1) 225,
        // (4,0) 243.4, (3,0) 256.0, (2,0) 270, (1,0) 284.0, (0,0) 296.6, (0,1) 315 degrees:
        // nothing between 150 and 180 or 330 and 360.
        let want = vec![
            Some(0.0),
            Some(100.0), // (0,3) alone
            Some(50.0),  // (0,4) and the scar at (1,4)
            Some(0.0),
            Some(0.0),
            None,
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            None,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn wall_centre_by_hand() {
        // The 5 x 5 border ring's centroid is the centre pixel: 2 columns of 2 mm right, 2 rows
        // of 1 mm down. One pixel at (1, 3) and one at (3, 0): (3 + 0) / 2 columns, (1 + 3) / 2
        // rows.
        assert_eq!(wall_centre_mm(&border_ring(), [1.0, 2.0]), Some((4.0, 2.0)));
        let mut two = Mask::empty(4, 4);
        two.data[4 + 3] = true;
        two.data[3 * 4] = true;
        assert_eq!(wall_centre_mm(&two, [0.5, 1.0]), Some((1.5, 1.0)));
        assert_eq!(wall_centre_mm(&Mask::empty(2, 2), [1.0, 1.0]), None);
    }

    #[test]
    fn no_myocardium_has_no_sectors() {
        let empty = Mask::empty(3, 3);
        assert!(sector_scar_percent(&empty, &empty, [1.0, 1.0], 12).is_empty());
        assert_eq!(transmural_sectors(&[]), 0);
    }

    #[test]
    fn phantom_scar_fills_sectors_as_deep_as_it_was_drawn() {
        // The phantom draws each scar to a chosen depth of the wall (`transmurality`, tapering
        // to 0 at the territory's edges), so, from its exact labels: a scar drawn through less
        // than 45% of the wall never fills half a sector, whose outer part is also the larger;
        // one drawn through 90% or more fills more than half of some sector of some slice.
        use crate::phantom::{PhantomConfig, generate};
        let config = PhantomConfig {
            slices: 3,
            ..PhantomConfig::default()
        };
        let (mut shallow, mut deep) = (0, 0);
        for seed in 0..60u64 {
            let case = generate(7_000_000 + seed, &config);
            let p = &case.params;
            let sectors: Vec<Vec<Option<f64>>> = case
                .slices
                .iter()
                .map(|s| sector_scar_percent(&s.scar(), &s.myocardium(), s.image.spacing_mm, 12))
                .collect();
            let most = sectors
                .iter()
                .flatten()
                .flatten()
                .fold(0.0f64, |a, b| a.max(*b));
            let transmural: usize = sectors.iter().map(|v| transmural_sectors(v)).sum();
            if p.territory.is_none() {
                assert_eq!(most, 0.0, "seed {}: no scar drawn", p.seed);
            } else if p.transmurality < 0.45 {
                shallow += 1;
                assert_eq!(transmural, 0, "seed {}: {p:?}, most {most}", p.seed);
            } else if p.transmurality >= 0.9 && !p.patchy {
                deep += 1;
                assert!(transmural > 0, "seed {}: {p:?}, most {most}", p.seed);
            }
        }
        // Both kinds were met.
        assert!(shallow >= 5 && deep >= 5, "{shallow} shallow, {deep} deep");
    }

    #[test]
    fn aha_segments_of_a_slice_by_hand() {
        // The border ring's pixel angles (listed in sector_scar_by_hand) with the insertion at 300
        // degrees (10 o'clock) and the septum counterclockwise, as the standard display has it:
        // anteroseptal (240, 300] holds (3,0) (2,0) (1,0); inferoseptal (180, 240] (4,1) (4,0);
        // inferior (120, 180] (4,4) (4,3) (4,2); inferolateral (60, 120] (1,4) (2,4) (3,4);
        // anterolateral (0, 60] (0,3) (0,4); anterior (300, 360] (0,0) (0,1) (0,2).
        let myo = border_ring();
        let mut scar = Mask::empty(5, 5);
        for (r, c) in [(0, 2), (0, 3), (2, 0)] {
            scar.data[r * 5 + c] = true;
        }
        let standard = AhaOrientation {
            anterior_insertion_deg: 300.0,
            septum_clockwise: false,
        };
        let basal = aha_slice_counts(&scar, &myo, [1.0, 1.0], standard, WallLevel::Basal);
        assert_eq!(
            basal,
            vec![
                (1, 3, 1),
                (2, 2, 0),
                (3, 3, 0),
                (4, 3, 0),
                (5, 2, 1),
                (0, 3, 1)
            ]
        );
        // The same cut, numbered 7 to 12, a level down.
        let mid = aha_slice_counts(&scar, &myo, [1.0, 1.0], standard, WallLevel::Mid);
        let shifted: Vec<_> = basal.iter().map(|(k, m, s)| (k + 6, *m, *s)).collect();
        assert_eq!(mid, shifted);
        // Apical quarters start 15 degrees past the insertion, at 285: septal (195, 285] holds
        // (4,1) (4,0) (3,0) (2,0); inferior (105, 195] (3,4) (4,4) (4,3) (4,2); lateral (15, 105]
        // (0,3) (0,4) (1,4) (2,4); anterior (285, 15] (1,0) (0,0) (0,1) (0,2).
        assert_eq!(
            aha_slice_counts(&scar, &myo, [1.0, 1.0], standard, WallLevel::Apical),
            vec![(13, 4, 1), (14, 4, 0), (15, 4, 1), (12, 4, 1)]
        );
        assert!(
            aha_slice_counts(
                &scar,
                &Mask::empty(5, 5),
                [1.0, 1.0],
                standard,
                WallLevel::Mid
            )
            .is_empty()
        );
    }

    #[test]
    fn a_mirrored_image_with_a_mirrored_insertion_gives_the_same_segments() {
        // An image stored left-right mirrored puts the septum on the right: the insertion at
        // 360 - a degrees and the septum clockwise of it cut the same wall into the same
        // segments. An irregular wall and scar, and angles that put no pixel on a boundary.
        let myo = Mask::from_fn(9, 9, |r, c| {
            let (y, x) = (r as f64 - 4.0, c as f64 - 3.5);
            let d = (x * x + y * y).sqrt();
            (2.0..4.2).contains(&d) && !(r == 8 && c < 3)
        });
        let scar = Mask::from_fn(9, 9, |r, c| (r * 7 + c * 3) % 5 == 0 || (r < 3 && c > 4));
        let mirror = |m: &Mask| Mask::from_fn(9, 9, |r, c| m.get(r, 8 - c));
        for a in [7.3, 44.0, 131.5, 300.2] {
            for level in [WallLevel::Basal, WallLevel::Apical] {
                let here = AhaOrientation {
                    anterior_insertion_deg: a,
                    septum_clockwise: false,
                };
                let mirrored = AhaOrientation {
                    anterior_insertion_deg: 360.0 - a,
                    septum_clockwise: true,
                };
                assert_eq!(
                    aha_slice_counts(&scar, &myo, [1.0, 1.0], here, level),
                    aha_slice_counts(&mirror(&scar), &mirror(&myo), [1.0, 1.0], mirrored, level),
                    "insertion at {a}, {level:?}"
                );
            }
        }
    }

    #[test]
    fn levels_split_the_walled_slices_into_thirds_from_the_base() {
        use WallLevel::{Apical as A, Basal as B, Mid as M};
        // Ten slices with myocardium: 4 basal, 3 mid, 3 apical.
        assert_eq!(
            wall_levels(&[true; 10], true),
            [B, B, B, B, M, M, M, A, A, A].map(Some).to_vec()
        );
        // Apex first; a slice past the apex (no myocardium) has no level.
        assert_eq!(
            wall_levels(&[false, true, true, true, true, true], false),
            vec![None, Some(A), Some(M), Some(M), Some(B), Some(B)]
        );
        assert_eq!(wall_levels(&[true, false, true], true), vec![None; 3]);
    }

    #[test]
    fn the_wider_end_of_a_stack_is_its_base() {
        // The border ring's 16 pixels lie 2 mm (4 edge centres), sqrt 5 (8) and sqrt 8 (4
        // corners) from the centre.
        let want = (4.0 * 2.0 + 8.0 * 5f64.sqrt() + 4.0 * 8f64.sqrt()) / 16.0;
        let got = mean_wall_radius_mm(&border_ring(), [1.0, 1.0]).expect("a wall");
        assert!((got - want).abs() < 1e-12, "{got} against {want}");
        assert_eq!(mean_wall_radius_mm(&Mask::empty(3, 3), [1.0, 1.0]), None);
        // First third 30 against last third 20: base first; the middle and the gaps do not count.
        let radii = [Some(30.0), None, Some(28.0), Some(25.0), Some(20.0)];
        assert_eq!(base_is_first(&radii), Some(true));
        let mut reversed = radii;
        reversed.reverse();
        assert_eq!(base_is_first(&reversed), Some(false));
        assert_eq!(base_is_first(&[Some(30.0), Some(20.0), None]), None);
        assert_eq!(base_is_first(&[Some(20.0); 4]), None);
        // The phantom's stacks run base to apex, the ventricle narrowing: read from its labels.
        use crate::phantom::{PhantomConfig, generate};
        let config = PhantomConfig {
            slices: 6,
            ..PhantomConfig::default()
        };
        for seed in 0..20u64 {
            let case = generate(8_000_000 + seed, &config);
            let radii: Vec<Option<f64>> = case
                .slices
                .iter()
                .map(|s| mean_wall_radius_mm(&s.myocardium(), s.image.spacing_mm))
                .collect();
            assert_eq!(base_is_first(&radii), Some(true), "seed {seed}: {radii:?}");
        }
    }

    #[test]
    fn transmurality_grades_by_hand() {
        let grades: Vec<u8> = [0.0, 0.1, 25.0, 25.1, 50.0, 50.1, 75.0, 75.1, 100.0]
            .into_iter()
            .map(transmurality_grade)
            .collect();
        assert_eq!(grades, vec![0, 1, 1, 2, 2, 3, 3, 4, 4]);
        for p in [0.0, 12.0, 49.9, 50.0, 50.01, 99.0] {
            assert_eq!(transmurality_grade(p) >= 3, is_transmural(p), "{p}");
        }
    }

    #[test]
    fn phantom_scar_lands_in_its_coronary_territory_segments() {
        // The phantom draws each scar in a coronary territory, centred where that artery
        // supplies relative to the right ventricle; with the AHA segments started at the
        // phantom's RV insertion, the segment holding most of the scar (exact labels) belongs
        // to the territory the AHA assigns it (Cerqueira et al. 2002): LAD 1, 2, 7, 8, 13, 14;
        // RCA 3, 4, 9, 10, 15; LCx 5, 6, 11, 12, 16. A septum taken the wrong way round would
        // put LAD scar in the LCx segments. Scar wide enough to straddle two territories can
        // peak in a neighbour: at least 90% land in their own (49 of 50 here; 16 with the
        // septum taken clockwise).
        use crate::phantom::{PhantomConfig, generate};
        let config = PhantomConfig {
            slices: 6,
            size_px: [128, 160],
            ..PhantomConfig::default()
        };
        let territory = |name: &str| -> &[usize] {
            match name {
                "LAD" => &[1, 2, 7, 8, 13, 14],
                "RCA" => &[3, 4, 9, 10, 15],
                _ => &[5, 6, 11, 12, 16],
            }
        };
        for (name, segments) in CORONARY_TERRITORIES {
            assert_eq!(segments, territory(name), "{name}");
        }
        let (mut scarred, mut inside) = (0, 0);
        for seed in 0..60u64 {
            let case = generate(8_100_000 + seed, &config);
            let Some(name) = case.params.territory.as_deref() else {
                continue;
            };
            let orientation = AhaOrientation {
                anterior_insertion_deg: case.params.rv_insertion_deg,
                septum_clockwise: false,
            };
            let has_wall: Vec<bool> = case
                .slices
                .iter()
                .map(|s| s.myocardium().area_px() > 0)
                .collect();
            let levels = wall_levels(&has_wall, true);
            let mut scar = [0usize; 16];
            for (s, level) in case.slices.iter().zip(&levels) {
                let Some(level) = level else { continue };
                let counts = aha_slice_counts(
                    &s.scar(),
                    &s.myocardium(),
                    s.image.spacing_mm,
                    orientation,
                    *level,
                );
                for (k, _, n) in counts {
                    scar[k] += n;
                }
            }
            let peak = (0..16).max_by_key(|k| scar[*k]).expect("16 segments") + 1;
            scarred += 1;
            inside += usize::from(territory(name).contains(&peak));
        }
        assert!(scarred >= 40, "{scarred} scarred cases");
        assert!(
            inside as f64 >= 0.9 * scarred as f64,
            "{inside} of {scarred} in their territory"
        );
    }
}
