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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{test_device, values};

    #[test]
    fn upsampling_matches_half_pixel_bilinear_by_hand() {
        let device = test_device();
        // [[1, 2], [3, 4]]: rows give [1, 2], [1.5, 2.5], [2.5, 3.5], [3, 4] (3/4 near + 1/4
        // far, edges repeated), then the same along each row. PyTorch's
        // F.interpolate(scale_factor=2, mode="bilinear", align_corners=False) gives the same.
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 1, 2, 2]);
        let expected = [
            1.0, 1.25, 1.75, 2.0, //
            1.5, 1.75, 2.25, 2.5, //
            2.5, 2.75, 3.25, 3.5, //
            3.0, 3.25, 3.75, 4.0,
        ];
        let y = upsample2x(x);
        assert_eq!(y.dims(), [1, 1, 4, 4]);
        assert_eq!(values(y), expected);

        // Two channels of a 1 x 3 map: each channel stays in place, the one row is repeated and
        // [10, 20, 40] becomes [10, 12.5, 17.5, 25, 35, 40].
        let x = Tensor::<1>::from_floats([0.0, 1.0, 2.0, 10.0, 20.0, 40.0], &device)
            .reshape([1, 2, 1, 3]);
        let y = upsample2x(x);
        assert_eq!(y.dims(), [1, 2, 2, 6]);
        let row0 = [0.0, 0.25, 0.75, 1.25, 1.75, 2.0];
        let row1 = [10.0, 12.5, 17.5, 25.0, 35.0, 40.0];
        let expected: Vec<f32> = [row0, row0, row1, row1].concat();
        assert_eq!(values(y), expected);
    }
}
