//! What the user reads when ScarSeg's own code panics: the panic's message as the page and the
//! worker report it, and the page's notice when its own wasm stops (a panic, or a trap without
//! one: its memory running out). A panic in the page's wasm leaves the page's state half-changed
//! (a borrow held, a signal mid-update), so the page cannot carry on as the worker's restart lets
//! it; it can say so, instead of freezing with nothing but "unreachable" in the console.

/// A panic's message with where it happened: the location is noise to a clinician but is what a
/// bug report needs. A place in Rust's own library loses the compiler's checkout path
/// (`/rustc/<commit>/`), 48 characters that rust-toolchain.toml already pins.
pub fn panic_message(payload: Option<&str>, location: Option<&str>) -> String {
    let what = payload.unwrap_or("a panic");
    match location {
        Some(at) => format!("{what} (at {})", without_rustc_checkout(at)),
        None => what.to_string(),
    }
}

fn without_rustc_checkout(location: &str) -> String {
    let Some(rest) = location.strip_prefix("/rustc/") else {
        return location.to_string();
    };
    match rest.split_once('/') {
        Some((commit, path))
            if commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            format!("Rust's {path}")
        }
        _ => location.to_string(),
    }
}

/// What follows either notice: what the page may do now and what to do.
const AFTER_A_FAULT: &str = "What it shows may be incomplete, and it may no longer respond. \
     Reload the page to go on: nothing is kept between visits, so open the files again; results \
     and corrections by hand not yet exported are lost.";

/// The page's notice when its own wasm panicked with `message`.
pub fn page_fault_notice(message: &str) -> String {
    format!("ScarSeg's page stopped on a fault ({message}). {AFTER_A_FAULT}")
}

/// The page's notice when its wasm trapped without a panic, `error` being the browser's
/// message. Rust aborts without its panic hook when an allocation fails, so this is, in
/// practice, the page's memory running out (the files it holds for the worker count).
pub fn page_trap_notice(error: &str) -> String {
    format!(
        "ScarSeg's page stopped: its WebAssembly was halted without a panic ({error}), as it is \
         when its memory runs out; opening fewer or smaller files at a time may avoid it. \
         {AFTER_A_FAULT}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_told_with_where_it_happened() {
        assert_eq!(
            panic_message(Some("capacity overflow"), Some("raw_vec.rs:28:5")),
            "capacity overflow (at raw_vec.rs:28:5)"
        );
        // A payload that is not a string (panic_any) and no location.
        assert_eq!(panic_message(None, None), "a panic");
        // In Rust's own library: the compiler's checkout path goes.
        assert_eq!(
            panic_message(
                Some("capacity overflow"),
                Some(
                    "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src/raw_vec/mod.rs:28:5"
                )
            ),
            "capacity overflow (at Rust's library/alloc/src/raw_vec/mod.rs:28:5)"
        );
        // Not a commit: kept as it is.
        assert_eq!(
            panic_message(Some("x"), Some("/rustc/nightly/lib.rs:1:1")),
            "x (at /rustc/nightly/lib.rs:1:1)"
        );
    }

    #[test]
    fn a_trap_without_a_panic_is_told_as_memory_running_out() {
        assert_eq!(
            page_trap_notice("Uncaught RuntimeError: unreachable"),
            "ScarSeg's page stopped: its WebAssembly was halted without a panic (Uncaught \
             RuntimeError: unreachable), as it is when its memory runs out; opening fewer or \
             smaller files at a time may avoid it. What it shows may be incomplete, and it may \
             no longer respond. Reload the page to go on: nothing is kept between visits, so \
             open the files again; results and corrections by hand not yet exported are lost."
        );
    }

    #[test]
    fn the_page_notice_names_the_fault_and_what_to_do() {
        assert_eq!(
            page_fault_notice("already borrowed (at web/src/app.rs:10:5)"),
            "ScarSeg's page stopped on a fault (already borrowed (at web/src/app.rs:10:5)). \
             What it shows may be incomplete, and it may no longer respond. Reload the page to \
             go on: nothing is kept between visits, so open the files again; results and \
             corrections by hand not yet exported are lost."
        );
    }
}
