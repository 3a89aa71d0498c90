//! `scarseg phantom`: writes phantom cases as PNG (image + label map), NIfTI (image + label
//! volume), DICOM series (+ label volume in NIfTI and the truth as a DICOM segmentation) or in
//! the EMIDEC challenge's layout, and
//! `cases.json` with every case's parameters. Each layout is one that `train` and `eval` read
//! (`--pairs`, or `--emidec` for the last).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use scarseg_imaging::Limits;
use scarseg_imaging::decode::decode_file;
use scarseg_imaging::encode::{
    DicomSyntax, NiftiData, SeriesIds, dicom_mr, nifti1, png_grey8, png_grey16,
};
use scarseg_imaging::phantom::{Difficulty, PhantomConfig, generate};
use scarseg_imaging::seg::{AlgorithmType, Instance, dicom_seg};
use scarseg_pipeline::outputs::{SEG_SUFFIX, scarseg_segments};

use crate::Outcome;
use crate::data::{LABEL_SUFFIX, PatternArg};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// 16-bit grey PNG per slice with an 8-bit label PNG (values 0-4) beside it; the slices
    /// of a case with several in a folder of its own.
    Png,
    /// .nii.gz image volume with a .nii.gz label volume.
    Nifti,
    /// One DICOM file per slice in a folder per case, with a .nii.gz label volume beside the
    /// folder.
    Dicom,
    /// The EMIDEC challenge layout: `CASE/Images/CASE.nii.gz` and `CASE/Contours/CASE.nii.gz`.
    Emidec,
}

/// Difficulty presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// High scar contrast, little noise, large scars.
    Easy,
    /// The default mix (scar sometimes as bright as blood).
    Default,
    /// Low contrast, more noise, small scars, more ghosting.
    Hard,
}

/// Arguments of `scarseg phantom`.
#[derive(Debug, Args)]
pub struct PhantomArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of cases.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Seed of the first case (case i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// File format.
    #[arg(long, value_enum, default_value = "png")]
    pub format: Format,
    /// Slices per case (base to apex).
    #[arg(long, default_value_t = 1)]
    pub slices: usize,
    /// Difficulty preset.
    #[arg(long, value_enum, default_value = "default")]
    pub difficulty: Level,
    /// Where in the wall scar lies. The non-ischemic patterns spare the endocardium; the
    /// default model learnt ischemic scar only.
    #[arg(long, value_enum, default_value = "ischemic")]
    pub pattern: PatternArg,
}

fn difficulty(level: Level) -> Difficulty {
    let d = Difficulty::default();
    match level {
        Level::Default => d,
        Level::Easy => Difficulty {
            scar_to_blood: [1.2, 1.5],
            noise: [0.01, 0.04],
            scar_width_deg: [60.0, 130.0],
            scar_probability: 0.9,
            ghosting_probability: 0.0,
        },
        Level::Hard => Difficulty {
            scar_to_blood: [0.7, 1.1],
            noise: [0.06, 0.15],
            scar_width_deg: [25.0, 80.0],
            scar_probability: 0.85,
            ghosting_probability: 0.4,
        },
    }
}

/// Runs `scarseg phantom`.
pub fn run(args: PhantomArgs) -> Result<Outcome> {
    if args.count == 0 || args.slices == 0 {
        bail!("--count and --slices must be at least 1");
    }
    let max_slices = Limits::default().max_slices;
    if args.slices as u64 > max_slices {
        bail!(
            "--slices {}: at most {max_slices}, the most ScarSeg reads in one stack",
            args.slices
        );
    }
    if args.seed.checked_add(args.count as u64 - 1).is_none() {
        bail!(
            "--seed {} with --count {}: the last case's seed would pass {}",
            args.seed,
            args.count,
            u64::MAX
        );
    }
    crate::output_folder(&args.out)?;
    let config = PhantomConfig {
        slices: args.slices,
        difficulty: difficulty(args.difficulty),
        pattern: args.pattern.into(),
        ..Default::default()
    };
    let write = |name: &str, bytes: Vec<u8>| -> Result<()> {
        let path = args.out.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("{}: cannot write", path.display()))
    };
    let mut params = Vec::new();
    for i in 0..args.count as u64 {
        let case = generate(args.seed + i, &config);
        let images: Vec<_> = case.slices.iter().map(|s| s.image.clone()).collect();
        let labels: Vec<u8> = case.slices.iter().flat_map(|s| s.labels.clone()).collect();
        match args.format {
            Format::Png => {
                for (k, s) in case.slices.iter().enumerate() {
                    // A case's slices share a folder: `--pairs` takes the first folder as
                    // the patient, so a split never puts one case on both sides.
                    let stem = if case.slices.len() > 1 {
                        format!("{0}/{0}_{k:03}", case.name)
                    } else {
                        case.name.clone()
                    };
                    let im = &s.image;
                    write(
                        &format!("{stem}.png"),
                        png_grey16(im.rows, im.cols, &im.pixels, Some(im.spacing_mm))?,
                    )?;
                    write(
                        &format!("{stem}{LABEL_SUFFIX}.png"),
                        png_grey8(im.rows, im.cols, &s.labels, Some(im.spacing_mm))?,
                    )?;
                }
            }
            Format::Nifti => {
                write(
                    &format!("{}.nii.gz", case.name),
                    nifti1(&images, NiftiData::F32(&flat(&images)), true)?,
                )?;
                write(
                    &format!("{}{LABEL_SUFFIX}.nii.gz", case.name),
                    nifti1(&images, NiftiData::U8(&labels), true)?,
                )?;
            }
            Format::Emidec => {
                let name = &case.name;
                write(
                    &format!("{name}/Images/{name}.nii.gz"),
                    nifti1(&images, NiftiData::F32(&flat(&images)), true)?,
                )?;
                write(
                    &format!("{name}/Contours/{name}.nii.gz"),
                    nifti1(&images, NiftiData::U8(&labels), true)?,
                )?;
            }
            Format::Dicom => {
                let ids = SeriesIds {
                    // u128: seeds up to u64::MAX; 1000 + keeps the UID's number free of a
                    // leading zero.
                    study_uid: format!("2.25.{}1", 1000 + u128::from(args.seed + i)),
                    series_uid: format!("2.25.{}2", 1000 + u128::from(args.seed + i)),
                    patient_name: case.name.clone(),
                };
                let mut written = Vec::with_capacity(images.len());
                for (k, im) in images.iter().enumerate() {
                    let name = format!("{}/IM{:04}.dcm", case.name, k + 1);
                    let bytes = dicom_mr(im, &ids, k as u32 + 1, DicomSyntax::ExplicitLittle)?;
                    // Read back, each slice knows the instance a segmentation references.
                    written.push(
                        decode_file(&name, &bytes, &Limits::default())?
                            .slices
                            .remove(0),
                    );
                    write(&name, bytes)?;
                }
                write(
                    &format!("{}{LABEL_SUFFIX}.nii.gz", case.name),
                    nifti1(&images, NiftiData::U8(&labels), true)?,
                )?;
                write(
                    &format!("{}{SEG_SUFFIX}", case.name),
                    truth_segmentation(&written, &case.slices, &ids)?,
                )?;
            }
        }
        params.push(case.params);
    }
    write(
        "cases.json",
        serde_json::to_vec_pretty(&serde_json::json!({
            "generator": "scarseg phantom",
            "labels": "0 background, 1 LV blood pool, 2 myocardium, 3 scar, 4 microvascular obstruction",
            "config": config,
            "cases": params,
        }))?,
    )?;
    eprintln!(
        "wrote {} phantom case(s) to {}",
        args.count,
        args.out.display()
    );
    Ok(Outcome::Done)
}

fn flat(slices: &[scarseg_imaging::Slice]) -> Vec<f32> {
    slices
        .iter()
        .flat_map(|s| s.pixels.iter().copied())
        .collect()
}

/// A phantom series' exact labels as a DICOM segmentation of its images (`slices`, read back
/// from the files written), so that a viewer or an archive shows the truth over the series:
/// the same two segments as predict's, made by the generator.
fn truth_segmentation(
    slices: &[scarseg_imaging::Slice],
    truth: &[scarseg_imaging::phantom::PhantomSlice],
    ids: &SeriesIds,
) -> Result<Vec<u8>> {
    let myocardium: Vec<Vec<bool>> = truth.iter().map(|t| t.myocardium().data).collect();
    let scar: Vec<Vec<bool>> = truth.iter().map(|t| t.scar().data).collect();
    let segments = scarseg_segments(
        myocardium.iter().map(Vec::as_slice).collect(),
        scar.iter().map(Vec::as_slice).collect(),
        AlgorithmType::Automatic,
        "ScarSeg phantom generator (exact labels)",
    );
    let sop_instance_uid = format!("{}.9.1", ids.series_uid);
    let series_uid = format!("{}.9", ids.series_uid);
    Ok(dicom_seg(
        slices,
        &segments,
        &Instance {
            sop_instance_uid: &sop_instance_uid,
            series_uid: &series_uid,
            series_number: 1000,
            series_description: "ScarSeg phantom truth",
            content_label: "TRUTH",
            content_description: "The phantom's exact labels",
            manufacturer: "ScarSeg phantom",
            model_name: "ScarSeg phantom",
            software_version: env!("CARGO_PKG_VERSION"),
            device_serial: "phantom",
            // Type 1, and the output stays the same for the same seed: a fixed date.
            date: "20000101",
            time: "000000",
        },
    )?)
}
