//! Parameter count and forward FLOPs of ScarSegNet, computed from its config.
//!
//! FLOPs count a multiply-add as two operations and include convolutions and linear layers only
//! (norms, activations, pooling and interpolation are a few percent and omitted, as is usual).
//! The parameter count is checked by the tests against burn's `Module::num_params`.
//!
//! At 256x256 (from `cargo run -p scarseg-model --example cost_table`):
//!
//! | variant | parameters | forward GFLOPs at 256x256 |
//! |---|---|---|
//! | atto | 4726498 | 7.09 |
//! | femto | 6778336 | 10.17 |
//! | pico | 11988556 | 18.01 |
//! | nano | 20350330 | 28.93 |
//! | tiny | 35590952 | 44.09 |
//! | small | 57225512 | 55.13 |
//! | base | 101376900 | 97.75 |

use crate::ase::ase_hidden;
use crate::cag::cag_inter;
use crate::config::ScarSegNetConfig;

// In u64: on wasm32 usize is 32 bits, and a checked config may have more parameters than that.
fn conv(c_in: usize, c_out: usize, k: usize, groups: usize, bias: bool) -> u64 {
    let (c_in, c_out, k, groups) = (c_in as u64, c_out as u64, k as u64, groups as u64);
    c_out * (c_in / groups) * k * k + if bias { c_out } else { 0 }
}

fn conv_flops(c_in: usize, c_out: usize, k: usize, groups: usize, h: usize, w: usize) -> u64 {
    let (c_in, c_out, k, groups) = (c_in as u64, c_out as u64, k as u64, groups as u64);
    2 * c_out * (c_in / groups) * k * k * h as u64 * w as u64
}

/// Parameters (trainable, plus none of BatchNorm's running statistics).
pub fn parameter_count(config: &ScarSegNetConfig) -> u64 {
    let bn = |c: usize| 2 * c as u64;
    let ln = |c: usize| 2 * c as u64;
    let cbr = |ci: usize, co: usize| conv(ci, co, 3, 1, false) + bn(co);
    let [d0, d1, d2, d3] = config.dims;
    let (c1, c2) = (config.stem_c1(), config.stem_c2());
    let mut n = cbr(config.in_channels, c1) + cbr(c1, c1) + cbr(c1, c2);
    n += conv(config.in_channels, d0, 4, 1, true) + ln(d0);
    for i in 0..4 {
        let c = config.dims[i];
        if i > 0 {
            n += ln(config.dims[i - 1]) + conv(config.dims[i - 1], c, 2, 1, true);
        }
        let block = conv(c, c, 7, c, true)
            + ln(c)
            + conv(c, 4 * c, 1, 1, true)
            + conv(4 * c, c, 1, 1, true)
            + c as u64;
        n += block * config.depths[i] as u64;
        let h = ase_hidden(c);
        n += c as u64 + conv(c, h, 1, 1, true) + conv(h, c, 1, 1, true);
    }
    for (up, skip) in [(d3, d2), (d2, d1), (d1, d0), (d0, c2), (c2, c1)] {
        let f = cag_inter(skip);
        n += conv(up, f, 1, 1, false) + bn(f) + conv(skip, f, 1, 1, false) + bn(f);
        n += conv(f, 1, 1, 1, false) + conv(f, 1, 3, 1, false) + bn(1);
        n += cbr(up + skip, skip) + cbr(skip, skip);
    }
    n + 2 * conv(c1, 1, 1, 1, true)
}

/// Forward FLOPs for one `height` x `width` slice.
pub fn forward_flops(config: &ScarSegNetConfig, height: usize, width: usize) -> u64 {
    let [d0, d1, d2, d3] = config.dims;
    let (c1, c2) = (config.stem_c1(), config.stem_c2());
    let (h, w) = (height, width);
    let mut f = conv_flops(config.in_channels, c1, 3, 1, h, w) + conv_flops(c1, c1, 3, 1, h, w);
    f += conv_flops(c1, c2, 3, 1, h / 2, w / 2);
    f += conv_flops(config.in_channels, d0, 4, 1, h / 4, w / 4);
    for i in 0..4 {
        let c = config.dims[i];
        let (sh, sw) = (h >> (2 + i), w >> (2 + i));
        if i > 0 {
            f += conv_flops(config.dims[i - 1], c, 2, 1, sh, sw);
        }
        let block = conv_flops(c, c, 7, c, sh, sw) + 2 * 2 * (c * 4 * c) as u64 * (sh * sw) as u64;
        f += block * config.depths[i] as u64;
        let hidden = ase_hidden(c);
        f += 2 * 2 * (c * hidden) as u64;
    }
    let levels = [
        (d3, d2, 16),
        (d2, d1, 8),
        (d1, d0, 4),
        (d0, c2, 2),
        (c2, c1, 1),
    ];
    for (up, skip, stride) in levels {
        let (lh, lw) = (h / stride, w / stride);
        let inter = cag_inter(skip);
        f += conv_flops(up, inter, 1, 1, lh, lw) + conv_flops(skip, inter, 1, 1, lh, lw);
        f += conv_flops(inter, 1, 1, 1, lh, lw) + conv_flops(inter, 1, 3, 1, lh, lw);
        f += conv_flops(up + skip, skip, 3, 1, lh, lw) + conv_flops(skip, skip, 3, 1, lh, lw);
    }
    f + 2 * conv_flops(c1, 1, 1, 1, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;
    use crate::test_device;
    use burn::module::Module;

    #[test]
    fn parameter_count_matches_the_built_model() {
        use burn::store::ModuleSnapshot;
        for variant in Variant::ALL {
            let config = ScarSegNetConfig::variant(variant);
            let model = config.init(&test_device());
            // burn counts BatchNorm's running mean and variance too; they are not trained.
            let running: usize = model
                .collect(None, None, false)
                .iter()
                .filter(|t| t.name.contains("running_"))
                .map(|t| t.shape.iter().product::<usize>())
                .sum();
            assert_eq!(
                parameter_count(&config),
                (model.num_params() - running) as u64,
                "{variant:?}"
            );
        }
    }

    #[test]
    fn flops_by_hand_for_the_stem_and_scale_with_pixels() {
        // The patchify stem alone at 256x256 on atto: 2 * 40 * 1 * 4 * 4 * 64 * 64 = 5,242,880;
        // the full-resolution first conv: 2 * 20 * 1 * 9 * 256 * 256 = 23,592,960.
        assert_eq!(conv_flops(1, 40, 4, 1, 64, 64), 5_242_880);
        assert_eq!(conv_flops(1, 20, 3, 1, 256, 256), 23_592_960);
        let config = ScarSegNetConfig::variant(Variant::Atto);
        let ratio =
            forward_flops(&config, 512, 512) as f64 / forward_flops(&config, 256, 256) as f64;
        // Everything but ASE's two tiny linear layers scales with the pixel count.
        assert!((ratio - 4.0).abs() < 1e-4, "{ratio}");
    }
}
