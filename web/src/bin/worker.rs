//! The web worker that runs ScarSegNet: it picks the device once (WebGPU on a hardware adapter,
//! else burn's flex on the CPU inside wasm), fetches and checks the default model, and runs the
//! shared pipeline on what the page sends, one slice at a time so that a cancel lands between
//! slices. Nothing it receives leaves the machine: its only requests are for the app's own
//! model files.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("scarseg-worker runs in the browser; build it with trunk (see README)");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    scarseg_web::run_constructors_once();
    worker::start();
}

#[cfg(target_arch = "wasm32")]
mod worker {
    use std::cell::Cell;
    use std::rc::Rc;

    use burn::tensor::Device;
    use futures_channel::mpsc;
    use futures_util::StreamExt;
    use scarseg_imaging::Limits;
    use scarseg_imaging::decode::{decode_file_stacks, decode_series_stacks, part_name};
    use scarseg_pipeline::manifest::{
        LoadedModel, Manifest, load_model, load_trusted, parse_manifest,
    };
    use scarseg_pipeline::teaching::{explain_slice, noise_robustness};
    use scarseg_pipeline::{StackResult, analyse_slice};
    use scarseg_web::fault::panic_message;
    use scarseg_web::protocol::{
        DEFAULT_MODEL, DeviceChoice, FromWorker, Item, ToWorker, decode, encode,
    };
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::{JsFuture, spawn_local};
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    fn scope() -> DedicatedWorkerGlobalScope {
        js_sys::global().unchecked_into()
    }

    fn post(msg: &FromWorker) {
        match encode(msg) {
            Ok(bytes) => {
                let array = js_sys::Uint8Array::from(bytes.as_slice());
                // Transfer the buffer rather than copy it.
                let transfer = js_sys::Array::of1(&array.buffer());
                let _ = scope().post_message_with_transfer(&array, &transfer);
            }
            Err(e) => web_sys::console::error_1(&format!("worker: {e}").into()),
        }
    }

    fn now() -> f64 {
        scope().performance().map(|p| p.now()).unwrap_or(0.0)
    }

    /// Lets the event loop run (a cancel message lands here).
    async fn yield_now() {
        sleep(0).await;
    }

    async fn sleep(ms: i32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        });
        let _ = JsFuture::from(promise).await;
    }

    async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
        let response = JsFuture::from(scope().fetch_with_str(url))
            .await
            .map_err(|e| format!("{url}: {e:?}"))?;
        let response: web_sys::Response = response.unchecked_into();
        if !response.ok() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let buffer = JsFuture::from(
            response
                .array_buffer()
                .map_err(|e| format!("{url}: {e:?}"))?,
        )
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }

    struct State {
        device: Option<Device>,
        /// Whether `device` is a WebGPU adapter (else the CPU).
        on_gpu: bool,
        model: Option<LoadedModel>,
        card: Option<String>,
    }

    /// The panic hook: a panic kills this wasm for good (its task loop never runs again), so
    /// the page starts a new worker. Thrown as a JavaScript error, the panic's message reaches
    /// the page's error handler, to be shown beside the file it stopped on, instead of wasm's
    /// bare "unreachable".
    fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
        let at = info.location().map(|at| at.to_string());
        let message = panic_message(info.payload_as_str(), at.as_deref());
        web_sys::console::error_1(&format!("worker: {message}").into());
        wasm_bindgen::throw_str(&message);
    }

    /// Messages larger than this are read when their turn comes.
    const READ_AT_ONCE: u32 = 1 << 20;

    /// A message waiting for its turn: read, or still bytes.
    enum Queued {
        Read(Box<ToWorker>),
        Later(js_sys::Uint8Array),
    }

    /// A message from the page, or `None` (said on the console) if it does not decode.
    fn read(array: &js_sys::Uint8Array) -> Option<ToWorker> {
        decode::<ToWorker>(&array.to_vec())
            .map_err(|e| web_sys::console::error_1(&format!("worker: bad message {e}").into()))
            .ok()
    }

    pub fn start() {
        std::panic::set_hook(Box::new(on_panic));
        let cancelled = Rc::new(Cell::new(u32::MAX));
        let (tx, mut rx) = mpsc::unbounded::<Queued>();
        let flag = cancelled.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let array = js_sys::Uint8Array::new(&ev.data());
            // A message with files waits in JavaScript's memory until its turn, so that
            // the worker's holds one job's files at a time; a cancel (a few bytes) is
            // heard at once.
            if array.length() > READ_AT_ONCE {
                let _ = tx.unbounded_send(Queued::Later(array));
                return;
            }
            match read(&array) {
                Some(ToWorker::Cancel { job }) => flag.set(job),
                Some(msg) => {
                    let _ = tx.unbounded_send(Queued::Read(Box::new(msg)));
                }
                None => {}
            }
        });
        scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();
        post(&FromWorker::Ready);
        spawn_local(async move {
            let mut state = State {
                device: None,
                on_gpu: false,
                model: None,
                card: None,
            };
            // One message at a time: the model is never used and replaced at once.
            while let Some(queued) = rx.next().await {
                let msg = match queued {
                    Queued::Read(msg) => *msg,
                    Queued::Later(array) => match read(&array) {
                        Some(msg) => msg,
                        None => continue,
                    },
                };
                handle(&mut state, msg, &cancelled).await;
            }
        });
    }

    fn is_software(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> bool {
        let text = format!("{} {} {}", info.name, info.driver, info.driver_info).to_lowercase();
        info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu
            || text.contains("swiftshader")
            || text.contains("llvmpipe")
            || text.contains("software")
    }

    /// The device line for burn's flex backend, the worker's CPU.
    fn on_cpu(reason: String) -> FromWorker {
        FromWorker::Device {
            kind: "CPU".into(),
            adapter: "flex (WebAssembly)".into(),
            reason,
        }
    }

    async fn pick_device(choice: DeviceChoice, why: Option<String>) -> (Device, FromWorker) {
        let cpu = |reason: String| (Device::flex(), on_cpu(reason));
        if choice == DeviceChoice::Cpu {
            return cpu(why.unwrap_or_else(|| "you chose the CPU".into()));
        }
        match Device::wgpu_options().init_with_setup_async().await {
            Err(e) => cpu(format!("this browser gives no WebGPU device ({e:?})")),
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                let name = if info.name.is_empty() {
                    format!("{:?} adapter", info.device_type)
                } else {
                    info.name.clone()
                };
                if choice == DeviceChoice::Auto && is_software(&info) {
                    cpu(format!(
                        "the WebGPU adapter ({name}) is a software rasteriser, slower than the \
                         CPU path (measured 12-15 s against about 1 s per slice)"
                    ))
                } else {
                    let reason = if choice == DeviceChoice::WebGpu {
                        "you chose WebGPU".to_string()
                    } else {
                        "a hardware WebGPU adapter is the fastest path".to_string()
                    };
                    (
                        device,
                        FromWorker::Device {
                            kind: "WebGPU".into(),
                            adapter: name,
                            reason,
                        },
                    )
                }
            }
        }
    }

    fn model_message(model: &LoadedModel, card: Option<String>) -> FromWorker {
        FromWorker::Model {
            name: model.manifest.name.clone(),
            sha256: model.manifest.weights.sha256.clone(),
            size: model.manifest.preprocessing.size,
            card,
            threshold: model.manifest.postprocessing.threshold,
            test_scar_dice: model.manifest.metrics.get("scar_dice_mean").copied(),
            test_scar_dice_ci95: {
                let bound = |k: &str| model.manifest.metrics.get(k).copied();
                bound("scar_dice_mean_ci95_lower").zip(bound("scar_dice_mean_ci95_upper"))
            },
            test_burden_limits: model.manifest.burden_limits(),
        }
    }

    async fn load_default(state: &mut State) -> Result<(LoadedModel, String), String> {
        let base = format!("./models/{DEFAULT_MODEL}");
        let manifest_bytes = fetch_bytes(&format!("{base}/manifest.json")).await?;
        let manifest =
            parse_manifest(&manifest_bytes).map_err(|e| format!("{DEFAULT_MODEL}/{e}"))?;
        // By the hash the manifest gives: the service worker keeps such a file and answers it
        // from its cache, and an updated manifest names other weights, which it then fetches.
        let weights = fetch_bytes(&format!(
            "{base}/{}?sha256={}",
            manifest.weights.file,
            String::from(js_sys::encode_uri_component(&manifest.weights.sha256))
        ))
        .await?;
        let card = format!("{base}/{}", manifest.card);
        let model = load_checked(state, manifest, &weights).await?;
        Ok((model, card))
    }

    /// How long a GPU may take over the top-k check before the CPU is used instead. The check is
    /// four small top-k problems per batch size (SwiftShader, a software GPU, loaded and checked
    /// the default model's shapes with k up to 64 in 2.1 s); SwiftShader on a faulty
    /// configuration ran 300 s and then lost its device.
    const CHECK_SECONDS: i32 = 30;

    /// Loads a model on the worker's device. On a GPU, [`load_trusted`] first runs the top-k
    /// check with known answers for this model's passes: some GPU drivers compute top-k wrongly,
    /// which would give wrong masks without any error, so a GPU that fails, or does not answer
    /// in [`CHECK_SECONDS`], moves the worker to the CPU, and the page says why.
    async fn load_checked(
        state: &mut State,
        manifest: Manifest,
        weights: &[u8],
    ) -> Result<LoadedModel, String> {
        let Some(device) = state.device.clone() else {
            return Err("the worker has no device yet".into());
        };
        if !state.on_gpu {
            return load_model(manifest, weights, &device).map_err(|e| e.to_string());
        }
        let give_up = async {
            sleep(CHECK_SECONDS * 1000).await;
            format!("it did not finish the check in {CHECK_SECONDS} s")
        };
        // On the console for whoever debugs a slow or lost GPU: the page shows only the verdict.
        let started = now();
        let info = |m: String| web_sys::console::info_1(&format!("worker: {m}").into());
        info(format!("checking {} on the GPU", manifest.name));
        let placed = load_trusted(manifest, weights, &device, &Device::flex(), give_up)
            .await
            .map_err(|e| e.to_string())?;
        let ms = (now() - started).round();
        match &placed.fallback {
            None => info(format!("GPU check passed in {ms} ms")),
            Some(why) => info(format!("GPU check failed after {ms} ms: {why}")),
        }
        if let Some(why) = placed.fallback {
            post(&on_cpu(format!(
                "WebGPU failed a check with known answers, so the CPU is used: {why}"
            )));
            state.device = Some(placed.device);
            state.on_gpu = false;
        }
        Ok(placed.model)
    }

    async fn handle(state: &mut State, msg: ToWorker, cancelled: &Rc<Cell<u32>>) {
        match msg {
            ToWorker::Start { device, reason } => {
                if state.device.is_none() {
                    let (d, info) = pick_device(device, reason).await;
                    state.on_gpu =
                        matches!(&info, FromWorker::Device { kind, .. } if kind == "WebGPU");
                    post(&info);
                    state.device = Some(d);
                }
                match load_default(state).await {
                    Ok((model, card)) => {
                        post(&model_message(&model, Some(card.clone())));
                        state.model = Some(model);
                        state.card = Some(card);
                    }
                    Err(message) => post(&FromWorker::ModelError { message }),
                }
            }
            ToWorker::LoadModel { manifest, weights } => {
                let loaded = match parse_manifest(&manifest) {
                    Ok(m) => load_checked(state, m, &weights).await,
                    Err(e) => Err(e.to_string()),
                };
                match loaded {
                    Ok(model) => {
                        post(&model_message(&model, None));
                        state.model = Some(model);
                        state.card = None;
                    }
                    // The previous model stays in place.
                    Err(message) => post(&FromWorker::ModelError { message }),
                }
            }
            ToWorker::Analyse {
                job,
                items,
                options,
            } => {
                let (Some(device), Some(model)) = (state.device.clone(), state.model.as_ref())
                else {
                    for item in 0..items.len() {
                        post(&FromWorker::Failed {
                            job,
                            item,
                            part: 0,
                            messages: vec!["no model is loaded".into()],
                        });
                    }
                    post(&FromWorker::JobEnd {
                        job,
                        cancelled: false,
                    });
                    return;
                };
                let mut stopped = false;
                for (index, item) in items.iter().enumerate() {
                    if stopped || cancelled.get() == job {
                        stopped = true;
                        break;
                    }
                    stopped =
                        analyse_item(job, index, item, model, &device, &options, cancelled).await;
                }
                post(&FromWorker::JobEnd {
                    job,
                    cancelled: stopped,
                });
            }
            ToWorker::Explain { request, slice } => {
                let Some((device, model)) = ready(state, request) else {
                    return;
                };
                let started = now();
                let preprocessing = &model.manifest.preprocessing;
                match explain_slice(&model.model, &device, &slice, preprocessing).await {
                    Ok(explanation) => post(&FromWorker::Explanation {
                        request,
                        explanation,
                        ms: now() - started,
                    }),
                    Err(e) => post(&FromWorker::TeachingError {
                        request,
                        message: e.to_string(),
                    }),
                }
            }
            ToWorker::Robustness {
                request,
                slice,
                sigma,
                iterations,
                options,
            } => {
                let Some((device, model)) = ready(state, request) else {
                    return;
                };
                let preprocessing = &model.manifest.preprocessing;
                let progress = async |done: usize| {
                    post(&FromWorker::RobustnessProgress {
                        request,
                        done,
                        of: iterations,
                    });
                    // Let a Cancel message in before the next run.
                    yield_now().await;
                    cancelled.get() != request
                };
                let outcome = noise_robustness(
                    &model.model,
                    &device,
                    &slice,
                    preprocessing,
                    &options,
                    sigma,
                    iterations,
                    u64::from(request),
                    progress,
                )
                .await;
                match outcome {
                    Ok(result) => post(&FromWorker::Robustness { request, result }),
                    Err(e) => post(&FromWorker::TeachingError {
                        request,
                        message: e.to_string(),
                    }),
                }
            }
            ToWorker::Cancel { .. } => {}
        }
    }

    /// The device and model, or a `TeachingError` saying why not.
    fn ready(state: &State, request: u32) -> Option<(Device, &LoadedModel)> {
        match (state.device.clone(), state.model.as_ref()) {
            (Some(d), Some(m)) => Some((d, m)),
            _ => {
                post(&FromWorker::TeachingError {
                    request,
                    message: "no model is loaded yet".into(),
                });
                None
            }
        }
    }

    /// Returns true when the job was cancelled during this item.
    async fn analyse_item(
        job: u32,
        index: usize,
        item: &Item,
        model: &LoadedModel,
        device: &Device,
        options: &scarseg_imaging::postprocess::PostprocessOptions,
        cancelled: &Rc<Cell<u32>>,
    ) -> bool {
        let limits = Limits::default();
        let (stacks, messages) = if item.files.len() == 1 {
            let (name, bytes) = &item.files[0];
            match decode_file_stacks(name, bytes, &limits) {
                Ok(s) => (s, vec![]),
                Err(e) => (vec![], vec![e.to_string()]),
            }
        } else {
            let (s, errors) = decode_series_stacks(&item.name, &item.files, &limits);
            (s, errors.iter().map(|e| e.to_string()).collect())
        };
        if stacks.is_empty() {
            post(&FromWorker::Failed {
                job,
                item: index,
                part: 0,
                messages,
            });
            return false;
        }
        if stacks.len() > 1 {
            post(&FromWorker::Parts {
                job,
                item: index,
                names: stacks
                    .iter()
                    .map(|s| part_name(&item.name, s.part.as_deref()))
                    .collect(),
            });
        }
        let preprocessing = &model.manifest.preprocessing;
        let mut messages = Some(messages);
        for (part, stack) in stacks.into_iter().enumerate() {
            let mut failed = Vec::new();
            let mut slices = Vec::with_capacity(stack.slices.len());
            let started = now();
            for (k, slice) in stack.slices.iter().enumerate() {
                post(&FromWorker::Progress {
                    job,
                    item: index,
                    part,
                    done: k,
                    of: stack.slices.len(),
                });
                yield_now().await;
                if cancelled.get() == job {
                    return true;
                }
                match analyse_slice(&model.model, device, slice, preprocessing, options).await {
                    Ok(r) => slices.push(r),
                    Err(e) => {
                        failed.push(e.to_string());
                        break;
                    }
                }
            }
            // The files of a series that failed are said once, with the first stack.
            let mut said = messages.take().unwrap_or_default();
            if !failed.is_empty() {
                said.extend(failed);
                post(&FromWorker::Failed {
                    job,
                    item: index,
                    part,
                    messages: said,
                });
                continue;
            }
            let ms_per_slice = (now() - started) / stack.slices.len().max(1) as f64;
            let result = StackResult::from_slices(slices, &stack);
            post(&FromWorker::Done {
                job,
                item: index,
                part,
                stack,
                result,
                ms_per_slice,
            });
            // Some files of a series may have failed even though the stack decoded.
            if !said.is_empty() {
                post(&FromWorker::Failed {
                    job,
                    item: index,
                    part,
                    messages: said,
                });
            }
        }
        false
    }
}
