//! Who produced a result the page exports: the weights and the device, and how good the page
//! says the model is; where in the wall the scar lies, in the page's words. The report's rows,
//! records and summary sentences are `scarseg_pipeline::outputs`', shared with
//! `scarseg predict`.

use scarseg_imaging::depth::ScarDepth;
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

/// Where in the wall a stack's scar lies, as the report's sentence.
pub fn scar_depth_text(depth: Option<ScarDepth>) -> String {
    let Some(d) = depth else {
        return "Where in the wall: not measured, since no slice's myocardium encloses a cavity."
            .to_string();
    };
    let Some([inner, middle, outer]) = d.thirds_percent() else {
        return "Where in the wall: no scar.".to_string();
    };
    format!(
        "Where in the wall (endocardium to epicardium): {inner:.0}% of the scar in the inner \
         third, {middle:.0}% in the middle, {outer:.0}% in the outer; {} of {} scar region(s), \
         counted slice by slice, reach the endocardium (ischemic scar starts there; scar that \
         spares it is the pattern of non-ischemic causes).",
        d.endocardial_regions, d.regions
    )
}

/// A slice's thirds for the report's table: "inner / middle / outer" percent of its scar.
pub fn scar_thirds_cell(depth: Option<ScarDepth>) -> String {
    match depth.and_then(|d| d.thirds_percent()) {
        Some([inner, middle, outer]) => format!("{inner:.0} / {middle:.0} / {outer:.0}"),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_the_scar_lies_in_words() {
        // 10 + 30 + 60 mm3 of scar: 10%, 30% and 60%; 3 regions of 5 at the endocardium.
        let d = ScarDepth {
            inner: 10.0,
            middle: 30.0,
            outer: 60.0,
            regions: 5,
            endocardial_regions: 3,
        };
        assert_eq!(
            scar_depth_text(Some(d)),
            "Where in the wall (endocardium to epicardium): 10% of the scar in the inner third, \
             30% in the middle, 60% in the outer; 3 of 5 scar region(s), counted slice by slice, \
             reach the endocardium (ischemic scar starts there; scar that spares it is the \
             pattern of non-ischemic causes)."
        );
        assert_eq!(scar_thirds_cell(Some(d)), "10 / 30 / 60");
        assert_eq!(
            scar_depth_text(Some(ScarDepth::default())),
            "Where in the wall: no scar."
        );
        assert_eq!(scar_thirds_cell(Some(ScarDepth::default())), "-");
        assert!(scar_depth_text(None).contains("not measured"));
        assert_eq!(scar_thirds_cell(None), "-");
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
