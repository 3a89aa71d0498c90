//! The synthetic LGE phantom: realistic short-axis late-gadolinium-enhancement slices from a seed,
//! with exact labels.
//!
//! Labels follow EMIDEC: 0 background (everything else, the right ventricle included), 1 LV
//! blood pool (papillary muscles included), 2 healthy myocardium, 3 scar, 4 microvascular
//! obstruction (MVO). For the network, scar = 3 + 4 and myocardium = 2 + 3 + 4.
//!
//! Anatomy and physics, each varied per case from the seed: an LV myocardial ring with irregular,
//! varying thickness and an elliptical cavity with papillary muscles; the RV cavity; bright blood
//! next to nulled (dark) myocardium; scar in one coronary territory (LAD, RCA or LCx), from
//! subendocardial to transmural, sometimes patchy, sometimes with a dark MVO core (or, on request,
//! the non-ischemic patterns of [`ScarPattern`]: a septal mid-wall stripe, or subepicardial scar
//! of the inferolateral wall); pericardial
//! fat; chest wall with subcutaneous fat, lungs, liver and the descending aorta; a smooth bias
//! field; partial-volume blur (2x2 supersampling and a Gaussian); optional ghosting along the
//! phase-encoding direction; Rician noise. Image size, pixel spacing, contrast and noise vary
//! widely so that a model trained here generalises beyond one look. Stacks share one heart from
//! base to apex.
//!
//! Difficulty knobs ([`Difficulty`]): scar-to-blood contrast, noise, scar size. Scar as bright as
//! blood next to it means no threshold separates them: the phantom is not solvable by a
//! threshold.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::metrics::Mask;
use crate::noise::gaussian;
use crate::slice::{Slice, Stack};

/// Label values.
pub mod label {
    /// Background, RV and everything outside the LV.
    pub const BACKGROUND: u8 = 0;
    /// LV blood pool.
    pub const BLOOD_POOL: u8 = 1;
    /// Healthy myocardium.
    pub const MYOCARDIUM: u8 = 2;
    /// Scar (infarct).
    pub const SCAR: u8 = 3;
    /// Microvascular obstruction (no-reflow), counted as scar.
    pub const MVO: u8 = 4;
}

/// How hard the cases are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difficulty {
    /// Scar intensity / blood intensity, sampled from this range. Around 1 scar and blood are
    /// indistinguishable by intensity.
    pub scar_to_blood: [f64; 2],
    /// Rician noise SD as a fraction of the blood intensity, sampled from this range.
    pub noise: [f64; 2],
    /// Scar sector width in degrees, sampled from this range.
    pub scar_width_deg: [f64; 2],
    /// Probability that a case has scar at all.
    pub scar_probability: f64,
    /// Probability of ghosting artefacts.
    pub ghosting_probability: f64,
}

impl Default for Difficulty {
    fn default() -> Self {
        Self {
            scar_to_blood: [0.8, 1.3],
            noise: [0.02, 0.10],
            scar_width_deg: [35.0, 130.0],
            scar_probability: 0.85,
            ghosting_probability: 0.2,
        }
    }
}

/// Where in the wall the scar lies. Ischemic scar starts at the endocardium and grows outwards
/// within a coronary territory; the non-ischemic causes spare the endocardium (Mahrholdt et al.,
/// Eur Heart J 2005): dilated cardiomyopathy's septal mid-wall stripe, and myocarditis's
/// subepicardial scar of the inferolateral wall. The default model learnt ischemic scar only;
/// the other patterns let a user measure what it does with them, and a teacher show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScarPattern {
    /// From the endocardium outwards, in the LAD, RCA or LCx territory (the default).
    #[default]
    Ischemic,
    /// A band through the middle of the septal wall, touching neither border.
    MidWall,
    /// From the epicardium inwards, in the inferolateral wall.
    Subepicardial,
    /// Each case draws one of the three above, with equal chances.
    Mixed,
}

impl ScarPattern {
    /// The name used on the command line and in `cases.json`.
    pub fn name(self) -> &'static str {
        match self {
            ScarPattern::Ischemic => "ischemic",
            ScarPattern::MidWall => "mid-wall",
            ScarPattern::Subepicardial => "subepicardial",
            ScarPattern::Mixed => "mixed",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhantomConfig {
    /// Image rows and columns are each sampled from this range (pixels).
    pub size_px: [usize; 2],
    /// Pixel spacing is sampled from this range (mm).
    pub spacing_mm: [f64; 2],
    /// Slices per case (1 for single slices; stacks run base to apex).
    pub slices: usize,
    /// Slice thickness in mm.
    pub thickness_mm: f64,
    /// Difficulty knobs.
    pub difficulty: Difficulty,
    /// Where in the wall scar lies. The ischemic default draws exactly the cases it drew before
    /// the option existed, so the default model's seeds name the same cases.
    #[serde(default)]
    pub pattern: ScarPattern,
}

impl Default for PhantomConfig {
    fn default() -> Self {
        Self {
            size_px: [128, 288],
            spacing_mm: [0.9, 2.0],
            slices: 1,
            thickness_mm: 8.0,
            difficulty: Difficulty::default(),
            pattern: ScarPattern::Ischemic,
        }
    }
}

/// One generated slice: the image and its exact labels.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomSlice {
    /// The image with geometry.
    pub image: Slice,
    /// `rows * cols` labels (see [`label`]).
    pub labels: Vec<u8>,
}

impl PhantomSlice {
    /// Scar mask (labels 3 and 4).
    pub fn scar(&self) -> Mask {
        self.mask(|l| l == label::SCAR || l == label::MVO)
    }

    /// Myocardium mask, scar included (labels 2, 3, 4).
    pub fn myocardium(&self) -> Mask {
        self.mask(|l| l >= label::MYOCARDIUM)
    }

    fn mask(&self, f: impl Fn(u8) -> bool) -> Mask {
        Mask {
            rows: self.image.rows,
            cols: self.image.cols,
            data: self.labels.iter().map(|l| f(*l)).collect(),
        }
    }
}

/// The parameters a case was drawn with (its provenance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseParams {
    /// The seed.
    pub seed: u64,
    /// Rows, columns.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Pixel spacing, mm.
    pub spacing_mm: f64,
    /// Blood intensity (before gain).
    pub blood: f64,
    /// Scar / blood intensity ratio.
    pub scar_to_blood: f64,
    /// Noise SD / blood intensity.
    pub noise: f64,
    /// Scar territory, if any.
    pub territory: Option<String>,
    /// Where in the wall the scar lies (never `Mixed`), if there is scar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<ScarPattern>,
    /// Maximum transmurality of the scar (0..1): for mid-wall scar, the band's share of the wall.
    pub transmurality: f64,
    /// Whether the scar is patchy.
    pub patchy: bool,
    /// Whether there is an MVO core.
    pub mvo: bool,
    /// Whether ghosting was added.
    pub ghosting: bool,
    /// Where the AHA segments start: the anterior RV insertion, in degrees clockwise from 12
    /// o'clock as the image is shown, taken 60 degrees anterior of the septum's middle, which
    /// faces the right ventricle's centre (see `metrics::AhaOrientation`; the septum runs
    /// counterclockwise from it, the standard display).
    #[serde(default)]
    pub rv_insertion_deg: f64,
}

/// A generated case: one slice or a base-to-apex stack.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomCase {
    /// `phantom-<seed>`.
    pub name: String,
    /// The slices, base to apex.
    pub slices: Vec<PhantomSlice>,
    /// How it was drawn.
    pub params: CaseParams,
}

impl PhantomCase {
    /// Its images as a stack named after the case, as a decoder would return its file.
    pub fn stack(&self) -> Stack {
        Stack {
            name: self.name.clone(),
            part: None,
            slices: self.slices.iter().map(|s| s.image.clone()).collect(),
            warnings: vec![],
        }
    }
}

/// Sum of a few random low-frequency cosines, values roughly in [-1, 1]: smooth fields for bias,
/// patchiness and texture.
struct SmoothField {
    waves: Vec<(f64, f64, f64, f64)>, // (kx, ky, phase, amplitude)
}

impl SmoothField {
    fn new(rng: &mut ChaCha8Rng, count: usize, max_frequency: f64) -> Self {
        let amplitude = 1.0 / (count as f64).sqrt();
        let waves = (0..count)
            .map(|_| {
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                let f = rng.random_range(0.2..1.0) * max_frequency;
                (
                    f * angle.cos(),
                    f * angle.sin(),
                    rng.random_range(0.0..std::f64::consts::TAU),
                    amplitude,
                )
            })
            .collect();
        Self { waves }
    }

    fn at(&self, x: f64, y: f64) -> f64 {
        self.waves
            .iter()
            .map(|(kx, ky, p, a)| a * (kx * x + ky * y + p).cos())
            .sum()
    }
}

/// Wraps an angle difference into (-pi, pi].
fn wrap(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    } else if a <= -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    }
    a
}

/// Everything about one heart and its surroundings, in mm relative to the image centre.
struct Heart {
    centre: (f64, f64),
    r_endo: f64,
    ellipticity: f64,
    ellipse_angle: f64,
    thickness: f64,
    thick_a1: f64,
    thick_p1: f64,
    thick_a2: f64,
    thick_p2: f64,
    papillary: [(f64, f64); 2], // (angle, radius) of each muscle
    rv_angle: f64,
    rv_radii: (f64, f64),
    pericardial_fat: Option<(f64, f64, f64)>, // (centre angle, half width, thickness)
    body_radii: (f64, f64),
    body_offset: (f64, f64),
    fat_mm: f64,
    lung_offsets: [(f64, f64, f64, f64); 2],
    liver: (f64, f64, f64, f64),
    aorta: (f64, f64, f64),
    scar: Option<ScarShape>,
    intensities: Intensities,
}

struct ScarShape {
    territory: &'static str,
    pattern: ScarPattern,
    centre: f64,
    half_width: f64,
    /// Ischemic: how far from the endocardium it reaches; subepicardial: from the epicardium;
    /// mid-wall: the band's thickness. All as a share of the wall.
    transmurality: f64,
    /// Mid-wall only: the band's middle, as a share of the wall from the endocardium.
    band_centre: f64,
    patchy: Option<SmoothField>,
    mvo: bool,
    /// Width (mm) of the soft edge between scar and healthy myocardium: a grey zone of
    /// intermediate signal on both sides of the labelled border.
    transition_mm: f64,
    /// Relative amplitude of the scar's smooth intensity variation.
    heterogeneity: f64,
    texture: SmoothField,
}

struct Intensities {
    blood: f64,
    myocardium: f64,
    scar: f64,
    mvo: f64,
    tissue: f64,
    fat: f64,
    lung: f64,
    liver: f64,
}

impl Heart {
    fn draw_ischemic(rng: &mut ChaCha8Rng, difficulty: &Difficulty) -> ScarShape {
        let deg = std::f64::consts::PI / 180.0;
        // Image angles: x right, y down; the RV (septum) is on the left (180 degrees).
        let (territory, centre) = match rng.random_range(0..3) {
            0 => ("LAD", rng.random_range(200.0..290.0) * deg),
            1 => ("RCA", rng.random_range(80.0..140.0) * deg),
            _ => ("LCx", rng.random_range(-40.0..40.0) * deg),
        };
        let width = rng.random_range(difficulty.scar_width_deg[0]..=difficulty.scar_width_deg[1]);
        let transmurality = rng.random_range(0.25..1.0);
        let patchy = (rng.random_range(0.0..1.0) < 0.3).then(|| SmoothField::new(rng, 6, 0.35));
        let mvo = transmurality > 0.6 && rng.random_range(0.0..1.0) < 0.35;
        ScarShape {
            territory,
            pattern: ScarPattern::Ischemic,
            centre,
            half_width: width * deg / 2.0,
            transmurality,
            band_centre: 0.0,
            patchy,
            mvo,
            transition_mm: rng.random_range(1.2..3.5),
            heterogeneity: rng.random_range(0.2..0.6),
            texture: SmoothField::new(rng, 6, 0.45),
        }
    }

    /// Mid-wall scar lies in the septum (centred at 150-210 degrees in image angles, about the
    /// RV's 160-200),
    /// subepicardial scar in the inferolateral wall (between lateral, 0 degrees, and inferior,
    /// 90). Neither has an MVO core, which belongs to reperfused infarcts.
    fn draw_non_ischemic(
        rng: &mut ChaCha8Rng,
        difficulty: &Difficulty,
        pattern: ScarPattern,
    ) -> ScarShape {
        let deg = std::f64::consts::PI / 180.0;
        let (territory, centre, transmurality, band_centre) = if pattern == ScarPattern::MidWall {
            // A band 25-50% of the wall thick, its middle within 40-60% of it: at least 15% of
            // the wall stays healthy on either side, so the band touches neither border.
            let band = rng.random_range(0.25..0.5);
            (
                "septal mid-wall",
                rng.random_range(150.0..210.0) * deg,
                band,
                rng.random_range(0.4..0.6),
            )
        } else {
            (
                "inferolateral subepicardial",
                rng.random_range(5.0..85.0) * deg,
                rng.random_range(0.25..0.6),
                0.0,
            )
        };
        let width = rng.random_range(difficulty.scar_width_deg[0]..=difficulty.scar_width_deg[1]);
        let patchy = (rng.random_range(0.0..1.0) < 0.3).then(|| SmoothField::new(rng, 6, 0.35));
        ScarShape {
            territory,
            pattern,
            centre,
            half_width: width * deg / 2.0,
            transmurality,
            band_centre,
            patchy,
            mvo: false,
            transition_mm: rng.random_range(1.2..3.5),
            heterogeneity: rng.random_range(0.2..0.6),
            texture: SmoothField::new(rng, 6, 0.45),
        }
    }

    fn draw(
        rng: &mut ChaCha8Rng,
        difficulty: &Difficulty,
        pattern: ScarPattern,
        fov_mm: (f64, f64),
    ) -> Self {
        let tau = std::f64::consts::TAU;
        let deg = std::f64::consts::PI / 180.0;
        let r_endo = rng.random_range(15.0..26.0);
        let thickness = rng.random_range(5.5..11.0);
        let blood = rng.random_range(0.55..0.95);
        let scar_to_blood =
            rng.random_range(difficulty.scar_to_blood[0]..=difficulty.scar_to_blood[1]);
        let scar = (rng.random_range(0.0..1.0) < difficulty.scar_probability).then(|| {
            // Only a mixed configuration draws the pattern, and only the non-ischemic ones draw
            // anything more, so ischemic cases are those the seeds always gave.
            let pattern = match pattern {
                ScarPattern::Mixed => [
                    ScarPattern::Ischemic,
                    ScarPattern::MidWall,
                    ScarPattern::Subepicardial,
                ][rng.random_range(0..3)],
                p => p,
            };
            match pattern {
                ScarPattern::MidWall | ScarPattern::Subepicardial => {
                    Self::draw_non_ischemic(rng, difficulty, pattern)
                }
                _ => Self::draw_ischemic(rng, difficulty),
            }
        });
        let myocardium = rng.random_range(0.02..0.12);
        let jitter = |rng: &mut ChaCha8Rng, fov: f64| rng.random_range(-0.08..0.08) * fov;
        Heart {
            centre: (jitter(rng, fov_mm.0), jitter(rng, fov_mm.1)),
            r_endo,
            ellipticity: rng.random_range(0.0..0.15),
            ellipse_angle: rng.random_range(0.0..tau),
            thickness,
            thick_a1: rng.random_range(0.0..0.3),
            thick_p1: rng.random_range(0.0..tau),
            thick_a2: rng.random_range(0.0..0.2),
            thick_p2: rng.random_range(0.0..tau),
            papillary: [
                (
                    rng.random_range(20.0..80.0) * deg,
                    rng.random_range(2.0..3.5),
                ),
                (
                    rng.random_range(100.0..160.0) * deg,
                    rng.random_range(2.0..3.5),
                ),
            ],
            rv_angle: rng.random_range(160.0..200.0) * deg,
            rv_radii: (rng.random_range(24.0..38.0), rng.random_range(14.0..24.0)),
            pericardial_fat: (rng.random_range(0.0..1.0) < 0.6).then(|| {
                (
                    rng.random_range(0.0..tau),
                    rng.random_range(30.0..90.0) * deg,
                    rng.random_range(1.0..3.5),
                )
            }),
            body_radii: (
                fov_mm.1 * rng.random_range(0.40..0.49),
                fov_mm.0 * rng.random_range(0.30..0.42),
            ),
            body_offset: (rng.random_range(-5.0..5.0), rng.random_range(0.0..15.0)),
            fat_mm: rng.random_range(3.0..10.0),
            lung_offsets: [
                (
                    rng.random_range(-75.0..-55.0),
                    rng.random_range(-15.0..10.0),
                    rng.random_range(28.0..40.0),
                    rng.random_range(35.0..55.0),
                ),
                (
                    rng.random_range(50.0..75.0),
                    rng.random_range(-20.0..5.0),
                    rng.random_range(25.0..38.0),
                    rng.random_range(35.0..55.0),
                ),
            ],
            liver: (
                rng.random_range(-70.0..-40.0),
                rng.random_range(35.0..55.0),
                rng.random_range(35.0..55.0),
                rng.random_range(22.0..35.0),
            ),
            aorta: (
                rng.random_range(15.0..35.0),
                rng.random_range(40.0..55.0),
                rng.random_range(9.0..13.0),
            ),
            scar,
            intensities: Intensities {
                blood,
                myocardium,
                scar: blood * scar_to_blood,
                mvo: myocardium * rng.random_range(1.0..2.5),
                tissue: rng.random_range(0.18..0.4),
                fat: rng.random_range(0.55..0.85),
                lung: rng.random_range(0.01..0.05),
                liver: rng.random_range(0.25..0.45),
            },
        }
    }

    /// Label and intensity at (x, y) mm from the image centre, on a slice `apex` of the way
    /// (0 base, 1 apex) down the ventricle.
    fn sample(&self, x: f64, y: f64, apex: f64) -> (u8, f64) {
        let i = &self.intensities;
        let (dx, dy) = (x - self.centre.0, y - self.centre.1);
        let r = (dx * dx + dy * dy).sqrt();
        let theta = dy.atan2(dx);
        let shrink = 1.0 - 0.45 * apex;
        let r_endo = self.r_endo
            * shrink
            * (1.0 + self.ellipticity * (2.0 * (theta - self.ellipse_angle)).cos());
        let thickness = self.thickness
            * (1.0 - 0.15 * apex)
            * (1.0
                + self.thick_a1 * (theta - self.thick_p1).cos()
                + self.thick_a2 * (2.0 * theta - self.thick_p2).cos());
        let r_epi = r_endo + thickness;

        if r < r_endo {
            for (angle, radius) in self.papillary {
                let (px, py) = (
                    (r_endo - radius - 1.0) * angle.cos(),
                    (r_endo - radius - 1.0) * angle.sin(),
                );
                if ((dx - px).powi(2) + (dy - py).powi(2)).sqrt() < radius * shrink.max(0.6) {
                    return (label::BLOOD_POOL, i.myocardium * 1.3);
                }
            }
            return (label::BLOOD_POOL, i.blood);
        }
        if r < r_epi {
            let depth = (r - r_endo) / thickness;
            let Some(scar) = &self.scar else {
                return (label::MYOCARDIUM, i.myocardium);
            };
            let off = wrap(theta - scar.centre).abs();
            // Transmurality tapers towards the sector's edges.
            let taper = if off < scar.half_width {
                (off / scar.half_width * std::f64::consts::FRAC_PI_2)
                    .cos()
                    .sqrt()
            } else {
                0.0
            };
            let reach = scar.transmurality * taper;
            // How far (as a share of the wall) the pixel lies inside the scar's extent across
            // the wall; negative outside it.
            let across = match scar.pattern {
                ScarPattern::MidWall => reach / 2.0 - (depth - scar.band_centre).abs(),
                ScarPattern::Subepicardial => reach - (1.0 - depth),
                _ => reach - depth,
            };
            // Signed distance (mm) to the scar border, positive inside.
            let mut inside_mm = (across * thickness).min((scar.half_width - off) * r);
            if let Some(field) = &scar.patchy {
                inside_mm = inside_mm.min((field.at(x, y) + 0.15) * 6.0);
            }
            let enhancement = 1.0 / (1.0 + (-inside_mm / (0.35 * scar.transition_mm)).exp());
            let peak = i.scar * (1.0 + scar.heterogeneity * scar.texture.at(x, y));
            let value = i.myocardium + (peak - i.myocardium) * enhancement;
            if inside_mm <= 0.0 {
                return (label::MYOCARDIUM, value);
            }
            if scar.mvo && off < 0.4 * scar.half_width && depth < 0.45 * reach {
                return (label::MVO, i.mvo);
            }
            return (label::SCAR, value);
        }
        if let Some((angle, half, fat)) = self.pericardial_fat
            && r < r_epi + fat
            && wrap(theta - angle).abs() < half
        {
            return (label::BACKGROUND, i.fat);
        }
        // RV cavity: an ellipse beside the LV, beyond a 2 mm septal gap.
        let (ca, sa) = (self.rv_angle.cos(), self.rv_angle.sin());
        let rv_dist = r_epi + self.rv_radii.1 * 0.6 * shrink;
        let (rx, ry) = (dx - rv_dist * ca, dy - rv_dist * sa);
        let (u, v) = (rx * ca + ry * sa, -rx * sa + ry * ca);
        let (a, b) = (self.rv_radii.1 * shrink, self.rv_radii.0 * shrink);
        if (u / a).powi(2) + (v / b).powi(2) < 1.0 && r > r_epi + 2.0 {
            return (label::BACKGROUND, i.blood * 0.95);
        }
        let (ax, ay, ar) = self.aorta;
        if ((x - self.centre.0 - ax).powi(2) + (y - self.centre.1 - ay).powi(2)).sqrt() < ar {
            return (label::BACKGROUND, i.blood * 0.9);
        }
        let (bx, by) = (x - self.body_offset.0, y - self.body_offset.1);
        let body = (bx / self.body_radii.0).powi(2) + (by / self.body_radii.1).powi(2);
        if body >= 1.0 {
            return (label::BACKGROUND, 0.0);
        }
        let inner = (bx / (self.body_radii.0 - self.fat_mm)).powi(2)
            + (by / (self.body_radii.1 - self.fat_mm)).powi(2);
        if inner >= 1.0 {
            return (label::BACKGROUND, i.fat);
        }
        for (lx, ly, la, lb) in self.lung_offsets {
            if ((x - lx) / la).powi(2) + ((y - ly) / lb).powi(2) < 1.0 {
                return (label::BACKGROUND, i.lung);
            }
        }
        let (lx, ly, la, lb) = self.liver;
        if ((x - lx) / la).powi(2) + ((y - ly) / lb).powi(2) < 1.0 {
            return (label::BACKGROUND, i.liver);
        }
        (label::BACKGROUND, i.tissue)
    }
}

fn blur(values: &mut [f64], rows: usize, cols: usize, sigma: f64) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut tmp = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            tmp[r * cols + c] = kernel
                .iter()
                .enumerate()
                .map(|(k, w)| {
                    let cc = (c as i64 + k as i64 - radius).clamp(0, cols as i64 - 1) as usize;
                    w * values[r * cols + cc]
                })
                .sum();
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            values[r * cols + c] = kernel
                .iter()
                .enumerate()
                .map(|(k, w)| {
                    let rr = (r as i64 + k as i64 - radius).clamp(0, rows as i64 - 1) as usize;
                    w * tmp[rr * cols + c]
                })
                .sum();
        }
    }
}

/// Generates one case from `seed`.
pub fn generate(seed: u64, config: &PhantomConfig) -> PhantomCase {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [lo, hi] = config.size_px;
    let rows = rng.random_range(lo.min(hi)..=hi.max(lo));
    let cols = rng.random_range(lo.min(hi)..=hi.max(lo));
    // Cardiac LGE fields of view are 260-400 mm: pick one, then the spacing that gives it,
    // within the configured spacing range.
    let fov_target = rng.random_range(260.0..400.0);
    let spacing =
        (fov_target / rows.max(cols) as f64).clamp(config.spacing_mm[0], config.spacing_mm[1]);
    let fov = (rows as f64 * spacing, cols as f64 * spacing);
    let heart = Heart::draw(&mut rng, &config.difficulty, config.pattern, fov);
    let noise = rng.random_range(config.difficulty.noise[0]..=config.difficulty.noise[1]);
    let bias_strength = rng.random_range(0.0..0.35);
    let bias = SmoothField::new(&mut rng, 4, 0.012);
    let texture = SmoothField::new(&mut rng, 8, 0.5);
    let blur_sigma = rng.random_range(0.3..0.9);
    let ghosting = rng.random_range(0.0..1.0) < config.difficulty.ghosting_probability;
    let ghost_amplitude = rng.random_range(0.04..0.12);
    let gain = rng.random_range(600.0..3000.0);
    let slices = config.slices.max(1);
    // Single slices come from anywhere between base and mid-apex; stacks span base to apex.
    let single_level = rng.random_range(0.0..0.7);

    let mut out = Vec::with_capacity(slices);
    for k in 0..slices {
        let apex = if slices == 1 {
            single_level
        } else {
            0.85 * k as f64 / (slices - 1) as f64
        };
        let mut labels = vec![0u8; rows * cols];
        let mut values = vec![0f64; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                let y = (r as f64 + 0.5) * spacing - fov.0 / 2.0;
                let x = (c as f64 + 0.5) * spacing - fov.1 / 2.0;
                labels[r * cols + c] = heart.sample(x, y, apex).0;
                // 2x2 supersampling: partial volume at every edge.
                let mut sum = 0.0;
                for (oy, ox) in [(-0.25, -0.25), (-0.25, 0.25), (0.25, -0.25), (0.25, 0.25)] {
                    sum += heart.sample(x + ox * spacing, y + oy * spacing, apex).1;
                }
                let tissue_texture = 1.0 + 0.08 * texture.at(x, y);
                values[r * cols + c] = sum / 4.0 * tissue_texture;
            }
        }
        blur(&mut values, rows, cols, blur_sigma);
        if ghosting {
            // Respiratory ghost: a faint copy shifted half the field along the phase-encode axis.
            let shifted: Vec<f64> = (0..rows * cols)
                .map(|i| values[(i / cols) * cols + (i % cols + cols / 2) % cols])
                .collect();
            values
                .iter_mut()
                .zip(shifted)
                .for_each(|(v, s)| *v += ghost_amplitude * s);
        }
        let sigma = noise * heart.intensities.blood;
        let pixels: Vec<f32> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (r, c) = ((i / cols) as f64, (i % cols) as f64);
                let b = 1.0 + bias_strength * bias.at(c * spacing, r * spacing);
                let signal = v * b;
                let (n1, n2) = (gaussian(&mut rng) * sigma, gaussian(&mut rng) * sigma);
                (((signal + n1).powi(2) + n2 * n2).sqrt() * gain) as f32
            })
            .collect();
        let mut image = Slice::new(rows, cols, pixels, format!("phantom-{seed}"));
        if slices > 1 {
            image.source = format!("phantom-{seed} [{k}]");
        }
        image.spacing_mm = [spacing, spacing];
        image.thickness_mm = config.thickness_mm;
        // Short-axis slices stacked along z, base first; the first pixel's centre at the
        // top-left of a field centred on the origin.
        let z = k as f64 * config.thickness_mm;
        image.position_mm = [
            -fov.1 / 2.0 + spacing / 2.0,
            -fov.0 / 2.0 + spacing / 2.0,
            z,
        ];
        image.slice_location_mm = Some(z);
        image.instance_number = Some(k as i64 + 1);
        out.push(PhantomSlice { image, labels });
    }
    let params = CaseParams {
        seed,
        rows,
        cols,
        spacing_mm: spacing,
        blood: heart.intensities.blood,
        scar_to_blood: heart.intensities.scar / heart.intensities.blood,
        noise,
        territory: heart.scar.as_ref().map(|s| s.territory.to_string()),
        pattern: heart.scar.as_ref().map(|s| s.pattern),
        transmurality: heart.scar.as_ref().map_or(0.0, |s| s.transmurality),
        patchy: heart.scar.as_ref().is_some_and(|s| s.patchy.is_some()),
        mvo: heart.scar.as_ref().is_some_and(|s| s.mvo),
        ghosting,
        // The RV's angle runs from 3 o'clock towards the rows below (atan2 of a y that grows
        // downwards): clockwise on screen, so 90 more from 12 o'clock. Anterior (up) is
        // clockwise of the septum's middle on screen.
        rv_insertion_deg: (heart.rv_angle.to_degrees() + 90.0 + 60.0).rem_euclid(360.0),
    };
    PhantomCase {
        name: format!("phantom-{seed}"),
        slices: out,
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::fwhm;
    use crate::metrics::dice;

    fn config() -> PhantomConfig {
        PhantomConfig {
            size_px: [96, 160],
            ..PhantomConfig::default()
        }
    }

    #[test]
    fn a_seed_always_gives_the_same_case() {
        let a = generate(42, &config());
        let b = generate(42, &config());
        assert_eq!(a, b);
        let c = generate(43, &config());
        assert_ne!(a.slices[0].image.pixels, c.slices[0].image.pixels);
    }

    #[test]
    fn the_ischemic_default_draws_the_cases_it_drew_before_patterns_existed() {
        // The default model's training, validation and test sets are named by seeds, so adding
        // the non-ischemic patterns must not change a default case. Pixel counts per label of
        // two-slice cases (seeds 0-5, 11 and 14: with and without scar, two with MVO), read
        // with nibabel from `scarseg phantom --count 30 --slices 2 --format nifti` written by
        // the build before the option (64691fd).
        let before: [(u64, [usize; 5]); 8] = [
            (0, [110726, 1231, 669, 146, 0]),
            (1, [80618, 1288, 1010, 28, 0]),
            (2, [82114, 1567, 1861, 0, 0]),
            (3, [64154, 1059, 737, 170, 0]),
            (4, [133383, 2974, 3088, 123, 0]),
            (5, [50135, 629, 756, 0, 0]),
            (11, [64546, 752, 740, 148, 44]),
            (14, [121462, 728, 1203, 290, 77]),
        ];
        let config = PhantomConfig {
            slices: 2,
            ..PhantomConfig::default()
        };
        for (seed, counts) in before {
            let case = generate(seed, &config);
            let mut now = [0; 5];
            for l in case.slices.iter().flat_map(|s| &s.labels) {
                now[*l as usize] += 1;
            }
            assert_eq!(now, counts, "seed {seed}");
            assert_eq!(
                case.params.pattern,
                case.params
                    .territory
                    .is_some()
                    .then_some(ScarPattern::Ischemic)
            );
        }
    }

    #[test]
    fn a_mixed_configuration_draws_all_three_patterns_where_each_belongs() {
        // Image angles: septum at 180 degrees, lateral at 0, inferior at 90 (y down).
        let config = PhantomConfig {
            pattern: ScarPattern::Mixed,
            ..config()
        };
        let mut seen = std::collections::BTreeMap::new();
        for seed in 0..60 {
            let p = generate(seed, &config).params;
            let Some(pattern) = p.pattern else { continue };
            *seen.entry(pattern.name()).or_insert(0) += 1;
            let territory = p.territory.expect("a scar has a territory");
            match pattern {
                ScarPattern::MidWall => assert_eq!(territory, "septal mid-wall"),
                ScarPattern::Subepicardial => {
                    assert_eq!(territory, "inferolateral subepicardial")
                }
                ScarPattern::Ischemic => {
                    assert!(["LAD", "RCA", "LCx"].contains(&territory.as_str()))
                }
                ScarPattern::Mixed => panic!("seed {seed}: a case's pattern is never mixed"),
            }
            assert!(
                !(p.mvo && pattern != ScarPattern::Ischemic),
                "seed {seed}: MVO"
            );
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.values().all(|n| *n >= 10), "{seen:?}");
    }

    #[test]
    fn labels_are_anatomically_consistent() {
        for seed in 0..12 {
            let case = generate(
                seed,
                &PhantomConfig {
                    slices: 3,
                    ..config()
                },
            );
            for s in &case.slices {
                let (rows, cols) = (s.image.rows, s.image.cols);
                assert!(s.labels.iter().all(|l| *l <= label::MVO));
                assert!(
                    s.labels.contains(&label::BLOOD_POOL),
                    "seed {seed}: no blood pool"
                );
                assert!(s.labels.contains(&label::MYOCARDIUM) || s.labels.contains(&label::SCAR));
                for r in 1..rows - 1 {
                    for c in 1..cols - 1 {
                        let l = s.labels[r * cols + c];
                        let neighbours = [
                            s.labels[(r - 1) * cols + c],
                            s.labels[(r + 1) * cols + c],
                            s.labels[r * cols + c - 1],
                            s.labels[r * cols + c + 1],
                        ];
                        // The myocardium closes around the blood pool.
                        if l == label::BLOOD_POOL {
                            assert!(
                                !neighbours.contains(&label::BACKGROUND),
                                "seed {seed}: blood pool touches background at ({r}, {c})"
                            );
                        }
                        // MVO is a core inside scar, never in healthy tissue's open.
                        if l == label::MVO {
                            assert!(!neighbours.contains(&label::BACKGROUND));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stacks_keep_one_heart_and_shrink_towards_the_apex() {
        let case = generate(
            7,
            &PhantomConfig {
                slices: 5,
                ..config()
            },
        );
        let blood: Vec<usize> = case
            .slices
            .iter()
            .map(|s| s.labels.iter().filter(|l| **l == label::BLOOD_POOL).count())
            .collect();
        assert!(
            blood.windows(2).all(|w| w[1] <= w[0]),
            "cavity areas {blood:?}"
        );
        let z: Vec<f64> = case.slices.iter().map(|s| s.image.position_mm[2]).collect();
        assert_eq!(z, vec![0.0, 8.0, 16.0, 24.0, 32.0]);
    }

    /// Over 30 default cases with scar: the classic FWHM method (given the true myocardium)
    /// finds scar, but clearly imperfectly; and no global intensity threshold segments scar,
    /// because the blood pool is as bright.
    #[test]
    fn classic_methods_work_but_a_threshold_does_not_solve_it() {
        let mut fwhm_dice = Vec::new();
        let mut threshold_dice = Vec::new();
        let mut seed = 0;
        while fwhm_dice.len() < 30 {
            seed += 1;
            let case = generate(seed, &config());
            let s = &case.slices[0];
            let truth = s.scar();
            if truth.area_px() < 20 {
                continue;
            }
            fwhm_dice.push(dice(&fwhm(&s.image.pixels, &s.myocardium()).scar, &truth));
            // Best possible global threshold over the whole image, chosen with the answer known.
            let (lo, hi) = s
                .image
                .pixels
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
            let best = (1..100)
                .map(|k| {
                    let t = lo + (hi - lo) * k as f32 / 100.0;
                    let m = Mask {
                        rows: truth.rows,
                        cols: truth.cols,
                        data: s.image.pixels.iter().map(|v| *v > t).collect(),
                    };
                    dice(&m, &truth)
                })
                .fold(0.0, f64::max);
            threshold_dice.push(best);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (f, t) = (mean(&fwhm_dice), mean(&threshold_dice));
        println!("FWHM mean Dice {f:.3}, best global threshold mean Dice {t:.3}");
        assert!(f > 0.35 && f < 0.8, "FWHM mean Dice {f}");
        assert!(t < 0.5, "a global threshold reaches mean Dice {t}");
    }
}
