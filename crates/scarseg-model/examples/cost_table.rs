//! Prints the parameter and FLOP table of every variant at 256x256 (the one in `cost`'s docs).
//!
//! `cargo run -p scarseg-model --example cost_table`

use scarseg_model::cost::{forward_flops, parameter_count};
use scarseg_model::{ScarSegNetConfig, Variant};

fn main() {
    println!("| variant | parameters | forward GFLOPs at 256x256 |");
    println!("|---|---|---|");
    for variant in Variant::ALL {
        let config = ScarSegNetConfig::variant(variant);
        println!(
            "| {} | {} | {:.2} |",
            variant.name(),
            parameter_count(&config),
            forward_flops(&config, 256, 256) as f64 / 1e9
        );
    }
}
