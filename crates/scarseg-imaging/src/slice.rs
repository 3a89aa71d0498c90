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
    /// What tells this slice's stack apart where one DICOM file or folder, or one 4-D NIfTI,
    /// holds several: (what, value) pairs such as ("series", "7 LGE PSIR"), ("stack", "2"),
    /// ("time", "3"), ("image type", "REAL"), ("volume", "2"). Slices whose pairs differ are
    /// analysed as separate stacks (a PSIR acquisition's magnitude and real images lie at the
    /// same positions, and summed together would count every position twice).
    #[serde(default)]
    pub acquisition: Vec<(String, String)>,
    /// Where the slice came from in DICOM terms, for a DICOM input: what a DICOM Segmentation
    /// of it references and copies so that an archive files the segmentation with its images.
    #[serde(default)]
    pub dicom: Option<DicomSource>,
    /// The window the source stores for display, `[centre, width]` in the pixels' units (after
    /// rescale, mirrored with the pixels for MONOCHROME1): DICOM's WindowCenter and WindowWidth
    /// (the frame's FrameVOILUTSequence first; the first of several presets), NIfTI's cal_min
    /// to cal_max. What the scanner or the converter chose; `None` where the source has none.
    #[serde(default)]
    pub display_window: Option<[f64; 2]>,
}

/// A DICOM slice's identity: the instance (and frame) it was read from, and the patient and
/// study attributes a derived object must repeat (DICOM's Patient and General Study modules;
/// type 2, so empty where the source has none). Kept in memory only; written nowhere but into
/// a DICOM Segmentation of the same images.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DicomSource {
    /// SOP Class UID of the source instance (MR Image Storage, Enhanced MR Image Storage, ...).
    pub sop_class_uid: String,
    /// SOP Instance UID of the source instance.
    pub sop_instance_uid: String,
    /// The frame's number (from 1) in a multi-frame source; `None` for a single-frame one.
    pub frame: Option<u32>,
    /// Study Instance UID.
    pub study_uid: String,
    /// Series Instance UID.
    pub series_uid: String,
    /// Series Number, where the source has one.
    pub series_number: Option<i64>,
    /// Frame of Reference UID, where the source has one: the space its positions are in.
    pub frame_of_reference_uid: Option<String>,
    /// Patient's Name (0010,0010).
    pub patient_name: String,
    /// Patient ID (0010,0020).
    pub patient_id: String,
    /// Patient's Birth Date (0010,0030).
    pub patient_birth_date: String,
    /// Patient's Sex (0010,0040).
    pub patient_sex: String,
    /// Study Date (0008,0020).
    pub study_date: String,
    /// Study Time (0008,0030).
    pub study_time: String,
    /// Referring Physician's Name (0008,0090).
    pub referring_physician: String,
    /// Study ID (0020,0010).
    pub study_id: String,
    /// Accession Number (0008,0050).
    pub accession_number: String,
    /// Study Description (0008,1030).
    pub study_description: String,
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
            acquisition: Vec::new(),
            dicom: None,
            display_window: None,
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

    /// Whether the slice says where it lies in the patient. A file without geometry decodes to
    /// the origin and the scanner's axes (PNG and JPEG always; a NIfTI written with the identity
    /// affine, as scripts that drop the header do, reads as LPS of RAS identity): such a slice
    /// can only be taken to lie wherever its partner lies.
    pub fn is_placed(&self) -> bool {
        const UNPLACED: [[f64; 6]; 2] = [
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0],
        ];
        self.position_mm != [0.0; 3] || !UNPLACED.contains(&self.orientation)
    }

    /// Why `other` does not lie on this slice's pixel grid, or `None` when it does; placement
    /// (position and orientation) is compared only when `placed`. See [`match_grids`].
    fn mismatch(&self, other: &Slice, placed: bool) -> Option<String> {
        let [sr, sc] = self.spacing_mm;
        let [or, oc] = other.spacing_mm;
        let relative = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(1e-12);
        if other.spacing_mm != [1.0, 1.0] && (relative(sr, or) > 0.01 || relative(sc, oc) > 0.01) {
            return Some(format!(
                "pixels of {or} x {oc} mm where the image's are {sr} x {sc} mm"
            ));
        }
        if !placed {
            return None;
        }
        let cosines = self
            .orientation
            .iter()
            .zip(&other.orientation)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if cosines > 0.01 {
            let show = |o: &[f64; 6]| {
                format!(
                    "rows along ({:.3}, {:.3}, {:.3}), columns along ({:.3}, {:.3}, {:.3})",
                    o[0], o[1], o[2], o[3], o[4], o[5]
                )
            };
            return Some(format!(
                "{} where the image has {} (a flip or another view?)",
                show(&other.orientation),
                show(&self.orientation)
            ));
        }
        let d: f64 = self
            .position_mm
            .iter()
            .zip(&other.position_mm)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        if d > 0.25 * sr.min(sc) {
            let show = |p: &[f64; 3]| format!("({:.2}, {:.2}, {:.2}) mm", p[0], p[1], p[2]);
            return Some(format!(
                "first pixel at {} where the image's is at {}, {d:.2} mm away",
                show(&other.position_mm),
                show(&self.position_mm)
            ));
        }
        None
    }
}

/// Which slice of `other` (a label volume, say) lies on the pixel grid of each slice of `image`,
/// or why one does not. The caller has checked that counts and sizes agree.
///
/// When `other` says where it lies (its first slice [is placed](Slice::is_placed)), slices are
/// matched by position, not by index: a label volume stored apex to base for a series sorted
/// base to apex (a SliceLocation whose sign runs against the normal, another tool's export)
/// still pairs each label map with its own image. A file without geometry lies wherever the
/// image lies, index for index. Headers written by different tools differ by rounding, so a
/// quarter of a pixel in position, 1% in spacing and 0.01 in a direction cosine (about half a
/// degree) still count as the same grid; a shift, a flip or another resolution does not.
/// Spacing is compared only where `other` states one (anything but the 1 mm a file without
/// spacing decodes to).
pub fn match_grids(image: &[Slice], other: &[Slice]) -> Result<Vec<usize>, String> {
    let placed = other.first().is_some_and(Slice::is_placed);
    let mut used = vec![false; other.len()];
    let mut order = Vec::with_capacity(image.len());
    for (k, a) in image.iter().enumerate() {
        let chosen = if placed {
            // Free slices of `other`, the same index first, so a repeated position keeps its
            // order.
            let mut free: Vec<usize> = (0..other.len()).filter(|j| !used[*j]).collect();
            free.sort_by_key(|j| j.abs_diff(k));
            free.into_iter()
                .find(|j| a.mismatch(&other[*j], true).is_none())
        } else {
            // Without geometry, index for index.
            Some(k).filter(|_| a.mismatch(&other[k], false).is_none())
        };
        if let Some(j) = chosen {
            used[j] = true;
            order.push(j);
            continue;
        }
        let why = a.mismatch(&other[k], placed).unwrap_or_else(|| {
            "the slice at its position is already paired (a position repeated in the image \
             only?)"
                .to_string()
        });
        return Err(if image.len() == 1 {
            why
        } else {
            format!("slice {}: {why}", k + 1)
        });
    }
    Ok(order)
}

/// Slices of one file or series, ordered by position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// The file or series name; with the part's label in brackets for one of several stacks.
    pub name: String,
    /// Where the file or folder held several stacks: what sets this one apart (e.g. "image type
    /// REAL", "volume 2"); `None` when it held one.
    #[serde(default)]
    pub part: Option<String>,
    /// The slices, in order.
    pub slices: Vec<Slice>,
    /// Things the user should know that did not stop decoding (colour converted to grey,
    /// spacing missing and assumed 1 mm, ...).
    pub warnings: Vec<String>,
}

impl Stack {
    /// The height of each slice's disc when its areas are summed into volumes (the summation of
    /// discs of CMR volumetry: area times slice thickness plus the gap to the next slice): the
    /// shortest distance between neighbouring slice centres along the normal, when at least two
    /// slices lie apart (the shortest, so that a slice missing from the series does not stretch
    /// the others); otherwise, for a single slice or files that do not say where they lie, each
    /// slice's thickness.
    pub fn disc_heights_mm(&self) -> Vec<f64> {
        let along: Vec<f64> = self
            .slices
            .iter()
            .map(Slice::position_along_normal)
            .collect();
        // Positions within 0.01 mm are one place (header rounding); the slices are sorted.
        let interval = along
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .filter(|d| *d > 0.01)
            .min_by(f64::total_cmp);
        self.slices
            .iter()
            .map(|s| interval.unwrap_or(s.thickness_mm))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1.5 mm short-axis slice, rows along -y, columns along +x (hand-written, not decoded).
    fn placed() -> Slice {
        let mut s = Slice::new(2, 2, vec![0.0; 4], "image");
        s.spacing_mm = [1.5, 1.5];
        s.position_mm = [-100.0, 80.0, 12.0];
        s.orientation = [0.0, -1.0, 0.0, 1.0, 0.0, 0.0];
        s
    }

    #[test]
    fn the_same_grid_within_header_rounding_matches() {
        let image = placed();
        let mut label = placed();
        // DICOM DS strings and f32 NIfTI headers round: 0.1 mm and 0.005 are rounding.
        label.position_mm = [-100.1, 80.0, 12.0];
        label.orientation = [0.0, -0.995, 0.0, 1.0, 0.0, 0.0];
        label.spacing_mm = [1.5001, 1.5];
        assert_eq!(match_grids(&[image], &[label]).err(), None);
    }

    #[test]
    fn a_label_without_geometry_is_taken_to_lie_on_the_image() {
        let image = placed();
        // A PNG label map: origin, scanner axes, 1 mm.
        assert!(!Slice::new(2, 2, vec![0.0; 4], "png").is_placed());
        assert_eq!(
            match_grids(
                std::slice::from_ref(&image),
                &[Slice::new(2, 2, vec![0.0; 4], "png")]
            )
            .err(),
            None
        );
        // A NIfTI saved with the identity affine decodes to LPS of RAS identity.
        let mut nifti = Slice::new(2, 2, vec![0.0; 4], "nii");
        nifti.orientation = [-1.0, -0.0, 0.0, -0.0, -1.0, 0.0];
        assert!(!nifti.is_placed());
        assert_eq!(
            match_grids(std::slice::from_ref(&image), &[nifti]).err(),
            None
        );
        assert!(image.is_placed());
    }

    #[test]
    fn a_shift_a_flip_or_another_resolution_is_named() {
        let image = placed();
        // Half a pixel (0.75 mm) off: more than a quarter pixel (0.375 mm).
        let mut shifted = placed();
        shifted.position_mm = [-100.0, 80.75, 12.0];
        let why = match_grids(std::slice::from_ref(&image), &[shifted]).expect_err("shifted");
        assert!(why.contains("0.75 mm away"), "{why}");
        // Rows run the other way: a vertical flip.
        let mut flipped = placed();
        flipped.orientation = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let why = match_grids(std::slice::from_ref(&image), &[flipped]).expect_err("flipped");
        assert!(why.contains("rows along (0.000, 1.000, 0.000)"), "{why}");
        // 2 mm pixels where the image has 1.5 mm: even without a position.
        let mut coarse = Slice::new(2, 2, vec![0.0; 4], "png");
        coarse.spacing_mm = [2.0, 2.0];
        let why = match_grids(std::slice::from_ref(&image), &[coarse]).expect_err("coarse");
        assert!(
            why.contains("2 x 2 mm where the image's are 1.5 x 1.5 mm"),
            "{why}"
        );
    }

    /// Three slices 8 mm apart along the normal of [`placed`].
    fn stack() -> Vec<Slice> {
        (0..3)
            .map(|k| {
                let mut s = placed();
                // The normal of rows (0, -1, 0) x columns (1, 0, 0) is (0, 0, 1).
                s.position_mm[2] += 8.0 * k as f64;
                s
            })
            .collect()
    }

    #[test]
    fn stacks_are_matched_by_position() {
        let image = stack();
        assert_eq!(match_grids(&image, &stack()), Ok(vec![0, 1, 2]));
        // The label volume written apex to base: each image slice finds its own label map.
        let reversed: Vec<Slice> = stack().into_iter().rev().collect();
        assert_eq!(match_grids(&image, &reversed), Ok(vec![2, 1, 0]));
        // Only the third slice is off, by 2 mm in x: named, with what the image has there.
        let mut third = stack();
        third[2].position_mm[0] += 2.0;
        let why = match_grids(&image, &third).expect_err("third");
        assert!(why.starts_with("slice 3: first pixel at (-98.00,"), "{why}");
        assert!(
            why.contains("where the image's is at (-100.00, 80.00, 28.00) mm"),
            "{why}"
        );
        // An identity-affine NIfTI: slices at z = 0, 8, 16 on scanner axes, not placed as a
        // volume even though its later slices are away from the origin: index for index.
        let bare: Vec<Slice> = (0..3)
            .map(|k| {
                let mut s = Slice::new(2, 2, vec![0.0; 4], "nii");
                s.orientation = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0];
                s.position_mm = [0.0, 0.0, 8.0 * k as f64];
                s
            })
            .collect();
        assert_eq!(match_grids(&image, &bare), Ok(vec![0, 1, 2]));
        // A repeated slice (two at one position) keeps its order.
        let mut repeated = stack();
        repeated[2].position_mm = repeated[1].position_mm;
        assert_eq!(match_grids(&repeated, &repeated), Ok(vec![0, 1, 2]));
    }

    #[test]
    fn discs_reach_from_slice_centre_to_slice_centre() {
        // 8 mm slices every 10 mm (2 mm gaps): discs of 10 mm. One slice missing (0, 10, 30):
        // still 10. Unplaced slices (PNG) and a single slice: their thickness.
        let at = |z: f64| {
            let mut s = placed();
            s.position_mm[2] = z;
            s.thickness_mm = 8.0;
            s
        };
        let stack = |slices: Vec<Slice>| Stack {
            name: "s".into(),
            part: None,
            slices,
            warnings: vec![],
        };
        assert_eq!(
            stack(vec![at(0.0), at(10.0), at(20.0)]).disc_heights_mm(),
            vec![10.0; 3]
        );
        assert_eq!(
            stack(vec![at(0.0), at(10.0), at(30.0)]).disc_heights_mm(),
            vec![10.0; 3]
        );
        // Overlapping slices (8 mm every 5 mm): 5.
        assert_eq!(
            stack(vec![at(0.0), at(5.0), at(10.0)]).disc_heights_mm(),
            vec![5.0; 3]
        );
        let mut png = Slice::new(2, 2, vec![0.0; 4], "png");
        png.thickness_mm = 6.0;
        assert_eq!(
            stack(vec![png.clone(), png.clone()]).disc_heights_mm(),
            vec![6.0; 2]
        );
        assert_eq!(stack(vec![at(40.0)]).disc_heights_mm(), vec![8.0]);
    }
}
