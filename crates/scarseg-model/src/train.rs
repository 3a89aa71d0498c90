//! Training glue (feature `train`, native only): one optimisation step, on one device or
//! data-parallel over several.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use crate::error::ModelError;
use crate::loss::{LossBreakdown, SegLossConfig, SegTargets};
use crate::model::ScarSegNet;

/// Runs forward, loss, backward and one optimiser step. The model and tensors must live on an
/// autodiff device (`Device::flex().autodiff()`, `Device::cuda(0).autodiff()`, ...).
///
/// # Shapes
/// - `images`: `[batch, in_channels, H, W]`; targets `[batch, 1, H, W]`
pub fn train_step(
    model: ScarSegNet,
    optimizer: &mut ModuleOptimizer,
    loss: &SegLossConfig,
    images: Tensor<4>,
    targets: &SegTargets,
    learning_rate: f64,
) -> Result<(ScarSegNet, LossBreakdown), ModelError> {
    let logits = model.forward(images)?;
    let breakdown = loss.loss(&logits, targets);
    let grads = GradientsParams::from_grads(breakdown.total.backward(), &model);
    let model = optimizer.step(learning_rate, model, grads);
    Ok((model, breakdown))
}

/// One data-parallel step over several devices: the batch is split into contiguous chunks, one
/// per device (in order; devices left without a sample sit the step out); each device runs
/// forward, loss and backward on a replica of the model in its own thread; the gradients move
/// to the first device and are summed there, and one optimiser step updates the model, which
/// lives on `devices[0]`.
///
/// Each chunk's loss is weighted by its share of the batch, so the summed gradient is that of
/// `sum_i (n_i / n) * loss(chunk_i)`: with one device, exactly [`train_step`]. (The Dice terms
/// are computed per chunk, as in every data-parallel trainer.) The returned breakdown holds the
/// same weighted sums, on `devices[0]`.
///
/// # Shapes
/// - `images`: `[batch, in_channels, H, W]`; targets `[batch, 1, H, W]`, on any device
pub fn train_step_data_parallel(
    model: ScarSegNet,
    optimizer: &mut ModuleOptimizer,
    loss: &SegLossConfig,
    devices: &[Device],
    images: Tensor<4>,
    targets: &SegTargets,
    learning_rate: f64,
) -> Result<(ScarSegNet, LossBreakdown), ModelError> {
    let Some(main) = devices.first() else {
        return Err(ModelError::Training(
            "data-parallel training needs at least one device".into(),
        ));
    };
    let [batch, ..] = images.dims();
    if batch == 0 {
        return Err(ModelError::Training("the batch is empty".into()));
    }
    let shares = chunk_sizes(batch, devices.len());
    let results: Vec<Result<(GradientsParams, LossBreakdown), ModelError>> =
        std::thread::scope(|scope| {
            let mut start = 0;
            let mut handles = Vec::new();
            for (device, &n) in devices.iter().zip(&shares) {
                if n == 0 {
                    continue;
                }
                let range = start..start + n;
                start += n;
                let replica = model.clone().fork(device);
                let x = images.clone().slice(range.clone()).to_device(device);
                let chunk = SegTargets {
                    scar: targets.scar.clone().slice(range.clone()).to_device(device),
                    myocardium: targets.myocardium.clone().slice(range).to_device(device),
                };
                let weight = n as f64 / batch as f64;
                let model = &model;
                handles.push(scope.spawn(move || {
                    let logits = replica.forward(x)?;
                    let breakdown = loss.loss(&logits, &chunk);
                    let total = breakdown.total.clone().mul_scalar(weight);
                    let grads = GradientsParams::from_grads(total.backward(), &replica)
                        .to_device(main, model);
                    Ok((grads, scaled(breakdown, weight, main)))
                }));
            }
            handles
                .into_iter()
                .map(|h| h.join().expect("a training thread panicked"))
                .collect()
        });
    let mut accumulator = GradientsAccumulator::<ScarSegNet>::new();
    let mut sum: Option<LossBreakdown> = None;
    for result in results {
        let (grads, breakdown) = result?;
        accumulator.accumulate(&model, grads);
        sum = Some(match sum {
            None => breakdown,
            Some(acc) => LossBreakdown {
                total: acc.total + breakdown.total,
                terms: acc
                    .terms
                    .into_iter()
                    .zip(breakdown.terms)
                    .map(|((name, a), (_, b))| (name, a + b))
                    .collect(),
            },
        });
    }
    let model = optimizer.step(learning_rate, model, accumulator.grads());
    Ok((model, sum.expect("a batch of at least one sample")))
}

/// Contiguous chunk sizes that split `batch` over `parts` as evenly as possible, larger first.
fn chunk_sizes(batch: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| batch / parts + usize::from(i < batch % parts))
        .collect()
}

/// A breakdown times `weight`, detached and moved to `device`, for reporting.
fn scaled(breakdown: LossBreakdown, weight: f64, device: &Device) -> LossBreakdown {
    let f = |t: Tensor<1>| t.detach().mul_scalar(weight).to_device(device);
    LossBreakdown {
        total: f(breakdown.total),
        terms: breakdown
            .terms
            .into_iter()
            .map(|(name, t)| (name, f(t)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_sizes;

    #[test]
    fn chunks_cover_the_batch_evenly() {
        assert_eq!(chunk_sizes(8, 2), vec![4, 4]);
        assert_eq!(chunk_sizes(7, 3), vec![3, 2, 2]);
        assert_eq!(chunk_sizes(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(chunk_sizes(5, 1), vec![5]);
    }
}
