//! Writes `docs/phantom-contact-sheet.png`: 16 default phantom cases (seeds 1..=16) with the
//! outlines of their labels: myocardium in green, scar in yellow, MVO in magenta.
//!
//! `cargo run -p scarseg-imaging --example contact_sheet [OUT.png]`

use scarseg_imaging::metrics::Mask;
use scarseg_imaging::phantom::{PhantomConfig, generate, label};
use scarseg_imaging::preprocess::{Geometry, bilinear};

const TILE: usize = 224;
const GRID: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/phantom-contact-sheet.png".to_string());
    let side = TILE * GRID;
    let mut sheet = image::RgbImage::new(side as u32, side as u32);
    for k in 0..GRID * GRID {
        let case = generate(k as u64 + 1, &PhantomConfig::default());
        let s = &case.slices[0];
        let (rows, cols) = (s.image.rows, s.image.cols);
        let mut sorted = s.image.pixels.clone();
        sorted.sort_by(f32::total_cmp);
        let lo = sorted[sorted.len() / 100];
        let hi = sorted[sorted.len() * 995 / 1000];
        let masks = [
            (
                Mask {
                    rows,
                    cols,
                    data: s.labels.iter().map(|l| *l >= label::MYOCARDIUM).collect(),
                },
                [40, 220, 60],
            ),
            (
                Mask {
                    rows,
                    cols,
                    data: s.labels.iter().map(|l| *l >= label::SCAR).collect(),
                },
                [250, 220, 30],
            ),
            (
                Mask {
                    rows,
                    cols,
                    data: s.labels.iter().map(|l| *l == label::MVO).collect(),
                },
                [230, 40, 230],
            ),
        ];
        let mut edge = vec![[0u8; 3]; rows * cols];
        let mut is_edge = vec![false; rows * cols];
        for (mask, colour) in &masks {
            for (r, c) in mask.boundary() {
                edge[r * cols + c] = *colour;
                is_edge[r * cols + c] = true;
            }
        }
        let g = Geometry::fit(rows, cols, TILE);
        let (ox, oy) = ((k % GRID) * TILE, (k / GRID) * TILE);
        for r in 0..TILE {
            for c in 0..TILE {
                if !g.is_content(r, c) {
                    continue;
                }
                let (y, x) = g.model_to_source(r, c);
                let v = bilinear(&s.image.pixels, rows, cols, y, x);
                let grey = (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0) as u8;
                let (i, j) = (
                    (y.round().max(0.0) as usize).min(rows - 1),
                    (x.round().max(0.0) as usize).min(cols - 1),
                );
                let px = if is_edge[i * cols + j] {
                    edge[i * cols + j]
                } else {
                    [grey; 3]
                };
                sheet.put_pixel((ox + c) as u32, (oy + r) as u32, image::Rgb(px));
            }
        }
    }
    sheet.save(&out)?;
    println!("wrote {out}");
    Ok(())
}
