//! Corrections by hand: brush strokes that force a slice's pixels into or out of the scar or the
//! myocardium, kept apart from the network's masks so that they survive a change of threshold
//! and can be undone, counted and reported.

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;

/// What a brush stroke does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tool {
    /// Adds scar; scar is myocardium, so the pixels become myocardium too.
    PaintScar,
    /// Removes scar; the pixels stay myocardium (healthy) where they were.
    EraseScar,
    /// Adds myocardium (healthy unless the network or an earlier stroke made it scar).
    PaintMyocardium,
    /// Removes myocardium, and so the scar in it.
    EraseMyocardium,
}

impl Tool {
    /// Every tool, in the order the page lists them.
    pub const ALL: [Tool; 4] = [
        Tool::PaintScar,
        Tool::EraseScar,
        Tool::PaintMyocardium,
        Tool::EraseMyocardium,
    ];

    /// Its name for users.
    pub fn label(self) -> &'static str {
        match self {
            Tool::PaintScar => "paint scar",
            Tool::EraseScar => "erase scar",
            Tool::PaintMyocardium => "paint myocardium",
            Tool::EraseMyocardium => "erase myocardium",
        }
    }

    /// What it forces (scar, myocardium): `Some(true)` in, `Some(false)` out, `None` untouched.
    fn forces(self) -> (Option<bool>, Option<bool>) {
        match self {
            Tool::PaintScar => (Some(true), Some(true)),
            Tool::EraseScar => (Some(false), None),
            Tool::PaintMyocardium => (None, Some(true)),
            Tool::EraseMyocardium => (Some(false), Some(false)),
        }
    }
}

/// One slice's corrections: per pixel, whether the user forced it into (1) or out of (-1) each
/// mask, or left it to the network (0). The latest stroke over a pixel wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskEdits {
    /// Rows of the slice.
    pub rows: usize,
    /// Columns of the slice.
    pub cols: usize,
    /// Scar: 1 forced in, -1 forced out, 0 the network's.
    pub scar: Vec<i8>,
    /// Myocardium, likewise.
    pub myocardium: Vec<i8>,
}

impl MaskEdits {
    /// No corrections on a `rows` x `cols` slice.
    pub fn new(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            scar: vec![0; rows * cols],
            myocardium: vec![0; rows * cols],
        }
    }

    /// Whether no pixel is forced either way.
    pub fn is_empty(&self) -> bool {
        self.scar.iter().chain(&self.myocardium).all(|v| *v == 0)
    }

    /// One stroke of a round brush of `radius_mm`, from `from` to `to`: every pixel whose
    /// centre lies within the radius of the segment between them, distances in mm (so the brush
    /// stays round on pixels that are not square). Points are (x, y) in pixel units on the
    /// slice's grid, the top-left corner at (0, 0), so pixel (row r, col c) has its centre at
    /// (c + 0.5, r + 0.5); a click is a stroke whose ends coincide. Returns the pixels reached
    /// (the part of the brush off the slice is dropped).
    pub fn stroke(
        &mut self,
        tool: Tool,
        spacing_mm: [f64; 2],
        from: (f64, f64),
        to: (f64, f64),
        radius_mm: f64,
    ) -> usize {
        let (sy, sx) = (spacing_mm[0], spacing_mm[1]);
        if !(radius_mm > 0.0 && sy > 0.0 && sx > 0.0) || self.rows == 0 || self.cols == 0 {
            return 0;
        }
        let finite = |p: (f64, f64)| p.0.is_finite() && p.1.is_finite();
        if !finite(from) || !finite(to) {
            return 0;
        }
        // Only the box around the segment, grown by the radius, can be reached.
        let (rx, ry) = (radius_mm / sx, radius_mm / sy);
        let span = |a: f64, b: f64, r: f64, n: usize| {
            let lo = (a.min(b) - r - 0.5).floor().max(0.0);
            let hi = (a.max(b) + r - 0.5).ceil().min(n as f64 - 1.0);
            (lo as usize, hi)
        };
        let (c0, c1) = span(from.0, to.0, rx, self.cols);
        let (r0, r1) = span(from.1, to.1, ry, self.rows);
        if c1 < c0 as f64 || r1 < r0 as f64 {
            return 0;
        }
        let (c1, r1) = (c1 as usize, r1 as usize);
        // The segment in mm, from `from`.
        let (dx, dy) = ((to.0 - from.0) * sx, (to.1 - from.1) * sy);
        let length2 = dx * dx + dy * dy;
        let (scar, myocardium) = tool.forces();
        let as_i8 = |b: bool| if b { 1 } else { -1 };
        let mut reached = 0;
        for r in r0..=r1 {
            for c in c0..=c1 {
                let (px, py) = (
                    (c as f64 + 0.5 - from.0) * sx,
                    (r as f64 + 0.5 - from.1) * sy,
                );
                let t = if length2 > 0.0 {
                    ((px * dx + py * dy) / length2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (px - t * dx, py - t * dy);
                if ex * ex + ey * ey > radius_mm * radius_mm {
                    continue;
                }
                let i = r * self.cols + c;
                if let Some(v) = scar {
                    self.scar[i] = as_i8(v);
                }
                if let Some(v) = myocardium {
                    self.myocardium[i] = as_i8(v);
                }
                reached += 1;
            }
        }
        reached
    }

    /// The corrections that turn the network's masks into a label map's (EMIDEC's values:
    /// scar is 3 or 4, myocardium 2, 3 or 4): each pixel where they differ is forced to the
    /// label's, the rest left to the network. `None` when the sizes differ.
    pub fn towards_labels(scar: &Mask, myocardium: &Mask, labels: &[u8]) -> Option<Self> {
        let n = scar.rows * scar.cols;
        if myocardium.data.len() != n || scar.data.len() != n || labels.len() != n {
            return None;
        }
        let mut edits = Self::new(scar.rows, scar.cols);
        let force = |network: bool, wanted: bool| match (network, wanted) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        for (i, l) in labels.iter().enumerate() {
            edits.scar[i] = force(scar.data[i], matches!(l, 3 | 4));
            edits.myocardium[i] = force(myocardium.data[i], matches!(l, 2..=4));
        }
        Some(edits)
    }

    /// The network's masks with the corrections applied, and the number of pixels whose scar or
    /// myocardium label they changed. Masks of another size than the edits are returned as
    /// they are.
    pub fn apply(&self, scar: &Mask, myocardium: &Mask) -> (Mask, Mask, usize) {
        let fits = |m: &Mask| m.rows == self.rows && m.cols == self.cols;
        if !fits(scar) || !fits(myocardium) {
            return (scar.clone(), myocardium.clone(), 0);
        }
        let force = |m: &Mask, edits: &[i8]| Mask {
            rows: m.rows,
            cols: m.cols,
            data: m
                .data
                .iter()
                .zip(edits)
                .map(|(v, e)| match e {
                    1 => true,
                    -1 => false,
                    _ => *v,
                })
                .collect(),
        };
        let (new_scar, new_myo) = (force(scar, &self.scar), force(myocardium, &self.myocardium));
        let changed = (0..scar.data.len())
            .filter(|&i| new_scar.data[i] != scar.data[i] || new_myo.data[i] != myocardium.data[i])
            .count();
        (new_scar, new_myo, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forced(v: &[i8], cols: usize) -> Vec<(usize, usize)> {
        v.iter()
            .enumerate()
            .filter(|(_, x)| **x != 0)
            .map(|(i, _)| (i / cols, i % cols))
            .collect()
    }

    #[test]
    fn a_click_reaches_the_pixels_within_the_radius() {
        // A click at the centre of pixel (4, 4) with radius 1 mm on 1 mm pixels: the pixel and
        // its four edge neighbours (centres 1 mm away); the diagonal ones are sqrt 2 away.
        let mut e = MaskEdits::new(9, 9);
        let n = e.stroke(Tool::EraseScar, [1.0, 1.0], (4.5, 4.5), (4.5, 4.5), 1.0);
        assert_eq!(n, 5);
        assert_eq!(
            forced(&e.scar, 9),
            vec![(3, 4), (4, 3), (4, 4), (4, 5), (5, 4)]
        );
        assert!(e.scar.iter().all(|v| *v <= 0));
        // Erasing scar leaves the myocardium to the network.
        assert!(e.myocardium.iter().all(|v| *v == 0));
    }

    #[test]
    fn a_stroke_covers_the_capsule_around_its_segment() {
        // From the centre of (2, 1) to the centre of (2, 6), radius 1 mm on 1 mm pixels: rows 1
        // to 3 of columns 1..=6 (perpendicular distance at most 1), plus the two ends' caps,
        // (2, 0) and (2, 7).
        let mut e = MaskEdits::new(5, 9);
        let n = e.stroke(Tool::PaintScar, [1.0, 1.0], (1.5, 2.5), (6.5, 2.5), 1.0);
        let mut want = vec![(2, 0), (2, 7)];
        for r in 1..=3 {
            for c in 1..=6 {
                want.push((r, c));
            }
        }
        want.sort();
        assert_eq!(forced(&e.scar, 9), want);
        assert_eq!(n, want.len());
        // Painted scar is myocardium too.
        assert_eq!(forced(&e.myocardium, 9), want);
        assert!(e.scar.iter().chain(&e.myocardium).all(|v| *v >= 0));
    }

    #[test]
    fn the_brush_is_round_in_mm_on_oblong_pixels() {
        // Rows 2 mm apart, columns 1 mm: a 2 mm brush at the centre of (5, 5) reaches one row up
        // and down (2 mm) but two columns each side (1 and 2 mm); (4, 4) is sqrt 5 mm away.
        let mut e = MaskEdits::new(11, 11);
        e.stroke(
            Tool::PaintMyocardium,
            [2.0, 1.0],
            (5.5, 5.5),
            (5.5, 5.5),
            2.0,
        );
        assert_eq!(
            forced(&e.myocardium, 11),
            vec![(4, 5), (5, 3), (5, 4), (5, 5), (5, 6), (5, 7), (6, 5)]
        );
        assert!(e.scar.iter().all(|v| *v == 0));
    }

    #[test]
    fn the_brush_is_clipped_at_the_edges_and_ignores_nonsense() {
        let mut e = MaskEdits::new(3, 3);
        // At the top-left corner, radius 1 mm: only (0, 0), (0, 1) and (1, 0) lie on the slice.
        assert_eq!(
            e.stroke(
                Tool::EraseMyocardium,
                [1.0, 1.0],
                (0.5, 0.5),
                (0.5, 0.5),
                1.0
            ),
            3
        );
        assert_eq!(forced(&e.myocardium, 3), vec![(0, 0), (0, 1), (1, 0)]);
        // Erasing myocardium erases its scar.
        assert_eq!(forced(&e.scar, 3), vec![(0, 0), (0, 1), (1, 0)]);
        let before = e.clone();
        // Far off the slice, a zero radius, NaN: nothing.
        assert_eq!(
            e.stroke(
                Tool::PaintScar,
                [1.0, 1.0],
                (-50.0, -50.0),
                (-40.0, -40.0),
                2.0
            ),
            0
        );
        assert_eq!(
            e.stroke(Tool::PaintScar, [1.0, 1.0], (1.5, 1.5), (1.5, 1.5), 0.0),
            0
        );
        assert_eq!(
            e.stroke(
                Tool::PaintScar,
                [1.0, 1.0],
                (f64::NAN, 1.0),
                (1.5, 1.5),
                1.0
            ),
            0
        );
        assert_eq!(e, before);
    }

    #[test]
    fn applying_forces_the_pixels_and_counts_the_changes() {
        // 1 x 4: the network says scar at 0, myocardium at 0 and 1.
        let scar = Mask {
            rows: 1,
            cols: 4,
            data: vec![true, false, false, false],
        };
        let myo = Mask {
            rows: 1,
            cols: 4,
            data: vec![true, true, false, false],
        };
        let mut e = MaskEdits::new(1, 4);
        assert!(e.is_empty());
        assert_eq!(e.apply(&scar, &myo), (scar.clone(), myo.clone(), 0));
        // Erase the scar at 0, paint scar at 2; pixel 3 forced to what it already is not.
        e.scar = vec![-1, 0, 1, -1];
        e.myocardium = vec![0, 0, 1, 0];
        let (s, m, changed) = e.apply(&scar, &myo);
        assert_eq!(s.data, vec![false, false, true, false]);
        assert_eq!(m.data, vec![true, true, true, false]);
        // Pixel 0 (scar out) and pixel 2 (scar and myocardium in); pixel 3 was neither.
        assert_eq!(changed, 2);
        assert!(!e.is_empty());
        // Masks of another size are not touched.
        let other = Mask::empty(2, 2);
        assert_eq!(e.apply(&other, &other), (other.clone(), other, 0));
    }

    #[test]
    fn labels_become_the_corrections_that_reach_them() {
        // 1 x 5; the network: scar at 0, myocardium at 0, 1, 2. The labels: background, cavity,
        // myocardium, scar, no-reflow.
        let scar = Mask {
            rows: 1,
            cols: 5,
            data: vec![true, false, false, false, false],
        };
        let myo = Mask {
            rows: 1,
            cols: 5,
            data: vec![true, true, true, false, false],
        };
        let labels = [0, 1, 2, 3, 4];
        let e = MaskEdits::towards_labels(&scar, &myo, &labels).expect("same size");
        // Pixel 0 out of both; 1 out of the myocardium (cavity); 2 as the network has it;
        // 3 and 4 into both (no-reflow is scar).
        assert_eq!(e.scar, vec![-1, 0, 0, 1, 1]);
        assert_eq!(e.myocardium, vec![-1, -1, 0, 1, 1]);
        let (s, m, changed) = e.apply(&scar, &myo);
        assert_eq!(s.data, vec![false, false, false, true, true]);
        assert_eq!(m.data, vec![false, false, true, true, true]);
        assert_eq!(changed, 4);
        // Labels that agree with the network need no corrections; a wrong size is refused.
        let same = MaskEdits::towards_labels(&scar, &myo, &[3, 2, 2, 0, 1]).expect("same size");
        assert!(same.is_empty());
        assert_eq!(MaskEdits::towards_labels(&scar, &myo, &[0; 4]), None);
    }

    #[test]
    fn the_latest_stroke_wins() {
        let mut e = MaskEdits::new(1, 3);
        e.stroke(Tool::PaintScar, [1.0, 1.0], (1.5, 0.5), (1.5, 0.5), 0.5);
        assert_eq!((e.scar[1], e.myocardium[1]), (1, 1));
        e.stroke(
            Tool::EraseMyocardium,
            [1.0, 1.0],
            (1.5, 0.5),
            (1.5, 0.5),
            0.5,
        );
        assert_eq!((e.scar[1], e.myocardium[1]), (-1, -1));
        e.stroke(
            Tool::PaintMyocardium,
            [1.0, 1.0],
            (1.5, 0.5),
            (1.5, 0.5),
            0.5,
        );
        // Myocardium again, and healthy: the scar stays erased.
        assert_eq!((e.scar[1], e.myocardium[1]), (-1, 1));
        assert_eq!(e.scar[0] | e.scar[2] | e.myocardium[0] | e.myocardium[2], 0);
    }
}
