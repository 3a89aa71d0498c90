//! Where a device's top-k goes wrong: for rows of 256 to 16,384 values in the orderings of
//! [`scarseg_model::device_check::check_row`], the first of a ladder of k (1 to 256) whose
//! result differs from a sort on the CPU, and whether rho = 1/64 is right. Writes `benchmarks/topk_survey.md`.
//!
//! `cargo run --release -p scarseg-model --example topk_survey [wgpu|flex]`

use burn::tensor::{Device, Tensor};
use scarseg_model::device_check::{check_row, reference_topk};
use std::fmt::Write as _;

/// The k tried, smallest first.
const LADDER: [usize; 17] = [
    1, 2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64, 96, 128, 160, 192, 256,
];

fn right(device: &Device, row: &[f32], k: usize) -> Result<bool, String> {
    let n = row.len();
    let x = Tensor::<1>::from_floats(row, device).reshape([1, 1, n]);
    let got = x
        .topk(k, 2)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(got == reference_topk(row, k))
}

fn main() -> Result<(), String> {
    let which = std::env::args().nth(1).unwrap_or_else(|| "wgpu".into());
    let device = match which.as_str() {
        "flex" => Device::flex(),
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        other => return Err(format!("unknown device `{other}`: expected wgpu or flex")),
    };
    let names = [
        "ascending",
        "descending",
        "block at end",
        "ties",
        "scattered",
    ];
    let mut table = format!(
        "# Top-k on `{which}` ({device:?})\n\n`cargo run --release -p scarseg-model --example \
         topk_survey {which}`: the first k of {LADDER:?} whose top-k differs from a sort on \
         the CPU, per row length and ordering; `-` when none does. ASE keeps k = n / 64.\n\n\
         | n | k = n/64 | {} |\n|---|---|{}\n",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    for n in [256usize, 1024, 4096, 16384] {
        let mut cells = Vec::new();
        let mut rho_right = true;
        for (r, _) in names.iter().enumerate() {
            let row = check_row(r, n);
            let mut first = None;
            for k in LADDER.into_iter().filter(|&k| k <= n) {
                if !right(&device, &row, k)? {
                    first = Some(k);
                    break;
                }
            }
            rho_right &= right(&device, &row, (n / 64).max(1))?;
            cells.push(first.map_or("-".to_string(), |k| k.to_string()));
        }
        let rho = if rho_right { "right" } else { "WRONG" };
        let _ = writeln!(table, "| {n} | {} {rho} | {} |", n / 64, cells.join(" | "));
    }
    print!("{table}");
    let path = format!("benchmarks/topk_survey_{which}.md");
    std::fs::write(&path, table).map_err(|e| format!("{path}: {e}"))?;
    eprintln!("wrote {path}");
    Ok(())
}
