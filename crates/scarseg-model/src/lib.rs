//! ScarSegNet on burn 0.22: the single source of truth for the network.
//!
//! This crate owns the architecture (ConvNeXt encoder with a high-resolution stem, Adaptive
//! Squeeze-and-Excitation after every stage, Contextual Attention Gates on every skip, a U-Net
//! decoder, and scar and myocardium heads), its losses, its diagnostics for the teaching view,
//! its parameter and FLOP counts, and loading and saving of its weights as bytes. It does no file
//! I/O, so the native trainer and the browser's worker use it unchanged; the [`burn::tensor::Device`]
//! given at run time picks the backend (flex, WebGPU, Vulkan, CUDA).
//!
//! Where the ScarSegNet paper is silent, `shared/design/MODEL.md` decides; each such decision is
//! marked **\[decided\]** in the docs of the item that implements it.
//!
//! # Decisions beyond the paper
//!
//! - Stem: a 4x4 stride-4 patchify conv with one input channel (the paper's "1x1" read as "adapt
//!   the stem to one channel"); imported 3-channel kernels are summed over channels
//!   ([`import`]).
//! - A high-resolution stem gives skips at strides 1 and 2 ([`blocks::HighResStem`]).
//! - ASE: rho = 1/64 with k rounding half up, one learnable threshold per channel (theta init 0),
//!   tau = 0.1 fixed; ASE's output replaces the stage output ([`ase`]).
//! - CAG: F_int = max(C_x / 2, 8); the dilated global branch has dilation 3 ([`cag`]).
//! - A myocardium head beside the paper's scar head ([`model::ScarSegNet`]).
//! - Numerics: bilinear upsampling with `align_corners = false`, exact GELU, LayerNorm eps 1e-6,
//!   BatchNorm eps 1e-5 / momentum 0.1, biases as listed in `shared/design/MODEL.md`.
//! - Losses: Dice and Tversky per image then averaged; Tversky alpha 0.3 (false positives),
//!   beta 0.7, gamma 0.75; weighted CE scar weight 5 ([`loss`]).
//!
//! Parameter counts and FLOPs of every variant are tabulated in [`cost`].
//!
//! Training-only glue (autodiff train step) sits behind the `train` feature, which the wasm build
//! never enables.

pub mod ase;
pub mod blocks;
pub mod cag;
pub mod config;
pub mod convnext;
pub mod cost;
pub mod decoder;
pub mod device_check;
pub mod error;
pub mod import;
pub mod loss;
pub mod model;
#[cfg(feature = "train")]
pub mod train;
pub mod weights;

pub use config::{ScarSegNetConfig, Variant};
pub use error::ModelError;
pub use model::{Diagnostics, ScarSegNet, SegLogits};

/// The CPU device the unit tests run on.
#[cfg(test)]
pub(crate) fn test_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// Reads a tensor back as f32 values (tests only; synchronous).
#[cfg(test)]
pub(crate) fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}
