//! End to end through the real binary on tiny phantom data: phantom -> train (a few steps) ->
//! resume -> export -> eval -> predict on every input format, and the error paths' messages and
//! exit codes. Nothing here trains to convergence.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scarseg_imaging::decode::{decode_file, decode_label_file};
use scarseg_imaging::encode::{NiftiData, nifti1};
use scarseg_imaging::{Limits, Slice};

fn scarseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scarseg"))
        .args(args)
        .output()
        .expect("run scarseg")
}

fn ok(args: &[&str]) -> Output {
    let out = scarseg(args);
    assert!(
        out.status.success(),
        "scarseg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The cells of column `name` in a CSV's rows after its header (cells hold no commas here).
fn csv_column<'a>(csv: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = csv.lines().map(|l| l.split(',').collect::<Vec<_>>());
    let header = lines.next().expect("header");
    let k = header.iter().position(|h| *h == name).expect(name);
    lines.map(|row| row[k]).collect()
}

/// Runs scarseg expecting an error: exit code 1 and one stderr line that contains `message`,
/// which it returns.
fn fails(args: &[&str], message: &str) -> String {
    let out = scarseg(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "scarseg {args:?}: {err}");
    assert!(
        err.contains(message),
        "scarseg {args:?}: no {message:?} in {err}"
    );
    assert_eq!(
        err.trim().lines().count(),
        1,
        "scarseg {args:?}: not one line: {err}"
    );
    err
}

/// One epoch of two batches of two phantom cases at 64 x 64 into `run`, with `extra` arguments.
fn train_tiny(run: &Path, extra: &[&str]) -> Output {
    train_small(&["--phantom", "2", "--phantom-validation", "1"], run, extra)
}

/// One epoch at 64 x 64 in batches of two on the data `source` names, into `run`.
fn train_small(source: &[&str], run: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train"];
    args.extend_from_slice(source);
    args.extend_from_slice(&[
        "--size",
        "64",
        "--batch",
        "2",
        "--epochs",
        "1",
        "--out",
        s(run),
    ]);
    args.extend_from_slice(extra);
    ok(&args)
}

/// Exports a run's best checkpoint as `models/name`; returns that folder.
fn export_best(run: &Path, models: &Path, name: &str) -> PathBuf {
    ok(&[
        "export",
        "--checkpoint",
        s(&run.join("best.safetensors")),
        "--name",
        name,
        "--out",
        s(models),
    ]);
    models.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// (rows, cols, values) of the first slice of an image file, through the real decoders.
fn read(path: &Path) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stack = decode_file(s(path), &bytes, &Limits::default()).expect("decodes");
    let first = &stack.slices[0];
    (first.rows, first.cols, first.pixels.clone())
}

/// (rows, cols, bytes) of an 8-bit PNG of `colour`, read with the png crate (the image decoder
/// rightly refuses constant images, and an empty mask is one).
fn read_png8(path: &Path, colour: png::ColorType) -> (usize, usize, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("png header");
    let mut buf = vec![0u8; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!(
        (info.bit_depth, info.color_type),
        (png::BitDepth::Eight, colour)
    );
    buf.truncate(info.buffer_size());
    (info.height as usize, info.width as usize, buf)
}

/// (rows, cols, values) of an 8-bit grey PNG (a mask).
fn read_mask(path: &Path) -> (usize, usize, Vec<f32>) {
    let (rows, cols, bytes) = read_png8(path, png::ColorType::Grayscale);
    (rows, cols, bytes.iter().map(|v| *v as f32).collect())
}

/// The `report.json` that `scarseg predict` wrote in `out`.
fn report_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report")).expect("json")
}

/// Each analysed stack of report.json in `out` as (input, output name, slices), sorted.
fn inputs_named(out: &Path) -> Vec<(String, String, usize)> {
    let report = report_json(out);
    let mut found: Vec<(String, String, usize)> = report["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|r| {
            (
                r["input"].as_str().expect("input").to_string(),
                r["output_name"].as_str().expect("name").to_string(),
                r["slices"].as_array().expect("slices").len(),
            )
        })
        .collect();
    found.sort();
    found
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn train_export_eval_predict_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let run = root.join("run");

    // Train a few steps at 64 x 64, then resume for one more epoch.
    let train = [
        "train",
        "--phantom",
        "4",
        "--phantom-validation",
        "2",
        "--size",
        "64",
        "--batch",
        "2",
        "--epochs",
        "1",
        "--variant",
        "atto",
        "--seed",
        "3",
        "--out",
        s(&run),
    ];
    let out = ok(&train);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("epoch 1/1"), "{log}");
    for f in [
        "best.safetensors",
        "run.json",
        "train_log.csv",
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.bpk",
        "checkpoint/state.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let out = ok(&["train", "--resume", "--epochs", "2", "--out", s(&run)]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("resuming") && log.contains("epoch 2/2"),
        "{log}"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoint/state.json")).expect("state"))
            .expect("json");
    assert_eq!(state["epochs_done"], 2);
    assert_eq!(state["steps_done"], 4, "two epochs of two batches");
    let csv = std::fs::read_to_string(run.join("train_log.csv")).expect("log");
    assert_eq!(
        csv.lines().count(),
        3,
        "header and one row per epoch:\n{csv}"
    );
    // Training on every scar pattern: run.json records it, and a resumed run keeps it.
    let mixed = root.join("run-mixed");
    ok(&[
        "train",
        "--phantom",
        "2",
        "--pattern",
        "mixed",
        "--epochs",
        "1",
        "--phantom-validation",
        "12",
        "--size",
        "32",
        "--batch",
        "2",
        "--out",
        s(&mixed),
    ]);
    ok(&["train", "--resume", "--epochs", "2", "--out", s(&mixed)]);
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mixed.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(run_json["epochs_done"], 2);
    assert_eq!(run_json["data_split"]["pattern"], "mixed");
    // Its validation cases hold several patterns (as the library's generator draws the twelve
    // validation seeds, one slice each: ten ischemic, one subepicardial, one without scar):
    // train_val_by_pattern.csv gives each pattern's slices and scar Dice per epoch, the resumed
    // epoch appended under the first one's header. The epoch's validation scar Dice in
    // train_log.csv is the mean over all twelve: the patterns' slices weighted by their Dice,
    // plus the case without scar, whose Dice is 0 or 1.
    use scarseg_imaging::phantom::{PhantomConfig, ScarPattern, generate};
    let config = PhantomConfig {
        pattern: ScarPattern::Mixed,
        ..PhantomConfig::default()
    };
    let drawn: Vec<ScarPattern> = (0..12)
        .filter_map(|i| {
            let case = generate(1_000_000_000 + i, &config);
            assert_eq!(case.slices.len(), 1);
            case.params.pattern
        })
        .collect();
    let without_scar = 12 - drawn.len();
    assert_eq!(without_scar, 1);
    let mut patterns: Vec<&str> = drawn.iter().map(|p| p.name()).collect();
    patterns.sort();
    patterns.dedup();
    assert!(patterns.len() >= 2, "{drawn:?}");
    let by = std::fs::read_to_string(mixed.join("train_val_by_pattern.csv")).expect("by pattern");
    assert_eq!(
        by.lines().next(),
        Some("epoch,pattern,slices,val_scar_dice")
    );
    let epochs = csv_column(&by, "epoch");
    let names = csv_column(&by, "pattern");
    let slices = csv_column(&by, "slices");
    let dice: Vec<f64> = csv_column(&by, "val_scar_dice")
        .iter()
        .map(|d| d.parse().expect("dice"))
        .collect();
    let mut want_rows = Vec::new();
    for epoch in ["1", "2"] {
        for p in &patterns {
            let n = drawn.iter().filter(|d| d.name() == *p).count().to_string();
            want_rows.push((epoch.to_string(), p.to_string(), n));
        }
    }
    let rows: Vec<(String, String, String)> = (0..epochs.len())
        .map(|k| (epochs[k].into(), names[k].into(), slices[k].into()))
        .collect();
    assert_eq!(rows, want_rows);
    let log = std::fs::read_to_string(mixed.join("train_log.csv")).expect("log");
    for (e, overall) in csv_column(&log, "val_scar_dice").iter().enumerate() {
        let overall: f64 = overall.parse().expect("dice");
        let k = e * patterns.len();
        let weighted: f64 = (k..k + patterns.len())
            .map(|r| dice[r] * rows[r].2.parse::<f64>().expect("slices"))
            .sum();
        let rest = overall * 12.0 - weighted;
        assert!(
            (rest - rest.round()).abs() < 1e-9
                && (0.0..=without_scar as f64).contains(&rest.round()),
            "epoch {}: {weighted} of {overall} x 12",
            e + 1
        );
    }
    // One pattern (the run above, ischemic): no such file.
    assert!(!run.join("train_val_by_pattern.csv").exists());

    // Export in f16 and in f32.
    let models = root.join("models");
    let best = run.join("best.safetensors");
    ok(&[
        "export",
        "--checkpoint",
        s(&best),
        "--name",
        "tiny",
        "--out",
        s(&models),
    ]);
    ok(&[
        "export",
        "--checkpoint",
        s(&best),
        "--name",
        "tiny32",
        "--out",
        s(&models),
        "--full-precision",
    ]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(models.join("tiny/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["preprocessing"]["size"], 64, "size from run.json");
    assert_eq!(manifest["weights"]["precision"], "f16");
    let f16_len = std::fs::metadata(models.join("tiny/weights.safetensors"))
        .expect("f16")
        .len();
    let f32_len = std::fs::metadata(models.join("tiny32/weights.safetensors"))
        .expect("f32")
        .len();
    assert!(
        f16_len * 10 < f32_len * 6,
        "f16 {f16_len} vs f32 {f32_len} bytes"
    );
    let card = std::fs::read_to_string(models.join("tiny/MODEL_CARD.md")).expect("card");
    assert!(
        card.contains("not a clinical one") && card.contains("--phantom 4"),
        "{card}"
    );
    // The card says what it was trained on: phantom images, and which scar.
    assert!(
        card.contains("trained on synthetic phantom images only")
            && card.contains("Its scar is ischemic")
            && card.contains("Real LGE differs from the phantom"),
        "{card}"
    );
    let mixed_card =
        std::fs::read_to_string(export_best(&mixed, &models, "mixed").join("MODEL_CARD.md"))
            .expect("card");
    assert!(
        mixed_card.contains(
            "Its scar is of every pattern the phantom draws, a third of the cases each: \
             ischemic, mid-wall and subepicardial (`--pattern mixed`)."
        ),
        "{mixed_card}"
    );
    // Several checkpoints export as their element-wise mean (a weight soup): a second run
    // from another seed, averaged with the first, tensor by tensor.
    let other = root.join("run-other");
    let mut train_other = train;
    train_other[14] = "4";
    train_other[16] = s(&other);
    ok(&train_other);
    let other_best = other.join("best.safetensors");
    ok(&[
        "export",
        "--checkpoint",
        s(&best),
        "--checkpoint",
        s(&other_best),
        "--name",
        "soup",
        "--out",
        s(&models),
        "--full-precision",
    ]);
    let bytes = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let (a, b, m) = (
        bytes(&best),
        bytes(&other_best),
        bytes(&models.join("soup/weights.safetensors")),
    );
    let (a, b, m) = (
        safetensors::SafeTensors::deserialize(&a).expect("a"),
        safetensors::SafeTensors::deserialize(&b).expect("b"),
        safetensors::SafeTensors::deserialize(&m).expect("soup"),
    );
    let f32s = |d: &[u8]| -> Vec<f32> {
        d.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()
    };
    let mut differing = 0;
    for (name, view) in m.tensors() {
        let (x, y) = (
            f32s(a.tensor(&name).expect("in a").data()),
            f32s(b.tensor(&name).expect("in b").data()),
        );
        for ((v, x), y) in f32s(view.data()).iter().zip(&x).zip(&y) {
            assert!(
                (v - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + x.abs() + y.abs()),
                "{name}"
            );
            differing += usize::from(x != y);
        }
    }
    assert!(
        differing > 1000,
        "the two runs differ in {differing} values"
    );
    let soup_manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(models.join("soup/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(soup_manifest["provenance"]["averaged_checkpoints"], "2");
    let soup_card = std::fs::read_to_string(models.join("soup/MODEL_CARD.md")).expect("card");
    assert!(soup_card.contains("mean of 2 checkpoints"), "{soup_card}");
    let missing = root.join("no-such.safetensors");
    fails(
        &[
            "export",
            "--checkpoint",
            s(&best),
            "--checkpoint",
            s(&missing),
            "--name",
            "soup2",
            "--out",
            s(&models),
        ],
        "no-such.safetensors: cannot read",
    );
    // A size past the manifest's bound would write a model that nothing loads.
    fails(
        &[
            "export",
            "--checkpoint",
            s(&best),
            "--name",
            "huge",
            "--out",
            s(&models),
            "--size",
            "2080",
        ],
        "--size 2080: must be a multiple of 32 from 32 to 2048",
    );
    assert!(!models.join("huge").exists());
    // Without --size, the size is run.json's; a bad one there names that file.
    let edited = root.join("edited");
    std::fs::create_dir_all(&edited).expect("mkdir");
    std::fs::copy(&best, edited.join("best.safetensors")).expect("copy");
    std::fs::write(edited.join("run.json"), br#"{"size": 100}"#).expect("write");
    fails(
        &[
            "export",
            "--checkpoint",
            s(&edited.join("best.safetensors")),
            "--name",
            "edited",
            "--out",
            s(&models),
        ],
        "run.json: size 100 must be a multiple of 32 from 32 to 2048; give --size",
    );
    // A one-pass model has no heart crop whose rule eval could override.
    fails(
        &[
            "eval",
            "--weights",
            s(&models.join("tiny")),
            "--phantom",
            "1",
            "--crop-components",
            "0.5",
        ],
        "is a one-pass model (no heart crop)",
    );

    // Eval: network, classic, and the noise protocol; CSV and JSON written.
    let ev = root.join("eval");
    let out = ok(&[
        "eval",
        "--weights",
        s(&models.join("tiny")),
        "--phantom",
        "2",
        "--out",
        s(&ev),
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("scar Dice")
            && table.contains("scar surface Dice 1px")
            && table.contains("2 slices"),
        "{table}"
    );
    let eval: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev.join("eval.json")).expect("eval.json"))
            .expect("json");
    let d = eval["summary"]["scar_dice"]["mean"].as_f64().expect("dice");
    assert!((0.0..=1.0).contains(&d));
    assert_eq!(
        std::fs::read_to_string(ev.join("eval.csv"))
            .expect("csv")
            .lines()
            .count(),
        3
    );
    // Without --noise, no noise lines; the outline checks count the slices eval.csv marks.
    assert!(!table.contains("noise:"), "{table}");
    let doubted = csv_rows(&ev.join("eval.csv"))
        .iter()
        .filter(|r| r["outline_doubted"] == "true")
        .count();
    assert!(
        table.contains(&format!("outline doubted        {doubted} of 2 slices")),
        "{table}"
    );
    assert_eq!(eval["summary"]["doubted_slices"], doubted);
    // The classic methods take the reference's myocardium: nothing of theirs to doubt.
    let out = ok(&["eval", "--method", "fwhm", "--phantom", "2"]);
    let fwhm_table = String::from_utf8_lossy(&out.stdout);
    assert!(fwhm_table.contains("FWHM"), "{fwhm_table}");
    assert!(!fwhm_table.contains("doubted"), "{fwhm_table}");
    // --pattern draws the test seeds' cases with their scar elsewhere in the wall (the
    // reference areas are the generator's for that pattern), and eval.json records it.
    let ev_pattern = root.join("eval-subepicardial");
    ok(&[
        "eval",
        "--method",
        "fwhm",
        "--phantom",
        "3",
        "--pattern",
        "subepicardial",
        "--out",
        s(&ev_pattern),
    ]);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev_pattern.join("eval.json")).expect("eval.json"))
            .expect("json");
    assert_eq!(json["data"]["pattern"], "subepicardial");
    let csv = std::fs::read_to_string(ev_pattern.join("eval.csv")).expect("csv");
    let areas: Vec<f64> = csv_column(&csv, "reference_scar_area_mm2")
        .iter()
        .map(|a| a.parse().expect("area"))
        .collect();
    let reference = |pattern| -> Vec<f64> {
        let config = PhantomConfig {
            pattern,
            ..PhantomConfig::default()
        };
        (0..3)
            .map(|i| {
                let slice = &generate(2_000_000_000 + i, &config).slices[0];
                slice.scar().area_px() as f64 * slice.image.pixel_area_mm2()
            })
            .collect()
    };
    let expected = reference(ScarPattern::Subepicardial);
    assert_eq!(areas.len(), 3, "{csv}");
    for (a, e) in areas.iter().zip(&expected) {
        assert!(
            (a - e).abs() < 1e-6 * e.max(1.0),
            "{areas:?} against {expected:?}"
        );
    }
    assert_ne!(expected, reference(ScarPattern::Ischemic));
    // --validation evaluates the validation seeds (1,000,000,000 up), never the test seeds, and
    // --skip K starts K cases in: the third validation case is seed 1,000,000,002.
    for (skip, case) in [("0", "phantom-1000000000"), ("2", "phantom-1000000002")] {
        let ev_val = root.join(format!("eval-validation-skip{skip}"));
        ok(&[
            "eval",
            "--weights",
            s(&models.join("tiny")),
            "--phantom",
            "1",
            "--validation",
            "--skip",
            skip,
            "--threshold",
            "0.4",
            "--out",
            s(&ev_val),
        ]);
        let csv = std::fs::read_to_string(ev_val.join("eval.csv")).expect("csv");
        let cases: Vec<&str> = csv
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .collect();
        assert_eq!(cases, [case], "{csv}");
    }
    let out = ok(&[
        "eval",
        "--weights",
        s(&models.join("tiny")),
        "--phantom",
        "1",
        "--noise",
        "0.1",
        "--iterations",
        "2",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("noise: burden CoV"));

    // The eval of `tiny` becomes the test metrics of an export of the same weights and
    // settings, and of nothing else.
    assert_eq!(eval["weights"]["name"], "tiny");
    assert_eq!(eval["data"]["set"], "test");
    assert_eq!(eval["data"]["first_seed"], 2_000_000_000u64);
    let metrics = ev.join("eval.json");
    let export_with = |name: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "export",
            "--checkpoint",
            s(&best),
            "--name",
            name,
            "--out",
            s(&models),
            "--metrics",
        ];
        args.push(s(&metrics));
        args.extend_from_slice(extra);
        args
    };
    ok(&export_with("measured", &[]));
    let measured: serde_json::Value = serde_json::from_slice(
        &std::fs::read(models.join("measured/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        measured["weights"]["sha256"], eval["weights"]["sha256"],
        "the same weights as the evaluated export"
    );
    assert_eq!(
        measured["metrics"]["scar_dice_mean"],
        eval["summary"]["scar_dice"]["mean"]
    );
    assert_eq!(measured["metrics"]["test_slices"], 2.0);
    let card = std::fs::read_to_string(models.join("measured/MODEL_CARD.md")).expect("card");
    assert!(
        card.contains("on 2 synthetic phantom test cases from seed 2000000000"),
        "{card}"
    );
    // Each mean comes with its 95% confidence interval, in the manifest and the card's table.
    let dice = &eval["summary"]["scar_dice"];
    let number = |v: &serde_json::Value| v.as_f64().expect("number");
    assert_eq!(
        measured["metrics"]["scar_dice_mean_ci95_lower"],
        dice["ci95"]["lower"]
    );
    assert_eq!(
        measured["metrics"]["scar_dice_mean_ci95_upper"],
        dice["ci95"]["upper"]
    );
    let row = format!(
        "| scar_dice | {:.4} | {:.4} | {:.4} to {:.4} | {:.4} ({:.4} to {:.4}) | 2 |",
        number(&dice["mean"]),
        number(&dice["sd"]),
        number(&dice["ci95"]["lower"]),
        number(&dice["ci95"]["upper"]),
        number(&dice["median"]),
        number(&dice["q1"]),
        number(&dice["q3"])
    );
    assert!(card.contains(&row), "{row} not in {card}");
    // Other weights (f32 instead of f16), another threshold, the validation cases, or a file
    // that names no weights: refused, and nothing written.
    fails(
        &export_with("f32", &["--full-precision"]),
        "eval.json: evaluated weights",
    );
    fails(
        &export_with("t", &["--threshold", "0.4"]),
        "eval.json: evaluated with other settings than this export's: threshold 0.5 evaluated, \
         0.4 exported",
    );
    // A threshold that f32 does not hold exactly: eval.json writes 0.55 as 0.55, and an
    // eval.json with the widened 0.550000011920929 of earlier versions is the same setting.
    let ev55 = root.join("eval-055");
    ok(&[
        "eval",
        "--weights",
        s(&models.join("tiny")),
        "--phantom",
        "2",
        "--threshold",
        "0.55",
        "--out",
        s(&ev55),
    ]);
    let text = std::fs::read_to_string(ev55.join("eval.json")).expect("eval.json");
    assert!(text.contains("\"threshold\": 0.55\n"), "{text}");
    let export_055 = |name: &'static str, metrics: &Path| {
        let mut args = export_with(name, &["--threshold", "0.55"]);
        let at = args
            .iter()
            .position(|a| *a == "--metrics")
            .expect("--metrics")
            + 1;
        args[at] = s(metrics);
        ok(&args);
    };
    export_055("t055", &ev55.join("eval.json"));
    let widened = root.join("widened.json");
    std::fs::write(
        &widened,
        text.replace(
            "\"threshold\": 0.55\n",
            "\"threshold\": 0.550000011920929\n",
        ),
    )
    .expect("write");
    export_055("t055w", &widened);
    let validation = root.join("eval-validation-skip0/eval.json");
    let mut args = export_with("v", &[]);
    let at = args
        .iter()
        .position(|a| *a == s(&metrics))
        .expect("--metrics value");
    args[at] = s(&validation);
    fails(&args, "scores the phantom validation cases");
    let bare = root.join("bare.json");
    std::fs::write(&bare, br#"{"summary": {"scar_dice": {"mean": 0.9}}}"#).expect("write");
    args[at] = s(&bare);
    fails(&args, "bare.json: names no evaluated weights");
    // Another sha256 is named by its first 12 characters, whatever they are.
    std::fs::write(
        &bare,
        r#"{"summary": {}, "weights": {"sha256": "aééééééééééééé"}}"#,
    )
    .expect("write");
    fails(
        &args,
        "bare.json: evaluated weights aééééééééééé, not the ones",
    );
    for name in ["f32", "t", "v"] {
        assert!(!models.join(name).exists(), "{name}");
    }

    // `export --update`: the exported model takes an evaluation made afterwards (three test
    // cases instead of two, drawn with every scar pattern); weights, settings, provenance and
    // the rest of the card stay, and the card names the pattern.
    let measured_dir = models.join("measured");
    let ev3 = root.join("eval-3");
    ok(&[
        "eval",
        "--weights",
        s(&measured_dir),
        "--phantom",
        "3",
        "--pattern",
        "mixed",
        "--out",
        s(&ev3),
    ]);
    let read_model = |file: &str| std::fs::read(measured_dir.join(file)).expect(file);
    let (weights_before, card_before) = (
        read_model("weights.safetensors"),
        read_model("MODEL_CARD.md"),
    );
    ok(&[
        "export",
        "--update",
        s(&measured_dir),
        "--metrics",
        s(&ev3.join("eval.json")),
    ]);
    assert_eq!(read_model("weights.safetensors"), weights_before);
    let updated: serde_json::Value =
        serde_json::from_slice(&read_model("manifest.json")).expect("json");
    assert_eq!(updated["metrics"]["test_slices"], 3.0);
    let eval3: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev3.join("eval.json")).expect("eval")).expect("json");
    assert_eq!(
        updated["metrics"]["scar_dice_mean"],
        eval3["summary"]["scar_dice"]["mean"]
    );
    for key in [
        "weights",
        "preprocessing",
        "postprocessing",
        "architecture",
        "name",
    ] {
        assert_eq!(updated[key], measured[key], "{key}");
    }
    let provenance = updated["provenance"].as_object().expect("provenance");
    assert!(
        provenance["metrics_command"]
            .as_str()
            .expect("command")
            .contains("--update")
    );
    for (k, v) in measured["provenance"].as_object().expect("provenance") {
        assert_eq!(&provenance[k], v, "{k}");
    }
    let card_after = String::from_utf8(read_model("MODEL_CARD.md")).expect("utf-8");
    let card_before = String::from_utf8(card_before).expect("utf-8");
    assert!(card_after.contains(
        "on 3 synthetic phantom test cases from seed 2000000000, drawn with mixed scar \
         (`--pattern mixed`)"
    ));
    assert!(!card_after.contains("on 2 synthetic phantom test cases"));
    // Its cases hold more than one scar pattern: the card gives each one's row of eval.json's
    // figures.
    let by = eval3["by_pattern"].as_object().expect("several patterns");
    for (pattern, p) in by {
        let dice = p["scar_dice"]["mean"].as_f64().expect("dice");
        let row = format!("| {pattern} | {} | {dice:.3}", p["patients"]);
        assert!(card_after.contains(&row), "{row}: {card_after}");
    }
    // Outside the metrics section, the card is as it was.
    let outside = |card: &str| {
        let (head, rest) = card.split_once("## Test metrics\n").expect("heading");
        let (_, tail) = rest.split_once("## Limitations\n").expect("heading");
        (head.to_string(), tail.to_string())
    };
    assert_eq!(outside(&card_after), outside(&card_before));
    // Another model's evaluation, a folder that is no export, and swapped weights: refused.
    fails(
        &[
            "export",
            "--update",
            s(&measured_dir),
            "--metrics",
            s(&root.join("eval-validation-skip0/eval.json")),
        ],
        "scores the phantom validation cases",
    );
    fails(
        &[
            "export",
            "--update",
            s(root),
            "--metrics",
            s(&ev3.join("eval.json")),
        ],
        "manifest.json: cannot read (a model folder holds manifest.json and its weights)",
    );
    // Swapped weights of another size, and of the same size but other bytes.
    let ev3_json = ev3.join("eval.json");
    let update = [
        "export",
        "--update",
        s(&measured_dir),
        "--metrics",
        s(&ev3_json),
    ];
    let weights_file = measured_dir.join("weights.safetensors");
    std::fs::write(&weights_file, b"other").expect("write");
    fails(&update, "weights.safetensors: 5 bytes, the manifest says ");
    let mut flipped = weights_before.clone();
    *flipped.last_mut().expect("bytes") ^= 1;
    std::fs::write(&weights_file, &flipped).expect("write");
    fails(&update, "weights.safetensors: sha256 ");
    std::fs::write(&weights_file, &weights_before).expect("write");

    // Phantom data in all three formats, then predict on each.
    let data = root.join("data");
    ok(&[
        "phantom",
        "--out",
        s(&data.join("png")),
        "--count",
        "2",
        "--seed",
        "40",
    ]);
    ok(&[
        "phantom",
        "--out",
        s(&data.join("nifti")),
        "--count",
        "1",
        "--seed",
        "50",
        "--format",
        "nifti",
        "--slices",
        "2",
    ]);
    ok(&[
        "phantom",
        "--out",
        s(&data.join("dicom")),
        "--count",
        "1",
        "--seed",
        "60",
        "--format",
        "dicom",
        "--slices",
        "3",
    ]);
    // The DICOM series' truth also as a DICOM segmentation of it, which reads as the truth's
    // label volume does (MVO 4 as scar 3, the blood pool 1 as background).
    {
        let series = data.join("dicom").join("phantom-60");
        let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&series)
            .expect("series")
            .map(|e| {
                let p = e.expect("entry").path();
                (s(&p).to_string(), std::fs::read(&p).expect("read"))
            })
            .collect();
        let limits = Limits::default();
        let slices = scarseg_imaging::decode::decode_series("series", &files, &limits)
            .0
            .expect("the series")
            .slices;
        let read = |file: &str| {
            let path = data.join("dicom").join(file);
            let bytes = std::fs::read(&path).expect("truth");
            scarseg_imaging::decode::labels_for(&slices, "series", file, &bytes, &limits)
                .expect(file)
        };
        let want: Vec<Vec<u8>> = read("phantom-60_labels.nii.gz")
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|l| match l {
                        3 | 4 => 3,
                        2 => 2,
                        _ => 0,
                    })
                    .collect()
            })
            .collect();
        assert!(
            want.iter().flatten().any(|l| *l == 3),
            "the truth holds scar"
        );
        assert_eq!(read("phantom-60_seg.dcm"), want);
    }
    let pred = root.join("pred");
    let pred32 = root.join("pred32");
    for (weights, out) in [("tiny", &pred), ("tiny32", &pred32)] {
        ok(&[
            "predict",
            s(&data.join("png")),
            s(&data.join("nifti")),
            s(&data.join("dicom")),
            "--weights",
            s(&models.join(weights)),
            "--out",
            s(out),
        ]);
    }
    // PNG: one mask pair per input on its own grid, values 0 and 255.
    for image in files_with(&data.join("png"), ".png") {
        let name = image
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if name.contains("_labels") {
            continue;
        }
        let stem = name.trim_end_matches(".png");
        let (rows, cols, _) = read(&image);
        for kind in ["scar", "myo"] {
            let (r, c, v) = read_mask(&pred.join(format!("{stem}_{kind}.png")));
            assert_eq!((r, c), (rows, cols), "{stem}_{kind} on the input's grid");
            assert!(v.iter().all(|x| *x == 0.0 || *x == 255.0));
        }
    }
    // NIfTI stack of 2 and DICOM series of 3: per-slice masks with the slice index, a label
    // volume per stack with as many slices as the input.
    let nifti_case = files_with(&data.join("nifti"), ".nii.gz")
        .into_iter()
        .find(|p| !p.to_string_lossy().contains("_labels"))
        .expect("nifti case");
    let nifti_stem = nifti_case
        .file_name()
        .expect("n")
        .to_string_lossy()
        .replace(".nii.gz", "");
    let (rows, cols, _) = read(&nifti_case);
    for k in 0..2 {
        let (r, c, _) = read_mask(&pred.join(format!("{nifti_stem}_{k:03}_scar.png")));
        assert_eq!((r, c), (rows, cols));
    }
    let dicom_dir = std::fs::read_dir(data.join("dicom"))
        .expect("list")
        .map(|e| e.expect("entry").path())
        .find(|p| p.is_dir())
        .expect("series folder");
    let series = dicom_dir
        .file_name()
        .expect("n")
        .to_string_lossy()
        .to_string();
    let labels = std::fs::read(pred.join(format!("{series}_labels.nii.gz"))).expect("volume");
    // Read by hand (an all-background volume is valid here): gunzip, dims at byte 40, the
    // voxel offset at 108, then uint8 voxels.
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(labels.as_slice()),
        &mut raw,
    )
    .expect("gzip");
    let dim = |k: usize| i16::from_le_bytes([raw[40 + 2 * k], raw[41 + 2 * k]]) as usize;
    let first_dicom = std::fs::read_dir(&dicom_dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("a DICOM file");
    let (dicom_rows, dicom_cols, _) = read(&first_dicom);
    assert_eq!((dim(1), dim(2), dim(3)), (dicom_cols, dicom_rows, 3));
    assert_eq!(i16::from_le_bytes([raw[70], raw[71]]), 2, "uint8 labels");
    let offset = f32::from_le_bytes([raw[108], raw[109], raw[110], raw[111]]) as usize;
    let voxels = &raw[offset..];
    assert_eq!(voxels.len(), dicom_rows * dicom_cols * 3);
    assert!(voxels.iter().all(|v| [0u8, 2, 3].contains(v)));

    // The report names the weights and their sha256.
    let report = report_json(&pred);
    assert_eq!(report["weights"]["sha256"], manifest["weights"]["sha256"]);
    assert_eq!(report["inputs"].as_array().expect("inputs").len(), 4);
    let csv = std::fs::read_to_string(pred.join("report.csv")).expect("csv");
    // 2 PNG slices + 2 NIfTI slices + 3 DICOM slices, plus one stack row per input.
    assert_eq!(csv.lines().count(), 1 + 7 + 4, "{csv}");

    // f16 against f32 weights: the masks at threshold 0.5 agree. A barely trained model has
    // logits near 0, so a few boundary pixels may flip; bound them at 0.1%.
    let (mut differ, mut total) = (0usize, 0usize);
    for mask in files_with(&pred, "_scar.png")
        .into_iter()
        .chain(files_with(&pred, "_myo.png"))
    {
        let other = pred32.join(mask.file_name().expect("name"));
        let (_, _, a) = read_mask(&mask);
        let (_, _, b) = read_mask(&other);
        differ += a.iter().zip(&b).filter(|(x, y)| x != y).count();
        total += a.len();
    }
    assert!(
        differ * 1000 <= total,
        "{differ} of {total} mask pixels differ between f16 and f32"
    );
}

#[test]
fn two_pass_model_trains_on_heart_crops_exports_and_predicts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let run = root.join("run");
    train_tiny(&run, &["--roi-fraction", "1"]);
    let models = root.join("models");
    ok(&[
        "export",
        "--checkpoint",
        s(&run.join("best.safetensors")),
        "--name",
        "two",
        "--out",
        s(&models),
        "--roi",
        "--mirror",
        "--min-component-px",
        "7",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("two/manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["preprocessing"]["roi"]["margin"], 0.25);
    assert_eq!(manifest["preprocessing"]["roi"]["min_side"], 32);
    assert_eq!(
        manifest["preprocessing"]["roi"]["min_component_fraction"],
        0.5
    );
    assert_eq!(manifest["postprocessing"]["min_component_px"], 7);
    assert_eq!(manifest["preprocessing"]["mirror"], true);
    // eval of the two-pass model on one phantom case with extra arguments: its eval.json.
    let (two, ev) = (models.join("two"), root.join("eval"));
    let eval_with = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "eval",
            "--weights",
            s(&two),
            "--phantom",
            "1",
            "--out",
            s(&ev),
        ];
        args.extend_from_slice(extra);
        ok(&args);
        serde_json::from_slice(&std::fs::read(ev.join("eval.json")).expect("eval.json"))
            .expect("json")
    };
    // eval's override: with a billion pixels as the smallest kept component, nothing is left.
    let eval = eval_with(&["--min-component-px", "1000000000"]);
    assert_eq!(eval["slices"][0]["scar_area_mm2"], 0.0);
    assert_eq!(eval["slices"][0]["myocardium_area_mm2"], 0.0);
    // The result file says what was evaluated: the manifest's crop rule, the overridden
    // smallest component.
    assert_eq!(
        eval["settings"]["postprocessing"]["min_component_px"],
        1_000_000_000
    );
    assert_eq!(
        eval["settings"]["preprocessing"]["roi"]["min_component_fraction"],
        0.5
    );
    // The crop's component rule can be overridden at eval time, and the file says so.
    let eval = eval_with(&["--crop-components", "0.2"]);
    assert_eq!(
        eval["settings"]["preprocessing"]["roi"]["min_component_fraction"],
        0.2
    );
    assert_eq!(eval["settings"]["preprocessing"]["roi"]["margin"], 0.25);
    fails(
        &[
            "eval",
            "--weights",
            s(&two),
            "--phantom",
            "1",
            "--crop-components",
            "1.5",
        ],
        "--crop-components 1.5: must be within 0-1",
    );
    let card = std::fs::read_to_string(models.join("two/MODEL_CARD.md")).expect("card");
    assert!(card.contains("two passes"), "{card}");
    assert!(card.contains("mirrored input"), "{card}");
    let data = root.join("data");
    ok(&["phantom", "--out", s(&data), "--count", "1", "--seed", "70"]);
    let pred = root.join("pred");
    ok(&["predict", s(&data), "--weights", s(&two), "--out", s(&pred)]);
    let image = files_with(&data, ".png")
        .into_iter()
        .find(|p| !p.to_string_lossy().contains("_labels"))
        .expect("a phantom image");
    let (rows, cols, _) = read(&image);
    let stem = image
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .to_string();
    let (r, c, _) = read_mask(&pred.join(format!("{stem}_scar.png")));
    assert_eq!((r, c), (rows, cols), "masks on the input's grid");
    let report = report_json(&pred);
    assert_eq!(report["heart_crop"]["margin"], 0.25);
    // Each slice's record: its own grid, the flag and the crop it was analysed in (null when the
    // tiny model found no myocardium to crop around).
    let first = &report["inputs"][0]["slices"][0];
    assert_eq!(
        (first["rows"].clone(), first["cols"].clone()),
        (rows.into(), cols.into())
    );
    assert!(first.get("high_risk").is_some(), "{first}");
    assert!(first.get("heart_crop").is_some(), "{first}");

    fails(
        &[
            "train",
            "--phantom",
            "1",
            "--roi-fraction",
            "1.5",
            "--out",
            s(&root.join("r")),
        ],
        "--roi-fraction 1.5: must be within 0-1",
    );
}

#[test]
fn errors_are_one_line_with_exit_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();

    // A missing input: exit 1, one line naming it.
    fails(
        &[
            "predict",
            s(&root.join("nope.dcm")),
            "--out",
            s(&root.join("o")),
            "--weights",
            s(root),
        ],
        "nope.dcm: no such file or folder",
    );

    // A folder that is not a model: names manifest.json.
    std::fs::write(root.join("a.png"), b"not really").expect("write");
    fails(
        &[
            "predict",
            s(&root.join("a.png")),
            "--out",
            s(&root.join("o")),
            "--weights",
            s(root),
        ],
        "manifest.json: cannot read",
    );

    // Checkpoints and manifests that are devices: refused by name, not read until memory runs
    // out (/dev/zero never ends).
    #[cfg(target_os = "linux")]
    {
        let device = "/dev/zero: not a regular file but a character device";
        let (m, r0, o) = (root.join("m"), root.join("r0"), root.join("o"));
        let export = [
            "export",
            "--checkpoint",
            "/dev/zero",
            "--name",
            "z",
            "--out",
            s(&m),
        ];
        fails(&export, device);
        let init = [
            "train",
            "--phantom",
            "1",
            "--init-from",
            "/dev/zero",
            "--out",
            s(&r0),
        ];
        fails(&init, device);
        let model = root.join("device-model");
        std::fs::create_dir(&model).expect("mkdir");
        std::os::unix::fs::symlink("/dev/zero", model.join("manifest.json")).expect("symlink");
        let png = root.join("a.png");
        let predict = ["predict", s(&png), "--out", s(&o), "--weights", s(&model)];
        fails(
            &predict,
            "manifest.json: not a regular file but a character device",
        );
    }

    // Unknown device, bad size, nothing to train on.
    fails(
        &[
            "train",
            "--phantom",
            "1",
            "--device",
            "tpu",
            "--out",
            s(&root.join("r")),
        ],
        "--device tpu",
    );
    fails(
        &[
            "train",
            "--phantom",
            "1",
            "--size",
            "100",
            "--out",
            s(&root.join("r")),
        ],
        "--size 100: must be a multiple of 32 from 32 to 2048",
    );
    fails(
        &[
            "train",
            "--phantom",
            "1",
            "--size",
            "2080",
            "--out",
            s(&root.join("r")),
        ],
        "--size 2080: must be a multiple of 32 from 32 to 2048",
    );
    fails(
        &["train", "--out", s(&root.join("r"))],
        "give one of --phantom N",
    );
    // One rule for thresholds everywhere: pixels strictly above it are kept, so 1 keeps none.
    let rule = "must be from 0 up to (not including) 1";
    fails(
        &["eval", "--phantom", "1", "--threshold", "1.5"],
        &format!("--threshold 1.5: {rule}"),
    );
    let out_dir = root.join("r");
    let out = s(&out_dir);
    let phantom_png = root.join("one");
    ok(&["phantom", "--out", s(&phantom_png), "--count", "1"]);
    fails(
        &["predict", s(&phantom_png), "--threshold", "1", "--out", out],
        &format!("--threshold 1: {rule}"),
    );
    // A negative number is the value of the option, not an unknown flag.
    fails(
        &["eval", "--phantom", "1", "--threshold", "-0.5"],
        &format!("--threshold -0.5: {rule}"),
    );
    fails(
        &["eval", "--phantom", "1", "--noise", "-1"],
        "--noise -1: must be a non-negative number",
    );
    fails(
        &[
            "eval",
            "--phantom",
            "1",
            "--noise",
            "0.05",
            "--iterations",
            "0",
        ],
        "--iterations 0: the noise protocol needs at least one iteration per slice",
    );
    fails(
        &["eval", "--phantom", "0"],
        "--phantom 0: give at least one case",
    );
    // Seeds that would overflow (a panic before) or wrap into the test seeds.
    fails(
        &[
            "phantom",
            "--out",
            out,
            "--count",
            "2",
            "--seed",
            "18446744073709551615",
        ],
        "--seed 18446744073709551615 with --count 2: the last case's seed would pass",
    );
    fails(
        &[
            "train",
            "--phantom",
            "1",
            "--seed",
            "4294967296",
            "--out",
            out,
        ],
        "--seed 4294967296: must be at most 4294967295",
    );
    // Training settings that could not train, or would never write best.safetensors (it is
    // the epoch with the best validation scar Dice).
    let train = |extra: &[&str], message: &str| {
        let mut args = vec!["train", "--phantom", "1", "--out", out];
        args.extend_from_slice(extra);
        fails(&args, message);
    };
    train(&["--epochs", "0"], "--epochs must be at least 1");
    train(&["--lr", "0"], "--lr 0: must be a positive number");
    train(&["--lr", "-1"], "--lr -1: must be a positive number");
    train(&["--lr", "NaN"], "--lr NaN: must be a positive number");
    train(
        &["--weight-decay", "-0.1"],
        "--weight-decay -0.1: must be a non-negative number",
    );
    train(
        &["--validation-fraction", "1"],
        "--validation-fraction 1: must be between 0 and 1 (exclusive)",
    );
    train(
        &["--phantom-validation", "0"],
        "--phantom-validation 0: give at least one validation case",
    );
    // --pairs with one image: one patient, none left to validate on.
    fails(
        &["train", "--pairs", s(&phantom_png), "--out", out],
        &format!(
            "{}: one patient; training holds whole patients out for validation, so it needs \
             at least two",
            phantom_png.display()
        ),
    );

    // An output path that is a file fails before any work (eval used to run every case first).
    let a_file = root.join("a-file");
    std::fs::write(&a_file, b"x").expect("write");
    let message = format!("{}: exists and is not a folder", a_file.display());
    for args in [
        &["eval", "--phantom", "1", "--out", s(&a_file)][..],
        &["predict", s(&phantom_png), "--out", s(&a_file)],
        &["phantom", "--out", s(&a_file)],
    ] {
        fails(args, &message);
        assert!(scarseg(args).stdout.is_empty(), "{args:?}: work was done");
    }
    // A pattern is the phantom's, refused beside a dataset.
    for command in ["eval", "train"] {
        fails(
            &[
                command,
                "--pairs",
                out,
                "--pattern",
                "mid-wall",
                "--out",
                out,
            ],
            "--pattern mid-wall: draws phantom cases (--phantom N); a dataset's scar is where it is",
        );
    }
    fails(
        &["phantom", "--out", out, "--slices", "2049"],
        "--slices 2049: at most 2048, the most ScarSeg reads in one stack",
    );
    fails(
        &[
            "eval",
            "--phantom",
            "2",
            "--validation",
            "--skip",
            "999999999",
        ],
        "--skip 999999999 with --phantom 2: past the 1000000000 validation seeds",
    );

    // Labels out of range in --pairs: the label file is named.
    let pairs = root.join("pairs");
    std::fs::create_dir_all(&pairs).expect("mkdir");
    let image = scarseg_imaging::encode::png_grey8(2, 2, &[1, 2, 3, 4], None).expect("png");
    let labels = scarseg_imaging::encode::png_grey8(2, 2, &[0, 1, 9, 2], None).expect("png");
    std::fs::write(pairs.join("x.png"), image).expect("write");
    std::fs::write(pairs.join("x_labels.png"), labels).expect("write");
    fails(
        &["eval", "--method", "fwhm", "--pairs", s(&pairs)],
        "x_labels.png: label value 9 is not one of 0, 1, 2, 3, 4",
    );

    // An image of two stacks (a PSIR file's magnitude and real images) cannot be paired with
    // one label volume: the image is named, with both stacks.
    let psir = root.join("psir");
    std::fs::create_dir_all(&psir).expect("mkdir");
    std::fs::copy(good_corpus("enhanced_psir.dcm"), psir.join("p.dcm")).expect("copy");
    let labels = nifti1(
        &[Slice::new(40, 48, vec![0.0; 1920], "l")],
        NiftiData::U8(&[0; 1920]),
        true,
    )
    .expect("nifti");
    std::fs::write(psir.join("p_labels.nii.gz"), labels).expect("write");
    fails(
        &["eval", "--method", "fwhm", "--pairs", s(&psir)],
        "p.dcm: holds 2 stacks (image type MAGNITUDE; image type REAL) where one is needed here",
    );
}

/// A file of the imaging crate's good corpus (`tests/corpus/good/`, written by pydicom).
fn good_corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../scarseg-imaging/tests/corpus/good/{name}"))
}

/// `scarseg predict` on a copy of good-corpus file `corpus` named `input` in a temporary folder,
/// writing to its `out`: the folder (kept alive as long as the caller holds it), the copy, the
/// output folder and the run's stderr.
struct CorpusRun {
    tmp: tempfile::TempDir,
    input: PathBuf,
    out: PathBuf,
    stderr: String,
}

fn predict_corpus_copy(corpus: &str, input: &str) -> CorpusRun {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join(input);
    std::fs::copy(good_corpus(corpus), &input).expect("copy");
    let out = tmp.path().join("out");
    let run = ok(&["predict", s(&input), "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    CorpusRun {
        tmp,
        input,
        out,
        stderr,
    }
}

#[test]
fn each_stack_of_a_psir_file_gets_its_own_masks_and_report_lines() {
    // An enhanced MR file holding a PSIR acquisition's magnitude and real images of two slices
    // (40 x 48 pixels, z = 10 and 18 mm): two stacks, each with its own masks, label volume and
    // report lines, named by the part, through the bundled model.
    let CorpusRun {
        tmp: _tmp,
        input,
        out,
        stderr,
    } = predict_corpus_copy("enhanced_psir.dcm", "psir.dcm");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(
        stderr.contains("2 stack(s) from 1 input(s) analysed, 0 error(s)"),
        "{stderr}"
    );

    let report = report_json(&out);
    let inputs = report["inputs"].as_array().expect("inputs");
    let found: Vec<(String, String, String, usize)> = inputs
        .iter()
        .map(|r| {
            (
                r["input"].as_str().expect("input").to_string(),
                r["part"].as_str().expect("part").to_string(),
                r["output_name"].as_str().expect("name").to_string(),
                r["slices"].as_array().expect("slices").len(),
            )
        })
        .collect();
    let expect = |kind: &str| {
        (
            format!("{} (image type {kind})", s(&input)),
            format!("image type {kind}"),
            format!("psir_image-type-{kind}"),
            2,
        )
    };
    assert_eq!(found, [expect("MAGNITUDE"), expect("REAL")]);
    for kind in ["MAGNITUDE", "REAL"] {
        let stem = format!("psir_image-type-{kind}");
        for k in 0..2 {
            for mask in ["scar", "myo"] {
                let (rows, cols, _) = read_mask(&out.join(format!("{stem}_{k:03}_{mask}.png")));
                assert_eq!((rows, cols), (40, 48), "{stem} {k} {mask}");
            }
        }
        let labels = out.join(format!("{stem}_labels.nii.gz"));
        // A ramp holds no heart: the label volume is all background, which only the label
        // reader accepts.
        let volume = decode_label_file(
            s(&labels),
            &std::fs::read(&labels).expect("read"),
            &Limits::default(),
        )
        .expect("label volume");
        let z: Vec<f64> = volume.slices.iter().map(|x| x.position_mm[2]).collect();
        assert_eq!(z, [10.0, 18.0], "{stem}");
    }
    // report.csv: two slice rows and a stack row per stack, each naming its stack.
    let csv = csv_rows(&out.join("report.csv"));
    let rows: Vec<(String, String)> = csv
        .iter()
        .map(|r| (r["input"].clone(), r["level"].clone()))
        .collect();
    let part = |kind: &str, level: &str| {
        (
            format!("{} (image type {kind})", s(&input)),
            level.to_string(),
        )
    };
    assert_eq!(
        rows,
        [
            part("MAGNITUDE", "slice"),
            part("MAGNITUDE", "slice"),
            part("MAGNITUDE", "stack"),
            part("REAL", "slice"),
            part("REAL", "slice"),
            part("REAL", "stack"),
        ]
    );
}

#[test]
fn a_zip_archive_is_read_as_the_folder_it_holds() {
    // A web PACS's study download, written by Python's zipfile (make_good_corpus.py
    // `archives`): three 8 x 6 MR slices (for highdicom) as a series in SE1/, a 5 x 4 x 3 NIfTI
    // volume at the root, a readme and macOS's resource fork beside them.
    let CorpusRun {
        tmp,
        input,
        out,
        stderr,
    } = predict_corpus_copy("study.zip", "study.zip");
    assert!(
        stderr.contains("2 stack(s) from 1 input(s) analysed, 0 error(s)"),
        "{stderr}"
    );
    // The readme is no image: left out, with a note that names it; the resource fork unsaid.
    assert!(stderr.contains("study.zip/readme.txt"), "{stderr}");
    assert!(!stderr.contains("MACOSX"), "{stderr}");
    let found = inputs_named(&out);
    let zip = s(&input);
    assert_eq!(
        found,
        [
            (format!("{zip}/SE1"), "SE1".to_string(), 3),
            (format!("{zip}/volume.nii"), "volume".to_string(), 3),
        ]
    );
    // Masks on each input's own grid, named after the folder or file in the archive.
    for k in 0..3 {
        let (rows, cols, _) = read_mask(&out.join(format!("SE1_{k:03}_scar.png")));
        assert_eq!((rows, cols), (8, 6));
        let (rows, cols, _) = read_mask(&out.join(format!("volume_{k:03}_myo.png")));
        assert_eq!((rows, cols), (4, 5));
    }

    // An entry whose path climbs out of the archive is reported and skipped, the other read;
    // the run exits 2 as for any input that failed.
    let slip = tmp.path().join("slip.zip");
    std::fs::copy(good_corpus("../bad/zip_slip.zip"), &slip).expect("copy");
    let run = scarseg(&["predict", s(&slip), "--out", s(&tmp.path().join("out2"))]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}/../IM1.dcm: ZIP archive: cannot be read from the archive: a path that leaves \
             the archive",
            s(&slip)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 stack(s) from 1 input(s) analysed, 1 error(s)"),
        "{stderr}"
    );
}

#[test]
fn archives_inside_a_zip_archive_are_read_as_its_folders() {
    // make_good_corpus.py `nested_archives`: the three slices of study.zip's SE1/ as SE1.zip, its
    // NIfTI volume two archives down (more/volume.zip/deeper.zip/volume.nii), a cut archive
    // and a readme, in one archive.
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("nested.zip");
    std::fs::copy(good_corpus("nested.zip"), &input).expect("copy");
    let out = tmp.path().join("out");
    let run = scarseg(&["predict", s(&input), "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // The cut archive inside is an error named by its path; the others are read.
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    let zip = s(&input);
    assert!(
        stderr.contains(&format!(
            "{zip}/cut.zip: ZIP archive: not a ZIP archive that reads ("
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 stack(s) from 1 input(s) analysed, 1 error(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("nested.zip/readme.txt"), "{stderr}");
    let found = inputs_named(&out);
    assert_eq!(
        found,
        [
            (format!("{zip}/SE1.zip"), "SE1".to_string(), 3),
            (
                format!("{zip}/more/volume.zip/deeper.zip/volume.nii"),
                "volume".to_string(),
                3
            ),
        ]
    );
    for k in 0..3 {
        let (rows, cols, _) = read_mask(&out.join(format!("SE1_{k:03}_scar.png")));
        assert_eq!((rows, cols), (8, 6));
        let (rows, cols, _) = read_mask(&out.join(format!("volume_{k:03}_myo.png")));
        assert_eq!((rows, cols), (4, 5));
    }
}

#[test]
fn a_tar_archive_is_read_as_the_zip_archive_of_the_same_files_is() {
    // study.zip's files packed by Python's tarfile and gzip (make_good_corpus.py `tar_archives`):
    // the same stacks, and masks byte for byte the same as the ZIP archive's.
    let zip = predict_corpus_copy("study.zip", "study.zip");
    let tgz = predict_corpus_copy("study.tar.gz", "study.tar.gz");
    assert!(
        tgz.stderr
            .contains("2 stack(s) from 1 input(s) analysed, 0 error(s)"),
        "{}",
        tgz.stderr
    );
    assert!(
        tgz.stderr.contains("study.tar.gz/readme.txt"),
        "{}",
        tgz.stderr
    );
    let name = s(&tgz.input);
    assert_eq!(
        inputs_named(&tgz.out),
        [
            (format!("{name}/SE1"), "SE1".to_string(), 3),
            (format!("{name}/volume.nii"), "volume".to_string(), 3),
        ]
    );
    for k in 0..3 {
        for mask in [
            format!("SE1_{k:03}_scar.png"),
            format!("volume_{k:03}_myo.png"),
        ] {
            let read = |dir: &Path| std::fs::read(dir.join(&mask)).expect("mask");
            assert_eq!(read(&tgz.out), read(&zip.out), "{mask}");
        }
    }

    // Uncompressed, and met in a folder under a name that says nothing: told by its content.
    let tar = {
        let mut out = Vec::new();
        let packed = std::fs::read(good_corpus("study.tar.gz")).expect("corpus");
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut out)
            .expect("gzip");
        out
    };
    let folder = tgz.tmp.path().join("export");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("STUDY0001"), tar).expect("write");
    let out = tgz.tmp.path().join("out-folder");
    let run = ok(&["predict", s(&folder), "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("2 stack(s) from 1 input(s) analysed, 0 error(s)"),
        "{stderr}"
    );
    let found = inputs_named(&out);
    let inside = s(&folder.join("STUDY0001")).to_string();
    assert_eq!(
        found,
        [
            (format!("{inside}/SE1"), "SE1".to_string(), 3),
            (format!("{inside}/volume.nii"), "volume".to_string(), 3),
        ]
    );
}

#[test]
fn a_dicom_file_whose_preamble_starts_like_a_zip_is_read_as_dicom() {
    // The preamble is the writer's to fill; "PK\x03\x04" there (a ZIP's first bytes) must not
    // send the file, given alone or met in a folder, to the archive reader.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut bytes = std::fs::read(good_corpus("seg_mr_0.dcm")).expect("corpus");
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    let folder = tmp.path().join("series");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("IM1"), &bytes).expect("write");
    for (input, out) in [
        (folder.join("IM1"), "out-file"),
        (folder.clone(), "out-folder"),
    ] {
        let out = tmp.path().join(out);
        let run = ok(&["predict", s(&input), "--out", s(&out)]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("1 stack(s) from 1 input(s) analysed, 0 error(s)"),
            "{stderr}"
        );
        let found = inputs_named(&out);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].2, 1, "{found:?}");
    }
}

#[test]
fn labels_are_paired_with_their_image_slices_by_position() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    // Two 4 x 4 slices of 1.5 mm pixels, 8 mm apart; `dx` moves the volume sideways.
    let grid = |dx: f64| -> Vec<Slice> {
        (0..2)
            .map(|k| {
                let mut s = Slice::new(4, 4, vec![0.0; 16], "x");
                s.spacing_mm = [1.5, 1.5];
                s.position_mm = [10.0 + dx, -20.0, 4.0 + 8.0 * k as f64];
                s
            })
            .collect()
    };
    let values: Vec<f32> = (0..32).map(|v| v as f32).collect();
    let image = nifti1(&grid(0.0), NiftiData::F32(&values), false).expect("nifti");
    // Slice 1 has 4 myocardium pixels (label 2), slice 2 has 8: 9 and 18 mm2 at 2.25 mm2.
    let maps: [Vec<u8>; 2] = [
        (0..16).map(|i| if i < 4 { 2 } else { 0 }).collect(),
        (0..16).map(|i| if i < 8 { 2 } else { 0 }).collect(),
    ];
    let reference_areas = |dir: &Path| -> Vec<f64> {
        let out = dir.join("eval");
        ok(&[
            "eval",
            "--method",
            "fwhm",
            "--pairs",
            s(dir),
            "--out",
            s(&out),
        ]);
        csv_rows(&out.join("eval.csv"))
            .iter()
            .map(|r| r["reference_myocardium_area_mm2"].parse().expect("number"))
            .collect()
    };

    // The label volume stored in the other slice order (its header says so): each map still
    // goes with its own slice.
    let reversed = root.join("reversed");
    std::fs::create_dir_all(&reversed).expect("mkdir");
    std::fs::write(reversed.join("x.nii"), &image).expect("write");
    let slices: Vec<Slice> = grid(0.0).into_iter().rev().collect();
    let data = [maps[1].clone(), maps[0].clone()].concat();
    std::fs::write(
        reversed.join("x_labels.nii"),
        nifti1(&slices, NiftiData::U8(&data), false).expect("nifti"),
    )
    .expect("write");
    let areas = reference_areas(&reversed);
    assert_eq!(areas.len(), 2);
    assert!(
        (areas[0] - 9.0).abs() < 1e-6 && (areas[1] - 18.0).abs() < 1e-6,
        "{areas:?}"
    );

    // A label volume of the right size whose header puts it 3 mm to the side of the image
    // (another case's file, another tool's export): named, not trained or scored on.
    let shifted = root.join("shifted");
    std::fs::create_dir_all(&shifted).expect("mkdir");
    let labels = nifti1(&grid(3.0), NiftiData::U8(&[0; 32]), false).expect("nifti");
    std::fs::write(shifted.join("x.nii"), image).expect("write");
    std::fs::write(shifted.join("x_labels.nii"), &labels).expect("write");
    fails(
        &["eval", "--method", "fwhm", "--pairs", s(&shifted)],
        &format!(
            "x_labels.nii: not on the pixel grid of {}: slice 1: first pixel at \
             (13.00, -20.00, 4.00) mm where the image's is at (10.00, -20.00, 4.00) mm, 3.00 mm \
             away",
            shifted.join("x.nii").display()
        ),
    );
    // Labels without geometry (as a script that drops the header writes them) are taken to
    // lie on the image, index for index; an all-background map is a label map like any other.
    let bare: Vec<Slice> = (0..2)
        .map(|_| Slice::new(4, 4, vec![0.0; 16], "x"))
        .collect();
    let labels = nifti1(&bare, NiftiData::U8(&maps.concat()), false).expect("nifti");
    std::fs::write(shifted.join("x_labels.nii"), labels).expect("write");
    let areas = reference_areas(&shifted);
    assert!(
        (areas[0] - 9.0).abs() < 1e-6 && (areas[1] - 18.0).abs() < 1e-6,
        "{areas:?}"
    );
    let background = nifti1(&bare, NiftiData::U8(&[0; 32]), false).expect("nifti");
    std::fs::write(shifted.join("x_labels.nii"), background).expect("write");
    assert_eq!(reference_areas(&shifted), vec![0.0, 0.0]);
}

#[test]
fn a_bad_file_among_good_ones_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let run = root.join("run");
    train_tiny(&run, &[]);
    let models = root.join("models");
    export_best(&run, &models, "m");
    let data = root.join("data");
    ok(&["phantom", "--out", s(&data), "--count", "2", "--seed", "7"]);
    std::fs::write(data.join("broken.png"), b"\x89PNG\r\n\x1a\nthen nothing").expect("write");
    let out_dir = root.join("out");
    let model = models.join("m");
    let predict = [
        "predict",
        s(&data),
        "--weights",
        s(&model),
        "--out",
        s(&out_dir),
    ];
    let out = scarseg(&predict);
    assert_eq!(out.status.code(), Some(2), "partial results exit with 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("skipped:") && err.contains("broken.png"),
        "{err}"
    );
    assert_eq!(
        files_with(&out_dir, "_scar.png").len(),
        2,
        "the good files' masks are written"
    );
    let report = report_json(&out_dir);
    assert_eq!(report["errors"].as_array().expect("errors").len(), 1);

    // What is not a regular file, and a link back up, in a folder: a pipe would block the run
    // on open and /dev/zero never ends, so both are reported and skipped without being read,
    // and the folder the link leads back to is not read again (it was, 40 times, until the
    // system refused to follow more links).
    #[cfg(target_os = "linux")]
    {
        let odd = root.join("odd");
        std::fs::create_dir_all(odd.join("sub")).expect("mkdir");
        let png = std::fs::read_dir(&data)
            .expect("list")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "png") && !s(p).contains("_labels"))
            .expect("a phantom png");
        std::fs::copy(&png, odd.join("sub/one.png")).expect("copy");
        std::os::unix::fs::symlink("..", odd.join("sub/up")).expect("symlink");
        // A CD's other files: images neither by content nor by name, so left out with a note
        // rather than each reported as an unreadable image. A broken file named like an image
        // is still reported.
        std::fs::write(odd.join("AUTORUN.INF"), b"[autorun]\nopen=viewer.exe\n").expect("write");
        std::fs::write(odd.join("viewer.exe"), b"MZ\x90\0\x03").expect("write");
        std::fs::write(odd.join("IM0002"), b"not a DICOM file").expect("write");
        std::os::unix::fs::symlink("/dev/zero", odd.join("zero.png")).expect("symlink");
        let made = std::process::Command::new("mkfifo")
            .arg(odd.join("pipe.png"))
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let out_odd = root.join("out-odd");
        // Under `timeout`, so that a run stuck on the pipe fails the test (124) instead of
        // hanging it.
        let out = Command::new("timeout")
            .arg("600")
            .arg(env!("CARGO_BIN_EXE_scarseg"))
            // The PNG inside the folder named again: read once.
            .args(["predict", s(&odd), s(&odd.join("sub/one.png"))])
            .args(["--weights", s(&model), "--out", s(&out_odd)])
            .output()
            .expect("run scarseg");
        assert_eq!(out.status.code(), Some(2), "partial results exit with 2");
        let err = String::from_utf8_lossy(&out.stderr);
        for line in [
            format!(
                "{}: not a regular file but a pipe (FIFO)",
                s(&odd.join("pipe.png"))
            ),
            format!(
                "{}: not a regular file but a character device",
                s(&odd.join("zero.png"))
            ),
            format!("note: {}: a folder already read", s(&odd.join("sub/up"))),
            format!(
                "note: {}: already read (named twice, or also in a folder given); read once",
                s(&odd.join("sub/one.png"))
            ),
            format!(
                "note: {}: left out 2 file(s) that are images neither by their content nor by \
                 their names: AUTORUN.INF, viewer.exe\n",
                s(&odd)
            ),
            format!("skipped: {}: not a supported image", s(&odd.join("IM0002"))),
        ] {
            assert!(err.contains(&line), "{line:?} not in {err}");
        }
        assert_eq!(
            files_with(&out_odd, "_scar.png"),
            [out_odd.join("one_scar.png")]
        );
        let report = report_json(&out_odd);
        assert_eq!(report["errors"].as_array().expect("errors").len(), 3);
        let notes = report["notes"].as_array().expect("notes");
        assert!(
            notes
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.contains("left out 2 file(s)"))),
            "{notes:?}"
        );
    }

    // Weights that do not fit the manifest: the sha256 check names the file.
    let weights = model.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&weights, bytes).expect("write");
    let err = fails(&predict, "weights.safetensors: sha256");
    assert!(err.contains("does not match"), "{err}");

    // A weights file cut short is refused by its size, before it is read.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("manifest.json")).expect("manifest"))
            .expect("json");
    let expected = manifest["weights"]["bytes"].as_u64().expect("bytes");
    std::fs::write(&weights, vec![0u8; 1000]).expect("write");
    fails(
        &predict,
        &format!("weights.safetensors: 1000 bytes, the manifest says {expected}"),
    );
}

#[test]
fn dicom_objects_without_an_image_are_left_out_with_a_warning_or_a_note() {
    // A DICOM export: a DICOMDIR at its root (nothing else there) and a series folder that also
    // holds an object without pixel data (a report, say). Both are named on stderr and in
    // report.json; neither is an error, so the series is analysed and the exit status is 0.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("export");
    let args = ["--count", "1", "--slices", "2", "--format", "dicom"];
    ok(&[&["phantom", "--out", s(&data)][..], &args].concat());
    let no_image = format!(
        "{}/../scarseg-imaging/tests/corpus/bad/no_pixel_data.dcm",
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
    );
    let series = data.join("phantom-0");
    std::fs::copy(&no_image, series.join("REPORT")).expect("copy");
    std::fs::copy(&no_image, data.join("DICOMDIR")).expect("copy");
    let out = tmp.path().join("out");
    let run = ok(&["predict", s(&data), "--out", s(&out)]);
    let err = String::from_utf8_lossy(&run.stderr);
    let what = "not an image: a DICOM MR Image Storage object without Pixel Data (7FE0,0010)";
    let report_file = series.join("REPORT");
    let dicomdir = data.join("DICOMDIR");
    assert!(
        err.contains(&format!("warning: {}: {what}; left out", s(&report_file))),
        "{err}"
    );
    assert!(
        err.contains(&format!("note: {}: {what}; left out", s(&dicomdir))),
        "{err}"
    );
    assert_eq!(
        files_with(&out, "_scar.png").len(),
        2,
        "the series' two slices"
    );
    let report = report_json(&out);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(
        report["notes"],
        serde_json::json!([format!("{}: {what}; left out", s(&dicomdir))])
    );
    assert_eq!(
        report["inputs"][0]["warnings"],
        serde_json::json!([format!("{}: {what}; left out", s(&report_file))])
    );
    // Named on its own, the same object is an input that failed.
    let alone = scarseg(&["predict", s(&dicomdir), "--out", s(&tmp.path().join("o2"))]);
    let err = String::from_utf8_lossy(&alone.stderr);
    assert_eq!(alone.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("skipped: {}: {what}", s(&dicomdir))),
        "{err}"
    );
}

/// A three-slice phantom NIfTI stack (seed 11, base first) written under `root`.
fn phantom_nifti_stack(root: &Path) -> PathBuf {
    let data = root.join("data");
    let args = ["--count", "1", "--seed", "11", "--format", "nifti"];
    ok(&[&["phantom", "--out", s(&data), "--slices", "3"][..], &args].concat());
    files_with(&data, ".nii.gz")
        .into_iter()
        .find(|p| !s(p).contains("_labels"))
        .expect("image volume")
}

#[test]
fn overlays_draw_the_outlines_on_the_image_in_its_stored_window() {
    // A phantom NIfTI stack whose header stores a display range (cal_min, cal_max: the 25th
    // and 75th percentiles of its values, put in here), through the bundled model.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let mut nii = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(phantom_nifti_stack(root)).expect("open"),
        ),
        &mut nii,
    )
    .expect("gunzip");
    let stack = decode_file("v.nii", &nii, &Limits::default()).expect("decodes");
    let mut sorted: Vec<f32> = stack.slices.iter().flat_map(|x| x.pixels.clone()).collect();
    sorted.sort_by(f32::total_cmp);
    let (lo, hi) = (sorted[sorted.len() / 4], sorted[3 * sorted.len() / 4]);
    assert!(hi > lo, "{lo} {hi}");
    nii[124..128].copy_from_slice(&hi.to_le_bytes());
    nii[128..132].copy_from_slice(&lo.to_le_bytes());
    let input = root.join("windowed.nii");
    std::fs::write(&input, &nii).expect("write");
    let out = root.join("out");
    ok(&["predict", s(&input), "--out", s(&out), "--overlays"]);

    let overlays = files_with(&out, "_overlay.png");
    let (scars, myos) = (files_with(&out, "_scar.png"), files_with(&out, "_myo.png"));
    assert_eq!((overlays.len(), scars.len(), myos.len()), (3, 3, 3));
    // By hand: a mask's edge is a pixel of it on the image's border or beside (up, down, left,
    // right) a pixel outside it. Scar's edge yellow over myocardium's cyan; elsewhere the grey
    // of the value through the window lo..hi.
    let (mut scar_edges, mut wrong) = (0, 0);
    for (k, slice) in stack.slices.iter().enumerate() {
        let (rows, cols, image) = read_png8(&overlays[k], png::ColorType::Rgba);
        assert_eq!((rows, cols), (slice.rows, slice.cols));
        let (_, _, scar) = read_mask(&scars[k]);
        let (_, _, myo) = read_mask(&myos[k]);
        let edge = |m: &[f32], r: usize, c: usize| {
            let inside = |r: usize, c: usize| m[r * cols + c] > 0.0;
            inside(r, c)
                && (r == 0
                    || c == 0
                    || r + 1 == rows
                    || c + 1 == cols
                    || !inside(r - 1, c)
                    || !inside(r + 1, c)
                    || !inside(r, c - 1)
                    || !inside(r, c + 1))
        };
        for r in 0..rows {
            for c in 0..cols {
                let i = r * cols + c;
                let got = &image[4 * i..4 * i + 4];
                let want = if edge(&scar, r, c) {
                    scar_edges += 1;
                    [255, 214, 0]
                } else if edge(&myo, r, c) {
                    [0, 200, 255]
                } else {
                    let t = (f64::from(slice.pixels[i]) - f64::from(lo)) / f64::from(hi - lo);
                    let g = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
                    [g, g, g]
                };
                let near = got[..3].iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 1);
                if !near || got[3] != 255 {
                    wrong += 1;
                }
            }
        }
    }
    assert!(scar_edges > 0, "the stack should show scar");
    assert_eq!(wrong, 0, "pixels unlike the image, window and outlines");
    // Without --overlays, none.
    let plain = root.join("plain");
    ok(&["predict", s(&input), "--out", s(&plain)]);
    assert!(files_with(&plain, "_overlay.png").is_empty());
}

#[test]
fn a_copy_of_the_binary_elsewhere_runs_its_built_in_default_model() {
    // `cargo install` or a packed trainer puts scarseg away from this source tree: without
    // --weights it runs the default model compiled into it, the same weights as the bundled
    // folder's, and says so in its report.
    use sha2::Digest;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let bin = root.join("bin").join("scarseg");
    std::fs::create_dir_all(bin.parent().expect("bin")).expect("bin dir");
    std::fs::copy(env!("CARGO_BIN_EXE_scarseg"), &bin).expect("copy binary");
    let input = phantom_nifti_stack(root);
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("cwd");
    let out = Command::new(&bin)
        .args(["predict", s(&input), "--out", "built-in"])
        .current_dir(&elsewhere)
        .output()
        .expect("run the copy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let folder =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../public/models/scarseg-atto-phantom");
    let weights = std::fs::read(folder.join("weights.safetensors")).expect("bundled weights");
    let sha: String = sha2::Sha256::digest(&weights)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let built_in = report_json(&elsewhere.join("built-in"));
    assert_eq!(
        built_in["weights"]["sha256"],
        sha.as_str(),
        "{}",
        built_in["weights"]
    );
    assert_eq!(
        built_in["weights"]["folder"],
        "built-in default model scarseg-atto-phantom"
    );
    // The folder itself, named: the same masks, slice by slice.
    let from_folder = root.join("from-folder");
    ok(&[
        "predict",
        s(&input),
        "--weights",
        s(&folder),
        "--out",
        s(&from_folder),
    ]);
    assert_eq!(report_json(&from_folder)["weights"]["sha256"], sha.as_str());
    let masks = files_with(&elsewhere.join("built-in"), ".png");
    assert_eq!(masks.len(), 6, "{masks:?}");
    for mask in masks {
        let name = mask.file_name().expect("name");
        assert_eq!(
            read_mask(&mask),
            read_mask(&from_folder.join(name)),
            "{name:?}"
        );
    }

    // The folder packed by the system's tar and gzip, as a model is sent to a colleague: the
    // same weights and masks.
    let tar = |archive: &Path, dir: &Path, entry: &str| {
        let status = Command::new("tar")
            .args(["czf", s(archive), "-C", s(dir), entry])
            .status()
            .expect("tar");
        assert!(status.success());
    };
    let packed = root.join("model.tar.gz");
    tar(
        &packed,
        folder.parent().expect("models"),
        "scarseg-atto-phantom",
    );
    let from_archive = root.join("from-archive");
    ok(&[
        "predict",
        s(&input),
        "--weights",
        s(&packed),
        "--out",
        s(&from_archive),
    ]);
    assert_eq!(
        report_json(&from_archive)["weights"]["sha256"],
        sha.as_str()
    );
    for mask in files_with(&from_folder, ".png") {
        let name = mask.file_name().expect("name");
        assert_eq!(
            read_mask(&mask),
            read_mask(&from_archive.join(name)),
            "{name:?}"
        );
    }
    // The archive given as an input instead: said where it goes.
    let run = scarseg(&["predict", s(&packed), "--out", s(&root.join("as-input"))]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!(
            "{}/scarseg-atto-phantom: an exported model folder (manifest.json and its weights), \
             not images: open it as weights",
            s(&packed)
        )),
        "{stderr}"
    );
    // An archive that holds no model folder: one line that says so, and a failed run.
    let empty = root.join("notes");
    std::fs::create_dir_all(&empty).expect("dir");
    std::fs::write(empty.join("readme.txt"), "no model here").expect("write");
    let wrong = root.join("notes.tar.gz");
    tar(&wrong, root, "notes");
    let run = scarseg(&[
        "predict",
        s(&input),
        "--weights",
        s(&wrong),
        "--out",
        s(&root.join("none")),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: holds no manifest.json, so no exported model folder",
            s(&wrong)
        )),
        "{stderr}"
    );
}

#[test]
fn the_default_model_reports_volumes_from_the_slice_thickness() {
    // A phantom NIfTI stack through the bundled model (no --weights): the stack's volumes in
    // report.json and report.csv are the slices' areas times the thickness in the file's header.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let input = phantom_nifti_stack(root);
    // pixdim[3], the slice thickness, is the 4th float32 of pixdim at byte 76 of the header.
    let mut header = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&input).expect("open")),
        &mut header,
    )
    .expect("gunzip");
    let thickness = f64::from(f32::from_le_bytes(
        header[88..92].try_into().expect("4 bytes"),
    ));
    assert!(thickness > 0.0, "{thickness}");
    let out = root.join("out");
    let run = ok(&["predict", s(&input), "--out", s(&out)]);

    let report = report_json(&out);
    let stack = &report["inputs"][0];
    let slices = stack["slices"].as_array().expect("slices");
    assert_eq!(slices.len(), 3);
    let sum = |key: &str| -> f64 { slices.iter().map(|x| x[key].as_f64().expect(key)).sum() };
    let (scar, myo) = (
        sum("scar_area_mm2") * thickness,
        sum("myocardium_area_mm2") * thickness,
    );
    assert!(scar > 0.0 && myo > scar, "{stack}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b;
    assert!(
        close(stack["scar_volume_mm3"].as_f64().expect("mm3"), scar),
        "{stack}"
    );
    assert!(
        close(stack["myocardium_volume_mm3"].as_f64().expect("mm3"), myo),
        "{stack}"
    );
    // Masses at the myocardium's 1.05 g/mL: mm3 / 1000 is mL.
    let (scar_g, myo_g) = (scar / 1000.0 * 1.05, myo / 1000.0 * 1.05);
    assert!(
        close(stack["scar_mass_g"].as_f64().expect("g"), scar_g),
        "{stack}"
    );
    assert!(
        close(stack["myocardium_mass_g"].as_f64().expect("g"), myo_g),
        "{stack}"
    );
    // The flag weighed against the bundled model's agreement limits, from its manifest's
    // Bland-Altman bias and SD: the reference's burden within burden - upper to burden - lower.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../public/models/scarseg-atto-phantom/manifest.json"),
        )
        .expect("manifest"),
    )
    .expect("json");
    let metric = |k: &str| manifest["metrics"][k].as_f64().expect(k);
    let (bias, sd) = (
        metric("burden_bland_altman_mean"),
        metric("burden_bland_altman_sd"),
    );
    let (lower, upper) = (bias - 1.96 * sd, bias + 1.96 * sd);
    let agreement = &stack["flag_agreement"];
    let number = |v: &serde_json::Value| v.as_f64().expect("number");
    let limits = &agreement["limits_of_agreement_pp"];
    assert!((number(&limits[0]) - lower).abs() < 1e-9, "{agreement}");
    assert!((number(&limits[1]) - upper).abs() < 1e-9, "{agreement}");
    let burden = number(&stack["burden_percent"]);
    let range = &agreement["reference_burden_percent"];
    assert!((number(&range[0]) - (burden - upper).max(0.0)).abs() < 1e-9);
    assert!((number(&range[1]) - (burden - lower)).abs() < 1e-9);
    let uncertain = (burden - upper) <= 5.0 && 5.0 < burden - lower;
    assert_eq!(agreement["uncertain"], uncertain, "{agreement}");
    // The same on stdout, in a line as the page's report opens with it (and a second line where
    // the flag is uncertain).
    let stdout = String::from_utf8(run.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    let flag = if burden > 5.0 {
        "- above 5%: high risk"
    } else {
        "- not above 5%"
    };
    assert_eq!(
        lines[0],
        format!(
            "{}: scar burden {burden:.2}% {flag}; scar {:.2} mL ({:.2} g), myocardium {:.2} mL \
             ({:.2} g at 1.05 g/mL) over 3 slice(s).",
            stack["output_name"].as_str().expect("name"),
            scar / 1000.0,
            scar_g,
            myo / 1000.0,
            myo_g
        ),
        "{stdout}"
    );
    assert_eq!(lines.len(), 1 + usize::from(uncertain), "{stdout}");

    let csv = std::fs::read_to_string(out.join("report.csv")).expect("csv");
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines.len(), 1 + 3 + 1, "{csv}");
    let column = |name: &str| lines[0].iter().position(|h| *h == name).expect(name);
    let value = |row: &[&str], name: &str| -> f64 { row[column(name)].parse().expect(name) };
    let stack_row = &lines[4];
    assert_eq!(stack_row[column("level")], "stack");
    assert_eq!(
        stack_row[column("scar_area_mm2")],
        "",
        "a stack row has no area"
    );
    assert!(close(value(stack_row, "scar_volume_mm3"), scar), "{csv}");
    assert!(
        close(value(stack_row, "myocardium_volume_mm3"), myo),
        "{csv}"
    );
    assert!(close(value(stack_row, "scar_mass_g"), scar_g), "{csv}");
    assert!(close(value(stack_row, "myocardium_mass_g"), myo_g), "{csv}");
    // The flag's weighing, as computed above from the manifest, on the stack row; slice rows
    // leave it empty.
    assert!(
        (value(stack_row, "reference_burden_low_percent") - (burden - upper).max(0.0)).abs() < 1e-9,
        "{csv}"
    );
    assert!(
        (value(stack_row, "reference_burden_high_percent") - (burden - lower)).abs() < 1e-9,
        "{csv}"
    );
    assert_eq!(
        stack_row[column("flag_uncertain")],
        uncertain.to_string(),
        "{csv}"
    );
    for row in &lines[1..4] {
        assert_eq!(row[column("flag_uncertain")], "", "{csv}");
        assert_eq!(row[column("level")], "slice");
        assert_eq!(value(row, "thickness_mm"), thickness);
        assert!(close(
            value(row, "scar_volume_mm3"),
            value(row, "scar_area_mm2") * thickness
        ));
    }
}

#[test]
fn the_rv_insertion_adds_the_aha_segments_to_the_report() {
    // A three-slice phantom stack (base first) through the bundled model, the insertion at 10
    // o'clock. The 16 segments partition each slice's wall, so their volumes add up to the
    // stack's; the levels run base to apex, or apex to base when the user says the base is last.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let input = phantom_nifti_stack(root);
    let report = |extra: &[&str], out: &str| -> serde_json::Value {
        let out = root.join(out);
        ok(&[&["predict", s(&input), "--out", s(&out)][..], extra].concat());
        report_json(&out)
    };
    let plain = report(&[], "plain");
    assert!(plain["inputs"][0].get("aha_segments").is_none(), "{plain}");

    let auto = report(&["--rv-insertion", "300"], "auto");
    let stack = &auto["inputs"][0];
    let aha = &stack["aha_segments"];
    let segments = aha["segments"].as_array().expect("segments");
    assert_eq!(segments.len(), 16);
    assert_eq!(segments[0]["name"], "basal anterior");
    assert_eq!(segments[15]["number"], 16);
    let total = |key: &str| -> f64 { segments.iter().map(|x| x[key].as_f64().expect(key)).sum() };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.max(1.0);
    for (segment_key, stack_key) in [
        ("scar_mm3", "scar_volume_mm3"),
        ("myocardium_mm3", "myocardium_volume_mm3"),
    ] {
        let want = stack[stack_key].as_f64().expect(stack_key);
        assert!(close(total(segment_key), want), "{segment_key}: {aha}");
    }
    assert_eq!(aha["levels"], serde_json::json!(["basal", "mid", "apical"]));
    assert_eq!(aha["base_first"], true);
    // One angle marks every slice, and every slice is cut at it.
    assert_eq!(
        aha["insertion_marks_deg"],
        serde_json::json!([300.0, 300.0, 300.0])
    );
    assert_eq!(
        aha["insertions_deg"],
        serde_json::json!([300.0, 300.0, 300.0])
    );
    assert_eq!(aha["septum_clockwise"], false);
    // aha.csv: the same 16 segments, one row each.
    let rows = csv_rows(&root.join("auto").join("aha.csv"));
    assert_eq!(rows.len(), 16);
    for (row, segment) in rows.iter().zip(segments) {
        assert_eq!(row["segment"], segment["number"].to_string());
        assert_eq!(row["name"], segment["name"].as_str().expect("name"));
        let csv_scar: f64 = row["scar_mm3"].parse().expect("scar_mm3");
        assert!(close(csv_scar, segment["scar_mm3"].as_f64().expect("scar")));
        assert_eq!(row["anterior_insertion_deg"], "300.0");
        let territory = match row["segment"].parse::<usize>().expect("number") {
            1 | 2 | 7 | 8 | 13 | 14 => "LAD",
            3 | 4 | 9 | 10 | 15 => "RCA",
            _ => "LCx",
        };
        assert_eq!(row["territory"], territory);
    }
    assert!(!root.join("plain").join("aha.csv").exists());

    // Marked on the first and last slices (base first): the mid slice is cut at 320, between
    // them. Each level's segments are then those of one angle for the whole stack at its
    // slice's angle, and aha.csv gives each level's angle.
    let turned = report(&["--rv-insertion", "1:300,3:340"], "turned");
    let aha = &turned["inputs"][0]["aha_segments"];
    assert_eq!(
        aha["insertion_marks_deg"],
        serde_json::json!([300.0, null, 340.0])
    );
    assert_eq!(
        aha["insertions_deg"],
        serde_json::json!([300.0, 320.0, 340.0])
    );
    let at_320 = report(&["--rv-insertion", "320"], "at320");
    let at_340 = report(&["--rv-insertion", "340"], "at340");
    let segments_of = |r: &serde_json::Value| r["inputs"][0]["aha_segments"]["segments"].clone();
    let (turned_segments, one) = (segments_of(&turned), segments_of(&auto));
    for (k, segment) in turned_segments
        .as_array()
        .expect("segments")
        .iter()
        .enumerate()
    {
        let source = match k {
            0..=5 => &one,
            6..=11 => &segments_of(&at_320),
            _ => &segments_of(&at_340),
        };
        assert_eq!(segment, &source[k], "segment {}", k + 1);
    }
    let rows = csv_rows(&root.join("turned").join("aha.csv"));
    for row in &rows {
        let want = match row["level"].as_str() {
            "basal" => "300.0",
            "mid" => "320.0",
            _ => "340.0",
        };
        assert_eq!(row["anterior_insertion_deg"], want, "{row:?}");
    }
    // A mark past the stack's end: a note, and no segments for it.
    let past = root.join("past");
    let run = ok(&[
        "predict",
        s(&input),
        "--rv-insertion",
        "1:300,4:340",
        "--out",
        s(&past),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--rv-insertion marks slice 4, but the stack has 3"),
        "{stderr}"
    );

    // Suggested from the image: each slice's mark lies near the insertion the phantom drew
    // (its cases.json), the septum counterclockwise, and a note says it is a suggestion.
    let cases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("data").join("cases.json")).expect("cases.json"),
    )
    .expect("json");
    let truth = cases["cases"][0]["rv_insertion_deg"]
        .as_f64()
        .expect("rv_insertion_deg");
    let auto_out = root.join("auto-insertion");
    let run = ok(&[
        "predict",
        s(&input),
        "--rv-insertion",
        "auto",
        "--out",
        s(&auto_out),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("RV insertion suggested from the image on slice(s) 1 at"),
        "{stderr}"
    );
    let suggested = report_json(&auto_out);
    let aha = &suggested["inputs"][0]["aha_segments"];
    assert_eq!(aha["septum_clockwise"], false);
    let marks = aha["insertion_marks_deg"].as_array().expect("marks");
    assert_eq!(marks.len(), 3);
    for m in marks {
        let m = m.as_f64().expect("every slice marked");
        let error = scarseg_imaging::metrics::turn_deg(m, truth);
        assert!(error.abs() <= 20.0, "{m} against {truth}");
    }
    fails(
        &[
            "predict",
            s(&input),
            "--rv-insertion",
            "auto",
            "--septum-clockwise",
            "--out",
            s(&auto_out),
        ],
        "with --rv-insertion auto the image tells which side the septum is on",
    );

    // -60 is 300; the base named last turns the levels round.
    let last = report(
        &["--rv-insertion=-60", "--base", "last", "--septum-clockwise"],
        "last",
    );
    let aha = &last["inputs"][0]["aha_segments"];
    assert_eq!(aha["levels"], serde_json::json!(["apical", "mid", "basal"]));
    assert_eq!(
        aha["insertions_deg"],
        serde_json::json!([300.0, 300.0, 300.0])
    );
    assert_eq!(aha["septum_clockwise"], true);

    // One slice cannot be placed along the ventricle: a note says so, and the rest is written.
    let single = root.join("single");
    ok(&[
        "phantom",
        "--out",
        s(&single),
        "--count",
        "1",
        "--seed",
        "12",
    ]);
    let out = root.join("one");
    let run = ok(&[
        "predict",
        s(&single),
        "--rv-insertion",
        "300",
        "--out",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("fewer than three slices hold myocardium"),
        "{stderr}"
    );
    assert!(stderr.contains("--aha-level"), "{stderr}");
    assert!(out.join("report.json").exists());
    // ... unless its level is given: a mid slice fills segments 7 to 12 alone.
    let mid = root.join("mid");
    ok(&[
        "predict",
        s(&single),
        "--rv-insertion",
        "300",
        "--aha-level",
        "mid",
        "--out",
        s(&mid),
    ]);
    let report = report_json(&mid);
    let aha = &report["inputs"][0]["aha_segments"];
    assert_eq!(aha["levels"], serde_json::json!(["mid"]));
    assert_eq!(aha["base_first"], serde_json::Value::Null);
    let reached: Vec<u64> = aha["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|x| !x["scar_percent"].is_null())
        .map(|x| x["number"].as_u64().expect("number"))
        .collect();
    assert_eq!(reached, vec![7, 8, 9, 10, 11, 12]);

    // Argument errors are clap's (exit code 2), naming the argument.
    for (extra, message) in [
        (
            &["--rv-insertion", "ten"][..],
            "\"ten\" is not an angle in degrees",
        ),
        (
            &["--rv-insertion", "inf"][..],
            "\"inf\" is not an angle in degrees",
        ),
        (
            &["--rv-insertion", "0:300"][..],
            "\"0\" is not a slice number (1 for the first slice)",
        ),
        (
            &["--rv-insertion", "1:300,1:310"][..],
            "slice 1 is marked twice",
        ),
        (
            &["--rv-insertion", "1:north"][..],
            "\"north\" is not an angle in degrees",
        ),
        (&["--septum-clockwise"][..], "--rv-insertion"),
        (
            &["--verified-by", "Doe^Jane"][..],
            "--verifying-organization",
        ),
        (
            &["--verifying-organization", "Hospital"][..],
            "--verified-by",
        ),
        (
            &[
                "--verified-by",
                "Doe^Jane",
                "--verifying-organization",
                "Hospital",
                "--no-dicom-seg",
            ][..],
            "--no-dicom-seg",
        ),
        (&["--base", "first"][..], "--rv-insertion"),
        (&["--aha-level", "mid"][..], "--rv-insertion"),
        (
            &[
                "--rv-insertion",
                "300",
                "--aha-level",
                "mid",
                "--base",
                "last",
            ][..],
            "--base",
        ),
    ] {
        let run = scarseg(&[&["predict", s(&single), "--out", s(&out)][..], extra].concat());
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: {err}");
    }
}

#[test]
fn train_on_pairs_holds_a_patient_out_and_writes_the_best_epoch() {
    // Three phantom PNG pairs are three patients: one is held out, and the best epoch (the
    // only one) is written where the last line says.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let data = root.join("pairs");
    ok(&["phantom", "--out", s(&data), "--count", "3", "--seed", "21"]);
    let run = root.join("run");
    let out = train_small(&["--pairs", s(&data)], &run, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("best.safetensors"), "{err}");
    assert!(run.join("best.safetensors").is_file(), "{err}");
    let log = std::fs::read_to_string(run.join("train_log.csv")).expect("log");
    let dice: f64 = csv_column(&log, "val_scar_dice")[0]
        .parse()
        .expect("number");
    assert!(
        (0.0..=1.0).contains(&dice),
        "validation ran on the held-out patient: {dice}"
    );
}

/// `scarseg train` of `epochs` tiny epochs into `run`, under a 120 x 40 pseudo-terminal
/// (`script` from util-linux), so stdout and stderr are terminals.
fn on_a_terminal(run: &Path, epochs: usize, extra: &str) -> Command {
    let command = format!(
        "stty rows 40 cols 120; exec {} train --phantom 2 --size 64 \
         --batch 2 --epochs {epochs} --out {} {extra}",
        env!("CARGO_BIN_EXE_scarseg"),
        s(run)
    );
    let mut script = Command::new("script");
    script.args(["-q", "-e", "-c", &command, "/dev/null"]);
    script
}

/// What one epoch of `train ... extra` into `run` under a pseudo-terminal drew, having
/// checked that it succeeded, showed each of `names` and panicked nowhere (the renderer runs on
/// its own thread: a panic there leaves training going, silently).
fn dashboard_of_one_epoch(run: &Path, extra: &str, names: &[&str]) -> String {
    let out = on_a_terminal(run, 1, extra)
        .output()
        .expect("run script (util-linux)");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "exit {:?}: {screen}", out.status);
    for name in names {
        assert!(
            screen.contains(name),
            "no {name:?} on the dashboard:\n{screen}"
        );
    }
    assert!(!screen.contains("panicked"), "{screen}");
    screen
}

/// On a terminal `train` shows burn-train's dashboard. Under a pseudo-terminal (`script` from
/// util-linux, 120 x 40) it draws the run's metrics by name, trains, and hands the terminal back;
/// the plain per-epoch log line is not printed over it.
#[test]
fn train_on_a_terminal_shows_the_dashboard() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("run");
    let screen = dashboard_of_one_epoch(
        &run,
        "--phantom-validation 1",
        &["Loss", "Learning rate", "Scar Dice"],
    );
    assert!(!screen.contains("of it waiting for data"), "{screen}");
    assert!(run.join("checkpoint/state.json").is_file());
    assert!(run.join("best.safetensors").is_file());
}

/// With validation cases of several scar patterns (`--pattern mixed`; the first twelve
/// validation seeds hold ischemic and subepicardial scar), the dashboard also shows each
/// pattern's validation scar Dice, and no pattern that is not there.
#[test]
fn the_dashboard_shows_each_scar_patterns_validation_dice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let screen = dashboard_of_one_epoch(
        &tmp.path().join("run"),
        "--pattern mixed --phantom-validation 12",
        &["Scar Dice, ischemic", "Scar Dice, subepicardial"],
    );
    assert!(!screen.contains("Scar Dice, mid-wall"), "{screen}");
}

/// 'q' then 's' ("Stop the training") in the dashboard stops the run cleanly: exit 0, a line
/// that says how to resume, and the checkpoint of the last whole epoch.
#[test]
fn the_dashboards_stop_key_ends_training_and_says_how_to_resume() {
    use std::io::Write;
    use std::process::Stdio;

    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("run");
    let mut child = on_a_terminal(&run, 100_000, "--phantom-validation 1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    let mut keys = child.stdin.take().expect("stdin");
    // Drain the screen on a thread, so the renderer never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut screen = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut screen).expect("read the screen");
        screen
    });
    // Once an epoch is checkpointed, press q, then s in the popup; again if a key came too
    // early, and give up (killing the run) after 20 tries rather than hang.
    let state = run.join("checkpoint/state.json");
    let start = std::time::Instant::now();
    while !state.is_file() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(state.is_file(), "no epoch finished within two minutes");
    let mut status = None;
    'presses: for _ in 0..20 {
        for key in [b"q", b"s"] {
            // A run still shutting down after the last 's' may close its terminal before the
            // next key: a broken pipe means it is ending, so wait for how it ends.
            match keys.write_all(key).and_then(|()| keys.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    status = Some(child.wait().expect("wait"));
                    break 'presses;
                }
                other => other.expect("press a key"),
            }
            std::thread::sleep(std::time::Duration::from_millis(700));
        }
        status = child.try_wait().expect("poll the run");
        if status.is_some() {
            break;
        }
    }
    if status.is_none() {
        child.kill().expect("kill the run");
    }
    drop(keys);
    let status = child.wait().expect("wait");
    let out = std::process::Output {
        status,
        stdout: reader.join().expect("reader"),
        stderr: Vec::new(),
    };
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}: {screen}", out.status);
    assert!(
        screen.contains("stopped from the dashboard during epoch"),
        "{screen}"
    );
    assert!(screen.contains("--resume"), "{screen}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    let done = state["epochs_done"].as_u64().expect("epochs_done");
    assert!((1..100_000).contains(&done), "{done} epochs done");
}

/// Rows of a CSV file as maps from its header's names.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn files_that_are_not_images_among_pairs_are_left_out_with_a_note() {
    // A readme and a protocol beside the pairs are no images without labels: left out, said
    // once (they failed the run before: "README.txt: no label file ... beside it").
    let tmp = tempfile::tempdir().expect("tempdir");
    let pairs = tmp.path().join("pairs");
    ok(&[
        "phantom",
        "--out",
        s(&pairs),
        "--count",
        "2",
        "--seed",
        "31",
    ]);
    std::fs::write(pairs.join("README.txt"), "two phantom cases\n").expect("write");
    std::fs::write(pairs.join("protocol.pdf"), b"%PDF-1.4\n").expect("write");
    let ev = tmp.path().join("ev");
    let out = ok(&[
        "eval",
        "--method",
        "fwhm",
        "--pairs",
        s(&pairs),
        "--out",
        s(&ev),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    let note = format!(
        "note: {}: left out 2 file(s) that are images neither by their content nor by their \
         names: README.txt, protocol.pdf",
        s(&pairs)
    );
    assert!(err.contains(&note), "{note:?} not in {err}");
    let csv = std::fs::read_to_string(ev.join("eval.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 3, "a header and the two cases: {csv}");
}

#[test]
fn every_phantom_layout_reads_back_as_the_same_cases_and_patients() {
    // Two three-slice cases in each layout `phantom` writes are read back by --pairs (PNG,
    // NIfTI, DICOM series folders) or --emidec as the same two patients and six slices, with
    // the reference areas that the generator's own label maps give (counted here, not by the
    // CLI's readers). PNG slices of one case share a patient, so a split cannot divide a case.
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    let config = PhantomConfig {
        slices: 3,
        ..Default::default()
    };
    let truth: Vec<(String, f64, f64)> = [11, 12]
        .into_iter()
        .flat_map(|seed| {
            let case = generate(seed, &config);
            case.slices
                .iter()
                .map(|s| {
                    let area = |f: &dyn Fn(u8) -> bool| {
                        s.labels.iter().filter(|l| f(**l)).count() as f64 * s.image.pixel_area_mm2()
                    };
                    (case.name.clone(), area(&|l| l >= 2), area(&|l| l >= 3))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let names: Vec<String> = vec![truth[0].0.clone(), truth[3].0.clone()];
    assert_ne!(names[0], names[1]);
    // Per slice, the reference's transmural sectors, and the (FWHM, reference) transmural call
    // of every sector both walls reach; FWHM's myocardium is the reference's.
    use scarseg_imaging::classic::fwhm;
    use scarseg_imaging::metrics::{sector_scar_percent, transmural_sectors};
    let (mut sectors, mut calls) = (Vec::new(), Vec::new());
    for seed in [11, 12] {
        for slice in generate(seed, &config).slices {
            let (scar, myo, spacing) = (slice.scar(), slice.myocardium(), slice.image.spacing_mm);
            let reference = sector_scar_percent(&scar, &myo, spacing, 12);
            let predicted =
                sector_scar_percent(&fwhm(&slice.image.pixels, &myo).scar, &myo, spacing, 12);
            sectors.push(transmural_sectors(&reference));
            for (p, r) in predicted.iter().zip(&reference) {
                if let (Some(p), Some(r)) = (p, r) {
                    calls.push((*p > 50.0, *r > 50.0));
                }
            }
        }
    }
    let share = |predicted: bool, reference: bool| {
        let with = calls.iter().filter(|c| c.1 == reference).count();
        let right = calls
            .iter()
            .filter(|c| **c == (predicted, reference))
            .count();
        (with > 0).then(|| right as f64 / with as f64)
    };
    let (sensitivity, specificity) = (share(true, true), share(false, false));
    // Both cases have transmural scar (the check below is not of two empty sets).
    assert!(sectors[..3].iter().sum::<usize>() > 0 && sectors[3..].iter().sum::<usize>() > 0);

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for (format, reader) in [
        ("png", "--pairs"),
        ("nifti", "--pairs"),
        ("dicom", "--pairs"),
        ("emidec", "--emidec"),
    ] {
        let data = root.join(format);
        ok(&[
            "phantom",
            "--out",
            s(&data),
            "--count",
            "2",
            "--seed",
            "11",
            "--slices",
            "3",
            "--format",
            format,
        ]);
        let out = root.join(format!("eval-{format}"));
        ok(&[
            "eval",
            "--method",
            "fwhm",
            reader,
            s(&data),
            "--out",
            s(&out),
        ]);
        let rows = csv_rows(&out.join("eval.csv"));
        assert_eq!(rows.len(), 6, "{format}: six slices");
        for ((row, (patient, myo, scar)), transmural) in rows.iter().zip(&truth).zip(&sectors) {
            assert_eq!(&row["patient"], patient, "{format}");
            assert_eq!(
                row["reference_transmural_sectors"],
                transmural.to_string(),
                "{format} {patient}"
            );
            for (column, want) in [
                ("reference_myocardium_area_mm2", myo),
                ("reference_scar_area_mm2", scar),
            ] {
                let got: f64 = row[column].parse().expect("number");
                // DICOM stores the spacing as a decimal string, PNG's pHYs as whole pixels
                // per metre (about 740 for 1.35 mm: up to 0.07% per axis): rounding only.
                let tolerance = if format == "png" { 2e-3 } else { 1e-5 };
                assert!(
                    (got - want).abs() <= tolerance * want.max(1.0),
                    "{format} {patient} {column}: {got} against {want}"
                );
            }
        }
        // The transmural call's sensitivity and specificity over all sectors, where the pixels
        // are stored exactly (NIfTI keeps them as f32) so FWHM draws what it drew here.
        if format == "nifti" {
            let summary: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("eval.json")).expect("eval.json"))
                    .expect("json");
            let got = |key: &str| summary["summary"][key].as_f64();
            assert_eq!(
                (
                    got("transmural_sector_sensitivity"),
                    got("transmural_sector_specificity")
                ),
                (sensitivity, specificity),
                "{summary}"
            );
        }

        // Training holds one whole case out and says which in run.json.
        let run = root.join(format!("run-{format}"));
        train_small(&[reader, s(&data)], &run, &[]);
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("run.json")).expect("run.json"))
                .expect("json");
        let split = &info["data_split"];
        let side = |key: &str| -> Vec<String> {
            split[key]
                .as_array()
                .expect("patients")
                .iter()
                .map(|p| p.as_str().expect("name").to_string())
                .collect()
        };
        let mut both = [side("training_patients"), side("validation_patients")].concat();
        assert_eq!(both.len(), 2, "{format}: {split}");
        both.sort();
        assert_eq!(both, names, "{format}");
        assert_eq!(split["training_slices"], 3, "{format}");
        assert_eq!(split["validation_slices"], 3, "{format}");
    }
}

/// Phantom case 11's three slices as a DICOM series, `root/series/IMk.dcm` (instance k + 1 of
/// series 2.25.12 in study 2.25.11, for `patient`), each slice passed through `prepare` before
/// it is written; returns the case and the folder.
fn phantom_series(
    root: &Path,
    patient: &str,
    mut prepare: impl FnMut(&mut Slice),
) -> (scarseg_imaging::phantom::PhantomCase, PathBuf) {
    use scarseg_imaging::encode::{DicomSyntax, SeriesIds, dicom_mr};
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    let case = generate(
        11,
        &PhantomConfig {
            slices: 3,
            ..Default::default()
        },
    );
    let series = root.join("series");
    std::fs::create_dir_all(&series).expect("mkdir");
    let ids = SeriesIds {
        study_uid: "2.25.11".into(),
        series_uid: "2.25.12".into(),
        patient_name: patient.into(),
    };
    for (k, s) in case.slices.iter().enumerate() {
        let mut image = s.image.clone();
        prepare(&mut image);
        let bytes = dicom_mr(&image, &ids, k as u32 + 1, DicomSyntax::ExplicitLittle).expect("dcm");
        std::fs::write(series.join(format!("IM{k}.dcm")), bytes).expect("write");
    }
    (case, series)
}

#[test]
fn the_label_volume_lies_on_a_series_whose_slice_location_runs_against_the_normal() {
    // Some scanners count SliceLocation the other way from the slice normal. Such a series is
    // read in SliceLocation order, apex to base here, and the label volume `predict` writes must
    // still put each slice's labels where that slice lies (it put slice k at the first slice's
    // position plus k steps along the normal, the wrong way).
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let mut positions = Vec::new();
    let (_, series) = phantom_series(root, "against", |image| {
        image.slice_location_mm = Some(-image.position_along_normal());
        positions.push(image.position_mm);
    });
    // The generator goes base to apex along the normal, so SliceLocation order is the reverse.
    positions.reverse();
    let out = root.join("out");
    ok(&["predict", s(&series), "--out", s(&out)]);
    let volume = files_with(&out, "_labels.nii.gz");
    assert_eq!(volume.len(), 1, "{volume:?}");
    let bytes = std::fs::read(&volume[0]).expect("read");
    let labels =
        scarseg_imaging::decode::decode_label_file(s(&volume[0]), &bytes, &Limits::default())
            .expect("decode");
    assert_eq!(labels.slices.len(), 3);
    for (k, (got, want)) in labels.slices.iter().zip(&positions).enumerate() {
        for axis in 0..3 {
            assert!(
                (got.position_mm[axis] - want[axis]).abs() < 1e-3,
                "slice {k}: {:?} against {want:?}",
                got.position_mm
            );
        }
    }
}

#[test]
fn a_flat_folder_of_dicom_slices_is_split_by_patient_id() {
    // Two phantom cases of two slices, as four DICOM files side by side in DIR, each with its
    // label map beside it: no folder says which slices belong together, the Patient ID does.
    // Training must hold out a whole case (it took each file as a patient).
    use scarseg_imaging::encode::{DicomSyntax, SeriesIds, dicom_mr, png_grey8};
    use scarseg_imaging::phantom::{PhantomConfig, generate};
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let data = root.join("flat");
    std::fs::create_dir_all(&data).expect("mkdir");
    let config = PhantomConfig {
        slices: 2,
        ..Default::default()
    };
    let mut names = Vec::new();
    for (seed, prefix) in [(11, "a"), (12, "b")] {
        let case = generate(seed, &config);
        let ids = SeriesIds {
            study_uid: format!("2.25.{seed}1"),
            series_uid: format!("2.25.{seed}2"),
            patient_name: case.name.clone(),
        };
        for (k, s) in case.slices.iter().enumerate() {
            let im = &s.image;
            let stem = format!("{prefix}{k}");
            let dcm = dicom_mr(im, &ids, k as u32 + 1, DicomSyntax::ExplicitLittle).expect("dcm");
            std::fs::write(data.join(format!("{stem}.dcm")), dcm).expect("write");
            let labels = png_grey8(im.rows, im.cols, &s.labels, None).expect("png");
            std::fs::write(data.join(format!("{stem}_labels.png")), labels).expect("write");
        }
        names.push(case.name);
    }
    let run = root.join("run");
    train_small(&["--pairs", s(&data)], &run, &[]);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).expect("run.json"))
            .expect("json");
    let split = &info["data_split"];
    let mut patients: Vec<String> = ["training_patients", "validation_patients"]
        .iter()
        .flat_map(|k| split[k].as_array().expect("patients").clone())
        .map(|p| p.as_str().expect("name").to_string())
        .collect();
    patients.sort();
    names.sort();
    assert_eq!(patients, names, "{split}");
    assert_eq!(split["training_slices"], 2, "{split}");
    assert_eq!(split["validation_slices"], 2, "{split}");
}

/// The slices of a label volume as label values, through the real decoder.
fn label_volume(path: &Path) -> Vec<Slice> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    scarseg_imaging::decode::decode_label_file(s(path), &bytes, &Limits::default())
        .expect("label volume decodes")
        .slices
}

/// Two phantom NIfTI stacks of three slices (seeds 11 and 12) with their label volumes, in
/// `root/data`, which it returns.
fn two_phantom_stacks(root: &Path) -> PathBuf {
    let data = root.join("data");
    let args = [
        "--count", "2", "--seed", "11", "--slices", "3", "--format", "nifti",
    ];
    ok(&[&["phantom", "--out", s(&data)][..], &args].concat());
    data
}

/// Writes label slices (values 0-4) as a gzipped NIfTI label volume at `path`.
fn write_label_volume(labels: &[Slice], path: &Path) {
    let values: Vec<u8> = labels
        .iter()
        .flat_map(|t| t.pixels.iter().map(|v| *v as u8))
        .collect();
    std::fs::write(
        path,
        nifti1(labels, NiftiData::U8(&values), true).expect("nifti"),
    )
    .expect("write");
}

#[test]
fn a_folder_of_label_volumes_corrects_the_networks_masks() {
    // Two phantom stacks through the bundled model, then again with the phantom's own label
    // volumes as corrections: the masks become the truth, and the report says by how much the
    // network's differed, computed here from the first run's masks.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let data = two_phantom_stacks(root);
    let (plain, fixed) = (root.join("plain"), root.join("fixed"));
    ok(&["predict", s(&data), "--out", s(&plain)]);
    let out = ok(&[
        "predict",
        s(&data),
        "--out",
        s(&fixed),
        "--corrections",
        s(&data),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    let report = report_json(&fixed);
    let plain_report = report_json(&plain);
    assert_eq!(report["corrections"], s(&data));
    let mut corrected_somewhere = false;
    let close = |v: &serde_json::Value, want: f64| (v.as_f64().expect("value") - want).abs() < 1e-9;
    for name in ["phantom-11", "phantom-12"] {
        let truth_file = data.join(format!("{name}_labels.nii.gz"));
        let truth = label_volume(&truth_file);
        assert_eq!(truth.len(), 3);
        assert!(
            err.contains(&format!("corrected by {}", truth_file.display())),
            "{err}"
        );
        // The label volume written is the truth's (scar 3 or 4 -> 3, myocardium 2).
        let written = label_volume(&fixed.join(format!("{name}_labels.nii.gz")));
        let record = report["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .find(|r| r["output_name"] == name)
            .expect("record");
        let plain_record = plain_report["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .find(|r| r["output_name"] == name)
            .expect("record");
        assert_eq!(record["corrections"], s(&truth_file));
        // Pooled over the stack: [scar overlap, network scar, truth scar, same for the wall].
        let mut pooled = [0usize; 6];
        let mut edited_total = 0;
        for (k, t) in truth.iter().enumerate() {
            let want: Vec<f32> = t
                .pixels
                .iter()
                .map(|v| match *v as u8 {
                    3 | 4 => 3.0,
                    2 => 2.0,
                    _ => 0.0,
                })
                .collect();
            assert_eq!(written[k].pixels, want, "{name} slice {k}");
            let scar_t: Vec<bool> = want.iter().map(|v| *v == 3.0).collect();
            let myo_t: Vec<bool> = want.iter().map(|v| *v >= 2.0).collect();
            let mask = |dir: &Path, what: &str| -> Vec<bool> {
                let (_, _, v) = read_mask(&dir.join(format!("{name}_{k:03}_{what}.png")));
                v.iter().map(|x| *x > 0.0).collect()
            };
            assert_eq!(mask(&fixed, "scar"), scar_t);
            assert_eq!(mask(&fixed, "myo"), myo_t);
            let (scar_n, myo_n) = (mask(&plain, "scar"), mask(&plain, "myo"));
            let edited = (0..want.len())
                .filter(|&i| scar_n[i] != scar_t[i] || myo_n[i] != myo_t[i])
                .count();
            let count =
                |a: &[bool], b: &[bool]| a.iter().zip(b).filter(|(x, y)| **x && **y).count();
            let n = |a: &[bool]| a.iter().filter(|x| **x).count();
            for (slot, v) in pooled.iter_mut().zip([
                count(&scar_n, &scar_t),
                n(&scar_n),
                n(&scar_t),
                count(&myo_n, &myo_t),
                n(&myo_n),
                n(&myo_t),
            ]) {
                *slot += v;
            }
            edited_total += edited;
            let slice = &record["slices"][k];
            assert_eq!(slice["edited_px"], edited, "{name} slice {k}");
            // The burden is the truth's (pixel areas cancel); the network's is the first run's.
            let burden = 100.0 * n(&scar_t) as f64 / n(&myo_t) as f64;
            assert!((slice["burden_percent"].as_f64().expect("burden") - burden).abs() < 1e-9);
            // From pixel counts rather than areas: equal up to rounding.
            assert!(close(
                &slice["network_burden_percent"],
                plain_record["slices"][k]["burden_percent"]
                    .as_f64()
                    .expect("burden")
            ));
        }
        assert_eq!(record["edited_px"], edited_total);
        corrected_somewhere |= edited_total > 0;
        let dice = |o: usize, a: usize, b: usize| 2.0 * o as f64 / (a + b) as f64;
        assert!(close(
            &record["network_scar_dice"],
            dice(pooled[0], pooled[1], pooled[2])
        ));
        assert!(close(
            &record["network_myocardium_dice"],
            dice(pooled[3], pooled[4], pooled[5])
        ));
        assert!(close(
            &record["network_burden_percent"],
            plain_record["burden_percent"].as_f64().expect("burden")
        ));
    }
    assert!(corrected_somewhere, "the network is not the truth");

    // A folder with a volume that does not fit one stack (two of its three slices), none for
    // the other and one that matches no stack: the first stack is skipped with the reason, the
    // second keeps the network's masks, with a note, and the stray file is named.
    let bad = root.join("bad");
    std::fs::create_dir(&bad).expect("mkdir");
    write_label_volume(
        &label_volume(&data.join("phantom-11_labels.nii.gz"))[..2],
        &bad.join("phantom-11_labels.nii.gz"),
    );
    std::fs::copy(
        data.join("phantom-12_labels.nii.gz"),
        bad.join("phantom-13_labels.nii.gz"),
    )
    .expect("copy");
    let partial = root.join("partial");
    let out = scarseg(&[
        "predict",
        s(&data),
        "--out",
        s(&partial),
        "--corrections",
        s(&bad),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "skipped: {}: 2 label slices for 3 image slices in {}",
            bad.join("phantom-11_labels.nii.gz").display(),
            data.join("phantom-11.nii.gz").display()
        )),
        "{err}"
    );
    assert!(
        err.contains("no phantom-12_labels.nii.gz (.nii, .png) or phantom-12_seg.dcm in the corrections folder"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}: matches no stack written in this run; not used",
            bad.join("phantom-13_labels.nii.gz").display()
        )),
        "{err}"
    );
    assert!(!partial.join("phantom-11_labels.nii.gz").exists());
    assert_eq!(
        std::fs::read(partial.join("phantom-12_labels.nii.gz")).expect("written"),
        std::fs::read(plain.join("phantom-12_labels.nii.gz")).expect("written"),
        "the stack without corrections keeps the network's masks"
    );

    // A folder that is not there is one line and exit 1.
    fails(
        &[
            "predict",
            s(&data),
            "--out",
            s(&partial),
            "--corrections",
            s(&root.join("nowhere")),
        ],
        "nowhere: no such folder (--corrections)",
    );
}

#[test]
fn eval_scores_label_volumes_made_elsewhere() {
    // The reference's own label volumes score 1 everywhere; with one slice's scar taken out
    // (labels 3 and 4 made 2), that slice scores scar Dice 0 and no scar area, the others 1;
    // predict's label volumes score what the network scores. Missing or unfitting volumes are
    // one line naming them.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let data = two_phantom_stacks(root);
    let eval_table = |extra: &[&str], out: &str| {
        let out = root.join(out);
        let run = ok(&[&["eval", "--pairs", s(&data), "--out", s(&out)][..], extra].concat());
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("eval.json")).expect("eval.json"))
                .expect("json");
        let table = String::from_utf8(run.stdout).expect("utf-8");
        (csv_rows(&out.join("eval.csv")), json, table)
    };
    let eval_rows = |extra: &[&str], out: &str| {
        let (rows, json, _) = eval_table(extra, out);
        (rows, json)
    };
    // A folder of predictions named `name`: the first case's own label volume, and `labels`
    // as the second's.
    let predictions = |name: &str, labels: &[Slice]| {
        let dir = root.join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::copy(
            data.join("phantom-11_labels.nii.gz"),
            dir.join("phantom-11_labels.nii.gz"),
        )
        .expect("copy");
        write_label_volume(labels, &dir.join("phantom-12_labels.nii.gz"));
        dir
    };
    // The second case's middle slice loses its scar.
    let truth = label_volume(&data.join("phantom-12_labels.nii.gz"));
    let scar_px = truth[1].pixels.iter().filter(|v| **v >= 3.0).count();
    // Each slice's scar pixels (labels 3 and 4); the slices share one grid and thickness.
    let scar_counts: Vec<f64> = truth
        .iter()
        .map(|t| t.pixels.iter().filter(|v| **v >= 3.0).count() as f64)
        .collect();
    assert!(scar_px > 0, "the phantom's middle slice holds scar");
    let mut scarless = truth.clone();
    for v in scarless[1].pixels.iter_mut().filter(|v| **v >= 3.0) {
        *v = 2.0;
    }
    let edited = predictions("edited", &scarless);
    let (rows, json, table) = eval_table(&["--predictions", s(&edited)], "edited-eval");
    assert_eq!(rows.len(), 6);
    assert_eq!(json["predictions"], s(&edited));
    assert_eq!(
        json["summary"]["method"],
        format!("label volumes in {}", s(&edited))
    );
    for (k, row) in rows.iter().enumerate() {
        let value = |key: &str| -> f64 { row[key].parse().expect(key) };
        assert_eq!(value("myocardium_dice"), 1.0, "{row:?}");
        if k == 4 {
            assert_eq!(value("scar_dice"), 0.0, "{row:?}");
            assert_eq!(value("scar_area_mm2"), 0.0, "{row:?}");
            assert!(value("reference_scar_area_mm2") > 0.0, "{row:?}");
        } else {
            assert_eq!(value("scar_dice"), 1.0, "{row:?}");
            assert_eq!(value("scar_area_mm2"), value("reference_scar_area_mm2"));
        }
    }
    let mean = json["summary"]["scar_dice"]["mean"].as_f64().expect("mean");
    assert!((mean - 5.0 / 6.0).abs() < 1e-12, "{mean}");
    // Its 95% confidence interval takes each patient's slices as one cluster: sums of
    // deviations from 5/6 of +0.5 (1, 1, 1) and -0.5 (1, 0, 1), SE^2 = 2/1 x 0.5 / 36, SE 1/6,
    // t(0.975, 1) = 12.706205: 5/6 -+ 2.117701, -1.284 to 2.951, which is all a Dice can be:
    // 0 to 1. Six independent slices would give 5/6 -+ 0.428 (t(0.975, 5) x SD / sqrt(6)),
    // 0.405 to 1, too narrow for two patients.
    let ci = &json["summary"]["scar_dice"]["ci95"];
    let bound = |key: &str| ci[key].as_f64().expect(key);
    assert_eq!((bound("lower"), bound("upper")), (0.0, 1.0), "{ci}");
    assert!(
        table.contains(
            "scar Dice              0.833 +- 0.408  (95% CI 0.000 to 1.000; median 1.000, IQR \
             1.000 to 1.000; n = 6)"
        ),
        "{table}"
    );
    // The flag's counts cover both patients.
    let counts = &json["summary"]["flag_counts"];
    let total: u64 = [
        "true_positive",
        "false_negative",
        "true_negative",
        "false_positive",
    ]
    .iter()
    .map(|k| counts[k].as_u64().expect(k))
    .sum();
    assert_eq!(total, 2, "{counts}");
    // Bland-Altman of the per-patient burden: the first patient agrees (difference 0), the
    // second differs by d, its burden from the slices' areas (one thickness per stack), so the
    // bias is d / 2 and the SD |d| / sqrt(2).
    let sum = |key: &str| -> f64 {
        rows[3..]
            .iter()
            .map(|r| r[key].parse::<f64>().expect(key))
            .sum()
    };
    let d = 100.0 * sum("scar_area_mm2") / sum("myocardium_area_mm2")
        - 100.0 * sum("reference_scar_area_mm2") / sum("reference_myocardium_area_mm2");
    assert!(d < 0.0, "{d}");
    let ba = &json["summary"]["burden_bland_altman"];
    let close = |key: &str, want: f64| {
        let got = ba[key].as_f64().expect(key);
        assert!((got - want).abs() < 1e-9, "{key}: {got} against {want}");
    };
    close("mean", d / 2.0);
    close("sd", d.abs() / 2f64.sqrt());
    close("upper_loa", d / 2.0 + 1.96 * d.abs() / 2f64.sqrt());
    assert_eq!(ba["n"], 2);
    // eval_patients.csv: each patient's burdens, their difference and mean, as plotted.
    let patients = csv_rows(&root.join("edited-eval").join("eval_patients.csv"));
    assert_eq!(patients.len(), 2);
    // ... in two figures, one point per patient.
    for figure in ["eval_bland_altman.svg", "eval_burden.svg"] {
        let svg = std::fs::read_to_string(root.join("edited-eval").join(figure)).expect(figure);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let points = doc.descendants().filter(|n| n.has_tag_name("circle"));
        assert_eq!(points.count(), 2, "{figure}");
    }
    let number = |row: &std::collections::HashMap<String, String>, key: &str| -> f64 {
        row[key].parse().expect(key)
    };
    assert_eq!(patients[0]["patient"], "phantom-11");
    assert_eq!(number(&patients[0], "difference_pp"), 0.0);
    // A patient's Dice is over its slices together: the second patient's scar is the
    // reference's on slices 0 and 2, none on slice 1, so 2 (S0 + S2) / (2 S0 + S1 + 2 S2), not
    // the mean of its slices' Dice (2/3); the first agrees everywhere.
    let [s0, s1, s2] = scar_counts[..] else {
        panic!("three slices: {scar_counts:?}")
    };
    let want = 2.0 * (s0 + s2) / (2.0 * s0 + s1 + 2.0 * s2);
    assert!(
        (number(&patients[1], "scar_dice") - want).abs() < 1e-9,
        "{want}"
    );
    assert_eq!(number(&patients[0], "scar_dice"), 1.0);
    assert_eq!(number(&patients[1], "myocardium_dice"), 1.0);
    let volume_ratio =
        number(&patients[1], "scar_volume_ml") / number(&patients[1], "reference_scar_volume_ml");
    assert!((volume_ratio - (s0 + s2) / (s0 + s1 + s2)).abs() < 1e-9);
    let per_patient = &json["summary"]["patient_scar_dice"];
    let mean = per_patient["mean"].as_f64().expect("mean");
    assert!((mean - (1.0 + want) / 2.0).abs() < 1e-9, "{per_patient}");
    assert_eq!(per_patient["n"], 2);
    // EMIDEC's absolute differences, averaged over the two patients: the first has none; the
    // second's scar lost slice 1's (S1 of S0 + S1 + S2 of its volume), its myocardium
    // nothing (scar became myocardium), its burden d.
    let summary_mean = |key: &str| json["summary"][key]["mean"].as_f64().expect(key);
    let reference_ml = number(&patients[1], "reference_scar_volume_ml");
    let lost_ml = reference_ml * s1 / (s0 + s1 + s2);
    assert!((summary_mean("patient_scar_volume_abs_difference_ml") - lost_ml / 2.0).abs() < 1e-9);
    assert_eq!(
        summary_mean("patient_myocardium_volume_abs_difference_ml"),
        0.0
    );
    assert!((summary_mean("patient_burden_abs_difference_pp") - d.abs() / 2.0).abs() < 1e-9);
    // 3-D distances over each three-slice stack: none where the masks agree; the second
    // patient's scar lost a whole slice, which lies a slice's spacing from the others.
    for (k, key) in ["myocardium_hd_mm", "myocardium_hd95_mm", "scar_hd95_mm"]
        .iter()
        .enumerate()
    {
        assert_eq!(number(&patients[0], key), 0.0, "{key}");
        assert_eq!(number(&patients[1], key) > 0.0, k == 2, "{key}");
    }
    assert_eq!(patients[1]["slices"], "3");
    assert!((number(&patients[1], "difference_pp") - d).abs() < 1e-9);
    let (b, r) = (
        number(&patients[1], "burden_percent"),
        number(&patients[1], "reference_burden_percent"),
    );
    assert!(
        (b - r - d).abs() < 1e-9
            && (number(&patients[1], "mean_percent") - (b + r) / 2.0).abs() < 1e-9
    );

    // The reference's own volumes agree perfectly: ICC 1, no bias, no spread.
    let (_, itself) = eval_rows(&["--predictions", s(&data)], "itself-eval");
    assert_eq!(itself["summary"]["burden_icc"], 1.0);
    for key in ["patient_myocardium_hd_mm", "patient_scar_hd95_mm"] {
        assert_eq!(itself["summary"][key]["mean"], 0.0, "{key}");
        assert_eq!(itself["summary"][key]["n"], 2, "{key}");
    }
    // Perfect agreement has no interval; two patients are too few for Fisher's z.
    assert!(itself["summary"]["burden_icc_ci95"].is_null());
    assert!(itself["summary"]["burden_pearson_r_ci95"].is_null());
    assert_eq!(itself["summary"]["burden_bland_altman"]["mean"], 0.0);
    assert_eq!(itself["summary"]["burden_bland_altman"]["sd"], 0.0);
    assert_eq!(itself["summary"]["scar_dice"]["mean"], 1.0);

    // The reference's walls are rings round bright blood: the outline checks doubt none. Cut
    // through one slice's wall along the cavity's middle row, to the right, that wall encloses
    // nothing, and that slice alone is doubted.
    assert_eq!(itself["summary"]["doubted_slices"], 0);
    let mut labels = truth.clone();
    let first = &mut labels[0];
    let blood: Vec<usize> = (0..first.pixels.len())
        .filter(|i| first.pixels[*i] == 1.0)
        .collect();
    let cols = first.cols;
    let mid = |v: Vec<usize>| v.iter().sum::<usize>() / v.len();
    let (r0, c0) = (
        mid(blood.iter().map(|i| i / cols).collect()),
        mid(blood.iter().map(|i| i % cols).collect()),
    );
    let mut opened = 0;
    for c in c0..cols {
        let p = &mut first.pixels[r0 * cols + c];
        if *p >= 2.0 {
            *p = 0.0;
            opened += 1;
        }
    }
    assert!(opened > 0, "the cut crosses the wall");
    let cut = predictions("cut", &labels);
    let (rows, json, table) = eval_table(&["--predictions", s(&cut)], "cut-eval");
    let doubted: Vec<&str> = rows.iter().map(|r| r["outline_doubted"].as_str()).collect();
    assert_eq!(
        doubted,
        ["false", "false", "false", "true", "false", "false"]
    );
    assert_eq!(
        rows[3]["outline_doubts"],
        "the myocardium found encloses no cavity"
    );
    assert_eq!(json["summary"]["doubted_slices"], 1);
    assert!(
        table.contains("outline doubted        1 of 6 slices (not one ring round a bright cavity)"),
        "{table}"
    );

    // predict's label volumes score exactly what eval scores for the network.
    let pred = root.join("pred");
    ok(&["predict", s(&data), "--out", s(&pred)]);
    let (network, _) = eval_rows(&[], "network-eval");
    let (volumes, _) = eval_rows(&["--predictions", s(&pred)], "volumes-eval");
    assert_eq!(network, volumes);

    // A case without a volume, and a volume that does not fit, fail the run by name.
    std::fs::remove_file(edited.join("phantom-12_labels.nii.gz")).expect("rm");
    let run = |dir: &Path, message: &str| {
        fails(
            &["eval", "--pairs", s(&data), "--predictions", s(dir)],
            message,
        );
    };
    run(
        &edited,
        &format!(
            "no phantom-12_labels.nii.gz (.nii, .png) or phantom-12_seg.dcm for {}",
            data.join("phantom-12.nii.gz").display()
        ),
    );
    write_label_volume(&truth[..2], &edited.join("phantom-12_labels.nii.gz"));
    run(
        &edited,
        "phantom-12_labels.nii.gz: 2 label slices for 3 image slices",
    );
}

#[test]
fn predict_writes_a_dicom_segmentation_of_a_dicom_series_in_its_study() {
    // A phantom series of three DICOM slices: besides the PNG masks, one multi-frame DICOM SEG
    // whose frames, unpacked here bit by bit, are the PNG masks of the slices they reference,
    // in the series' study and frame of reference. Corrections make its segments
    // SEMIAUTOMATIC; a PNG input gets none.
    use dicom_dictionary_std::tags;
    use dicom_object::{InMemDicomObject, OpenFileOptions};
    use scarseg_imaging::encode::png_grey8;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let (case, series) = phantom_series(root, "Seg^Test", |_| {});
    let text = |obj: &InMemDicomObject, tag| {
        obj.element(tag)
            .unwrap_or_else(|_| panic!("{tag} present"))
            .to_str()
            .expect("text")
            .trim_end_matches('\0')
            .trim()
            .to_string()
    };
    let first = |obj: &InMemDicomObject, tag| -> InMemDicomObject {
        obj.element(tag).expect("sequence").items().expect("items")[0].clone()
    };
    let check = |out: &Path, algorithm: &str| {
        let file = out.join("series_seg.dcm");
        let seg = OpenFileOptions::new()
            .open_file(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let report = report_json(out);
        assert_eq!(report["inputs"][0]["dicom_seg"], "series_seg.dcm");
        // Its measurement report rests on it (tests/dicom_seg_check.py reads the numbers).
        assert_eq!(report["inputs"][0]["dicom_sr"], "series_sr.dcm");
        let sr = OpenFileOptions::new()
            .open_file(out.join("series_sr.dcm"))
            .expect("the measurement report");
        assert_eq!(
            text(&sr, tags::SOP_CLASS_UID),
            "1.2.840.10008.5.1.4.1.1.88.34"
        );
        assert_eq!(text(&sr, tags::SERIES_NUMBER), "1002");
        let evidence: Vec<String> = first(&sr, tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
            .element(tags::REFERENCED_SERIES_SEQUENCE)
            .expect("series")
            .items()
            .expect("items")
            .iter()
            .flat_map(|series| {
                series
                    .element(tags::REFERENCED_SOP_SEQUENCE)
                    .expect("instances")
                    .items()
                    .expect("items")
                    .iter()
                    .map(|i| text(i, tags::REFERENCED_SOP_INSTANCE_UID))
                    .collect::<Vec<_>>()
            })
            .collect();
        // The segmentation and the three images.
        assert_eq!(evidence.len(), 4, "{evidence:?}");
        assert!(evidence.contains(&text(&seg, tags::SOP_INSTANCE_UID)));
        assert_eq!(text(&seg, tags::MODALITY), "SEG");
        assert_eq!(text(&seg, tags::STUDY_INSTANCE_UID), "2.25.11");
        assert_eq!(text(&seg, tags::PATIENT_NAME), "Seg^Test");
        assert_eq!(text(&seg, tags::FRAME_OF_REFERENCE_UID), "2.25.12.0");
        assert_ne!(text(&seg, tags::SERIES_INSTANCE_UID), "2.25.12");
        // The phantom's series is number 1: the segmentation's is 1001, the report's 1002.
        assert_eq!(text(&seg, tags::SERIES_NUMBER), "1001");
        let segments = seg
            .element(tags::SEGMENT_SEQUENCE)
            .expect("segments")
            .items()
            .expect("items");
        let labels: Vec<String> = segments
            .iter()
            .map(|s| text(s, tags::SEGMENT_LABEL))
            .collect();
        assert_eq!(labels, ["Myocardium", "Scar"]);
        for s in segments {
            assert_eq!(text(s, tags::SEGMENT_ALGORITHM_TYPE), algorithm);
        }
        let scar_type = first(&segments[1], tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE);
        assert_eq!(
            (
                text(&scar_type, tags::CODE_VALUE),
                text(&scar_type, tags::CODING_SCHEME_DESIGNATOR)
            ),
            ("12402003".to_string(), "SCT".to_string())
        );
        let (rows, cols) = (
            text(&seg, tags::ROWS).parse::<usize>().expect("rows"),
            text(&seg, tags::COLUMNS).parse::<usize>().expect("cols"),
        );
        let bits = seg
            .element(tags::PIXEL_DATA)
            .expect("pixels")
            .to_bytes()
            .expect("bytes")
            .to_vec();
        let frames = seg
            .element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .expect("frames")
            .items()
            .expect("items");
        assert_eq!(frames.len(), 6);
        assert_eq!(text(&seg, tags::NUMBER_OF_FRAMES), "6");
        // Which output slice each source file became.
        let slices = report["inputs"][0]["slices"].as_array().expect("slices");
        let mut covered = Vec::new();
        for (f, frame) in frames.iter().enumerate() {
            let segment = text(
                &first(frame, tags::SEGMENT_IDENTIFICATION_SEQUENCE),
                tags::REFERENCED_SEGMENT_NUMBER,
            );
            let source = first(
                &first(frame, tags::DERIVATION_IMAGE_SEQUENCE),
                tags::SOURCE_IMAGE_SEQUENCE,
            );
            let sop = text(&source, tags::REFERENCED_SOP_INSTANCE_UID);
            // IMk.dcm holds instance k + 1, whose SOP Instance UID is the series' plus ".k+1".
            let instance: usize = sop
                .strip_prefix("2.25.12.")
                .and_then(|n| n.parse().ok())
                .expect("a source instance");
            let k = slices
                .iter()
                .position(|r| {
                    r["source"]
                        .as_str()
                        .is_some_and(|f| f.ends_with(&format!("/IM{}.dcm", instance - 1)))
                })
                .expect("its slice");
            let kind = if segment == "1" { "myo" } else { "scar" };
            let (r, c, png) = read_mask(&out.join(format!("series_{k:03}_{kind}.png")));
            assert_eq!((r, c), (rows, cols));
            let start = f * rows * cols;
            let frame_bits: Vec<bool> = (start..start + rows * cols)
                .map(|i| bits[i / 8] >> (i % 8) & 1 == 1)
                .collect();
            let want: Vec<bool> = png.iter().map(|v| *v > 0.0).collect();
            assert_eq!(
                frame_bits,
                want,
                "frame {f}: segment {segment} of IM{}",
                instance - 1
            );
            covered.push((segment, k));
        }
        covered.sort();
        covered.dedup();
        assert_eq!(covered.len(), 6, "each segment on each slice once");
    };
    let out = root.join("out");
    ok(&["predict", s(&series), "--out", s(&out)]);
    check(&out, "AUTOMATIC");

    // Saved among its series' files under a name that says nothing (as a PACS export names
    // them), the segmentation is left out of the series with a word, not read as a fourth
    // slice. (Named NAME_seg.dcm it is a side file, skipped as label volumes are.)
    std::fs::copy(out.join("series_seg.dcm"), series.join("IM9.dcm")).expect("copy");
    let again = root.join("again");
    let run = ok(&["predict", s(&series), "--out", s(&again)]);
    let report = report_json(&again);
    assert_eq!(
        report["inputs"][0]["slices"]
            .as_array()
            .expect("slices")
            .len(),
        3
    );
    let said = format!("{report}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        said.contains("a DICOM Segmentation (masks drawn on images"),
        "{said}"
    );
    std::fs::remove_file(series.join("IM9.dcm")).expect("remove");

    // The phantom's truth as corrections, in the order the stack lies (the label volume is
    // matched to the slices by position).
    let corrections = root.join("corrections");
    std::fs::create_dir_all(&corrections).expect("mkdir");
    let images: Vec<Slice> = case.slices.iter().map(|s| s.image.clone()).collect();
    let values: Vec<u8> = case.slices.iter().flat_map(|s| s.labels.clone()).collect();
    std::fs::write(
        corrections.join("series_labels.nii.gz"),
        nifti1(&images, NiftiData::U8(&values), true).expect("nifti"),
    )
    .expect("write");
    let fixed = root.join("fixed");
    ok(&[
        "predict",
        s(&series),
        "--out",
        s(&fixed),
        "--corrections",
        s(&corrections),
    ]);
    check(&fixed, "SEMIAUTOMATIC");

    // A segmentation goes back in where a label volume does: the corrected run's, alone in a
    // folder, corrects a new run to the same masks ...
    let from_seg = root.join("from-seg");
    std::fs::create_dir_all(&from_seg).expect("mkdir");
    std::fs::copy(
        fixed.join("series_seg.dcm"),
        from_seg.join("series_seg.dcm"),
    )
    .expect("copy");
    let again = root.join("again-fixed");
    let run = ok(&[
        "predict",
        s(&series),
        "--out",
        s(&again),
        "--corrections",
        s(&from_seg),
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("series_seg.dcm: "), "{err}");
    for k in 0..3 {
        for kind in ["scar", "myo"] {
            let file = format!("series_{k:03}_{kind}.png");
            assert_eq!(
                read_mask(&again.join(&file)),
                read_mask(&fixed.join(&file)),
                "{file}"
            );
        }
    }
    // ... and `eval --predictions` scores segmentations: the truth's scores 1 on every slice
    // with scar, the network's exactly what eval gives the network.
    let pairs = root.join("pairs");
    std::fs::create_dir_all(pairs.join("series")).expect("mkdir");
    for k in 0..3 {
        let file = format!("IM{k}.dcm");
        std::fs::copy(series.join(&file), pairs.join("series").join(&file)).expect("copy");
    }
    std::fs::copy(
        corrections.join("series_labels.nii.gz"),
        pairs.join("series_labels.nii.gz"),
    )
    .expect("copy");
    let eval = |name: &str, extra: &[&str]| {
        let out = root.join(name);
        ok(&[&["eval", "--pairs", s(&pairs), "--out", s(&out)][..], extra].concat());
        csv_rows(&out.join("eval.csv"))
    };
    let truth = eval("truth-eval", &["--predictions", s(&from_seg)]);
    assert_eq!(truth.len(), 3);
    for row in &truth {
        assert_eq!(row["myocardium_dice"], "1.0", "{row:?}");
        assert_eq!(
            row["scar_area_mm2"], row["reference_scar_area_mm2"],
            "{row:?}"
        );
    }
    let network_segs = root.join("network-segs");
    std::fs::create_dir_all(&network_segs).expect("mkdir");
    std::fs::copy(
        out.join("series_seg.dcm"),
        network_segs.join("series_seg.dcm"),
    )
    .expect("copy");
    assert_eq!(
        eval("seg-eval", &["--predictions", s(&network_segs)]),
        eval("network-eval", &[])
    );
    // As `--pairs` labels, beside its series, the truth's segmentation is the reference the
    // truth's label volume is: the network scores the same against either.
    let seg_pairs = root.join("seg-pairs");
    std::fs::create_dir_all(seg_pairs.join("series")).expect("mkdir");
    for k in 0..3 {
        let file = format!("IM{k}.dcm");
        std::fs::copy(series.join(&file), seg_pairs.join("series").join(&file)).expect("copy");
    }
    std::fs::copy(
        from_seg.join("series_seg.dcm"),
        seg_pairs.join("series_seg.dcm"),
    )
    .expect("copy");
    let out = root.join("seg-pairs-eval");
    ok(&["eval", "--pairs", s(&seg_pairs), "--out", s(&out)]);
    let without_source = |mut rows: Vec<std::collections::HashMap<String, String>>| {
        rows.iter_mut().for_each(|r| {
            r.remove("source");
        });
        rows
    };
    assert_eq!(
        without_source(csv_rows(&out.join("eval.csv"))),
        without_source(eval("nifti-pairs-eval", &[]))
    );

    // --no-dicom-seg keeps the patient's identifiers out of the output folder.
    let anonymous = root.join("anonymous");
    ok(&[
        "predict",
        s(&series),
        "--out",
        s(&anonymous),
        "--no-dicom-seg",
    ]);
    assert!(files_with(&anonymous, "_seg.dcm").is_empty());
    assert!(files_with(&anonymous, "_sr.dcm").is_empty());
    assert_eq!(files_with(&anonymous, "_scar.png").len(), 3);

    // Signed, the report is VERIFIED by the reader, who is also its person observer
    // (tests/dicom_seg_check.py reads it with highdicom); unsigned, it is UNVERIFIED.
    let unsigned = OpenFileOptions::new()
        .open_file(root.join("out").join("series_sr.dcm"))
        .expect("the report");
    assert_eq!(text(&unsigned, tags::VERIFICATION_FLAG), "UNVERIFIED");
    let signed_dir = root.join("signed");
    ok(&[
        "predict",
        s(&series),
        "--out",
        s(&signed_dir),
        "--verified-by",
        "Doe^Jane",
        "--verifying-organization",
        "Cardiology, General Hospital",
    ]);
    let signed = OpenFileOptions::new()
        .open_file(signed_dir.join("series_sr.dcm"))
        .expect("the signed report");
    assert_eq!(text(&signed, tags::VERIFICATION_FLAG), "VERIFIED");
    let verifier = first(&signed, tags::VERIFYING_OBSERVER_SEQUENCE);
    assert_eq!(text(&verifier, tags::VERIFYING_OBSERVER_NAME), "Doe^Jane");
    assert_eq!(
        text(&verifier, tags::VERIFYING_ORGANIZATION),
        "Cardiology, General Hospital"
    );
    // Signed as the run made it.
    assert_eq!(
        text(&verifier, tags::VERIFICATION_DATE_TIME),
        text(&signed, tags::CONTENT_DATE) + &text(&signed, tags::CONTENT_TIME)
    );
    // A name DICOM cannot hold is refused before any work, by what is wrong with it.
    let refused = root.join("refused");
    let run = scarseg(&[
        "predict",
        s(&series),
        "--out",
        s(&refused),
        "--verified-by",
        "Doe\\Jane",
        "--verifying-organization",
        "Hospital",
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--verified-by: the verifier's name holds a backslash or a control character"),
        "{err}"
    );
    assert!(!refused.exists(), "nothing is written");

    let png = root.join("slice.png");
    let im = &case.slices[0].image;
    let grey: Vec<u8> = im
        .pixels
        .iter()
        .map(|v| v.clamp(0.0, 255.0) as u8)
        .collect();
    std::fs::write(&png, png_grey8(im.rows, im.cols, &grey, None).expect("png")).expect("write");
    let plain = root.join("plain");
    ok(&["predict", s(&png), "--out", s(&plain)]);
    assert!(files_with(&plain, "_seg.dcm").is_empty());
    assert!(files_with(&plain, "_sr.dcm").is_empty());
}

#[test]
fn cross_validation_holds_each_patient_out_once() {
    // Six phantom PNG pairs are six patients, dealt into three folds by --fold-seed 5.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let data = root.join("pairs");
    ok(&["phantom", "--out", s(&data), "--count", "6", "--seed", "31"]);
    let folds = ["--folds", "3", "--fold-seed", "5"];
    // Training without fold 0: neither its training nor its validation patients are fold 0's.
    let run = root.join("run0");
    let extra = [
        &folds[..],
        &["--fold", "0", "--validation-fraction", "0.25"],
    ]
    .concat();
    train_small(&["--pairs", s(&data)], &run, &extra);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).expect("run.json"))
            .expect("json");
    let split = &info["data_split"];
    let names = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v.as_array()
            .expect("patients")
            .iter()
            .map(|p| p.as_str().expect("name").to_string())
            .collect()
    };
    let held_out = names(&split["cross_validation"]["held_out_patients"]);
    let (training, validation) = (
        names(&split["training_patients"]),
        names(&split["validation_patients"]),
    );
    assert_eq!(held_out.len(), 2, "{split}");
    assert_eq!((training.len(), validation.len()), (3, 1), "{split}");
    assert!(held_out.is_disjoint(&training) && held_out.is_disjoint(&validation));
    assert_eq!(split["cross_validation"]["fold"], 0);

    // eval --fold 0 scores exactly the patients training held out, with that fold's model.
    let fold0 = export_best(&run, &root.join("models"), "fold0");
    // Its card says what it was trained on (six patients of one slice each: three trained,
    // one validated, two held out), and calls it no phantom model.
    let card = std::fs::read_to_string(fold0.join("MODEL_CARD.md")).expect("card");
    for sentence in [
        "**A research model, not a clinical one.** It was made from the scans of 4 patients, \
         read as image and mask pairs (`--pairs`).",
        &format!(
            "Image and mask pairs (`--pairs`) in `{}`: 3 patients (3 slices) trained, 1 patient \
             (1 slice) validated, split by patient (`run.json` beside the checkpoint names them); \
             fold 0 of 3 (fold seed 5, 2 patients) held out from both.",
            data.display()
        ),
        "It knows only what its training patients' scans show",
    ] {
        assert!(card.contains(sentence), "{sentence}\n{card}");
    }
    assert!(
        !card.contains("phantom images") && !card.contains("Real LGE differs"),
        "{card}"
    );
    // Its manifest, made to be shared, names no patient: each list is its count and the sha256
    // of its names (sorted, one per line), which run.json's lists can be checked against.
    let manifest = std::fs::read_to_string(fold0.join("manifest.json")).expect("manifest");
    for name in training.iter().chain(&validation).chain(&held_out) {
        assert!(!manifest.contains(name.as_str()), "{name} in {manifest}");
    }
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    let shared: serde_json::Value = serde_json::from_str(
        manifest["provenance"]["training_data_split"]
            .as_str()
            .expect("the split"),
    )
    .expect("json");
    let digest = |names: &std::collections::BTreeSet<String>| {
        use sha2::Digest;
        let joined = names.iter().cloned().collect::<Vec<_>>().join("\n");
        let hex: String = sha2::Sha256::digest(joined.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        serde_json::json!({"count": names.len(), "sha256": hex})
    };
    assert_eq!(shared["training_patients"], digest(&training));
    assert_eq!(shared["validation_patients"], digest(&validation));
    assert_eq!(
        shared["cross_validation"]["held_out_patients"],
        digest(&held_out)
    );
    let eval_rows = |extra: &[&str], out: &str| {
        let out = root.join(out);
        ok(&[&["eval", "--pairs", s(&data), "--out", s(&out)][..], extra].concat());
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("eval.json")).expect("eval.json"))
                .expect("json");
        (csv_rows(&out.join("eval.csv")), json)
    };
    let mut by_fold = Vec::new();
    for fold in ["0", "1", "2"] {
        let extra = [&folds[..], &["--fold", fold, "--weights", s(&fold0)]].concat();
        let (rows, json) = eval_rows(&extra, &format!("eval-fold{fold}"));
        assert_eq!(
            json["data"]["cross_validation"]["fold"],
            fold.parse::<u64>().expect("n")
        );
        by_fold.push(
            rows.iter()
                .map(|r| r["patient"].clone())
                .collect::<std::collections::BTreeSet<_>>(),
        );
    }
    assert_eq!(by_fold[0], held_out);
    let all: std::collections::BTreeSet<String> = by_fold.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 6);
    assert_eq!(by_fold.iter().map(|f| f.len()).sum::<usize>(), 6);

    // Pooled: every patient by its fold's model. With the same model for all three folds the
    // table is the plain evaluation's, row for row.
    let weights = ["--weights", s(&fold0)].repeat(3);
    let (pooled, json) = eval_rows(&[&folds[..], &weights].concat(), "pooled");
    let (plain, _) = eval_rows(&["--weights", s(&fold0)], "plain");
    assert_eq!(pooled, plain);
    assert_eq!(json["weights"]["folds"].as_array().expect("folds").len(), 3);
    assert!(
        json["summary"]["method"]
            .as_str()
            .expect("method")
            .starts_with("network, 3 fold models (fold0 "),
        "{}",
        json["summary"]["method"]
    );
    // ... which is no one model's test.
    fails(
        &[
            "export",
            "--update",
            s(&fold0),
            "--metrics",
            s(&root.join("pooled/eval.json")),
        ],
        "pools 3 cross-validation fold models",
    );
    // A manifest exported before the names were left out lists its patients (run.json's split
    // as it was copied then): an update leaves them out as an export now does.
    let path = fold0.join("manifest.json");
    let read_manifest = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json")
    };
    let shared_split = read_manifest()["provenance"]["training_data_split"].clone();
    let mut old = read_manifest();
    old["provenance"]["training_data_split"] = split.to_string().into();
    std::fs::write(&path, serde_json::to_vec_pretty(&old).expect("json")).expect("write");
    assert!(
        std::fs::read_to_string(&path)
            .expect("manifest")
            .contains(held_out.first().expect("a patient").as_str())
    );
    ok(&[
        "export",
        "--update",
        s(&fold0),
        "--metrics",
        s(&root.join("eval-fold0/eval.json")),
    ]);
    let updated = std::fs::read_to_string(&path).expect("manifest");
    for name in &all {
        assert!(!updated.contains(name.as_str()), "{name} in {updated}");
    }
    assert_eq!(
        read_manifest()["provenance"]["training_data_split"],
        shared_split
    );
    // Bad fold arguments: one line each.
    let (d, w) = (s(&data), s(&fold0));
    for (args, message) in [
        (
            vec![
                "eval",
                "--pairs",
                d,
                "--folds",
                "3",
                "--fold-seed",
                "5",
                "--weights",
                w,
            ],
            "--folds 3 without --fold: give --weights once per fold (3 models, fold 0's first), \
             not 1",
        ),
        (
            vec!["eval", "--pairs", d, "--weights", w, "--weights", w],
            "--weights given 2 times: several models are for cross-validation",
        ),
        (
            vec!["eval", "--pairs", d, "--folds", "7", "--fold", "0"],
            "--folds 7: only 6 patient(s) to deal into them",
        ),
        (
            vec!["eval", "--pairs", d, "--folds", "3", "--fold", "3"],
            "--fold 3: folds are numbered 0 to 2",
        ),
    ] {
        fails(&args, message);
    }
}

#[test]
fn eval_of_a_mixed_phantom_gives_each_scar_pattern_its_figures() {
    // FWHM on 12 test cases drawn with --pattern mixed (one slice each). eval.csv and
    // eval_patients.csv name each case's pattern as the library's generator draws it (empty for
    // a case without scar), and eval.json's by_pattern holds, for each pattern among them, its
    // cases' slice count, mean scar Dice (computed here from eval.csv's rows) and flag counts
    // (from eval_patients.csv's burdens, at > 5%); the printed table has a row for each.
    use scarseg_imaging::phantom::{PhantomConfig, ScarPattern, generate};
    let tmp = tempfile::tempdir().expect("tempdir");
    let ev = tmp.path().join("eval-mixed");
    let n = 12;
    let out = ok(&[
        "eval",
        "--method",
        "fwhm",
        "--phantom",
        &n.to_string(),
        "--pattern",
        "mixed",
        "--out",
        s(&ev),
    ]);
    let config = PhantomConfig {
        pattern: ScarPattern::Mixed,
        ..PhantomConfig::default()
    };
    let drawn: Vec<(String, &str)> = (0..n)
        .map(|i| {
            let case = generate(2_000_000_000 + i, &config);
            (case.name, case.params.pattern.map_or("", |p| p.name()))
        })
        .collect();
    let csv = std::fs::read_to_string(ev.join("eval.csv")).expect("eval.csv");
    let rows: Vec<(&str, &str)> = csv_column(&csv, "patient")
        .into_iter()
        .zip(csv_column(&csv, "pattern"))
        .collect();
    let want: Vec<(&str, &str)> = drawn.iter().map(|(c, p)| (c.as_str(), *p)).collect();
    assert_eq!(rows, want);
    let patients_csv = std::fs::read_to_string(ev.join("eval_patients.csv")).expect("patients");
    let patients: Vec<(&str, &str)> = csv_column(&patients_csv, "patient")
        .into_iter()
        .zip(csv_column(&patients_csv, "pattern"))
        .collect();
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(patients, sorted, "one row per patient, by name");
    let present: std::collections::BTreeSet<&str> = drawn
        .iter()
        .map(|d| d.1)
        .filter(|p| !p.is_empty())
        .collect();
    assert!(present.len() >= 2, "{drawn:?}");
    assert!(drawn.iter().any(|d| d.1.is_empty()), "a case without scar");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev.join("eval.json")).expect("eval.json"))
            .expect("json");
    let by = json["by_pattern"].as_object().expect("by_pattern");
    assert_eq!(
        by.keys().map(String::as_str).collect::<Vec<_>>(),
        present.iter().copied().collect::<Vec<_>>()
    );
    let dice: Vec<f64> = csv_column(&csv, "scar_dice")
        .iter()
        .map(|d| d.parse().expect("dice"))
        .collect();
    let burden = |column| -> Vec<f64> {
        csv_column(&patients_csv, column)
            .iter()
            .map(|b| b.parse().expect("burden"))
            .collect()
    };
    let (predicted, reference) = (burden("burden_percent"), burden("reference_burden_percent"));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("by scar pattern (cases with scar)"),
        "{table}"
    );
    for pattern in present {
        let summary = &by[pattern];
        let mine: Vec<f64> = rows
            .iter()
            .zip(&dice)
            .filter(|(r, _)| r.1 == pattern)
            .map(|(_, d)| *d)
            .collect();
        assert_eq!(summary["slices"], mine.len(), "{pattern}");
        assert_eq!(summary["patients"], mine.len(), "{pattern}");
        let mean = mine.iter().sum::<f64>() / mine.len() as f64;
        let got = summary["scar_dice"]["mean"].as_f64().expect("mean");
        assert!(
            (got - mean).abs() < 1e-12,
            "{pattern}: {got} against {mean}"
        );
        // The flag's counts over this pattern's patients.
        let (mut tp, mut fn_, mut tn, mut fp) = (0, 0, 0, 0);
        for (k, p) in patients.iter().enumerate() {
            if p.1 != pattern {
                continue;
            }
            match (predicted[k] > 5.0, reference[k] > 5.0) {
                (true, true) => tp += 1,
                (false, true) => fn_ += 1,
                (false, false) => tn += 1,
                (true, false) => fp += 1,
            }
        }
        assert_eq!(
            summary["flag_counts"],
            serde_json::json!({"true_positive": tp, "false_negative": fn_,
                               "true_negative": tn, "false_positive": fp}),
            "{pattern}"
        );
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with(pattern))
            .unwrap_or_else(|| panic!("no row for {pattern}: {table}"));
        assert!(line.contains(&format!("{mean:.3}")), "{line}");
    }

    // One pattern: nothing to break down.
    let single = tmp.path().join("eval-ischemic");
    let out = ok(&[
        "eval",
        "--method",
        "fwhm",
        "--phantom",
        "2",
        "--out",
        s(&single),
    ]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("by scar pattern"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(single.join("eval.json")).expect("eval.json"))
            .expect("json");
    assert!(json["by_pattern"].is_null(), "{}", json["by_pattern"]);
}
