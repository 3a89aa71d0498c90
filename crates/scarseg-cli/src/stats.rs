//! 95% confidence intervals for `scarseg eval`'s table: how far each figure could move on
//! another sample of cases of the same kind. A mean Dice of 0.79 on 100 cases and a flag
//! sensitivity of 56 of 58 say little without them, and comparing a model with a paper's table
//! needs them. The distributions' quantiles come from `statrs`.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, FisherSnedecor, StudentsT};
use std::collections::BTreeMap;

use scarseg_imaging::metrics::{BlandAltman, TwoWayAnova};

/// The standard normal distribution's 97.5th percentile.
pub const Z975: f64 = 1.959_963_984_540_054;

/// A two-sided 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Interval {
    fn checked(lower: f64, upper: f64) -> Option<Self> {
        (lower.is_finite() && upper.is_finite()).then_some(Interval { lower, upper })
    }

    /// The interval within `(low, high)`, the values the measured quantity can take: a t
    /// interval of a mean Dice over few patients can reach past 1, and one of a distance below
    /// 0, where the true mean cannot be. Clipping keeps every value it can be, so the interval
    /// still covers it at least 95% of the time.
    pub fn clipped(self, (low, high): (f64, f64)) -> Self {
        Interval {
            lower: self.lower.clamp(low, high),
            upper: self.upper.clamp(low, high),
        }
    }
}

/// Student's t distribution's 97.5th percentile with `df` degrees of freedom.
fn t975(df: f64) -> Option<f64> {
    StudentsT::new(0.0, 1.0, df)
        .ok()
        .map(|t| t.inverse_cdf(0.975))
}

/// The F distribution's 97.5th percentile with (`d1`, `d2`) degrees of freedom.
fn f975(d1: f64, d2: f64) -> Option<f64> {
    FisherSnedecor::new(d1, d2)
        .ok()
        .map(|f| f.inverse_cdf(0.975))
}

/// The interval of a mean over values grouped by patient, `(patient, value)`: slices of one
/// patient are not independent of each other, so the standard error is the cluster-robust one
/// (sums of deviations per patient, with the small-sample factor G / (G - 1) for G patients)
/// and the quantile Student's t with G - 1 degrees of freedom. With one value per patient this
/// is the textbook t interval, mean +- t SD / sqrt(n). `None` for fewer than two patients.
pub fn mean_ci95<'a>(values: impl IntoIterator<Item = (&'a str, f64)>) -> Option<Interval> {
    let values: Vec<(&str, f64)> = values.into_iter().collect();
    let n = values.len() as f64;
    let mean = values.iter().map(|v| v.1).sum::<f64>() / n;
    let mut by_patient: BTreeMap<&str, f64> = BTreeMap::new();
    for (patient, v) in &values {
        *by_patient.entry(patient).or_default() += v - mean;
    }
    let g = by_patient.len() as f64;
    if g < 2.0 {
        return None;
    }
    let sum_sq: f64 = by_patient.values().map(|s| s * s).sum();
    let se = (g / (g - 1.0) * sum_sq).sqrt() / n;
    let half = t975(g - 1.0)? * se;
    Interval::checked(mean - half, mean + half)
}

/// Wilson's score interval of the proportion `k` of `n` (Wilson 1927; Newcombe 1998 found it
/// the best of the simple ones): unlike the textbook p +- 1.96 SE it stays inside [0, 1] and
/// is not of zero width at 0 of n or n of n, where a flag's sensitivity often sits. `None`
/// for `n` = 0.
pub fn wilson_ci95(k: usize, n: usize) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let (k, n, z2) = (k as f64, n as f64, Z975 * Z975);
    let p = k / n;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z975 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Interval::checked((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The interval of Pearson's r over `n` pairs by Fisher's z transform, tanh(atanh r +- z /
/// sqrt(n - 3)). `None` for fewer than four pairs or |r| = 1.
pub fn pearson_ci95(r: f64, n: usize) -> Option<Interval> {
    if n < 4 || r.abs() >= 1.0 {
        return None;
    }
    let (z, half) = (r.atanh(), Z975 / ((n - 3) as f64).sqrt());
    Interval::checked((z - half).tanh(), (z + half).tanh())
}

/// The intervals of a Bland-Altman analysis (Bland and Altman 1986, 1999): of the bias, mean
/// +- t SD / sqrt(n), and of each limit of agreement, limit +- t sqrt(3 SD^2 / n), with
/// Student's t of n - 1 degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlandAltmanCi {
    /// Of the bias (the mean difference).
    pub mean: Interval,
    /// Of the lower limit of agreement.
    pub lower_loa: Interval,
    /// Of the upper limit of agreement.
    pub upper_loa: Interval,
}

/// [`BlandAltmanCi`] of `ba`; `None` for fewer than two pairs.
pub fn bland_altman_ci95(ba: &BlandAltman) -> Option<BlandAltmanCi> {
    if ba.n < 2 {
        return None;
    }
    let n = ba.n as f64;
    let t = t975(n - 1.0)?;
    let around = |x: f64, se: f64| Interval::checked(x - t * se, x + t * se);
    Some(BlandAltmanCi {
        mean: around(ba.mean, ba.sd / n.sqrt())?,
        lower_loa: around(ba.lower_loa, (3.0 * ba.sd * ba.sd / n).sqrt())?,
        upper_loa: around(ba.upper_loa, (3.0 * ba.sd * ba.sd / n).sqrt())?,
    })
}

/// The interval of ICC(A,1), two raters, by McGraw and Wong's (1996) formulas for their case
/// 2A, with Satterthwaite's degrees of freedom (as R's `irr` and Python's `pingouin` compute
/// it). `None` where the ICC is 1 or the degrees of freedom are not defined.
pub fn icc_agreement_ci95(anova: &TwoWayAnova, icc: f64) -> Option<Interval> {
    if icc >= 1.0 || anova.n < 2 {
        return None;
    }
    let (n, k) = (anova.n as f64, 2.0);
    let (msr, msc, mse) = (anova.ms_subjects, anova.ms_raters, anova.ms_error);
    let a = k * icc / (n * (1.0 - icc));
    let b = 1.0 + k * icc * (n - 1.0) / (n * (1.0 - icc));
    let v = (a * msc + b * mse).powi(2)
        / ((a * msc).powi(2) / (k - 1.0) + (b * mse).powi(2) / ((n - 1.0) * (k - 1.0)));
    if !(v.is_finite() && v > 0.0) {
        return None;
    }
    let f_upper = f975(n - 1.0, v)?;
    let f_lower = f975(v, n - 1.0)?;
    let spread = k * msc + (k * n - k - n) * mse;
    let lower = n * (msr - f_upper * mse) / (f_upper * spread + n * msr);
    let upper = n * (f_lower * msr - mse) / (spread + n * f_lower * msr);
    Interval::checked(lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scarseg_imaging::metrics::{bland_altman, icc_agreement, two_way_anova};

    fn close(got: Interval, lower: f64, upper: f64, tol: f64) {
        assert!(
            (got.lower - lower).abs() < tol && (got.upper - upper).abs() < tol,
            "{got:?}, want [{lower}, {upper}]"
        );
    }

    #[test]
    fn a_mean_of_one_value_per_patient_has_the_t_interval() {
        // 1, 2, 3, 4: mean 2.5, SD 1.290994, SE 0.645497; t(0.975, 3) = 3.182446 (tables):
        // 2.5 -+ 2.054260.
        let v = [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)];
        close(mean_ci95(v).expect("four"), 0.445740, 4.554260, 1e-5);
        assert_eq!(mean_ci95([("a", 1.0), ("a", 2.0)]), None, "one patient");
        // Dice 1.0 and 0.5 of two patients: mean 0.75, SE 0.25, t(0.975, 1) = 12.706205, so
        // -2.426551 to 3.926551, which is 0 to 1 for a Dice; a distance of 1 and 2 mm: 1.5
        // -+ 6.353102, from 0 up.
        let dice = mean_ci95([("a", 1.0), ("b", 0.5)]).expect("two");
        close(dice, -2.426551, 3.926551, 1e-5);
        assert_eq!(
            dice.clipped((0.0, 1.0)),
            Interval {
                lower: 0.0,
                upper: 1.0
            }
        );
        let mm = mean_ci95([("a", 1.0), ("b", 2.0)])
            .expect("two")
            .clipped((0.0, f64::INFINITY));
        close(mm, 0.0, 7.853102, 1e-5);
        // Inside the range nothing changes.
        let inside = Interval {
            lower: 0.7,
            upper: 0.9,
        };
        assert_eq!(inside.clipped((0.0, 1.0)), inside);
        assert_eq!(mean_ci95([]), None);
    }

    #[test]
    fn slices_of_one_patient_count_as_one_cluster() {
        // Patients p: 1, 3; q: 5; r: 7, 9. Mean 5; per-patient sums of deviations -6, 0, 6;
        // SE^2 = 3/2 x 72 / 25 = 4.32, SE 2.078461; t(0.975, 2) = 4.302653: 5 -+ 8.942896.
        // Treated as five independent values the interval would be 5 -+ 2.776445 x 1.414214.
        let v = [("p", 1.0), ("p", 3.0), ("q", 5.0), ("r", 7.0), ("r", 9.0)];
        close(
            mean_ci95(v).expect("three patients"),
            -3.942896,
            13.942896,
            1e-5,
        );
    }

    #[test]
    fn wilson_matches_newcombes_table() {
        // Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score).
        close(wilson_ci95(81, 263).expect("81/263"), 0.2553, 0.3662, 5e-5);
        close(wilson_ci95(15, 148).expect("15/148"), 0.0624, 0.1605, 5e-5);
        close(wilson_ci95(0, 20).expect("0/20"), 0.0, 0.1611, 5e-5);
        close(wilson_ci95(1, 29).expect("1/29"), 0.0061, 0.1718, 5e-5);
        assert_eq!(wilson_ci95(0, 0), None);
        assert_eq!(wilson_ci95(3, 2), None);
    }

    #[test]
    fn pearson_by_fishers_z() {
        // r = 0.95, n = 100: atanh 1.831781, half 1.959964 / sqrt(97) = 0.199004;
        // tanh(1.632777) = 0.926456, tanh(2.030785) = 0.966139.
        close(
            pearson_ci95(0.95, 100).expect("r"),
            0.926456,
            0.966139,
            1e-5,
        );
        assert_eq!(pearson_ci95(0.5, 3), None);
        assert_eq!(pearson_ci95(1.0, 10), None);
    }

    #[test]
    fn bland_altman_intervals_as_the_1986_paper_computes_them() {
        // Bland and Altman (1986), Lancet i:307, the peak flow example: 17 pairs, bias -2.1,
        // SD 38.8; SE of the bias 9.4, of a limit sqrt(3 x 38.8^2 / 17) = 16.3; t(0.975, 16)
        // = 2.12: bias -22.1 to 17.9 from the rounded figures; unrounded, 2.119905 x 9.410490
        // = 19.949119: -22.049 to 17.849. (The paper's limits are bias -+ 2 SD; these are
        // -+ 1.96 SD: -78.148 and 73.948, each -+ 2.119905 x 16.299260 = 34.552887.)
        let ba = BlandAltman {
            mean: -2.1,
            sd: 38.8,
            n: 17,
            lower_loa: -2.1 - 1.96 * 38.8,
            upper_loa: -2.1 + 1.96 * 38.8,
        };
        let ci = bland_altman_ci95(&ba).expect("17 pairs");
        close(ci.mean, -22.049119, 17.849119, 1e-5);
        close(ci.lower_loa, -78.148 - 34.552887, -78.148 + 34.552887, 1e-5);
        close(ci.upper_loa, 73.948 - 34.552887, 73.948 + 34.552887, 1e-5);
        let one = bland_altman(&[1.0, 2.0], &[1.5, 2.0]).expect("two");
        assert!(bland_altman_ci95(&one).is_some());
    }

    #[test]
    fn icc_interval_matches_pingouin() {
        // pingouin 0.7.0 on these ten subjects, rounding off (`pg.options["round"] = None`):
        // `intraclass_corr(df, targets="subject", raters="rater", ratings="value")`, row
        // ICC(A,1): ICC 0.9347826086956521, CI95 [0.745939815824496, 0.983666177157669]
        // (its Satterthwaite degrees of freedom written in McGraw and Wong's other form).
        let a = [2.0, 4.0, 3.0, 6.0, 7.0, 5.0, 8.0, 9.0, 1.0, 6.5];
        let b = [2.5, 4.5, 2.0, 6.5, 8.5, 5.5, 7.0, 10.0, 2.5, 7.5];
        let icc = icc_agreement(&a, &b).expect("icc");
        assert!((icc - 0.934_782_608_695_652_1).abs() < 1e-12, "{icc}");
        let anova = two_way_anova(&a, &b).expect("anova");
        let ci = icc_agreement_ci95(&anova, icc).expect("ci");
        close(ci, 0.745_939_815_824_496, 0.983_666_177_157_669, 1e-6);
        assert_eq!(icc_agreement_ci95(&anova, 1.0), None);
    }
}
