//! The heart's region of interest: a square crop around the myocardium, so that a second pass of
//! the network sees the heart at a finer pixel than the whole field of view allows.
//!
//! **\[decided\]** ScarSegNet's paper resamples the whole slice. LGE fields of view are about
//! 260-400 mm, so at a 128 px input a model pixel is 2-3 mm and thin scar is lost to
//! resampling whatever the weights (`examples/resolution_ceiling.rs` measures it). Cardiac
//! pipelines crop around the left ventricle for this reason; a model whose manifest asks for it
//! runs once on the whole slice to find the myocardium, then on this crop.
//!
//! The crop is the myocardium's bounding box, grown by `margin` of its larger side on each side,
//! made square about the box's centre, moved inside the image and clipped to it. Integer pixel
//! bounds keep the crop and the paste exact.

use serde::{Deserialize, Serialize};

use crate::metrics::Mask;
use crate::slice::Slice;

/// The default margin around the myocardium's box, as a fraction of its larger side: room for
/// a first pass that finds the myocardium a little too small, and context for the second.
pub const ROI_MARGIN: f64 = 0.25;

/// The default smallest crop side in pixels, so that a tiny first-pass finding is not zoomed
/// into by more than a factor of four at a 128 px input.
pub const ROI_MIN_SIDE: usize = 32;

/// The default share of the largest first-pass myocardium component below which a component is
/// left out of the crop's box: stray blobs away from the heart widened the crop (less zoom) or
/// framed the wrong place. Chosen on validation seeds 0-299 (0.1 / 0.25 / 0.5 / 0.75 / 1.0 gave
/// +0.005 / +0.008 / +0.010 / +0.010 / +0.010 scar Dice against keeping all) and confirmed on
/// seeds 300-699: +0.013 (standard error 0.004); 0.5 still keeps a ring broken in two halves.
pub const ROI_MIN_COMPONENT_FRACTION: f64 = 0.5;

/// A rectangle of source pixels: rows `top..top + rows`, columns `left..left + cols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roi {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// One side of the square: `[start, start + len)` centred on `centre`, moved inside `0..limit`
/// and clipped to it.
fn span(centre: f64, len: usize, limit: usize) -> (usize, usize) {
    if len >= limit {
        return (0, limit);
    }
    let start = (centre - len as f64 / 2.0).round();
    let start = start.clamp(0.0, (limit - len) as f64) as usize;
    (start, len)
}

impl Roi {
    /// The square crop around `mask`'s bounding box (see the module docs); `None` for an empty
    /// mask. `min_side` keeps a small or mis-found box from zooming in further than that.
    pub fn around(mask: &Mask, margin: f64, min_side: usize) -> Option<Self> {
        let [r0, r1, c0, c1] = mask.bounding_box()?;
        let box_side = (r1 - r0 + 1).max(c1 - c0 + 1) as f64;
        let side = ((box_side * (1.0 + 2.0 * margin)).round() as usize).max(min_side);
        let (top, rows) = span((r0 + r1 + 1) as f64 / 2.0, side, mask.rows);
        let (left, cols) = span((c0 + c1 + 1) as f64 / 2.0, side, mask.cols);
        Some(Self {
            top,
            left,
            rows,
            cols,
        })
    }

    /// The same rectangle moved by `(dr, dc)` pixels, kept inside a `rows` x `cols` grid.
    pub fn shifted(self, dr: i64, dc: i64, rows: usize, cols: usize) -> Self {
        let place = |start: usize, d: i64, len: usize, limit: usize| {
            (start as i64 + d).clamp(0, limit.saturating_sub(len) as i64) as usize
        };
        Self {
            top: place(self.top, dr, self.rows, rows),
            left: place(self.left, dc, self.cols, cols),
            ..self
        }
    }

    /// The whole `rows` x `cols` grid.
    pub fn whole(rows: usize, cols: usize) -> Self {
        Self {
            top: 0,
            left: 0,
            rows,
            cols,
        }
    }

    /// The crop of a row-major `cols`-wide grid.
    pub fn crop<T: Copy>(&self, values: &[T], cols: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in self.top..self.top + self.rows {
            out.extend_from_slice(&values[r * cols + self.left..r * cols + self.left + self.cols]);
        }
        out
    }

    /// The crop of a mask.
    pub fn crop_mask(&self, mask: &Mask) -> Mask {
        Mask {
            rows: self.rows,
            cols: self.cols,
            data: self.crop(&mask.data, mask.cols),
        }
    }

    /// The crop of a slice: same spacing and orientation, its position moved to the crop's first
    /// pixel, its source name kept (results and errors still name the user's file).
    pub fn crop_slice(&self, slice: &Slice) -> Slice {
        let o = slice.orientation;
        let (dr, dc) = (
            self.top as f64 * slice.spacing_mm[0],
            self.left as f64 * slice.spacing_mm[1],
        );
        // DICOM: orientation[0..3] is the direction along a row (columns increase), [3..6] down
        // a column (rows increase).
        let mut position_mm = slice.position_mm;
        for (k, p) in position_mm.iter_mut().enumerate() {
            *p += dc * o[k] + dr * o[3 + k];
        }
        Slice {
            rows: self.rows,
            cols: self.cols,
            pixels: self.crop(&slice.pixels, slice.cols),
            position_mm,
            ..slice.clone()
        }
    }

    /// Places crop values back on a `rows` x `cols` grid whose other pixels are `fill`.
    pub fn paste<T: Copy>(&self, values: &[T], rows: usize, cols: usize, fill: T) -> Vec<T> {
        let mut out = vec![fill; rows * cols];
        for r in 0..self.rows {
            let dst = (self.top + r) * cols + self.left;
            out[dst..dst + self.cols].copy_from_slice(&values[r * self.cols..(r + 1) * self.cols]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_with_box(rows: usize, cols: usize, r: (usize, usize), c: (usize, usize)) -> Mask {
        Mask::from_fn(rows, cols, |i, j| {
            (r.0..=r.1).contains(&i) && (c.0..=c.1).contains(&j)
        })
    }

    #[test]
    fn square_about_the_box_centre_by_hand() {
        // Box rows 40..=59 (20), cols 50..=69 (20) in 200 x 200; margin 0.5 grows 20 to 40,
        // centred on (50, 60): rows 30..70, cols 40..80.
        let m = mask_with_box(200, 200, (40, 59), (50, 69));
        let roi = Roi::around(&m, 0.5, 0).expect("box");
        assert_eq!(
            roi,
            Roi {
                top: 30,
                left: 40,
                rows: 40,
                cols: 40
            }
        );
        // The larger side decides: a 10 x 30 box with margin 0 gives a 30 x 30 square.
        let m = mask_with_box(200, 200, (100, 109), (100, 129));
        let roi = Roi::around(&m, 0.0, 0).expect("box");
        assert_eq!((roi.top, roi.left, roi.rows, roi.cols), (90, 100, 30, 30));
    }

    #[test]
    fn moved_inside_the_image_and_clipped() {
        // A box at the corner: the square is moved to start at 0, not cut.
        let m = mask_with_box(100, 100, (0, 9), (0, 9));
        let roi = Roi::around(&m, 0.5, 0).expect("box");
        assert_eq!((roi.top, roi.left, roi.rows, roi.cols), (0, 0, 20, 20));
        // Larger than a 30 x 100 image: clipped to the rows, kept square in columns.
        let m = mask_with_box(30, 100, (5, 24), (40, 59));
        let roi = Roi::around(&m, 0.5, 0).expect("box");
        assert_eq!((roi.top, roi.left, roi.rows, roi.cols), (0, 30, 30, 40));
        // The minimum side wins over a tiny box.
        let m = mask_with_box(100, 100, (50, 51), (50, 51));
        let roi = Roi::around(&m, 0.5, 32).expect("box");
        assert_eq!((roi.rows, roi.cols), (32, 32));
        assert!(Roi::around(&Mask::empty(10, 10), 0.5, 0).is_none());
    }

    #[test]
    fn shifts_stay_inside() {
        let roi = Roi {
            top: 10,
            left: 20,
            rows: 30,
            cols: 30,
        };
        assert_eq!(
            roi.shifted(-4, 5, 100, 100),
            Roi {
                top: 6,
                left: 25,
                ..roi
            }
        );
        // 100 - 30 = 70 is the last start that fits; -50 stops at 0.
        assert_eq!(
            roi.shifted(500, -50, 100, 100),
            Roi {
                top: 70,
                left: 0,
                ..roi
            }
        );
    }

    #[test]
    fn crop_then_paste_restores_the_inside() {
        let (rows, cols) = (7, 9);
        let values: Vec<u32> = (0..(rows * cols) as u32).collect();
        let roi = Roi {
            top: 2,
            left: 3,
            rows: 4,
            cols: 5,
        };
        let crop = roi.crop(&values, cols);
        // First crop row is source row 2, columns 3..8: 21..=25.
        assert_eq!(&crop[..5], &[21, 22, 23, 24, 25]);
        // The mask crop is the same cut: the one pixel set, (3, 4), lands at (1, 1).
        let m = roi.crop_mask(&Mask::from_fn(rows, cols, |r, c| (r, c) == (3, 4)));
        assert_eq!((m.rows, m.cols, m.area_px()), (4, 5, 1));
        assert!(m.get(1, 1));
        let back = roi.paste(&crop, rows, cols, u32::MAX);
        for r in 0..rows {
            for c in 0..cols {
                let inside = (2..6).contains(&r) && (3..8).contains(&c);
                let want = if inside {
                    values[r * cols + c]
                } else {
                    u32::MAX
                };
                assert_eq!(back[r * cols + c], want);
            }
        }
    }

    #[test]
    fn cropped_slice_keeps_its_patient_geometry() {
        // Rows run along +y and columns along +x at 0.5 x 2 mm spacing: the crop's first pixel,
        // row 2 and column 3, is 1 mm down and 6 mm across.
        let mut s = Slice::new(4, 5, (0..20).map(|v| v as f32).collect(), "f.dcm");
        s.spacing_mm = [0.5, 2.0];
        s.orientation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        s.position_mm = [10.0, 20.0, 30.0];
        let c = Roi {
            top: 2,
            left: 3,
            rows: 2,
            cols: 2,
        }
        .crop_slice(&s);
        assert_eq!(c.pixels, vec![13.0, 14.0, 18.0, 19.0]);
        assert_eq!(c.position_mm, [16.0, 21.0, 30.0]);
        assert_eq!((c.source.as_str(), c.spacing_mm), ("f.dcm", [0.5, 2.0]));
    }
}
