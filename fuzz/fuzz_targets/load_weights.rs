//! Weights files as the browser's "Open your own weights" and `--weights` receive them: a small
//! valid export, edited by the input (byte overwrites, then a cut), loaded on the CPU. Edits of
//! a valid file reach the header's JSON, the config in its metadata, tensor shapes, dtypes and
//! offsets, which random bytes alone would not.
#![no_main]
use std::sync::OnceLock;

use burn::tensor::Device;
use libfuzzer_sys::fuzz_target;
use scarseg_model::ScarSegNetConfig;
use scarseg_model::weights::{Precision, from_safetensors, to_safetensors};

fn valid() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let config = ScarSegNetConfig::new([8, 8, 8, 8], [1, 1, 1, 1]);
        let model = config.init(&Device::flex());
        to_safetensors(&model, &config, Precision::F16).expect("a valid export")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut file = valid().to_vec();
    // Each 3-byte group writes one byte: 2 bytes of position (scaled to the header, which is
    // where the structure is, or to the whole file), 1 of value.
    let mut groups = data.chunks_exact(3);
    for g in &mut groups {
        let pos = u16::from_le_bytes([g[0], g[1]]) as usize;
        let at = if pos % 2 == 0 { (pos / 2) % 4096.min(file.len()) } else { pos % file.len() };
        file[at] = g[2];
    }
    // A leftover byte cuts the file.
    if let [cut] = groups.remainder() {
        let keep = file.len() * (*cut as usize) / 255;
        file.truncate(keep);
    }
    let _ = from_safetensors(&file, &Device::flex());
});
