//! What the CLI and the page write from a result, defined once so their files agree: mask PNGs,
//! the label map of the NIfTI label volume, a stack's volumes and the JSON reports' per-slice
//! record.

use scarseg_imaging::encode::{EncodeError, png_grey8};
use scarseg_imaging::metrics::Mask;
use scarseg_imaging::{Slice, Stack};

use crate::{SliceResult, StackResult};

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

/// One slice's record in the JSON reports (`scarseg predict`'s and the page's): its grid, areas,
/// burdens and, for a two-pass model, the heart crop.
pub fn slice_record(result: &SliceResult, slice: &Slice) -> serde_json::Value {
    serde_json::json!({
        "source": result.source,
        "rows": slice.rows,
        "cols": slice.cols,
        "spacing_mm": slice.spacing_mm,
        "thickness_mm": slice.thickness_mm,
        "scar_area_mm2": result.scar_area_mm2,
        "myocardium_area_mm2": result.myocardium_area_mm2,
        "burden_percent": result.burden_percent,
        "fwhm_burden_percent": result.fwhm_burden_percent,
        "nsd_burden_percent": result.nsd_burden_percent,
        "heart_crop": result.roi,
    })
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

    #[test]
    fn slice_record_by_hand() {
        // A 2 x 2 slice of 2 mm pixels, 10 mm thick: scar 1 px of a 3 px myocardium, so 4 and
        // 12 mm2 and a burden of 100 / 3 percent; the crop travels into the record.
        let mut slice = Slice::new(2, 2, vec![1.0, 2.0, 3.0, 4.0], "a.png");
        slice.spacing_mm = [2.0, 2.0];
        slice.thickness_mm = 10.0;
        let roi = scarseg_imaging::roi::Roi::whole(2, 2);
        let r = crate::slice_result(
            &slice,
            vec![0.9, 0.1, 0.1, 0.1],
            vec![0.9, 0.9, 0.9, 0.1],
            Some(roi),
            &Default::default(),
        );
        let v = slice_record(&r, &slice);
        assert_eq!(v["source"], "a.png");
        assert_eq!((v["rows"].as_u64(), v["cols"].as_u64()), (Some(2), Some(2)));
        assert_eq!(v["spacing_mm"], serde_json::json!([2.0, 2.0]));
        assert_eq!(v["thickness_mm"], 10.0);
        assert_eq!(v["scar_area_mm2"], 4.0);
        assert_eq!(v["myocardium_area_mm2"], 12.0);
        let burden = v["burden_percent"].as_f64().expect("burden");
        assert!((burden - 100.0 / 3.0).abs() < 1e-9, "{burden}");
        // The classic burdens are carried as computed (their values are tested in imaging).
        assert_eq!(
            v["fwhm_burden_percent"],
            serde_json::json!(r.fwhm_burden_percent)
        );
        assert_eq!(v["nsd_burden_percent"].as_array().map(Vec::len), Some(4));
        assert_eq!(
            v["heart_crop"],
            serde_json::json!({"top": 0, "left": 0, "rows": 2, "cols": 2})
        );
    }
}
