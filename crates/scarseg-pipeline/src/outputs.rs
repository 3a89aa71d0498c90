//! What the CLI and the page write from a result, defined once so their files agree: mask PNGs,
//! the label map of the NIfTI label volume, and a stack's volumes.

use scarseg_imaging::Stack;
use scarseg_imaging::encode::{EncodeError, png_grey8};
use scarseg_imaging::metrics::Mask;

use crate::StackResult;

/// Label values: 0 background, 2 myocardium, 3 scar (EMIDEC's numbering).
pub fn label_map(scar: &Mask, myocardium: &Mask) -> Vec<u8> {
    scar.data
        .iter()
        .zip(&myocardium.data)
        .map(|(s, m)| {
            if *s {
                3
            } else if *m {
                2
            } else {
                0
            }
        })
        .collect()
}

/// An 8-bit PNG of a mask: 255 inside, 0 outside, with the pixel spacing.
pub fn mask_png(mask: &Mask, spacing_mm: [f64; 2]) -> Result<Vec<u8>, EncodeError> {
    let values: Vec<u8> = mask.data.iter().map(|b| if *b { 255 } else { 0 }).collect();
    png_grey8(mask.rows, mask.cols, &values, Some(spacing_mm))
}

impl StackResult {
    /// Scar and myocardium volumes over the stack, mm3: each slice's area times its thickness.
    pub fn volumes_mm3(&self, stack: &Stack) -> (f64, f64) {
        self.slices
            .iter()
            .zip(&stack.slices)
            .fold((0.0, 0.0), |(s, m), (r, sl)| {
                (
                    s + r.scar_area_mm2 * sl.thickness_mm,
                    m + r.myocardium_area_mm2 * sl.thickness_mm,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_map_numbers_like_emidec() {
        let scar = Mask {
            rows: 1,
            cols: 3,
            data: vec![true, false, false],
        };
        let myo = Mask {
            rows: 1,
            cols: 3,
            data: vec![true, true, false],
        };
        assert_eq!(label_map(&scar, &myo), vec![3, 2, 0]);
    }
}
