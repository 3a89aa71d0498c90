//! The teaching view: what each part of ScarSegNet did on the current slice (for a two-pass
//! model its first pass on the whole slice and the crop it placed, then ASE gates and
//! excitations per encoder stage, CAG attention per decoder level, the two probability maps) and
//! a noise-robustness panel running ScarNet's Monte Carlo protocol on the slice.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use scarseg_imaging::roi::Roi;
use scarseg_pipeline::teaching::{Explanation, Map, Robustness};
use scarseg_web::protocol::ToWorker;
use scarseg_web::render::{grey_rgba, heat_rgba};
use wasm_bindgen::JsCast;

use crate::app::outline_roi;

/// The teaching view's signals, updated by the worker's messages.
#[derive(Clone, Copy)]
pub struct Teaching {
    /// Whether the view is open (diagnostics are computed only then).
    pub open: RwSignal<bool>,
    /// The request the page waits for; older answers are dropped.
    pub latest: RwSignal<Option<u32>>,
    /// The latest explanation and the milliseconds it took.
    pub explanation: RwSignal<Option<(Arc<Explanation>, f64)>>,
    /// The running noise request and its progress (done, of).
    pub noise_running: RwSignal<Option<(u32, usize, usize)>>,
    /// The last noise result.
    pub robustness: RwSignal<Option<Robustness>>,
    /// The last teaching error.
    pub error: RwSignal<Option<String>>,
}

impl Teaching {
    pub fn new() -> Self {
        Self {
            open: RwSignal::new(false),
            latest: RwSignal::new(None),
            explanation: RwSignal::new(None),
            noise_running: RwSignal::new(None),
            robustness: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }
}

/// Draws `map` on a canvas whose longer side is shown `display` px long, in viridis or grey;
/// `frame`, a box in the map's pixels, is outlined in white (which viridis never reaches) on its
/// edge pixels.
#[component]
fn MapCanvas(
    map: Map,
    heat: bool,
    display: u32,
    title: String,
    #[prop(default = None)] frame: Option<Roi>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let (rows, cols) = (map.rows as u32, map.cols as u32);
    let scale = f64::from(display) / f64::from(rows.max(cols).max(1));
    let (width, height) = (f64::from(cols) * scale, f64::from(rows) * scale);
    let bytes = if heat {
        heat_rgba(&map.values)
    } else {
        grey_rgba(&map.values)
    };
    Effect::new(move |_| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        canvas.set_width(cols);
        canvas.set_height(rows);
        if let Ok(Some(ctx)) = canvas.get_context("2d") {
            let ctx: web_sys::CanvasRenderingContext2d = ctx.unchecked_into();
            if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
                wasm_bindgen::Clamped(&bytes),
                cols,
                rows,
            ) {
                let _ = ctx.put_image_data(&image, 0.0, 0.0);
            }
            if let Some(r) = frame {
                // As many pixels deep as keep at least one on screen where the map is shown
                // smaller than its pixels (a downscale drops some).
                outline_roi(&ctx, &r, (1.0 / scale).ceil().max(1.0), "#fff");
            }
        }
    });
    view! {
        <figure class="map">
            <canvas node_ref=canvas_ref title=title.clone() role="img" data-testid=testid
                style=format!("width:{width:.0}px;height:{height:.0}px;image-rendering:pixelated")></canvas>
            <figcaption>{title}</figcaption>
        </figure>
    }
}

/// One encoder stage's gates and excitations as an SVG bar chart: channels along x, g above
/// the axis, s below.
fn ase_chart(stage: usize, gates: &[f32], excitations: &[f32]) -> impl IntoView + use<> {
    let n = gates.len().max(1);
    let width = 320.0;
    let bar = width / n as f64;
    let h = 40.0;
    let mean = |v: &[f32]| v.iter().map(|x| *x as f64).sum::<f64>() / v.len().max(1) as f64;
    let g_bars = gates
        .iter()
        .enumerate()
        .map(|(c, g)| {
            let height = *g as f64 * h;
            view! { <rect x=c as f64 * bar y=h - height width=bar.max(0.5) height=height class="g" /> }
        })
        .collect_view();
    let s_bars = excitations
        .iter()
        .enumerate()
        .map(|(c, s)| {
            view! { <rect x=c as f64 * bar y=h + 2.0 width=bar.max(0.5) height=*s as f64 * h class="s" /> }
        })
        .collect_view();
    let stride = 4usize << stage;
    let caption = format!(
        "stage {} (stride {stride}, {} channels): mean gate g {:.2}, mean excitation s {:.2}",
        stage + 1,
        gates.len(),
        mean(gates),
        mean(excitations)
    );
    let description = format!(
        "bar chart of stage {}'s {} channels: gate g above the axis, excitation s below",
        stage + 1,
        gates.len()
    );
    view! {
        <figure class="ase" data-testid="ase-stage">
            <svg width=width height=2.0 * h + 4.0 viewBox=format!("0 0 {width} {}", 2.0 * h + 4.0)
                role="img" aria-label=description>
                {g_bars}{s_bars}
            </svg>
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

/// The view. `send` posts a message to the worker; `next_request` hands out request ids;
/// `slice` is the current slice (None when nothing is analysed); `options` the page's
/// postprocessing.
#[component]
pub fn TeachingView(
    teaching: Teaching,
    send: fn(ToWorker),
    next_request: fn() -> u32,
    slice: Signal<Option<scarseg_imaging::Slice>>,
    options: Signal<scarseg_imaging::postprocess::PostprocessOptions>,
) -> impl IntoView {
    let sigma = RwSignal::new(0.05f64);
    let iterations = RwSignal::new(10usize);

    // Explain the current slice whenever it changes while the view is open.
    Effect::new(move |_| {
        if !teaching.open.get() {
            return;
        }
        let Some(s) = slice.get() else {
            return;
        };
        let request = next_request();
        teaching.latest.set(Some(request));
        teaching.error.set(None);
        send(ToWorker::Explain { request, slice: s });
    });

    let run_noise = move |_| {
        let Some(s) = slice.get_untracked() else {
            return;
        };
        let request = next_request();
        let n = iterations.get_untracked().clamp(1, 200);
        teaching.noise_running.set(Some((request, 0, n)));
        teaching.robustness.set(None);
        send(ToWorker::Robustness {
            request,
            slice: s,
            sigma: sigma.get_untracked().clamp(0.0, 1.0),
            iterations: n,
            options: options.get_untracked(),
        });
    };
    let cancel_noise = move |_| {
        if let Some((request, _, _)) = teaching.noise_running.get_untracked() {
            send(ToWorker::Cancel { job: request });
        }
    };

    let maps = move || {
        teaching.explanation.get().map(|(e, ms)| {
            let display = 160;
            let levels = ["stride 16", "stride 8", "stride 4", "stride 2", "stride 1"];
            view! {
                <p class="help" data-testid="explain-time">{format!("Computed in {ms:.0} ms on the model's {0} x {0} grid.", e.input.rows)}</p>
                {e.first_pass.clone().map(|first| {
                    let m = first.myocardium_probability;
                    let title = if e.roi.is_some() {
                        "first pass: myocardium probability on the whole slice; white: the crop"
                    } else {
                        "first pass: myocardium probability on the whole slice; no myocardium found"
                    };
                    view! {
                        <h3>"Two passes: first, where is the heart?"</h3>
                        {e.roi.map(|r| view! {
                            <p class="help" data-testid="explain-roi">{format!(
                                "This model runs twice: once on the whole slice to find the myocardium (below), then on a square crop around it (rows {}-{}, columns {}-{} of the slice, the white box), so the heart fills the grid. The maps after these two are the second pass's, the one that draws the scar.",
                                r.top + 1, r.top + r.rows, r.left + 1, r.left + r.cols
                            )}</p>
                        })}
                        <p class="help" data-testid="first-pass-grid">{format!(
                            "Resampled whole to the model's {0} x {0} grid, this slice's pixels are {1:.1} mm, enough to find the myocardium. {2}",
                            e.input.rows, first.grid_pixel_mm,
                            match e.roi {
                                Some(_) => format!("The crop frames its components of at least half the largest one, with a margin; on it the grid's pixels are {:.1} mm, {:.1} times finer, for the scar's outline.", e.grid_pixel_mm, first.grid_pixel_mm / e.grid_pixel_mm),
                                None => "It found no myocardium on this slice, so nothing is cropped: the maps below are this pass's.".into(),
                            }
                        )}</p>
                        <div class="maps">
                            <MapCanvas map=first.input heat=false display=240 title="first pass: network input, the whole slice".into() testid="first-pass-input" />
                            <MapCanvas map=m heat=true display=240 title=title.into() frame=e.roi testid="first-pass-map" />
                        </div>
                    }
                })}
                <h3>{if e.roi.is_some() { "Second pass: input and output" } else { "Input and output" }}</h3>
                <p class="help">"The network sees the slice resampled to its grid and z-scored. Its two
                   heads give a probability per pixel: scar, and the whole left-ventricular
                   myocardium (scar included). Yellow is 1, dark purple 0."</p>
                <div class="maps">
                    <MapCanvas map=e.input.clone() heat=false display=display title="network input".into() />
                    <MapCanvas map=e.scar_probability.clone() heat=true display=display title="scar probability".into() />
                    <MapCanvas map=e.myocardium_probability.clone() heat=true display=display title="myocardium probability".into() />
                </div>
                <h3>"Contextual Attention Gates (CAG)"</h3>
                <p class="help">"Each decoder level weighs the encoder's skip features by an attention
                   map psi in (0, 1), computed from the upsampled decoder features and the skip
                   (a 1x1 local and a dilated 3x3 global view). Bright regions pass through; dark
                   ones are suppressed before the features are merged."</p>
                <div class="maps" data-testid="cag-maps">
                    {e.psi.iter().zip(levels).map(|(m, l)| view! {
                        <MapCanvas map=m.clone() heat=true display=display title=format!("psi at {l} ({}x{})", m.rows, m.cols) />
                    }).collect_view()}
                </div>
                <h3>"Adaptive Squeeze-and-Excitation (ASE)"</h3>
                <p class="help">"After each encoder stage, every channel is summarised by its top 1/64
                   of activations. The gate g (orange, top) mixes their maximum (g near 1, for a
                   small bright focus such as a thin scar) with their mean (g near 0); the
                   excitation s (blue, bottom) then rescales the channel. One bar per channel."</p>
                <div class="ase-charts">
                    {e.gates.iter().zip(&e.excitations).enumerate()
                        .map(|(i, (g, s))| ase_chart(i, g, s)).collect_view()}
                </div>
            }
        })
    };

    let noise = move || {
        teaching.robustness.get().map(|r| {
            let f = |v: Option<f64>, d: usize| {
                v.map(|x| format!("{x:.d$}"))
                    .unwrap_or_else(|| "n/a".into())
            };
            view! {
                <p data-testid="noise-result">{format!(
                    "{} noisy runs at sigma {:.3} of the intensity range: scar Dice against the noise-free result {} +- {}; scar burden {} +- {} % (noise-free {} %), CoV {}.",
                    r.iterations, r.sigma,
                    f(r.dice.map(|d| d.mean), 3), f(r.dice.map(|d| d.sd), 3),
                    f(r.burden.map(|b| b.mean), 2), f(r.burden.map(|b| b.sd), 2),
                    f(r.clean_burden_percent, 2), f(r.burden.and_then(|b| b.cov), 3))}</p>
            }
        })
    };

    view! {
        <section class="teaching" data-testid="teaching">
            <h2><label><input type="checkbox" data-testid="teaching-toggle"
                prop:checked=move || teaching.open.get()
                on:change=move |_| teaching.open.update(|o| *o = !*o) />
                " Teaching view: what the network does on this slice"</label></h2>
            <Show when=move || teaching.open.get()>
                <Show when=move || slice.get().is_none()>
                    <p>"Open a file or a sample first; the view follows the slice shown above."</p>
                </Show>
                <Show when=move || teaching.error.get().is_some()>
                    <p class="error" data-testid="teaching-error">{move || teaching.error.get().unwrap_or_default()}</p>
                </Show>
                {maps}
                <h3>"Noise robustness (ScarNet's Monte Carlo protocol)"</h3>
                <p class="help">"Adds Gaussian noise with SD sigma times the slice's intensity range,
                   N times, runs the whole pipeline on each copy, and compares the scar with the
                   noise-free result: a robust model keeps Dice near 1 and the burden's coefficient
                   of variation (SD / mean) small."</p>
                <p>
                    <label>"sigma " <input type="number" min="0" max="1" step="0.01" data-testid="noise-sigma"
                        prop:value=move || sigma.get().to_string()
                        on:change=move |ev| sigma.set(event_target_value(&ev).parse().unwrap_or(0.05)) /></label>
                    <label>" N " <input type="number" min="1" max="200" step="1" data-testid="noise-n"
                        prop:value=move || iterations.get().to_string()
                        on:change=move |ev| iterations.set(event_target_value(&ev).parse().unwrap_or(10)) /></label>
                    " "
                    <button data-testid="noise-run" on:click=run_noise
                        disabled=move || slice.get().is_none() || teaching.noise_running.get().is_some()>"run"</button>
                    <Show when=move || teaching.noise_running.get().is_some()>
                        <span data-testid="noise-progress">{move || teaching.noise_running.get()
                            .map(|(_, d, n)| format!(" run {d} of {n} "))}</span>
                        <button data-testid="noise-cancel" on:click=cancel_noise>"cancel"</button>
                    </Show>
                </p>
                {noise}
            </Show>
        </section>
    }
}
