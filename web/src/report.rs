//! Who produced a result the page exports: the weights and the device. The report's rows and
//! records themselves are `scarseg_pipeline::outputs`', shared with `scarseg predict`.

use serde::Serialize;

/// The weights behind a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// Model name.
    pub name: String,
    /// Weights sha256.
    pub sha256: String,
    /// Device that ran the network.
    pub device: String,
}
