//! The ConvNeXt encoder (Liu et al., CVPR 2022) with a one-channel stem.
//!
//! Parameter names follow timm's `convnext_*` (`stem`, `stages.i.downsample`, `stages.i.blocks.j`
//! with `conv_dw`, `norm`, `mlp.fc1`, `mlp.fc2`, `gamma`), so pretrained weights map one to one
//! (see [`crate::import`]). The MLP's weights are Linear `[in, out]` as in timm's default
//! (non-`conv_mlp`) block, but norms and the MLP run channels-first (see [`channel_norm`]).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Distribution, Tensor};

use crate::config::ScarSegNetConfig;

/// LayerNorm epsilon everywhere in the encoder.
pub const LAYER_NORM_EPS: f64 = 1e-6;

/// LayerNorm over channels of an NCHW tensor (biased variance, as burn's and PyTorch's).
///
/// Computed in place along dim 1 rather than by permuting to channels-last and back, which on
/// the CPU backend makes a strided copy of the feature map each way. Measured
/// (`benchmarks/README.md`): no change in forward time, about 6 MiB less peak memory.
///
/// # Shapes
/// - input and output `[batch, channels, height, width]`
pub fn channel_norm(norm: &LayerNorm, x: Tensor<4>) -> Tensor<4> {
    let channels = x.dims()[1];
    let mean = x.clone().mean_dim(1);
    let centred = x - mean;
    let var = centred.clone().square().mean_dim(1);
    let y = centred / var.add_scalar(LAYER_NORM_EPS).sqrt();
    let y = y * norm.gamma.val().reshape([1, channels, 1, 1]);
    match &norm.beta {
        Some(beta) => y + beta.val().reshape([1, channels, 1, 1]),
        None => y,
    }
}

/// A Linear layer applied to every pixel of an NCHW tensor (a 1x1 convolution), as one batched
/// matrix product `W^T x` over `[C_in, H*W]`, so no channels-last copy is needed.
///
/// # Shapes
/// - input `[batch, C_in, H, W]`, output `[batch, C_out, H, W]`
pub fn pointwise(linear: &Linear, x: Tensor<4>) -> Tensor<4> {
    let [batch, c_in, height, width] = x.dims();
    let weight = linear.weight.val(); // [C_in, C_out]
    let c_out = weight.dims()[1];
    let w = weight.transpose().reshape([1, c_out, c_in]);
    let y = w.matmul(x.reshape([batch, c_in, height * width])); // [B, C_out, H*W]
    let y = match &linear.bias {
        Some(bias) => y + bias.val().reshape([1, c_out, 1]),
        None => y,
    };
    y.reshape([batch, c_out, height, width])
}

fn layer_norm(channels: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(channels)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}

/// The inverted-bottleneck MLP of a ConvNeXt block.
#[derive(Module, Debug)]
pub struct Mlp {
    /// C -> 4C.
    pub fc1: Linear,
    /// 4C -> C.
    pub fc2: Linear,
}

/// One ConvNeXt block: dwconv 7x7 -> LayerNorm -> 1x1 C->4C -> GELU -> 1x1 4C->C -> layer scale
/// -> drop path -> residual.
#[derive(Module, Debug)]
pub struct Block {
    /// Depthwise 7x7 convolution, padding 3.
    pub conv_dw: Conv2d,
    /// LayerNorm over channels.
    pub norm: LayerNorm,
    /// Pointwise MLP.
    pub mlp: Mlp,
    /// Layer-scale gamma, `[C]`.
    pub gamma: Param<Tensor<1>>,
    /// Probability of dropping the residual branch in training (stochastic depth).
    pub drop_path: f64,
}

impl Block {
    fn new(channels: usize, layer_scale_init: f64, drop_path: f64, device: &Device) -> Self {
        Self {
            conv_dw: Conv2dConfig::new([channels, channels], [7, 7])
                .with_groups(channels)
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .init(device),
            norm: layer_norm(channels, device),
            mlp: Mlp {
                fc1: LinearConfig::new(channels, 4 * channels).init(device),
                fc2: LinearConfig::new(4 * channels, channels).init(device),
            },
            gamma: Param::from_tensor(Tensor::full([channels], layer_scale_init, device)),
            drop_path,
        }
    }

    /// # Shapes
    /// - input and output `[batch, C, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, channels, _, _] = x.dims();
        // Channels-first throughout (see `channel_norm`).
        let y = self.conv_dw.forward(x.clone()); // [B, C, H, W]
        let y = channel_norm(&self.norm, y);
        let y = pointwise(&self.mlp.fc2, gelu(pointwise(&self.mlp.fc1, y))); // [B, C, H, W]
        let mut y = y * self.gamma.val().reshape([1, channels, 1, 1]);
        if self.drop_path > 0.0 && y.device().is_autodiff() {
            // Stochastic depth: keep each sample's branch with p = 1 - drop, rescaled.
            let keep = 1.0 - self.drop_path;
            let mask =
                Tensor::<4>::random([batch, 1, 1, 1], Distribution::Bernoulli(keep), &y.device());
            y = y * mask / keep;
        }
        x + y
    }
}

/// LayerNorm then the 2x2 stride-2 conv between stages.
#[derive(Module, Debug)]
pub struct Downsample {
    /// LayerNorm over the input channels.
    pub norm: LayerNorm,
    /// 2x2 stride-2 convolution, C_in -> C_out.
    pub conv: Conv2d,
}

/// One encoder stage: optional downsampling, then blocks.
#[derive(Module, Debug)]
pub struct Stage {
    /// Present on stages 1..3.
    pub downsample: Option<Downsample>,
    /// The stage's ConvNeXt blocks.
    pub blocks: Vec<Block>,
}

impl Stage {
    /// # Shapes
    /// - input `[batch, C_in, H, W]`
    /// - output `[batch, C_out, H / 2, W / 2]` with downsampling, else `[batch, C_in, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = match &self.downsample {
            Some(down) => down.conv.forward(channel_norm(&down.norm, x)),
            None => x,
        };
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }
}

/// The patchify stem (4x4 stride-4 conv, then LayerNorm) and the four stages.
#[derive(Module, Debug)]
pub struct ConvNextEncoder {
    /// 4x4 stride-4 conv, in_channels -> dims\[0\].
    pub stem_conv: Conv2d,
    /// LayerNorm over dims\[0\].
    pub stem_norm: LayerNorm,
    /// Stages at strides 4, 8, 16, 32.
    pub stages: Vec<Stage>,
}

impl ConvNextEncoder {
    /// Builds the encoder of `config` on `device`.
    pub fn new(config: &ScarSegNetConfig, device: &Device) -> Self {
        let total_blocks: usize = config.depths.iter().sum();
        let mut block_index = 0;
        let stages = (0..4)
            .map(|i| {
                let downsample = (i > 0).then(|| Downsample {
                    norm: layer_norm(config.dims[i - 1], device),
                    conv: Conv2dConfig::new([config.dims[i - 1], config.dims[i]], [2, 2])
                        .with_stride([2, 2])
                        .init(device),
                });
                let blocks = (0..config.depths[i])
                    .map(|_| {
                        // Drop-path rate rises linearly over the blocks, as in timm.
                        let rate = if total_blocks > 1 {
                            config.drop_path_rate * block_index as f64 / (total_blocks - 1) as f64
                        } else {
                            0.0
                        };
                        block_index += 1;
                        Block::new(config.dims[i], config.layer_scale_init, rate, device)
                    })
                    .collect();
                Stage { downsample, blocks }
            })
            .collect();
        Self {
            stem_conv: Conv2dConfig::new([config.in_channels, config.dims[0]], [4, 4])
                .with_stride([4, 4])
                .init(device),
            stem_norm: layer_norm(config.dims[0], device),
            stages,
        }
    }

    /// The stem's output, input of stage 0.
    ///
    /// # Shapes
    /// - input `[batch, in, H, W]`
    /// - output `[batch, dims[0], H/4, W/4]`
    pub fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        channel_norm(&self.stem_norm, self.stem_conv.forward(x))
    }
}
