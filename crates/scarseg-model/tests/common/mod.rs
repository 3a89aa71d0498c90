//! Helpers shared by the integration tests.

/// Whether a Vulkan driver (in CI, Mesa's lavapipe) is installed for `wgpu` to find. The tests
/// that need one assert it rather than skip, so a missing driver fails loudly.
pub fn vulkan_driver_present() -> bool {
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .any(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
}
