//! Typed errors of the model crate. Every message names the value at fault.

use thiserror::Error;

/// Errors from building, running, loading or saving ScarSegNet.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// The input tensor's height or width is not a positive multiple of 32.
    #[error(
        "input of {height}x{width} pixels: both sides must be positive multiples of 32 \
         (the encoder downsamples five times)"
    )]
    InputSize {
        /// Input height in pixels.
        height: usize,
        /// Input width in pixels.
        width: usize,
    },
    /// The input tensor has the wrong number of channels.
    #[error("input has {found} channels, the model expects {expected}")]
    InputChannels {
        /// Channels the model was built for.
        expected: usize,
        /// Channels in the input.
        found: usize,
    },
    /// The weights bytes are not a readable safetensors file.
    #[error("weights are not a readable safetensors file: {0}")]
    WeightsFormat(String),
    /// The weights carry no ScarSegNet config, or one that cannot be parsed.
    #[error("weights carry no usable ScarSegNet config: {0}")]
    WeightsConfig(String),
    /// The weights were made for another architecture config than the one expected.
    #[error("weights were made for config {found}, expected {expected}")]
    ConfigMismatch {
        /// Expected config, as JSON.
        expected: String,
        /// Config found in the weights, as JSON.
        found: String,
    },
    /// A config field is out of the range the network can be built with.
    #[error("config: {0}")]
    InvalidConfig(String),
    /// The weights file holds fewer values than its config's parameters: it cannot be the
    /// weights of that network (checked before the network is built, so that a small file
    /// naming a huge config cannot exhaust memory).
    #[error(
        "weights hold {found} values, fewer than the {needed} parameters their config describes"
    )]
    TooFewValues {
        /// Parameters of the config.
        needed: u64,
        /// Values stored in the file.
        found: u64,
    },
    /// The device's top-k, which ASE needs, gave a wrong result on a check with known answers.
    #[error(
        "this device computes top-k wrongly (stage {stage}: the {k} largest of {n} values, \
         {wrong} of {k} wrong in one of {rows} rows), so ASE, and every output, would be wrong \
         on it: use the CPU (flex)"
    )]
    DeviceTopK {
        /// Encoder stage whose problem failed.
        stage: usize,
        /// Values per row.
        n: usize,
        /// Values kept.
        k: usize,
        /// Rows in the check.
        rows: usize,
        /// Wrong values in the first wrong row.
        wrong: usize,
    },
    /// A tensor in the weights has a different shape than the model's.
    #[error("tensor `{name}` has shape {found:?} in the weights, the model expects {expected:?}")]
    ShapeMismatch {
        /// Tensor path in the model.
        name: String,
        /// Shape the model expects.
        expected: Vec<usize>,
        /// Shape found in the weights.
        found: Vec<usize>,
    },
    /// Tensors the model needs are absent from the weights.
    #[error("weights lack {count} tensors the model needs, first `{first}`")]
    MissingTensors {
        /// How many are missing.
        count: usize,
        /// The first missing tensor path.
        first: String,
    },
    /// The weights hold tensors that the model has no place for.
    #[error("weights hold {count} tensors the model does not have, first `{first}`")]
    UnexpectedTensors {
        /// How many are unexpected.
        count: usize,
        /// The first unexpected tensor path.
        first: String,
    },
    /// A training step was asked for something it cannot do (no device, an empty batch).
    #[error("training: {0}")]
    Training(String),
    /// Any other failure while applying or collecting tensors.
    #[error("weights: {0}")]
    Store(String),
    /// The device itself failed (lost, poisoned, out of memory) while a result was read back.
    #[error("the device failed {0}")]
    DeviceFailed(String),
}
