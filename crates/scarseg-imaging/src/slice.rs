//! The one slice/stack type every decoder produces.

use serde::{Deserialize, Serialize};

/// Limits on hostile input, checked before any large allocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest file, and largest decompressed payload, in bytes.
    pub max_bytes: u64,
    /// Largest image side in pixels.
    pub max_side: u64,
    /// Most slices in one file or series.
    pub max_slices: u64,
}

impl Default for Limits {
    /// 512 MiB, 4096 pixels per side, 2048 slices: far above any LGE study, far below what
    /// exhausts a browser tab.
    fn default() -> Self {
        Self {
            max_bytes: 512 << 20,
            max_side: 4096,
            max_slices: 2048,
        }
    }
}

/// One 2D image with its geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// Rows (height) in pixels.
    pub rows: usize,
    /// Columns (width) in pixels.
    pub cols: usize,
    /// `rows * cols` values, row-major, after rescale slope/intercept; larger means brighter
    /// (MONOCHROME1 is inverted on decoding).
    pub pixels: Vec<f32>,
    /// Pixel spacing in mm, `[between rows, between columns]` (DICOM PixelSpacing order).
    pub spacing_mm: [f64; 2],
    /// Slice thickness in mm.
    pub thickness_mm: f64,
    /// Position of the first pixel's centre in patient coordinates, mm.
    pub position_mm: [f64; 3],
    /// Direction cosines of the rows and the columns (DICOM ImageOrientationPatient).
    pub orientation: [f64; 6],
    /// Where the source gives one: DICOM SliceLocation, mm.
    pub slice_location_mm: Option<f64>,
    /// Where the source gives one: DICOM InstanceNumber.
    pub instance_number: Option<i64>,
    /// File name, with the frame or slice index for multi-slice files.
    pub source: String,
    /// Where the source gives one: DICOM SeriesInstanceUID (a folder may hold several series,
    /// which must not be read as one stack).
    #[serde(default)]
    pub series_uid: Option<String>,
}

impl Slice {
    /// A slice with unit spacing and identity geometry.
    pub fn new(rows: usize, cols: usize, pixels: Vec<f32>, source: impl Into<String>) -> Self {
        Self {
            rows,
            cols,
            pixels,
            spacing_mm: [1.0, 1.0],
            thickness_mm: 1.0,
            position_mm: [0.0; 3],
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            slice_location_mm: None,
            instance_number: None,
            source: source.into(),
            series_uid: None,
        }
    }

    /// Area of one pixel in mm2.
    pub fn pixel_area_mm2(&self) -> f64 {
        self.spacing_mm[0] * self.spacing_mm[1]
    }

    /// Unit normal of the slice plane (rows x columns).
    pub fn normal(&self) -> [f64; 3] {
        let [a, b, c, d, e, f] = self.orientation;
        let n = [b * f - c * e, c * d - a * f, a * e - b * d];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        if len > 0.0 {
            [n[0] / len, n[1] / len, n[2] / len]
        } else {
            [0.0, 0.0, 1.0]
        }
    }

    /// Position along the slice normal, mm: the key stacks are ordered by.
    pub fn position_along_normal(&self) -> f64 {
        let n = self.normal();
        n[0] * self.position_mm[0] + n[1] * self.position_mm[1] + n[2] * self.position_mm[2]
    }
}

/// Slices of one file or series, ordered by position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// The file or series name.
    pub name: String,
    /// The slices, in order.
    pub slices: Vec<Slice>,
    /// Things the user should know that did not stop decoding (colour converted to grey,
    /// spacing missing and assumed 1 mm, ...).
    pub warnings: Vec<String>,
}
