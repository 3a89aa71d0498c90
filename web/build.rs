//! Link settings for the page's and the worker's wasm.
//!
//! The release profile strips the wasm's symbols (`strip = true` in `[profile.wasm-release]`):
//! the function-name section alone was 9.3 MB of the two files. Stripping also drops the
//! `target_features` section, from which wasm-bindgen learns which wasm features (reference
//! types among them) the module was built with; the linker is told to keep that one.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-bins=--keep-section=target_features");
    }
}
