//! The one inference pipeline: decoded stack -> preprocess -> forward -> postprocess -> inverse
//! to the original pixel grid -> metrics. Both the native CLI and the browser's worker call it,
//! so the masks they produce for the same file and weights are the same.
//!
//! Readback is asynchronous (`into_data_async`), as the browser requires; native callers block
//! on the future.

pub mod manifest;
pub mod outputs;
pub mod teaching;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use scarseg_imaging::classic::{NSD_CHOICES, fwhm, n_sd};
use scarseg_imaging::metrics::{Mask, burden_percent, high_risk, stack_burden_percent};
use scarseg_imaging::postprocess::{PostprocessOptions, postprocess};
use scarseg_imaging::preprocess::{preprocess, probabilities_to_source};
use scarseg_imaging::{Slice, Stack};
use scarseg_model::{ModelError, ScarSegNet};
use serde::{Deserialize, Serialize};

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The network refused the input.
    #[error("{source_name}: {error}")]
    Model {
        /// The slice's source name.
        source_name: String,
        /// The model's error.
        error: ModelError,
    },
    /// Reading results back from the device failed.
    #[error("{source_name}: reading results from the device failed: {message}")]
    Readback {
        /// The slice's source name.
        source_name: String,
        /// The backend's message.
        message: String,
    },
}

/// Everything computed for one slice, on its own pixel grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceResult {
    /// The slice's source name.
    pub source: String,
    /// Scar probability per source pixel (re-threshold without re-running the network).
    pub scar_probability: Vec<f32>,
    /// Myocardium probability per source pixel.
    pub myocardium_probability: Vec<f32>,
    /// Scar mask after postprocessing.
    pub scar: Mask,
    /// Myocardium mask after postprocessing.
    pub myocardium: Mask,
    /// Scar area, mm2.
    pub scar_area_mm2: f64,
    /// Myocardium area, mm2.
    pub myocardium_area_mm2: f64,
    /// Scar burden, percent; `None` without myocardium.
    pub burden_percent: Option<f64>,
    /// FWHM burden on the network's myocardium, percent.
    pub fwhm_burden_percent: Option<f64>,
    /// n-SD burdens on the network's myocardium for n = 2, 3, 5, 6, percent.
    pub nsd_burden_percent: Vec<(u32, Option<f64>)>,
}

/// A whole stack's analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackResult {
    /// Per slice, in stack order.
    pub slices: Vec<SliceResult>,
    /// Volume-weighted burden over the stack, percent.
    pub burden_percent: Option<f64>,
    /// Burden strictly above 5%.
    pub high_risk: bool,
}

/// Results of one slice from its source-grid probability maps (the re-thresholding path too).
pub fn slice_result(
    slice: &Slice,
    scar_probability: Vec<f32>,
    myocardium_probability: Vec<f32>,
    options: &PostprocessOptions,
) -> SliceResult {
    let (scar, myocardium) = postprocess(
        &scar_probability,
        &myocardium_probability,
        slice.rows,
        slice.cols,
        options,
    );
    let pixel = slice.pixel_area_mm2();
    let scar_area_mm2 = scar.area_px() as f64 * pixel;
    let myocardium_area_mm2 = myocardium.area_px() as f64 * pixel;
    let classic_burden = |m: &Mask| burden_percent(m.area_px() as f64, myocardium.area_px() as f64);
    let fwhm_burden_percent = classic_burden(&fwhm(&slice.pixels, &myocardium).scar);
    let nsd_burden_percent = NSD_CHOICES
        .iter()
        .map(|n| {
            (
                *n,
                classic_burden(&n_sd(&slice.pixels, &myocardium, *n as f64).scar),
            )
        })
        .collect();
    SliceResult {
        source: slice.source.clone(),
        scar_probability,
        myocardium_probability,
        burden_percent: burden_percent(scar_area_mm2, myocardium_area_mm2),
        scar,
        myocardium,
        scar_area_mm2,
        myocardium_area_mm2,
        fwhm_burden_percent,
        nsd_burden_percent,
    }
}

pub(crate) async fn read(t: Tensor<4>, source: &str) -> Result<Vec<f32>, PipelineError> {
    let readback = |message: String| PipelineError::Readback {
        source_name: source.to_string(),
        message,
    };
    t.into_data_async()
        .await
        .map_err(|e| readback(format!("{e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| readback(format!("{e:?}")))
}

/// Analyses one slice: the network at `size` x `size` (a multiple of 32), results on the
/// slice's own grid.
pub async fn analyse_slice(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    size: usize,
    options: &PostprocessOptions,
) -> Result<SliceResult, PipelineError> {
    let input = preprocess(&slice.pixels, slice.rows, slice.cols, size);
    let x = Tensor::<1>::from_floats(input.values.as_slice(), device).reshape([1, 1, size, size]);
    let logits = model.forward(x).map_err(|error| PipelineError::Model {
        source_name: slice.source.clone(),
        error,
    })?;
    let scar = read(sigmoid(logits.scar), &slice.source).await?;
    let myo = read(sigmoid(logits.myocardium), &slice.source).await?;
    Ok(slice_result(
        slice,
        probabilities_to_source(&scar, &input.geometry),
        probabilities_to_source(&myo, &input.geometry),
        options,
    ))
}

/// Analyses every slice of a stack and the stack's volume-weighted burden.
pub async fn analyse_stack(
    model: &ScarSegNet,
    device: &Device,
    stack: &Stack,
    size: usize,
    options: &PostprocessOptions,
) -> Result<StackResult, PipelineError> {
    let mut slices = Vec::with_capacity(stack.slices.len());
    for slice in &stack.slices {
        slices.push(analyse_slice(model, device, slice, size, options).await?);
    }
    Ok(StackResult::from_slices(slices, stack))
}

impl StackResult {
    /// The stack's result from its slices' results (also after re-thresholding): the
    /// volume-weighted burden uses each slice's thickness.
    pub fn from_slices(slices: Vec<SliceResult>, stack: &Stack) -> Self {
        let volumes: Vec<(f64, f64, f64)> = slices
            .iter()
            .zip(&stack.slices)
            .map(|(r, s)| (r.scar_area_mm2, r.myocardium_area_mm2, s.thickness_mm))
            .collect();
        let burden = stack_burden_percent(&volumes);
        StackResult {
            slices,
            burden_percent: burden,
            high_risk: burden.is_some_and(high_risk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    use scarseg_model::{ScarSegNetConfig, Variant};

    #[test]
    fn results_land_on_each_slices_own_grid() {
        let device = Device::flex();
        let model = ScarSegNetConfig::variant(Variant::Atto).init(&device);
        let case = generate(
            3,
            &PhantomConfig {
                size_px: [90, 140],
                slices: 2,
                ..Default::default()
            },
        );
        let stack = Stack {
            name: case.name.clone(),
            slices: case.slices.iter().map(|s| s.image.clone()).collect(),
            warnings: vec![],
        };
        let options = PostprocessOptions::default();
        let result =
            futures_lite::future::block_on(analyse_stack(&model, &device, &stack, 64, &options))
                .expect("analysis");
        assert_eq!(result.slices.len(), 2);
        for (r, s) in result.slices.iter().zip(&stack.slices) {
            assert_eq!(r.scar_probability.len(), s.rows * s.cols);
            assert_eq!((r.scar.rows, r.scar.cols), (s.rows, s.cols));
            assert!(r.scar_probability.iter().all(|p| (0.0..=1.0).contains(p)));
            // Scar is restricted to myocardium by default.
            assert!(
                r.scar
                    .data
                    .iter()
                    .zip(&r.myocardium.data)
                    .all(|(a, b)| !a || *b)
            );
            assert_eq!(
                r.scar_area_mm2,
                r.scar.area_px() as f64 * s.pixel_area_mm2()
            );
            if let Some(b) = r.burden_percent {
                assert!((0.0..=100.0).contains(&b));
            }
        }
    }

    #[test]
    fn rethresholding_needs_no_network() {
        // Probabilities by hand on a 2x2 slice: a higher threshold keeps fewer pixels.
        let slice = Slice::new(2, 2, vec![1.0, 2.0, 3.0, 4.0], "s");
        let scar = vec![0.9, 0.6, 0.2, 0.1];
        let myo = vec![0.95, 0.95, 0.95, 0.2];
        let low = slice_result(
            &slice,
            scar.clone(),
            myo.clone(),
            &PostprocessOptions::default(),
        );
        assert_eq!(low.scar.area_px(), 2);
        assert_eq!(low.myocardium.area_px(), 3);
        // Areas in mm2 at 1 mm spacing: 2 / 3 x 100.
        assert!((low.burden_percent.expect("myocardium") - 200.0 / 3.0).abs() < 1e-9);
        let high = PostprocessOptions {
            threshold: 0.7,
            ..Default::default()
        };
        let high = slice_result(&slice, scar, myo, &high);
        assert_eq!(high.scar.area_px(), 1);
    }
}
