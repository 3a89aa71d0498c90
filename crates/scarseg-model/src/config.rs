//! Architecture configs: the seven ConvNeXt variants as presets.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// The ConvNeXt encoder sizes ScarSegNet can be built with. `Base` is the paper's choice; the
/// smaller ones exist for the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// dims [40, 80, 160, 320], depths [2, 2, 6, 2].
    Atto,
    /// dims [48, 96, 192, 384], depths [2, 2, 6, 2].
    Femto,
    /// dims [64, 128, 256, 512], depths [2, 2, 6, 2].
    Pico,
    /// dims [80, 160, 320, 640], depths [2, 2, 8, 2].
    Nano,
    /// dims [96, 192, 384, 768], depths [3, 3, 9, 3].
    Tiny,
    /// dims [96, 192, 384, 768], depths [3, 3, 27, 3].
    Small,
    /// dims [128, 256, 512, 1024], depths [3, 3, 27, 3]: the paper's encoder.
    Base,
}

impl Variant {
    /// Every variant, smallest first.
    pub const ALL: [Variant; 7] = [
        Variant::Atto,
        Variant::Femto,
        Variant::Pico,
        Variant::Nano,
        Variant::Tiny,
        Variant::Small,
        Variant::Base,
    ];

    /// Channel widths of the four encoder stages.
    pub fn dims(self) -> [usize; 4] {
        match self {
            Variant::Atto => [40, 80, 160, 320],
            Variant::Femto => [48, 96, 192, 384],
            Variant::Pico => [64, 128, 256, 512],
            Variant::Nano => [80, 160, 320, 640],
            Variant::Tiny | Variant::Small => [96, 192, 384, 768],
            Variant::Base => [128, 256, 512, 1024],
        }
    }

    /// Number of ConvNeXt blocks in each stage.
    pub fn depths(self) -> [usize; 4] {
        match self {
            Variant::Atto | Variant::Femto | Variant::Pico => [2, 2, 6, 2],
            Variant::Nano => [2, 2, 8, 2],
            Variant::Tiny => [3, 3, 9, 3],
            Variant::Small | Variant::Base => [3, 3, 27, 3],
        }
    }

    /// Lower-case name, as timm spells it after `convnext_`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Atto => "atto",
            Variant::Femto => "femto",
            Variant::Pico => "pico",
            Variant::Nano => "nano",
            Variant::Tiny => "tiny",
            Variant::Small => "small",
            Variant::Base => "base",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown variant `{s}`: expected atto, femto, pico, nano, tiny, small or base"
                )
            })
    }
}

/// Widest encoder stage a config may ask for: 4x the paper's Base (1024), far beyond any variant.
pub const MAX_DIM: usize = 4096;
/// Most ConvNeXt blocks in one stage: 2x ConvNeXt-XL's deepest stage (27).
pub const MAX_DEPTH: usize = 64;
/// Most input channels (an MRI slice has 1; multi-contrast inputs a few).
pub const MAX_IN_CHANNELS: usize = 16;

/// Everything that fixes ScarSegNet's parameters and numerics. Stored beside every weights file,
/// so loading rebuilds exactly the model the weights were made for.
#[derive(Config, Debug, PartialEq)]
pub struct ScarSegNetConfig {
    /// Channel widths of the four ConvNeXt stages (strides 4, 8, 16, 32).
    pub dims: [usize; 4],
    /// ConvNeXt blocks per stage.
    pub depths: [usize; 4],
    /// Input channels: 1 for an MRI slice.
    #[config(default = 1)]
    pub in_channels: usize,
    /// ASE top-k fraction rho: k = max(1, floor(rho * H * W + 0.5)). **\[decided\]** 1/64.
    #[config(default = 0.015625)]
    pub ase_rho: f64,
    /// ASE gate temperature tau, fixed. **\[decided\]** 0.1.
    #[config(default = 0.1)]
    pub ase_tau: f64,
    /// Initial value of ConvNeXt's layer-scale gamma.
    #[config(default = 1e-6)]
    pub layer_scale_init: f64,
    /// Stochastic-depth rate of the last encoder block (linearly increasing from 0), training only.
    #[config(default = 0.0)]
    pub drop_path_rate: f64,
}

impl ScarSegNetConfig {
    /// The config of a named variant with every other field at its default.
    pub fn variant(variant: Variant) -> Self {
        Self::new(variant.dims(), variant.depths())
    }

    /// Channels of the full-resolution high-resolution-stem skip: c1 = dims\[0\] / 2.
    pub fn stem_c1(&self) -> usize {
        (self.dims[0] / 2).max(1)
    }

    /// Channels of the half-resolution high-resolution-stem skip: c2 = dims\[0\].
    pub fn stem_c2(&self) -> usize {
        self.dims[0]
    }

    /// The ASE top-k count for a feature map of `height` x `width` pixels.
    pub fn ase_k(&self, height: usize, width: usize) -> usize {
        ase_k(self.ase_rho, height, width)
    }

    /// Checks an input's channels and size against what the network accepts.
    pub fn check_input(
        &self,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<(), ModelError> {
        check_input(self.in_channels, channels, height, width)
    }

    /// The config as a single-line JSON string (stored in weights and manifests).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a config from JSON and [checks](Self::check) it.
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        let config: Self =
            serde_json::from_str(json).map_err(|e| ModelError::WeightsConfig(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Whether the network can be built from this config and compute finite outputs. Configs
    /// arrive from files (a weights file's metadata, a manifest): a zero width panics in
    /// BatchNorm, a rho outside (0, 1] or a tau of 0 is not the ASE the paper defines, and
    /// absurd widths exhaust memory, so each field is checked before [`init`](Self::init) sees
    /// it.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::InvalidConfig(what));
        if !(1..=MAX_IN_CHANNELS).contains(&self.in_channels) {
            return bad(format!(
                "in_channels is {}, expected 1-{MAX_IN_CHANNELS}",
                self.in_channels
            ));
        }
        for (i, &d) in self.dims.iter().enumerate() {
            if !(1..=MAX_DIM).contains(&d) {
                return bad(format!("dims[{i}] is {d}, expected 1-{MAX_DIM}"));
            }
        }
        for (i, &d) in self.depths.iter().enumerate() {
            if d > MAX_DEPTH {
                return bad(format!("depths[{i}] is {d}, expected 0-{MAX_DEPTH}"));
            }
        }
        if !(self.ase_rho.is_finite() && self.ase_rho > 0.0 && self.ase_rho <= 1.0) {
            return bad(format!(
                "ase_rho is {}, expected a fraction in (0, 1]",
                self.ase_rho
            ));
        }
        if !(self.ase_tau.is_finite() && self.ase_tau > 0.0) {
            return bad(format!(
                "ase_tau is {}, expected a positive number",
                self.ase_tau
            ));
        }
        if !self.layer_scale_init.is_finite() {
            return bad(format!(
                "layer_scale_init is {}, expected a finite number",
                self.layer_scale_init
            ));
        }
        if !(self.drop_path_rate.is_finite() && (0.0..1.0).contains(&self.drop_path_rate)) {
            return bad(format!(
                "drop_path_rate is {}, expected 0 or more and less than 1",
                self.drop_path_rate
            ));
        }
        Ok(())
    }
}

/// An input of `channels` x `height` x `width` for a network of `in_channels`: sides must be
/// positive multiples of 32 (the encoder downsamples five times).
pub fn check_input(
    in_channels: usize,
    channels: usize,
    height: usize,
    width: usize,
) -> Result<(), ModelError> {
    if channels != in_channels {
        return Err(ModelError::InputChannels {
            expected: in_channels,
            found: channels,
        });
    }
    if height == 0 || width == 0 || !height.is_multiple_of(32) || !width.is_multiple_of(32) {
        return Err(ModelError::InputSize { height, width });
    }
    Ok(())
}

/// k = max(1, floor(rho * H * W + 0.5)), capped at H * W. Rounds half up so that any
/// implementation gets the same k.
pub fn ase_k(rho: f64, height: usize, width: usize) -> usize {
    let hw = height * width;
    ((rho * hw as f64 + 0.5).floor() as usize).clamp(1, hw.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ScarSegNetConfig {
        ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1])
    }

    fn message(config: &ScarSegNetConfig) -> String {
        match config.check() {
            Err(ModelError::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn every_variant_passes_the_check() {
        for variant in Variant::ALL {
            assert_eq!(
                ScarSegNetConfig::variant(variant).check(),
                Ok(()),
                "{variant:?}"
            );
        }
    }

    #[test]
    fn configs_the_network_cannot_use_are_named() {
        let mut c = small();
        c.dims[2] = 0;
        assert_eq!(message(&c), "dims[2] is 0, expected 1-4096");
        let mut c = small();
        c.dims[3] = 1_000_000;
        assert_eq!(message(&c), "dims[3] is 1000000, expected 1-4096");
        let mut c = small();
        c.depths[1] = 65;
        assert_eq!(message(&c), "depths[1] is 65, expected 0-64");
        assert_eq!(
            message(&small().with_in_channels(0)),
            "in_channels is 0, expected 1-16"
        );
        assert_eq!(
            message(&small().with_ase_rho(1.5)),
            "ase_rho is 1.5, expected a fraction in (0, 1]"
        );
        assert_eq!(
            message(&small().with_ase_rho(f64::NAN)),
            "ase_rho is NaN, expected a fraction in (0, 1]"
        );
        assert_eq!(
            message(&small().with_ase_tau(0.0)),
            "ase_tau is 0, expected a positive number"
        );
        assert_eq!(
            message(&small().with_layer_scale_init(f64::INFINITY)),
            "layer_scale_init is inf, expected a finite number"
        );
        assert_eq!(
            message(&small().with_drop_path_rate(1.0)),
            "drop_path_rate is 1, expected 0 or more and less than 1"
        );
        // The edges of each range are accepted.
        let mut c = small().with_ase_rho(1.0).with_in_channels(16);
        c.dims = [1, 1, 1, 4096];
        c.depths = [0, 0, 0, 64];
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn from_json_checks_what_it_parses() {
        let mut c = small();
        c.dims[0] = 0;
        let err = ScarSegNetConfig::from_json(&c.to_json()).expect_err("zero width");
        assert_eq!(err.to_string(), "config: dims[0] is 0, expected 1-4096");
        assert_eq!(ScarSegNetConfig::from_json(&small().to_json()), Ok(small()));
    }
}
