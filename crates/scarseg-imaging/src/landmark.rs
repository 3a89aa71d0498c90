//! The anterior RV insertion suggested from the image, for the AHA segments: the network draws
//! no right ventricle, but its blood pool lies against the septum, as bright as the left
//! ventricle's. Around the wall's centre, the directions where a band just outside the
//! epicardium is mostly as bright as the LV blood pool make an arc facing the RV; the AHA's
//! septum (anteroseptal and inferoseptal segments, 120 degrees) is centred on it, so the anterior
//! insertion lies 60 degrees from the arc's middle, on the side nearer 12 o'clock (anterior is
//! up in a short-axis view), which also tells which way the septum runs. A suggestion for the
//! user to check, never a measurement: fat and neighbouring vessels can be as bright as blood.

use crate::metrics::{Mask, clock_angle_deg, median, wall_centre_mm};

/// Directions examined around the wall's centre (5 degrees each).
pub const DIRECTIONS: usize = 72;
/// The band outside the epicardium that is examined, mm beyond it: past a thin septal gap or
/// pericardial fat, within a right ventricle's depth.
pub const BAND_MM: (f64, f64) = (3.0, 15.0);
/// How far from the wall's intensity towards the blood pool's a direction's band must lie (its
/// median) to count as blood: 0 is the wall, 1 the LV's blood.
const BLOOD_CONTRAST: f32 = 0.8;
/// Arcs narrower or wider than this are not a right ventricle (a vessel, the lungs' gap).
const ARC_RANGE_DEG: (f64, f64) = (40.0, 220.0);

/// A suggested anterior RV insertion on one slice.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InsertionGuess {
    /// Degrees clockwise from 12 o'clock, in [0, 360).
    pub anterior_insertion_deg: f64,
    /// The septum runs clockwise from it (the RV on the viewer's right: an image stored
    /// mirrored).
    pub septum_clockwise: bool,
    /// The middle of the arc facing the right ventricle, degrees clockwise from 12 o'clock.
    pub septum_middle_deg: f64,
    /// The arc's width, degrees.
    pub arc_deg: f64,
}

/// The insertion suggested on one slice from its pixels and its myocardium; `None` where the
/// wall is not a ring (fewer than three quarters of the directions reach it), blood is not
/// brighter than the wall, or no arc of blood-bright band between 40 and 220 degrees wide lies
/// outside it.
pub fn guess_insertion(
    pixels: &[f32],
    myocardium: &Mask,
    spacing_mm: [f64; 2],
) -> Option<InsertionGuess> {
    let (rows, cols) = (myocardium.rows, myocardium.cols);
    if pixels.len() != rows * cols || myocardium.data.len() != rows * cols {
        return None;
    }
    let (cx, cy) = wall_centre_mm(myocardium, spacing_mm)?;
    let [dy, dx] = spacing_mm;
    let width = 360.0 / DIRECTIONS as f64;
    // Each pixel's direction and distance from the wall's centre.
    let polar = |i: usize| {
        let (x, y) = ((i % cols) as f64 * dx - cx, (i / cols) as f64 * dy - cy);
        let d = (clock_angle_deg(x, y).rem_euclid(360.0) / width) as usize;
        (d.min(DIRECTIONS - 1), x.hypot(y))
    };
    let (mut inner, mut outer) = ([f64::INFINITY; DIRECTIONS], [f64::NEG_INFINITY; DIRECTIONS]);
    let mut wall = Vec::new();
    for (i, _) in myocardium.data.iter().enumerate().filter(|(_, m)| **m) {
        let (d, r) = polar(i);
        inner[d] = inner[d].min(r);
        outer[d] = outer[d].max(r);
        wall.push(pixels[i]);
    }
    if outer.iter().filter(|r| r.is_finite()).count() < DIRECTIONS * 3 / 4 {
        return None;
    }
    // Directions the wall does not reach take the nearest reached one's radii.
    let filled = |radii: &[f64; DIRECTIONS]| -> [f64; DIRECTIONS] {
        let mut out = *radii;
        for d in 0..DIRECTIONS {
            if !radii[d].is_finite() {
                out[d] = (1..DIRECTIONS)
                    .flat_map(|k| [(d + k) % DIRECTIONS, (d + DIRECTIONS - k) % DIRECTIONS])
                    .map(|j| radii[j])
                    .find(|r| r.is_finite())
                    .unwrap_or(0.0);
            }
        }
        out
    };
    let (inner, outer) = (filled(&inner), filled(&outer));
    let (mut cavity, mut band) = (Vec::new(), vec![Vec::new(); DIRECTIONS]);
    for (i, m) in myocardium.data.iter().enumerate() {
        if *m {
            continue;
        }
        let (d, r) = polar(i);
        if r < inner[d] {
            cavity.push(pixels[i]);
        } else if r >= outer[d] + BAND_MM.0 && r <= outer[d] + BAND_MM.1 {
            band[d].push(pixels[i]);
        }
    }
    let (wall, blood) = (median(wall)?, median(cavity)?);
    if blood <= wall {
        return None;
    }
    // As bright as blood: a direction's band whose median lies within BLOOD_CONTRAST of the way
    // from the wall's intensity to the blood pool's, and not far above blood. Fat and the
    // chest wall can be nearly as bright; the RV's blood is as bright as the LV's.
    let (low, high) = (
        wall + BLOOD_CONTRAST * (blood - wall),
        blood + (blood - wall),
    );
    let bright: Vec<bool> = band
        .into_iter()
        .map(|b| median(b).is_some_and(|m| (low..=high).contains(&m)))
        .collect();
    if bright.iter().all(|b| *b) {
        return None;
    }
    let start = (0..DIRECTIONS).find(|d| !bright[*d])?;
    let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
    for k in 1..=DIRECTIONS {
        let d = (start + k) % DIRECTIONS;
        if bright[d] {
            if run.1 == 0 {
                run.0 = d;
            }
            run.1 += 1;
            if run.1 > best.1 {
                best = run;
            }
        } else {
            run.1 = 0;
        }
    }
    let arc = best.1 as f64 * width;
    if !(ARC_RANGE_DEG.0..=ARC_RANGE_DEG.1).contains(&arc) {
        return None;
    }
    let middle = (best.0 as f64 * width + arc / 2.0).rem_euclid(360.0);
    // Of the septum's two ends, the anterior one is nearer 12 o'clock.
    let from_noon = |a: f64| a.rem_euclid(360.0).min(360.0 - a.rem_euclid(360.0));
    let (clockwise_end, counter_end) = (middle + 60.0, middle - 60.0);
    let septum_clockwise = from_noon(counter_end) < from_noon(clockwise_end);
    let insertion = if septum_clockwise {
        counter_end
    } else {
        clockwise_end
    };
    Some(InsertionGuess {
        anterior_insertion_deg: insertion.rem_euclid(360.0),
        septum_clockwise,
        septum_middle_deg: middle,
        arc_deg: arc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::turn_deg as turn;
    use crate::phantom::{PhantomConfig, generate, label};

    #[test]
    fn a_drawn_right_ventricle_gives_its_insertion() {
        // A 100 x 100 slice of 1 mm pixels: a ring of wall (radius 15-23, intensity 0.2) round a
        // cavity of blood (1.0), and a blood pool outside it filling the directions 225 to 315
        // degrees (9 o'clock +- 45) out to radius 45; the rest 0.1. The arc's middle is 270,
        // the septum's anterior end 330, nearer 12 o'clock, so the septum runs counterclockwise
        // from it: the standard view.
        let n = 100;
        let (mut pixels, mut wall) = (vec![0.1f32; n * n], vec![false; n * n]);
        for i in 0..n * n {
            let (x, y) = ((i % n) as f64 - 50.0, (i / n) as f64 - 50.0);
            let (r, a) = (x.hypot(y), clock_angle_deg(x, y).rem_euclid(360.0));
            if (15.0..23.0).contains(&r) {
                wall[i] = true;
                pixels[i] = 0.2;
            } else if r < 15.0 || ((25.0..45.0).contains(&r) && (225.0..315.0).contains(&a)) {
                pixels[i] = 1.0;
            }
        }
        let mask = Mask {
            rows: n,
            cols: n,
            data: wall,
        };
        let g = guess_insertion(&pixels, &mask, [1.0, 1.0]).expect("an RV");
        assert!(turn(g.septum_middle_deg, 270.0).abs() <= 5.0, "{g:?}");
        assert!((g.arc_deg - 90.0).abs() <= 10.0, "{g:?}");
        assert!(turn(g.anterior_insertion_deg, 330.0).abs() <= 5.0, "{g:?}");
        assert!(!g.septum_clockwise);
        // Mirrored left to right: the RV on the right, the insertion at 30, the septum clockwise.
        let mirror = |v: &[f32]| -> Vec<f32> {
            (0..n * n)
                .map(|i| v[(i / n) * n + (n - 1 - i % n)])
                .collect()
        };
        let mask = Mask {
            rows: n,
            cols: n,
            data: (0..n * n)
                .map(|i| mask.data[(i / n) * n + (n - 1 - i % n)])
                .collect(),
        };
        let g = guess_insertion(&mirror(&pixels), &mask, [1.0, 1.0]).expect("an RV");
        assert!(turn(g.anterior_insertion_deg, 30.0).abs() <= 5.0, "{g:?}");
        assert!(g.septum_clockwise);
        // No pool outside the wall: no suggestion; nor without a wall, or with a wall as bright
        // as blood.
        let alone: Vec<f32> = pixels
            .iter()
            .zip(&mask.data)
            .enumerate()
            .map(|(i, (v, _))| {
                let (x, y) = ((i % n) as f64 - 50.0, (i / n) as f64 - 50.0);
                if x.hypot(y) >= 24.0 { 0.1 } else { *v }
            })
            .collect();
        assert_eq!(guess_insertion(&mirror(&alone), &mask, [1.0, 1.0]), None);
        let empty = Mask {
            rows: n,
            cols: n,
            data: vec![false; n * n],
        };
        assert_eq!(guess_insertion(&pixels, &empty, [1.0, 1.0]), None);
        assert_eq!(guess_insertion(&vec![1.0; n * n], &mask, [1.0, 1.0]), None);
        // Pixels that are not numbers, a zero spacing, a mask of another size: no panic.
        let mut broken = pixels.clone();
        for v in broken.iter_mut().step_by(3) {
            *v = f32::NAN;
        }
        let _ = guess_insertion(&broken, &mask, [1.0, 1.0]);
        let _ = guess_insertion(&pixels, &mask, [0.0, 0.0]);
        assert_eq!(guess_insertion(&pixels[1..], &mask, [1.0, 1.0]), None);
    }

    #[test]
    fn phantom_insertions_are_found_from_the_true_wall() {
        // The phantom places its RV beside the septum and records the insertion it implies
        // (60 degrees anterior of the septum's middle): on 100 test-seed slices, with the true
        // myocardium, the suggestion lies within 20 degrees of it on nine slices in ten, and the
        // septum's direction is the standard one on nine in ten of those with a suggestion.
        let config = PhantomConfig::default();
        let (mut within, mut made, mut standard) = (0, 0, 0);
        for seed in 2_000_000_000..2_000_000_100u64 {
            let case = generate(seed, &config);
            let s = &case.slices[0];
            let mask = Mask {
                rows: s.image.rows,
                cols: s.image.cols,
                data: s.labels.iter().map(|l| *l >= label::MYOCARDIUM).collect(),
            };
            let Some(g) = guess_insertion(&s.image.pixels, &mask, s.image.spacing_mm) else {
                continue;
            };
            made += 1;
            standard += usize::from(!g.septum_clockwise);
            let e = turn(g.anterior_insertion_deg, case.params.rv_insertion_deg).abs();
            within += usize::from(e <= 20.0);
        }
        assert!(made >= 90, "a suggestion on {made} of 100 slices");
        assert!(within >= 90, "within 20 degrees on {within} of 100 slices");
        assert!(
            standard * 10 >= made * 9,
            "the standard view on {standard} of {made}"
        );
    }
}
