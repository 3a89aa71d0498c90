//! `--device` strings to burn devices: `flex` (CPU), `wgpu[:i[,j...]]`, `vulkan`,
//! `cuda[:i[,j...]]`, `libtorch` (CPU through libtorch, with the `tch` feature).

use anyhow::{Result, bail};
use burn::tensor::Device;

/// Parses a one-device `--device` (inference: `eval`, `predict`).
pub fn parse(spec: &str) -> Result<Device> {
    if spec.contains(',') {
        bail!(
            "--device {}: several devices are for `scarseg train` (data-parallel); give one here",
            spec.trim()
        );
    }
    let mut devices = parse_many(spec)?;
    Ok(devices.remove(0))
}

/// Parses `--device` for training: `cuda:0,1,...` or `wgpu:0,1,...` (discrete GPUs by index)
/// gives several devices, which train data-parallel; every other spelling gives one.
pub fn parse_many(spec: &str) -> Result<Vec<Device>> {
    let spec = spec.trim();
    match spec {
        "flex" | "cpu" => Ok(vec![Device::flex()]),
        "wgpu" => Ok(vec![Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)]),
        "vulkan" => vulkan().map(|d| vec![d]),
        "libtorch" => libtorch().map(|d| vec![d]),
        _ => {
            if let Some(rest) = spec.strip_prefix("cuda") {
                gpu_indices(spec, rest, "cuda")?
                    .into_iter()
                    .map(cuda)
                    .collect()
            } else if let Some(rest) = spec.strip_prefix("wgpu") {
                Ok(gpu_indices(spec, rest, "wgpu")?
                    .into_iter()
                    .map(|i| Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(i)))
                    .collect())
            } else {
                bail!("--device {spec}: expected flex, wgpu[:i], vulkan, cuda[:i] or libtorch")
            }
        }
    }
}

/// The GPU indices after `cuda` or `wgpu`: `` (GPU 0), `:i` or `:i,j,...`, each once.
fn gpu_indices(spec: &str, rest: &str, api: &str) -> Result<Vec<usize>> {
    let indices: Vec<usize> = if rest.is_empty() {
        vec![0]
    } else if let Some(list) = rest.strip_prefix(':') {
        list.split(',')
            .map(|i| {
                i.trim()
                    .parse::<usize>()
                    .map_err(|_| anyhow::anyhow!("--device {spec}: `{i}` is not a GPU index"))
            })
            .collect::<Result<_>>()?
    } else {
        bail!("--device {spec}: expected {api}, {api}:0 or {api}:0,1");
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = indices.iter().find(|i| !seen.insert(**i)) {
        bail!("--device {spec}: GPU {twice} is listed twice");
    }
    Ok(indices)
}

#[cfg(feature = "vulkan")]
fn vulkan() -> Result<Device> {
    Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "vulkan"))]
fn vulkan() -> Result<Device> {
    bail!(
        "--device vulkan: this scarseg was built without the `vulkan` feature; use --device wgpu \
         (Vulkan on Linux) or rebuild with --features vulkan"
    )
}

// burn marks its libtorch backend deprecated; it stays the fastest CPU trainer on machines that
// cannot build cubecl's CPU backend (benchmarks/libtorch.md), so it is an opt-in feature.
#[cfg(feature = "tch")]
#[allow(deprecated)]
fn libtorch() -> Result<Device> {
    Ok(Device::libtorch())
}

#[cfg(not(feature = "tch"))]
fn libtorch() -> Result<Device> {
    bail!(
        "--device libtorch: this scarseg was built without the `tch` feature; rebuild with \
         --features tch (README, \"Training at scale\")"
    )
}

#[cfg(feature = "cuda")]
fn cuda(index: usize) -> Result<Device> {
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_index: usize) -> Result<Device> {
    bail!(
        "--device cuda: this scarseg was built without the `cuda` feature; rebuild with --features cuda"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_are_checked() {
        assert!(parse("flex").is_ok());
        let e = parse("tpu").expect_err("unknown").to_string();
        assert!(
            e.contains("expected flex, wgpu[:i], vulkan, cuda[:i] or libtorch"),
            "{e}"
        );
        let e = parse("cuda:x").expect_err("bad index").to_string();
        assert!(e.contains("`x` is not a GPU index"), "{e}");
        let e = parse("cuda:0,1").expect_err("multi").to_string();
        assert!(e.contains("several devices are for `scarseg train`"), "{e}");
        let e = parse_many("cuda:0,0").expect_err("twice").to_string();
        assert!(e.contains("GPU 0 is listed twice"), "{e}");
        assert_eq!(parse_many("flex").expect("one").len(), 1);
        // wgpu:i picks discrete GPU i; a list gives one device per GPU, in order.
        let two = parse_many("wgpu:1, 0").expect("two wgpu GPUs");
        assert_eq!(
            two,
            vec![
                Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(1)),
                Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(0))
            ]
        );
        let e = parse_many("wgpu:0,0").expect_err("twice").to_string();
        assert!(e.contains("GPU 0 is listed twice"), "{e}");
        let e = parse("wgpux").expect_err("bad spelling").to_string();
        assert!(e.contains("expected wgpu, wgpu:0 or wgpu:0,1"), "{e}");
        #[cfg(not(feature = "tch"))]
        {
            let e = parse("libtorch").expect_err("not built in").to_string();
            assert!(e.contains("rebuild with --features tch"), "{e}");
        }
        #[cfg(feature = "tch")]
        assert!(parse("libtorch").is_ok());
    }
}
