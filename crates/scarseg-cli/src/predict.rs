//! `scarseg predict`: files and folders in, masks on each input's own grid, a NIfTI label volume
//! per stack (and a DICOM segmentation and measurement report per DICOM stack), and a CSV + JSON
//! report; with `--corrections`, a folder of label volumes (or DICOM segmentations) overrides
//! the network's masks where they differ. One bad input is reported and skipped.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::ProgressBar;
use scarseg_imaging::archive::{Unpacked, is_archive, unpack};
use scarseg_imaging::decode::{
    Format, decode_file_stacks, decode_series_stacks, labels_for, sniff, worth_decoding,
};
use scarseg_imaging::encode::{NiftiData, nifti1, png_rgba8};
use scarseg_imaging::metrics::{AhaOrientation, WallLevel};
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::sr::Verifier;
use scarseg_imaging::view::{Overlay, Window, rgba};
use scarseg_imaging::{ErrorKind, ImagingError, Limits, Stack};
use scarseg_pipeline::manifest::model_folder_hint;
use scarseg_pipeline::outputs::{
    SEG_SUFFIX, SR_SUFFIX, SegMaker, aha_csv, aha_rows, dicom_seg, dicom_sr, doubts_text,
    flag_agreement, flag_agreement_text, label_map, left_out_note, mask_png, output_stem,
    report_csv, report_rows, stack_record, stack_summary,
};
use scarseg_pipeline::{AhaMap, NoAhaMap, RvInsertion, StackResult, analyse_stack};

use crate::Outcome;
use crate::data::{
    LABEL_SUFFIX, output_label_hint, output_label_stack, output_labels_in, sorted_entries,
    stem_and_ext,
};
use crate::files::{self, Visited, special_kind};
use crate::model_dir::{self, ModelRef};

/// Arguments of `scarseg predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// DICOM files or series folders, NIfTI (.nii, .nii.gz), PNG or JPEG files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder: per slice NAME_scar.png and NAME_myo.png (and NAME_overlay.png with
    /// --overlays), per stack NAME_labels.nii.gz
    /// (and for a DICOM stack NAME_seg.dcm and NAME_sr.dcm), report.csv and report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Model folder (manifest.json + weights), or a ZIP or tar archive of one; the bundled
    /// default model when absent.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// flex (CPU), `wgpu[:i]`, vulkan, `cuda[:i]` or libtorch (CPU, `tch` feature).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Probability threshold (the model's default when absent).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    /// Remove scar and myocardium components smaller than this many pixels.
    #[arg(long)]
    pub min_component_px: Option<usize>,
    /// The anterior insertion of the right ventricle, in degrees clockwise from 12 o'clock as the
    /// images are stored, around each slice's wall centre: report.json and aha.csv then give
    /// every stack's scar by AHA segment (1 to 16). One angle for every slice (300), or angles
    /// marked on some slices, numbered from 1 in the report's order (1:300,8:330): the slices
    /// between take angles between the marks, those beyond the nearest mark's; or `auto`, each
    /// slice's suggested from the image where the RV's blood pool lies against the septum (the
    /// septum's side too; check it). For all the inputs given.
    #[arg(long, value_name = "DEG|SLICE:DEG,...|auto", allow_negative_numbers = true, value_parser = parse_insertion)]
    pub rv_insertion: Option<InsertionArg>,
    /// With --rv-insertion: the septum runs clockwise from the insertion (images stored
    /// mirrored); otherwise counterclockwise, as the standard short-axis display has it.
    #[arg(long, requires = "rv_insertion")]
    pub septum_clockwise: bool,
    /// With --rv-insertion: which end of each stack is the base. auto takes the wider end.
    #[arg(long, value_enum, default_value = "auto", requires = "rv_insertion")]
    pub base: BaseEnd,
    /// With --rv-insertion: take every slice at this level instead of splitting the stack into
    /// thirds (a single slice, or two, known to be basal, mid or apical).
    #[arg(long, value_enum, requires = "rv_insertion", conflicts_with = "base")]
    pub aha_level: Option<AhaLevel>,
    /// A folder of label volumes (EMIDEC values 0-4) that correct the network's masks:
    /// `NAME_labels.nii.gz` (or `.nii`, `.png`), else a DICOM segmentation `NAME_seg.dcm`, for
    /// the stack written as NAME (this command's own outputs edited in another tool, the page's
    /// exported labels, a reader's contours). Where a volume differs from the network's masks it
    /// wins; masks, label volumes and reports then follow it and say what was changed. May be
    /// the output folder.
    #[arg(long, value_name = "DIR")]
    pub corrections: Option<PathBuf>,
    /// Also write, per slice, NAME_overlay.png: the image with the scar (yellow) and myocardium
    /// (cyan) outlines drawn on it, in the window the page opens the stack with (the scanner's
    /// stored one, else the 1st to 99th percentile of its first slice), to look the results over
    /// without a viewer.
    #[arg(long)]
    pub overlays: bool,
    /// Write no DICOM segmentation (`NAME_seg.dcm`) or measurement report (`NAME_sr.dcm`) of
    /// DICOM stacks. They repeat their series' patient and study attributes (name, ID, birth
    /// date), as they must to join the study; the masks, label volumes and reports carry none.
    #[arg(long)]
    pub no_dicom_seg: bool,
    /// Sign the measurement reports (`NAME_sr.dcm`) as reviewed by this person, a DICOM person
    /// name ("Family^Given"): they are then VERIFIED, with the person as their verifying
    /// observer and an observer beside the device; without it they are UNVERIFIED. For results
    /// a reader has checked (say, with `--corrections`), not the network's alone.
    #[arg(
        long,
        value_name = "NAME",
        requires = "verifying_organization",
        conflicts_with = "no_dicom_seg"
    )]
    pub verified_by: Option<String>,
    /// With --verified-by: the verifier's organization (a hospital, a department).
    #[arg(long, value_name = "ORGANIZATION", requires = "verified_by")]
    pub verifying_organization: Option<String>,
}

/// Lays the label volume `--corrections` holds for the stack written as `name` over its
/// result. `Ok(None)`: no volume for it. `Err`: one that does not fit the stack (the line
/// names it), so the stack is reported and skipped rather than its masks written uncorrected.
fn corrected(
    dir: &Path,
    name: &str,
    stack: &Stack,
    result: &StackResult,
    options: &PostprocessOptions,
    limits: &Limits,
) -> Result<Option<(PathBuf, StackResult)>, String> {
    let Some(file) = output_labels_in(dir, name) else {
        return Ok(None);
    };
    let shown = file.display().to_string();
    let bytes = files::read(&file, limits).map_err(|e| format!("{e:#}"))?;
    let maps = labels_for(&stack.slices, &stack.name, &shown, &bytes, limits)?;
    Ok(Some((file, result.towards_labels(stack, options, &maps).0)))
}

/// The label files in `dir` that no stack of this run used: a name that matches no output
/// (a typo, another run's inputs) would otherwise go unnoticed.
fn unused_corrections(dir: &Path, used: &[PathBuf]) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir, "cannot list the corrections folder")?
        .into_iter()
        .filter(|p| {
            // A stack's other label files (its segmentation beside the volume that corrected
            // it, in predict's own output folder) are not strays.
            let stack = |p: &Path| {
                output_label_stack(&p.file_name().unwrap_or_default().to_string_lossy())
                    .map(str::to_string)
            };
            p.is_file() && stack(p).is_some() && !used.iter().any(|u| stack(u) == stack(p))
        })
        .collect())
}

/// A level every slice is taken at, for the AHA segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AhaLevel {
    /// Segments 1 to 6.
    Basal,
    /// Segments 7 to 12.
    Mid,
    /// Segments 13 to 16.
    Apical,
}

/// Which end of a stack is the base, for the AHA segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaseEnd {
    /// The end where the wall is wider.
    Auto,
    /// The first slice.
    First,
    /// The last slice.
    Last,
}

/// An angle in degrees, any finite value, brought into [0, 360).
fn parse_angle(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(a) if a.is_finite() => Ok(a.rem_euclid(360.0)),
        _ => Err(format!(
            "{text:?} is not an angle in degrees (a number such as 300)"
        )),
    }
}

/// `--rv-insertion`: one angle for every slice, or angles marked on some.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertionArg {
    /// Every slice at this angle, degrees in [0, 360).
    Everywhere(f64),
    /// (slice number from 1, angle in [0, 360)), in the order given.
    Slices(Vec<(usize, f64)>),
    /// Suggested from each stack's images (`StackResult::suggested_insertion`).
    Auto,
}

/// `300`, or `1:300,8:330` (slice numbers from 1, each once).
fn parse_insertion(text: &str) -> Result<InsertionArg, String> {
    if text.trim() == "auto" {
        return Ok(InsertionArg::Auto);
    }
    if !text.contains(':') {
        return parse_angle(text).map(InsertionArg::Everywhere);
    }
    let mut marks: Vec<(usize, f64)> = Vec::new();
    for part in text.split(',') {
        let (slice, angle) = part.split_once(':').unwrap_or((part, ""));
        let slice = match slice.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(format!(
                    "{part:?}: {slice:?} is not a slice number (1 for the first slice)"
                ));
            }
        };
        if marks.iter().any(|(n, _)| *n == slice) {
            return Err(format!("slice {slice} is marked twice"));
        }
        marks.push((slice, parse_angle(angle)?));
    }
    Ok(InsertionArg::Slices(marks))
}

/// The stack's scar by AHA segment, or why there is none; `None` without `--rv-insertion`.
fn aha_map(
    stack: &Stack,
    result: &StackResult,
    args: &PredictArgs,
) -> Option<Result<AhaMap, String>> {
    let n = stack.slices.len();
    let insertion = match args.rv_insertion.as_ref()? {
        InsertionArg::Auto => match result.suggested_insertion(stack) {
            Some(suggested) => suggested,
            None => {
                return Some(Err(
                    "no AHA segments: no right ventricle found beside the wall \
                     to suggest the insertion from (give --rv-insertion DEG)"
                        .into(),
                ));
            }
        },
        InsertionArg::Everywhere(deg) => RvInsertion::everywhere(
            AhaOrientation {
                anterior_insertion_deg: *deg,
                septum_clockwise: args.septum_clockwise,
            },
            n,
        ),
        InsertionArg::Slices(marks) => {
            if let Some((k, _)) = marks.iter().find(|(k, _)| *k > n) {
                return Some(Err(format!(
                    "no AHA segments: --rv-insertion marks slice {k}, but the stack has {n}"
                )));
            }
            let mut marks_deg = vec![None; n];
            for (k, deg) in marks {
                marks_deg[k - 1] = Some(*deg);
            }
            RvInsertion {
                marks_deg,
                septum_clockwise: args.septum_clockwise,
            }
        }
    };
    let base_first = match args.base {
        BaseEnd::First => Some(true),
        BaseEnd::Last => Some(false),
        BaseEnd::Auto => None,
    };
    Some(
        result
            .aha_map_marked(
                stack,
                &insertion,
                base_first,
                args.aha_level.map(|l| match l {
                    AhaLevel::Basal => WallLevel::Basal,
                    AhaLevel::Mid => WallLevel::Mid,
                    AhaLevel::Apical => WallLevel::Apical,
                }),
            )
            .map_err(|e| match e {
                NoAhaMap::BaseUnknown => {
                    format!("no AHA segments: {e} (give --base first or --base last)")
                }
                NoAhaMap::TooFewSlices => {
                    format!("no AHA segments: {e} (give it with --aha-level basal, mid or apical)")
                }
                _ => format!("no AHA segments: {e}"),
            }),
    )
}

/// What `--rv-insertion auto` suggested on a stack, for the user to check.
fn suggestion_note(input: &str, map: &AhaMap) -> String {
    let marks: Vec<String> = map
        .insertion_marks_deg
        .iter()
        .enumerate()
        .filter_map(|(k, m)| Some(format!("{} at {:.0}", k + 1, (*m)?)))
        .collect();
    format!(
        "{input}: RV insertion suggested from the image on slice(s) {} degrees, the septum {} \
         of it: check it (insertion_marks_deg in report.json)",
        marks.join(", "),
        if map.septum_clockwise {
            "clockwise"
        } else {
            "counterclockwise"
        }
    )
}

/// One unit of work: a file, or the DICOM files of one folder as a series.
#[derive(Debug)]
pub enum Input {
    /// A single file (any format).
    File(PathBuf),
    /// DICOM files of one folder.
    Series(PathBuf, Vec<PathBuf>),
    /// A ZIP or tar archive (a web PACS's study download, a tarball), read as the folder it
    /// holds.
    Archive(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(p) | Input::Archive(p) => {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                stem_and_ext(&n).0.to_string()
            }
            Input::Series(dir, _) => dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
        }
    }
}

/// Files a folder walk leaves out: hidden ones, reports, and what `predict` itself writes (label
/// volumes, segmentations, the masks and overlays), so that a folder that holds an earlier run's
/// results does not have its masks analysed as images. Named on the command line, they are read.
fn is_side_file(name: &str) -> bool {
    let (stem, ext) = stem_and_ext(name);
    name.starts_with('.')
        || stem.ends_with(LABEL_SUFFIX)
        || name.ends_with(SEG_SUFFIX)
        || name.ends_with(SR_SUFFIX)
        || ["_scar.png", "_myo.png", "_overlay.png"]
            .iter()
            .any(|s| name.ends_with(s))
        || matches!(ext, ".json" | ".csv" | ".txt" | ".md")
}

/// The inputs a run's paths hold, and what walking their folders left out, said as notes.
pub struct Expanded {
    pub inputs: Vec<Input>,
    pub notes: Vec<String>,
}

/// Expands the command line's paths: files stay files; a folder's DICOM files (sniffed, any
/// name) become one series per folder, its other image files single inputs. Left out, with a
/// note: a folder reached again through a link, and a folder's files that are images neither by
/// their first bytes nor by their names (`worth_decoding`: a CD's viewer, an autorun file).
/// Anything else that is not a regular file (a pipe, a device) becomes an input that fails when
/// read, so it is reported and skipped.
pub fn expand(paths: &[PathBuf]) -> Result<Expanded> {
    let mut out = Expanded {
        inputs: Vec::new(),
        notes: Vec::new(),
    };
    let mut visited = Visited::default();
    for path in paths {
        if path.is_dir() {
            expand_dir(path, &mut out, &mut visited)?;
        } else if path.exists() {
            if visited.first_visit(path) {
                out.inputs.push(file_input(path.clone()));
            } else {
                out.notes.push(once(path));
            }
        } else {
            bail!("{}: no such file or folder", path.display());
        }
    }
    Ok(out)
}

/// A file as an input: an archive where its first bytes say ZIP or tar (gzipped or not), else
/// a file. Not opened to
/// sniff it where it is not a regular file (a FIFO would block there).
fn file_input(path: PathBuf) -> Input {
    if special_kind(&path).is_none() && is_archive(&files::head(&path)) {
        Input::Archive(path)
    } else {
        Input::File(path)
    }
}

/// The note for a file met a second time.
fn once(path: &Path) -> String {
    format!(
        "{}: already read (named twice, or also in a folder given); read once",
        path.display()
    )
}

fn expand_dir(dir: &Path, out: &mut Expanded, visited: &mut Visited) -> Result<()> {
    if !visited.first_visit(dir) {
        out.notes.push(format!(
            "{}: a folder already read (a link back to it, or named twice); not read again",
            dir.display()
        ));
        return Ok(());
    }
    let entries = sorted_entries(dir, "cannot list")?;
    let mut dicom = Vec::new();
    let mut not_images = Vec::new();
    for path in entries {
        if path.is_dir() {
            expand_dir(&path, out, visited)?;
            continue;
        }
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if is_side_file(&name) {
            continue;
        }
        // A file met again (named on the command line too, or through a link) is read once.
        if !visited.first_visit(&path) {
            out.notes.push(once(&path));
            continue;
        }
        // Not opened to sniff it: a FIFO would block there.
        if special_kind(&path).is_some() {
            out.inputs.push(Input::File(path));
            continue;
        }
        let head = files::head(&path);
        if is_archive(&head) {
            out.inputs.push(Input::Archive(path));
        } else if sniff(&head) == Some(Format::Dicom) {
            dicom.push(path);
        } else if worth_decoding(&name, &head) {
            out.inputs.push(Input::File(path));
        } else {
            not_images.push(name);
        }
    }
    if !dicom.is_empty() {
        out.inputs.push(Input::Series(dir.to_path_buf(), dicom));
    }
    if !not_images.is_empty() {
        out.notes
            .push(format!("{}: {}", dir.display(), left_out_note(&not_images)));
    }
    Ok(())
}

/// One input, decoded.
pub struct Decoded {
    /// The stacks to analyse: one per series and acquisition the input holds (a PSIR
    /// acquisition's magnitude and real images are two); none when no file held an image.
    pub stacks: Vec<Stack>,
    /// Files that could not be read or decoded: reported, and the run exits 2.
    pub errors: Vec<String>,
    /// A folder whose DICOM files hold no image (a DICOMDIR at the root of an export): said,
    /// but not an error, since the folder was found by walking the paths given.
    pub notes: Vec<String>,
}

/// Decodes one input; per-file failures inside a series come back beside the stacks.
pub fn decode(input: &Input, limits: &Limits) -> Decoded {
    let failed = |errors| Decoded {
        stacks: vec![],
        errors,
        notes: vec![],
    };
    match input {
        Input::File(path) => {
            let bytes = match files::read(path, limits) {
                Ok(b) => b,
                Err(e) => return failed(vec![format!("{e:#}")]),
            };
            match decode_file_stacks(&path.display().to_string(), &bytes, limits) {
                Ok(stacks) => Decoded {
                    stacks,
                    errors: vec![],
                    notes: vec![],
                },
                Err(e) => failed(vec![e.to_string()]),
            }
        }
        Input::Series(dir, files) => {
            let mut errors = Vec::new();
            let mut loaded = Vec::new();
            for f in files {
                match files::read(f, limits) {
                    Ok(b) => loaded.push((f.display().to_string(), b)),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            decode_series(&dir.display().to_string(), &loaded, errors, limits)
        }
        Input::Archive(path) => {
            let bytes = match files::read(path, limits) {
                Ok(b) => b,
                Err(e) => return failed(vec![format!("{e:#}")]),
            };
            match unpack(&path.display().to_string(), bytes, limits) {
                Ok(unpacked) => decode_archive(unpacked, limits),
                Err(e) => failed(vec![e.to_string()]),
            }
        }
    }
}

/// One folder's DICOM files `loaded` as the stacks they hold, with the files that failed to
/// read (`errors`) and to decode; a folder of objects without an image (a DICOMDIR) is a note.
fn decode_series(
    name: &str,
    loaded: &[(String, Vec<u8>)],
    mut errors: Vec<String>,
    limits: &Limits,
) -> Decoded {
    let (stacks, errs) = decode_series_stacks(name, loaded, limits);
    let no_image = |e: &ImagingError| matches!(e.kind, ErrorKind::NotAnImage(_));
    if stacks.is_empty() && errors.is_empty() && errs.iter().all(no_image) {
        return Decoded {
            stacks,
            errors,
            notes: errs.iter().map(|e| format!("{e}; left out")).collect(),
        };
    }
    errors.extend(errs.into_iter().map(|e| e.to_string()));
    Decoded {
        stacks,
        errors,
        notes: vec![],
    }
}

/// An archive's files as a folder's are read: the DICOM files of each folder in it a series,
/// every other image file on its own, what is no image left out with a note, and the entries
/// that did not read reported.
fn decode_archive(unpacked: Unpacked, limits: &Limits) -> Decoded {
    let mut out = Decoded {
        stacks: vec![],
        errors: unpacked.errors.iter().map(|e| e.to_string()).collect(),
        notes: vec![],
    };
    let mut folders: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>> =
        Default::default();
    let mut not_images = Vec::new();
    for (path, bytes) in unpacked.files {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if sniff(&bytes) == Some(Format::Dicom) {
            folders
                .entry(folder.to_string())
                .or_default()
                .push((path.clone(), bytes));
        } else if is_side_file(name) || !worth_decoding(&path, &bytes) {
            not_images.push(path.clone());
        } else {
            match decode_file_stacks(&path, &bytes, limits) {
                Ok(stacks) => out.stacks.extend(stacks),
                Err(e) => out.errors.push(e.to_string()),
            }
        }
    }
    for (folder, loaded) in folders {
        let series = decode_series(&folder, &loaded, vec![], limits);
        out.stacks.extend(series.stacks);
        out.errors.extend(series.errors);
        out.notes.extend(series.notes);
    }
    if !not_images.is_empty() {
        out.notes.extend(model_folder_hint(&not_images));
        out.notes.push(left_out_note(&not_images));
    }
    out
}

/// The output stem of a stack read from an archive: its folder's or file's name in the archive,
/// as a folder's or a file's would be outside one.
fn archive_member_stem(stack: &Stack) -> String {
    let name = match &stack.part {
        Some(part) => stack
            .name
            .strip_suffix(&format!(" ({part})"))
            .unwrap_or(&stack.name),
        None => &stack.name,
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    stem_and_ext(last).0.to_string()
}

/// What a label volume changed on a stack, for the terminal: pixels and slices, the burden
/// before and after, and the network's Dice against the corrected masks.
fn correction_line(input: &str, file: &Path, stack: &Stack, result: &StackResult) -> String {
    let slices = result.slices.iter().filter(|r| r.edited_px > 0).count();
    let percent = |b: Option<f64>| b.map_or("-".to_string(), |b| format!("{b:.2}%"));
    let dice = |d: Option<f64>| d.map_or("-".to_string(), |d| format!("{d:.3}"));
    let (scar, myo) = result.network_dice();
    format!(
        "{input}: corrected by {}: {} px on {slices} of {} slice(s); burden {} (network {}); \
         network Dice scar {}, myocardium {}",
        file.display(),
        result.edited_px(),
        stack.slices.len(),
        percent(result.burden_percent),
        percent(result.network_burden_percent(stack)),
        dice(scar),
        dice(myo),
    )
}

/// Writes one stack's masks, label volume and, for a DICOM stack, its DICOM segmentation and
/// measurement report; returns the files written and why a DICOM stack got none.
fn write_outputs(
    out: &Path,
    name: &str,
    stack: &Stack,
    result: &StackResult,
    maker: Option<&SegMaker<'_>>,
    overlays: bool,
) -> Result<(Vec<PathBuf>, Option<String>)> {
    let mut written = Vec::new();
    let mut put = |file: String, bytes: Vec<u8>| -> Result<()> {
        let path = out.join(file);
        std::fs::write(&path, bytes)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        written.push(path);
        Ok(())
    };
    let many = stack.slices.len() > 1;
    // One window for the stack, as the page opens it, and outlines that leave the image seen.
    let overlays = stack.slices.first().filter(|_| overlays).map(|first| {
        let outlines = Overlay {
            outline: true,
            ..Default::default()
        };
        (Window::initial(first), outlines)
    });
    let mut labels = Vec::new();
    for (k, (r, s)) in result.slices.iter().zip(&stack.slices).enumerate() {
        let stem = if many {
            format!("{name}_{k:03}")
        } else {
            name.to_string()
        };
        put(format!("{stem}_scar.png"), mask_png(&r.scar, s.spacing_mm)?)?;
        put(
            format!("{stem}_myo.png"),
            mask_png(&r.myocardium, s.spacing_mm)?,
        )?;
        if let Some((window, outlines)) = &overlays {
            let image = rgba(s, window, &r.scar, &r.myocardium, &[], outlines);
            put(
                format!("{stem}_overlay.png"),
                png_rgba8(s.rows, s.cols, &image, Some(s.spacing_mm))?,
            )?;
        }
        labels.extend(label_map(&r.scar, &r.myocardium));
    }
    put(
        format!("{name}{LABEL_SUFFIX}.nii.gz"),
        nifti1(&stack.slices, NiftiData::U8(&labels), true)?,
    )?;
    // A segmentation that cannot be written (no frame of reference, mixed grids) costs only
    // itself: the masks and volumes above stand.
    let mut no_seg = None;
    if let Some(maker) = maker
        && stack.slices.iter().all(|s| s.dicom.is_some())
    {
        match dicom_seg(stack, result, maker)
            .and_then(|seg| Ok((seg, dicom_sr(stack, result, maker)?)))
        {
            Ok((seg, sr)) => {
                put(format!("{name}{SEG_SUFFIX}"), seg)?;
                put(format!("{name}{SR_SUFFIX}"), sr)?;
            }
            Err(e) => no_seg = Some(e.message),
        }
    }
    Ok((written, no_seg))
}

/// Runs `scarseg predict`.
pub fn run(args: PredictArgs) -> Result<Outcome> {
    let Expanded {
        inputs,
        notes: walk_notes,
    } = expand(&args.inputs)?;
    if inputs.is_empty() {
        if walk_notes.is_empty() {
            bail!("no image files in the given folders");
        }
        bail!(
            "no image files in the given folders ({})",
            walk_notes.join("; ")
        );
    }
    let device = crate::device::parse(&args.device)?;
    let source = ModelRef::from_arg(args.weights.as_ref());
    let model = model_dir::load(&source, &device)?;
    let mut options: PostprocessOptions = model.manifest.postprocessing;
    if let Some(t) = args.threshold {
        crate::check_threshold(t)?;
        options.threshold = t;
    }
    if let Some(m) = args.min_component_px {
        options.min_component_px = m;
    }
    if args.rv_insertion == Some(InsertionArg::Auto) && args.septum_clockwise {
        bail!(
            "--septum-clockwise: with --rv-insertion auto the image tells which side the septum \
             is on"
        );
    }
    // A signature that cannot be written would fail every report: said once, before any work.
    if let (Some(name), Some(organization)) = (&args.verified_by, &args.verifying_organization) {
        let verifier = Verifier {
            name,
            organization,
            datetime: "",
        };
        if let Err(why) = verifier.check() {
            bail!("--verified-by: {why}");
        }
    }
    if let Some(dir) = &args.corrections
        && !dir.is_dir()
    {
        bail!("{}: no such folder (--corrections)", dir.display());
    }
    crate::output_folder(&args.out)?;
    let limits = Limits::default();
    let preprocessing = &model.manifest.preprocessing;
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| ProgressBar::new(inputs.len() as u64));
    let mut rows = Vec::new();
    let mut aha = Vec::new();
    let mut reports = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut notes: Vec<String> = walk_notes;
    let mut used = std::collections::BTreeMap::<String, usize>::new();
    let mut used_corrections = Vec::new();
    // DICOM's dates and times are local, as the scanner's are.
    let now = chrono::Local::now();
    let (date, time) = (
        now.format("%Y%m%d").to_string(),
        now.format("%H%M%S").to_string(),
    );
    let signed_at = format!("{date}{time}");
    let maker = SegMaker {
        model_name: &model.manifest.name,
        weights_sha256: &model.manifest.weights.sha256,
        date: &date,
        time: &time,
        verified_by: args
            .verified_by
            .as_deref()
            .zip(args.verifying_organization.as_deref())
            .map(|(name, organization)| Verifier {
                name,
                organization,
                datetime: &signed_at,
            }),
    };
    let seg_maker = (!args.no_dicom_seg).then_some(&maker);
    for input in &inputs {
        let decoded = decode(input, &limits);
        errors.extend(decoded.errors);
        notes.extend(decoded.notes);
        for stack in decoded.stacks {
            // The decoder named the stack after the input (its displayed path), with the part
            // for one of several: each is reported under that name.
            let input_name = stack.name.clone();
            // What the decoder assumed (1 mm pixels without a spacing, say) changes what the
            // numbers mean; it is in report.json too, but a terminal user reads stderr.
            for w in &stack.warnings {
                match input {
                    Input::File(_) | Input::Archive(_) => {
                        eprintln!("warning: {input_name}: {w}")
                    }
                    // A series' warnings name their file already.
                    Input::Series(..) => eprintln!("warning: {w}"),
                }
            }
            match futures_lite::future::block_on(analyse_stack(
                &model.model,
                &device,
                &stack,
                preprocessing,
                &options,
            )) {
                Ok(result) => {
                    // Two inputs with one stem (a.png, a.nii) get distinct output names.
                    let stem = match input {
                        Input::Archive(_) => archive_member_stem(&stack),
                        _ => input.name(),
                    };
                    let base = output_stem(&stem, stack.part.as_deref());
                    let count = used.entry(base.clone()).or_insert(0);
                    let name = if *count == 0 {
                        base
                    } else {
                        format!("{base}-{count}")
                    };
                    *count += 1;
                    let mut correction = None;
                    let result = match args
                        .corrections
                        .as_deref()
                        .map(|dir| corrected(dir, &name, &stack, &result, &options, &limits))
                    {
                        None => result,
                        // A folder that corrects some cases, not all: said, since a misnamed
                        // file would otherwise leave a case uncorrected without a sign.
                        Some(Ok(None)) => {
                            notes.push(format!(
                                "{input_name}: no {} in the corrections folder; the \
                                 network's masks stand",
                                output_label_hint(&name)
                            ));
                            result
                        }
                        Some(Ok(Some((file, result)))) => {
                            eprintln!("{}", correction_line(&input_name, &file, &stack, &result));
                            used_corrections.push(file.clone());
                            correction = Some(file);
                            result
                        }
                        Some(Err(why)) => {
                            errors.push(why);
                            continue;
                        }
                    };
                    let (written, no_seg) =
                        write_outputs(&args.out, &name, &stack, &result, seg_maker, args.overlays)?;
                    // The result in a line on stdout, as the page's report opens with it, so a
                    // terminal user sees it without opening the reports; and the flag's doubt,
                    // where the model's measured agreement leaves it uncertain.
                    println!("{}.", stack_summary(&name, &stack, &result));
                    if let Some((b, limits)) =
                        result.burden_percent.zip(model.manifest.burden_limits())
                        && flag_agreement(b, limits).2
                    {
                        println!("  {}", flag_agreement_text(b, limits));
                    }
                    // Outlines that are not a ring round a bright cavity: a wall the network
                    // missed, or an image that is no short-axis LGE slice.
                    if let Some(text) = doubts_text(&result) {
                        println!("  {text}.");
                    }
                    if let Some(why) = no_seg {
                        notes.push(format!("{input_name}: no DICOM segmentation: {why}"));
                    }
                    rows.extend(report_rows(
                        &input_name,
                        &stack,
                        &result,
                        &model.manifest.name,
                        &model.manifest.weights.sha256,
                        model.manifest.burden_limits(),
                    ));
                    let mut record = stack_record(
                        &input_name,
                        &stack,
                        &result,
                        &stack.warnings,
                        model.manifest.burden_limits(),
                    );
                    record["output_name"] = name.clone().into();
                    let seg_file = format!("{name}{SEG_SUFFIX}");
                    if written.iter().any(|p| p.ends_with(&seg_file)) {
                        record["dicom_seg"] = seg_file.into();
                        record["dicom_sr"] = format!("{name}{SR_SUFFIX}").into();
                    }
                    if let Some(file) = correction {
                        record["corrections"] = file.display().to_string().into();
                    }
                    match aha_map(&stack, &result, &args) {
                        Some(Ok(map)) => {
                            if args.rv_insertion == Some(InsertionArg::Auto) {
                                notes.push(suggestion_note(&input_name, &map));
                            }
                            record["aha_segments"] = serde_json::to_value(&map)?;
                            aha.extend(aha_rows(&input_name, &map));
                        }
                        Some(Err(why)) => notes.push(format!("{input_name}: {why}")),
                        None => {}
                    }
                    reports.push(record);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(dir) = &args.corrections {
        for file in unused_corrections(dir, &used_corrections)? {
            notes.push(format!(
                "{}: matches no stack written in this run; not used",
                file.display()
            ));
        }
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    for e in &errors {
        eprintln!("skipped: {e}");
    }
    std::fs::write(args.out.join("report.csv"), report_csv(&rows)?)
        .with_context(|| format!("{}: cannot write report.csv", args.out.display()))?;
    if args.rv_insertion.is_some() {
        std::fs::write(args.out.join("aha.csv"), aha_csv(&aha)?)
            .with_context(|| format!("{}: cannot write aha.csv", args.out.display()))?;
    }
    let report = serde_json::json!({
        "weights": {
            "name": model.manifest.name,
            "file": model.manifest.weights.file,
            "sha256": model.manifest.weights.sha256,
            "folder": source.to_string(),
        },
        "postprocessing": options,
        "input_size": preprocessing.size,
        "heart_crop": preprocessing.roi,
        "corrections": args.corrections.as_ref().map(|d| d.display().to_string()),
        "inputs": reports,
        "errors": errors,
        "notes": notes,
        "notice": "ScarSeg is not a certified medical device; results are for research and teaching.",
    });
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    // An input may hold several stacks, each reported on its own.
    eprintln!(
        "{} stack(s) from {} input(s) analysed, {} error(s); results in {}",
        reports.len(),
        inputs.len(),
        errors.len(),
        args.out.display()
    );
    if reports.is_empty() {
        bail!("no input could be analysed");
    }
    Ok(if errors.is_empty() {
        Outcome::Done
    } else {
        Outcome::Partial
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_files_are_not_inputs() {
        assert!(is_side_file("case_labels.nii.gz"));
        assert!(is_side_file("case_seg.dcm") && is_side_file("case_sr.dcm"));
        assert!(!is_side_file("case.dcm"));
        assert!(is_side_file("cases.json"));
        assert!(is_side_file(".DS_Store"));
        assert!(!is_side_file("IM0001"));
        assert!(!is_side_file("case.nii.gz"));
        // predict's own masks and overlays, of a file and of a stack's slice.
        for name in ["case_scar.png", "case_myo.png", "case_003_overlay.png"] {
            assert!(is_side_file(name), "{name}");
        }
        assert!(!is_side_file("scar.png"));
        assert!(!is_side_file("case_scar.nii.gz"));
    }
}
