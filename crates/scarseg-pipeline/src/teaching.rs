//! What the teaching view shows for one slice: the network's attention (ASE gates and
//! excitations per encoder stage, CAG psi per decoder level) and probability maps at the model's
//! grid, and ScarNet's Monte Carlo noise protocol run on the slice.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use scarseg_imaging::Slice;
use scarseg_imaging::metrics::{coefficient_of_variation, dice, mean_sd};
use scarseg_imaging::noise::add_noise;
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::preprocess::preprocess;
use scarseg_imaging::roi::Roi;
use scarseg_model::ScarSegNet;
use serde::{Deserialize, Serialize};

use crate::{PipelineError, Preprocessing, analyse_slice, heart_roi, one_pass, read};

/// A single-channel map, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Map {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values.
    pub values: Vec<f32>,
}

/// The network's internals on one slice, at the model's input grid (the slice resampled and
/// padded to `size` x `size`; for a two-pass model, the second pass on the heart's crop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The z-scored network input.
    pub input: Map,
    /// ASE gates g per encoder stage (strides 4, 8, 16, 32), one per channel.
    pub gates: Vec<Vec<f32>>,
    /// ASE excitations s per encoder stage, one per channel.
    pub excitations: Vec<Vec<f32>>,
    /// CAG attention psi per decoder level, from stride 16 to stride 1.
    pub psi: Vec<Map>,
    /// Scar probability.
    pub scar_probability: Map,
    /// Myocardium probability.
    pub myocardium_probability: Map,
    /// The heart crop the maps show, for a two-pass model that found the heart; `None`: the
    /// whole slice.
    pub roi: Option<Roi>,
}

async fn read_map(t: Tensor<4>, source: &str) -> Result<Map, PipelineError> {
    let [_, _, rows, cols] = t.dims();
    Ok(Map {
        rows,
        cols,
        values: read(t, source).await?,
    })
}

/// Runs the network on `slice` with its diagnostics; a two-pass model's first pass finds the
/// heart, and the diagnostics are the second pass's, the one that draws the scar. They are one
/// forward's, on the unmirrored input, also for a model with test-time mirroring.
pub async fn explain_slice(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    preprocessing: &Preprocessing,
) -> Result<Explanation, PipelineError> {
    let size = preprocessing.size;
    let mut roi = None;
    if let Some(spec) = &preprocessing.roi {
        let (_, myo) = one_pass(model, device, slice, size, false).await?;
        roi = heart_roi(&myo, slice, spec);
    }
    let cropped;
    let slice = match &roi {
        Some(r) => {
            cropped = r.crop_slice(slice);
            &cropped
        }
        None => slice,
    };
    let input = preprocess(&slice.pixels, slice.rows, slice.cols, size);
    let x = Tensor::<1>::from_floats(input.values.as_slice(), device).reshape([1, 1, size, size]);
    let (logits, diagnostics) =
        model
            .forward_with_diagnostics(x)
            .map_err(|error| PipelineError::Model {
                source_name: slice.source.clone(),
                error,
            })?;
    let source = slice.source.as_str();
    let mut gates = Vec::with_capacity(diagnostics.ase.len());
    let mut excitations = Vec::with_capacity(diagnostics.ase.len());
    for trace in diagnostics.ase {
        let [_, c] = trace.gate.dims();
        gates.push(read(trace.gate.reshape([1, 1, 1, c]), source).await?);
        excitations.push(read(trace.excitation.reshape([1, 1, 1, c]), source).await?);
    }
    let mut psi = Vec::with_capacity(diagnostics.cag_psi.len());
    for p in diagnostics.cag_psi {
        psi.push(read_map(p, source).await?);
    }
    Ok(Explanation {
        input: Map {
            rows: size,
            cols: size,
            values: input.values,
        },
        gates,
        excitations,
        psi,
        scar_probability: read_map(sigmoid(logits.scar), source).await?,
        myocardium_probability: read_map(sigmoid(logits.myocardium), source).await?,
        roi,
    })
}

/// Mean, SD and coefficient of variation of a quantity over the noise iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Population SD.
    pub sd: f64,
    /// SD / mean (undefined for a zero mean).
    pub cov: Option<f64>,
}

fn spread(values: &[f64]) -> Option<Spread> {
    mean_sd(values).map(|(mean, sd)| Spread {
        mean,
        sd,
        cov: coefficient_of_variation(values),
    })
}

/// ScarNet's Monte Carlo protocol on one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    /// Noise SD as a fraction of the slice's intensity range.
    pub sigma: f64,
    /// Noisy runs.
    pub iterations: usize,
    /// Scar Dice of each noisy run against the noise-free prediction.
    pub scar_dice: Vec<f64>,
    /// Scar burden (%) of each noisy run; `None` where no myocardium was found.
    pub burden_percent: Vec<Option<f64>>,
    /// Scar burden of the noise-free run.
    pub clean_burden_percent: Option<f64>,
    /// Spread of the Dice.
    pub dice: Option<Spread>,
    /// Spread of the burden over the runs that found myocardium.
    pub burden: Option<Spread>,
}

/// Runs the noise-free slice and `iterations` noisy copies (see [`add_noise`]) through the
/// pipeline; `progress(k)` is awaited after the k-th noisy run (the browser's worker yields to
/// its event loop there, so a cancel can arrive), and returning `false` from it stops early (the
/// result then covers the runs done).
#[allow(clippy::too_many_arguments)]
pub async fn noise_robustness(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    preprocessing: &Preprocessing,
    options: &PostprocessOptions,
    sigma: f64,
    iterations: usize,
    seed: u64,
    mut progress: impl AsyncFnMut(usize) -> bool,
) -> Result<Robustness, PipelineError> {
    let clean = analyse_slice(model, device, slice, preprocessing, options).await?;
    let mut scar_dice = Vec::with_capacity(iterations);
    let mut burden_percent = Vec::with_capacity(iterations);
    let mut noisy = slice.clone();
    for k in 0..iterations {
        noisy.pixels = add_noise(&slice.pixels, sigma, seed, k as u64);
        let r = analyse_slice(model, device, &noisy, preprocessing, options).await?;
        scar_dice.push(dice(&r.scar, &clean.scar));
        burden_percent.push(r.burden_percent);
        if !progress(k + 1).await {
            break;
        }
    }
    let burdens: Vec<f64> = burden_percent.iter().flatten().copied().collect();
    Ok(Robustness {
        sigma,
        iterations: scar_dice.len(),
        dice: spread(&scar_dice),
        burden: spread(&burdens),
        scar_dice,
        burden_percent,
        clean_burden_percent: clean.burden_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    use scarseg_imaging::preprocess::probabilities_to_source;

    use crate::tests::default_model;

    fn phantom_slice(seed: u64) -> Slice {
        generate(seed, &PhantomConfig::default()).slices[0]
            .image
            .clone()
    }

    #[test]
    fn explanation_has_every_stage_and_level_and_matches_the_plain_forward() {
        let device = Device::flex();
        let (model, preprocessing) = default_model(&device);
        let size = preprocessing.size;
        let slice = phantom_slice(9601);
        let e = block_on(explain_slice(&model, &device, &slice, &preprocessing)).expect("explain");
        assert_eq!(e.roi.is_some(), preprocessing.roi.is_some());
        // atto: 40/80/160/320 channels; psi from stride 16 to stride 1.
        let widths: Vec<usize> = e.gates.iter().map(Vec::len).collect();
        assert_eq!(widths, [40, 80, 160, 320]);
        assert_eq!(
            e.excitations.iter().map(Vec::len).collect::<Vec<_>>(),
            widths
        );
        let sides: Vec<(usize, usize)> = e.psi.iter().map(|m| (m.rows, m.cols)).collect();
        let s = size;
        assert_eq!(
            sides,
            [
                (s / 16, s / 16),
                (s / 8, s / 8),
                (s / 4, s / 4),
                (s / 2, s / 2),
                (s, s)
            ]
        );
        for v in e.gates.iter().chain(&e.excitations).flatten() {
            // Sigmoids: in [0, 1] (a saturated one is exactly 1 in f32).
            assert!(
                (0.0..=1.0).contains(v),
                "gate or excitation {v} outside [0, 1]"
            );
        }
        for m in e
            .psi
            .iter()
            .chain([&e.scar_probability, &e.myocardium_probability])
        {
            assert_eq!(m.values.len(), m.rows * m.cols);
            assert!(m.values.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        // The same probabilities as the analysis (which runs the forward without diagnostics),
        // once mapped back onto the slice's grid (through the heart crop for a two-pass model).
        let options = PostprocessOptions::default();
        let plain = block_on(analyse_slice(
            &model,
            &device,
            &slice,
            &preprocessing,
            &options,
        ))
        .unwrap();
        let framed = e
            .roi
            .map_or_else(|| slice.clone(), |r| r.crop_slice(&slice));
        let input = preprocess(&framed.pixels, framed.rows, framed.cols, size);
        let back = probabilities_to_source(&e.scar_probability.values, &input.geometry);
        let back = match e.roi {
            Some(r) => r.paste(&back, slice.rows, slice.cols, 0.0),
            None => back,
        };
        let worst = back
            .iter()
            .zip(&plain.scar_probability)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "diagnostic forward differs by {worst}");
        assert_eq!(e.input.values, input.values);
    }

    #[test]
    fn noise_protocol_without_noise_is_perfectly_stable_and_noise_lowers_agreement() {
        let device = Device::flex();
        let (model, preprocessing) = default_model(&device);
        let slice = phantom_slice(9602);
        let options = PostprocessOptions {
            threshold: 0.3,
            ..Default::default()
        };
        let run = |sigma, n| {
            block_on(noise_robustness(
                &model,
                &device,
                &slice,
                &preprocessing,
                &options,
                sigma,
                n,
                5,
                async |_| true,
            ))
            .expect("noise run")
        };
        let still = run(0.0, 2);
        assert_eq!(still.scar_dice, [1.0, 1.0]);
        assert_eq!(still.burden_percent, [still.clean_burden_percent; 2]);
        assert_eq!(still.dice.unwrap().sd, 0.0);
        assert!(
            still.clean_burden_percent.is_some(),
            "the phantom has myocardium"
        );

        // Heavy noise (half the intensity range) changes the segmentation.
        let noisy = run(0.5, 2);
        assert_eq!(noisy.iterations, 2);
        assert!(
            noisy.scar_dice.iter().all(|d| (0.0..1.0).contains(d)),
            "{:?}",
            noisy.scar_dice
        );

        // Stopping early keeps the runs done.
        let mut calls = 0;
        let stopped = block_on(noise_robustness(
            &model,
            &device,
            &slice,
            &preprocessing,
            &options,
            0.05,
            5,
            5,
            async |k| {
                calls = k;
                k < 2
            },
        ))
        .unwrap();
        assert_eq!(
            (calls, stopped.iterations, stopped.burden_percent.len()),
            (2, 2, 2)
        );
    }
}
