//! The scar Dice a perfect network could reach at a given input size, on phantom test cases.
//!
//! A network sees the slice resampled to `size x size` and its masks are mapped back onto the
//! slice's own grid, so thin scar is lost to the resampling whatever the weights. This example
//! replaces the network by an oracle: its scar and myocardium probabilities are the true labels
//! resampled to the model grid exactly as training resamples them (bilinear, then 0/1 at 0.5),
//! then mapped back and post-processed exactly as `scarseg eval` does. The Dice it reports is
//! the ceiling for that size.
//!
//! The second pair of columns is the same oracle on the heart's crop ([`Roi`], margin
//! [`ROI_MARGIN`]): the crop is found from the whole-slice oracle's myocardium at that size, as
//! a model with a region of interest finds it from its own first pass, and the crop's results
//! are pasted back (outside it: nothing).
//!
//! `cargo run --release -p scarseg-imaging --example resolution_ceiling [CASES] [SIZE...]`
//! (default 200 cases from the test seeds, sizes 96 128 192 256).

use scarseg_imaging::metrics::{Mask, dice, mean_sd};
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_imaging::postprocess::{PostprocessOptions, postprocess};
use scarseg_imaging::preprocess::{Geometry, labels_to_model, probabilities_to_source};
use scarseg_imaging::roi::{ROI_MARGIN, ROI_MIN_SIDE, Roi};

/// `scarseg eval`'s test cases start at this seed (crates/scarseg-cli/src/train.rs).
const TEST_SEED: u64 = 2_000_000_000;

/// The oracle's source-grid probabilities for one mask at one size.
fn oracle(mask: &Mask, size: usize) -> Vec<f32> {
    let g = Geometry::fit(mask.rows, mask.cols, size);
    probabilities_to_source(&to_model(mask, &g), &g)
}

/// The label on the model grid as training makes it: resampled, then 0/1 at 0.5.
fn to_model(mask: &Mask, g: &Geometry) -> Vec<f32> {
    let values: Vec<f32> = mask.data.iter().map(|b| *b as u8 as f32).collect();
    labels_to_model(&values, g)
        .into_iter()
        .map(|v| if v >= 0.5 { 1.0 } else { 0.0 })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mut sizes: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![96, 128, 192, 256];
    }
    let config = PhantomConfig::default();
    let slices: Vec<_> = (0..cases)
        .map(|i| generate(TEST_SEED + i, &config).slices.remove(0))
        .collect();
    println!(
        "| input size | oracle scar Dice (mean +- SD) | oracle myocardium Dice | heart crop: scar | heart crop: myocardium |"
    );
    println!("|---|---|---|---|---|");
    let options = PostprocessOptions::default();
    for size in sizes {
        let (mut scar_dice, mut myo_dice) = (Vec::new(), Vec::new());
        let (mut crop_scar_dice, mut crop_myo_dice) = (Vec::new(), Vec::new());
        for s in &slices {
            let (rows, cols) = (s.image.rows, s.image.cols);
            let (truth_scar, truth_myo) = (s.scar(), s.myocardium());
            let (scar_p, myo_p) = (oracle(&truth_scar, size), oracle(&truth_myo, size));
            let (scar, myo) = postprocess(&scar_p, &myo_p, rows, cols, &options);
            scar_dice.push(dice(&scar, &truth_scar));
            myo_dice.push(dice(&myo, &truth_myo));
            let Some(roi) = Roi::around(&myo, ROI_MARGIN, ROI_MIN_SIDE) else {
                crop_scar_dice.push(dice(&scar, &truth_scar));
                crop_myo_dice.push(dice(&myo, &truth_myo));
                continue;
            };
            let scar_p = roi.paste(&oracle(&roi.crop_mask(&truth_scar), size), rows, cols, 0.0);
            let myo_p = roi.paste(&oracle(&roi.crop_mask(&truth_myo), size), rows, cols, 0.0);
            let (scar, myo) = postprocess(&scar_p, &myo_p, rows, cols, &options);
            crop_scar_dice.push(dice(&scar, &truth_scar));
            crop_myo_dice.push(dice(&myo, &truth_myo));
        }
        let cell = |v: &[f64]| {
            let (m, sd) = mean_sd(v).unwrap_or((f64::NAN, f64::NAN));
            format!("{m:.3} +- {sd:.3}")
        };
        println!(
            "| {size} | {} | {} | {} | {} |",
            cell(&scar_dice),
            cell(&myo_dice),
            cell(&crop_scar_dice),
            cell(&crop_myo_dice)
        );
    }
}
