//! How often the outline checks (`scarseg_imaging::quality`) doubt a model's outlines on phantom
//! slices, which are all short-axis bright-blood LGE and should pass, and on images that hold no
//! heart, or not the heart the model knows, which should not.
//!
//! For the phantom: each slice's ring measures (pieces, cavity as a share of the myocardium, the
//! cavity's contrast with the healthy wall), their distribution, how many slices each check
//! doubts, and the scar Dice of the doubted and the undoubted slices. Then the same slices
//! changed three ways, and how many of each the checks doubt: transposed (still short-axis, with
//! the right ventricle where the phantom never puts it), at a quarter of their contrast (still
//! bright blood), inverted (a dark-blood look, which the model has never seen). Then eight images
//! made here, 96 x 96, that hold no heart: uniform noise, a checkerboard of 8-pixel squares,
//! 4-pixel stripes, one bright pixel on black, a flat grey, a smooth ramp, a bright disc on
//! black, random bright blobs.
//!
//! `cargo run --release -p scarseg-pipeline --example quality [MODEL_DIR] [CASES] [FIRST_SEED]`
//! (default: the bundled model, 100 cases from the first validation seed, 1,000,000,000).

use scarseg_imaging::Slice;
use scarseg_imaging::metrics::{Mask, dice, mean_sd, percentile};
use scarseg_imaging::phantom::{PhantomConfig, generate};
use scarseg_imaging::postprocess::postprocess;
use scarseg_imaging::quality::{Doubt, RingShape, doubts, listed, ring_shape};
use scarseg_pipeline::probabilities;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod support;

/// A slice's ring measures, their doubts, and its (scar, myocardium) masks.
type Checked = (Option<RingShape>, Vec<Doubt>, [Mask; 2]);

/// The masks' ring measures on `slice`, and what they doubt.
fn check(setup: &support::Setup, slice: &Slice) -> Result<Checked, String> {
    let (scar, myo, _) = futures_lite::future::block_on(probabilities(
        &setup.loaded.model,
        &setup.device,
        slice,
        &setup.loaded.manifest.preprocessing,
    ))
    .map_err(|e| e.to_string())?;
    let (scar, myo) = postprocess(
        &scar,
        &myo,
        slice.rows,
        slice.cols,
        &setup.loaded.manifest.postprocessing,
    );
    let shape = ring_shape(&slice.pixels, &scar, &myo);
    let d = doubts(shape.as_ref());
    Ok((shape, d, [scar, myo]))
}

fn made(name: &str, f: impl Fn(usize, usize) -> f32) -> Slice {
    let n = 96;
    let pixels = (0..n * n).map(|i| f(i / n, i % n)).collect();
    Slice::new(n, n, pixels, name)
}

/// The slice with rows and columns swapped.
fn transposed(p: &Slice) -> Slice {
    let mut s = p.clone();
    (s.rows, s.cols) = (p.cols, p.rows);
    s.spacing_mm = [p.spacing_mm[1], p.spacing_mm[0]];
    s.pixels = (0..p.rows * p.cols)
        .map(|i| p.pixels[(i % p.rows) * p.cols + i / p.rows])
        .collect();
    s
}

/// The mask with rows and columns swapped.
fn transposed_mask(m: &Mask) -> Mask {
    Mask::from_fn(m.cols, m.rows, |r, c| m.get(c, r))
}

/// The slice at a quarter of its contrast about its mean.
fn quarter_contrast(p: &Slice) -> Slice {
    let mut s = p.clone();
    let mean = p.pixels.iter().sum::<f32>() / p.pixels.len() as f32;
    s.pixels
        .iter_mut()
        .for_each(|v| *v = mean + (*v - mean) / 4.0);
    s
}

/// The slice with bright and dark swapped within its range.
fn inverted(p: &Slice) -> Slice {
    let mut s = p.clone();
    let (lo, hi) = p
        .pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    s.pixels.iter_mut().for_each(|v| *v = hi + lo - *v);
    s
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = support::setup()?;
    let config = PhantomConfig::default();
    let (mut pieces, mut cavity, mut contrast) = (Vec::new(), Vec::new(), Vec::new());
    let mut by_kind = [0usize; 3];
    let (mut doubted_dice, mut clear_dice) = (Vec::new(), Vec::new());
    let (mut slices, mut without_myo, mut doubted_slices) = (0, 0, 0);
    // Each change of the image, and of its reference masks to match.
    type Change = (&'static str, fn(&Slice) -> Slice, fn(&Mask) -> Mask);
    let same = |m: &Mask| m.clone();
    let changes: [Change; 3] = [
        ("transposed", transposed, transposed_mask),
        ("at a quarter of its contrast", quarter_contrast, same),
        ("inverted (dark blood)", inverted, same),
    ];
    // Per change: slices doubted, slices without myocardium found, and the myocardium Dice of
    // the doubted and of the other slices.
    let mut changed = [[0usize; 2]; 3];
    let mut changed_dice = [
        [Vec::new(), Vec::new()],
        [Vec::new(), Vec::new()],
        [Vec::new(), Vec::new()],
    ];
    for seed in setup.first_seed..setup.first_seed + setup.cases {
        let case = generate(seed, &config);
        for s in &case.slices {
            slices += 1;
            for (((_, image, mask), counts), dices) in changes
                .iter()
                .zip(changed.iter_mut())
                .zip(changed_dice.iter_mut())
            {
                let (shape, d, [_, myo]) = check(&setup, &image(&s.image))?;
                counts[0] += usize::from(!d.is_empty());
                counts[1] += usize::from(shape.is_none());
                dices[usize::from(d.is_empty())].push(dice(&myo, &mask(&s.myocardium())));
            }
            let (shape, d, [scar, _]) = check(&setup, &s.image)?;
            let Some(shape) = shape else {
                without_myo += 1;
                continue;
            };
            pieces.push(shape.pieces as f64);
            cavity.push(shape.cavity_px as f64 / shape.myocardium_px as f64);
            if let Some(c) = shape.cavity_contrast {
                contrast.push(c);
            }
            for x in &d {
                by_kind[match x {
                    Doubt::Pieces(_) => 0,
                    Doubt::Open => 1,
                    Doubt::DarkCavity(_) => 2,
                }] += 1;
            }
            let reference = s.scar();
            if reference.area_px() > 0 {
                let v = dice(&scar, &reference);
                if d.is_empty() {
                    &mut clear_dice
                } else {
                    &mut doubted_dice
                }
                .push(v);
            }
            if !d.is_empty() {
                doubted_slices += 1;
                println!("doubted: seed {seed} {}: {}", s.image.source, listed(&d));
            }
        }
    }
    let q = |v: &[f64], p: f64| percentile(v, p).unwrap_or(f64::NAN);
    println!(
        "\nModel {}, {} phantom cases from seed {} ({slices} slices, {without_myo} without \
         myocardium found)\n",
        setup.dir.display(),
        setup.cases,
        setup.first_seed
    );
    println!("| measure | min | 1st pct | 5th pct | median | max |\n|---|---|---|---|---|---|");
    for (name, v) in [
        ("pieces", &pieces),
        ("cavity / myocardium px", &cavity),
        ("cavity contrast", &contrast),
    ] {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            q(v, 0.0),
            q(v, 1.0),
            q(v, 5.0),
            q(v, 50.0),
            q(v, 100.0)
        );
    }
    let doubted = doubted_dice.len();
    println!(
        "\nslices doubted: {doubted_slices} of {slices} (pieces {}, open {}, dark cavity {}); slices \
         with scar doubted {doubted} (scar Dice {:.3}) against not doubted {} (scar Dice {:.3})\n",
        by_kind[0],
        by_kind[1],
        by_kind[2],
        mean_sd(&doubted_dice).map_or(f64::NAN, |m| m.0),
        clear_dice.len(),
        mean_sd(&clear_dice).map_or(f64::NAN, |m| m.0),
    );
    println!(
        "| the same slices | doubted | no myocardium found | myocardium Dice, doubted | the \
         others |\n|---|---|---|---|---|"
    );
    let mean = |v: &[f64]| mean_sd(v).map_or("-".into(), |m| format!("{:.3}", m.0));
    for (((name, _, _), [d, none]), [doubted, others]) in
        changes.iter().zip(changed).zip(&changed_dice)
    {
        println!(
            "| {name} | {d} of {slices} | {none} | {} | {} |",
            mean(doubted),
            mean(others)
        );
    }
    // A fixed seed: the made images are the same every run.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let noise: Vec<f32> = (0..96 * 96).map(|_| rng.random_range(0.0..255.0)).collect();
    let blobs: Vec<(f32, f32, f32)> = (0..6)
        .map(|_| {
            (
                rng.random_range(10.0..86.0),
                rng.random_range(10.0..86.0),
                rng.random_range(4.0..12.0),
            )
        })
        .collect();
    let images = [
        made("uniform noise", |r, c| noise[r * 96 + c]),
        made("checkerboard 8 px", |r, c| {
            if (r / 8 + c / 8) % 2 == 0 { 255.0 } else { 0.0 }
        }),
        made(
            "stripes 4 px",
            |_, c| if (c / 4) % 2 == 0 { 255.0 } else { 0.0 },
        ),
        made("one bright pixel", |r, c| {
            if (r, c) == (48, 48) { 255.0 } else { 0.0 }
        }),
        made("flat grey", |_, _| 128.0),
        made("ramp", |r, c| (r + c) as f32),
        made("bright disc", |r, c| {
            let d = ((r as f32 - 48.0).powi(2) + (c as f32 - 48.0).powi(2)).sqrt();
            if d < 20.0 { 255.0 } else { 0.0 }
        }),
        made("bright blobs", |r, c| {
            let inside = blobs
                .iter()
                .any(|(y, x, rad)| (r as f32 - y).powi(2) + (c as f32 - x).powi(2) < rad * rad);
            if inside { 255.0 } else { 20.0 }
        }),
    ];
    println!("\n| image | myocardium px | pieces | cavity px | cavity contrast | doubts |");
    println!("|---|---|---|---|---|---|");
    for image in &images {
        let (shape, d, _) = check(&setup, image)?;
        match shape {
            Some(s) => println!(
                "| {} | {} | {} | {} | {} | {} |",
                image.source,
                s.myocardium_px,
                s.pieces,
                s.cavity_px,
                s.cavity_contrast.map_or("-".into(), |c| format!("{c:+.3}")),
                if d.is_empty() {
                    "none".into()
                } else {
                    listed(&d)
                }
            ),
            None => println!("| {} | 0 | | | | no myocardium found |", image.source),
        }
    }
    Ok(())
}
