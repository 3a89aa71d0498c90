//! How much scar Dice the step from probabilities to masks leaves on the table, for one model.
//!
//! The network's probabilities are computed once per phantom case (as `scarseg eval` computes
//! them: the manifest's preprocessing, one or two passes); then several decodings turn them into
//! masks, each post-processed as `scarseg eval` does (scar kept inside the myocardium):
//!
//! - `fixed T`: one threshold for scar and myocardium, what `scarseg eval --threshold T` runs;
//! - `oracle T per case`: the myocardium at the model's threshold, the scar at whichever of
//!   0.05, 0.10, ..., 0.95 gives that case the best Dice against its reference. No decoding that
//!   thresholds can beat it; it reads the reference, so it is a ceiling, not a method;
//! - `scar in the true myocardium`: the scar at the model's threshold, kept inside the
//!   reference myocardium instead of the predicted one (reads the reference): how much of the
//!   scar's error is the myocardium's outline;
//! - `scar alone`: the scar at the model's threshold, not restricted to any myocardium;
//! - `fallback T`: the model's own masks, but where its scar mask is empty, the scar at the
//!   lower threshold T inside its myocardium: for scars the network sees but doubts;
//! - `expected Dice`: the myocardium at the model's threshold; the scar is the k most probable
//!   myocardium pixels, k chosen to maximise the expected Dice 2 sum_{top k} p / (k + sum p)
//!   (pixels independent), or nothing when the chance that there is no scar, prod (1 - p),
//!   is higher. It reads only the probabilities.
//!
//! Then where the default decoding's wrong scar pixels lie, summed over the cases, by the
//! reference labels in each pixel's 3 x 3 neighbourhood: at the endocardial edge (blood pool in
//! it), at the epicardial edge (background in it, no blood pool), or inside the wall (neither:
//! the scar's own border within the myocardium, its sector edges and transmural front).
//!
//! `cargo run --release -p scarseg-pipeline --example decoding [MODEL_DIR] [CASES] [FIRST_SEED]`
//! (default: the bundled model, 100 cases from the first validation seed, 1,000,000,000).

use scarseg_imaging::metrics::{Mask, dice, mean_sd};
use scarseg_imaging::phantom::{PhantomConfig, generate, label};
use scarseg_imaging::postprocess::{PostprocessOptions, intersect, postprocess, threshold};
use scarseg_pipeline::probabilities;

mod support;

/// Where a pixel lies, from the reference labels of its 3 x 3 neighbourhood: 0 at the
/// endocardial edge, 1 at the epicardial edge, 2 inside the wall.
fn place(labels: &[u8], rows: usize, cols: usize, i: usize) -> usize {
    let (r, c) = (i / cols, i % cols);
    let mut near = [false; 2];
    for rr in r.saturating_sub(1)..=(r + 1).min(rows - 1) {
        for cc in c.saturating_sub(1)..=(c + 1).min(cols - 1) {
            match labels[rr * cols + cc] {
                label::BLOOD_POOL => near[0] = true,
                label::BACKGROUND => near[1] = true,
                _ => {}
            }
        }
    }
    if near[0] {
        0
    } else if near[1] {
        1
    } else {
        2
    }
}

/// The scar mask that maximises the expected Dice under independent pixel probabilities,
/// among the pixels of `myocardium`.
fn expected_dice_mask(scar: &[f32], myocardium: &Mask) -> Mask {
    let mut inside: Vec<(usize, f64)> = myocardium
        .data
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| (i, f64::from(scar[i])))
        .collect();
    inside.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = inside.iter().map(|(_, p)| p).sum();
    let p_empty: f64 = inside
        .iter()
        .map(|(_, p)| (1.0 - p).max(0.0).ln())
        .sum::<f64>()
        .exp();
    let (mut best_k, mut best) = (0, p_empty);
    let mut top = 0.0;
    for (k, (_, p)) in inside.iter().enumerate() {
        top += p;
        let e = 2.0 * top / (k as f64 + 1.0 + total);
        if e > best {
            (best_k, best) = (k + 1, e);
        }
    }
    let mut out = Mask::empty(myocardium.rows, myocardium.cols);
    for (i, _) in &inside[..best_k] {
        out.data[*i] = true;
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let support::Setup {
        dir,
        cases,
        first_seed: first,
        device,
        loaded,
    } = support::setup()?;
    let model_t = loaded.manifest.postprocessing.threshold;
    let fixed: Vec<f32> = (6..=14).map(|i| i as f32 * 0.05).collect();
    let grid: Vec<f32> = (1..=19).map(|i| i as f32 * 0.05).collect();
    let mut fixed_dice = vec![Vec::new(); fixed.len()];
    let (mut oracle, mut expected, mut chosen) = (Vec::new(), Vec::new(), Vec::new());
    let (mut true_myo, mut alone) = (Vec::new(), Vec::new());
    // The fallback decodings' lower thresholds, where the model's own finds no scar.
    let lows = [0.1f32, 0.2, 0.3];
    let (mut own_dice, mut fallback) = (Vec::new(), vec![Vec::new(); lows.len()]);
    // Wrong scar pixels of the model's own decoding: [false positives, false negatives] by place.
    let mut wrong = [[0usize; 3]; 2];
    let mut right = 0usize;
    // Reference scar pixels outside the second pass's crop: lost whatever the network does.
    let (mut outside_crop, mut cases_cut) = (0usize, 0usize);
    let config = PhantomConfig::default();
    for seed in first..first + cases {
        let case = generate(seed, &config);
        for s in &case.slices {
            let (rows, cols) = (s.image.rows, s.image.cols);
            let reference = s.scar();
            let (scar, myo, roi) = futures_lite::future::block_on(probabilities(
                &loaded.model,
                &device,
                &s.image,
                &loaded.manifest.preprocessing,
            ))?;
            for (t, out) in fixed.iter().zip(fixed_dice.iter_mut()) {
                let options = PostprocessOptions {
                    threshold: *t,
                    ..loaded.manifest.postprocessing
                };
                out.push(dice(
                    &postprocess(&scar, &myo, rows, cols, &options).0,
                    &reference,
                ));
            }
            let myo_mask = threshold(&myo, rows, cols, model_t);
            let scar_mask = threshold(&scar, rows, cols, model_t);
            true_myo.push(dice(&intersect(&scar_mask, &s.myocardium()), &reference));
            alone.push(dice(&scar_mask, &reference));
            let own = postprocess(&scar, &myo, rows, cols, &loaded.manifest.postprocessing).0;
            let own_d = dice(&own, &reference);
            own_dice.push(own_d);
            if let Some(roi) = &roi {
                let inside = roi.crop_mask(&reference).area_px();
                outside_crop += reference.area_px() - inside;
                cases_cut += usize::from(inside < reference.area_px());
            }
            for (t, out) in lows.iter().zip(fallback.iter_mut()) {
                out.push(if own.area_px() > 0 {
                    own_d
                } else {
                    dice(
                        &intersect(&threshold(&scar, rows, cols, *t), &myo_mask),
                        &reference,
                    )
                });
            }
            for (i, (got, want)) in own.data.iter().zip(&reference.data).enumerate() {
                match (got, want) {
                    (true, true) => right += 1,
                    (true, false) => wrong[0][place(&s.labels, rows, cols, i)] += 1,
                    (false, true) => wrong[1][place(&s.labels, rows, cols, i)] += 1,
                    _ => {}
                }
            }
            let (t_best, d_best) = grid
                .iter()
                .map(|t| {
                    let m = intersect(&threshold(&scar, rows, cols, *t), &myo_mask);
                    (*t, dice(&m, &reference))
                })
                .fold((0.0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
            oracle.push(d_best);
            chosen.push(f64::from(t_best));
            expected.push(dice(&expected_dice_mask(&scar, &myo_mask), &reference));
        }
    }
    // Case by case against the model's own decoding: mean difference and its standard error.
    let show = |name: String, v: &[f64]| {
        let [m, sd, dm, se] = support::paired(v, &own_dice);
        println!(
            "| {name} | {m:.4} | {sd:.4} | {dm:+.4} | {se:.4} | {} |",
            v.len()
        );
    };
    println!(
        "Model {} (threshold {model_t}), {cases} phantom cases from seed {first}\n",
        dir.display()
    );
    println!(
        "| decoding | scar Dice mean | SD | minus the model's own, case by case | its SE | n \
         |\n|---|---|---|---|---|---|"
    );
    for (t, v) in fixed.iter().zip(&fixed_dice) {
        show(format!("fixed {t:.2}"), v);
    }
    show("oracle T per case (reads the reference)".into(), &oracle);
    show(
        "scar in the true myocardium (reads the reference)".into(),
        &true_myo,
    );
    show("scar alone".into(), &alone);
    for (t, v) in lows.iter().zip(&fallback) {
        show(format!("fallback {t:.2}"), v);
    }
    show("expected Dice".into(), &expected);
    let (m, sd) = mean_sd(&chosen).unwrap_or((f64::NAN, f64::NAN));
    println!("\nOracle's per-case threshold: mean {m:.3}, SD {sd:.3}");
    let total: usize = wrong.iter().flatten().sum();
    println!(
        "\nWrong scar pixels at the model's threshold ({right} right, {total} wrong, summed over \
         the cases)\n\n| where (reference, 3 x 3) | false positives | false negatives | share \
         of the wrong |\n|---|---|---|---|"
    );
    for (k, name) in ["endocardial edge", "epicardial edge", "inside the wall"]
        .iter()
        .enumerate()
    {
        let (fp, fneg) = (wrong[0][k], wrong[1][k]);
        let share = (fp + fneg) as f64 / total.max(1) as f64;
        println!("| {name} | {fp} | {fneg} | {share:.2} |");
    }
    println!(
        "\nReference scar pixels outside the heart crop: {outside_crop} (in {cases_cut} cases)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_by_the_reference_neighbourhood() {
        // 3 x 4 labels:  1 3 3 2
        //                1 3 3 2
        //                2 2 2 0
        let labels = [1, 3, 3, 2, 1, 3, 3, 2, 2, 2, 2, 0];
        // (0, 1) touches blood pool; (1, 2) touches the background at (2, 3); (0, 2) neither.
        assert_eq!(place(&labels, 3, 4, 1), 0);
        assert_eq!(place(&labels, 3, 4, 6), 1);
        assert_eq!(place(&labels, 3, 4, 2), 2);
        // The blood pool pixel itself is at the endocardial edge, the corner at the epicardial.
        assert_eq!(place(&labels, 3, 4, 0), 0);
        assert_eq!(place(&labels, 3, 4, 11), 1);
    }

    #[test]
    fn expected_dice_takes_the_confident_pixels_and_no_more() {
        // Four myocardium pixels at 0.9, 0.8, 0.2, 0.1; one outside the myocardium at 0.99.
        // Sum p = 2.0. k=1: 1.8 / 3 = 0.600; k=2: 3.4 / 4 = 0.850; k=3: 3.8 / 5 = 0.760;
        // empty: 0.1 * 0.2 * 0.8 * 0.9 = 0.0144. So the two confident pixels.
        let myo = Mask {
            rows: 1,
            cols: 5,
            data: vec![true, true, true, true, false],
        };
        let m = expected_dice_mask(&[0.9, 0.2, 0.8, 0.1, 0.99], &myo);
        assert_eq!(m.data, vec![true, false, true, false, false]);
        // All pixels unlikely: predicting nothing (0.9^4 = 0.656) beats one pixel (0.2 / 1.4).
        let m = expected_dice_mask(&[0.1, 0.1, 0.1, 0.1, 0.0], &myo);
        assert_eq!(m.area_px(), 0);
    }
}
