//! The U-Net decoder: five levels from stride 32 up to stride 1, each with a CAG on its skip.

use burn::module::Module;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use crate::blocks::{ConvBnRelu, ConvBnReluConfig};
use crate::cag::Cag;

/// Bilinear x2 upsampling with half-pixel centres (`align_corners = false`, PyTorch's default)
/// **\[decided\]**.
///
/// Along each axis output 2i is 3/4 x\[i\] + 1/4 x\[i-1\] and output 2i+1 is 3/4 x\[i\] + 1/4
/// x\[i+1\], edges repeated: the numbers of `F.interpolate(scale_factor=2, mode="bilinear",
/// align_corners=False)`. Inference uses burn's `interpolate` (two to three times as fast as
/// tensor ops on `flex`, `benchmarks/README.md`); training (an autodiff device) uses slices,
/// sums and a reshape, because burn's GPU backends (wgpu, CUDA) have no backward for bilinear
/// `interpolate` and training there would stop at its first step. The two agree within 1e-6.
///
/// # Shapes
/// - input `[batch, C, H, W]`, output `[batch, C, 2H, 2W]`
pub fn upsample2x(x: Tensor<4>) -> Tensor<4> {
    if x.is_autodiff() {
        double_axis(double_axis(x, 2), 3)
    } else {
        interpolate2x(x)
    }
}

/// The inference form: burn's bilinear `interpolate` to twice the size, half-pixel centres.
fn interpolate2x(x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    // burn's `InterpolateOptions::new` defaults to `align_corners = true`.
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear);
    options.align_corners = false;
    options.output_size = Some([2 * height, 2 * width]);
    interpolate(x, options)
}

/// Doubles axis `dim` (2 or 3) of `x` with the half-pixel bilinear weights.
fn double_axis(x: Tensor<4>, dim: usize) -> Tensor<4> {
    let n = x.dims()[dim];
    let (prev, next) = if n == 1 {
        (x.clone(), x.clone())
    } else {
        (
            Tensor::cat(
                vec![x.clone().narrow(dim, 0, 1), x.clone().narrow(dim, 0, n - 1)],
                dim,
            ),
            Tensor::cat(
                vec![
                    x.clone().narrow(dim, 1, n - 1),
                    x.clone().narrow(dim, n - 1, 1),
                ],
                dim,
            ),
        )
    };
    let near = x.mul_scalar(0.75);
    let even = near.clone() + prev.mul_scalar(0.25);
    let odd = near + next.mul_scalar(0.25);
    // [.., n, ..] twice -> [.., n, 2, ..] -> [.., 2n, ..]: even and odd outputs interleave.
    let mut dims = even.dims();
    dims[dim] *= 2;
    Tensor::stack::<5>(vec![even, odd], dim + 1).reshape(dims)
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

    /// burn's own bilinear `interpolate` (half-pixel, on flex, which has its backward) is the
    /// reference for the training path: same values and same input gradient for a random map
    /// and weighting.
    #[test]
    fn upsampling_and_its_gradient_match_burns_bilinear_interpolate() {
        use burn::tensor::Distribution;

        let device = test_device().autodiff();
        let x0 = Tensor::<4>::random([2, 3, 5, 7], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([2, 3, 10, 14], Distribution::Normal(0.0, 1.0), &device);
        let run = |up: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x0.clone().detach().require_grad();
            let y = up(x.clone());
            let grads = (y.clone() * w.clone()).sum().backward();
            let g = x.grad(&grads).expect("input gradient");
            (values(y), g.into_data().try_to_vec::<f32>().expect("f32"))
        };
        let (ours, ours_grad) = run(&|x| double_axis(double_axis(x, 2), 3));
        let (burns, burns_grad) = run(&interpolate2x);
        let worst = |a: &[f32], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).fold(0f32, |m, (p, q)| m.max((p - q).abs()))
        };
        let (values_apart, gradients_apart) =
            (worst(&ours, &burns), worst(&ours_grad, &burns_grad));
        assert!(values_apart < 1e-6, "values {values_apart}");
        assert!(gradients_apart < 1e-5, "gradients {gradients_apart}");
    }

    #[test]
    fn upsampling_matches_half_pixel_bilinear_by_hand() {
        // Inference (burn's interpolate) and training (tensor ops) alike.
        for device in [test_device(), test_device().autodiff()] {
            by_hand(device);
        }
    }

    fn by_hand(device: Device) {
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
