//! Parity with the independent PyTorch reference (`tools/reference/`), on committed fixtures.
//!
//! `mini` (reduced widths, weights initialised by timm and the reference) checks that PyTorch
//! weights run in Rust; `atto` (the committed default model, trained in Rust) that our weights run
//! in PyTorch. Every output the reference wrote (both logits, ASE gates and excitations, CAG psi
//! maps, and every term of the three losses) must agree elementwise within 1e-4 + 1e-5 x |reference|
//! in f32 (NumPy's `allclose` form): the absolute part bounds values near zero, the relative part
//! the trained model's logits, which reach tens and carry f32 rounding of a few ulps per layer.
//! `tools/reference/run.sh make_fixtures.py` regenerates the fixtures.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;
use scarseg_model::loss::{LossKind, SegLossConfig, SegTargets};
use scarseg_model::weights::from_safetensors;

const ABSOLUTE_TOLERANCE: f32 = 1e-4;
const RELATIVE_TOLERANCE: f32 = 1e-5;

/// This crate's folder, read when the test runs (cargo sets it), because a test binary reused
/// from a target directory shared with another clone still has that clone's path compiled in.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

fn fixture_dir(name: &str) -> PathBuf {
    manifest_dir().join(format!("tests/fixtures/reference/{name}"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Io {
    bytes: Vec<u8>,
}

impl Io {
    fn get(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let st = SafeTensors::deserialize(&self.bytes).expect("io.safetensors parses");
        let view = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("fixture lacks `{name}`"));
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "`{name}` is f32");
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (view.shape().to_vec(), values)
    }

    fn tensor4(&self, name: &str, device: &Device) -> Tensor<4> {
        let (shape, values) = self.get(name);
        let shape: [usize; 4] = shape.try_into().expect("rank 4");
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn names(&self) -> Vec<String> {
        let st = SafeTensors::deserialize(&self.bytes).expect("io.safetensors parses");
        st.names().into_iter().map(str::to_string).collect()
    }
}

/// Largest absolute difference, with the shapes required equal and every element within
/// `ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * |reference|`.
fn compare(name: &str, ours: Vec<f32>, our_shape: &[usize], io: &Io) -> f32 {
    let (shape, reference) = io.get(name);
    assert_eq!(our_shape, shape.as_slice(), "shape of `{name}`");
    assert_eq!(ours.len(), reference.len());
    assert!(
        ours.iter().all(|v| v.is_finite()),
        "`{name}`: non-finite output"
    );
    let mut worst = 0.0f32;
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        let difference = (a - b).abs();
        let allowed = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * b.abs();
        assert!(
            difference <= allowed,
            "`{name}`[{i}]: {a} against the PyTorch reference's {b}, difference {difference:e} \
             exceeds {ABSOLUTE_TOLERANCE:e} + {RELATIVE_TOLERANCE:e} x |reference| = {allowed:e}"
        );
        worst = worst.max(difference);
    }
    worst
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let dims = t.dims().to_vec();
    (dims, t.into_data().try_to_vec::<f32>().expect("f32"))
}

fn check_fixture(name: &str, weights: &Path) {
    let device = Device::flex();
    let io = Io {
        bytes: read(&fixture_dir(name).join("io.safetensors")),
    };
    let (model, _) = from_safetensors(&read(weights), &device).expect("weights load");
    let x = io.tensor4("input", &device);
    let (logits, diagnostics) = model.forward_with_diagnostics(x).expect("forward");

    let mut checked = Vec::new();
    let mut check = |key: &str, (shape, v): (Vec<usize>, Vec<f32>)| {
        let worst = compare(key, v, &shape, &io);
        checked.push((key.to_string(), worst));
    };
    check("logits.scar", values(logits.scar.clone()));
    check("logits.myocardium", values(logits.myocardium.clone()));
    for (i, trace) in diagnostics.ase.iter().enumerate() {
        check(&format!("ase.{i}.gate"), values(trace.gate.clone()));
        check(
            &format!("ase.{i}.excitation"),
            values(trace.excitation.clone()),
        );
    }
    for (i, psi) in diagnostics.cag_psi.iter().enumerate() {
        check(&format!("cag.{i}.psi"), values(psi.clone()));
    }

    let hard = SegTargets {
        scar: io.tensor4("target.scar", &device),
        myocardium: io.tensor4("target.myocardium", &device),
    };
    let soft = SegTargets {
        scar: io.tensor4("target.soft_scar", &device),
        myocardium: io.tensor4("target.soft_myocardium", &device),
    };
    for (kind, key, targets) in [
        (LossKind::ScarSegNet, "scarsegnet", &hard),
        (LossKind::ScarNet, "scarnet", &hard),
        (LossKind::KlDivergence, "kl", &soft),
    ] {
        let breakdown = SegLossConfig::new().with_kind(kind).loss(&logits, targets);
        let mut terms = breakdown.terms.clone();
        terms.push(("total", breakdown.total.clone()));
        let expected_terms = io
            .names()
            .into_iter()
            .filter(|n| n.starts_with(&format!("loss.{key}.")))
            .count();
        assert_eq!(
            terms.len(),
            expected_terms,
            "{key}: the reference has other terms"
        );
        for (term, value) in terms {
            check(&format!("loss.{key}.{term}"), values(value));
        }
    }
    // Everything the reference wrote as an output was compared.
    let outputs = io
        .names()
        .into_iter()
        .filter(|n| !n.starts_with("input") && !n.starts_with("target."))
        .count();
    assert_eq!(checked.len(), outputs, "every reference output is compared");
    let worst = checked.iter().map(|(_, w)| *w).fold(0.0f32, f32::max);
    println!(
        "{name}: {} outputs within {worst:e} of PyTorch",
        checked.len()
    );
}

#[test]
fn pytorch_initialised_mini_weights_give_the_references_outputs() {
    check_fixture("mini", &fixture_dir("mini").join("weights.safetensors"));
}

#[test]
fn default_model_weights_give_the_references_outputs() {
    let fixture: serde_json::Value =
        serde_json::from_slice(&read(&fixture_dir("atto").join("fixture.json"))).expect("json");
    let weights = repo_root().join(fixture["weights"].as_str().expect("weights path"));
    let digest = fixture["weights_sha256"].as_str().expect("sha256");
    let bytes = read(&weights);
    assert_eq!(
        sha256(&bytes),
        digest,
        "{} changed since the fixture was made: run tools/reference/run.sh make_fixtures.py",
        weights.display()
    );
    check_fixture("atto", &weights);
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
