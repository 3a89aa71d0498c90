//! The one inference pipeline: decoded stack -> preprocess -> forward -> postprocess -> inverse
//! to the original pixel grid -> metrics. Both the native CLI and the browser's worker call it,
//! so the masks they produce for the same file and weights are the same. A two-pass model (its
//! manifest's `preprocessing.roi`) runs preprocess and forward twice: on the whole slice, then on
//! the crop around the myocardium the first pass found ([`heart_roi`]). With the manifest's
//! `preprocessing.mirror` the pass that draws the result is averaged with its left-right mirror.
//! A stack's results ([`StackResult`]) hold its volumes, burden and, once the user marks the RV
//! insertion, its scar by AHA segment ([`StackResult::aha_map`]). The user's corrections by hand
//! lie over the masks before anything is measured ([`corrected_slice_result`]); a label volume
//! becomes corrections the same way in the page and the CLI ([`StackResult::towards_labels`]).
//!
//! Readback is asynchronous (`into_data_async`), as the browser requires; native callers block
//! on the future.

pub mod manifest;
pub mod outputs;
pub mod teaching;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use scarseg_imaging::classic::{NSD_CHOICES, fwhm, gray_zone, n_sd};
use scarseg_imaging::depth::{ScarDepth, scar_depth};
use scarseg_imaging::edit::MaskEdits;
use scarseg_imaging::landmark::{InsertionGuess, guess_insertion};
use scarseg_imaging::metrics::{
    AHA_SEGMENT_NAMES, AhaOrientation, CORONARY_TERRITORIES, Mask, WALL_SECTORS, WallLevel,
    aha_slice_counts, base_is_first, burden_percent, high_risk, mean_direction_deg,
    mean_wall_radius_mm, sector_scar_percent, slice_insertions, stack_burden_percent,
    transmural_sectors, transmurality_grade, turn_deg, wall_levels,
};
use scarseg_imaging::postprocess::{
    PostprocessOptions, intersect, postprocess, remove_components_below_fraction,
};
use scarseg_imaging::preprocess::{ModelInput, preprocess, probabilities_to_source};
use scarseg_imaging::quality::{Doubt, slice_doubts};
use scarseg_imaging::roi::Roi;
use scarseg_imaging::{Slice, Stack};
use scarseg_model::{ModelError, ScarSegNet};
use serde::{Deserialize, Serialize};

pub use manifest::{Preprocessing, RoiSpec};

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
    /// The peri-infarct gray zone on the network's myocardium (above 2 SD of remote, below the
    /// FWHM threshold: `scarseg_imaging::classic::gray_zone`), mm2.
    #[serde(default)]
    pub gray_zone_area_mm2: f64,
    /// For a two-pass model, the heart crop its second pass analysed (the page draws it; the
    /// probabilities outside it are 0). `None`: one pass on the whole slice.
    #[serde(default)]
    pub roi: Option<Roi>,
    /// Scar as a percentage of each wall sector's myocardium: [`WALL_SECTORS`] sectors clockwise
    /// from 12 o'clock around the myocardium's centroid (`None` where a sector holds no
    /// myocardium); empty without myocardium. See [`sector_scar_percent`].
    #[serde(default)]
    pub sector_scar_percent: Vec<Option<f64>>,
    /// Where in the wall the scar lies: its area (mm2) by third of the wall, endocardium to
    /// epicardium, and its regions (`scarseg_imaging::depth`); `None` where the myocardium
    /// encloses no cavity (an open ring).
    #[serde(default)]
    pub scar_depth: Option<ScarDepth>,
    /// Pixels whose scar or myocardium label the user changed by hand
    /// ([`corrected_slice_result`]); 0 for the network's own masks.
    #[serde(default)]
    pub edited_px: usize,
    /// With corrections by hand, the network's own masks on this slice, measured against the
    /// corrected ones, so the report can give the burden the network alone found and how far it
    /// was from the corrected outlines; `None` where nothing was changed.
    #[serde(default)]
    pub network: Option<NetworkMasks>,
    /// Why the outlines (corrected ones included) may not be a short-axis left ventricle:
    /// pieces, no cavity, a cavity no brighter than the wall (`scarseg_imaging::quality`). Empty
    /// for a well-formed ring and without myocardium.
    #[serde(default)]
    pub doubts: Vec<Doubt>,
}

/// The network's own masks on a corrected slice, by pixel count: theirs, and what they share
/// with the corrected masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkMasks {
    /// The network's scar, pixels.
    pub scar_px: usize,
    /// The network's myocardium, pixels.
    pub myocardium_px: usize,
    /// Scar in both the network's and the corrected mask, pixels.
    pub scar_overlap_px: usize,
    /// Myocardium in both, pixels.
    pub myocardium_overlap_px: usize,
}

/// Dice from the overlap and the two sizes; `None` when both are empty.
fn dice(overlap: usize, a: usize, b: usize) -> Option<f64> {
    (a + b > 0).then(|| 2.0 * overlap as f64 / (a + b) as f64)
}

impl SliceResult {
    /// Sectors whose scar exceeds half their myocardium
    /// ([`scarseg_imaging::metrics::TRANSMURAL_PERCENT`]).
    pub fn transmural_sectors(&self) -> usize {
        transmural_sectors(&self.sector_scar_percent)
    }

    /// Sectors that hold myocardium.
    pub fn wall_sectors(&self) -> usize {
        self.sector_scar_percent.iter().flatten().count()
    }

    /// This slice measured again from its own probabilities, without running the network: under
    /// a new threshold, new corrections by hand, or both.
    pub fn remeasured(
        &self,
        slice: &Slice,
        options: &PostprocessOptions,
        edits: Option<&MaskEdits>,
    ) -> SliceResult {
        corrected_slice_result(
            slice,
            self.scar_probability.clone(),
            self.myocardium_probability.clone(),
            self.roi,
            options,
            edits,
        )
    }

    /// This slice corrected to a label map on its grid (EMIDEC values; a reader's contours, an
    /// exported label volume loaded back, a phantom's truth): where the map differs from the
    /// network's masks under `options` it becomes the corrections, which come back beside the
    /// result (`None` for a map of another size, measured as the network's own masks).
    pub fn towards_labels(
        &self,
        slice: &Slice,
        options: &PostprocessOptions,
        labels: &[u8],
    ) -> (SliceResult, Option<MaskEdits>) {
        // The masks are drawn once: the corrections are measured against them.
        let masks = postprocess(
            &self.scar_probability,
            &self.myocardium_probability,
            slice.rows,
            slice.cols,
            options,
        );
        let edits = MaskEdits::towards_labels(&masks.0, &masks.1, labels);
        let result = measured(
            slice,
            self.scar_probability.clone(),
            self.myocardium_probability.clone(),
            self.roi,
            masks,
            edits.as_ref(),
        );
        (result, edits)
    }

    /// The burden the network alone found on this slice, before corrections by hand (the
    /// burden itself where there were none), percent.
    pub fn network_burden_percent(&self) -> Option<f64> {
        match self.network {
            Some(n) => burden_percent(n.scar_px as f64, n.myocardium_px as f64),
            None => self.burden_percent,
        }
    }

    /// The gray zone as a percentage of the myocardium; `None` without myocardium.
    pub fn gray_zone_percent(&self) -> Option<f64> {
        burden_percent(self.gray_zone_area_mm2, self.myocardium_area_mm2)
    }
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

/// Results of one slice from its source-grid probability maps and the heart crop they came from
/// (`None` for one pass on the whole slice); the re-thresholding path too.
pub fn slice_result(
    slice: &Slice,
    scar_probability: Vec<f32>,
    myocardium_probability: Vec<f32>,
    roi: Option<Roi>,
    options: &PostprocessOptions,
) -> SliceResult {
    corrected_slice_result(
        slice,
        scar_probability,
        myocardium_probability,
        roi,
        options,
        None,
    )
}

/// [`slice_result`] with the user's corrections laid over the postprocessed masks before
/// anything is measured, so that areas, burdens, the classic methods on the myocardium, the
/// gray zone, the sectors and everything summed from them follow the corrected outlines. The
/// corrections are kept apart from the probabilities, so a new threshold keeps them.
pub fn corrected_slice_result(
    slice: &Slice,
    scar_probability: Vec<f32>,
    myocardium_probability: Vec<f32>,
    roi: Option<Roi>,
    options: &PostprocessOptions,
    edits: Option<&MaskEdits>,
) -> SliceResult {
    let (scar, myocardium) = postprocess(
        &scar_probability,
        &myocardium_probability,
        slice.rows,
        slice.cols,
        options,
    );
    measured(
        slice,
        scar_probability,
        myocardium_probability,
        roi,
        (scar, myocardium),
        edits,
    )
}

/// [`corrected_slice_result`] from the network's postprocessed masks, drawn already.
fn measured(
    slice: &Slice,
    scar_probability: Vec<f32>,
    myocardium_probability: Vec<f32>,
    roi: Option<Roi>,
    (scar, myocardium): (Mask, Mask),
    edits: Option<&MaskEdits>,
) -> SliceResult {
    let pixel = slice.pixel_area_mm2();
    let (network, scar, myocardium, edited_px) = match edits {
        Some(e) => {
            let (new_scar, new_myo, edited_px) = e.apply(&scar, &myocardium);
            let network = (edited_px > 0).then(|| NetworkMasks {
                scar_px: scar.area_px(),
                myocardium_px: myocardium.area_px(),
                scar_overlap_px: intersect(&scar, &new_scar).area_px(),
                myocardium_overlap_px: intersect(&myocardium, &new_myo).area_px(),
            });
            (network, new_scar, new_myo, edited_px)
        }
        None => (None, scar, myocardium, 0),
    };
    let sector_scar_percent =
        sector_scar_percent(&scar, &myocardium, slice.spacing_mm, WALL_SECTORS);
    let scar_depth = scar_depth(&scar, &myocardium, slice.spacing_mm);
    let scar_area_mm2 = scar.area_px() as f64 * pixel;
    let myocardium_area_mm2 = myocardium.area_px() as f64 * pixel;
    let classic_burden = |m: &Mask| burden_percent(m.area_px() as f64, myocardium.area_px() as f64);
    let fwhm_core = fwhm(&slice.pixels, &myocardium).scar;
    let fwhm_burden_percent = classic_burden(&fwhm_core);
    let nsd: Vec<(u32, Mask)> = NSD_CHOICES
        .iter()
        .map(|n| (*n, n_sd(&slice.pixels, &myocardium, *n as f64).scar))
        .collect();
    let nsd_burden_percent = nsd.iter().map(|(n, m)| (*n, classic_burden(m))).collect();
    // The gray zone from the 2-SD and FWHM masks just drawn, not drawn again.
    let two_sd = &nsd
        .iter()
        .find(|(n, _)| *n == 2)
        .expect("2 is among NSD_CHOICES")
        .1;
    let gray_zone_area_mm2 = gray_zone(two_sd, &fwhm_core).area_px() as f64 * pixel;
    let doubts = slice_doubts(&slice.pixels, &scar, &myocardium);
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
        gray_zone_area_mm2,
        roi,
        sector_scar_percent,
        scar_depth,
        edited_px,
        network,
        doubts,
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

/// One pass of the network at `size` x `size`: scar and myocardium probabilities on the slice's
/// own grid. With `mirror`, the left-right mirrored input runs in the same batch and its
/// probabilities, mirrored back, are averaged with the plain ones.
pub(crate) async fn one_pass(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    size: usize,
    mirror: bool,
) -> Result<(Vec<f32>, Vec<f32>), PipelineError> {
    let input = preprocess(&slice.pixels, slice.rows, slice.cols, size);
    pass_on_input(model, device, &input, &slice.source, mirror).await
}

/// [`one_pass`] on an input already preprocessed from the slice named `source`, for callers
/// that also show the input.
pub(crate) async fn pass_on_input(
    model: &ScarSegNet,
    device: &Device,
    input: &ModelInput,
    source: &str,
    mirror: bool,
) -> Result<(Vec<f32>, Vec<f32>), PipelineError> {
    let size = input.geometry.size;
    let x = Tensor::<1>::from_floats(input.values.as_slice(), device).reshape([1, 1, size, size]);
    let x = if mirror {
        Tensor::cat(vec![x.clone(), x.flip([3])], 0)
    } else {
        x
    };
    let logits = model.forward(x).map_err(|error| PipelineError::Model {
        source_name: source.to_owned(),
        error,
    })?;
    let average = |logits: Tensor<4>| {
        let p = sigmoid(logits);
        if mirror {
            let plain = p.clone().narrow(0, 0, 1);
            let mirrored = p.narrow(0, 1, 1).flip([3]);
            (plain + mirrored).mul_scalar(0.5)
        } else {
            p
        }
    };
    let scar = read(average(logits.scar), source).await?;
    let myo = read(average(logits.myocardium), source).await?;
    Ok((
        probabilities_to_source(&scar, &input.geometry),
        probabilities_to_source(&myo, &input.geometry),
    ))
}

/// Where a two-pass model's second pass looks: the crop around the first pass's myocardium
/// (probability 0.5 or more, whatever the scar threshold), less its components smaller than
/// `spec.min_component_fraction` of the largest. `None` when the first pass found no
/// myocardium; the first pass's result then stands.
pub fn heart_roi(myocardium_probability: &[f32], slice: &Slice, spec: &RoiSpec) -> Option<Roi> {
    let found = Mask {
        rows: slice.rows,
        cols: slice.cols,
        data: myocardium_probability.iter().map(|p| *p >= 0.5).collect(),
    };
    let found = remove_components_below_fraction(&found, spec.min_component_fraction);
    Roi::around(&found, spec.margin, spec.min_side)
}

/// Scar and myocardium probabilities on the slice's own grid, as the manifest's preprocessing
/// says: one pass on the whole slice, or for a two-pass model the second pass's probabilities
/// inside the heart's crop and 0 outside it. Also returns the crop.
pub async fn probabilities(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    preprocessing: &Preprocessing,
) -> Result<(Vec<f32>, Vec<f32>, Option<Roi>), PipelineError> {
    let (size, mirror) = (preprocessing.size, preprocessing.mirror);
    let Some(spec) = &preprocessing.roi else {
        let (scar, myo) = one_pass(model, device, slice, size, mirror).await?;
        return Ok((scar, myo, None));
    };
    // The first pass only places the crop, so it runs once, unmirrored.
    let (scar, myo) = one_pass(model, device, slice, size, false).await?;
    let Some(roi) = heart_roi(&myo, slice, spec) else {
        return Ok((scar, myo, None));
    };
    let (scar, myo) = crop_pass(model, device, slice, &roi, size, mirror).await?;
    Ok((scar, myo, Some(roi)))
}

/// The network's pass on `roi`'s crop of `slice`: scar and myocardium probabilities on the
/// slice's own grid, 0 outside the crop.
pub async fn crop_pass(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    roi: &Roi,
    size: usize,
    mirror: bool,
) -> Result<(Vec<f32>, Vec<f32>), PipelineError> {
    let crop = roi.crop_slice(slice);
    let (crop_scar, crop_myo) = one_pass(model, device, &crop, size, mirror).await?;
    let (rows, cols) = (slice.rows, slice.cols);
    Ok((
        roi.paste(&crop_scar, rows, cols, 0.0),
        roi.paste(&crop_myo, rows, cols, 0.0),
    ))
}

/// Analyses one slice as the manifest's preprocessing says (input size, one or two passes),
/// results on the slice's own grid.
pub async fn analyse_slice(
    model: &ScarSegNet,
    device: &Device,
    slice: &Slice,
    preprocessing: &Preprocessing,
    options: &PostprocessOptions,
) -> Result<SliceResult, PipelineError> {
    let (scar, myo, roi) = probabilities(model, device, slice, preprocessing).await?;
    Ok(slice_result(slice, scar, myo, roi, options))
}

/// Analyses every slice of a stack and the stack's volume-weighted burden.
pub async fn analyse_stack(
    model: &ScarSegNet,
    device: &Device,
    stack: &Stack,
    preprocessing: &Preprocessing,
    options: &PostprocessOptions,
) -> Result<StackResult, PipelineError> {
    let mut slices = Vec::with_capacity(stack.slices.len());
    for slice in &stack.slices {
        slices.push(analyse_slice(model, device, slice, preprocessing, options).await?);
    }
    Ok(StackResult::from_slices(slices, stack))
}

impl StackResult {
    /// The stack's result from its slices' results (also after re-thresholding): the
    /// volume-weighted burden weighs each slice by its disc (`Stack::disc_heights_mm`).
    pub fn from_slices(slices: Vec<SliceResult>, stack: &Stack) -> Self {
        let mut result = StackResult {
            slices,
            burden_percent: None,
            high_risk: false,
        };
        result.total(stack);
        result
    }

    /// The stack corrected to a label volume, one map per slice in stack order
    /// ([`scarseg_imaging::decode::labels_for`] checks and orders them): each slice as
    /// [`SliceResult::towards_labels`], with its corrections.
    pub fn towards_labels(
        &self,
        stack: &Stack,
        options: &PostprocessOptions,
        maps: &[Vec<u8>],
    ) -> (StackResult, Vec<Option<MaskEdits>>) {
        let (slices, edits) = self
            .slices
            .iter()
            .zip(&stack.slices)
            .enumerate()
            .map(|(k, (r, s))| r.towards_labels(s, options, maps.get(k).map_or(&[], Vec::as_slice)))
            .unzip();
        (StackResult::from_slices(slices, stack), edits)
    }

    /// Replaces slice `k`'s result (a correction by hand, on the slice on screen) and updates the
    /// stack's burden and flag, without copying the other slices' maps. Out of range: nothing.
    pub fn set_slice(&mut self, k: usize, result: SliceResult, stack: &Stack) {
        if let Some(r) = self.slices.get_mut(k) {
            *r = result;
            self.total(stack);
        }
    }

    /// The burden and flag from the slices.
    fn total(&mut self, stack: &Stack) {
        let volumes: Vec<(f64, f64, f64)> = self
            .slices
            .iter()
            .zip(stack.disc_heights_mm())
            .map(|(r, h)| (r.scar_area_mm2, r.myocardium_area_mm2, h))
            .collect();
        self.burden_percent = stack_burden_percent(&volumes);
        self.high_risk = self.burden_percent.is_some_and(high_risk);
    }

    /// Slices whose outlines the outline checks doubt ([`SliceResult::doubts`]).
    pub fn doubted_slices(&self) -> usize {
        self.slices.iter().filter(|r| !r.doubts.is_empty()).count()
    }

    /// Pixels corrected by hand over the stack.
    pub fn edited_px(&self) -> usize {
        self.slices.iter().map(|r| r.edited_px).sum()
    }

    /// The volume-weighted burden the network alone found, before any correction by hand
    /// (the burden itself where nothing was corrected), percent.
    pub fn network_burden_percent(&self, stack: &Stack) -> Option<f64> {
        let volumes: Vec<(f64, f64, f64)> = self
            .slices
            .iter()
            .zip(&stack.slices)
            .zip(stack.disc_heights_mm())
            .map(|((r, s), h)| {
                let (scar, myo) = match r.network {
                    Some(n) => (
                        n.scar_px as f64 * s.pixel_area_mm2(),
                        n.myocardium_px as f64 * s.pixel_area_mm2(),
                    ),
                    None => (r.scar_area_mm2, r.myocardium_area_mm2),
                };
                (scar, myo, h)
            })
            .collect();
        stack_burden_percent(&volumes)
    }

    /// How far the network's masks were from the corrected ones over the stack: scar and
    /// myocardium Dice over all its pixels pooled (slices nobody corrected agree with
    /// themselves); `None` for a mask empty in both.
    pub fn network_dice(&self) -> (Option<f64>, Option<f64>) {
        let mut t = [0usize; 6];
        for r in &self.slices {
            let (scar, myo) = (r.scar.area_px(), r.myocardium.area_px());
            // A slice nobody corrected agrees with itself.
            let n = r.network.unwrap_or(NetworkMasks {
                scar_px: scar,
                myocardium_px: myo,
                scar_overlap_px: scar,
                myocardium_overlap_px: myo,
            });
            for (slot, v) in t.iter_mut().zip([
                n.scar_overlap_px,
                n.scar_px,
                scar,
                n.myocardium_overlap_px,
                n.myocardium_px,
                myo,
            ]) {
                *slot += v;
            }
        }
        (dice(t[0], t[1], t[2]), dice(t[3], t[4], t[5]))
    }

    /// The gray zone over the stack, volume-weighted like the burden, percent of the myocardium;
    /// and its volume, mm3.
    pub fn gray_zone(&self, stack: &Stack) -> (Option<f64>, f64) {
        let volumes: Vec<(f64, f64, f64)> = self
            .slices
            .iter()
            .zip(stack.disc_heights_mm())
            .map(|(r, h)| (r.gray_zone_area_mm2, r.myocardium_area_mm2, h))
            .collect();
        let volume = volumes.iter().map(|(g, _, t)| g * t).sum();
        (stack_burden_percent(&volumes), volume)
    }

    /// Where in the wall the stack's scar lies: its slices' [`ScarDepth`]s added over their
    /// discs (so the thirds are mm3), regions counted slice by slice; `None` where no slice's wall
    /// is closed.
    pub fn scar_depth(&self, stack: &Stack) -> Option<ScarDepth> {
        self.slices
            .iter()
            .zip(stack.disc_heights_mm())
            .filter_map(|(r, h)| r.scar_depth.map(|d| (d, h)))
            .fold(None, |sum: Option<ScarDepth>, (d, h)| {
                let mut sum = sum.unwrap_or_default();
                sum.add(&d, h);
                Some(sum)
            })
    }

    /// Over the stack: sectors whose scar exceeds half their myocardium, and sectors that hold
    /// myocardium.
    pub fn transmural_sectors(&self) -> (usize, usize) {
        self.slices.iter().fold((0, 0), |(t, w), r| {
            (t + r.transmural_sectors(), w + r.wall_sectors())
        })
    }
}

/// Where a stack's AHA segments start: the anterior RV insertion the user marked on some of
/// its slices (the landmark the network does not draw), and which way the septum runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RvInsertion {
    /// Per slice, in stack order, the insertion marked on it, degrees clockwise from 12
    /// o'clock; `None` where it was not marked. The slices between marks take angles between
    /// them, those beyond the nearest mark's (`scarseg_imaging::metrics::slice_insertions`).
    pub marks_deg: Vec<Option<f64>>,
    /// The septum runs clockwise from the insertion on screen (an image stored mirrored).
    pub septum_clockwise: bool,
}

impl RvInsertion {
    /// One angle for every one of `slices` slices.
    pub fn everywhere(orientation: AhaOrientation, slices: usize) -> Self {
        Self {
            marks_deg: vec![Some(orientation.anterior_insertion_deg); slices],
            septum_clockwise: orientation.septum_clockwise,
        }
    }
}

/// A stack's scar by AHA segment, once the user has marked where the segments start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AhaMap {
    /// Whether the septum runs clockwise from the insertion on screen.
    pub septum_clockwise: bool,
    /// Per slice, the insertion marked on it, degrees; `None` where unmarked.
    pub insertion_marks_deg: Vec<Option<f64>>,
    /// Per slice, the insertion it was cut at, degrees in [0, 360): its mark, or an angle
    /// between the marks around it; `None` for a slice without myocardium.
    pub insertions_deg: Vec<Option<f64>>,
    /// Whether the stack's first slice is taken as its base; `None` when every slice was given
    /// one level.
    pub base_first: Option<bool>,
    /// Each slice's level, in stack order (`None` without myocardium).
    pub levels: Vec<Option<WallLevel>>,
    /// Segments 1 to 16, in order.
    pub segments: Vec<AhaSegment>,
    /// The scar by coronary territory, LAD, RCA and LCx.
    pub territories: Vec<TerritoryScar>,
}

impl AhaMap {
    /// How slice `k` was cut; `None` for a slice that was not (no myocardium).
    pub fn orientation(&self, k: usize) -> Option<AhaOrientation> {
        Some(AhaOrientation {
            anterior_insertion_deg: self.insertions_deg.get(k).copied().flatten()?,
            septum_clockwise: self.septum_clockwise,
        })
    }

    /// The insertion the slices at `level` were cut at, degrees in [0, 360): their one angle,
    /// or the mean direction of theirs where they differ; `None` where no slice is at `level`.
    pub fn level_insertion_deg(&self, level: WallLevel) -> Option<f64> {
        let angles: Vec<f64> = self
            .levels
            .iter()
            .zip(&self.insertions_deg)
            .filter(|(l, _)| **l == Some(level))
            .filter_map(|(_, a)| *a)
            .collect();
        let first = *angles.first()?;
        if angles.iter().all(|a| *a == first) {
            return Some(first);
        }
        mean_direction_deg(angles)
    }

    /// Whether the slices were cut at more than one angle.
    pub fn turns(&self) -> bool {
        let mut angles = self.insertions_deg.iter().flatten();
        angles
            .next()
            .is_some_and(|first| angles.any(|a| a != first))
    }
}

/// The scar in one coronary territory's segments
/// (`scarseg_imaging::metrics::CORONARY_TERRITORIES`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerritoryScar {
    /// LAD, RCA or LCx.
    pub name: &'static str,
    /// Its segments' numbers.
    pub segments: &'static [usize],
    /// Their scar, mm3.
    pub scar_mm3: f64,
    /// Its share of all the segments' scar, percent; `None` without scar.
    pub share_of_scar_percent: Option<f64>,
}

/// Why a stack has no AHA segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoAhaMap {
    /// One or two slices cannot be placed along the ventricle.
    #[error(
        "fewer than three slices hold myocardium, and one or two slices cannot be placed between \
         base and apex unless their level is given"
    )]
    TooFewSlices,
    /// No slice holds myocardium.
    #[error("no slice holds myocardium")]
    NoWall,
    /// No slice's insertion is marked.
    #[error("no slice's RV insertion is marked")]
    NotMarked,
    /// The wall is as wide at both ends, and the user did not say which is the base.
    #[error("both ends of the stack are as wide, so which is the base is not known")]
    BaseUnknown,
}

/// One AHA segment over the stack's slices at its level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AhaSegment {
    /// 1 to 16.
    pub number: usize,
    /// "basal anterior" and so on.
    pub name: &'static str,
    /// The segment's myocardium over the slices that cut it, mm3 (area times disc height).
    pub myocardium_mm3: f64,
    /// The scar in it, mm3.
    pub scar_mm3: f64,
    /// Scar as a percentage of the segment's myocardium; `None` where no slice's myocardium
    /// reaches the segment.
    pub scar_percent: Option<f64>,
    /// The transmurality grade of `scar_percent`, 0 to 4
    /// (`scarseg_imaging::metrics::transmurality_grade`).
    pub grade: Option<u8>,
}

impl StackResult {
    /// Whether the stack's first slice is its base, told by the wall's width (see
    /// `scarseg_imaging::metrics::base_is_first`); `None` when fewer than three slices hold
    /// myocardium or both ends are as wide.
    pub fn base_is_first(&self, stack: &Stack) -> Option<bool> {
        let radii: Vec<Option<f64>> = self
            .slices
            .iter()
            .zip(&stack.slices)
            .map(|(r, s)| mean_wall_radius_mm(&r.myocardium, s.spacing_mm))
            .collect();
        base_is_first(&radii)
    }

    /// Scar by AHA segment: each slice that holds myocardium gets its third of the ventricle
    /// (`scarseg_imaging::metrics::wall_levels`), base first when `base_first` says so or,
    /// given `None`, when [`Self::base_is_first`] does; or, given `level`, every such slice is
    /// taken at that level (a single slice, or two, known to be mid-ventricular, say). Each is
    /// cut at `orientation`; each
    /// segment sums its slices' areas times their discs (`Stack::disc_heights_mm`), as the
    /// stack's volumes do.
    pub fn aha_map(
        &self,
        stack: &Stack,
        orientation: AhaOrientation,
        base_first: Option<bool>,
        level: Option<WallLevel>,
    ) -> Result<AhaMap, NoAhaMap> {
        let insertion = RvInsertion::everywhere(orientation, self.slices.len());
        self.aha_map_marked(stack, &insertion, base_first, level)
    }

    /// The RV insertion suggested from the images, for the user to check: each slice with a
    /// wall gets `scarseg_imaging::landmark::guess_insertion`'s (from its pixels and this
    /// result's myocardium); the septum's side is the one most slices show, and a slice whose
    /// septum faces more than 45 degrees away from the others' mean direction is left unmarked
    /// (a vessel or fat taken for the RV), as are slices without a guess. `None` where no slice
    /// gives one.
    pub fn suggested_insertion(&self, stack: &Stack) -> Option<RvInsertion> {
        let guesses: Vec<Option<InsertionGuess>> = self
            .slices
            .iter()
            .zip(&stack.slices)
            .map(|(r, s)| guess_insertion(&s.pixels, &r.myocardium, s.spacing_mm))
            .collect();
        let made: Vec<&InsertionGuess> = guesses.iter().flatten().collect();
        if made.is_empty() {
            return None;
        }
        let septum_clockwise = 2 * made.iter().filter(|g| g.septum_clockwise).count() > made.len();
        let centre = mean_direction_deg(made.iter().map(|g| g.septum_middle_deg))?;
        let marks_deg = guesses
            .iter()
            .map(|g| {
                let g = g.filter(|g| turn_deg(g.septum_middle_deg, centre).abs() <= 45.0)?;
                let end = if septum_clockwise { -60.0 } else { 60.0 };
                Some((g.septum_middle_deg + end).rem_euclid(360.0))
            })
            .collect();
        Some(RvInsertion {
            marks_deg,
            septum_clockwise,
        })
    }

    /// [`Self::aha_map`] with the insertion marked slice by slice: each slice is cut at its own
    /// (`scarseg_imaging::metrics::slice_insertions`), since the insertion turns from base to
    /// apex.
    pub fn aha_map_marked(
        &self,
        stack: &Stack,
        insertion: &RvInsertion,
        base_first: Option<bool>,
        level: Option<WallLevel>,
    ) -> Result<AhaMap, NoAhaMap> {
        let mut marks = insertion.marks_deg.clone();
        marks.resize(self.slices.len(), None);
        let angles = slice_insertions(&marks);
        let has_wall: Vec<bool> = self
            .slices
            .iter()
            .map(|r| r.myocardium.area_px() > 0)
            .collect();
        let walls = has_wall.iter().filter(|w| **w).count();
        let (base_first, levels) = match level {
            _ if walls == 0 => return Err(NoAhaMap::NoWall),
            Some(level) => (None, has_wall.iter().map(|w| w.then_some(level)).collect()),
            None if walls < 3 => return Err(NoAhaMap::TooFewSlices),
            None => {
                let first = base_first
                    .or_else(|| self.base_is_first(stack))
                    .ok_or(NoAhaMap::BaseUnknown)?;
                (Some(first), wall_levels(&has_wall, first))
            }
        };
        if angles.iter().all(Option::is_none) {
            return Err(NoAhaMap::NotMarked);
        }
        let mut volumes = [(0.0f64, 0.0f64); 16];
        let heights = stack.disc_heights_mm();
        let mut insertions_deg = vec![None; self.slices.len()];
        for (k, (((r, s), level), height)) in self
            .slices
            .iter()
            .zip(&stack.slices)
            .zip(&levels)
            .zip(heights)
            .enumerate()
        {
            let (Some(level), Some(angle)) = (level, angles[k]) else {
                continue;
            };
            insertions_deg[k] = Some(angle);
            let orientation = AhaOrientation {
                anterior_insertion_deg: angle,
                septum_clockwise: insertion.septum_clockwise,
            };
            let voxel = s.pixel_area_mm2() * height;
            for (k, myo, scar) in
                aha_slice_counts(&r.scar, &r.myocardium, s.spacing_mm, orientation, *level)
            {
                volumes[k].0 += myo as f64 * voxel;
                volumes[k].1 += scar as f64 * voxel;
            }
        }
        let segments = volumes
            .iter()
            .zip(AHA_SEGMENT_NAMES)
            .enumerate()
            .map(|(k, ((myo, scar), name))| {
                let percent = burden_percent(*scar, *myo);
                AhaSegment {
                    number: k + 1,
                    name,
                    myocardium_mm3: *myo,
                    scar_mm3: *scar,
                    scar_percent: percent,
                    grade: percent.map(transmurality_grade),
                }
            })
            .collect();
        let total: f64 = volumes.iter().map(|(_, scar)| scar).sum();
        let territories = CORONARY_TERRITORIES
            .iter()
            .map(|(name, numbers)| {
                let scar: f64 = numbers.iter().map(|n| volumes[n - 1].1).sum();
                TerritoryScar {
                    name,
                    segments: numbers,
                    scar_mm3: scar,
                    share_of_scar_percent: burden_percent(scar, total),
                }
            })
            .collect();
        Ok(AhaMap {
            septum_clockwise: insertion.septum_clockwise,
            insertion_marks_deg: marks,
            insertions_deg,
            base_first,
            levels,
            segments,
            territories,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    use scarseg_model::{ScarSegNetConfig, Variant};

    /// The bundled default model and its preprocessing.
    pub(crate) fn default_model(device: &Device) -> (ScarSegNet, Preprocessing) {
        // Read when the test runs: a test binary reused from a target directory shared with
        // another clone still has that clone's path compiled in.
        let root = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let dir = format!("{root}/../../public/models/scarseg-atto-phantom");
        let manifest = std::fs::read(format!("{dir}/manifest.json")).expect("manifest");
        let manifest = manifest::parse_manifest(&manifest).expect("manifest parses");
        let weights = std::fs::read(format!("{dir}/{}", manifest.weights.file)).expect("weights");
        let loaded = manifest::load_model(manifest, &weights, device).expect("default model loads");
        (loaded.model, loaded.manifest.preprocessing)
    }

    #[test]
    fn heart_roi_frames_the_first_pass_myocardium_by_hand() {
        // Myocardium probability 0.9 in rows 40..=59, columns 30..=49 of a 100 x 100 slice, 0.4
        // (not myocardium) elsewhere. Margin 0.25 grows the 20 px box to 30, below the 32 px
        // minimum: a 32 px square centred on (50, 40), rows 34..66, columns 24..56.
        let slice = Slice::new(100, 100, vec![0.0; 10_000], "s");
        let p: Vec<f32> = (0..10_000)
            .map(|i| {
                let (r, c) = (i / 100, i % 100);
                if (40..60).contains(&r) && (30..50).contains(&c) {
                    0.9
                } else {
                    0.4
                }
            })
            .collect();
        let spec = RoiSpec {
            margin: 0.25,
            min_side: 32,
            min_component_fraction: 0.0,
        };
        assert_eq!(
            heart_roi(&p, &slice, &spec),
            Some(Roi {
                top: 34,
                left: 24,
                rows: 32,
                cols: 32
            })
        );
        // Nothing at 0.5 or more: no crop, the first pass stands.
        assert_eq!(heart_roi(&vec![0.49; 10_000], &slice, &spec), None);

        // A stray 2 x 2 blob at rows and columns 90-91. Kept (fraction 0), it stretches the box
        // to rows 40..=91, columns 30..=91: side 62, times 1.5 is 93, centred on (66, 61) and
        // moved inside the 100 px grid, so both starts clamp to 100 - 93 = 7.
        let mut stray = p.clone();
        for (r, c) in [(90, 90), (90, 91), (91, 90), (91, 91)] {
            stray[r * 100 + c] = 0.9;
        }
        assert_eq!(
            heart_roi(&stray, &slice, &spec),
            Some(Roi {
                top: 7,
                left: 7,
                rows: 93,
                cols: 93
            })
        );
        // 4 px against the 400 px square is 1%: a fraction of 0.1 leaves it out, and the crop
        // is the one without it.
        let filtered = RoiSpec {
            min_component_fraction: 0.1,
            ..spec
        };
        assert_eq!(
            heart_roi(&stray, &slice, &filtered),
            heart_roi(&p, &slice, &spec)
        );
    }

    #[test]
    fn second_pass_is_the_crop_analysed_on_its_own_and_pasted_back() {
        let device = Device::flex();
        let (model, preprocessing) = default_model(&device);
        let one = Preprocessing::at(preprocessing.size);
        let two = Preprocessing::two_pass(preprocessing.size, RoiSpec::default());
        let case = generate(4242, &PhantomConfig::default());
        let (slice, truth) = (&case.slices[0].image, case.slices[0].myocardium());
        let (scar, myo, roi) =
            futures_lite::future::block_on(probabilities(&model, &device, slice, &two))
                .expect("two passes");
        let roi = roi.expect("the default model finds the heart on a phantom slice");
        // The crop holds the whole true myocardium and is smaller than the slice.
        let inside = |r: usize, c: usize| {
            (roi.top..roi.top + roi.rows).contains(&r)
                && (roi.left..roi.left + roi.cols).contains(&c)
        };
        for r in 0..slice.rows {
            for c in 0..slice.cols {
                assert!(
                    !truth.get(r, c) || inside(r, c),
                    "myocardium at ({r}, {c}) cut off"
                );
            }
        }
        assert!(roi.rows * roi.cols < slice.rows * slice.cols);
        // A user who crops the slice themselves and runs one pass gets the same probabilities.
        let options = PostprocessOptions::default();
        let crop = roi.crop_slice(slice);
        let alone =
            futures_lite::future::block_on(analyse_slice(&model, &device, &crop, &one, &options))
                .expect("one pass");
        let (mut k, cols) = (0, slice.cols);
        for r in 0..slice.rows {
            for c in 0..cols {
                if inside(r, c) {
                    assert_eq!(scar[r * cols + c], alone.scar_probability[k]);
                    assert_eq!(myo[r * cols + c], alone.myocardium_probability[k]);
                    k += 1;
                } else {
                    assert_eq!((scar[r * cols + c], myo[r * cols + c]), (0.0, 0.0));
                }
            }
        }
        assert_eq!(k, crop.rows * crop.cols);
    }

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
        let stack = case.stack();
        let options = PostprocessOptions::default();
        let result = futures_lite::future::block_on(analyse_stack(
            &model,
            &device,
            &stack,
            &Preprocessing::at(64),
            &options,
        ))
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
    fn the_gray_zone_is_reported_in_mm2_and_percent_of_the_wall() {
        // A ring of healthy wall at 10 on a 32 x 32 grid of 1.5 mm pixels, a core of 100 at the
        // upper right and a border of 30 at the lower left (the classic module's gray zone is
        // then the border): its area and share of the wall, counted here.
        let ring = |r: usize, c: usize| {
            let d = ((r as f64 - 15.5).powi(2) + (c as f64 - 15.5).powi(2)).sqrt();
            (6.0..10.0).contains(&d)
        };
        let border = |r: usize, c: usize| ring(r, c) && r > 20 && c < 12;
        let at = |i: usize| (i / 32, i % 32);
        let pixels: Vec<f32> = (0..1024)
            .map(|i| {
                let (r, c) = at(i);
                match (ring(r, c), r < 12 && c > 16, border(r, c)) {
                    (false, _, _) => 0.0,
                    (true, true, _) => 100.0,
                    (true, _, true) => 30.0,
                    _ => 10.0,
                }
            })
            .collect();
        let mut slice = Slice::new(32, 32, pixels, "ring");
        slice.spacing_mm = [1.5, 1.5];
        let myo: Vec<f32> = (0..1024)
            .map(|i| if ring(at(i).0, at(i).1) { 0.9 } else { 0.1 })
            .collect();
        let r = slice_result(&slice, vec![0.0; 1024], myo, None, &Default::default());
        let count =
            |f: &dyn Fn(usize, usize) -> bool| (0..1024).filter(|i| f(at(*i).0, at(*i).1)).count();
        let (gray, wall) = (count(&border), count(&ring));
        assert!(gray > 0);
        assert_eq!(r.gray_zone_area_mm2, gray as f64 * 2.25);
        let percent = r.gray_zone_percent().expect("a wall");
        assert!(
            (percent - 100.0 * gray as f64 / wall as f64).abs() < 1e-9,
            "{percent}"
        );
    }

    #[test]
    fn corrections_by_hand_are_measured_and_outlive_a_new_threshold() {
        use scarseg_imaging::edit::Tool;
        // A 1 x 4 slice of 2 mm pixels: myocardium at 0..3, scar at 0 and 1 (threshold 0.5).
        let mut slice = Slice::new(1, 4, vec![9.0, 8.0, 1.0, 1.0], "s");
        slice.spacing_mm = [2.0, 2.0];
        let scar = vec![0.9, 0.6, 0.1, 0.1];
        let myo = vec![0.9, 0.9, 0.9, 0.1];
        let plain = slice_result(&slice, scar.clone(), myo.clone(), None, &Default::default());
        assert_eq!((plain.scar.area_px(), plain.myocardium.area_px()), (2, 3));
        assert_eq!(plain.edited_px, 0);
        // Erase the scar at pixel 1 (a 1 mm brush at its centre reaches it alone) and paint
        // scar at pixel 3, outside the network's myocardium: it becomes myocardium too.
        let mut edits = MaskEdits::new(1, 4);
        edits.stroke(
            Tool::EraseScar,
            slice.spacing_mm,
            (1.5, 0.5),
            (1.5, 0.5),
            1.0,
        );
        edits.stroke(
            Tool::PaintScar,
            slice.spacing_mm,
            (3.5, 0.5),
            (3.5, 0.5),
            1.0,
        );
        let edited = corrected_slice_result(
            &slice,
            scar.clone(),
            myo.clone(),
            None,
            &Default::default(),
            Some(&edits),
        );
        assert_eq!(edited.scar.data, vec![true, false, false, true]);
        assert_eq!(edited.myocardium.data, vec![true, true, true, true]);
        assert_eq!(edited.edited_px, 2);
        // 2 scar pixels of 4 mm2 in a 4-pixel wall: 8 of 16 mm2.
        assert_eq!(
            (edited.scar_area_mm2, edited.myocardium_area_mm2),
            (8.0, 16.0)
        );
        assert_eq!(edited.burden_percent, Some(50.0));
        // The network's own areas stay beside them: 2 and 3 pixels of 4 mm2.
        // The network's own masks stay measured beside them: scar 2 pixels, 1 kept; myocardium
        // 3 pixels, all kept in the corrected 4.
        assert_eq!(
            edited.network,
            Some(NetworkMasks {
                scar_px: 2,
                myocardium_px: 3,
                scar_overlap_px: 1,
                myocardium_overlap_px: 3,
            })
        );
        assert_eq!(plain.network, None);
        assert!((edited.network_burden_percent().expect("a wall") - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(plain.network_burden_percent(), plain.burden_percent);
        // The classic methods measure the corrected wall: FWHM of the wall's maximum 9 is 4.5,
        // so pixels 0 and 1 of four.
        assert_eq!(edited.fwhm_burden_percent, Some(50.0));
        // The probabilities stay the network's, so a new threshold can be laid under the
        // corrections: at 0.95 the network's scar and myocardium are gone, the strokes stay.
        let strict = PostprocessOptions {
            threshold: 0.95,
            ..Default::default()
        };
        assert_eq!(edited.scar_probability, scar);
        let again = corrected_slice_result(&slice, scar, myo, None, &strict, Some(&edits));
        assert_eq!(again.scar.data, vec![false, false, false, true]);
        assert_eq!(again.myocardium.data, vec![false, false, false, true]);
        // Against the network's (empty) masks at 0.95, only pixel 3 differs now.
        assert_eq!(again.edited_px, 1);
    }

    #[test]
    fn a_correction_that_closes_the_wall_clears_its_doubt_and_one_that_cuts_it_raises_one() {
        use scarseg_imaging::edit::Tool;
        // A 32 x 32 slice of 1 mm pixels: a wall of 10 (6 to 10 px from the centre) round a
        // bright cavity of 100, 0 outside. The network's wall has a gap at the top (columns
        // 14-17, its rows 6-9): one piece round no cavity, so the slice is doubted as open.
        let at = |i: usize| (i / 32, i % 32);
        let d = |r: usize, c: usize| ((r as f64 - 15.5).powi(2) + (c as f64 - 15.5).powi(2)).sqrt();
        let ring = |r: usize, c: usize| (6.0..10.0).contains(&d(r, c));
        let pixels: Vec<f32> = (0..1024)
            .map(|i| {
                let (r, c) = at(i);
                if ring(r, c) {
                    10.0
                } else if d(r, c) < 6.0 {
                    100.0
                } else {
                    0.0
                }
            })
            .collect();
        let slice = Slice::new(32, 32, pixels, "ring");
        let gap = |r: usize, c: usize| (14..=17).contains(&c) && r < 12;
        let probability = |wall: &dyn Fn(usize, usize) -> bool| -> Vec<f32> {
            (0..1024)
                .map(|i| if wall(at(i).0, at(i).1) { 0.9 } else { 0.1 })
                .collect()
        };
        let open = probability(&|r, c| ring(r, c) && !gap(r, c));
        let options = PostprocessOptions::default();
        let measure = |myo: &[f32], edits: Option<&MaskEdits>| {
            corrected_slice_result(&slice, vec![0.0; 1024], myo.to_vec(), None, &options, edits)
        };
        assert_eq!(measure(&open, None).doubts, vec![Doubt::Open]);
        // A myocardium brush of 2.5 mm radius drawn along the gap (it reaches columns 12-19 of
        // rows 6-9) closes the wall round the cavity: no doubt is left.
        let mut close = MaskEdits::new(32, 32);
        close.stroke(
            Tool::PaintMyocardium,
            [1.0, 1.0],
            (14.0, 8.0),
            (18.0, 8.0),
            2.5,
        );
        let closed = measure(&open, Some(&close));
        assert!(closed.edited_px > 0);
        assert_eq!(closed.doubts, vec![]);
        // The whole wall is not doubted; erasing a 3 mm wide cut through its lower side
        // (columns 14-16 from row 20 down) leaves it open again.
        let whole = probability(&ring);
        assert_eq!(measure(&whole, None).doubts, vec![]);
        let mut cut = MaskEdits::new(32, 32);
        cut.stroke(
            Tool::EraseMyocardium,
            [1.0, 1.0],
            (15.5, 20.0),
            (15.5, 27.0),
            1.5,
        );
        assert_eq!(measure(&whole, Some(&cut)).doubts, vec![Doubt::Open]);
    }

    #[test]
    fn a_label_volume_becomes_the_corrections_of_a_stack() {
        // Two 1 x 4 slices of 1 mm pixels, 1 mm thick. Slice 0: the network's scar at 0 and 1,
        // myocardium at 0..3; labels 3, 2, 2, 4 say scar at 0 and 3, myocardium at 0..4.
        // Slice 1: the network's myocardium at 0 and 1, no scar; the labels agree.
        let slice = |name: &str| Slice::new(1, 4, vec![1.0; 4], name);
        let stack = Stack {
            name: "case".into(),
            part: None,
            slices: vec![slice("a"), slice("b")],
            warnings: vec![],
        };
        let options = PostprocessOptions::default();
        let results = vec![
            slice_result(
                &stack.slices[0],
                vec![0.9, 0.6, 0.1, 0.1],
                vec![0.9, 0.9, 0.9, 0.1],
                None,
                &options,
            ),
            slice_result(
                &stack.slices[1],
                vec![0.1; 4],
                vec![0.9, 0.9, 0.1, 0.1],
                None,
                &options,
            ),
        ];
        let network = StackResult::from_slices(results, &stack);
        let maps = vec![vec![3, 2, 2, 4], vec![2, 2, 0, 0]];
        let (corrected, edits) = network.towards_labels(&stack, &options, &maps);
        // The masks are the labels'.
        let first = &corrected.slices[0];
        assert_eq!(first.scar.data, vec![true, false, false, true]);
        assert_eq!(first.myocardium.data, vec![true; 4]);
        assert_eq!(
            corrected.slices[1].myocardium.data,
            vec![true, true, false, false]
        );
        // Pixels 1 (scar out) and 3 (scar and myocardium in) changed; slice 1 not at all.
        assert_eq!((first.edited_px, corrected.slices[1].edited_px), (2, 0));
        assert_eq!(corrected.edited_px(), 2);
        assert!(edits[0].as_ref().is_some_and(|e| !e.is_empty()));
        assert!(edits[1].as_ref().is_some_and(MaskEdits::is_empty));
        // Corrected burden: scar 2 of 4 + 2 mm3 = 100 / 3 %; the network's: 2 of 3 + 2 = 40 %.
        assert!((corrected.burden_percent.expect("a wall") - 100.0 / 3.0).abs() < 1e-9);
        assert!((corrected.network_burden_percent(&stack).expect("a wall") - 40.0).abs() < 1e-9);
        // Dice of the network against the labels, pooled: scar 2 x 1 / (2 + 2) = 0.5;
        // myocardium 2 x (3 + 2) / (5 + 6) = 10 / 11.
        let (scar_dice, myo_dice) = corrected.network_dice();
        assert!((scar_dice.expect("scar") - 0.5).abs() < 1e-12);
        assert!((myo_dice.expect("wall") - 10.0 / 11.0).abs() < 1e-12);
        // The corrections returned are the ones that give this result again.
        for (k, (r, s)) in network.slices.iter().zip(&stack.slices).enumerate() {
            assert_eq!(
                r.remeasured(s, &options, edits[k].as_ref()),
                corrected.slices[k]
            );
        }
        // A map missing or of another size corrects nothing on its slice.
        let (alone, edits) = network.towards_labels(&stack, &options, &maps[..1]);
        assert_eq!(edits[1], None);
        assert_eq!(alone.slices[1], network.slices[1]);
    }

    #[test]
    fn the_insertion_suggested_on_phantom_stacks_is_near_the_truth() {
        // Five phantom stacks of four slices, measured on their exact myocardium: most slices
        // are marked, within 20 degrees of the insertion the phantom records, the septum
        // counterclockwise (the phantom's standard view).
        let config = PhantomConfig {
            slices: 4,
            ..PhantomConfig::default()
        };
        let (mut marked, mut near) = (0, 0);
        for seed in 1_000_000_000..1_000_000_005u64 {
            let case = generate(seed, &config);
            let stack = case.stack();
            let slices = case
                .slices
                .iter()
                .map(|s| {
                    let p = |f: &dyn Fn(u8) -> bool| -> Vec<f32> {
                        s.labels
                            .iter()
                            .map(|l| if f(*l) { 0.9 } else { 0.1 })
                            .collect()
                    };
                    slice_result(
                        &s.image,
                        p(&|l| l >= 3),
                        p(&|l| l >= 2),
                        None,
                        &Default::default(),
                    )
                })
                .collect();
            let result = StackResult::from_slices(slices, &stack);
            let suggested = result
                .suggested_insertion(&stack)
                .expect("an RV beside the wall");
            assert!(!suggested.septum_clockwise, "{}", case.name);
            for m in suggested.marks_deg.iter().flatten() {
                marked += 1;
                near += usize::from(turn_deg(*m, case.params.rv_insertion_deg).abs() <= 20.0);
            }
        }
        assert!(
            marked >= 16 && near * 10 >= marked * 9,
            "{near} near of {marked} marked"
        );
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
            None,
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
        let high = slice_result(&slice, scar, myo, None, &high);
        assert_eq!(high.scar.area_px(), 1);
    }

    #[test]
    fn mirroring_averages_the_pass_with_the_pass_on_the_mirrored_slice() {
        // A 128 x 128 slice at input size 128: resampling is the identity, so running the
        // network on the slice mirrored by hand is the pass on the mirrored input.
        let device = Device::flex();
        let (model, _) = default_model(&device);
        let config = PhantomConfig {
            size_px: [128, 128],
            ..PhantomConfig::default()
        };
        let slice = generate(77, &config).slices[0].image.clone();
        let (rows, cols) = (slice.rows, slice.cols);
        assert_eq!((rows, cols), (128, 128));
        let flip = |v: &[f32]| -> Vec<f32> {
            (0..rows * cols)
                .map(|i| v[(i / cols) * cols + cols - 1 - i % cols])
                .collect()
        };
        let mut mirrored = slice.clone();
        mirrored.pixels = flip(&slice.pixels);
        let run = |s: &Slice, p: &Preprocessing| {
            futures_lite::future::block_on(probabilities(&model, &device, s, p)).expect("runs")
        };
        let plain = Preprocessing::at(128);
        let (scar, myo, _) = run(&slice, &plain);
        let (scar_m, myo_m, _) = run(&mirrored, &plain);
        let (scar_tta, myo_tta, _) = run(&slice, &plain.clone().with_mirror(true));
        for (tta, (a, b)) in [(&scar_tta, (&scar, &scar_m)), (&myo_tta, (&myo, &myo_m))] {
            let b = flip(b);
            let mut changed = 0.0f32;
            for i in 0..rows * cols {
                let expected = (a[i] + b[i]) / 2.0;
                assert!(
                    (tta[i] - expected).abs() < 1e-4,
                    "pixel {i}: {} vs {expected}",
                    tta[i]
                );
                changed = changed.max((tta[i] - a[i]).abs());
            }
            // The network is not exactly mirror-symmetric, so mirroring changes something.
            assert!(changed > 1e-3, "mirroring changed nothing");
        }
    }

    #[test]
    fn aha_segments_of_a_stack_by_hand() {
        // Three rings on 32 x 32 grids of 1.5 mm pixels, centred on (15.5, 15.5), listed apex
        // first: apex radius 3-6 (6 mm thick), mid 5-9, base 6-10 (8 mm). A fourth slice past
        // the apex holds no wall. The insertion at 12 o'clock with the septum clockwise puts
        // basal and mid segments at [0, 60) anteroseptal, [60, 120) inferoseptal, [120, 180)
        // inferior, [180, 240) inferolateral, [240, 300) anterolateral, [300, 360) anterior.
        // Scar: the base's right half (0 to 180 degrees: segments 2, 3, 4 whole), the mid
        // slice's lower half (90 to 270: 10 and 11 whole, the halves of 9 and 12 nearer 180,
        // mirror images of each other). No pixel lies on a boundary: none is on the centre's
        // row or column, and none at 60 degrees to them on this half-pixel grid.
        let ring = |r: usize, c: usize, inner: f64, outer: f64| {
            let d = ((r as f64 - 15.5).powi(2) + (c as f64 - 15.5).powi(2)).sqrt();
            (inner..outer).contains(&d)
        };
        let slice_of = |inner: f64, outer: f64, scar: &dyn Fn(usize, usize) -> bool, t: f64| {
            let mut s = Slice::new(32, 32, vec![0.0; 1024], "ring");
            s.spacing_mm = [1.5, 1.5];
            s.thickness_mm = t;
            let p = |f: &dyn Fn(usize, usize) -> bool| -> Vec<f32> {
                (0..1024)
                    .map(|i| if f(i / 32, i % 32) { 0.9 } else { 0.1 })
                    .collect()
            };
            let myo = p(&|r, c| ring(r, c, inner, outer));
            let r = slice_result(&s, p(scar), myo, None, &Default::default());
            (s, r)
        };
        let none = |_: usize, _: usize| false;
        let parts = [
            slice_of(3.0, 6.0, &none, 6.0),
            slice_of(5.0, 9.0, &|r, _| r >= 16, 8.0),
            slice_of(6.0, 10.0, &|_, c| c >= 16, 8.0),
            slice_of(0.0, 0.0, &none, 8.0),
        ];
        let stack = Stack {
            name: "rings".into(),
            part: None,
            slices: parts.iter().map(|(s, _)| s.clone()).collect(),
            warnings: vec![],
        };
        let result =
            StackResult::from_slices(parts.iter().map(|(_, r)| r.clone()).collect(), &stack);
        // The wider end, last in the stack, is the base.
        assert_eq!(result.base_is_first(&stack), Some(false));
        let orientation = AhaOrientation {
            anterior_insertion_deg: 0.0,
            septum_clockwise: true,
        };
        let map = result
            .aha_map(&stack, orientation, None, None)
            .expect("three walled slices");
        assert_eq!(
            map.base_first,
            Some(false),
            "the wider end, last, is the base"
        );
        use WallLevel::*;
        assert_eq!(map.levels, vec![Some(Apical), Some(Mid), Some(Basal), None]);
        let percent: Vec<Option<f64>> = map.segments.iter().map(|s| s.scar_percent).collect();
        let full = [2, 3, 4, 10, 11];
        for (k, p) in percent.iter().enumerate() {
            let n = k + 1;
            let p = p.expect("every segment holds wall");
            if full.contains(&n) {
                assert_eq!(p, 100.0, "segment {n}");
                assert_eq!(map.segments[k].grade, Some(4));
            } else if n == 9 || n == 12 {
                assert!(p > 0.0 && p < 100.0, "segment {n}: {p}");
            } else {
                assert_eq!(p, 0.0, "segment {n}");
                assert_eq!(map.segments[k].grade, Some(0));
            }
        }
        assert_eq!(percent[8], percent[11]);
        // The base's segments hold its whole wall: its ring's pixels times 2.25 mm2 times 8 mm.
        let base_px = (0..1024)
            .filter(|i| ring(i / 32, i % 32, 6.0, 10.0))
            .count();
        let basal: f64 = map.segments[..6].iter().map(|s| s.myocardium_mm3).sum();
        assert!(
            (basal - base_px as f64 * 2.25 * 8.0).abs() < 1e-9,
            "{basal}"
        );
        assert_eq!(map.segments[13].name, "apical septal");
        // By territory: LAD holds basal 2 (anteroseptal), RCA basal 3, 4 and mid 9, 10, LCx mid
        // 11, 12; shares of their sum.
        let scar = |n: &[usize]| -> f64 { n.iter().map(|k| map.segments[k - 1].scar_mm3).sum() };
        let (lad, rca, lcx) = (scar(&[2]), scar(&[3, 4, 9, 10]), scar(&[11, 12]));
        let total = lad + rca + lcx;
        let names: Vec<&str> = map.territories.iter().map(|t| t.name).collect();
        assert_eq!(names, ["LAD", "RCA", "LCx"]);
        for (t, want) in map.territories.iter().zip([lad, rca, lcx]) {
            assert!((t.scar_mm3 - want).abs() < 1e-9, "{t:?}");
            let share = t.share_of_scar_percent.expect("scar");
            assert!((share - 100.0 * want / total).abs() < 1e-9, "{t:?}");
        }
        assert!(!map.turns());
        assert_eq!(
            map.insertions_deg,
            vec![Some(0.0), Some(0.0), Some(0.0), None]
        );
        // The insertion marked slice by slice: 0 at the apex, 60 at the base, so the mid slice
        // between them is cut at 30. The base's segments start 60 further round: anterior [0,
        // 60), anteroseptal [60, 120), inferoseptal [120, 180), so its scar (0 to 180) fills 1,
        // 2 and 3; the mid slice's start at 30: inferoseptal [90, 150), inferior [150, 210),
        // inferolateral [210, 270), its scar (90 to 270) fills 9, 10 and 11 exactly. No pixel
        // lies on a line at 30 degrees to the grid.
        let marked = RvInsertion {
            marks_deg: vec![Some(0.0), None, Some(60.0), None],
            septum_clockwise: true,
        };
        let turned = result
            .aha_map_marked(&stack, &marked, None, None)
            .expect("marked");
        assert_eq!(turned.insertion_marks_deg, marked.marks_deg);
        assert_eq!(
            turned.insertions_deg,
            vec![Some(0.0), Some(30.0), Some(60.0), None]
        );
        assert!(turned.turns());
        assert_eq!(turned.level_insertion_deg(Mid), Some(30.0));
        assert_eq!(turned.level_insertion_deg(Basal), Some(60.0));
        assert_eq!(
            turned.orientation(1).map(|o| o.anterior_insertion_deg),
            Some(30.0)
        );
        assert_eq!(turned.orientation(3), None);
        for s in &turned.segments {
            let want = if [1, 2, 3, 9, 10, 11].contains(&s.number) {
                100.0
            } else {
                0.0
            };
            assert_eq!(s.scar_percent, Some(want), "segment {}", s.number);
        }
        // The same wall in the same segments' levels: the volumes per level are unchanged.
        let level_sum = |m: &AhaMap, r: std::ops::Range<usize>| -> f64 {
            m.segments[r].iter().map(|s| s.myocardium_mm3).sum()
        };
        assert!((level_sum(&turned, 0..6) - level_sum(&map, 0..6)).abs() < 1e-9);
        // Slices of one level cut at 350 and 10 degrees: their mean direction is 0, not 180.
        let mut around = turned.clone();
        around.levels = vec![Some(Mid), Some(Mid), None, None];
        around.insertions_deg = vec![Some(350.0), Some(10.0), None, None];
        let mean = around.level_insertion_deg(Mid).expect("two slices");
        assert!(mean.min(360.0 - mean) < 1e-9, "{mean}");
        assert_eq!(around.level_insertion_deg(Basal), None);
        // Rings without a right ventricle beside them suggest nothing.
        assert_eq!(result.suggested_insertion(&stack), None);
        // Nothing marked: no segments.
        let unmarked = RvInsertion {
            marks_deg: vec![None; 4],
            septum_clockwise: true,
        };
        assert_eq!(
            result.aha_map_marked(&stack, &unmarked, None, None),
            Err(NoAhaMap::NotMarked)
        );
        // Two walled slices cannot be placed along the ventricle.
        let rest = Stack {
            slices: stack.slices[1..].to_vec(),
            ..stack.clone()
        };
        let two =
            StackResult::from_slices(parts[1..].iter().map(|(_, r)| r.clone()).collect(), &rest);
        assert_eq!(
            two.aha_map(&rest, orientation, Some(true), None),
            Err(NoAhaMap::TooFewSlices)
        );
        // Three slices as wide: the base must be named.
        let same = Stack {
            slices: vec![parts[1].0.clone(); 3],
            ..stack.clone()
        };
        let result = StackResult::from_slices(vec![parts[1].1.clone(); 3], &same);
        assert_eq!(
            result.aha_map(&same, orientation, None, None),
            Err(NoAhaMap::BaseUnknown)
        );
        // One level for every slice: a single mid-ventricular slice gets segments 7 to 12, and
        // the rest none.
        let one = Stack {
            slices: vec![parts[1].0.clone()],
            ..stack.clone()
        };
        let single = StackResult::from_slices(vec![parts[1].1.clone()], &one);
        assert_eq!(
            single.aha_map(&one, orientation, None, None),
            Err(NoAhaMap::TooFewSlices)
        );
        let mid = single
            .aha_map(&one, orientation, None, Some(Mid))
            .expect("a level given");
        assert_eq!(
            (mid.base_first, mid.levels.clone()),
            (None, vec![Some(Mid)])
        );
        let reached: Vec<usize> = mid
            .segments
            .iter()
            .filter(|s| s.scar_percent.is_some())
            .map(|s| s.number)
            .collect();
        assert_eq!(reached, vec![7, 8, 9, 10, 11, 12]);
        // The mid slice scarred on its lower half, as in the stack above: 10 and 11 whole.
        assert_eq!(mid.segments[9].scar_percent, Some(100.0));
        assert_eq!(mid.segments[10].scar_percent, Some(100.0));
        let empty = Stack {
            slices: vec![parts[3].0.clone()],
            ..stack.clone()
        };
        let nothing = StackResult::from_slices(vec![parts[3].1.clone()], &empty);
        assert_eq!(
            nothing.aha_map(&empty, orientation, None, Some(Mid)),
            Err(NoAhaMap::NoWall)
        );
        let named = result
            .aha_map(&same, orientation, Some(false), None)
            .expect("named");
        assert_eq!(named.levels, vec![Some(Apical), Some(Mid), Some(Basal)]);
    }
}
