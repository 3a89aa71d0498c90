//! Decodes each file named on the command line as `scarseg predict` and the page do and prints
//! one JSON line per file: every slice's source (the file, and the frame or plane of a
//! multi-frame image or a volume), size and pixel values, and the stack's warnings; or the
//! one-line error. For checks against other readers (`tests/other_readers_check.py` compares
//! with pydicom and nibabel on their own test files):
//!
//!     cargo run -p scarseg-imaging --example decode_dump -- FILE...

use scarseg_imaging::Limits;
use scarseg_imaging::decode::decode_file_stacks;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        let line = match decode_file_stacks(&path, &bytes, &Limits::default()) {
            Ok(stacks) => json!({
                "file": path,
                "stacks": stacks.iter().map(|stack| json!({
                    "warnings": stack.warnings,
                    "slices": stack.slices.iter().map(|s| json!({
                        "source": s.source,
                        "rows": s.rows,
                        "cols": s.cols,
                        "pixels": s.pixels,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
            Err(e) => json!({ "file": path, "error": e.to_string() }),
        };
        println!("{line}");
    }
    Ok(())
}
