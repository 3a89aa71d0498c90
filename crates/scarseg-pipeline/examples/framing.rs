//! Test-time augmentation in framing: does averaging a two-pass model's second pass over several
//! crops of the heart raise its scar Dice?
//!
//! Training already frames the heart at random (margin 0.15-0.5, the crop moved by up to a
//! tenth of its side), so each crop below is one the network was trained on; averaging them is
//! to framing what mirroring is to orientation. For each phantom case the first pass runs once
//! and places the crop as the pipeline does; then each variant's second passes are averaged,
//! pixel by pixel, over the crops that cover the pixel (0 where none does), and post-processed
//! as `scarseg eval` does at thresholds 0.50 and the model's own.
//!
//! - `A`: the pipeline's own crop (the manifest's margin), one pass;
//! - `B`: A and its left-right mirror;
//! - `C`: margins 0.20, the manifest's, 0.35;
//! - `D`: the manifest's margin, the crop unmoved and moved by a twentieth of its side along
//!   each diagonal (5 passes);
//! - `E`: C with each crop mirrored too (6 passes).
//!
//! `cargo run --release -p scarseg-pipeline --example framing [MODEL_DIR] [CASES] [FIRST_SEED]`
//! (default: the bundled model, 100 cases from the first validation seed, 1,000,000,000).

use burn::tensor::Device;
use scarseg_imaging::Slice;
use scarseg_imaging::metrics::dice;
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_imaging::postprocess::{PostprocessOptions, postprocess};
use scarseg_imaging::roi::Roi;
use scarseg_model::ScarSegNet;
use scarseg_pipeline::{Preprocessing, crop_pass, heart_roi, probabilities};

mod support;

/// Per-pixel mean of several crops' probabilities (each on the slice's `rows` x `cols` grid)
/// over the crops that cover each pixel; 0 where none does.
fn average(passes: &[(Roi, Vec<f32>)], rows: usize, cols: usize) -> Vec<f32> {
    let mut sum = vec![0f32; rows * cols];
    let mut count = vec![0u32; rows * cols];
    for (roi, p) in passes {
        for r in roi.top..roi.top + roi.rows {
            for c in roi.left..roi.left + roi.cols {
                sum[r * cols + c] += p[r * cols + c];
                count[r * cols + c] += 1;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, c)| if *c > 0 { s / *c as f32 } else { 0.0 })
        .collect()
}

/// The crops of one variant: (roi, mirrored) for each second pass.
fn crops(
    variant: char,
    myo_first: &[f32],
    slice: &Slice,
    pre: &Preprocessing,
) -> Option<Vec<(Roi, bool)>> {
    let spec = pre.roi.as_ref()?;
    let at = |margin: f64| {
        let spec = scarseg_pipeline::RoiSpec { margin, ..*spec };
        heart_roi(myo_first, slice, &spec)
    };
    let own = at(spec.margin)?;
    let margins = [0.20, spec.margin, 0.35];
    Some(match variant {
        'A' => vec![(own, false)],
        'B' => vec![(own, false), (own, true)],
        'C' => margins
            .iter()
            .filter_map(|m| at(*m))
            .map(|r| (r, false))
            .collect(),
        'D' => {
            let d = (own.rows.max(own.cols) / 20) as i64;
            [(0, 0), (-d, -d), (-d, d), (d, -d), (d, d)]
                .iter()
                .map(|(dr, dc)| (own.shifted(*dr, *dc, slice.rows, slice.cols), false))
                .collect()
        }
        'E' => margins
            .iter()
            .filter_map(|m| at(*m))
            .flat_map(|r| [(r, false), (r, true)])
            .collect(),
        _ => unreachable!("variants are A-E"),
    })
}

async fn variant_probabilities(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    pre: &Preprocessing,
    variant: char,
    first: &(Vec<f32>, Vec<f32>),
) -> Result<(Vec<f32>, Vec<f32>), Box<dyn std::error::Error>> {
    let Some(crops) = crops(variant, &first.1, slice, pre) else {
        return Ok(first.clone());
    };
    let (mut scar, mut myo) = (Vec::new(), Vec::new());
    for (roi, mirror) in crops {
        let (s, m) = crop_pass(model, device, slice, &roi, pre.size, mirror).await?;
        scar.push((roi, s));
        myo.push((roi, m));
    }
    Ok((
        average(&scar, slice.rows, slice.cols),
        average(&myo, slice.rows, slice.cols),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let support::Setup {
        dir,
        cases,
        first_seed,
        device,
        loaded,
    } = support::setup()?;
    let pre = loaded.manifest.preprocessing.clone();
    let whole = Preprocessing {
        roi: None,
        mirror: false,
        ..pre.clone()
    };
    let model_t = loaded.manifest.postprocessing.threshold;
    let thresholds = [0.50f32, model_t];
    let variants = ['A', 'B', 'C', 'D', 'E'];
    // dice[variant][threshold] per slice.
    let mut dices = vec![vec![Vec::new(); thresholds.len()]; variants.len()];
    let config = PhantomConfig::default();
    for seed in first_seed..first_seed + cases {
        let case = generate(seed, &config);
        for s in &case.slices {
            let (rows, cols) = (s.image.rows, s.image.cols);
            let reference = s.scar();
            let (scar0, myo0, _) = futures_lite::future::block_on(probabilities(
                &loaded.model,
                &device,
                &s.image,
                &whole,
            ))?;
            let first = (scar0, myo0);
            for (v, out) in variants.iter().zip(dices.iter_mut()) {
                let (scar, myo) = futures_lite::future::block_on(variant_probabilities(
                    &loaded.model,
                    &device,
                    &s.image,
                    &pre,
                    *v,
                    &first,
                ))?;
                for (t, out) in thresholds.iter().zip(out.iter_mut()) {
                    let options = PostprocessOptions {
                        threshold: *t,
                        ..loaded.manifest.postprocessing
                    };
                    let mask = postprocess(&scar, &myo, rows, cols, &options).0;
                    out.push(dice(&mask, &reference));
                }
            }
        }
        if (seed - first_seed + 1).is_multiple_of(50) {
            eprintln!("{} of {cases} cases", seed - first_seed + 1);
        }
    }
    println!(
        "Model {} (threshold {model_t}), {cases} phantom cases from seed {first_seed}\n",
        dir.display()
    );
    println!(
        "| variant | threshold | scar Dice mean | SD | minus A at the model's threshold, case by \
         case | its SE |\n|---|---|---|---|---|---|"
    );
    let base = &dices[0][1];
    for (v, per_t) in variants.iter().zip(&dices) {
        for (t, d) in thresholds.iter().zip(per_t) {
            let [m, sd, dm, se] = support::paired(d, base);
            println!("| {v} | {t:.2} | {m:.4} | {sd:.4} | {dm:+.4} | {se:.4} |");
        }
    }
    Ok(())
}
