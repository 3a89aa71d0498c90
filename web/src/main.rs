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
    scarseg_web::run_constructors_once();
    std::panic::set_hook(Box::new(on_panic));
    watch_for_traps();
    leptos::mount::mount_to_body(app::App);
}

/// A trap that no panic announced: Rust aborts without its panic hook when an allocation fails,
/// so the page's memory running out froze it with no word. The trap's WebAssembly.RuntimeError
/// reaches the window as an uncaught error; other errors (an extension's, say) are not ours.
#[cfg(target_arch = "wasm32")]
fn watch_for_traps() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    let Some(window) = web_sys::window() else {
        return;
    };
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(|ev: web_sys::ErrorEvent| {
        if ev
            .error()
            .dyn_ref::<js_sys::WebAssembly::RuntimeError>()
            .is_some()
        {
            show_fault(&scarseg_web::fault::page_trap_notice(&ev.message()));
        }
    });
    let _ = window.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    on_error.forget();
}

/// A panic in the page's own wasm (a bug): the console and a notice at the top of the page give
/// its message, with a button that reloads. Without it the page froze, with only "unreachable"
/// in the console.
#[cfg(target_arch = "wasm32")]
fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    use scarseg_web::fault::{page_fault_notice, panic_message};

    let at = info.location().map(|at| at.to_string());
    let message = panic_message(info.payload_as_str(), at.as_deref());
    web_sys::console::error_1(&format!("page: {message}").into());
    show_fault(&page_fault_notice(&message));
}

/// Puts `notice_text` at the top of the page with a button that reloads, unless a fault is
/// already shown: the first is the cause, and later ones (a borrow it left held, the trap that
/// ends a panic) are its echoes. Every step is best effort, since a panic here would hide the
/// first.
#[cfg(target_arch = "wasm32")]
fn show_fault(notice_text: &str) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(Some(_)) = document.query_selector("[data-testid=page-fault]") {
        return;
    }
    let (Ok(notice), Ok(text), Ok(button), Some(body)) = (
        document.create_element("div"),
        document.create_element("p"),
        document.create_element("button"),
        document.body(),
    ) else {
        return;
    };
    notice.set_class_name("error page-fault");
    let _ = notice.set_attribute("role", "alert");
    let _ = notice.set_attribute("data-testid", "page-fault");
    text.set_text_content(Some(notice_text));
    button.set_text_content(Some("Reload the page"));
    let _ = button.set_attribute("data-testid", "page-fault-reload");
    let reload = Closure::<dyn FnMut()>::new(|| {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
    });
    let _ = button.add_event_listener_with_callback("click", reload.as_ref().unchecked_ref());
    reload.forget();
    let _ = notice.append_child(&text);
    let _ = notice.append_child(&button);
    let _ = body.prepend_with_node_1(&notice);
    // Keyboard users land on the one control that still works.
    if let Some(button) = button.dyn_ref::<web_sys::HtmlElement>() {
        let _ = button.focus();
    }
}
