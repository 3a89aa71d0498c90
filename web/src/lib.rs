//! The ScarSeg web app's shared part: the one message protocol between the page and the worker
//! that runs the network, and the page-side helpers that need no browser (window/level, overlay
//! rendering, report tables, corrections by hand and their undo, the ledger of what the worker
//! was asked, to start a new one where it died, what a panic says), so they are unit-tested natively.

pub mod correct;
pub mod fault;
pub mod ledger;
pub mod protocol;
pub mod render;
pub mod report;

/// Runs the module's static constructors (dicom-rs registers its transfer syntaxes through
/// `inventory`'s) once; the page's and the worker's `main` call it first. A module that never
/// calls `__wasm_call_ctors` itself is linked as a "command": the WebAssembly linker then runs
/// every constructor again at the start of each exported function, that is on every call from
/// JavaScript into Rust (each event, each value handed over, each promise settled), which made
/// constructors the page's largest cost (`benchmarks/archive_open.md`).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
pub fn run_constructors_once() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: the linker's own function, called once, before any code reads what the
    // constructors register (inventory's documented use on WebAssembly).
    unsafe { __wasm_call_ctors() }
}
