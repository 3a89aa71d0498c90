//! Helpers shared by the integration tests.

use burn::tensor::{Device, DeviceKind};
use scarseg_model::weights::{Precision, from_safetensors, to_safetensors};
use scarseg_model::{ScarSegNet, ScarSegNetConfig};

/// The default `wgpu` device, after checking that a Vulkan driver (in CI, Mesa's lavapipe) is
/// installed for it to find. Tests that need one fail loudly without it rather than skip.
pub fn wgpu_device() -> Device {
    let present = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .any(|entry| entry.file_name().to_string_lossy().ends_with(".json"));
    assert!(
        present,
        "no Vulkan driver found (no ICD json in /usr/share/vulkan/icd.d): install \
         mesa-vulkan-drivers for the lavapipe software adapter; this test does not skip"
    );
    Device::wgpu(DeviceKind::DefaultDevice)
}

/// The same weights on another device, through the safetensors bytes the app ships.
pub fn copy_to(model: &ScarSegNet, config: &ScarSegNetConfig, device: &Device) -> ScarSegNet {
    let bytes = to_safetensors(model, config, Precision::F32).expect("save");
    from_safetensors(&bytes, device).expect("load").0
}
