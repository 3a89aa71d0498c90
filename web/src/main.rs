//! The ScarSeg page (Leptos CSR, built by trunk from the root `index.html`): file input, the
//! viewer, the report and its exports. The network runs in the `scarseg-worker` web worker;
//! this side never blocks on it.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod teaching_view;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("scarseg-web runs in the browser; serve it with scripts/serve.sh (see README)");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    leptos::mount::mount_to_body(app::App);
}
