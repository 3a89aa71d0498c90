//! Who produced a result the page exports: the weights and the device, and how good the page
//! says the model is. The report's rows and records themselves are
//! `scarseg_pipeline::outputs`', shared with `scarseg predict`.

use serde::Serialize;

/// The weights behind a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// Model name.
    pub name: String,
    /// Weights sha256.
    pub sha256: String,
    /// Device that ran the network.
    pub device: String,
}

/// The model line's figure: "scar Dice 0.79 (95% CI 0.75 to 0.83) on its test set", the
/// interval where the manifest has one.
pub fn model_score(dice: f64, ci95: Option<(f64, f64)>) -> String {
    match ci95 {
        Some((lower, upper)) => {
            format!("scar Dice {dice:.2} (95% CI {lower:.2} to {upper:.2}) on its test set")
        }
        None => format!("scar Dice {dice:.2} on its test set"),
    }
}

/// What the model's measured agreement says of a stack's flag. `limits` are the 95% limits of
/// agreement of its burden with the reference on its test set (Bland-Altman, model minus
/// reference, percentage points): with 95% confidence the reference burden lies in
/// [burden - upper, burden - lower] (within 0-100), and the flag is uncertain when the 5%
/// threshold lies in that range. Returns (reference low, reference high, uncertain).
pub fn flag_agreement(burden: f64, limits: (f64, f64)) -> (f64, f64, bool) {
    let (lower, upper) = limits;
    let low = (burden - upper).clamp(0.0, 100.0);
    let high = (burden - lower).clamp(0.0, 100.0);
    let t = scarseg_imaging::metrics::HIGH_RISK_BURDEN_PERCENT;
    (low, high, low <= t && t < high)
}

/// [`flag_agreement`] as the report's sentence.
pub fn flag_agreement_text(burden: f64, limits: (f64, f64)) -> String {
    let (low, high, uncertain) = flag_agreement(burden, limits);
    let verdict = if uncertain {
        "the 5% threshold lies within it, so the flag is uncertain"
    } else {
        "the 5% threshold lies outside it"
    };
    format!(
        "On its test set this model's burden was within {:+.1} to {:+.1} points of the \
         reference's in 95% of cases; by that, the reference burden here is {low:.1}% to \
         {high:.1}%: {verdict}.",
        limits.0, limits.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_uncertain_where_the_limits_reach_the_threshold() {
        // Limits -4.22 to +3.91: a burden of 15.8% is 11.89-20.02% in the reference's terms,
        // 6.5% is 2.59-10.72% (5% inside: uncertain), 0.5% is 0-4.72% (below: not uncertain).
        let limits = (-4.22, 3.91);
        let close = |(a, b, u): (f64, f64, bool), (c, d, v): (f64, f64, bool)| {
            assert!(
                (a - c).abs() < 1e-9 && (b - d).abs() < 1e-9 && u == v,
                "{a} {b} {u}"
            );
        };
        close(flag_agreement(15.8, limits), (11.89, 20.02, false));
        close(flag_agreement(6.5, limits), (2.59, 10.72, true));
        close(flag_agreement(0.5, limits), (0.0, 4.72, false));
        assert_eq!(
            flag_agreement_text(6.5, limits),
            "On its test set this model's burden was within -4.2 to +3.9 points of the \
             reference's in 95% of cases; by that, the reference burden here is 2.6% to 10.7%: \
             the 5% threshold lies within it, so the flag is uncertain."
        );
    }

    #[test]
    fn the_model_score_says_its_interval_where_known() {
        assert_eq!(
            model_score(0.78652, Some((0.74540, 0.82763))),
            "scar Dice 0.79 (95% CI 0.75 to 0.83) on its test set"
        );
        assert_eq!(model_score(0.5, None), "scar Dice 0.50 on its test set");
    }
}
