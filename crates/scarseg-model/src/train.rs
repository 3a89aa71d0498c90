//! Training glue (feature `train`, native only): one optimisation step.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

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
