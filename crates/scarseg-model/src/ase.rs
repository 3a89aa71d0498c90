//! Adaptive Squeeze-and-Excitation (ASE), applied after every encoder stage.
//!
//! Per channel c of a feature map x (C x H x W):
//! - v_c = TopK(flatten(x_c), k), k = max(1, floor(rho * H * W + 0.5)), rho = 1/64 **\[decided\]**
//! - m_c = max(v_c), a_c = mean(v_c), T = sigmoid(theta_c) with one learnable theta per channel
//!   initialised to 0 **\[decided: per channel\]**
//! - g_c = sigmoid((min(v_c) - T) / tau), tau = 0.1 fixed **\[decided\]**
//! - z_c = g_c * m_c + (1 - g_c) * a_c ("T-Max-Avg" pooling)
//! - s = sigmoid(W2 relu(W1 z)), W1: C -> max(C/16, 8), W2: back to C, with biases
//! - output = x * s, which replaces the stage output **\[decided\]**.
//!
//! Top-k uses burn's `topk` (a GPU reduce kernel with autodiff), never `sort`, which would read
//! back to the CPU synchronously and cannot run in a browser.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::config::ase_k;

/// One ASE module for a stage of `channels` channels.
#[derive(Module, Debug)]
pub struct Ase {
    /// Learnable threshold logits theta, `[C]`; T = sigmoid(theta).
    pub theta: Param<Tensor<1>>,
    /// Squeeze: C -> max(C/16, 8).
    pub fc1: Linear,
    /// Excite: back to C.
    pub fc2: Linear,
    /// Top-k fraction rho.
    pub rho: f64,
    /// Gate temperature tau.
    pub tau: f64,
}

/// What an ASE forward computed besides its output, for the teaching view.
#[derive(Debug, Clone)]
pub struct AseTrace {
    /// Gates g, `[batch, C]`, in (0, 1): 1 means max pooling, 0 mean-of-top-k pooling.
    pub gate: Tensor<2>,
    /// Excitations s, `[batch, C]`, in (0, 1).
    pub excitation: Tensor<2>,
}

/// Width of ASE's bottleneck: max(C / 16, 8).
pub fn ase_hidden(channels: usize) -> usize {
    (channels / 16).max(8)
}

impl Ase {
    /// Builds ASE for `channels` channels with top-k fraction `rho` and temperature `tau`.
    pub fn new(channels: usize, rho: f64, tau: f64, device: &Device) -> Self {
        let hidden = ase_hidden(channels);
        Self {
            theta: Param::from_tensor(Tensor::zeros([channels], device)),
            fc1: LinearConfig::new(channels, hidden).init(device),
            fc2: LinearConfig::new(hidden, channels).init(device),
            rho,
            tau,
        }
    }

    /// The T-Max-Avg pooled descriptor z and the gate g.
    ///
    /// # Shapes
    /// - input `[batch, C, H, W]`
    /// - output `(z [batch, C], g [batch, C])`
    pub fn pool(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let [batch, channels, height, width] = x.dims();
        let k = ase_k(self.rho, height, width);
        let v = x.reshape([batch, channels, height * width]).topk(k, 2); // [B, C, k]
        let m = v.clone().max_dim(2).reshape([batch, channels]); // [B, C]
        let a = v.clone().mean_dim(2).reshape([batch, channels]); // [B, C]
        let v_min = v.min_dim(2).reshape([batch, channels]); // [B, C]
        let threshold = sigmoid(self.theta.val()).reshape([1, channels]); // [1, C]
        let gate = sigmoid((v_min - threshold) / self.tau); // [B, C]
        let z = gate.clone() * m + (gate.clone().neg() + 1.0) * a; // [B, C]
        (z, gate)
    }

    /// # Shapes
    /// - input and output `[batch, C, H, W]`; the trace holds `[batch, C]` tensors.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, AseTrace) {
        let [batch, channels, _, _] = x.dims();
        let (z, gate) = self.pool(x.clone());
        let excitation = sigmoid(self.fc2.forward(relu(self.fc1.forward(z)))); // [B, C]
        let out = x * excitation.clone().reshape([batch, channels, 1, 1]);
        (out, AseTrace { gate, excitation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{test_device, values};

    fn one_channel(pixels: [f32; 4]) -> Tensor<4> {
        Tensor::<1>::from_floats(pixels, &test_device()).reshape([1, 1, 2, 2])
    }

    #[test]
    fn k_of_one_is_max_pooling() {
        // rho = 0 gives k = max(1, floor(0 + 0.5)) = 1: min = max = mean of v, so z = max.
        let ase = Ase::new(1, 0.0, 0.1, &test_device());
        let (z, _) = ase.pool(one_channel([0.1, 0.9, 0.6, 0.2]));
        assert!((values(z)[0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn k_of_hw_is_mean_pooling_when_the_gate_closes() {
        // rho = 1 gives k = HW = 4, a = mean of all = -2.5. min = -4 is far below T = 0.5, so
        // g = sigmoid((-4 - 0.5) / 0.1) = sigmoid(-45) ~ 3e-20 and z = a.
        let ase = Ase::new(1, 1.0, 0.1, &test_device());
        let (z, g) = ase.pool(one_channel([-1.0, -2.0, -3.0, -4.0]));
        assert!(values(g)[0] < 1e-12);
        assert!((values(z)[0] + 2.5).abs() < 1e-6);
    }

    #[test]
    fn mixed_case_matches_hand_computation() {
        // x = [0.1, 0.9, 0.6, 0.2], rho = 0.5: k = floor(0.5 * 4 + 0.5) = 2, v = [0.9, 0.6].
        // m = 0.9, a = 0.75, min = 0.6, T = sigmoid(0) = 0.5.
        // g = sigmoid((0.6 - 0.5) / 0.1) = sigmoid(1) = 0.7310585786
        // z = 0.7310585786 * 0.9 + 0.2689414214 * 0.75 = 0.8596587868
        let ase = Ase::new(1, 0.5, 0.1, &test_device());
        let (z, g) = ase.pool(one_channel([0.1, 0.9, 0.6, 0.2]));
        assert!((values(g)[0] - 0.731_058_6).abs() < 1e-6);
        assert!((values(z)[0] - 0.859_658_8).abs() < 1e-6);
    }

    #[test]
    fn threshold_is_learned_per_channel() {
        // Channel 1 gets theta = ln(0.6 / 0.4) so T = 0.6 and g = sigmoid((0.6 - 0.6) / 0.1) = 0.5.
        let device = test_device();
        let mut ase = Ase::new(2, 0.5, 0.1, &device);
        ase.theta = Param::from_tensor(Tensor::from_floats([0.0, (0.6f32 / 0.4).ln()], &device));
        let x = Tensor::<1>::from_floats([0.1, 0.9, 0.6, 0.2, 0.1, 0.9, 0.6, 0.2], &device)
            .reshape([1, 2, 2, 2]);
        let (_, g) = ase.pool(x);
        let g = values(g);
        assert!((g[0] - 0.731_058_6).abs() < 1e-6);
        assert!((g[1] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn excitation_scales_every_pixel_of_its_channel() {
        // Zero weights and fc2 bias ln 3 give s = sigmoid(ln 3) = 0.75 whatever z is.
        let device = test_device();
        let mut ase = Ase::new(2, 0.5, 0.1, &device);
        let hidden = ase_hidden(2);
        ase.fc1.weight = Param::from_tensor(Tensor::zeros([2, hidden], &device));
        ase.fc2.weight = Param::from_tensor(Tensor::zeros([hidden, 2], &device));
        ase.fc2.bias = Some(Param::from_tensor(Tensor::full([2], 3f32.ln(), &device)));
        let x = Tensor::<1>::from_floats([1.0, -2.0, 4.0, 8.0, 0.5, 0.5, 0.5, 0.5], &device)
            .reshape([1, 2, 2, 2]);
        let (out, trace) = ase.forward(x);
        let want = [0.75, -1.5, 3.0, 6.0, 0.375, 0.375, 0.375, 0.375];
        for (got, want) in values(out).iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} != {want}");
        }
        assert_eq!(trace.excitation.dims(), [1, 2]);
    }
}
