//! Manifests as "Open your own weights" and `--weights` receive them: the bundled model's
//! `manifest.json`, edited by the input (byte overwrites, then a cut), parsed and checked; one
//! that passes must also give the device check's problem list (the first thing computed from
//! its architecture and size at load) without overflow or panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scarseg_model::device_check::ase_topk_problems;
use scarseg_pipeline::manifest::parse_manifest;

const VALID: &[u8] = include_bytes!("../../public/models/scarseg-atto-phantom/manifest.json");

fuzz_target!(|data: &[u8]| {
    let mut file = VALID.to_vec();
    // Each 3-byte group writes one byte: 2 bytes of position, 1 of value.
    let mut groups = data.chunks_exact(3);
    for g in &mut groups {
        let at = u16::from_le_bytes([g[0], g[1]]) as usize % file.len();
        file[at] = g[2];
    }
    // A leftover byte cuts the file.
    if let [cut] = groups.remainder() {
        let keep = file.len() * (*cut as usize) / 255;
        file.truncate(keep);
    }
    if let Ok(manifest) = parse_manifest(&file) {
        let size = manifest.preprocessing.size;
        for batch in [1, 2] {
            let _ = ase_topk_problems(&manifest.architecture, batch, size, size);
        }
    }
});
