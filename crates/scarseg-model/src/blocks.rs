//! Small building blocks outside the ConvNeXt encoder: conv-BN-ReLU and the high-resolution stem.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A 3x3 convolution without bias (BatchNorm follows), BatchNorm, ReLU.
#[derive(Config, Debug)]
pub struct ConvBnReluConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Convolution stride (1, or 2 for the stem's downsampling conv). Padding is always 1.
    #[config(default = 1)]
    pub stride: usize,
}

/// conv3x3 (padding 1, no bias) -> BatchNorm (eps 1e-5, momentum 0.1) -> ReLU.
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    /// The 3x3 convolution.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

impl ConvBnReluConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> ConvBnRelu {
        ConvBnRelu {
            conv: Conv2dConfig::new([self.channels_in, self.channels_out], [3, 3])
                .with_stride([self.stride, self.stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(self.channels_out).init(device),
        }
    }
}

impl ConvBnRelu {
    /// # Shapes
    /// - input `[batch, channels_in, height, width]`
    /// - output `[batch, channels_out, height / stride, width / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// The light parallel stem that gives skips at strides 1 and 2. **\[decided\]**: ConvNeXt starts
/// at stride 4, which loses thin scar.
#[derive(Module, Debug)]
pub struct HighResStem {
    /// First full-resolution conv-BN-ReLU, in -> c1.
    pub conv1: ConvBnRelu,
    /// Second full-resolution conv-BN-ReLU, c1 -> c1.
    pub conv2: ConvBnRelu,
    /// Stride-2 conv-BN-ReLU, c1 -> c2.
    pub down: ConvBnRelu,
}

impl HighResStem {
    /// Builds the stem: `in_channels` -> c1 (full resolution) -> c2 (half resolution).
    pub fn new(in_channels: usize, c1: usize, c2: usize, device: &Device) -> Self {
        Self {
            conv1: ConvBnReluConfig::new(in_channels, c1).init(device),
            conv2: ConvBnReluConfig::new(c1, c1).init(device),
            down: ConvBnReluConfig::new(c1, c2).with_stride(2).init(device),
        }
    }

    /// Returns the skips at stride 1 and stride 2.
    ///
    /// # Shapes
    /// - input `[batch, in, H, W]`
    /// - output `([batch, c1, H, W], [batch, c2, H/2, W/2])`
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let s1 = self.conv2.forward(self.conv1.forward(x)); // [B, c1, H, W]
        let s2 = self.down.forward(s1.clone()); // [B, c2, H/2, W/2]
        (s1, s2)
    }
}
