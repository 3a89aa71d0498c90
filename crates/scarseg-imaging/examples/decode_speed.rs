//! How long decoding a DICOM slice takes, uncompressed against JPEG-LS Lossless (decoded in
//! pure Rust by `pure_jpegls`, natively and in the browser), 12-bit lossy JPEG (JPEG Extended,
//! decoded by ScarSeg's own `jpeg12`; encoded by DCMTK's `dcmcjpeg`) and JPEG 2000 Lossless
//! (decoded by `hayro-jpeg2000`; encoded by GDCM's `gdcmconv`), the last two a row each only
//! where their encoder is installed, on phantom test slices stored as 12-bit MR images, as
//! scanners store them.
//! Prints a Markdown table; `benchmarks/decode.sh` writes it to `benchmarks/decode.md`.
//!
//! `cargo run --release -p scarseg-imaging --example decode_speed [CASES] [REPEATS]`
//! (default 20 test cases, each decoded 20 times).

use std::time::Instant;

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use scarseg_imaging::Limits;
use scarseg_imaging::decode::decode_file;
use scarseg_imaging::encode::{DicomSyntax, SeriesIds, dicom_mr};
use scarseg_imaging::phantom::{PhantomConfig, generate};

/// `scarseg eval`'s test cases start at this seed (crates/scarseg-cli/src/train.rs).
const TEST_SEED: u64 = 2_000_000_000;

type Error = Box<dyn std::error::Error>;

/// A phantom slice's pixel count, and the slice as a 12-bit uncompressed MR file and as the same
/// in JPEG-LS Lossless.
fn files(seed: u64) -> Result<(usize, Vec<u8>, Vec<u8>), Error> {
    let case = generate(seed, &PhantomConfig::default());
    let slice = &case.slices[0].image;
    let ids = SeriesIds {
        study_uid: "1.2.826.0.1.3680043.10.1234.40".into(),
        series_uid: "1.2.826.0.1.3680043.10.1234.40.1".into(),
        patient_name: "decode speed".into(),
    };
    let bytes = dicom_mr(slice, &ids, 1, DicomSyntax::ExplicitLittle)?;
    let mut obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(bytes.as_slice())?;
    // Our writer stores 16 bits; keep the top 12, as a scanner's 12-bit image holds.
    let stored: Vec<u16> = obj
        .element(tags::PIXEL_DATA)?
        .to_bytes()?
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) >> 4)
        .collect();
    let slope: f64 = obj.element(tags::RESCALE_SLOPE)?.to_float64()?;
    obj.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        PrimitiveValue::from(12u16),
    ));
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(11u16),
    ));
    obj.put(DataElement::new(
        tags::RESCALE_SLOPE,
        VR::DS,
        PrimitiveValue::from(format!("{:.9e}", slope * 16.0)),
    ));
    let native: Vec<u8> = stored.iter().flat_map(|v| v.to_le_bytes()).collect();
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::from(native),
    ));
    let mut plain = Vec::new();
    obj.write_all(&mut plain)?;

    let mut options = jpegls::EncodeOptions::default();
    options.precision = Some(12);
    let mut stream = Vec::new();
    jpegls::encode_with_options(
        &stored,
        slice.cols as u32,
        slice.rows as u32,
        &options,
        &mut stream,
    )?;
    if stream.len() % 2 == 1 {
        stream.push(0); // fragments are of even length
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(vec![], vec![stream])),
    ));
    obj.update_meta(|meta| meta.transfer_syntax = format!("{}\0", uids::JPEGLS_LOSSLESS));
    let mut compressed = Vec::new();
    obj.write_all(&mut compressed)?;
    Ok((slice.rows * slice.cols, plain, compressed))
}

/// `plain` compressed by an outside encoder: `program` with `args`, then the input and output
/// paths; `None` where it is not installed.
fn encoded_by(
    plain: &[u8],
    seed: u64,
    program: &str,
    args: &[&str],
) -> Result<Option<Vec<u8>>, Error> {
    let dir = std::env::temp_dir();
    let (input, output) = (
        dir.join(format!("scarseg-decode-speed-{seed}.dcm")),
        dir.join(format!("scarseg-decode-speed-{seed}-{program}.dcm")),
    );
    std::fs::write(&input, plain)?;
    let ran = std::process::Command::new(program)
        .args(args)
        .arg(&input)
        .arg(&output)
        .status();
    let bytes = match ran {
        Ok(status) if status.success() => Some(std::fs::read(&output)?),
        Ok(status) => return Err(format!("{program} failed: {status}").into()),
        Err(_) => None, // not installed
    };
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Ok(bytes)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let cases: u64 = args.next().map_or(Ok(20), |a| a.parse())?;
    let repeats: u32 = args.next().map_or(Ok(20), |a| a.parse())?;
    let limits = Limits::default();
    let (mut pixels, mut sizes, mut times) = (0usize, [0usize; 4], [0f64; 4]);
    let (mut with_jpeg12, mut with_jpeg2000) = (true, true);
    for seed in TEST_SEED..TEST_SEED + cases {
        let (n, plain, compressed) = files(seed)?;
        // Both decode to the same values (JPEG-LS Lossless is exact).
        let a = decode_file("plain.dcm", &plain, &limits)?;
        let b = decode_file("jls.dcm", &compressed, &limits)?;
        assert_eq!(a.slices[0].pixels, b.slices[0].pixels, "seed {seed}");
        let mut all = vec![plain, compressed];
        // JPEG Extended at quality 90, values and rescale kept (+sr, +rm).
        let jpeg12 = ["+ee", "+bt", "+sr", "+rm", "+q", "90"];
        match encoded_by(&all[0], seed, "dcmcjpeg", &jpeg12)? {
            // Lossy, so not compared here: `tests/other_readers_check.py` and the corpus tests
            // hold the values to other decoders'.
            Some(jpeg) if with_jpeg12 => all.push(jpeg),
            _ => with_jpeg12 = false,
        }
        match encoded_by(&all[0], seed, "gdcmconv", &["--j2k"])? {
            Some(j2k) if with_jpeg12 && with_jpeg2000 => {
                let c = decode_file("j2k.dcm", &j2k, &limits)?;
                assert_eq!(a.slices[0].pixels, c.slices[0].pixels, "seed {seed}");
                all.push(j2k);
            }
            _ => with_jpeg2000 = false,
        }
        pixels += n;
        for (k, bytes) in all.iter().enumerate() {
            sizes[k] += bytes.len();
            let start = Instant::now();
            for _ in 0..repeats {
                std::hint::black_box(decode_file("x.dcm", bytes, &limits)?);
            }
            times[k] += start.elapsed().as_secs_f64() / f64::from(repeats);
        }
    }
    let per_case = |x: f64| x / cases as f64;
    println!(
        "{cases} phantom test slices (seeds from {TEST_SEED}), {:.0} pixels each on average, \
         12 bits stored; each decoded {repeats} times.",
        per_case(pixels as f64)
    );
    if with_jpeg12 {
        println!("JPEG Extended: DCMTK's dcmcjpeg, quality 90, values and rescale kept (+sr +rm).");
    } else {
        println!("(No JPEG Extended row: DCMTK's dcmcjpeg is not installed.)");
    }
    if with_jpeg12 && with_jpeg2000 {
        println!("JPEG 2000 Lossless: GDCM's gdcmconv --j2k; decodes to the same values.\n");
    } else {
        println!("(No JPEG 2000 row: GDCM's gdcmconv or DCMTK's dcmcjpeg is not installed.)\n");
    }
    println!(
        "| transfer syntax | file size (KiB) | decode per slice (ms) | megapixels per second |"
    );
    println!("|---|---|---|---|");
    let names = [
        "Explicit VR Little Endian",
        "JPEG-LS Lossless",
        "JPEG Extended, 12-bit lossy",
        "JPEG 2000 Lossless",
    ];
    let rows = 2 + usize::from(with_jpeg12) + usize::from(with_jpeg12 && with_jpeg2000);
    for (k, name) in names.iter().enumerate().take(rows) {
        let ms = per_case(times[k]) * 1e3;
        println!(
            "| {name} | {:.1} | {ms:.2} | {:.1} |",
            per_case(sizes[k] as f64) / 1024.0,
            pixels as f64 / times[k] / 1e6
        );
    }
    Ok(())
}
