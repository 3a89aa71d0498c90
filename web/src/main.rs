//! The ScarSeg web app's entry point (built by trunk from the root `index.html`). It reports on
//! the page whether the browser exposes WebGPU, where the network will run when the analysis
//! page lands; without WebGPU the CPU path (flex in wasm) is used.

fn main() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let has_webgpu = web_sys::window()
        .map(|w| {
            js_sys::Reflect::has(&w.navigator(), &wasm_bindgen::JsValue::from_str("gpu"))
                .unwrap_or(false)
        })
        .unwrap_or(false);
    if let Some(element) = document.get_element_by_id("backend") {
        element.set_text_content(Some(if has_webgpu {
            "This browser offers WebGPU: the network will run on your GPU."
        } else {
            "This browser offers no WebGPU: the network will run on your CPU."
        }));
    }
}
