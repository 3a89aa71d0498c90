//! Weights as safetensors bytes, in full or half precision, with the model config stored in the
//! file's metadata so that loading rebuilds the model the weights were made for.
//!
//! Bytes in, bytes out: the crate does no file I/O, so the browser uses the same loader.
//! BatchNorm statistics stay in f32 in half-precision files (running variances underflow in f16).

use burn::store::{
    ApplyError, ApplyResult, HalfPrecisionAdapter, ModuleSnapshot, SafetensorsStore,
};
use burn::tensor::Device;
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};

use crate::config::ScarSegNetConfig;
use crate::cost::parameter_count;
use crate::error::ModelError;
use crate::model::ScarSegNet;

/// Metadata key under which the architecture config is stored as JSON.
pub const CONFIG_METADATA_KEY: &str = "scarseg_config";

/// Storage precision of floating-point weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats: exact.
    F32,
    /// 16-bit floats for every conv, linear and layer-norm tensor (half the download).
    F16,
}

/// Serialises `model` (built from `config`) to safetensors bytes.
pub fn to_safetensors(
    model: &ScarSegNet,
    config: &ScarSegNetConfig,
    precision: Precision,
) -> Result<Vec<u8>, ModelError> {
    let mut store =
        SafetensorsStore::from_bytes(None).metadata(CONFIG_METADATA_KEY, config.to_json());
    if precision == Precision::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    model
        .save_into(&mut store)
        .map_err(|e| ModelError::Store(e.to_string()))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| ModelError::Store(e.to_string()))?;
    canonical_header(bytes)
}

/// Rewrites the safetensors header with every JSON object's keys in sorted order. The store
/// writes its metadata from a hash map, so two exports of the same weights differed in the
/// order of the metadata entries, and so in their sha256, which the manifest records; sorted,
/// the same weights always give the same file. The header keeps its length (same entries,
/// another order), so the tensor data and its offsets are untouched.
fn canonical_header(mut bytes: Vec<u8>) -> Result<Vec<u8>, ModelError> {
    use std::collections::BTreeMap;
    /// Rebuilds every object from a key-sorted iterator: serde_json's map then holds the keys in
    /// order whether it is sorted itself or keeps insertion order (`preserve_order`).
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
            ),
            other => other,
        }
    }
    let store = |e: String| ModelError::Store(format!("safetensors header: {e}"));
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)
        .ok_or_else(|| store("shorter than 8 bytes".into()))?;
    let header = bytes
        .get(8..8 + len)
        .ok_or_else(|| store(format!("declares {len} bytes")))?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| store(e.to_string()))?;
    if !value.is_object() {
        return Err(store("not a JSON object".into()));
    }
    let mut text = serde_json::to_vec(&sorted(value)).map_err(|e| store(e.to_string()))?;
    if text.len() > len {
        return Err(store(format!("{} bytes rewritten as {}", len, text.len())));
    }
    text.resize(len, b' '); // safetensors pads its header with spaces
    bytes[8..8 + len].copy_from_slice(&text);
    Ok(bytes)
}

/// Reads the architecture config stored in safetensors `bytes`.
pub fn config_from_safetensors(bytes: &[u8]) -> Result<ScarSegNetConfig, ModelError> {
    let (_, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CONFIG_METADATA_KEY))
        .ok_or_else(|| {
            ModelError::WeightsConfig(format!("no `{CONFIG_METADATA_KEY}` entry in the metadata"))
        })?;
    ScarSegNetConfig::from_json(json)
}

/// Refuses a file that holds fewer values than `config` has parameters, before the network is
/// built: the config comes from the file, and a few bytes could otherwise name a network too
/// large for memory.
fn check_fits(bytes: &[u8], config: &ScarSegNetConfig) -> Result<(), ModelError> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let found = header
        .tensors()
        .values()
        .map(|info| {
            info.shape
                .iter()
                .fold(1u64, |n, &d| n.saturating_mul(d as u64))
        })
        .fold(0u64, u64::saturating_add);
    let needed = parameter_count(config);
    if found < needed {
        return Err(ModelError::TooFewValues { needed, found });
    }
    Ok(())
}

/// Rebuilds the model from the config inside `bytes` and loads its weights on `device`.
pub fn from_safetensors(
    bytes: &[u8],
    device: &Device,
) -> Result<(ScarSegNet, ScarSegNetConfig), ModelError> {
    let config = config_from_safetensors(bytes)?;
    check_fits(bytes, &config)?;
    let model = load_into(config.init(device), bytes)?;
    Ok((model, config))
}

/// Loads weights that must have been made for `expected` (for example the config a manifest
/// names); any other config is [`ModelError::ConfigMismatch`].
pub fn from_safetensors_expecting(
    bytes: &[u8],
    expected: &ScarSegNetConfig,
    device: &Device,
) -> Result<ScarSegNet, ModelError> {
    let found = config_from_safetensors(bytes)?;
    if &found != expected {
        return Err(ModelError::ConfigMismatch {
            expected: expected.to_json(),
            found: found.to_json(),
        });
    }
    check_fits(bytes, expected)?;
    load_into(expected.init(device), bytes)
}

/// Applies every tensor in `bytes` to `model`; every tensor must match by name and shape.
pub fn load_into(mut model: ScarSegNet, bytes: &[u8]) -> Result<ScarSegNet, ModelError> {
    // Validate the container before handing it to the store, whose errors are less specific.
    let parsed =
        SafeTensors::deserialize(bytes).map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let half = parsed
        .tensors()
        .iter()
        .any(|(_, view)| view.dtype() == safetensors::Dtype::F16);
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()))
        .validate(false)
        .allow_partial(true);
    // The adapter casts in whichever direction the stored dtype suggests, so it may only see
    // half-precision files: on f32 files it would cast to f16.
    if half {
        store = store.with_from_adapter(HalfPrecisionAdapter::new());
    }
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    check_apply(&result, true)?;
    Ok(model)
}

/// The element-wise mean of several checkpoints of one architecture (a "weight soup"): every
/// tensor, batch-norm running statistics included, averaged with equal weights in f64 and
/// stored in f32, with the first file's metadata. Fine-tunes of one parent at a low rate lie in
/// one basin, so their mean averages out each run's gradient noise. Inputs may mix f32, f16 and
/// bf16; every file must carry the same config, tensor names and shapes.
pub fn mean_of_checkpoints(files: &[&[u8]]) -> Result<Vec<u8>, ModelError> {
    use std::collections::BTreeMap;
    let Some(first) = files.first() else {
        return Err(ModelError::Store("no checkpoints to average".into()));
    };
    let config = config_from_safetensors(first)?;
    let (_, header) =
        SafeTensors::read_metadata(first).map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
    let metadata = header.metadata().clone();
    let mut sums: BTreeMap<String, (Vec<usize>, Vec<f64>)> = BTreeMap::new();
    for (i, bytes) in files.iter().enumerate() {
        let found = config_from_safetensors(bytes)?;
        if found != config {
            return Err(ModelError::ConfigMismatch {
                expected: config.to_json(),
                found: found.to_json(),
            });
        }
        let parsed = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::WeightsFormat(e.to_string()))?;
        if i > 0 && parsed.len() != sums.len() {
            return Err(ModelError::Store(format!(
                "checkpoint {} holds {} tensors, the first {}",
                i + 1,
                parsed.len(),
                sums.len()
            )));
        }
        for (name, view) in parsed.tensors() {
            // Every f16 and f32 value is exact in f32, and in f64.
            let values: Vec<f64> = to_f32(&view, &name)?.into_iter().map(f64::from).collect();
            match sums.get_mut(&name) {
                None if i == 0 => {
                    sums.insert(name, (view.shape().to_vec(), values));
                }
                None => {
                    return Err(ModelError::UnexpectedTensors {
                        count: 1,
                        first: name,
                    });
                }
                Some((shape, _)) if shape.as_slice() != view.shape() => {
                    return Err(ModelError::ShapeMismatch {
                        name,
                        expected: shape.clone(),
                        found: view.shape().to_vec(),
                    });
                }
                Some((_, sum)) => sum.iter_mut().zip(values).for_each(|(s, v)| *s += v),
            }
        }
    }
    let n = files.len() as f64;
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = sums
        .into_iter()
        .map(|(name, (shape, sum))| {
            let bytes = sum
                .iter()
                .flat_map(|s| ((s / n) as f32).to_le_bytes())
                .collect();
            (name, shape, bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(data.len());
    for (name, shape, bytes) in &data {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| ModelError::Store(format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let bytes =
        safetensors::serialize(views, metadata).map_err(|e| ModelError::Store(e.to_string()))?;
    canonical_header(bytes)
}

/// A stored tensor's values in f32, from f32, f16 or bf16 (the dtypes our exports and timm's
/// checkpoints use), for the importer and the checkpoint mean.
pub(crate) fn to_f32(view: &TensorView<'_>, name: &str) -> Result<Vec<f32>, ModelError> {
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(ModelError::WeightsFormat(format!(
                "tensor `{name}` has dtype {other:?}; only F32, F16 and BF16 can be read"
            )));
        }
    };
    Ok(values)
}

/// Turns burn-store's apply report into our typed errors. With `complete`, every model tensor must
/// have been supplied; unexpected tensors are always an error.
pub(crate) fn check_apply(result: &ApplyResult, complete: bool) -> Result<(), ModelError> {
    if let Some(error) = result.errors.first() {
        return Err(match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => ModelError::ShapeMismatch {
                name: path.clone(),
                expected: expected.to_vec(),
                found: found.to_vec(),
            },
            other => ModelError::Store(format!("{other:?}")),
        });
    }
    if complete && let Some((first, _)) = result.missing.first() {
        return Err(ModelError::MissingTensors {
            count: result.missing.len(),
            first: first.clone(),
        });
    }
    if let Some(first) = result.unused.first() {
        return Err(ModelError::UnexpectedTensors {
            count: result.unused.len(),
            first: first.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;
    use crate::{test_device, values};
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn the_same_weights_always_give_the_same_file() {
        // The metadata has four entries: with a hash map's order, ten exports would almost
        // surely not all agree.
        let device = test_device();
        let config = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let model = config.init(&device);
        let first = to_safetensors(&model, &config, Precision::F16).expect("export");
        for _ in 0..10 {
            assert!(to_safetensors(&model, &config, Precision::F16).expect("export") == first);
        }
        let (metadata_len, metadata) = SafeTensors::read_metadata(&first).expect("valid file");
        assert_eq!(
            metadata_len,
            u64::from_le_bytes(first[..8].try_into().expect("8 bytes")) as usize
        );
        let keys: Vec<_> = metadata
            .metadata()
            .as_ref()
            .expect("metadata")
            .keys()
            .cloned()
            .collect();
        assert!(keys.contains(&CONFIG_METADATA_KEY.to_string()), "{keys:?}");
        // And the file still loads.
        from_safetensors(&first, &device).expect("loads");
    }

    fn small() -> ScarSegNetConfig {
        ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 2, 1])
    }

    fn logits(model: &ScarSegNet, x: Tensor<4>) -> Vec<f32> {
        let out = model.forward(x).expect("valid input");
        let mut v = values(out.scar);
        v.extend(values(out.myocardium));
        v
    }

    #[test]
    fn f32_round_trip_gives_identical_logits() {
        let device = test_device();
        let config = small();
        let model = config.init(&device);
        let x = Tensor::<4>::random([1, 1, 64, 64], Distribution::Default, &device);
        let bytes = to_safetensors(&model, &config, Precision::F32).expect("save");
        let (loaded, loaded_config) = from_safetensors(&bytes, &device).expect("load");
        assert_eq!(loaded_config, config);
        assert_eq!(logits(&model, x.clone()), logits(&loaded, x));
    }

    #[test]
    fn f16_round_trip_is_within_half_precision_tolerance_and_half_the_size() {
        let device = test_device();
        let config = ScarSegNetConfig::variant(Variant::Atto);
        let model = config.init(&device);
        let x = Tensor::<4>::random([1, 1, 64, 64], Distribution::Default, &device);
        let full = to_safetensors(&model, &config, Precision::F32).expect("save f32");
        let half = to_safetensors(&model, &config, Precision::F16).expect("save f16");
        assert!(
            half.len() < full.len() * 55 / 100,
            "{} vs {}",
            half.len(),
            full.len()
        );
        let loaded = from_safetensors_expecting(&half, &config, &device).expect("load f16");
        let (a, b) = (logits(&model, x.clone()), logits(&loaded, x));
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        // f16 keeps 11 significant bits (relative error 4.9e-4 per weight).
        assert!(
            worst <= 1e-2 * scale.max(1.0),
            "max abs diff {worst}, logit scale {scale}"
        );
    }

    #[test]
    fn weights_for_another_config_are_named() {
        let device = test_device();
        let config = small();
        let bytes = to_safetensors(&config.init(&device), &config, Precision::F32).expect("save");
        let other = ScarSegNetConfig::new([8, 16, 24, 40], [1, 1, 2, 1]);
        match from_safetensors_expecting(&bytes, &other, &device) {
            Err(ModelError::ConfigMismatch { expected, found }) => {
                assert!(expected.contains("40") && found.contains("32"));
            }
            other => panic!("expected ConfigMismatch, got {other:?}"),
        }
        // Forcing the bytes into the other model names the first tensor whose shape differs.
        match load_into(other.init(&device), &bytes) {
            Err(ModelError::ShapeMismatch {
                name,
                expected,
                found,
            }) => {
                assert!(!name.is_empty());
                assert_ne!(expected, found);
            }
            other => panic!("expected ShapeMismatch, got {other:?}"),
        }
    }

    #[test]
    fn truncated_and_foreign_files_are_format_errors() {
        let device = test_device();
        let config = small();
        let bytes = to_safetensors(&config.init(&device), &config, Precision::F32).expect("save");
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(
            from_safetensors(truncated, &device),
            Err(ModelError::WeightsFormat(_))
        ));
        assert!(matches!(
            from_safetensors(b"\x89PNG\r\n\x1a\n not weights", &device),
            Err(ModelError::WeightsFormat(_))
        ));
        assert!(matches!(
            from_safetensors(&[], &device),
            Err(ModelError::WeightsFormat(_))
        ));
    }

    #[test]
    fn a_file_without_our_config_is_named_as_such() {
        let data = 1f32.to_le_bytes();
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data)
            .expect("view");
        let bytes = safetensors::serialize([("x", view)], None).expect("serialize");
        assert!(matches!(
            from_safetensors(&bytes, &test_device()),
            Err(ModelError::WeightsConfig(_))
        ));
    }

    /// A one-value safetensors file whose metadata names `config`.
    fn one_value_file(config_json: &str) -> Vec<u8> {
        let data = 1f32.to_le_bytes();
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data)
            .expect("view");
        let metadata = std::collections::HashMap::from([(
            CONFIG_METADATA_KEY.to_string(),
            config_json.to_string(),
        )]);
        safetensors::serialize([("x", view)], Some(metadata)).expect("serialize")
    }

    #[test]
    fn a_small_file_naming_a_huge_network_is_refused_before_it_is_built() {
        // 4 x 64 blocks of width 4096: over 10^10 parameters, some 40 GB in f32. Were the
        // network built before the check, this test would exhaust memory.
        let mut huge = ScarSegNetConfig::variant(Variant::Base);
        huge.dims = [4096; 4];
        huge.depths = [64; 4];
        let bytes = one_value_file(&huge.to_json());
        let device = test_device();
        match from_safetensors(&bytes, &device) {
            Err(ModelError::TooFewValues { needed, found }) => {
                assert_eq!(found, 1);
                // Each block alone has 8 * 4096^2 weights in its two 1x1 convs.
                assert!(needed > 4 * 64 * 8 * 4096 * 4096, "{needed}");
            }
            other => panic!("expected TooFewValues, got {:?}", other.map(|(_, c)| c)),
        }
        assert!(matches!(
            from_safetensors_expecting(&bytes, &huge, &device),
            Err(ModelError::TooFewValues { found: 1, .. })
        ));
        // A config the network cannot be built from is named, not built.
        let mut zero = small();
        zero.dims[1] = 0;
        let bytes = one_value_file(&zero.to_json());
        let err = from_safetensors(&bytes, &device)
            .map(|(_, c)| c)
            .expect_err("zero");
        assert_eq!(err.to_string(), "config: dims[1] is 0, expected 1-4096");
    }

    #[test]
    fn the_mean_of_checkpoints_is_the_mean_of_every_tensor() {
        let device = test_device();
        let config = small();
        let a = to_safetensors(&config.init(&device), &config, Precision::F32).expect("save");
        let b = to_safetensors(&config.init(&device), &config, Precision::F16).expect("save");
        let mean = mean_of_checkpoints(&[&a, &b]).expect("mean");
        let (pa, pb, pm) = (
            SafeTensors::deserialize(&a).expect("a"),
            SafeTensors::deserialize(&b).expect("b"),
            SafeTensors::deserialize(&mean).expect("mean"),
        );
        assert_eq!(pm.len(), pa.len());
        let f32s = |d: &[u8]| -> Vec<f32> {
            d.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let mut checked = 0;
        for (name, view) in pm.tensors() {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let ta = pa.tensor(&name).expect("in a");
            let tb = pb.tensor(&name).expect("in b");
            let xa = f32s(ta.data());
            // b is stored in half precision except for the batch-norm statistics.
            let xb: Vec<f32> = match tb.dtype() {
                safetensors::Dtype::F16 => tb
                    .data()
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                _ => f32s(tb.data()),
            };
            for ((m, x), y) in f32s(view.data()).iter().zip(&xa).zip(&xb) {
                assert!(
                    (m - (x + y) / 2.0).abs() <= 1e-7 * (x.abs() + y.abs()),
                    "{name}: {m} {x} {y}"
                );
                checked += 1;
            }
        }
        assert!(checked > 1000);
        // Independent initialisations differ, so the mean is neither input.
        let (ma, _) = from_safetensors(&mean, &device).expect("the mean loads");
        let x = Tensor::<4>::random([1, 1, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let (a_model, _) = from_safetensors(&a, &device).expect("a loads");
        assert_ne!(logits(&ma, x.clone()), logits(&a_model, x));
        // The mean of one checkpoint is that checkpoint, tensor for tensor.
        let one = mean_of_checkpoints(&[&a]).expect("one");
        let one = SafeTensors::deserialize(&one).expect("one");
        for (name, view) in pa.tensors() {
            assert_eq!(
                one.tensor(&name).expect("kept").data(),
                view.data(),
                "{name}"
            );
        }
    }

    #[test]
    fn checkpoints_of_other_architectures_are_not_averaged() {
        let device = test_device();
        let config = small();
        let other = ScarSegNetConfig::new([8, 16, 24, 32], [1, 1, 1, 1]);
        let a = to_safetensors(&config.init(&device), &config, Precision::F32).expect("save");
        let b = to_safetensors(&other.init(&device), &other, Precision::F32).expect("save");
        assert!(matches!(
            mean_of_checkpoints(&[&a, &b]),
            Err(ModelError::ConfigMismatch { .. })
        ));
        assert!(matches!(
            mean_of_checkpoints(&[&a, b"not weights"]),
            Err(ModelError::WeightsFormat(_))
        ));
        assert!(mean_of_checkpoints(&[]).is_err());
    }
}
