//! Import of pretrained ConvNeXt encoder weights from a safetensors checkpoint in timm's naming.
//!
//! Names map one to one (`stem.0` -> `encoder.stem_conv`, `stem.1` -> `encoder.stem_norm`,
//! `stages.i.downsample.0|1` -> `encoder.stages.i.downsample.norm|conv`,
//! `stages.i.blocks.j.{conv_dw, norm, mlp.fc1, mlp.fc2, gamma}` unchanged under `encoder.`), with
//! LayerNorm `weight`/`bias` renamed to burn's `gamma`/`beta`, and MLP weights transposed to
//! burn's `[in, out]` layout (both timm's `nn.Linear` form and the `conv_mlp` 1x1-conv form of the
//! small variants are accepted). Prefixes from timm's `features_only` wrapper (`stem_0`,
//! `stages_0`) and a leading `model.`/`encoder.`/`backbone.` are understood.
//!
//! A 3-channel stem kernel is summed over its input channels to fit one-channel MRI **\[decided\]**:
//! a grey image fed as three equal channels gives exactly the same stem output.
//!
//! Everything outside the encoder (classifier head, final norm) is reported as ignored; the
//! high-resolution stem, ASE, CAG, decoder and heads keep their fresh initialisation.

use std::collections::BTreeMap;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};

use crate::error::ModelError;
use crate::model::ScarSegNet;
use crate::weights::{check_apply, to_f32};

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// Model tensor paths that received checkpoint values.
    pub imported: Vec<String>,
    /// Checkpoint tensor names with no place in ScarSegNet (classifier head and the like).
    pub ignored: Vec<String>,
}

struct Converted {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// Maps a timm ConvNeXt tensor name to the ScarSegNet path, or `None` if it has no place here.
pub fn timm_to_scarseg_name(name: &str) -> Option<String> {
    let mut name = name;
    for prefix in ["model.", "encoder.", "backbone.", "module."] {
        name = name.strip_prefix(prefix).unwrap_or(name);
    }
    let name = if let Some(rest) = name.strip_prefix("stem_") {
        format!("stem.{rest}")
    } else if let Some(rest) = name.strip_prefix("stages_") {
        format!("stages.{rest}")
    } else {
        name.to_string()
    };
    let norm_param = |p: &str| match p {
        "weight" => Some("gamma"),
        "bias" => Some("beta"),
        _ => None,
    };
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["stem", "0", p] => Some(format!("encoder.stem_conv.{p}")),
        ["stem", "1", p] => Some(format!("encoder.stem_norm.{}", norm_param(p)?)),
        ["stages", i, "downsample", "0", p] => Some(format!(
            "encoder.stages.{i}.downsample.norm.{}",
            norm_param(p)?
        )),
        ["stages", i, "downsample", "1", p] => {
            Some(format!("encoder.stages.{i}.downsample.conv.{p}"))
        }
        ["stages", i, "blocks", j, "gamma"] => Some(format!("encoder.stages.{i}.blocks.{j}.gamma")),
        ["stages", i, "blocks", j, "conv_dw", p] => {
            Some(format!("encoder.stages.{i}.blocks.{j}.conv_dw.{p}"))
        }
        ["stages", i, "blocks", j, "norm", p] => Some(format!(
            "encoder.stages.{i}.blocks.{j}.norm.{}",
            norm_param(p)?
        )),
        ["stages", i, "blocks", j, "mlp", fc @ ("fc1" | "fc2"), p] => {
            Some(format!("encoder.stages.{i}.blocks.{j}.mlp.{fc}.{p}"))
        }
        _ => None,
    }
}

fn convert(
    name: &str,
    target: &str,
    view: &TensorView<'_>,
    in_channels: usize,
) -> Result<Converted, ModelError> {
    let mut shape = view.shape().to_vec();
    let mut values = to_f32(view, name)?;
    if target == "encoder.stem_conv.weight" && shape.len() == 4 && shape[1] != in_channels {
        if in_channels != 1 {
            return Err(ModelError::ShapeMismatch {
                name: target.to_string(),
                expected: vec![shape[0], in_channels, shape[2], shape[3]],
                found: shape,
            });
        }
        // [out, c, kh, kw] -> [out, 1, kh, kw], summed over c.
        let (out, c, area) = (shape[0], shape[1], shape[2] * shape[3]);
        let mut summed = vec![0.0f32; out * area];
        for o in 0..out {
            for ch in 0..c {
                for k in 0..area {
                    summed[o * area + k] += values[(o * c + ch) * area + k];
                }
            }
        }
        values = summed;
        shape = vec![out, 1, shape[2], shape[3]];
    }
    if target.contains(".mlp.fc") && target.ends_with(".weight") {
        // timm: [out, in] (Linear) or [out, in, 1, 1] (conv_mlp); burn's Linear: [in, out].
        if shape.len() == 4 && shape[2] == 1 && shape[3] == 1 {
            shape.truncate(2);
        }
        if shape.len() == 2 {
            let (rows, cols) = (shape[0], shape[1]);
            let mut transposed = vec![0.0f32; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    transposed[c * rows + r] = values[r * cols + c];
                }
            }
            values = transposed;
            shape = vec![cols, rows];
        }
    }
    Ok(Converted { shape, values })
}

/// Loads the encoder of `model` from timm-named safetensors `bytes`.
pub fn import_timm_convnext(
    model: &mut ScarSegNet,
    bytes: &[u8],
) -> Result<ImportReport, ModelError> {
    let checkpoint =
        SafeTensors::deserialize(bytes).map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let mut converted: BTreeMap<String, Converted> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, view) in checkpoint.tensors() {
        match timm_to_scarseg_name(&name) {
            Some(target) => {
                let tensor = convert(&name, &target, &view, model.in_channels)?;
                converted.insert(target, tensor);
            }
            None => ignored.push(name),
        }
    }
    ignored.sort();
    let raw: Vec<(String, Vec<u8>, Vec<usize>)> = converted
        .iter()
        .map(|(name, t)| {
            let bytes = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), bytes, t.shape.clone())
        })
        .collect();
    let views = raw
        .iter()
        .map(|(name, data, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| ModelError::WeightsFormat(format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let remapped = safetensors::serialize(views, None)
        .map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let mut store = SafetensorsStore::from_bytes(Some(remapped))
        .validate(false)
        .allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    check_apply(&result, false)?;
    Ok(ImportReport {
        imported: result.applied.clone(),
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScarSegNetConfig;
    use crate::{test_device, values};

    /// Deterministic distinct values for a tensor: v[i] = (i % 97) * 0.01 + offset.
    fn fill(len: usize, offset: f32) -> Vec<f32> {
        (0..len).map(|i| (i % 97) as f32 * 0.01 + offset).collect()
    }

    /// Writes a timm-style checkpoint for dims [8, 16, 24, 32], depths [1, 1, 1, 1], with a
    /// 3-channel stem, `nn.Linear` MLPs in stage 0 and `conv_mlp` 1x1 convs in stage 1, and a
    /// classifier head.
    fn timm_checkpoint() -> Vec<u8> {
        let dims = [8usize, 16, 24, 32];
        let mut tensors: Vec<(String, Vec<usize>)> = vec![
            ("stem.0.weight".into(), vec![8, 3, 4, 4]),
            ("stem.0.bias".into(), vec![8]),
            ("stem.1.weight".into(), vec![8]),
            ("stem.1.bias".into(), vec![8]),
            ("head.norm.weight".into(), vec![32]),
            ("head.fc.weight".into(), vec![10, 32]),
        ];
        for (i, &c) in dims.iter().enumerate() {
            if i > 0 {
                let p = dims[i - 1];
                tensors.push((format!("stages.{i}.downsample.0.weight"), vec![p]));
                tensors.push((format!("stages.{i}.downsample.0.bias"), vec![p]));
                tensors.push((format!("stages.{i}.downsample.1.weight"), vec![c, p, 2, 2]));
                tensors.push((format!("stages.{i}.downsample.1.bias"), vec![c]));
            }
            let b = format!("stages.{i}.blocks.0");
            tensors.push((format!("{b}.conv_dw.weight"), vec![c, 1, 7, 7]));
            tensors.push((format!("{b}.conv_dw.bias"), vec![c]));
            tensors.push((format!("{b}.norm.weight"), vec![c]));
            tensors.push((format!("{b}.norm.bias"), vec![c]));
            let (fc1, fc2) = if i == 1 {
                (vec![4 * c, c, 1, 1], vec![c, 4 * c, 1, 1])
            } else {
                (vec![4 * c, c], vec![c, 4 * c])
            };
            tensors.push((format!("{b}.mlp.fc1.weight"), fc1));
            tensors.push((format!("{b}.mlp.fc1.bias"), vec![4 * c]));
            tensors.push((format!("{b}.mlp.fc2.weight"), fc2));
            tensors.push((format!("{b}.mlp.fc2.bias"), vec![c]));
            tensors.push((format!("{b}.gamma"), vec![c]));
        }
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .enumerate()
            .map(|(k, (name, shape))| {
                let len = shape.iter().product();
                let bytes = fill(len, k as f32)
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                (name, shape, bytes)
            })
            .collect();
        let views: Vec<(String, TensorView<'_>)> = data
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).expect("view"),
                )
            })
            .collect();
        safetensors::serialize(views, None).expect("serialize")
    }

    #[test]
    fn timm_checkpoint_loads_into_the_encoder() {
        let config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let mut model = config.init(&test_device());
        let report = import_timm_convnext(&mut model, &timm_checkpoint()).expect("import");
        assert_eq!(report.ignored, ["head.fc.weight", "head.norm.weight"]);
        // stem 4 + 3 downsamples x 4 + 4 blocks x 9.
        assert_eq!(report.imported.len(), 4 + 12 + 36);

        // Stem: tensor 0, values (i % 97) * 0.01; the kernel is summed over its 3 channels:
        // out[o, 0, k] = sum_c v[(o * 3 + c) * 16 + k].
        let stem = values(model.encoder.stem_conv.weight.val());
        assert_eq!(model.encoder.stem_conv.weight.dims(), [8, 1, 4, 4]);
        for o in 0..8 {
            for k in 0..16 {
                let want: f32 = (0..3)
                    .map(|c| (((o * 3 + c) * 16 + k) % 97) as f32 * 0.01)
                    .sum();
                assert!((stem[o * 16 + k] - want).abs() < 1e-5);
            }
        }
        // LayerNorm weight -> gamma: stem.1.weight is tensor 2, so (i % 97) * 0.01 + 2.
        let gamma = values(model.encoder.stem_norm.gamma.val());
        assert!((gamma[3] - 2.03).abs() < 1e-6);

        // Stage 0 fc1 (nn.Linear [32, 8]) and stage 1 fc1 (conv_mlp [64, 16, 1, 1]) arrive
        // transposed to burn's [in, out]: burn[i][o] = timm[o][i].
        for (stage, c) in [(0usize, 8usize), (1, 16)] {
            let fc1 = &model.encoder.stages[stage].blocks[0].mlp.fc1.weight;
            assert_eq!(fc1.dims(), [c, 4 * c]);
            let got = values(fc1.val());
            let raw = fill(4 * c * c, 0.0);
            let offset = got[0] - raw[0];
            for i in 0..c {
                for o in 0..4 * c {
                    assert!((got[i * 4 * c + o] - (raw[o * c + i] + offset)).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn features_only_names_are_understood() {
        assert_eq!(
            timm_to_scarseg_name("stages_2.blocks.1.mlp.fc2.weight").as_deref(),
            Some("encoder.stages.2.blocks.1.mlp.fc2.weight")
        );
        assert_eq!(
            timm_to_scarseg_name("model.stem_1.bias").as_deref(),
            Some("encoder.stem_norm.beta")
        );
        assert_eq!(timm_to_scarseg_name("head.fc.weight"), None);
    }

    #[test]
    fn a_checkpoint_for_other_widths_is_a_shape_error() {
        let config = ScarSegNetConfig::new([16, 16, 24, 32], [1, 1, 1, 1]);
        let mut model = config.init(&test_device());
        let err = import_timm_convnext(&mut model, &timm_checkpoint()).expect_err("widths differ");
        assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{err:?}");
    }
}
