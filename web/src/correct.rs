//! One case's corrections by hand on the page: each slice's brush edits and the undo history
//! that takes a stroke, or a slice's revert, back; and which DICOM segmentations opened beside
//! a series each of its stacks offers to load as its labels (which become corrections).

use scarseg_imaging::Limits;
use scarseg_imaging::Stack;
use scarseg_imaging::decode::labels_for;
use scarseg_imaging::edit::{MaskEdits, Tool};
use scarseg_imaging::metrics::Mask;
use scarseg_pipeline::outputs::{LABEL_EXTS, LABEL_SUFFIX};

/// Strokes the undo history keeps; each holds a slice's edits as they were (two bytes a pixel).
pub const UNDO_DEPTH: usize = 50;

/// The brush radius the page starts with, mm: about a thin wall's half thickness.
pub const DEFAULT_BRUSH_MM: f64 = 2.0;

/// Brush radii the page allows, mm.
pub const BRUSH_RANGE_MM: (f64, f64) = (0.5, 10.0);

/// One case's edits and their history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Corrections {
    /// Per slice (by index in the stack), `None` where untouched.
    slices: Vec<Option<MaskEdits>>,
    /// (slice, its edits before the change), latest last.
    undo: Vec<(usize, Option<MaskEdits>)>,
}

impl Corrections {
    /// Slice `k`'s edits, if any.
    pub fn slice(&self, k: usize) -> Option<&MaskEdits> {
        self.slices.get(k).and_then(Option::as_ref)
    }

    /// Starts a stroke on slice `k`: remembers its edits as they are, for undo.
    pub fn begin(&mut self, k: usize) {
        let before = self.slice(k).cloned();
        self.undo.push((k, before));
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
    }

    /// One piece of a stroke on slice `k` of `rows` x `cols` pixels (see
    /// [`MaskEdits::stroke`]); returns the pixels the brush reached.
    #[allow(clippy::too_many_arguments)]
    pub fn stroke(
        &mut self,
        k: usize,
        rows: usize,
        cols: usize,
        tool: Tool,
        spacing_mm: [f64; 2],
        from: (f64, f64),
        to: (f64, f64),
        radius_mm: f64,
    ) -> usize {
        if self.slices.len() <= k {
            self.slices.resize(k + 1, None);
        }
        let edits = self.slices[k].get_or_insert_with(|| MaskEdits::new(rows, cols));
        edits.stroke(tool, spacing_mm, from, to, radius_mm)
    }

    /// Replaces slice `k`'s edits by `edits` (labels the user loaded; undoable, a slice at a
    /// time).
    pub fn replace(&mut self, k: usize, edits: MaskEdits) {
        self.begin(k);
        if self.slices.len() <= k {
            self.slices.resize(k + 1, None);
        }
        self.slices[k] = (!edits.is_empty()).then_some(edits);
    }

    /// Drops slice `k`'s edits (undoable); false when it had none.
    pub fn revert(&mut self, k: usize) -> bool {
        if self.slice(k).is_none_or(MaskEdits::is_empty) {
            return false;
        }
        self.begin(k);
        self.slices[k] = None;
        true
    }

    /// Takes the latest stroke or revert back; returns the slice it changed.
    pub fn undo(&mut self) -> Option<usize> {
        let (k, before) = self.undo.pop()?;
        if self.slices.len() <= k {
            self.slices.resize(k + 1, None);
        }
        self.slices[k] = before;
        Some(k)
    }

    /// Whether there is anything to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
}

/// The brush radius one step larger (`up`) or smaller, by 0.5 mm within [`BRUSH_RANGE_MM`].
pub fn brush_step(radius_mm: f64, up: bool) -> f64 {
    let next = radius_mm + if up { 0.5 } else { -0.5 };
    next.clamp(BRUSH_RANGE_MM.0, BRUSH_RANGE_MM.1)
}

/// Pixels the keyboard's brush moves on Shift+arrow (one on an arrow alone).
pub const KEYBOARD_BIG_STEP: f64 = 5.0;

/// Where the keyboard's brush starts on a slice (x along the columns, y down the rows, in
/// pixel units, the top-left corner at 0): the centre of the pixel holding the wall's centroid,
/// a few steps from any part of the wall; the slice's middle pixel without a wall.
pub fn keyboard_start(myocardium: &Mask) -> (f64, f64) {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (i, _) in myocardium.data.iter().enumerate().filter(|(_, v)| **v) {
        n += 1;
        sx += (i % myocardium.cols) as f64 + 0.5;
        sy += (i / myocardium.cols) as f64 + 0.5;
    }
    if n == 0 {
        return (
            (myocardium.cols / 2) as f64 + 0.5,
            (myocardium.rows / 2) as f64 + 0.5,
        );
    }
    let (x, y) = (sx / n as f64, sy / n as f64);
    (x.floor() + 0.5, y.floor() + 0.5)
}

/// The keyboard's brush at `at` moved by `(dx, dy)` pixels, kept on the centres of a `rows` x
/// `cols` slice's pixels at its edges.
pub fn keyboard_step(at: (f64, f64), (dx, dy): (f64, f64), rows: usize, cols: usize) -> (f64, f64) {
    let keep = |v: f64, n: usize| v.clamp(0.5, (n as f64 - 0.5).max(0.5));
    (keep(at.0 + dx, cols), keep(at.1 + dy, rows))
}

/// Which of the DICOM segmentations opened beside a series (`(file name, bytes)`) read as the
/// label maps of `stack`, one of the series' stacks: their frames lie on its slices, on its grid.
pub fn segmentations_fitting<B: std::borrow::Borrow<Vec<u8>>>(
    stack: &Stack,
    beside: &[(String, B)],
    limits: &Limits,
) -> Vec<bool> {
    beside
        .iter()
        .map(|(name, bytes)| {
            labels_for(&stack.slices, &stack.name, name, bytes.borrow(), limits).is_ok()
        })
        .collect()
}

/// For each of the names of the items opened together (paths, folders included), the item whose
/// label volume it is by name: `X_labels.nii.gz`, `.nii` or `.png` labels the item `X` with any
/// image extension, or the series folder `X`, as `scarseg predict` and the page's "NIfTI labels"
/// name them. Such a volume is offered as that item's labels instead of being analysed as an
/// image of its own.
pub fn labels_by_name(names: &[String]) -> Vec<Option<usize>> {
    const IMAGE: [&str; 6] = [".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".dcm"];
    // `name` less the first of `extensions` it ends with (case aside), if any.
    let strip = |name: &str, extensions: &[&str]| -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let e = extensions.iter().find(|e| lower.ends_with(**e))?;
        Some(name[..name.len() - e.len()].to_string())
    };
    let stems: Vec<String> = names
        .iter()
        .map(|n| strip(n, &IMAGE).unwrap_or_else(|| n.clone()))
        .collect();
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let volume = strip(name, &LABEL_EXTS)?;
            let image = volume.strip_suffix(LABEL_SUFFIX)?;
            let target = (0..names.len()).find(|&j| j != i && stems[j] == image)?;
            // A label volume of a label volume is no image's.
            (!stems[target].ends_with(LABEL_SUFFIX)).then_some(target)
        })
        .collect()
}

/// The segmentations (indices into the item's `count`) to offer on one stack of an item: those
/// that fit it (`here`, from [`segmentations_fitting`]; empty while it is being analysed), and
/// those that fit none of the item's analysed stacks (`parts`, this one's included), so that a
/// folder of several series, or a PSIR acquisition's two parts, offers each part only its own
/// segmentation, and one of another series is still offered, for loading it to say why it does
/// not fit.
pub fn segmentations_offered(count: usize, here: &[bool], parts: &[&[bool]]) -> Vec<usize> {
    (0..count)
        .filter(|&j| here.get(j) == Some(&true) || !parts.iter().any(|p| p.get(j) == Some(&true)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MM: [f64; 2] = [1.0, 1.0];

    #[test]
    fn label_volumes_find_their_image_by_name() {
        let names: Vec<String> = [
            "case.nii.gz",
            "case_labels.nii.gz",
            "scans/slice.png",
            "scans/slice_labels.png",
            "export/series",
            "export/series_labels.nii",
            "lonely_labels.nii.gz",
            "other/case_labels.nii.gz",
            "photo_labels.jpg",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            labels_by_name(&names),
            [
                None,
                Some(0),
                None,
                Some(2),
                None,
                Some(4),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn strokes_are_undone_one_at_a_time_and_reverts_too() {
        let mut c = Corrections::default();
        assert!(!c.can_undo());
        assert_eq!(c.undo(), None);
        // Stroke 1 on slice 2, in two pieces: one undo step.
        c.begin(2);
        c.stroke(2, 4, 4, Tool::PaintScar, MM, (0.5, 0.5), (1.5, 0.5), 0.5);
        c.stroke(2, 4, 4, Tool::PaintScar, MM, (1.5, 0.5), (2.5, 0.5), 0.5);
        let after_one = c.slice(2).cloned().expect("edits");
        assert_eq!(after_one.scar[..4], [1, 1, 1, 0]);
        // Stroke 2 on the same slice erases pixel 1's scar.
        c.begin(2);
        c.stroke(2, 4, 4, Tool::EraseScar, MM, (1.5, 0.5), (1.5, 0.5), 0.5);
        assert_eq!(c.slice(2).expect("edits").scar[..4], [1, -1, 1, 0]);
        assert!(c.slice(0).is_none());
        // Revert slice 2, then undo the revert, then stroke 2, then stroke 1.
        assert!(c.revert(2));
        assert!(c.slice(2).is_none());
        assert!(!c.revert(2), "nothing left to revert");
        assert_eq!(c.undo(), Some(2));
        assert_eq!(c.slice(2).expect("edits").scar[..4], [1, -1, 1, 0]);
        assert_eq!(c.undo(), Some(2));
        assert_eq!(c.slice(2), Some(&after_one));
        assert_eq!(c.undo(), Some(2));
        assert!(c.slice(2).is_none());
        assert!(!c.can_undo());
    }

    #[test]
    fn the_history_keeps_the_latest_strokes() {
        let mut c = Corrections::default();
        for k in 0..UNDO_DEPTH + 5 {
            c.begin(k);
            c.stroke(
                k,
                2,
                2,
                Tool::PaintMyocardium,
                MM,
                (0.5, 0.5),
                (0.5, 0.5),
                0.5,
            );
        }
        let mut undone = vec![];
        while let Some(k) = c.undo() {
            undone.push(k);
        }
        // The latest UNDO_DEPTH strokes, latest first; the first five stay done.
        let want: Vec<usize> = (5..UNDO_DEPTH + 5).rev().collect();
        assert_eq!(undone, want);
        assert!((0..5).all(|k| c.slice(k).is_some()));
        assert!((5..UNDO_DEPTH + 5).all(|k| c.slice(k).is_none()));
    }

    #[test]
    fn loaded_labels_replace_a_slice_and_are_undone() {
        let mut c = Corrections::default();
        c.begin(0);
        c.stroke(0, 1, 2, Tool::PaintScar, MM, (0.5, 0.5), (0.5, 0.5), 0.5);
        let painted = c.slice(0).cloned();
        let mut loaded = MaskEdits::new(1, 2);
        loaded.myocardium = vec![0, 1];
        c.replace(0, loaded.clone());
        c.replace(1, MaskEdits::new(1, 2));
        assert_eq!(c.slice(0), Some(&loaded));
        // Labels that agree with the network leave no edits.
        assert_eq!(c.slice(1), None);
        assert_eq!(c.undo(), Some(1));
        assert_eq!(c.undo(), Some(0));
        assert_eq!(c.slice(0).cloned(), painted);
    }

    #[test]
    fn brush_steps_stay_in_range() {
        assert_eq!(brush_step(2.0, true), 2.5);
        assert_eq!(brush_step(2.0, false), 1.5);
        assert_eq!(brush_step(0.5, false), 0.5);
        assert_eq!(brush_step(10.0, true), 10.0);
    }

    #[test]
    fn the_keyboard_brush_starts_in_the_wall_and_stays_on_the_slice() {
        // A 4 x 6 slice whose wall is the pixels (row 1, cols 1-4) and (row 2, col 4): centres
        // x = 1.5, 2.5, 3.5, 4.5, 4.5 (mean 3.3), y = 1.5 x 4 and 2.5 (mean 1.7): pixel (3, 1).
        let mut wall = Mask::empty(4, 6);
        for i in [7, 8, 9, 10, 16] {
            wall.data[i] = true;
        }
        assert_eq!(keyboard_start(&wall), (3.5, 1.5));
        // No wall: the middle pixel, (3, 2) of 6 x 4.
        assert_eq!(keyboard_start(&Mask::empty(4, 6)), (3.5, 2.5));
        assert_eq!(keyboard_step((3.5, 1.5), (1.0, 0.0), 4, 6), (4.5, 1.5));
        assert_eq!(keyboard_step((3.5, 1.5), (0.0, -5.0), 4, 6), (3.5, 0.5));
        assert_eq!(keyboard_step((3.5, 1.5), (5.0, 5.0), 4, 6), (5.5, 3.5));
        assert_eq!(keyboard_step((3.5, 1.5), (-5.0, 0.0), 4, 6), (0.5, 1.5));
        // A pointer's point between centres keeps its offset away from the edges.
        assert_eq!(keyboard_step((2.25, 1.75), (-1.0, 1.0), 4, 6), (1.25, 2.75));
    }

    /// A file of the repository, read.
    fn file(path: &str) -> (String, Vec<u8>) {
        let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        (
            name,
            std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}")),
        )
    }

    #[test]
    fn each_stack_of_a_folder_is_offered_only_the_segmentations_of_it() {
        // One folder with two series: highdicom's three 48 x 48 MR slices and the bundled DICOM
        // sample's four slices, with a segmentation of each and one of a third series
        // (seg_binary_j2k.dcm: 32 x 32 slices, in neither).
        let corpus = "crates/scarseg-imaging/tests/corpus/good";
        let sample = "public/samples/dicom";
        let mut files: Vec<(String, Vec<u8>)> = (0..3)
            .map(|k| file(&format!("{corpus}/seg_mr_{k}.dcm")))
            .collect();
        files.extend((1..=4).map(|k| file(&format!("{sample}/phantom-9201/IM000{k}.dcm"))));
        let limits = Limits::default();
        let (stacks, errors) =
            scarseg_imaging::decode::decode_series_stacks("folder", &files, &limits);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            stacks.iter().map(|s| s.slices.len()).collect::<Vec<_>>(),
            [4, 3],
            "the sample's series first (acquisition order)"
        );
        let beside = [
            file(&format!("{sample}/phantom-9201_seg.dcm")),
            file(&format!("{corpus}/seg_binary_j2k.dcm")),
            file(&format!("{corpus}/seg_binary.dcm")),
        ];
        let sample_fits = segmentations_fitting(&stacks[0], &beside, &limits);
        let mr_fits = segmentations_fitting(&stacks[1], &beside, &limits);
        assert_eq!(sample_fits, [true, false, false]);
        assert_eq!(mr_fits, [false, false, true]);
        let both: [&[bool]; 2] = [&sample_fits, &mr_fits];
        // Each part its own, and the one of neither on both.
        assert_eq!(segmentations_offered(3, &sample_fits, &both), [0, 1]);
        assert_eq!(segmentations_offered(3, &mr_fits, &both), [1, 2]);
        // While the second part is analysed, its segmentation is offered on the first too: it
        // fits no stack known yet.
        assert_eq!(
            segmentations_offered(3, &sample_fits, &both[..1]),
            [0, 1, 2]
        );
        assert_eq!(segmentations_offered(3, &[], &both[..1]), [1, 2]);
    }
}
