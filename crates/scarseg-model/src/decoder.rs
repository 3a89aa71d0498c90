//! The U-Net decoder: five levels from stride 32 up to stride 1, each with a CAG on its skip.

use burn::module::Module;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use crate::blocks::{ConvBnRelu, ConvBnReluConfig};
use crate::cag::Cag;

/// Bilinear x2 upsampling with half-pixel centres (`align_corners = false`, PyTorch's default)
/// **\[decided\]**; burn's `InterpolateOptions::new` defaults to `align_corners = true`.
///
/// # Shapes
/// - input `[batch, C, H, W]`, output `[batch, C, 2H, 2W]`
pub fn upsample2x(x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear);
    options.align_corners = false;
    options.output_size = Some([2 * height, 2 * width]);
    interpolate(x, options)
}

/// One decoder level: up = bilinear x2; x~ = CAG(up, skip); d = (conv3x3-BN-ReLU) x2 over
/// concat\[up, x~\]. Its width mirrors the skip's.
#[derive(Module, Debug)]
pub struct DecoderLevel {
    /// The attention gate on this level's skip.
    pub cag: Cag,
    /// First conv-BN-ReLU, C_up + C_skip -> C_skip.
    pub conv1: ConvBnRelu,
    /// Second conv-BN-ReLU, C_skip -> C_skip.
    pub conv2: ConvBnRelu,
}

impl DecoderLevel {
    /// Builds a level that takes `up_channels` from below and a skip of `skip_channels`.
    pub fn new(up_channels: usize, skip_channels: usize, device: &Device) -> Self {
        Self {
            cag: Cag::new(up_channels, skip_channels, device),
            conv1: ConvBnReluConfig::new(up_channels + skip_channels, skip_channels).init(device),
            conv2: ConvBnReluConfig::new(skip_channels, skip_channels).init(device),
        }
    }

    /// Returns the level's output and the CAG attention map psi.
    ///
    /// # Shapes
    /// - `below`: `[batch, C_up, H/2, W/2]`, `skip`: `[batch, C_skip, H, W]`
    /// - output `([batch, C_skip, H, W], psi [batch, 1, H, W])`
    pub fn forward(&self, below: Tensor<4>, skip: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let up = upsample2x(below); // [B, C_up, H, W]
        let (gated, psi) = self.cag.forward(up.clone(), skip); // [B, C_skip, H, W]
        let d = Tensor::cat(vec![up, gated], 1); // [B, C_up + C_skip, H, W]
        (self.conv2.forward(self.conv1.forward(d)), psi)
    }
}
