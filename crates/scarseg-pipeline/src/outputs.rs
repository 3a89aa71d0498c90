//! What the CLI and the page write from a result, defined once so their files agree: mask PNGs,
//! the label map of the NIfTI label volume, a stack's volumes, the JSON reports' per-stack and
//! per-slice records, the CSV report, the AHA segments' CSV, and a DICOM stack's DICOM
//! segmentation.

use scarseg_imaging::depth::ScarDepth;
use scarseg_imaging::encode::{EncodeError, png_grey8};
use scarseg_imaging::metrics::{
    CORONARY_TERRITORIES, MYOCARDIAL_DENSITY_G_PER_ML, Mask, WallLevel, high_risk,
    myocardial_mass_g,
};
use scarseg_imaging::quality::listed;
use scarseg_imaging::seg::{self, AlgorithmType, Code, Instance, Segment, pack_bits};
use scarseg_imaging::sr::{Group, Measurement, SegReference, Verifier, measurement_report};
use scarseg_imaging::{Slice, Stack};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AhaMap, SliceResult, StackResult};

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
/// burdens, the >5% flag and, for a two-pass model, the heart crop.
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
        "high_risk": result.burden_percent.map(high_risk),
        "fwhm_burden_percent": result.fwhm_burden_percent,
        "nsd_burden_percent": result.nsd_burden_percent,
        "gray_zone_area_mm2": result.gray_zone_area_mm2,
        "gray_zone_percent": result.gray_zone_percent(),
        "heart_crop": result.roi,
        "sector_scar_percent": result.sector_scar_percent,
        "transmural_sectors": result.transmural_sectors(),
        "wall_sectors": result.wall_sectors(),
        "scar_depth": depth_record(result.scar_depth),
        "edited_px": result.edited_px,
        "network_burden_percent": result.network_burden_percent(),
        // Why the outline may not be a short-axis left ventricle (`doubts_text`); empty for a
        // well-formed ring.
        "doubts": result.doubts.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// Where in the wall scar lies, for the JSON reports: the thirds' shares of the scar (inner,
/// middle, outer; null without scar), its regions and how many are subendocardial-based; null
/// where the wall is not closed.
fn depth_record(depth: Option<ScarDepth>) -> serde_json::Value {
    depth.map_or(serde_json::Value::Null, |d| {
        serde_json::json!({
            "thirds_percent": d.thirds_percent(),
            "regions": d.regions,
            "endocardial_regions": d.endocardial_regions,
        })
    })
}

/// What a model's measured agreement says of a stack's flag. `limits` are the 95% limits of
/// agreement of its burden with the reference on its test set (Bland-Altman, model minus
/// reference, percentage points; [`crate::manifest::Manifest::burden_limits`]): with 95%
/// confidence the reference burden lies in [burden - upper, burden - lower] (within 0-100), and
/// the flag is uncertain when the 5% threshold lies in that range. Returns (reference low,
/// reference high, uncertain).
pub fn flag_agreement(burden: f64, limits: (f64, f64)) -> (f64, f64, bool) {
    let (lower, upper) = limits;
    let low = (burden - upper).clamp(0.0, 100.0);
    let high = (burden - lower).clamp(0.0, 100.0);
    let t = scarseg_imaging::metrics::HIGH_RISK_BURDEN_PERCENT;
    (low, high, low <= t && t < high)
}

/// [`flag_agreement`] as the report's sentence.
pub fn flag_agreement_text(burden: f64, limits: (f64, f64)) -> String {
    let (low, high, uncertain) = flag_agreement(burden, limits);
    let verdict = if uncertain {
        "the 5% threshold lies within it, so the flag is uncertain"
    } else {
        "the 5% threshold lies outside it"
    };
    format!(
        "On its test set this model's burden was within {:+.1} to {:+.1} points of the \
         reference's in 95% of cases; by that, the reference burden here is {low:.1}% to \
         {high:.1}%: {verdict}.",
        limits.0, limits.1
    )
}

/// What walking a folder left out (`scarseg_imaging::decode::worth_decoding`), in words that
/// `scarseg predict`'s note and the page share: how many files, and the first five names.
pub fn left_out_note(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let more = names.len().saturating_sub(SHOWN);
    format!(
        "left out {} file(s) that are images neither by their content nor by their names: {}{}",
        names.len(),
        names[..names.len().min(SHOWN)].join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// A stack's result in a sentence, as the page's report opens with it and `scarseg predict`
/// prints it: the burden and flag, the scar's and myocardium's volumes (mL) and masses (g), and
/// the slices.
pub fn stack_summary(name: &str, stack: &Stack, result: &StackResult) -> String {
    let (scar_mm3, myo_mm3) = result.volumes_mm3(stack);
    // Without myocardium there is no burden to weigh against 5%: "not above 5%" would read as
    // a finding.
    let burden = match result.burden_percent {
        Some(b) if result.high_risk => format!("{b:.2}% - above 5%: high risk"),
        Some(b) => format!("{b:.2}% - not above 5%"),
        None => "n/a: no myocardium found".into(),
    };
    format!(
        "{name}: scar burden {burden}; scar {:.2} mL ({:.2} g), myocardium {:.2} mL ({:.2} g at \
         {} g/mL) over {} slice(s)",
        scar_mm3 / 1000.0,
        myocardial_mass_g(scar_mm3),
        myo_mm3 / 1000.0,
        myocardial_mass_g(myo_mm3),
        MYOCARDIAL_DENSITY_G_PER_ML,
        stack.slices.len(),
    )
}

/// The slices whose outlines a reader should look at before trusting the stack's figures, in a
/// sentence, as the page's report gives it and `scarseg predict` prints it (the first five, then
/// how many more); `None` where every slice's outline is a closed ring round a bright cavity, or
/// has no myocardium (which [`stack_summary`] says).
pub fn doubts_text(result: &StackResult) -> Option<String> {
    let n = result.slices.len();
    let doubted: Vec<String> = result
        .slices
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.doubts.is_empty())
        .map(|(k, r)| {
            let why: Vec<String> = r.doubts.iter().map(ToString::to_string).collect();
            let why = why.join(" and ");
            if n == 1 {
                why
            } else {
                format!("slice {} ({}): {why}", k + 1, r.source)
            }
        })
        .collect();
    let which = match (doubted.len(), n) {
        (0, _) => return None,
        (_, 1) => "Check the outline".to_string(),
        (d, n) => format!("Check the outlines of {d} of {n} slices"),
    };
    let shown = doubted.len().min(5);
    let more = match doubted.len() - shown {
        0 => String::new(),
        m => format!("; and {m} more"),
    };
    Some(format!(
        "{which}: {}{more}. The network may have missed the wall, or this is not a short-axis \
         bright-blood LGE image of the left ventricle, the only kind the model was made for",
        doubted[..shown].join("; ")
    ))
}

/// One analysed input's record in the JSON reports: stack burden, flag and volumes, the
/// warnings met while reading it, and its slices' records. `burden_limits`, the model's
/// agreement limits where its manifest has them, add the flag's weighing
/// ([`flag_agreement`]).
pub fn stack_record(
    input: &str,
    stack: &Stack,
    result: &StackResult,
    warnings: &[String],
    burden_limits: Option<(f64, f64)>,
) -> serde_json::Value {
    let (scar_mm3, myo_mm3) = result.volumes_mm3(stack);
    let (transmural, wall) = result.transmural_sectors();
    let (gray_percent, gray_mm3) = result.gray_zone(stack);
    let (scar_dice, myo_dice) = result.network_dice();
    serde_json::json!({
        "input": input,
        // Which stack of several in the input, or null.
        "part": stack.part,
        "burden_percent": result.burden_percent,
        "high_risk": result.high_risk,
        "flag_agreement": result.burden_percent.zip(burden_limits).map(|(b, limits)| {
            let (low, high, uncertain) = flag_agreement(b, limits);
            serde_json::json!({
                "limits_of_agreement_pp": [limits.0, limits.1],
                "reference_burden_percent": [low, high],
                "uncertain": uncertain,
            })
        }),
        "scar_volume_mm3": scar_mm3,
        "myocardium_volume_mm3": myo_mm3,
        // At 1.05 g/mL, as CMR reports LV mass and LGE in grams.
        "scar_mass_g": myocardial_mass_g(scar_mm3),
        "myocardium_mass_g": myocardial_mass_g(myo_mm3),
        "transmural_sectors": transmural,
        "wall_sectors": wall,
        "scar_depth": depth_record(result.scar_depth(stack)),
        "gray_zone_percent": gray_percent,
        "gray_zone_volume_mm3": gray_mm3,
        "edited_px": result.edited_px(),
        // The burden before corrections by hand (the burden itself without any).
        "network_burden_percent": result.network_burden_percent(stack),
        // The network's masks against the corrected ones, pooled over the stack (1 without
        // corrections).
        "network_scar_dice": scar_dice,
        "network_myocardium_dice": myo_dice,
        "warnings": warnings,
        "slices": result
            .slices
            .iter()
            .zip(&stack.slices)
            .zip(stack.disc_heights_mm())
            .map(|((r, s), h)| {
                let mut record = slice_record(r, s);
                record["disc_height_mm"] = h.into();
                record
            })
            .collect::<Vec<_>>(),
    })
}

/// The CSV report's columns, in order (each row is a [`ReportRow`]).
pub const CSV_COLUMNS: [&str; 35] = [
    "input",
    "level",
    "slice",
    "source",
    "scar_area_mm2",
    "myocardium_area_mm2",
    "scar_volume_mm3",
    "myocardium_volume_mm3",
    "scar_mass_g",
    "myocardium_mass_g",
    "burden_percent",
    "high_risk",
    "fwhm_burden_percent",
    "nsd2_burden_percent",
    "nsd3_burden_percent",
    "nsd5_burden_percent",
    "nsd6_burden_percent",
    "gray_zone_percent",
    "transmural_sectors",
    "wall_sectors",
    "scar_inner_third_percent",
    "scar_middle_third_percent",
    "scar_outer_third_percent",
    "scar_regions",
    "endocardial_scar_regions",
    "weights",
    "weights_sha256",
    "thickness_mm",
    "disc_height_mm",
    "edited_px",
    "network_burden_percent",
    "reference_burden_low_percent",
    "reference_burden_high_percent",
    "flag_uncertain",
    "doubts",
];

/// One row of the CSV report (`scarseg predict`'s `report.csv` and the page's export): a slice,
/// or a stack's totals. Every quantity's unit is in its column name, so a slice row and a stack
/// row never share a column with different units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// The input as given (file or folder).
    pub input: String,
    /// `slice` or `stack`.
    pub level: &'static str,
    /// Slice index in stack order (empty for stack rows).
    pub slice: Option<usize>,
    /// The slice's source (stack rows: the stack's name).
    pub source: String,
    /// Scar area, mm2 (slice rows).
    pub scar_area_mm2: Option<f64>,
    /// Myocardium area, mm2 (slice rows).
    pub myocardium_area_mm2: Option<f64>,
    /// Scar volume, mm3: area times disc height (slice rows), their sum (stack rows).
    pub scar_volume_mm3: f64,
    /// Myocardium volume, mm3, likewise.
    pub myocardium_volume_mm3: f64,
    /// Scar mass, g: the volume at the myocardium's 1.05 g/mL
    /// ([`scarseg_imaging::metrics::myocardial_mass_g`]).
    pub scar_mass_g: f64,
    /// Myocardium mass (the LV mass the stack covers), g, likewise.
    pub myocardium_mass_g: f64,
    /// Scar burden, percent (stack rows: volume-weighted); empty without myocardium.
    pub burden_percent: Option<f64>,
    /// Burden above 5%.
    pub high_risk: Option<bool>,
    /// FWHM burden on the network's myocardium, percent (slice rows).
    pub fwhm_burden_percent: Option<f64>,
    /// 2-SD burden, percent (slice rows).
    pub nsd2_burden_percent: Option<f64>,
    /// 3-SD burden, percent (slice rows).
    pub nsd3_burden_percent: Option<f64>,
    /// 5-SD burden, percent (slice rows).
    pub nsd5_burden_percent: Option<f64>,
    /// 6-SD burden, percent (slice rows).
    pub nsd6_burden_percent: Option<f64>,
    /// The gray zone (above 2 SD of remote, below the FWHM threshold), percent of the
    /// myocardium (stack rows: volume-weighted).
    pub gray_zone_percent: Option<f64>,
    /// Wall sectors whose scar exceeds half their myocardium (twelve per slice; stack rows: their
    /// sum).
    pub transmural_sectors: usize,
    /// Wall sectors that hold myocardium, likewise.
    pub wall_sectors: usize,
    /// The share of the scar in the wall's inner (subendocardial) third, percent
    /// (`scarseg_imaging::depth`; stack rows: by volume); empty without scar or a closed wall.
    pub scar_inner_third_percent: Option<f64>,
    /// Likewise, the middle third.
    pub scar_middle_third_percent: Option<f64>,
    /// Likewise, the outer (subepicardial) third.
    pub scar_outer_third_percent: Option<f64>,
    /// Scar's 8-connected regions (stack rows: their sum over the slices); empty without a
    /// closed wall.
    pub scar_regions: Option<usize>,
    /// Those of them with scar in the inner third or at the cavity's edge: subendocardial-based,
    /// as ischemic scar is.
    pub endocardial_scar_regions: Option<usize>,
    /// The weights' name.
    pub weights: String,
    /// The weights' sha256.
    pub weights_sha256: String,
    /// Slice thickness, mm (slice rows).
    pub thickness_mm: Option<f64>,
    /// The slice's disc, mm, which turns its area into a volume: the distance between slice
    /// centres, gaps included, or the thickness (`Stack::disc_heights_mm`; slice rows).
    pub disc_height_mm: Option<f64>,
    /// Pixels whose scar or myocardium label the user changed by hand (the page's brush; stack
    /// rows: their sum); 0 for the network's own masks, as every `scarseg predict` row.
    pub edited_px: usize,
    /// The burden the network alone found, before corrections by hand (`burden_percent` where
    /// nothing was corrected), percent; empty without myocardium.
    pub network_burden_percent: Option<f64>,
    /// Where the reference burden lies with 95% confidence given the model's agreement limits,
    /// percent, low end ([`flag_agreement`]; stack rows of a model with limits).
    pub reference_burden_low_percent: Option<f64>,
    /// Likewise, high end.
    pub reference_burden_high_percent: Option<f64>,
    /// Whether 5% lies within that range, so that the flag could go either way.
    pub flag_uncertain: Option<bool>,
    /// Why the slice's outline may not be a short-axis left ventricle, joined by "; " (stack
    /// rows: "N of M slices" where any slice has doubts); empty for well-formed rings.
    pub doubts: String,
}

/// The CSV rows of one analysed stack: one per slice, then the stack's. `burden_limits`, the
/// model's agreement limits where its manifest has them, add the flag's weighing to the stack
/// row, as [`stack_record`] does to the JSON.
pub fn report_rows(
    input: &str,
    stack: &Stack,
    result: &StackResult,
    weights: &str,
    weights_sha256: &str,
    burden_limits: Option<(f64, f64)>,
) -> Vec<ReportRow> {
    let row = |level, slice, source: &str| ReportRow {
        input: input.to_string(),
        level,
        slice,
        source: source.to_string(),
        scar_area_mm2: None,
        myocardium_area_mm2: None,
        scar_volume_mm3: 0.0,
        myocardium_volume_mm3: 0.0,
        scar_mass_g: 0.0,
        myocardium_mass_g: 0.0,
        burden_percent: None,
        high_risk: None,
        fwhm_burden_percent: None,
        nsd2_burden_percent: None,
        nsd3_burden_percent: None,
        nsd5_burden_percent: None,
        nsd6_burden_percent: None,
        gray_zone_percent: None,
        transmural_sectors: 0,
        wall_sectors: 0,
        scar_inner_third_percent: None,
        scar_middle_third_percent: None,
        scar_outer_third_percent: None,
        scar_regions: None,
        endocardial_scar_regions: None,
        weights: weights.to_string(),
        weights_sha256: weights_sha256.to_string(),
        thickness_mm: None,
        disc_height_mm: None,
        edited_px: 0,
        network_burden_percent: None,
        reference_burden_low_percent: None,
        reference_burden_high_percent: None,
        flag_uncertain: None,
        doubts: String::new(),
    };
    let heights = stack.disc_heights_mm();
    let mut rows: Vec<ReportRow> = result
        .slices
        .iter()
        .zip(&stack.slices)
        .zip(&heights)
        .enumerate()
        .map(|(k, ((r, s), h))| {
            let nsd = |n: u32| {
                r.nsd_burden_percent
                    .iter()
                    .find(|(m, _)| *m == n)
                    .and_then(|(_, b)| *b)
            };
            ReportRow {
                scar_area_mm2: Some(r.scar_area_mm2),
                myocardium_area_mm2: Some(r.myocardium_area_mm2),
                scar_volume_mm3: r.scar_area_mm2 * h,
                myocardium_volume_mm3: r.myocardium_area_mm2 * h,
                scar_mass_g: myocardial_mass_g(r.scar_area_mm2 * h),
                myocardium_mass_g: myocardial_mass_g(r.myocardium_area_mm2 * h),
                burden_percent: r.burden_percent,
                high_risk: r.burden_percent.map(high_risk),
                fwhm_burden_percent: r.fwhm_burden_percent,
                nsd2_burden_percent: nsd(2),
                nsd3_burden_percent: nsd(3),
                nsd5_burden_percent: nsd(5),
                nsd6_burden_percent: nsd(6),
                gray_zone_percent: r.gray_zone_percent(),
                transmural_sectors: r.transmural_sectors(),
                wall_sectors: r.wall_sectors(),
                thickness_mm: Some(s.thickness_mm),
                disc_height_mm: Some(*h),
                edited_px: r.edited_px,
                network_burden_percent: r.network_burden_percent(),
                doubts: listed(&r.doubts),
                ..depth_columns(r.scar_depth, row("slice", Some(k), &r.source))
            }
        })
        .collect();
    let (scar, myo) = result.volumes_mm3(stack);
    let (transmural, wall) = result.transmural_sectors();
    let agreement = result
        .burden_percent
        .zip(burden_limits)
        .map(|(b, limits)| flag_agreement(b, limits));
    rows.push(ReportRow {
        scar_volume_mm3: scar,
        myocardium_volume_mm3: myo,
        scar_mass_g: myocardial_mass_g(scar),
        myocardium_mass_g: myocardial_mass_g(myo),
        transmural_sectors: transmural,
        wall_sectors: wall,
        gray_zone_percent: result.gray_zone(stack).0,
        burden_percent: result.burden_percent,
        // Without myocardium there is no burden to flag, as on slice rows.
        high_risk: result.burden_percent.map(|_| result.high_risk),
        edited_px: result.edited_px(),
        network_burden_percent: result.network_burden_percent(stack),
        reference_burden_low_percent: agreement.map(|a| a.0),
        reference_burden_high_percent: agreement.map(|a| a.1),
        flag_uncertain: agreement.map(|a| a.2),
        doubts: match result.doubted_slices() {
            0 => String::new(),
            d => format!("{d} of {} slices", result.slices.len()),
        },
        ..depth_columns(result.scar_depth(stack), row("stack", None, &stack.name))
    });
    rows
}

/// `row` with the columns of where in the wall scar lies filled in from `depth`.
fn depth_columns(depth: Option<ScarDepth>, row: ReportRow) -> ReportRow {
    let thirds = depth.and_then(|d| d.thirds_percent());
    ReportRow {
        scar_inner_third_percent: thirds.map(|t| t[0]),
        scar_middle_third_percent: thirds.map(|t| t[1]),
        scar_outer_third_percent: thirds.map(|t| t[2]),
        scar_regions: depth.map(|d| d.regions),
        endocardial_scar_regions: depth.map(|d| d.endocardial_regions),
        ..row
    }
}

/// The CSV report: the header, then the rows (a header alone when there are none).
pub fn report_csv(rows: &[ReportRow]) -> Result<Vec<u8>, csv::Error> {
    write_csv(&CSV_COLUMNS, rows)
}

/// `columns` as the header (written even without rows, which serde cannot), then the rows.
fn write_csv<T: Serialize>(columns: &[&str], rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(columns)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The AHA CSV's columns, in order (each row an [`AhaRow`]): `scarseg predict --rv-insertion`'s
/// `aha.csv` and the page's export.
pub const AHA_CSV_COLUMNS: [&str; 11] = [
    "input",
    "segment",
    "name",
    "level",
    "territory",
    "myocardium_mm3",
    "scar_mm3",
    "scar_percent",
    "grade",
    "anterior_insertion_deg",
    "septum_clockwise",
];

/// One AHA segment of one stack in the AHA CSV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AhaRow {
    /// The input as given, as in the report's rows.
    pub input: String,
    /// 1 to 16.
    pub segment: usize,
    /// "basal anterior" and so on.
    pub name: &'static str,
    /// basal, mid or apical.
    pub level: &'static str,
    /// The coronary territory the AHA assigns it: LAD, RCA or LCx.
    pub territory: &'static str,
    /// The segment's myocardium, mm3.
    pub myocardium_mm3: f64,
    /// Its scar, mm3.
    pub scar_mm3: f64,
    /// Scar, percent of the segment's myocardium; empty where no slice reaches it.
    pub scar_percent: Option<f64>,
    /// Transmurality grade 0 to 4; empty likewise.
    pub grade: Option<u8>,
    /// Where the segments start: the insertion the slices at the segment's level were cut at
    /// (`AhaMap::level_insertion_deg`); empty where no slice is at that level.
    pub anterior_insertion_deg: Option<f64>,
    /// Whether the septum runs clockwise from it.
    pub septum_clockwise: bool,
}

/// The AHA CSV rows of one stack: its 16 segments.
pub fn aha_rows(input: &str, map: &AhaMap) -> Vec<AhaRow> {
    map.segments
        .iter()
        .map(|s| {
            let level = match s.number {
                1..=6 => WallLevel::Basal,
                7..=12 => WallLevel::Mid,
                _ => WallLevel::Apical,
            };
            AhaRow {
                input: input.to_string(),
                segment: s.number,
                name: s.name,
                level: match level {
                    WallLevel::Basal => "basal",
                    WallLevel::Mid => "mid",
                    WallLevel::Apical => "apical",
                },
                territory: CORONARY_TERRITORIES
                    .iter()
                    .find(|(_, numbers)| numbers.contains(&s.number))
                    .map_or("", |(name, _)| name),
                myocardium_mm3: s.myocardium_mm3,
                scar_mm3: s.scar_mm3,
                scar_percent: s.scar_percent,
                grade: s.grade,
                anterior_insertion_deg: map.level_insertion_deg(level),
                septum_clockwise: map.septum_clockwise,
            }
        })
        .collect()
}

/// The AHA CSV: the header, then the rows.
pub fn aha_csv(rows: &[AhaRow]) -> Result<Vec<u8>, csv::Error> {
    write_csv(&AHA_CSV_COLUMNS, rows)
}

impl StackResult {
    /// Scar and myocardium volumes over the stack, mm3: each slice's area times its disc
    /// (`Stack::disc_heights_mm`: the distance between slice centres, gaps included).
    pub fn volumes_mm3(&self, stack: &Stack) -> (f64, f64) {
        self.slices
            .iter()
            .zip(stack.disc_heights_mm())
            .fold((0.0, 0.0), |(s, m), (r, h)| {
                (s + r.scar_area_mm2 * h, m + r.myocardium_area_mm2 * h)
            })
    }
}

/// Who made a DICOM segmentation, and when: the model and the local date and time.
#[derive(Debug, Clone, Copy)]
pub struct SegMaker<'a> {
    /// The model's name (its manifest's).
    pub model_name: &'a str,
    /// The weights' sha256, hex.
    pub weights_sha256: &'a str,
    /// Local date, YYYYMMDD.
    pub date: &'a str,
    /// Local time, HHMMSS.
    pub time: &'a str,
    /// The person who reviewed the result and signs its measurement report, if one does: the
    /// report is then VERIFIED by them, at their own time of signing, which on the page may
    /// come after `date` and `time` (which the objects' UIDs rest on).
    pub verified_by: Option<Verifier<'a>>,
}

/// ScarSeg's two segments over a stack's masks: 1 the LV myocardium with the scar in it (SNOMED
/// CT 49848007), 2 the scar (12402003, in the LV myocardium), in the page's colours. Shared by
/// the network's segmentations and the phantom's truth.
pub fn scarseg_segments<'a>(
    myocardium: Vec<&'a [bool]>,
    scar: Vec<&'a [bool]>,
    algorithm_type: AlgorithmType,
    algorithm_name: &'a str,
) -> [Segment<'a>; 2] {
    [
        Segment {
            label: "Myocardium",
            description: "left-ventricular myocardium, scar included",
            category: Code {
                value: "91723000",
                scheme: SCT,
                meaning: "Anatomical Structure",
            },
            property: LV_MYOCARDIUM,
            region: None,
            algorithm_type,
            algorithm_name,
            // The page's myocardium colour, sRGB (0, 200, 255), as scaled CIELab.
            colour_lab: [49254, 27161, 23005],
            masks: myocardium,
        },
        Segment {
            label: "Scar",
            description: "late-enhancing myocardial scar",
            category: Code {
                value: "49755003",
                scheme: SCT,
                meaning: "Morphologically Abnormal Structure",
            },
            property: SCAR,
            region: Some(LV_MYOCARDIUM),
            algorithm_type,
            algorithm_name,
            // The page's scar colour, sRGB (255, 214, 0).
            colour_lab: [56805, 32532, 55245],
            masks: scar,
        },
    ]
}

/// File-name suffix of a stack's DICOM segmentation: `NAME_seg.dcm`.
pub const SEG_SUFFIX: &str = "_seg.dcm";

/// File-name suffix, before the extension, of an image's or a stack's label volume (EMIDEC's
/// values 0-4): `NAME_labels.nii.gz` as `scarseg predict` and the page's "NIfTI labels" write
/// it, and as the page, `predict --corrections`, `eval --predictions` and `train --pairs` find
/// one by its name.
pub const LABEL_SUFFIX: &str = "_labels";

/// The extensions a label volume named with [`LABEL_SUFFIX`] may have, in the order they are
/// looked for: the NIfTI that `predict` writes first.
pub const LABEL_EXTS: [&str; 3] = [".nii.gz", ".nii", ".png"];

const SCT: &str = "SCT";
const LV_MYOCARDIUM: Code<'static> = Code {
    value: "49848007",
    scheme: SCT,
    meaning: "Left Ventricle Myocardium",
};
const SCAR: Code<'static> = Code {
    value: "12402003",
    scheme: SCT,
    meaning: "Scar",
};

/// A stack's masks as a DICOM Segmentation in its study, for a stack read from DICOM: segment 1
/// the myocardium (scar included, as everywhere in ScarSeg), segment 2 the scar, coded in SNOMED
/// CT, "AUTOMATIC" or, after corrections by hand, "SEMIAUTOMATIC". Its UIDs are derived from
/// what it holds (sources, masks, model, time: `2.25.` and 128 bits of their sha256), so the
/// browser needs no random source and the same export is the same file.
pub fn dicom_seg(
    stack: &Stack,
    result: &StackResult,
    maker: &SegMaker<'_>,
) -> Result<Vec<u8>, EncodeError> {
    let algorithm_type = if result.edited_px() > 0 {
        AlgorithmType::SemiAutomatic
    } else {
        AlgorithmType::Automatic
    };
    let algorithm_name = format!("ScarSegNet {}", maker.model_name);
    let algorithm_name: String = algorithm_name.chars().take(64).collect();
    let myocardium: Vec<&[bool]> = result
        .slices
        .iter()
        .map(|r| r.myocardium.data.as_slice())
        .collect();
    let scar: Vec<&[bool]> = result
        .slices
        .iter()
        .map(|r| r.scar.data.as_slice())
        .collect();
    let segments = scarseg_segments(myocardium, scar, algorithm_type, &algorithm_name);
    let digest = content_digest(stack, result, maker);
    let (sop_instance_uid, series_uid) = (
        derived_uid(&digest, "instance"),
        derived_uid(&digest, "series"),
    );
    let software_version = software_version(maker);
    seg::dicom_seg(
        &stack.slices,
        &segments,
        &derived_instance(
            maker,
            [&sop_instance_uid, &series_uid],
            series_number(stack, 1000),
            [
                "ScarSeg myocardium and scar",
                "ScarSeg segmentation; not for clinical use",
            ],
            &software_version,
        ),
    )
}

/// A digest of what the objects made from a stack's result hold: the stack's sources, its
/// masks, the weights and the time.
fn content_digest(stack: &Stack, result: &StackResult, maker: &SegMaker<'_>) -> [u8; 32] {
    let mut hash = Sha256::new();
    for s in &stack.slices {
        if let Some(d) = &s.dicom {
            hash.update(&d.sop_instance_uid);
            hash.update(d.frame.unwrap_or(0).to_le_bytes());
        }
    }
    let myocardium = result.slices.iter().map(|r| r.myocardium.data.as_slice());
    let scar = result.slices.iter().map(|r| r.scar.data.as_slice());
    hash.update(pack_bits(myocardium.chain(scar)));
    for text in [maker.weights_sha256, maker.date, maker.time] {
        hash.update(text);
    }
    hash.finalize().into()
}

/// A UID for one of the objects made from a stack's result (`salt` tells them apart): `2.25.`
/// and 128 bits of a sha256 of the salt and [`content_digest`], so the browser needs no random
/// source and the same export is the same file.
fn derived_uid(digest: &[u8; 32], salt: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(salt);
    hash.update(digest);
    let digest = hash.finalize();
    let mut bits = [0u8; 16];
    bits.copy_from_slice(&digest[..16]);
    format!("2.25.{}", u128::from_be_bytes(bits))
}

/// The source series' number plus `offset` (1000 if it has none), so that a derived series is
/// filed right after its source in a viewer's series list.
fn series_number(stack: &Stack, offset: u32) -> u32 {
    stack
        .slices
        .first()
        .and_then(|s| s.dicom.as_ref())
        .and_then(|d| d.series_number)
        .map_or(offset, |n| {
            n.clamp(0, i64::from(u32::MAX - offset)) as u32 + offset
        })
}

/// The identity of an object derived from a stack: its `[instance, series]` UIDs, series
/// number, `[series description, content description]`, and ScarSeg with the weights as the
/// device that made it.
fn derived_instance<'a>(
    maker: &'a SegMaker<'a>,
    [sop_instance_uid, series_uid]: [&'a str; 2],
    series_number: u32,
    [series_description, content_description]: [&'a str; 2],
    software_version: &'a str,
) -> Instance<'a> {
    Instance {
        sop_instance_uid,
        series_uid,
        series_number,
        series_description,
        content_label: "SCARSEG",
        content_description,
        manufacturer: "ScarSeg",
        model_name: "ScarSeg",
        software_version,
        device_serial: &maker.weights_sha256[..maker.weights_sha256.len().min(12)],
        date: maker.date,
        time: maker.time,
    }
}

fn software_version(maker: &SegMaker<'_>) -> String {
    format!(
        "ScarSeg {}; weights sha256 {}",
        env!("CARGO_PKG_VERSION"),
        &maker.weights_sha256[..maker.weights_sha256.len().min(12)]
    )
}

/// File-name suffix of a stack's DICOM measurement report: `NAME_sr.dcm`.
pub const SR_SUFFIX: &str = "_sr.dcm";

/// ScarSeg's own coding scheme, for what no standard code names.
const SCARSEG: &str = "99SCARSEG";

/// The numbers of a stack's DICOM segmentation ([`dicom_seg`], which it references) as a DICOM
/// measurement report (TID 1500): per segment a measurement group with its volume (mm3, the
/// report's volumes: areas times each slice's disc) and mass (g, at 1.05 g/mL as the report
/// gives it), and for the scar its burden (percent of
/// the myocardial volume; ScarSeg's code, as no standard one exists) and whether it is above
/// 5% (the high-risk flag), answered with SNOMED CT's yes and no.
pub fn dicom_sr(
    stack: &Stack,
    result: &StackResult,
    maker: &SegMaker<'_>,
) -> Result<Vec<u8>, EncodeError> {
    let digest = content_digest(stack, result, maker);
    let seg_instance = derived_uid(&digest, "instance");
    let seg_series = derived_uid(&digest, "series");
    let (scar_mm3, myocardium_mm3) = result.volumes_mm3(stack);
    let volume = |value| Measurement {
        concept: Code {
            value: "118565006",
            scheme: SCT,
            meaning: "Volume",
        },
        value,
        unit: Code {
            value: "mm3",
            scheme: "UCUM",
            meaning: "cubic millimeter",
        },
    };
    // CMR reports LV mass and LGE in grams (the report's 1.05 g/mL): a reader of the SR should
    // not have to convert the volumes.
    let mass = |value_mm3| Measurement {
        concept: Code {
            value: "118538004",
            scheme: SCT,
            meaning: "Mass",
        },
        value: myocardial_mass_g(value_mm3),
        unit: Code {
            value: "g",
            scheme: "UCUM",
            meaning: "gram",
        },
    };
    let tracking = [
        derived_uid(&digest, "tracking 1"),
        derived_uid(&digest, "tracking 2"),
    ];
    let mut scar = Group {
        tracking_id: "Scar",
        tracking_uid: &tracking[1],
        segment_number: 2,
        finding: SCAR,
        finding_site: Some(LV_MYOCARDIUM),
        measurements: vec![volume(scar_mm3), mass(scar_mm3)],
        evaluations: Vec::new(),
    };
    if let Some(burden) = result.burden_percent {
        scar.measurements.push(Measurement {
            concept: Code {
                value: "SCARBURDEN",
                scheme: SCARSEG,
                meaning: "Scar burden, percent of myocardial volume",
            },
            value: burden,
            unit: Code {
                value: "%",
                scheme: "UCUM",
                meaning: "percent",
            },
        });
        let answer = if result.high_risk {
            Code {
                value: "373066001",
                scheme: SCT,
                meaning: "Yes",
            }
        } else {
            Code {
                value: "373067005",
                scheme: SCT,
                meaning: "No",
            }
        };
        scar.evaluations.push((
            Code {
                value: "HIGHRISK5",
                scheme: SCARSEG,
                meaning: "Scar burden above 5%",
            },
            answer,
        ));
    }
    let groups = [
        Group {
            tracking_id: "Myocardium",
            tracking_uid: &tracking[0],
            segment_number: 1,
            finding: LV_MYOCARDIUM,
            finding_site: None,
            measurements: vec![volume(myocardium_mm3), mass(myocardium_mm3)],
            evaluations: Vec::new(),
        },
        scar,
    ];
    let software_version = software_version(maker);
    // A verified report is another object than the unverified one of the same result; the
    // segmentation it references is the same.
    let signed = maker
        .verified_by
        .map(|v| {
            format!(
                " verified by {}, {} at {}",
                v.name, v.organization, v.datetime
            )
        })
        .unwrap_or_default();
    let report_uids = [
        derived_uid(&digest, &format!("report instance{signed}")),
        derived_uid(&digest, &format!("report series{signed}")),
    ];
    measurement_report(
        &stack.slices,
        SegReference {
            sop_instance_uid: &seg_instance,
            series_uid: &seg_series,
        },
        &groups,
        &derived_instance(
            maker,
            [&report_uids[0], &report_uids[1]],
            series_number(stack, 1001),
            [
                "ScarSeg scar measurements",
                "ScarSeg measurements; not for clinical use",
            ],
            &software_version,
        ),
        maker.verified_by.as_ref(),
    )
}

/// The stem of a stack's output files: the input's stem, joined for one of several stacks by
/// its part as a file-name piece ("psir" and "image type REAL" -> "psir_image-type-REAL"), so
/// that `scarseg predict` and the page name the same stack's files alike.
pub fn output_stem(input_stem: &str, part: Option<&str>) -> String {
    let Some(part) = part else {
        return input_stem.to_string();
    };
    let mut piece = String::new();
    for c in part.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            piece.push(c);
        } else if !piece.ends_with('-') {
            piece.push('-');
        }
    }
    format!("{input_stem}_{}", piece.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_series_follow_their_source_in_the_series_list() {
        let stack = |number: Option<i64>| Stack {
            name: "s".into(),
            part: None,
            slices: vec![Slice {
                dicom: Some(scarseg_imaging::slice::DicomSource {
                    series_number: number,
                    ..Default::default()
                }),
                ..Slice::new(1, 1, vec![0.0], "a")
            }],
            warnings: Vec::new(),
        };
        assert_eq!(series_number(&stack(Some(7)), 1000), 1007);
        assert_eq!(series_number(&stack(Some(7)), 1001), 1008);
        // None, and nonsense, stay in range.
        assert_eq!(series_number(&stack(None), 1000), 1000);
        assert_eq!(series_number(&stack(Some(-5)), 1000), 1000);
        assert_eq!(series_number(&stack(Some(i64::MAX)), 1000), u32::MAX);
    }

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
        assert_eq!(v["high_risk"], true);
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
        // An L of three pixels encloses nothing.
        assert_eq!(
            v["doubts"],
            serde_json::json!(["the myocardium found encloses no cavity"])
        );
    }

    /// Two 2 x 2 slices of 2 mm pixels (4 mm2), 10 mm thick: slice "a,1" has scar 1 px of a
    /// 3 px myocardium, slice "b" a 1 px myocardium and no scar.
    fn two_slices() -> (Stack, StackResult) {
        let mut a = Slice::new(2, 2, vec![1.0, 2.0, 3.0, 4.0], "a,1");
        a.spacing_mm = [2.0, 2.0];
        a.thickness_mm = 10.0;
        let mut b = a.clone();
        b.source = "b".into();
        let opts = Default::default();
        let ra = crate::slice_result(
            &a,
            vec![0.9, 0.1, 0.1, 0.1],
            vec![0.9, 0.9, 0.9, 0.1],
            None,
            &opts,
        );
        let rb = crate::slice_result(&b, vec![0.1; 4], vec![0.9, 0.1, 0.1, 0.1], None, &opts);
        // Stack burden by hand: 40 of 160 mm3.
        stack_of(vec![a, b], vec![ra, rb], Some(25.0))
    }

    /// Stack "s" of `slices` and its result, with the burden given.
    fn stack_of(
        slices: Vec<Slice>,
        results: Vec<SliceResult>,
        burden_percent: Option<f64>,
    ) -> (Stack, StackResult) {
        let stack = Stack {
            name: "s".into(),
            part: None,
            slices,
            warnings: vec![],
        };
        let result = StackResult {
            slices: results,
            burden_percent,
            high_risk: burden_percent.is_some_and(high_risk),
        };
        (stack, result)
    }

    #[test]
    fn the_flag_sentence_says_the_range_and_the_verdict() {
        let limits = (-4.22, 3.91);
        assert_eq!(
            flag_agreement_text(6.5, limits),
            "On its test set this model's burden was within -4.2 to +3.9 points of the \
             reference's in 95% of cases; by that, the reference burden here is 2.6% to 10.7%: \
             the 5% threshold lies within it, so the flag is uncertain."
        );
        assert!(flag_agreement_text(15.8, limits).ends_with(
            "the reference burden here is 11.9% to 20.0%: the 5% threshold lies outside it."
        ));
    }

    #[test]
    fn the_left_out_note_names_five_and_counts_the_rest() {
        let names = |n: usize| (1..=n).map(|k| format!("f{k}")).collect::<Vec<_>>();
        assert_eq!(
            left_out_note(&names(2)),
            "left out 2 file(s) that are images neither by their content nor by their names: \
             f1, f2"
        );
        assert!(left_out_note(&names(7)).ends_with(": f1, f2, f3, f4, f5 and 2 more"));
    }

    #[test]
    fn the_doubts_in_a_sentence_by_hand() {
        use scarseg_imaging::quality::Doubt;
        let tail = ". The network may have missed the wall, or this is not a short-axis bright-blood \
                    LGE image of the left ventricle, the only kind the model was made for";
        // Both of two_slices' walls (an L of three pixels, a single pixel) enclose nothing.
        let (_, mut result) = two_slices();
        let open = "the myocardium found encloses no cavity";
        assert_eq!(
            doubts_text(&result).as_deref(),
            Some(
                format!(
                    "Check the outlines of 2 of 2 slices: slice 1 (a,1): {open}; slice 2 (b): \
                     {open}{tail}"
                )
                .as_str()
            )
        );
        // Two doubts on one slice, none on the other.
        result.slices[0].doubts = vec![Doubt::Pieces(2), Doubt::Open];
        result.slices[1].doubts.clear();
        assert_eq!(
            doubts_text(&result).as_deref(),
            Some(
                format!(
                    "Check the outlines of 1 of 2 slices: slice 1 (a,1): the myocardium found is \
                     in 2 pieces, not one ring and {open}{tail}"
                )
                .as_str()
            )
        );
        // One slice alone is not numbered.
        let one = StackResult {
            slices: vec![result.slices[0].clone()],
            ..result.clone()
        };
        assert_eq!(
            doubts_text(&one).as_deref(),
            Some(
                format!(
                    "Check the outline: the myocardium found is in 2 pieces, not one ring and \
                     {open}{tail}"
                )
                .as_str()
            )
        );
        // Seven doubted slices: five named, two counted.
        let many = StackResult {
            slices: (0..7)
                .map(|k| SliceResult {
                    source: format!("s{k}"),
                    doubts: vec![Doubt::Open],
                    ..result.slices[0].clone()
                })
                .collect(),
            ..result.clone()
        };
        let text = doubts_text(&many).expect("doubted");
        assert!(
            text.starts_with(&format!(
                "Check the outlines of 7 of 7 slices: slice 1 (s0): {open}; slice 2 (s1)"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("slice 5 (s4): {open}; and 2 more{tail}")),
            "{text}"
        );
        assert!(!text.contains("(s5)"), "{text}");
        // None doubted: nothing to say.
        result.slices[0].doubts.clear();
        assert_eq!(doubts_text(&result), None);
    }

    #[test]
    fn the_summary_by_hand() {
        // two_slices: 40 of 160 mm3 (0.04 and 0.16 mL; 0.042 and 0.168 g), burden 25%.
        let (stack, result) = two_slices();
        assert_eq!(
            stack_summary("s", &stack, &result),
            "s: scar burden 25.00% - above 5%: high risk; scar 0.04 mL (0.04 g), myocardium \
             0.16 mL (0.17 g at 1.05 g/mL) over 2 slice(s)"
        );
        // No myocardium anywhere: no burden, and no verdict on the 5% flag.
        let none = StackResult {
            slices: result
                .slices
                .iter()
                .map(|r| SliceResult {
                    scar_area_mm2: 0.0,
                    myocardium_area_mm2: 0.0,
                    burden_percent: None,
                    ..r.clone()
                })
                .collect(),
            burden_percent: None,
            high_risk: false,
        };
        assert_eq!(
            stack_summary("s", &stack, &none),
            "s: scar burden n/a: no myocardium found; scar 0.00 mL (0.00 g), myocardium 0.00 mL \
             (0.00 g at 1.05 g/mL) over 2 slice(s)"
        );
    }

    #[test]
    fn where_in_the_wall_by_hand() {
        // Two 11 x 11 slices of 1 mm pixels, 10 mm thick, each with a wall three pixels thick
        // round a 3 x 3 cavity (Chebyshev distance 2 to 4 from the centre). Slice a's scar is
        // the wall's outer ring (32 pixels, all in the outer third), slice b's its inner ring (16,
        // all in the inner third, at the cavity). Over the stack: 160 of 480 mm3 inner, 320
        // outer; two regions, one subendocardial-based.
        let ring = |from: usize, to: usize| -> Vec<f32> {
            (0..121)
                .map(|i: usize| {
                    let d = (i / 11).abs_diff(5).max((i % 11).abs_diff(5));
                    if (from..=to).contains(&d) { 0.9 } else { 0.1 }
                })
                .collect()
        };
        let mut a = Slice::new(11, 11, vec![1.0; 121], "a");
        a.thickness_mm = 10.0;
        let mut b = a.clone();
        b.source = "b".into();
        let opts = Default::default();
        let ra = crate::slice_result(&a, ring(4, 4), ring(2, 4), None, &opts);
        let rb = crate::slice_result(&b, ring(2, 2), ring(2, 4), None, &opts);
        let (stack, result) = stack_of(vec![a, b], vec![ra, rb], None);
        let rows = report_rows("in", &stack, &result, "m", "ab", None);
        let columns = |r: &ReportRow| {
            (
                [
                    r.scar_inner_third_percent,
                    r.scar_middle_third_percent,
                    r.scar_outer_third_percent,
                ],
                r.scar_regions,
                r.endocardial_scar_regions,
            )
        };
        assert_eq!(
            columns(&rows[0]),
            ([Some(0.0), Some(0.0), Some(100.0)], Some(1), Some(0))
        );
        assert_eq!(
            columns(&rows[1]),
            ([Some(100.0), Some(0.0), Some(0.0)], Some(1), Some(1))
        );
        let (thirds, regions, endocardial) = columns(&rows[2]);
        assert_eq!((regions, endocardial), (Some(2), Some(1)));
        let want = [100.0 / 3.0, 0.0, 200.0 / 3.0];
        for (t, w) in thirds.iter().zip(want) {
            assert!((t.expect("scar") - w).abs() < 1e-9, "{thirds:?}");
        }
        // The JSON records say the same, per slice and per stack.
        let v = stack_record("in", &stack, &result, &[], None);
        assert_eq!(
            v["slices"][0]["scar_depth"],
            serde_json::json!({"thirds_percent": [0.0, 0.0, 100.0], "regions": 1, "endocardial_regions": 0})
        );
        let depth = &v["scar_depth"];
        assert_eq!(
            (
                depth["regions"].as_u64(),
                depth["endocardial_regions"].as_u64()
            ),
            (Some(2), Some(1))
        );
        assert!((depth["thirds_percent"][2].as_f64().expect("outer") - 200.0 / 3.0).abs() < 1e-9);
        // Without a closed wall (two_slices' L-shaped walls) the columns stay empty and the
        // record is null.
        let (open, open_result) = two_slices();
        let rows = report_rows("in", &open, &open_result, "m", "ab", None);
        assert!(rows.iter().all(|r| columns(r) == ([None; 3], None, None)));
        assert!(stack_record("in", &open, &open_result, &[], None)["scar_depth"].is_null());
    }

    #[test]
    fn the_measurement_report_gives_volumes_masses_burden_and_flag_by_hand() {
        // two_slices as a DICOM series: scar 40 mm3 (0.042 g at 1.05 g/mL), myocardium 160 mm3
        // (0.168 g), burden 25%, above 5%. Each group's NUM items, read back from the file.
        use dicom_dictionary_std::tags;
        use dicom_object::{InMemDicomObject, OpenFileOptions, file::ReadPreamble};
        let (mut stack, result) = two_slices();
        for (k, s) in stack.slices.iter_mut().enumerate() {
            s.dicom = Some(scarseg_imaging::slice::DicomSource {
                sop_class_uid: "1.2.840.10008.5.1.4.1.1.4".into(),
                sop_instance_uid: format!("1.2.3.4.{}", k + 1),
                study_uid: "1.2.3".into(),
                series_uid: "1.2.3.4".into(),
                ..Default::default()
            });
        }
        let maker = SegMaker {
            model_name: "m",
            weights_sha256: "ab",
            date: "20261206",
            time: "120000",
            verified_by: None,
        };
        let bytes = dicom_sr(&stack, &result, &maker).expect("a report");
        let obj = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Always)
            .from_reader(std::io::Cursor::new(bytes))
            .expect("reads back");
        let items = |o: &InMemDicomObject, tag| -> Vec<InMemDicomObject> {
            o.element(tag)
                .expect("sequence")
                .items()
                .expect("items")
                .to_vec()
        };
        let text = |o: &InMemDicomObject, tag| {
            let v = o.element(tag).expect("element").to_str().expect("text");
            v.trim_end_matches('\0').trim().to_string()
        };
        let code = |o: &InMemDicomObject, tag| {
            let c = &items(o, tag)[0];
            (
                text(c, tags::CODE_VALUE),
                text(c, tags::CODING_SCHEME_DESIGNATOR),
            )
        };
        let root = items(&obj, tags::CONTENT_SEQUENCE);
        let measurements = root.last().expect("the measurements container");
        let (mut got, mut answers) = (Vec::new(), Vec::new());
        for group in items(measurements, tags::CONTENT_SEQUENCE) {
            let content = items(&group, tags::CONTENT_SEQUENCE);
            let name = text(&content[0], tags::TEXT_VALUE);
            for item in &content {
                match text(item, tags::VALUE_TYPE).as_str() {
                    "NUM" => {
                        let value = &items(item, tags::MEASURED_VALUE_SEQUENCE)[0];
                        got.push((
                            name.clone(),
                            code(item, tags::CONCEPT_NAME_CODE_SEQUENCE).0,
                            text(value, tags::NUMERIC_VALUE).parse::<f64>().expect("DS"),
                            code(value, tags::MEASUREMENT_UNITS_CODE_SEQUENCE).0,
                        ));
                    }
                    "CODE" if code(item, tags::CONCEPT_NAME_CODE_SEQUENCE).0 == "HIGHRISK5" => {
                        answers.push((name.clone(), code(item, tags::CONCEPT_CODE_SEQUENCE)));
                    }
                    _ => {}
                }
            }
        }
        let want = [
            ("Myocardium", "118565006", 160.0, "mm3"),
            ("Myocardium", "118538004", 0.168, "g"),
            ("Scar", "118565006", 40.0, "mm3"),
            ("Scar", "118538004", 0.042, "g"),
            ("Scar", "SCARBURDEN", 25.0, "%"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((name, concept, value, unit), w) in got.iter().zip(want) {
            assert_eq!(
                (name.as_str(), concept.as_str(), unit.as_str()),
                (w.0, w.1, w.3)
            );
            assert!(
                (value - w.2).abs() < 1e-9,
                "{name} {concept}: {value} against {}",
                w.2
            );
        }
        // Above 5%: SNOMED CT's yes.
        assert_eq!(
            answers,
            [(
                "Scar".to_string(),
                ("373066001".to_string(), "SCT".to_string())
            )]
        );
    }

    #[test]
    fn report_rows_by_hand() {
        let (stack, result) = two_slices();
        assert_eq!(result.volumes_mm3(&stack), (40.0, 160.0));
        let rows = report_rows("in", &stack, &result, "m", "ab", None);
        assert_eq!(rows.len(), 3);
        let a = &rows[0];
        assert_eq!(
            (a.level, a.slice, a.source.as_str()),
            ("slice", Some(0), "a,1")
        );
        assert_eq!(
            (a.scar_area_mm2, a.myocardium_area_mm2),
            (Some(4.0), Some(12.0))
        );
        assert_eq!((a.scar_volume_mm3, a.myocardium_volume_mm3), (40.0, 120.0));
        assert!((a.burden_percent.expect("burden") - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!((a.high_risk, a.thickness_mm), (Some(true), Some(10.0)));
        let b = &rows[1];
        assert_eq!(
            (b.scar_area_mm2, b.myocardium_area_mm2),
            (Some(0.0), Some(4.0))
        );
        assert_eq!((b.burden_percent, b.high_risk), (Some(0.0), Some(false)));
        // The stack row's volumes are the slices' sums; it has no areas.
        let s = &rows[2];
        assert_eq!((s.level, s.slice, s.source.as_str()), ("stack", None, "s"));
        assert_eq!((s.scar_area_mm2, s.myocardium_area_mm2), (None, None));
        assert_eq!((s.scar_volume_mm3, s.myocardium_volume_mm3), (40.0, 160.0));
        assert_eq!((s.burden_percent, s.high_risk), (Some(25.0), Some(true)));
        // Masses at 1.05 g/mL: 40 mm3 = 0.04 mL = 0.042 g; 160 mm3 = 0.168 g; slice a's 120 mm3
        // 0.126 g.
        assert!(
            (s.scar_mass_g - 0.042).abs() < 1e-12 && (s.myocardium_mass_g - 0.168).abs() < 1e-12
        );
        assert!((a.myocardium_mass_g - 0.126).abs() < 1e-12);

        // The same slices 12 mm apart (10 mm thick, 2 mm gaps): each slice's disc is 12 mm, so
        // the volumes are 1.2 times larger, and the burden, a ratio, is as it was.
        let mut apart = stack.clone();
        apart.slices[1].position_mm[2] = 12.0;
        assert_eq!(apart.disc_heights_mm(), vec![12.0, 12.0]);
        assert_eq!(result.volumes_mm3(&apart), (48.0, 192.0));
        let rows = report_rows("in", &apart, &result, "m", "ab", None);
        assert_eq!(
            (rows[0].scar_volume_mm3, rows[0].myocardium_volume_mm3),
            (48.0, 144.0)
        );
        assert_eq!(
            (rows[0].thickness_mm, rows[0].disc_height_mm),
            (Some(10.0), Some(12.0))
        );
        assert_eq!(
            (rows[2].scar_volume_mm3, rows[2].myocardium_volume_mm3),
            (48.0, 192.0)
        );
        let again = StackResult::from_slices(result.slices.clone(), &apart);
        assert_eq!(again.burden_percent, Some(25.0));
        assert_eq!((s.weights.as_str(), s.weights_sha256.as_str()), ("m", "ab"));
        // No myocardium anywhere: no burden, and no flag rather than "false".
        let none = StackResult {
            burden_percent: None,
            high_risk: false,
            ..result
        };
        // Nor an agreement to weigh it by, whatever the model's limits.
        let rows = report_rows("in", &stack, &none, "m", "ab", Some((-4.5, 20.5)));
        assert_eq!((rows[2].burden_percent, rows[2].high_risk), (None, None));
        assert_eq!(
            (rows[2].reference_burden_low_percent, rows[2].flag_uncertain),
            (None, None)
        );
    }

    #[test]
    fn a_corrected_slice_changes_the_stack_and_is_reported() {
        use scarseg_imaging::edit::{MaskEdits, Tool};
        let (stack, mut result) = two_slices();
        // Slice b: its one myocardium pixel (0, 0) painted scar with a 1 mm brush (its
        // neighbours' centres are 2 mm away).
        let b = &stack.slices[1];
        let mut edits = MaskEdits::new(2, 2);
        edits.stroke(Tool::PaintScar, b.spacing_mm, (0.5, 0.5), (0.5, 0.5), 1.0);
        let rb = crate::corrected_slice_result(
            b,
            result.slices[1].scar_probability.clone(),
            result.slices[1].myocardium_probability.clone(),
            None,
            &Default::default(),
            Some(&edits),
        );
        assert_eq!(rb.edited_px, 1);
        result.set_slice(1, rb, &stack);
        // Scar 40 + 40 of 120 + 40 mm3.
        assert_eq!(result.burden_percent, Some(50.0));
        assert!(result.high_risk);
        assert_eq!(result.edited_px(), 1);
        // Before the correction: 40 of 160 mm3, as `two_slices` has it by hand.
        assert_eq!(result.network_burden_percent(&stack), Some(25.0));
        // Out of range: nothing changes.
        let before = result.clone();
        result.set_slice(2, before.slices[0].clone(), &stack);
        assert_eq!(result, before);
        let rows = report_rows("in", &stack, &result, "m", "ab", None);
        assert_eq!(
            rows.iter().map(|r| r.edited_px).collect::<Vec<_>>(),
            vec![0, 1, 1]
        );
        let v = stack_record("in", &stack, &result, &[], None);
        assert_eq!(v["edited_px"], 1);
        assert_eq!(v["slices"][0]["edited_px"], 0);
        assert_eq!(v["slices"][1]["edited_px"], 1);
        assert_eq!(v["network_burden_percent"], 25.0);
        // Scar: the network had none on slice b, the corrected mask 1 pixel; slice a agrees
        // with itself (1 pixel): 2 x 1 / (1 + 2). Myocardium unchanged: 1.
        assert_eq!(v["network_scar_dice"], 2.0 / 3.0);
        assert_eq!(v["network_myocardium_dice"], 1.0);
        // Slice b: 0 of 4 mm2 before, 4 of 4 after.
        assert_eq!(v["slices"][1]["network_burden_percent"], 0.0);
        assert_eq!(v["slices"][1]["burden_percent"], 100.0);
        assert_eq!(
            (
                rows[1].network_burden_percent,
                rows[2].network_burden_percent
            ),
            (Some(0.0), Some(25.0))
        );
    }

    #[test]
    fn report_csv_by_hand() {
        let (stack, result) = two_slices();
        // Agreement limits of -4.5 and +20.5 points: a stack burden of 25% puts the reference
        // between 25 - 20.5 = 4.5% and 25 + 4.5 = 29.5%, which holds 5%: uncertain.
        let rows = report_rows("in", &stack, &result, "m", "ab", Some((-4.5, 20.5)));
        let text = String::from_utf8(report_csv(&rows).expect("csv")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            "input,level,slice,source,scar_area_mm2,myocardium_area_mm2,scar_volume_mm3,\
             myocardium_volume_mm3,scar_mass_g,myocardium_mass_g,burden_percent,high_risk,fwhm_burden_percent,\
             nsd2_burden_percent,nsd3_burden_percent,nsd5_burden_percent,nsd6_burden_percent,\
             gray_zone_percent,transmural_sectors,wall_sectors,scar_inner_third_percent,\
             scar_middle_third_percent,scar_outer_third_percent,scar_regions,\
             endocardial_scar_regions,weights,weights_sha256,thickness_mm,\
             disc_height_mm,edited_px,network_burden_percent,reference_burden_low_percent,\
             reference_burden_high_percent,flag_uncertain,doubts"
        );
        // The source with a comma is quoted.
        assert!(
            lines[1].starts_with("in,slice,0,\"a,1\",4.0,12.0,40.0,120.0,"),
            "{}",
            lines[1]
        );
        // Then the masses at 1.05 g/mL (0.04 and 0.12 mL) and the burden: fields 9 to 11, as the
        // quoted source's comma splits too.
        let fields: Vec<f64> = lines[1]
            .split(',')
            .skip(9)
            .take(3)
            .map(|f| f.parse().expect(f))
            .collect();
        assert!(
            (fields[0] - 0.042).abs() < 1e-12 && (fields[1] - 0.126).abs() < 1e-12,
            "{}",
            lines[1]
        );
        assert!((fields[2] - 100.0 / 3.0).abs() < 1e-9, "{}", lines[1]);
        // Slice a's wall: one of its three sectors is all scar (see stack_record_by_hand); an
        // L of three pixels encloses no cavity, so where its scar lies is not measured. No
        // gray zone: slice a's remote is its darkest pixel, 1 (SD 0), so 2 and 3 are above 2 SD,
        // and they form one region whose half maximum, 1.5, takes both into the FWHM core.
        // Neither an L of three pixels nor a single pixel is a ring round a cavity: both slices
        // are doubted, and the stack row counts them.
        let open = "the myocardium found encloses no cavity";
        assert!(
            lines[1].ends_with(&format!(
                ",0.0,1,3,,,,,,m,ab,10.0,10.0,0,33.33333333333333,,,,{open}"
            )),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with(&format!(",0.0,0,1,,,,,,m,ab,10.0,10.0,0,0.0,,,,{open}")),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "in,stack,,s,,,40.0,160.0,0.042,0.168,25.0,true,,,,,,0.0,1,4,,,,,,m,ab,,,0,25.0,4.5,29.5,\
             true,2 of 2 slices"
        );
        // Without limits (a model whose manifest has none), the three are empty.
        let plain = report_csv(&report_rows("in", &stack, &result, "m", "ab", None)).expect("csv");
        let plain = String::from_utf8(plain).expect("utf-8");
        assert!(
            plain
                .lines()
                .nth(3)
                .expect("stack row")
                .ends_with(",0,25.0,,,,2 of 2 slices"),
            "{plain}"
        );
        // The header is the rows' own field names, in order.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&rows[2]).expect("row");
        let own = String::from_utf8(w.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(own.lines().next(), Some(lines[0]));
        // No rows: the header alone.
        let empty = String::from_utf8(report_csv(&[]).expect("csv")).expect("utf-8");
        assert_eq!(empty, format!("{}\n", lines[0]));
    }

    #[test]
    fn aha_csv_by_hand() {
        use crate::AhaSegment;
        use scarseg_imaging::metrics::AHA_SEGMENT_NAMES;
        use scarseg_imaging::metrics::WallLevel::{Basal, Mid};
        // Segment 1: 60 of 100 mm3 scar, grade 3; segment 13 reached by no slice; the rest
        // healthy, 50 mm3 each.
        let segments = (1..=16)
            .map(|n| {
                let (myo, scar, percent, grade) = match n {
                    1 => (100.0, 60.0, Some(60.0), Some(3)),
                    13 => (0.0, 0.0, None, None),
                    _ => (50.0, 0.0, Some(0.0), Some(0)),
                };
                AhaSegment {
                    number: n,
                    name: AHA_SEGMENT_NAMES[n - 1],
                    myocardium_mm3: myo,
                    scar_mm3: scar,
                    scar_percent: percent,
                    grade,
                }
            })
            .collect();
        // The basal slice cut at 310 degrees, the two mid ones at 300, no apical slice.
        let map = AhaMap {
            septum_clockwise: false,
            insertion_marks_deg: vec![Some(310.0), None, Some(300.0), None],
            insertions_deg: vec![Some(310.0), Some(300.0), Some(300.0), None],
            base_first: Some(true),
            levels: vec![Some(Basal), Some(Mid), Some(Mid), None],
            segments,
            territories: vec![],
        };
        let rows = aha_rows("in, a", &map);
        let text = String::from_utf8(aha_csv(&rows).expect("csv")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 17, "{text}");
        assert_eq!(
            lines[0],
            "input,segment,name,level,territory,myocardium_mm3,scar_mm3,scar_percent,grade,\
             anterior_insertion_deg,septum_clockwise"
        );
        assert_eq!(
            lines[1],
            "\"in, a\",1,basal anterior,basal,LAD,100.0,60.0,60.0,3,310.0,false"
        );
        assert_eq!(
            lines[8],
            "\"in, a\",8,mid anteroseptal,mid,LAD,50.0,0.0,0.0,0,300.0,false"
        );
        assert_eq!(
            lines[13],
            "\"in, a\",13,apical anterior,apical,LAD,0.0,0.0,,,,false"
        );
        // The header is the rows' own field names, in order.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&rows[0]).expect("row");
        let own = String::from_utf8(w.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(own.lines().next(), Some(lines[0]));
    }

    #[test]
    fn the_flag_is_uncertain_where_the_limits_reach_the_threshold() {
        // Limits -4.22 to +3.91: a burden of 15.8% is 11.89-20.02% in the reference's terms,
        // 6.5% is 2.59-10.72% (5% inside: uncertain), 0.5% is 0-4.72% (below: not uncertain),
        // 8.91% is 5.00-13.13% (the threshold itself: a reference of 5.00% is not above it).
        let limits = (-4.22, 3.91);
        for (burden, want) in [
            (15.8, (11.89, 20.02, false)),
            (6.5, (2.59, 10.72, true)),
            (0.5, (0.0, 4.72, false)),
            (8.91, (5.0, 13.13, true)),
        ] {
            let (low, high, uncertain) = flag_agreement(burden, limits);
            assert!(
                (low - want.0).abs() < 1e-9 && (high - want.1).abs() < 1e-9,
                "{burden}: {low} {high}"
            );
            assert_eq!(uncertain, want.2, "{burden}");
        }
    }

    #[test]
    fn stack_record_by_hand() {
        let (stack, result) = two_slices();
        let v = stack_record(
            "in",
            &stack,
            &result,
            &["one file skipped".to_string()],
            Some((-4.22, 3.91)),
        );
        assert_eq!(v["input"], "in");
        assert!(v["part"].is_null(), "{v}");
        assert_eq!(
            (
                v["scar_volume_mm3"].as_f64(),
                v["myocardium_volume_mm3"].as_f64()
            ),
            (Some(40.0), Some(160.0))
        );
        let mass = |k: &str| v[k].as_f64().expect(k);
        assert!((mass("scar_mass_g") - 0.042).abs() < 1e-12, "{v}");
        assert!((mass("myocardium_mass_g") - 0.168).abs() < 1e-12, "{v}");
        assert_eq!(
            (v["burden_percent"].as_f64(), v["high_risk"].as_bool()),
            (Some(25.0), Some(true))
        );
        assert_eq!(v["warnings"], serde_json::json!(["one file skipped"]));
        // Limits -4.22 to +3.91: the reference's burden 25 - 3.91 to 25 + 4.22, 5% far below.
        let agreement = &v["flag_agreement"];
        assert_eq!(
            agreement["limits_of_agreement_pp"],
            serde_json::json!([-4.22, 3.91])
        );
        let range = agreement["reference_burden_percent"]
            .as_array()
            .expect("range");
        assert!(
            (range[0].as_f64().expect("low") - 21.09).abs() < 1e-9,
            "{agreement}"
        );
        assert!(
            (range[1].as_f64().expect("high") - 29.22).abs() < 1e-9,
            "{agreement}"
        );
        assert_eq!(agreement["uncertain"], false);
        // Slice a's myocardium, pixels (0,0), (0,1), (1,0) at (0,0), (2,0), (0,2) mm (x, y), has
        // its centroid at (2/3, 2/3): clockwise from 12 o'clock they lie at 315, 63.4 and 206.6
        // degrees, in sectors 10, 2 and 6, and the scar (0,0) fills sector 10. Slice b's one
        // pixel is its own centroid, in sector 0.
        assert_eq!(
            (v["transmural_sectors"].as_u64(), v["wall_sectors"].as_u64()),
            (Some(1), Some(4))
        );
        let mut a = vec![serde_json::Value::Null; 12];
        a[10] = 100.0.into();
        a[2] = 0.0.into();
        a[6] = 0.0.into();
        let slices = v["slices"].as_array().expect("slices");
        assert_eq!(slices[0]["sector_scar_percent"], serde_json::Value::from(a));
        assert_eq!(
            (
                slices[0]["transmural_sectors"].as_u64(),
                slices[0]["wall_sectors"].as_u64(),
                slices[1]["transmural_sectors"].as_u64(),
                slices[1]["wall_sectors"].as_u64()
            ),
            (Some(1), Some(3), Some(0), Some(1))
        );
        assert_eq!(slices.len(), 2);
        assert_eq!(
            (
                slices[0]["source"].as_str(),
                slices[0]["high_risk"].as_bool()
            ),
            (Some("a,1"), Some(true))
        );
        assert_eq!(
            (
                slices[1]["source"].as_str(),
                slices[1]["high_risk"].as_bool()
            ),
            (Some("b"), Some(false))
        );
    }

    #[test]
    fn output_stems_name_the_part_as_a_file_name_piece() {
        assert_eq!(output_stem("psir", None), "psir");
        assert_eq!(
            output_stem("psir", Some("image type REAL")),
            "psir_image-type-REAL"
        );
        assert_eq!(
            output_stem("s", Some("series 7 LGE_PSIR, time 3")),
            "s_series-7-LGE_PSIR-time-3"
        );
        assert_eq!(
            output_stem("s", Some("image type ORIGINAL\\PRIMARY\\M\\ND")),
            "s_image-type-ORIGINAL-PRIMARY-M-ND"
        );
        assert_eq!(output_stem("cine", Some("volume 2")), "cine_volume-2");
        assert_eq!(
            output_stem("x", Some("series 1.2.840.1/é")),
            "x_series-1.2.840.1"
        );
    }
}
