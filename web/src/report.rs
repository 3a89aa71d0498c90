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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_score_says_its_interval_where_known() {
        assert_eq!(
            model_score(0.78652, Some((0.74540, 0.82763))),
            "scar Dice 0.79 (95% CI 0.75 to 0.83) on its test set"
        );
        assert_eq!(model_score(0.5, None), "scar Dice 0.50 on its test set");
    }
}
