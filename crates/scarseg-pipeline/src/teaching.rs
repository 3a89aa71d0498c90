//! What the teaching view shows for one slice: the network's attention (ASE gates and
//! excitations per encoder stage, CAG psi per decoder level) and probability maps at the model's
//! grid, a two-pass model's first pass on the whole slice, and ScarNet's Monte Carlo noise
//! protocol run on the slice.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use scarseg_imaging::Slice;
use scarseg_imaging::metrics::{coefficient_of_variation, dice, mean_sd};
use scarseg_imaging::noise::add_noise;
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::preprocess::{Geometry, preprocess};
use scarseg_imaging::roi::Roi;
use scarseg_model::ScarSegNet;
use serde::{Deserialize, Serialize};

use crate::{PipelineError, Preprocessing, analyse_slice, heart_roi, pass_on_input, read};

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
    /// How large one of the model grid's pixels is on the slice in the maps above (the crop for
    /// a two-pass model), in mm: the larger pixel spacing over the resampling's scale.
    pub grid_pixel_mm: f64,
    /// A two-pass model's first pass. `None` for a one-pass model.
    pub first_pass: Option<FirstPass>,
}

/// A two-pass model's first pass, on the whole slice, that placed the crop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstPass {
    /// Its z-scored input: the whole slice on the model's grid.
    pub input: Map,
    /// Its myocardium probability, on the slice's own grid.
    pub myocardium_probability: Map,
    /// How large one of the model grid's pixels was on the whole slice, in mm.
    pub grid_pixel_mm: f64,
}

/// How large one pixel of the model's `size` x `size` grid is on `slice`, in mm: the slice is
/// resampled whole into the grid, its longer side to `size`, so a pixel spans the larger spacing
/// times the source pixels per grid pixel.
pub fn grid_pixel_mm(slice: &Slice, size: usize) -> f64 {
    let spacing = slice.spacing_mm[0].max(slice.spacing_mm[1]);
    spacing / Geometry::fit(slice.rows, slice.cols, size).scale
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
    let mut first_pass = None;
    if let Some(spec) = &preprocessing.roi {
        let whole = preprocess(&slice.pixels, slice.rows, slice.cols, size);
        let (_, myo) = pass_on_input(model, device, &whole, &slice.source, false).await?;
        roi = heart_roi(&myo, slice, spec);
        first_pass = Some(FirstPass {
            input: Map {
                rows: size,
                cols: size,
                values: whole.values,
            },
            myocardium_probability: Map {
                rows: slice.rows,
                cols: slice.cols,
                values: myo,
            },
            grid_pixel_mm: grid_pixel_mm(slice, size),
        });
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
        grid_pixel_mm: grid_pixel_mm(slice, size),
        first_pass,
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
    fn a_two_pass_model_shows_its_first_pass_on_the_whole_slice_and_the_crop_it_placed() {
        let device = Device::flex();
        let (model, preprocessing) = default_model(&device);
        let spec = preprocessing
            .roi
            .expect("the default model runs two passes");
        let spec_size = preprocessing.size as f64;
        let case = generate(9603, &PhantomConfig::default());
        let slice = &case.slices[0];
        let e = block_on(explain_slice(&model, &device, &slice.image, &preprocessing))
            .expect("explain");
        let first = e.first_pass.expect("a first pass");
        // The phantom was drawn rows x cols at one spacing; the grid (128 px) is fitted to the
        // longer side: by hand, spacing x longer side / grid, and the crop's likewise.
        let p = &case.params;
        let (longer, spacing, grid) = (p.rows.max(p.cols) as f64, p.spacing_mm, spec_size);
        assert!((first.grid_pixel_mm - spacing * longer / grid).abs() < 1e-9);
        let first_grid_mm = first.grid_pixel_mm;
        let whole = &slice.image;
        assert_eq!(
            first.input.values,
            preprocess(&whole.pixels, whole.rows, whole.cols, preprocessing.size).values
        );
        let first = first.myocardium_probability;
        assert_eq!(
            (first.rows, first.cols, first.values.len()),
            (slice.image.rows, slice.image.cols, slice.image.pixels.len())
        );
        // The crop shown is the one placed from this map.
        let roi = e.roi.expect("the phantom's heart is found");
        assert_eq!(heart_roi(&first.values, &slice.image, &spec), Some(roi));
        let side = roi.rows.max(roi.cols) as f64;
        assert!((e.grid_pixel_mm - spacing * side / grid).abs() < 1e-9);
        assert!(
            e.grid_pixel_mm < first_grid_mm / 2.0,
            "the crop is the finer grid"
        );
        // The map is the phantom's myocardium (its labels, not the model's output, say where):
        // high inside, low outside, and the crop holds all of it.
        let truth = slice.myocardium();
        let mean = |inside: bool| {
            let v: Vec<f32> = first
                .values
                .iter()
                .zip(&truth.data)
                .filter(|(_, t)| **t == inside)
                .map(|(p, _)| *p)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        let (inside, outside) = (mean(true), mean(false));
        assert!(
            inside > 0.7 && outside < 0.02,
            "{inside} inside, {outside} outside"
        );
        for (i, _) in truth.data.iter().enumerate().filter(|(_, t)| **t) {
            let (r, c) = (i / truth.cols, i % truth.cols);
            assert!(
                (roi.top..roi.top + roi.rows).contains(&r)
                    && (roi.left..roi.left + roi.cols).contains(&c),
                "myocardium at ({r}, {c}) outside the crop {roi:?}"
            );
        }
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
