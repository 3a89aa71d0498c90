//! How far the bull's-eye of a model's masks can be trusted: AHA segment by AHA segment, the
//! model's scar against the phantom's exact labels, on phantom stacks of six slices cut at the
//! phantom's own RV insertion (`CaseParams::rv_insertion_deg`), base first as generated.
//!
//! Prints, over every segment both walls reach: agreement of the transmurality grades (0-4;
//! exact, within one, and Cohen's linearly weighted kappa), sensitivity and specificity of the
//! "scar through more than half the wall" call (grade 3-4) and of "any scar" (above 0%), and the
//! mean absolute difference of the segments' scar percentages; then how often the base, told
//! from the model's own myocardium, is the true one; then the insertion suggested from the image
//! (`StackResult::suggested_insertion`, on the model's masks) against the phantom's, and the
//! grades' agreement when the segments are cut at the suggestion instead.
//!
//! `cargo run -p scarseg-pipeline --example aha_agreement [MODEL_DIR] [CASES] [FIRST_SEED]`
//! (default: the bundled model, 100 stacks from the first validation seed, 1,000,000,000).

use scarseg_imaging::metrics::{AhaOrientation, Mask, mean_sd, sensitivity_specificity, turn_deg};
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_pipeline::{StackResult, analyse_stack, slice_result};

// `paired` serves the examples that compare variants of one model.
#[allow(dead_code)]
mod support;

/// Cohen's kappa with linear weights over grades 0..=4 from (predicted, reference) pairs.
fn weighted_kappa(pairs: &[(u8, u8)]) -> Option<f64> {
    let n = pairs.len() as f64;
    let mut joint = [[0.0f64; 5]; 5];
    for (p, r) in pairs {
        joint[usize::from(*p)][usize::from(*r)] += 1.0 / n;
    }
    let rows: Vec<f64> = (0..5).map(|i| joint[i].iter().sum()).collect();
    let cols: Vec<f64> = (0..5).map(|j| (0..5).map(|i| joint[i][j]).sum()).collect();
    let w = |i: usize, j: usize| 1.0 - (i as f64 - j as f64).abs() / 4.0;
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..5 {
        for j in 0..5 {
            observed += w(i, j) * joint[i][j];
            expected += w(i, j) * rows[i] * cols[j];
        }
    }
    (expected < 1.0).then(|| (observed - expected) / (1.0 - expected))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let support::Setup {
        dir,
        cases,
        first_seed,
        device,
        loaded,
    } = support::setup()?;
    let config = PhantomConfig {
        slices: 6,
        ..PhantomConfig::default()
    };
    let options = loaded.manifest.postprocessing;
    let preprocessing = &loaded.manifest.preprocessing;
    let (mut grades, mut percent_error) = (Vec::new(), Vec::new());
    let (mut base_right, mut base_told) = (0, 0);
    // The suggestion: stacks with one and with the septum's side right, slices marked and with a
    // wall, each mark's error in degrees, and the grades cut at it against the truth's.
    let (mut suggested, mut side_right, mut marked, mut walls) = (0, 0, 0, 0);
    let (mut mark_error, mut suggested_grades) = (Vec::new(), Vec::new());
    for seed in first_seed..first_seed + cases {
        let case = generate(seed, &config);
        let stack = case.stack();
        let predicted = futures_lite::future::block_on(analyse_stack(
            &loaded.model,
            &device,
            &stack,
            preprocessing,
            &options,
        ))?;
        let p =
            |m: &Mask| -> Vec<f32> { m.data.iter().map(|b| if *b { 0.9 } else { 0.1 }).collect() };
        let reference = StackResult::from_slices(
            case.slices
                .iter()
                .map(|s| {
                    slice_result(
                        &s.image,
                        p(&s.scar()),
                        p(&s.myocardium()),
                        None,
                        &Default::default(),
                    )
                })
                .collect(),
            &stack,
        );
        if let Some(first) = predicted.base_is_first(&stack) {
            base_told += 1;
            base_right += usize::from(first);
        }
        let orientation = AhaOrientation {
            anterior_insertion_deg: case.params.rv_insertion_deg,
            septum_clockwise: false,
        };
        let (Ok(ours), Ok(truth)) = (
            predicted.aha_map(&stack, orientation, Some(true), None),
            reference.aha_map(&stack, orientation, Some(true), None),
        ) else {
            continue;
        };
        walls += ours.levels.iter().flatten().count();
        if let Some(guess) = predicted.suggested_insertion(&stack) {
            suggested += 1;
            side_right += usize::from(!guess.septum_clockwise);
            for m in guess.marks_deg.iter().flatten() {
                marked += 1;
                mark_error.push(turn_deg(*m, case.params.rv_insertion_deg).abs());
            }
            if let Ok(at_guess) = predicted.aha_map_marked(&stack, &guess, Some(true), None) {
                for (a, b) in at_guess.segments.iter().zip(&truth.segments) {
                    if let (Some(ga), Some(gb)) = (a.grade, b.grade) {
                        suggested_grades.push((ga, gb));
                    }
                }
            }
        }
        for (a, b) in ours.segments.iter().zip(&truth.segments) {
            if let (Some(pa), Some(pb), Some(ga), Some(gb)) =
                (a.scar_percent, b.scar_percent, a.grade, b.grade)
            {
                grades.push((ga, gb));
                percent_error.push((pa - pb).abs());
            }
        }
    }
    let n = grades.len();
    let share = |f: &dyn Fn(&(u8, u8)) -> bool| {
        100.0 * grades.iter().filter(|g| f(g)).count() as f64 / n as f64
    };
    let calls = |at: u8| -> (Vec<bool>, Vec<bool>) {
        grades.iter().map(|(p, r)| (*p >= at, *r >= at)).unzip()
    };
    let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
    let (transmural_sens, transmural_spec) = {
        let (p, r) = calls(3);
        sensitivity_specificity(&p, &r)
    };
    let (any_sens, any_spec) = {
        let (p, r) = calls(1);
        sensitivity_specificity(&p, &r)
    };
    let (mae, mae_sd) = mean_sd(&percent_error).unwrap_or((f64::NAN, f64::NAN));
    println!(
        "Model {} ({}), {cases} phantom stacks of 6 slices from seed {first_seed}:",
        loaded.manifest.name,
        dir.display()
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| segments compared | {n} |");
    println!(
        "| reference segments graded 3-4 | {} |",
        grades.iter().filter(|(_, r)| *r >= 3).count()
    );
    println!("| grade exact, % | {:.1} |", share(&|(p, r)| p == r));
    println!(
        "| grade within one, % | {:.1} |",
        share(&|(p, r)| p.abs_diff(*r) <= 1)
    );
    println!("| weighted kappa | {} |", f(weighted_kappa(&grades)));
    println!(
        "| transmural (grade 3-4) sensitivity | {} |",
        f(transmural_sens)
    );
    println!(
        "| transmural (grade 3-4) specificity | {} |",
        f(transmural_spec)
    );
    println!("| any scar sensitivity | {} |", f(any_sens));
    println!("| any scar specificity | {} |", f(any_spec));
    println!("| segment scar % absolute difference, mean (SD) | {mae:.2} ({mae_sd:.2}) |");
    println!(
        "| base told from the model's myocardium: right / told / stacks | {base_right} / {base_told} / {cases} |"
    );
    mark_error.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        mark_error
            .get(((mark_error.len() as f64 - 1.0) * q).round() as usize)
            .map_or("-".to_string(), |e| format!("{e:.1}"))
    };
    let within = |d: f64| {
        100.0 * mark_error.iter().filter(|e| **e <= d).count() as f64 / mark_error.len() as f64
    };
    let exact = 100.0 * suggested_grades.iter().filter(|(p, r)| p == r).count() as f64
        / suggested_grades.len() as f64;
    println!("| insertion suggested from the image: stacks | {suggested} / {cases} |");
    println!("| ... septum's side right: stacks | {side_right} / {suggested} |");
    println!("| ... slices marked / slices with a wall | {marked} / {walls} |");
    println!(
        "| ... mark error, degrees: median, 90th percentile, largest | {}, {}, {} |",
        quantile(0.5),
        quantile(0.9),
        quantile(1.0)
    );
    println!(
        "| ... marks within 10 / 20 / 30 degrees, % | {:.1} / {:.1} / {:.1} |",
        within(10.0),
        within(20.0),
        within(30.0)
    );
    println!(
        "| ... grade exact, segments cut at the suggestion, % ({} segments) | {exact:.1} |",
        suggested_grades.len()
    );
    println!(
        "| ... weighted kappa, cut at the suggestion | {} |",
        f(weighted_kappa(&suggested_grades))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::weighted_kappa;

    #[test]
    fn weighted_kappa_by_hand() {
        // Two pairs, grades 0 and 1 each half the time on both sides: chance agreement is
        // 0.25 * (1 + 0.75 + 0.75 + 1) = 0.875. Agreeing on both gives 1; swapping them,
        // observed 0.75, gives (0.75 - 0.875) / 0.125 = -1.
        assert_eq!(weighted_kappa(&[(0, 0), (1, 1)]), Some(1.0));
        assert_eq!(weighted_kappa(&[(0, 1), (1, 0)]), Some(-1.0));
        // One grade throughout on both sides: chance explains it all, no kappa.
        assert_eq!(weighted_kappa(&[(2, 2), (2, 2)]), None);
        // Grades 0 and 4 against 0 and 0: observed (1 + 0) / 2, chance (1 + 0) / 2.
        assert_eq!(weighted_kappa(&[(0, 0), (4, 0)]), Some(0.0));
    }
}
