//! `--device` strings to burn devices: `flex` (CPU), `wgpu`, `vulkan`, `cuda[:i[,j...]]`.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// Parses `--device`. Several CUDA indices are accepted by the parser so that the error can say
/// what is missing, but one device trains at a time in this build.
pub fn parse(spec: &str) -> Result<Device> {
    let spec = spec.trim();
    match spec {
        "flex" | "cpu" => Ok(Device::flex()),
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        "vulkan" => vulkan(),
        _ => {
            if let Some(rest) = spec.strip_prefix("cuda") {
                let indices: Vec<usize> = if rest.is_empty() {
                    vec![0]
                } else if let Some(list) = rest.strip_prefix(':') {
                    list.split(',')
                        .map(|i| {
                            i.trim().parse::<usize>().map_err(|_| {
                                anyhow::anyhow!("--device {spec}: `{i}` is not a GPU index")
                            })
                        })
                        .collect::<Result<_>>()?
                } else {
                    bail!("--device {spec}: expected cuda, cuda:0 or cuda:0,1");
                };
                if indices.len() > 1 {
                    bail!(
                        "--device {spec}: data-parallel training over several GPUs is not in this \
                         build; run one process per GPU or see the README's section on scale"
                    );
                }
                cuda(indices[0])
            } else {
                bail!("--device {spec}: expected flex, wgpu, vulkan or cuda[:i]")
            }
        }
    }
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
        assert!(e.contains("expected flex, wgpu, vulkan or cuda"), "{e}");
        let e = parse("cuda:x").expect_err("bad index").to_string();
        assert!(e.contains("`x` is not a GPU index"), "{e}");
        let e = parse("cuda:0,1").expect_err("multi").to_string();
        assert!(e.contains("several GPUs"), "{e}");
    }
}
