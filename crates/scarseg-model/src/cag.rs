//! The Contextual Attention Gate (CAG) on every skip connection.
//!
//! Given decoder gating g (already upsampled to the skip's resolution) and skip x (C_x channels),
//! with F_int = max(C_x / 2, 8):
//! - f = relu(BN(W_g g) + BN(W_x x)), W_g and W_x 1x1 convs to F_int, without bias
//! - psi = sigmoid(BN(W_local f + W_global f)), W_local 1x1 and W_global 3x3 dilation 3
//!   (padding 3), both F_int -> 1 and without bias (BN follows the sum)
//! - output x~ = psi * x, psi broadcast over channels.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

/// Width of the CAG's intermediate features: max(C_x / 2, 8).
pub fn cag_inter(skip_channels: usize) -> usize {
    (skip_channels / 2).max(8)
}

/// One attention gate.
#[derive(Module, Debug)]
pub struct Cag {
    /// 1x1 conv on the gating signal, C_g -> F_int.
    pub w_g: Conv2d,
    /// BN after W_g.
    pub bn_g: BatchNorm,
    /// 1x1 conv on the skip, C_x -> F_int.
    pub w_x: Conv2d,
    /// BN after W_x.
    pub bn_x: BatchNorm,
    /// Local branch, 1x1 F_int -> 1.
    pub w_local: Conv2d,
    /// Global branch, 3x3 dilation 3, F_int -> 1.
    pub w_global: Conv2d,
    /// BN over the summed branches (1 channel).
    pub bn_psi: BatchNorm,
}

fn conv1x1(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [1, 1])
        .with_bias(false)
        .init(device)
}

impl Cag {
    /// Builds a gate for gating width `gate_channels` and skip width `skip_channels`.
    pub fn new(gate_channels: usize, skip_channels: usize, device: &Device) -> Self {
        let inter = cag_inter(skip_channels);
        Self {
            w_g: conv1x1(gate_channels, inter, device),
            bn_g: BatchNormConfig::new(inter).init(device),
            w_x: conv1x1(skip_channels, inter, device),
            bn_x: BatchNormConfig::new(inter).init(device),
            w_local: conv1x1(inter, 1, device),
            w_global: Conv2dConfig::new([inter, 1], [3, 3])
                .with_dilation([3, 3])
                .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                .with_bias(false)
                .init(device),
            bn_psi: BatchNormConfig::new(1).init(device),
        }
    }

    /// Returns the gated skip and the attention map psi.
    ///
    /// # Shapes
    /// - `gate`: `[batch, C_g, H, W]`, `skip`: `[batch, C_x, H, W]`
    /// - output `([batch, C_x, H, W], psi [batch, 1, H, W])`
    pub fn forward(&self, gate: Tensor<4>, skip: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let f = relu(
            self.bn_g.forward(self.w_g.forward(gate))
                + self.bn_x.forward(self.w_x.forward(skip.clone())),
        ); // [B, F_int, H, W]
        let psi = sigmoid(
            self.bn_psi
                .forward(self.w_local.forward(f.clone()) + self.w_global.forward(f)),
        ); // [B, 1, H, W]
        (skip * psi.clone(), psi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{test_device, values};
    use burn::module::Param;

    #[test]
    fn attention_map_matches_hand_computation() {
        // One gating channel, two skip channels, F_int = max(2 / 2, 8) = 8. Fresh BatchNorms in
        // inference divide by sqrt(1 + 1e-5) = s. W_g = 1, W_x = 0 give f = relu(g) / s in every
        // one of the 8 channels. W_local = 0.25 per channel sums to 2f; W_global's centre tap
        // 0.125 per channel sums to f (off-centre taps fall outside a 2x2 map with dilation 3).
        // psi = sigmoid(3 relu(g) / s^2): for g = [-1, 0, 0.5, 1] that is
        // [0.5, 0.5, 0.8175722390, 0.9525727715].
        let device = test_device();
        let mut cag = Cag::new(1, 2, &device);
        cag.w_g.weight = Param::from_tensor(Tensor::ones([8, 1, 1, 1], &device));
        cag.w_x.weight = Param::from_tensor(Tensor::zeros([8, 2, 1, 1], &device));
        cag.w_local.weight = Param::from_tensor(Tensor::full([1, 8, 1, 1], 0.25, &device));
        let centre = Tensor::<1>::from_floats([0., 0., 0., 0., 1., 0., 0., 0., 0.], &device)
            .reshape([1, 1, 3, 3])
            .repeat_dim(1, 8)
            * 0.125;
        cag.w_global.weight = Param::from_tensor(centre);
        let gate = Tensor::<1>::from_floats([-1.0, 0.0, 0.5, 1.0], &device).reshape([1, 1, 2, 2]);
        let skip = Tensor::<1>::from_floats([2.0, 2.0, 2.0, 2.0, -1.0, -1.0, -1.0, -1.0], &device)
            .reshape([1, 2, 2, 2]);
        let (gated, psi) = cag.forward(gate, skip);
        let expected = [0.5, 0.5, 0.817_572_24, 0.952_572_8];
        for (got, want) in values(psi).iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "psi {got} != {want}");
        }
        let gated = values(gated);
        for i in 0..4 {
            assert!((gated[i] - 2.0 * expected[i]).abs() < 1e-5);
            assert!((gated[4 + i] + expected[i]).abs() < 1e-5);
        }
    }
}
