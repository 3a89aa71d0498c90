//! The page: device and model status, file input (picker, folder picker, drag and drop, bundled
//! samples), per-file progress with cancel, the viewer (window/level, zoom, slice navigation,
//! overlays, probability map, threshold), the report and the exports, and the teaching view.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use scarseg_imaging::archive::{Pause, Unpacked, Unpacking, is_archive};
use scarseg_imaging::decode::{
    Format, is_dicom_segmentation, labels_for, named_like_an_image, sniff, worth_decoding,
};
use scarseg_imaging::edit::Tool;
use scarseg_imaging::encode::{EncodeError, NiftiData, nifti1};
use scarseg_imaging::error::{ErrorKind, ImagingError};
use scarseg_imaging::metrics::{AHA_SEGMENT_NAMES, WALL_SECTORS, WallLevel};
use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::quality::listed;
use scarseg_imaging::sr::Verifier;
use scarseg_imaging::{Limits, Stack};
use scarseg_pipeline::manifest::{model_folder_hint, model_in_archive};
use scarseg_pipeline::outputs::{
    LABEL_SUFFIX, SEG_SUFFIX, SR_SUFFIX, SegMaker, aha_csv, aha_rows, dicom_seg, dicom_sr,
    doubts_text, flag_agreement_text, label_map, left_out_note, mask_png, output_stem, report_csv,
    report_rows, stack_record, stack_summary,
};
use scarseg_pipeline::{AhaMap, NoAhaMap, RvInsertion, StackResult};
use scarseg_web::correct::{
    BRUSH_RANGE_MM, Corrections, DEFAULT_BRUSH_MM, KEYBOARD_BIG_STEP, brush_step, keyboard_start,
    keyboard_step, labels_by_name, segmentations_fitting, segmentations_offered,
};
use scarseg_web::ledger::{AfterDeath, Culprit, Ledger, Restart, after_death, death_message};
use scarseg_web::protocol::{
    Destination, DeviceChoice, FromWorker, Item, JOB_BYTES, ToWorker, batches, decode, encode_into,
};
use scarseg_web::render::{
    GRADE_FILL, NO_WALL_FILL, Overlay, Window, ZOOM_RANGE, aha_drawing, angle_at, bullseye,
    fit_zoom, pixel_readout, rgba, sector_drawing,
};
use scarseg_web::report::{Provenance, model_score, scar_depth_text, scar_thirds_cell};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::teaching_view::{Teaching, TeachingView};

thread_local! {
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
    /// Messages sent while the worker starts, in order; `None` once it has said `Ready`. Its wasm
    /// starts asynchronously, and a message that arrives before its handler is set is dropped:
    /// a file opened in the first seconds stayed "queued" for ever.
    static PENDING: RefCell<Option<Vec<js_sys::Uint8Array>>> = const { RefCell::new(None) };
    /// What the worker was asked and has not finished, to carry over to a new one.
    static LEDGER: RefCell<Ledger> = RefCell::new(Ledger::default());
    /// Which worker is the current one: events of one replaced are ignored.
    static GENERATION: Cell<u32> = const { Cell::new(0) };
    /// Whether the current worker has said `Ready` (its wasm started).
    static READY: Cell<bool> = const { Cell::new(false) };
    /// Workers that died since one last finished something: one that dies again and again
    /// without finishing anything is not started again.
    static DEATHS: Cell<u32> = const { Cell::new(0) };
    /// Why no worker runs, once the page has given up starting one.
    static LOST: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn send(msg: ToWorker) {
    if LOST.with(|l| l.borrow().is_some()) {
        return;
    }
    let array = match encode_for_worker(&msg) {
        Ok(array) => array,
        Err(e) => {
            web_sys::console::error_1(&format!("page: a message for the worker: {e}").into());
            return;
        }
    };
    LEDGER.with(|l| l.borrow_mut().sent(msg));
    let array = PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(array);
            None
        }
        None => Some(array),
    });
    if let Some(array) = array {
        post_to_worker(&array);
    }
}

/// `msg` written straight into the JavaScript array that is handed to the worker
/// ([`encode_into`]): a dropped file is copied out of wasm memory once.
fn encode_for_worker(msg: &ToWorker) -> Result<js_sys::Uint8Array, String> {
    // usize is 32 bits in wasm32: every size fits.
    encode_into(msg, |n| {
        JsArray(js_sys::Uint8Array::new_with_length(n as u32))
    })
    .map(|JsArray(array)| array)
}

/// A message for the worker, as [`encode_into`] writes it.
struct JsArray(js_sys::Uint8Array);

impl Destination for JsArray {
    fn size(&self) -> usize {
        self.0.length() as usize
    }

    fn write(&mut self, at: usize, bytes: &[u8]) {
        let end = at + bytes.len();
        self.0.subarray(at as u32, end as u32).copy_from(bytes);
    }
}

fn post_to_worker(array: &js_sys::Uint8Array) {
    WORKER.with(|w| {
        if let Some(worker) = w.borrow().as_ref() {
            let transfer = js_sys::Array::of1(&array.buffer());
            let _ = worker.post_message_with_transfer(array, &transfer);
        }
    });
}

/// The worker is ready: it gets what was sent while it started, `Start` first.
fn worker_ready() {
    READY.with(|r| r.set(true));
    let pending = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
    for array in pending {
        post_to_worker(&array);
    }
}

/// Where one input stands.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Queued,
    Running { done: usize, of: usize },
    Done,
    Failed(Vec<String>),
    Cancelled,
}

impl Status {
    /// Still waiting for the worker: queued or being analysed.
    fn is_open(&self) -> bool {
        matches!(self, Status::Queued | Status::Running { .. })
    }
}

/// One input the user opened, and what became of it.
#[derive(Debug, Clone)]
struct Case {
    id: usize,
    /// Shown to the user: the input's name, with the part's label for one of several stacks.
    name: String,
    /// The input's own name (a file, or "DICOM series"), which output files are named after.
    input: String,
    job: u32,
    item: usize,
    /// Which of the item's stacks (an item may hold several; see `FromWorker::Parts`).
    part: usize,
    status: Status,
    warnings: Vec<String>,
    stack: Option<Arc<Stack>>,
    result: Option<Arc<StackResult>>,
    ms_per_slice: f64,
    aha: AhaMark,
    /// The user's brush corrections (shared: the case is cloned on every read, the edits only
    /// when changed).
    corrections: Arc<Corrections>,
    /// DICOM segmentations opened with the series (a reader's, OHIF's, ScarSeg's own), offered
    /// as its labels: (file name, bytes).
    beside: Arc<Vec<(String, Arc<Vec<u8>>)>>,
    /// Which of `beside` read as this stack's labels (empty until it is analysed).
    beside_fits: Vec<bool>,
}

impl Case {
    /// A case waiting for its turn: part `part` of item `item` of job `job`, opened as `input`,
    /// with the segmentations opened `beside` it; nothing of it analysed yet (a file refused
    /// before it was sent starts so too, its status then set).
    fn queued(
        id: usize,
        name: String,
        input: String,
        (job, item, part): (u32, usize, usize),
        beside: Arc<Beside>,
    ) -> Self {
        Self {
            id,
            name,
            input,
            job,
            item,
            part,
            status: Status::Queued,
            warnings: vec![],
            stack: None,
            result: None,
            ms_per_slice: 0.0,
            aha: AhaMark::default(),
            corrections: Arc::default(),
            beside,
            beside_fits: vec![],
        }
    }
}

/// What the user marked for a case's AHA segments.
#[derive(Debug, Clone, Default, PartialEq)]
struct AhaMark {
    /// Per slice, the anterior RV insertion marked on it, degrees clockwise from 12 o'clock;
    /// `None` where unmarked (the slices between marks take angles between them).
    marks_deg: Vec<Option<f64>>,
    /// The septum runs clockwise from it (a mirrored image).
    septum_clockwise: bool,
    /// Which end is the base: `None` the wider one, `Some(true)` the first slice.
    base_first: Option<bool>,
    /// Every slice at this level, instead of thirds of the stack.
    level: Option<WallLevel>,
}

/// The files list's summary for screen readers, e.g. "3 of 4 done, 1 failed": it changes only
/// when a stack finishes, fails or is cancelled.
fn files_summary(cases: &[Case]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let count = |f: fn(&Status) -> bool| cases.iter().filter(|c| f(&c.status)).count();
    let done = count(|s| matches!(s, Status::Done));
    let mut parts = vec![format!("{done} of {} done", cases.len())];
    for (n, what) in [
        (count(|s| matches!(s, Status::Failed(_))), "failed"),
        (count(|s| matches!(s, Status::Cancelled)), "cancelled"),
        (count(Status::is_open), "in progress"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

impl Case {
    /// Slice `k`'s grid as the viewer draws it: rows, columns, and how many times wider than
    /// high its pixels are.
    fn grid(&self, k: usize) -> Option<(usize, usize, f64)> {
        let s = self.stack.as_ref()?.slices.get(k)?;
        Some((s.rows, s.cols, s.spacing_mm[1] / s.spacing_mm[0]))
    }

    /// The case's scar by AHA segment once the insertion is marked, or why there is none.
    fn aha_map(&self) -> Option<Result<AhaMap, NoAhaMap>> {
        if self.aha.marks_deg.iter().all(Option::is_none) {
            return None;
        }
        let insertion = RvInsertion {
            marks_deg: self.aha.marks_deg.clone(),
            septum_clockwise: self.aha.septum_clockwise,
        };
        let (stack, result) = (self.stack.as_ref()?, self.result.as_ref()?);
        Some(result.aha_map_marked(stack, &insertion, self.aha.base_first, self.aha.level))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ModelInfo {
    name: String,
    sha256: String,
    size: usize,
    card: Option<String>,
    test_scar_dice: Option<f64>,
    test_scar_dice_ci95: Option<(f64, f64)>,
    test_burden_limits: Option<(f64, f64)>,
}

/// Signals the worker's messages update.
#[derive(Clone, Copy)]
struct AppState {
    cases: RwSignal<Vec<Case>>,
    device: RwSignal<String>,
    model: RwSignal<Option<ModelInfo>>,
    model_error: RwSignal<Option<String>>,
    current: RwSignal<Option<usize>>,
    slice: RwSignal<usize>,
    window: RwSignal<Option<Window>>,
    threshold: RwSignal<f32>,
    teaching: Teaching,
    device_choice: RwSignal<DeviceChoice>,
    /// Why the analysis worker was started again, or could not be.
    worker_notice: RwSignal<Option<String>>,
    /// The files of the folder opened last that were left out as not images.
    left_out: RwSignal<Vec<String>>,
}

/// Stops the current worker, if any, and makes its events stale: returns the next worker's
/// generation.
fn retire_worker() -> u32 {
    WORKER.with(|w| {
        if let Some(old) = w.borrow_mut().take() {
            old.terminate();
        }
    });
    GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    })
}

/// Starts a worker in place of the current one, if any, and sends it what the old one had not
/// finished. `died`: the old one died with this message, and what it was doing fails with it;
/// else the user chose another device, and the item in progress starts again there.
fn start_worker(state: AppState, choice: DeviceChoice, reason: Option<String>, died: Option<&str>) {
    let generation = retire_worker();
    READY.with(|r| r.set(false));
    LOST.with(|l| *l.borrow_mut() = None);
    let restart = state.cases.with_untracked(|cases| {
        let finished = |job: u32, item: usize| {
            cases
                .iter()
                .filter(|c| c.job == job && c.item == item)
                .all(|c| !c.status.is_open())
        };
        LEDGER.with(|l| l.borrow_mut().restart(died.is_some(), finished, next_id))
    });
    carry_over(state, &restart, died);
    // What the old worker had been sent went with it; the new one gets `Start`, then the rest.
    PENDING.with(|p| *p.borrow_mut() = Some(vec![]));
    send(ToWorker::Start {
        device: choice,
        reason,
    });
    for msg in restart.resend {
        send(msg);
    }
    let options = web_sys::WorkerOptions::new();
    let worker = match web_sys::Worker::new_with_options("./scarseg-worker_loader.js", &options) {
        Ok(w) => w,
        Err(e) => {
            worker_lost(
                state,
                &format!("the analysis worker could not start: {e:?}"),
            );
            return;
        }
    };
    let current = move || GENERATION.with(|g| g.get()) == generation;
    let onmessage =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if !current() {
                return;
            }
            match decode::<FromWorker>(&js_sys::Uint8Array::new(&ev.data()).to_vec()) {
                Ok(FromWorker::Ready) => worker_ready(),
                Ok(msg) => {
                    LEDGER.with(|l| l.borrow_mut().heard(&msg));
                    if matches!(
                        msg,
                        FromWorker::Done { .. }
                            | FromWorker::JobEnd { .. }
                            | FromWorker::Model { .. }
                    ) {
                        DEATHS.with(|d| d.set(0));
                    }
                    on_message(state, msg)
                }
                Err(e) => web_sys::console::error_1(&format!("page: bad message {e}").into()),
            }
        });
    worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    // A panic (thrown by the worker's hook with its message), a wasm trap (running out of
    // memory) or a worker script that failed to load or compile.
    let onerror = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
        if current() {
            ev.prevent_default();
            worker_died(state, &death_message(&ev.message()));
        }
    });
    worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    onerror.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    state.device.set("starting...".into());
}

/// Applies a restart's verdicts to the cases: what the worker died on fails, what goes to the
/// new worker is renumbered and queued, and what the user had cancelled is cancelled.
fn carry_over(state: AppState, restart: &Restart, died: Option<&str>) {
    state.cases.update(|cases| {
        if let (Some(Culprit::Item { job, item }), Some(message)) = (&restart.culprit, died) {
            for c in cases.iter_mut() {
                if c.job == *job && c.item == *item && c.status.is_open() {
                    c.status = Status::Failed(vec![format!(
                        "{}: the analysis worker stopped on this file ({message}); a new worker \
                         carried on with the other files",
                        c.name
                    )]);
                }
            }
        }
        for ((job, item), (new_job, new_item)) in &restart.moved {
            for c in cases.iter_mut() {
                if c.job == *job && c.item == *item {
                    c.job = *new_job;
                    c.item = *new_item;
                    if c.status.is_open() {
                        c.status = Status::Queued;
                    }
                }
            }
        }
        for job in &restart.cancelled {
            for c in cases
                .iter_mut()
                .filter(|c| c.job == *job && c.status.is_open())
            {
                c.status = Status::Cancelled;
            }
        }
    });
    let t = state.teaching;
    if let Some((request, _, _)) = t.noise_running.get_untracked()
        && restart.cancelled.contains(&request)
    {
        t.noise_running.set(None);
    }
    match (&restart.culprit, died) {
        (Some(Culprit::Teaching(request)), Some(message)) => {
            if matches!(t.noise_running.get_untracked(), Some((r, _, _)) if r == *request) {
                t.noise_running.set(None);
            }
            t.error.set(Some(format!(
                "the analysis worker stopped on this request ({message}); a new one was started"
            )));
        }
        (Some(Culprit::Model), Some(message)) => state.model_error.set(Some(format!(
            "the model you opened stopped the analysis worker ({message})"
        ))),
        _ => {}
    }
}

/// The current worker died: start another, on the CPU if it died on WebGPU, unless it never
/// started or too many died in a row ([`after_death`]).
fn worker_died(state: AppState, message: &str) {
    let deaths = DEATHS.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let verdict = after_death(
        message,
        READY.with(|r| r.get()),
        deaths,
        state.device.get_untracked().starts_with("WebGPU"),
        state.device_choice.get_untracked(),
        LEDGER.with(|l| l.borrow().starting()),
    );
    match verdict {
        AfterDeath::GiveUp(why) => worker_lost(state, &why),
        AfterDeath::Restart {
            device,
            reason,
            notice,
        } => {
            state.device_choice.set(device);
            state.worker_notice.set(Some(notice));
            start_worker(state, device, reason, Some(message));
        }
    }
}

/// With no worker (see [`LOST`]), the cases waiting for one fail with the reason.
fn fail_waiting(state: AppState) {
    let Some(why) = LOST.with(|l| l.borrow().clone()) else {
        return;
    };
    state.cases.update(|cases| {
        for c in cases.iter_mut() {
            if c.status.is_open() {
                c.status = Status::Failed(vec![format!("{}: not analysed: {why}", c.name)]);
            }
        }
    });
}

/// No worker runs any more: everything waiting for one fails with `why`.
fn worker_lost(state: AppState, why: &str) {
    retire_worker();
    PENDING.with(|p| *p.borrow_mut() = None);
    LEDGER.with(|l| *l.borrow_mut() = Ledger::default());
    LOST.with(|l| *l.borrow_mut() = Some(why.to_string()));
    fail_waiting(state);
    let t = state.teaching;
    t.noise_running.set(None);
    state.device.set("none".into());
    state.worker_notice.set(Some(format!(
        "No analysis runs: {why}. Reload the page, or choose another device, to try again."
    )));
}

fn on_message(state: AppState, msg: FromWorker) {
    let find = |cases: &mut Vec<Case>, job: u32, item: usize, part: usize| -> Option<usize> {
        cases
            .iter()
            .position(|c| c.job == job && c.item == item && c.part == part)
    };
    match msg {
        FromWorker::Ready => {}
        FromWorker::Device {
            kind,
            adapter,
            reason,
        } => state.device.set(format!("{kind} ({adapter}): {reason}")),
        FromWorker::Model {
            name,
            sha256,
            size,
            card,
            threshold,
            test_scar_dice,
            test_scar_dice_ci95,
            test_burden_limits,
        } => {
            state.threshold.set(threshold);
            state.model.set(Some(ModelInfo {
                name,
                sha256,
                size,
                card,
                test_scar_dice,
                test_scar_dice_ci95,
                test_burden_limits,
            }));
            state.model_error.set(None);
        }
        FromWorker::ModelError { message } => state.model_error.set(Some(message)),
        FromWorker::Parts { job, item, names } => state.cases.update(|cases| {
            // The item's case becomes part 0; the others follow it, waiting their turn. Ids
            // stay unique as everywhere: cases are never removed, so they are 0..len.
            if let Some(i) = find(cases, job, item, 0) {
                let mut next = cases.len();
                for (part, name) in names.into_iter().enumerate() {
                    // An item sent again to a new worker says its parts again.
                    if let Some(k) = find(cases, job, item, part) {
                        cases[k].name = name;
                        continue;
                    }
                    let first = &cases[i];
                    let case = Case::queued(
                        next,
                        name,
                        first.input.clone(),
                        (job, item, part),
                        first.beside.clone(),
                    );
                    next += 1;
                    cases.insert(i + part, case);
                }
            }
        }),
        FromWorker::Progress {
            job,
            item,
            part,
            done,
            of,
        } => state.cases.update(|cases| {
            if let Some(i) = find(cases, job, item, part) {
                cases[i].status = Status::Running { done, of };
            }
        }),
        FromWorker::Done {
            job,
            item,
            part,
            stack,
            result,
            ms_per_slice,
        } => {
            let mut first_done = None;
            state.cases.update(|cases| {
                if let Some(i) = find(cases, job, item, part) {
                    let c = &mut cases[i];
                    c.status = Status::Done;
                    c.warnings = stack.warnings.clone();
                    c.beside_fits = segmentations_fitting(&stack, &c.beside, &Limits::default());
                    c.stack = Some(Arc::new(stack));
                    c.result = Some(Arc::new(result));
                    c.ms_per_slice = ms_per_slice;
                    first_done = Some(c.id);
                }
            });
            if state.current.get_untracked().is_none()
                && let Some(id) = first_done
            {
                select_case(state, id);
            }
        }
        FromWorker::Failed {
            job,
            item,
            part,
            messages,
        } => state.cases.update(|cases| {
            if let Some(i) = find(cases, job, item, part) {
                if cases[i].status == Status::Done {
                    // The stack decoded; some of its files did not.
                    cases[i].warnings.extend(messages);
                } else {
                    cases[i].status = Status::Failed(messages);
                }
            }
        }),
        FromWorker::Explanation {
            request,
            explanation,
            ms,
        } => {
            let t = state.teaching;
            if t.latest.get_untracked() == Some(request) {
                t.explanation.set(Some((Arc::new(explanation), ms)));
            }
        }
        FromWorker::RobustnessProgress { request, done, of } => {
            let t = state.teaching;
            if matches!(t.noise_running.get_untracked(), Some((r, _, _)) if r == request) {
                t.noise_running.set(Some((request, done, of)));
            }
        }
        FromWorker::Robustness { request, result } => {
            let t = state.teaching;
            if matches!(t.noise_running.get_untracked(), Some((r, _, _)) if r == request) {
                t.noise_running.set(None);
                t.robustness.set(Some(result));
            }
        }
        FromWorker::TeachingError { request, message } => {
            let t = state.teaching;
            if matches!(t.noise_running.get_untracked(), Some((r, _, _)) if r == request) {
                t.noise_running.set(None);
            }
            t.error.set(Some(message));
        }
        FromWorker::JobEnd { job, cancelled } => {
            if cancelled {
                state.cases.update(|cases| {
                    for c in cases.iter_mut().filter(|c| c.job == job) {
                        if c.status.is_open() {
                            c.status = Status::Cancelled;
                        }
                    }
                });
            }
        }
    }
}

fn select_case(state: AppState, id: usize) {
    state.current.set(Some(id));
    state.slice.set(0);
    let window = state.cases.with_untracked(|cases| {
        cases
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.stack.as_ref())
            .and_then(|s| s.slices.first())
            .map(Window::initial)
    });
    state.window.set(window);
}

thread_local! {
    static NEXT_JOB: Cell<u32> = const { Cell::new(1) };
}

/// A fresh id for a job or a teaching request (one counter, so a Cancel names one thing).
fn next_id() -> u32 {
    NEXT_JOB.with(|n| {
        let j = n.get();
        n.set(j + 1);
        j
    })
}

fn submit(state: AppState, items: Vec<(Item, Beside)>, options: PostprocessOptions) {
    if items.is_empty() {
        return;
    }
    let sizes: Vec<u64> = items.iter().map(|(item, _)| item.bytes()).collect();
    let mut items = items.into_iter();
    for run in batches(&sizes, JOB_BYTES) {
        let job = next_id();
        let (items, beside): (Vec<Item>, Vec<Beside>) = items.by_ref().take(run.len()).unzip();
        state.cases.update(|cases| {
            for (k, (item, beside)) in items.iter().zip(beside).enumerate() {
                cases.push(Case::queued(
                    cases.len(),
                    item.name.clone(),
                    item.name.clone(),
                    (job, k, 0),
                    Arc::new(beside),
                ));
            }
        });
        send(ToWorker::Analyse {
            job,
            items,
            options,
        });
    }
    fail_waiting(state);
}

/// Lets the page answer (clicks, keys, drawing) between pieces of work it does itself, at most
/// every [`Breath::EVERY_MS`]: a large study's archive takes seconds to inflate (measured in
/// `benchmarks/archive_open.md`), and a page that held its thread that long would be frozen.
struct Breath {
    since: f64,
}

impl Breath {
    /// Under the 50 ms the browser counts a long task from.
    const EVERY_MS: f64 = 25.0;

    fn new() -> Self {
        Self { since: now_ms() }
    }

    /// Gives the thread back for one turn of the event loop if the work since the last breath
    /// took [`Self::EVERY_MS`]; a timer, not a promise, since input and drawing wait for the
    /// next task.
    async fn take(&mut self) {
        if now_ms() - self.since < Self::EVERY_MS {
            return;
        }
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback(&resolve);
            }
        });
        let _ = JsFuture::from(promise).await;
        self.since = now_ms();
    }
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// A large entry is inflated a piece at a time, with breaths between.
impl Pause for Breath {
    fn pause(&mut self) -> impl std::future::Future<Output = ()> {
        self.take()
    }
}

/// [`scarseg_imaging::archive::unpack`], an entry (or a piece of a large one) at a time with
/// breaths between.
async fn unpack_breathing(
    name: &str,
    bytes: Vec<u8>,
    limits: &Limits,
    breath: &mut Breath,
) -> Result<Unpacked, ImagingError> {
    let mut unpacking = Unpacking::new(name, bytes, limits)?;
    while unpacking.step_with(breath).await? {
        breath.take().await;
    }
    Ok(unpacking.into_unpacked())
}

/// What the page may hold of files waiting for analysis (2.5 GiB): a web page's WebAssembly has
/// 4 GiB, and a file being read needs room beside them (its copy, and what an archive inflates
/// to, up to 512 MiB each). Past it an allocation fails and stops the page: 18 volumes of
/// 256 MiB dropped at once did.
const HELD_BYTES: u64 = 5 << 29;

/// Why a file of `size` bytes is not read while the page holds `held`, if it is not.
fn over_budget(held: u64, size: u64) -> Option<String> {
    (held.saturating_add(size) > HELD_BYTES).then(|| {
        format!(
            "not read: the page already holds {:.0} MB of files waiting for analysis, and a web \
             page's memory (4 GiB for its WebAssembly) would not hold this one's {:.0} MB beside \
             them; open it once those are analysed",
            held as f64 / 1e6,
            size as f64 / 1e6
        )
    })
}

/// A file's bytes, copied into wasm memory a piece at a time with breaths between (a 230 MiB
/// archive copied at once held the page 0.2 s).
async fn file_bytes(file: &web_sys::File, breath: &mut Breath) -> Result<Vec<u8>, String> {
    const PIECE: u32 = 1 << 22;
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{}: cannot read ({e:?})", file.name()))?;
    let array = js_sys::Uint8Array::new(&buffer);
    let length = array.length();
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(length as usize).map_err(|_| {
        format!(
            "{}: not read: the page's memory cannot hold its {:.0} MB more (the files of a drop \
             are kept until they are analysed); open it with fewer files, or once these are done",
            file.name(),
            f64::from(length) / 1e6
        )
    })?;
    let mut at = 0;
    while at < length {
        let end = length.min(at.saturating_add(PIECE));
        bytes.resize(end as usize, 0);
        array
            .subarray(at, end)
            .copy_to(&mut bytes[at as usize..end as usize]);
        at = end;
        breath.take().await;
    }
    Ok(bytes)
}

fn relative_path(file: &web_sys::File) -> String {
    js_sys::Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|v| v.as_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file.name())
}

/// DICOM segmentations opened with an item's series: (file name, bytes).
type Beside = Vec<(String, Arc<Vec<u8>>)>;

/// Files -> items: DICOM files that share a folder (or were dropped together) form one series,
/// named after the folder ("DICOM series" for loose files; a single loose file keeps its own
/// name); every other file is its own item. A DICOM segmentation among a series' files is kept
/// beside the series, to be offered as its labels, not sent to be decoded as a slice (alone,
/// it is an item, whose decoding says what it is). Unreadable files become items that fail with
/// the reason. Files over the size limit are refused here, before a byte is read into the tab's
/// memory: (name, reason).
///
/// A label volume named after an item opened with it (`X_labels.nii.gz` beside `X.nii.gz` or the
/// series folder `X`: [`labels_by_name`]) goes beside that item too.
///
/// A folder's files that are images neither by their first bytes nor by their names (a CD's
/// viewer program, an autorun file: `worth_decoding`) are left out, their paths returned third,
/// rather than each shown as a failed file; only their first bytes are read. A file chosen by
/// itself is always decoded, so it fails with its reason.
///
/// An archive (a web PACS's ZIP study download, a tar archive, gzipped or not) is read as the
/// folder it holds: its files are paths below the archive's name (`study.zip/SE1/IM1`;
/// `study.zip/SE1.tar.gz/IM1` for an archive inside it), so each folder in it is a series, and
/// an entry that cannot be read is refused by its path while the others are read.
async fn items_from_files(files: Vec<web_sys::File>) -> FromFiles {
    type Files = Vec<(String, Vec<u8>)>;
    let mut series: std::collections::BTreeMap<String, (Files, Files)> = Default::default();
    let mut items = Vec::new();
    let mut refused = Vec::new();
    let mut left_out = Vec::new();
    let limits = Limits::default();
    let mut breath = Breath::new();
    // The files of earlier drops not yet analysed count too.
    let mut held = LEDGER.with(|l| l.borrow().held_bytes());
    for file in files {
        let path = relative_path(&file);
        if path.contains('/') && !named_like_an_image(&path) {
            let head = file_head(&file).await;
            if !worth_decoding(&path, &head) {
                left_out.push(path);
                continue;
            }
        }
        let size = file.size() as u64;
        if let Some(why) = over_budget(held, size) {
            refused.push((path.clone(), format!("{path}: {why}")));
            continue;
        }
        if size > limits.max_bytes {
            let kind = ErrorKind::TooLarge {
                bytes: size,
                limit: limits.max_bytes,
            };
            refused.push((path.clone(), ImagingError::new(&path, kind).to_string()));
            continue;
        }
        // A file the browser cannot read, or the page's memory cannot hold, is refused by name.
        let bytes = match file_bytes(&file, &mut breath).await {
            Ok(bytes) => bytes,
            Err(e) => {
                refused.push((path.clone(), e));
                continue;
            }
        };
        let entries = if is_archive(&bytes) {
            match unpack_breathing(&path, bytes, &limits, &mut breath).await {
                Ok(unpacked) => {
                    let inflated = unpacked.files.iter().map(|(_, b)| b.len() as u64).sum();
                    if let Some(why) = over_budget(held, inflated) {
                        refused.push((path.clone(), format!("{path}: {why}")));
                        continue;
                    }
                    for e in unpacked.errors {
                        refused.push((e.file.clone(), e.to_string()));
                    }
                    let (images, others): (Vec<_>, Vec<_>) = unpacked
                        .files
                        .into_iter()
                        .partition(|(p, b)| worth_decoding(p, b));
                    let others: Vec<String> = others.into_iter().map(|(p, _)| p).collect();
                    // A model folder dropped with the scans: said where it goes.
                    if let Some(hint) = model_folder_hint(&others) {
                        refused.push((path.clone(), hint));
                    }
                    left_out.extend(others);
                    images
                }
                Err(e) => {
                    refused.push((path.clone(), e.to_string()));
                    continue;
                }
            }
        } else {
            vec![(path, bytes)]
        };
        for (path, bytes) in entries {
            held += bytes.len() as u64;
            breath.take().await;
            if sniff(&bytes) == Some(Format::Dicom) {
                let folder = path
                    .rsplit_once('/')
                    .map(|(d, _)| d.to_string())
                    .unwrap_or_else(|| "DICOM series".to_string());
                let (images, segmentations) = series.entry(folder).or_default();
                if is_dicom_segmentation(&bytes, &limits) {
                    segmentations.push((path, bytes));
                } else {
                    images.push((path, bytes));
                }
            } else {
                let item = Item {
                    name: path.clone(),
                    files: vec![(path, bytes)],
                };
                items.push((item, Vec::new()));
            }
        }
    }
    for (name, (mut files, segmentations)) in series {
        if files.is_empty() {
            // Segmentations alone: each an item, refused by the decoder with what it is.
            for (path, bytes) in segmentations {
                let item = Item {
                    name: path.clone(),
                    files: vec![(path, bytes)],
                };
                items.push((item, Vec::new()));
            }
            continue;
        }
        // One loose DICOM file (an enhanced image holds a whole stack) is named as itself.
        let name = match files.len() {
            1 if !files[0].0.contains('/') => files[0].0.clone(),
            _ => name,
        };
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let beside = segmentations
            .into_iter()
            .map(|(path, bytes)| {
                let file = path.rsplit('/').next().unwrap_or(&path).to_string();
                (file, Arc::new(bytes))
            })
            .collect();
        items.push((Item { name, files }, beside));
    }
    // Label volumes named after an item opened with them go beside it, as its segmentations do
    // (a target is never itself a label volume, so it is still there to receive one).
    let names: Vec<String> = items.iter().map(|(item, _)| item.name.clone()).collect();
    let mut items: Vec<Option<(Item, Beside)>> = items.into_iter().map(Some).collect();
    for (i, target) in labels_by_name(&names).into_iter().enumerate() {
        let Some(j) = target else { continue };
        let Some((volume, _)) = items[i].take() else {
            continue;
        };
        if let Some((_, beside)) = items[j].as_mut() {
            for (path, bytes) in volume.files {
                let file = path.rsplit('/').next().unwrap_or(&path).to_string();
                beside.push((file, Arc::new(bytes)));
            }
        }
    }
    (items.into_iter().flatten().collect(), refused, left_out)
}

/// What [`items_from_files`] makes of the files opened: the items to analyse, the files refused
/// (name, reason) and a folder's files left out as not images.
type FromFiles = (Vec<(Item, Beside)>, Vec<(String, String)>, Vec<String>);

/// A file's first 512 bytes, or none where the browser cannot read it.
async fn file_head(file: &web_sys::File) -> Vec<u8> {
    let Ok(blob) = file.slice_with_i32_and_i32(0, 512) else {
        return Vec::new();
    };
    match JsFuture::from(blob.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        Err(_) => Vec::new(),
    }
}

fn file_list(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return vec![] };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Now as DICOM writes a date and time, YYYYMMDDHHMMSS: local, as the scanner's are.
fn local_datetime() -> String {
    let now = js_sys::Date::new_0();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date(),
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds()
    )
}

/// `outputs::dicom_seg` or `outputs::dicom_sr`: what the page's two DICOM exports write.
type DicomWriter = fn(&Stack, &StackResult, &SegMaker<'_>) -> Result<Vec<u8>, EncodeError>;

fn download(name: &str, bytes: &[u8], mime: &str) {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let props = web_sys::BlobPropertyBag::new();
    props.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &props) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    click_link(name, &url);
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Several downloads, 250 ms apart: browsers drop downloads started in one burst.
fn download_all(files: Vec<(String, Vec<u8>, &'static str)>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    for (k, (name, bytes, mime)) in files.into_iter().enumerate() {
        let callback = Closure::once_into_js(move || download(&name, &bytes, mime));
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            250 * k as i32,
        );
    }
}

fn click_link(name: &str, href: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(a) = document.create_element("a") {
        let a: web_sys::HtmlAnchorElement = a.unchecked_into();
        a.set_href(href);
        a.set_download(name);
        a.click();
    }
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Sample {
    name: String,
    description: String,
    files: Vec<String>,
    /// The phantom's own labels (its truth) beside the sample, for comparing the network with.
    #[serde(default)]
    labels: Option<String>,
}

fn stem(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let base = base.strip_suffix(".nii.gz").unwrap_or(base);
    match base.rfind('.') {
        Some(i) if i > 0 => base[..i].to_string(),
        _ => base.to_string(),
    }
}

#[component]
pub fn App() -> impl IntoView {
    let state = AppState {
        cases: RwSignal::new(Vec::new()),
        device: RwSignal::new(String::new()),
        model: RwSignal::new(None),
        model_error: RwSignal::new(None),
        current: RwSignal::new(None),
        slice: RwSignal::new(0),
        window: RwSignal::new(None),
        threshold: RwSignal::new(0.5f32),
        teaching: Teaching::new(),
        device_choice: RwSignal::new(DeviceChoice::Auto),
        worker_notice: RwSignal::new(None),
        left_out: RwSignal::new(Vec::new()),
    };
    let device_choice = state.device_choice;
    let threshold = state.threshold;
    let overlay = RwSignal::new(Overlay::default());
    let zoom = RwSignal::new(2.0f64);
    // Whether the zoom is the view's fit, so that a resized window fits the image again; a zoom
    // the user chose is kept.
    let fitted = RwSignal::new(true);
    let zoom_by = move |factor: f64| {
        zoom.update(|z| *z = (*z * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1));
        fitted.set(false);
    };
    let view_box = NodeRef::<html::Div>::new();
    let samples = RwSignal::new(Vec::<Sample>::new());
    let canvas_ref = NodeRef::<html::Canvas>::new();

    // The device is chosen from the URL (?device=cpu|webgpu) or automatically.
    let initial = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .map(|q| {
            if q.contains("device=cpu") {
                DeviceChoice::Cpu
            } else if q.contains("device=webgpu") {
                DeviceChoice::WebGpu
            } else {
                DeviceChoice::Auto
            }
        })
        .unwrap_or(DeviceChoice::Auto);
    device_choice.set(initial);
    start_worker(state, initial, None, None);
    register_service_worker();
    spawn_local(async move {
        if let Ok(bytes) = fetch_bytes("./samples/index.json").await
            && let Ok(list) = serde_json::from_slice::<Vec<Sample>>(&bytes)
        {
            samples.set(list);
        }
    });

    let options = move || PostprocessOptions {
        threshold: threshold.get_untracked(),
        ..Default::default()
    };

    // Re-threshold every analysed case from its stored probabilities: no network run. The
    // corrections by hand lie over the new masks as over the old.
    let rethreshold = move || {
        let opts = options();
        state.cases.update(|cases| {
            for c in cases.iter_mut() {
                if let (Some(stack), Some(result)) = (&c.stack, &c.result) {
                    let slices = result
                        .slices
                        .iter()
                        .zip(&stack.slices)
                        .enumerate()
                        .map(|(k, (r, s))| r.remeasured(s, &opts, c.corrections.slice(k)))
                        .collect();
                    c.result = Some(Arc::new(StackResult::from_slices(slices, stack)));
                }
            }
        });
    };

    let open_files = move |files: Vec<web_sys::File>| {
        spawn_local(async move {
            let (items, refused, left_out) = items_from_files(files).await;
            state.left_out.set(left_out);
            state.cases.update(|cases| {
                for (name, message) in refused {
                    // Never sent: no job's.
                    let case =
                        Case::queued(cases.len(), name.clone(), name, (0, 0, 0), Arc::default());
                    cases.push(Case {
                        status: Status::Failed(vec![message]),
                        ..case
                    });
                }
            });
            submit(state, items, options());
        });
    };

    // The file and folder pickers: analyse what was chosen, then clear the input so that
    // choosing the same files again fires again.
    let pick_files = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        open_files(file_list(input.files()));
        input.set_value("");
    };

    let current_case = move || {
        let id = state.current.get()?;
        state
            .cases
            .with(|cases| cases.iter().find(|c| c.id == id).cloned())
    };
    let slice_count = move || {
        current_case()
            .and_then(|c| c.stack.map(|s| s.slices.len()))
            .unwrap_or(0)
    };
    // The zoom that shows the whole slice in the view: its box's width and the 80% of the
    // window's height that the box may take (index.html's max-height; the box has no border or
    // padding).
    let fit_view = move || {
        let Some(view) = view_box.get_untracked() else {
            return;
        };
        let Some(height) = web_sys::window()
            .and_then(|w| w.inner_height().ok())
            .and_then(|h| h.as_f64())
        else {
            return;
        };
        let Some(id) = state.current.get_untracked() else {
            return;
        };
        let k = state.slice.get_untracked();
        let grid = state
            .cases
            .with_untracked(|cases| cases.iter().find(|c| c.id == id)?.grid(k));
        if let Some(z) = grid.and_then(|(rows, cols, aspect)| {
            // The box's whole width: its client width leaves out a scroll bar that the old zoom
            // gave it and the fitted image will not.
            fit_zoom(
                view.get_bounding_client_rect().width(),
                0.8 * height,
                rows,
                cols,
                aspect,
            )
        }) {
            zoom.set(z);
            fitted.set(true);
        }
    };
    // A case opens fitted to the view, as clinical viewers open a series: at one fixed zoom a
    // 512-pixel scan overflowed the view and a 128-pixel one filled a fraction of it. Keyed by
    // the case and its grid, so it fits again when a queued case's images arrive, and not on
    // each slice or result.
    let opened_grid = Memo::new(move |_| {
        let id = state.current.get()?;
        let (rows, cols, aspect) = state
            .cases
            .with(|cases| cases.iter().find(|c| c.id == id)?.grid(0))?;
        Some((id, rows, cols, aspect.to_bits()))
    });
    Effect::new(move |_| {
        if opened_grid.get().is_some() {
            fit_view();
        }
    });
    let step_slice = move |delta: i64| {
        let n = slice_count() as i64;
        if n > 0 {
            let k = (state.slice.get_untracked() as i64 + delta).clamp(0, n - 1);
            state.slice.set(k as usize);
        }
    };

    // The slice on screen, for the teaching view: keyed by case, slice and stack so that
    // progress messages and re-thresholding do not count as a new slice.
    let slice_key = Memo::new(move |_| {
        let c = current_case()?;
        let s = c.stack?;
        let k = state.slice.get().min(s.slices.len().saturating_sub(1));
        Some((c.id, k, Arc::as_ptr(&s) as usize))
    });
    let current_slice = Signal::derive(move || {
        let (id, k, _) = slice_key.get()?;
        state.cases.with_untracked(|cases| {
            cases
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.stack.as_ref())
                .and_then(|s| s.slices.get(k).cloned())
        })
    });
    let teaching_options = Signal::derive(move || PostprocessOptions {
        threshold: threshold.get(),
        ..Default::default()
    });

    // The window the current slice came with, where it has one.
    let stored_window = move || {
        let id = state.current.get()?;
        let k = state.slice.get();
        state.cases.with(|cases| {
            cases
                .iter()
                .find(|c| c.id == id)?
                .stack
                .as_ref()?
                .slices
                .get(k)?
                .display_window
        })
    };
    // Back to the window the image came with (the "stored" button, w).
    let use_stored_window = move || {
        if let Some([centre, width]) = stored_window() {
            state.window.set(Some(Window { centre, width }));
        }
    };
    // The current case's AHA segments: computed when its marks or results change, not on
    // every redraw.
    let current_aha = Memo::new(move |_| current_case().and_then(|c| c.aha_map()));
    // The next click on the image marks the RV insertion.
    let marking = RwSignal::new(false);
    // Corrections by hand: the brush in use (`None`: left-drag sets the window), its radius,
    // the stroke under way (its slice and last point) and the pointer, for the brush's outline.
    let tool = RwSignal::new(None::<Tool>);
    let brush_mm = RwSignal::new(DEFAULT_BRUSH_MM);
    let stroke = RwSignal::new(None::<(usize, (f64, f64))>);
    let hover = RwSignal::new(None::<(f64, f64)>);
    // The pointer over the image in any mode, for the pixel readout.
    let probe = RwSignal::new(None::<(f64, f64)>);
    let aha_note = RwSignal::new(None::<String>);
    let update_mark = move |f: &dyn Fn(&mut AhaMark)| {
        let Some(id) = state.current.get_untracked() else {
            return;
        };
        state.cases.update(|cases| {
            if let Some(c) = cases.iter_mut().find(|c| c.id == id) {
                f(&mut c.aha);
            }
        });
    };

    // Draw whenever the case, slice, window, overlays or results change.
    Effect::new(move |_| {
        let case = current_case();
        let k = state.slice.get();
        let win = state.window.get();
        let ov = overlay.get();
        let z = zoom.get();
        let aha = current_aha.get();
        let cross = hover.get().filter(|_| marking.get());
        let brush = tool
            .get()
            .and(hover.get())
            .filter(|_| cross.is_none())
            .map(|at| (at, brush_mm.get()));
        let down = stroke.with(|s| s.is_some_and(|(on, _)| on == k));
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let (Some(case), Some(win)) = (case, win) else {
            return;
        };
        let (Some(stack), Some(result)) = (case.stack, case.result) else {
            return;
        };
        let (Some(s), Some(r)) = (stack.slices.get(k), result.slices.get(k)) else {
            return;
        };
        let bytes = rgba(s, &win, &r.scar, &r.myocardium, &r.scar_probability, &ov);
        canvas.set_width(s.cols as u32);
        canvas.set_height(s.rows as u32);
        // Keep the pixels' physical aspect: width scaled by the column spacing over the row's.
        let aspect = s.spacing_mm[1] / s.spacing_mm[0];
        let _ = canvas.set_attribute(
            "style",
            &format!(
                // The shape also for print, which sizes the image to the page instead.
                "width:{}px;height:{}px;--aspect:{shape};aspect-ratio:{shape};image-rendering:pixelated{}",
                (s.cols as f64 * z * aspect).round(),
                (s.rows as f64 * z).round(),
                if brush.is_some() { ";cursor:none" } else { "" },
                shape = s.cols as f64 * aspect / s.rows as f64,
            ),
        );
        let Ok(Some(ctx)) = canvas.get_context("2d") else {
            return;
        };
        let ctx: web_sys::CanvasRenderingContext2d = ctx.unchecked_into();
        if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
            wasm_bindgen::Clamped(&bytes),
            s.cols as u32,
            s.rows as u32,
        ) {
            let _ = ctx.put_image_data(&image, 0.0, 0.0);
        }
        // A two-pass model's heart crop: where the second pass, the one that draws the scar,
        // looked. A misplaced box explains a missed scar.
        if let Some(roi) = r.roi.filter(|_| ov.scar || ov.myocardium || ov.probability) {
            outline_roi(&ctx, &roi, 1.0, "rgba(255, 255, 255, 0.7)");
        }
        // The wall sectors the report counts, the transmural ones marked by a red arc.
        if let Some(d) = sector_drawing(&r.myocardium, s.spacing_mm, &r.sector_scar_percent)
            .filter(|_| ov.sectors)
        {
            spokes(&ctx, d.centre, &d.spokes, 0.5, "rgba(255, 255, 255, 0.8)");
            ctx.set_line_width(2.0);
            ctx.set_stroke_style_str("rgb(255, 40, 40)");
            for arc in &d.transmural_arcs {
                ctx.begin_path();
                for (j, (x, y)) in arc.iter().enumerate() {
                    if j == 0 {
                        ctx.move_to(*x, *y);
                    } else {
                        ctx.line_to(*x, *y);
                    }
                }
                ctx.stroke();
            }
        }
        // The AHA segments of this slice's level, the insertion's spoke in magenta.
        if let Some(Ok(map)) = aha.as_ref().filter(|_| ov.aha)
            && let Some(level) = map.levels.get(k).copied().flatten()
            && let Some(orientation) = map.orientation(k)
            && let Some(d) = aha_drawing(&r.myocardium, s.spacing_mm, orientation, level)
        {
            spokes(&ctx, d.centre, &d.spokes, 0.75, "rgba(255, 255, 255, 0.9)");
            spokes(&ctx, d.centre, &[d.insertion], 1.5, "rgb(255, 0, 200)");
            let size = (s.rows.min(s.cols) as f64 / 20.0).max(7.0);
            ctx.set_font(&format!("bold {size:.0}px sans-serif"));
            ctx.set_text_align("center");
            ctx.set_text_baseline("middle");
            // White numbers edged in black, legible over bright blood and dark lung alike.
            ctx.set_fill_style_str("rgb(255, 255, 255)");
            ctx.set_stroke_style_str("rgba(0, 0, 0, 0.85)");
            ctx.set_line_width(2.0);
            for (n, (x, y)) in &d.labels {
                let _ = ctx.stroke_text(&n.to_string(), *x, *y);
                let _ = ctx.fill_text(&n.to_string(), *x, *y);
            }
        }
        // Where Enter marks the insertion: a cross, white edged in black.
        if let Some((x, y)) = cross {
            let arm = (s.rows.min(s.cols) as f64 / 25.0).max(4.0);
            for (width, colour) in [(2.5, "rgba(0, 0, 0, 0.85)"), (1.0, "rgb(255, 0, 200)")] {
                ctx.begin_path();
                ctx.move_to(x - arm, y);
                ctx.line_to(x + arm, y);
                ctx.move_to(x, y - arm);
                ctx.line_to(x, y + arm);
                ctx.set_line_width(width);
                ctx.set_stroke_style_str(colour);
                ctx.stroke();
            }
        }
        // The brush's reach: round in mm, so an ellipse on pixels that are not square.
        if let Some(((x, y), radius)) = brush {
            ctx.begin_path();
            let _ = ctx.ellipse(
                x,
                y,
                radius / s.spacing_mm[1],
                radius / s.spacing_mm[0],
                0.0,
                0.0,
                std::f64::consts::TAU,
            );
            // Down (a stroke under way), it is filled: the keyboard's user sees that moving paints.
            if down {
                ctx.set_fill_style_str("rgba(255, 255, 255, 0.35)");
                ctx.fill();
            }
            // White edged in black, as the segment numbers, over bright blood and dark lung.
            ctx.set_line_width(1.5);
            ctx.set_stroke_style_str("rgba(0, 0, 0, 0.85)");
            ctx.stroke();
            ctx.set_line_width(0.75);
            ctx.set_stroke_style_str("rgb(255, 255, 255)");
            ctx.stroke();
        }
    });

    // Where an event falls on the slice's grid, in pixel units (x along the columns, the
    // top-left corner at 0): the canvas is shown scaled by zoom and aspect.
    let canvas_point = move |ev: &web_sys::MouseEvent| -> Option<(f64, f64)> {
        let canvas = canvas_ref.get_untracked()?;
        let rect = canvas.get_bounding_client_rect();
        if rect.width() <= 0.0 || rect.height() <= 0.0 {
            return None;
        }
        Some((
            (ev.client_x() as f64 - rect.left()) / rect.width() * canvas.width() as f64,
            (ev.client_y() as f64 - rect.top()) / rect.height() * canvas.height() as f64,
        ))
    };

    // Changes the current case's corrections with `f`, which names the slice it changed, and
    // measures that slice again from its probabilities (no network run) and the stack with it.
    let correct = move |f: &dyn Fn(&mut Corrections, &Stack) -> Option<usize>| -> Option<usize> {
        let id = state.current.get_untracked()?;
        let opts = options();
        let mut changed = None;
        state.cases.update(|cases| {
            let Some(c) = cases.iter_mut().find(|c| c.id == id) else {
                return;
            };
            let (Some(stack), Some(result)) = (c.stack.clone(), c.result.as_mut()) else {
                return;
            };
            let Some(k) = f(Arc::make_mut(&mut c.corrections), &stack) else {
                return;
            };
            let (Some(s), Some(r)) = (stack.slices.get(k), result.slices.get(k)) else {
                return;
            };
            let new = r.remeasured(s, &opts, c.corrections.slice(k));
            Arc::make_mut(result).set_slice(k, new, &stack);
            changed = Some(k);
        });
        changed
    };
    // A piece of a brush stroke on the slice on screen, from the stroke's last point (`start`:
    // a new stroke, one step of undo).
    let paint = move |to: (f64, f64), start: bool| {
        let Some(t) = tool.get_untracked() else {
            return;
        };
        let k = state.slice.get_untracked();
        let from = match stroke.get_untracked() {
            _ if start => to,
            Some((on, last)) if on == k => last,
            // The slice changed under the stroke: it ends.
            _ => return,
        };
        let radius = brush_mm.get_untracked();
        correct(&|corrections, stack| {
            let s = stack.slices.get(k)?;
            if start {
                corrections.begin(k);
            }
            corrections.stroke(k, s.rows, s.cols, t, s.spacing_mm, from, to, radius);
            Some(k)
        });
        stroke.set(Some((k, to)));
    };
    // Undo shows the slice it changed.
    let undo = move || {
        if let Some(k) = correct(&|corrections, _| corrections.undo()) {
            state.slice.set(k);
        }
    };
    let revert = move || {
        let k = state.slice.get_untracked();
        correct(&|corrections, _| corrections.revert(k).then_some(k));
    };
    // A label volume on the case's grid (the NIfTI labels export, the phantom's truth, a
    // reader's contours) becomes its corrections: the pixels where it differs from the
    // network's masks at this threshold are forced to it, slice by slice (undoable).
    let labels_error = RwSignal::new(None::<String>);
    let apply_labels = move |name: String, bytes: Vec<u8>| {
        let Some(id) = state.current.get_untracked() else {
            return;
        };
        let opts = options();
        let mut outcome = Ok(());
        state.cases.update(|cases| {
            let Some(c) = cases.iter_mut().find(|c| c.id == id) else {
                return;
            };
            let (Some(stack), Some(result)) = (c.stack.clone(), c.result.as_mut()) else {
                return;
            };
            let maps = match labels_for(&stack.slices, &c.name, &name, &bytes, &Limits::default()) {
                Ok(maps) => maps,
                Err(e) => {
                    outcome = Err(e);
                    return;
                }
            };
            let (corrected, edits) = result.towards_labels(&stack, &opts, &maps);
            let corrections = Arc::make_mut(&mut c.corrections);
            for (k, e) in edits.into_iter().enumerate() {
                if let Some(e) = e {
                    corrections.replace(k, e);
                }
            }
            *result = Arc::new(corrected);
        });
        labels_error.set(outcome.err());
    };
    let load_labels = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = file_list(input.files());
        input.set_value("");
        let Some(file) = files.into_iter().next() else {
            return;
        };
        spawn_local(async move {
            let name = file.name();
            let limit = Limits::default().max_bytes;
            let size = file.size() as u64;
            if size > limit {
                let error = ImagingError::new(&name, ErrorKind::TooLarge { bytes: size, limit });
                labels_error.set(Some(error.to_string()));
                return;
            }
            let bytes = match file_bytes(&file, &mut Breath::new()).await {
                Ok(b) => b,
                Err(e) => {
                    labels_error.set(Some(format!("{name}: {e}")));
                    return;
                }
            };
            apply_labels(name, bytes);
        });
    };
    // A bundled sample's truth: the phantom's own labels, loaded as above, so a teacher shows
    // where the network went wrong and its Dice against them.
    let sample_truth = move || {
        let input = current_case()?.input;
        samples.with(|list| list.iter().find(|s| s.name == input)?.labels.clone())
    };
    let load_truth = move |_| {
        let Some(path) = sample_truth() else {
            return;
        };
        spawn_local(async move {
            match fetch_bytes(&format!("./samples/{path}")).await {
                Ok(bytes) => apply_labels(path, bytes),
                Err(e) => labels_error.set(Some(format!("{path}: {e}"))),
            }
        });
    };
    // A click while marking (or Enter at the keyboard's cross): the angle of the point around
    // this slice's wall.
    let mark_insertion = move |at: Option<(f64, f64)>| {
        let k = state.slice.get_untracked();
        let Some(id) = state.current.get_untracked() else {
            return;
        };
        let angle = state.cases.with_untracked(|cases| {
            let c = cases.iter().find(|c| c.id == id)?;
            let (s, r) = (
                c.stack.as_ref()?.slices.get(k)?,
                c.result.as_ref()?.slices.get(k)?,
            );
            angle_at(&r.myocardium, s.spacing_mm, at?)
        });
        match angle {
            Some(a) => {
                update_mark(&|m| {
                    if m.marks_deg.len() <= k {
                        m.marks_deg.resize(k + 1, None);
                    }
                    m.marks_deg[k] = Some(a);
                });
                marking.set(false);
                aha_note.set(None);
                overlay.update(|o| o.aha = true);
            }
            None => aha_note.set(Some(
                "This slice holds no myocardium (or the click was on its centre): mark the \
                 insertion on a slice with a wall."
                    .into(),
            )),
        }
    };

    // The brush on the keyboard, for those who cannot drag: with the image focused (Tab) and a
    // brush chosen, the arrows move it a pixel (Shift: five), Space puts it down or lifts it.
    // While marking the RV insertion they move a cross instead, and Enter or Space marks there.
    // Where it starts on this slice, and the slice's size.
    let keyboard_slice = move || {
        let id = state.current.get_untracked()?;
        let k = state.slice.get_untracked();
        state.cases.with_untracked(|cases| {
            let c = cases.iter().find(|c| c.id == id)?;
            let wall = &c.result.as_ref()?.slices.get(k)?.myocardium;
            Some((wall.rows, wall.cols, keyboard_start(wall)))
        })
    };
    let view_focused = move || {
        let active = document().active_element();
        canvas_ref
            .get_untracked()
            .is_some_and(|c| active.is_some_and(|a| c.is_same_node(Some(&a))))
    };
    // Keeps the keyboard's brush in sight when the zoomed image is larger than its box.
    let scroll_to_brush = move |(x, y): (f64, f64)| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let Some(frame) = canvas.parent_element() else {
            return;
        };
        let (r, f) = (
            canvas.get_bounding_client_rect(),
            frame.get_bounding_client_rect(),
        );
        let px = r.left() + x / canvas.width().max(1) as f64 * r.width();
        let py = r.top() + y / canvas.height().max(1) as f64 * r.height();
        let margin = 24.0;
        let dx = (px - (f.right() - margin)).max(0.0) + (px - (f.left() + margin)).min(0.0);
        let dy = (py - (f.bottom() - margin)).max(0.0) + (py - (f.top() + margin)).min(0.0);
        if dx != 0.0 || dy != 0.0 {
            frame.scroll_by_with_x_and_y(dx, dy);
        }
    };
    // Where the keyboard's brush or cross is: where it was last (or where the pointer is), else
    // where it starts on this slice.
    let keyboard_point = move || {
        hover
            .get_untracked()
            .or_else(|| keyboard_slice().map(|(_, _, at)| at))
    };
    // Shows it, when the image has the focus and it is not shown yet.
    let show_keyboard_point = move || {
        if hover.get_untracked().is_none() && view_focused() {
            hover.set(keyboard_point());
        }
    };
    // One key for the keyboard's brush or cross; false when the key is not one of its own.
    let keyboard_brush = move |key: &str, shift: bool| -> bool {
        let step = if shift { KEYBOARD_BIG_STEP } else { 1.0 };
        let by = match key {
            "ArrowLeft" => (-step, 0.0),
            "ArrowRight" => (step, 0.0),
            "ArrowUp" => (0.0, -step),
            "ArrowDown" => (0.0, step),
            " " | "Enter" if marking.get_untracked() => {
                mark_insertion(keyboard_point());
                return true;
            }
            " " => {
                let k = state.slice.get_untracked();
                if stroke.get_untracked().is_some_and(|(on, _)| on == k) {
                    stroke.set(None);
                } else if let Some(at) = keyboard_point() {
                    // Down: a stroke starts (one step of undo) with a dab where the brush is.
                    hover.set(Some(at));
                    paint(at, true);
                }
                return true;
            }
            _ => return false,
        };
        let Some((rows, cols, start)) = keyboard_slice() else {
            return true;
        };
        let at = keyboard_step(hover.get_untracked().unwrap_or(start), by, rows, cols);
        hover.set(Some(at));
        scroll_to_brush(at);
        if stroke.get_untracked().is_some() {
            paint(at, false);
        }
        true
    };
    // A brush shows the masks it changes.
    let choose_tool = move |t: Option<Tool>| {
        tool.set(t);
        stroke.set(None);
        if t.is_some() {
            // Chosen with the image focused: the keyboard's brush shows where it starts.
            show_keyboard_point();
            marking.set(false);
            overlay.update(|o| {
                o.probability = false;
                if !o.scar && !o.myocardium {
                    o.scar = true;
                    o.myocardium = true;
                }
            });
        }
    };

    // Keyboard shortcuts (documented on the page).
    let handle = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
        // Keys typed in a field or a drop-down are its own: arrows choose a drop-down's option
        // there, not the slice, and letters its options, not the overlays.
        let target_takes_keys = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if target_takes_keys {
            return;
        }
        // Keys held with Ctrl, Alt or Meta are the browser's and the system's (print, find,
        // reload, the page's zoom, tabs, back), which the viewer's letters, digits and arrows
        // would otherwise take and stop; Ctrl+Z (Cmd+Z) alone is the page's: undo.
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            if ev.key() == "z" && !ev.alt_key() {
                undo();
                ev.prevent_default();
            }
            return;
        }
        if (tool.get_untracked().is_some() || marking.get_untracked())
            && view_focused()
            && keyboard_brush(&ev.key(), ev.shift_key())
        {
            ev.prevent_default();
            return;
        }
        match ev.key().as_str() {
            "ArrowUp" | "ArrowLeft" | "PageUp" => step_slice(-1),
            "ArrowDown" | "ArrowRight" | "PageDown" => step_slice(1),
            "+" | "=" => zoom_by(1.25),
            "-" => zoom_by(1.0 / 1.25),
            "f" => fit_view(),
            "r" => {
                let w = current_case().and_then(|c| {
                    c.stack.and_then(|s| {
                        s.slices
                            .get(state.slice.get_untracked())
                            .map(|s| Window::auto(&s.pixels))
                    })
                });
                state.window.set(w);
            }
            "w" => use_stored_window(),
            "o" => overlay.update(|o| o.outline = !o.outline),
            "m" => overlay.update(|o| {
                let on = !(o.scar || o.myocardium);
                o.scar = on;
                o.myocardium = on;
            }),
            "p" => overlay.update(|o| o.probability = !o.probability),
            "i" => {
                marking.update(|m| *m = !*m);
                if marking.get_untracked() {
                    show_keyboard_point();
                }
            }
            "Escape" if marking.get_untracked() => marking.set(false),
            "Escape" if tool.get_untracked().is_some() => choose_tool(None),
            "u" => undo(),
            "0" => choose_tool(None),
            "1" | "2" | "3" | "4" => {
                let k = ev.key().parse::<usize>().unwrap_or(1) - 1;
                choose_tool(Tool::ALL.get(k).copied());
            }
            "[" => brush_mm.update(|b| *b = brush_step(*b, false)),
            "]" => brush_mm.update(|b| *b = brush_step(*b, true)),
            _ => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || handle.remove());
    let resized = window_event_listener(leptos::ev::resize, move |_| {
        if fitted.get_untracked() {
            fit_view();
        }
    });
    on_cleanup(move || resized.remove());

    // Corrections by hand live only in this page: leaving it asks first (the browser's own
    // prompt) while any case has some, as their figures would be lost with it.
    let guard = window_event_listener(leptos::ev::beforeunload, move |ev| {
        let corrected = state.cases.with_untracked(|cases| {
            cases
                .iter()
                .any(|c| c.result.as_ref().is_some_and(|r| r.edited_px() > 0))
        });
        if corrected {
            ev.prevent_default();
            // Older browsers prompt on a return value instead.
            ev.set_return_value("Corrections by hand are lost when the page is left.");
        }
    });
    on_cleanup(move || guard.remove());

    // The insertion suggested from the image on every slice it can be, replacing the marks: a
    // starting point the user checks slice by slice, and marks again where it is wrong.
    let suggest_insertion = move |_| {
        let Some(c) = current_case() else {
            return;
        };
        let (Some(stack), Some(result)) = (c.stack, c.result) else {
            return;
        };
        match result.suggested_insertion(&stack) {
            Some(suggested) => {
                let on: Vec<String> = suggested
                    .marks_deg
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.is_some())
                    .map(|(k, _)| (k + 1).to_string())
                    .collect();
                aha_note.set(Some(format!(
                    "Suggested from the image on slice(s) {} (where the right ventricle's blood \
                     lies against the septum), the septum {} of it: check the magenta spoke on \
                     each slice and mark again where it is wrong.",
                    on.join(", "),
                    if suggested.septum_clockwise {
                        "clockwise"
                    } else {
                        "counterclockwise"
                    }
                )));
                update_mark(&|m| {
                    m.marks_deg = suggested.marks_deg.clone();
                    m.septum_clockwise = suggested.septum_clockwise;
                });
                marking.set(false);
                overlay.update(|o| o.aha = true);
            }
            None => aha_note.set(Some(
                "No right ventricle found beside the wall to suggest the insertion from: mark it \
                 on the image."
                    .into(),
            )),
        }
    };

    // Left-drag on the image: window/level, or a brush stroke with a brush chosen.
    let drag = RwSignal::new(None::<(i32, i32)>);
    let on_down = move |ev: web_sys::MouseEvent| {
        ev.prevent_default();
        if marking.get_untracked() {
            mark_insertion(canvas_point(&ev));
            return;
        }
        if tool.get_untracked().is_some() {
            if let Some(at) = canvas_point(&ev) {
                paint(at, true);
            }
            return;
        }
        drag.set(Some((ev.client_x(), ev.client_y())));
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        probe.set(canvas_point(&ev));
        // The cross follows the pointer too, so the keyboard goes on from where it is.
        if marking.get_untracked() {
            hover.set(canvas_point(&ev));
            return;
        }
        if tool.get_untracked().is_some() {
            let at = canvas_point(&ev);
            hover.set(at);
            if let (Some(at), Some(_)) = (at, stroke.get_untracked()) {
                // Without the button held the pointer takes over from the keyboard's brush,
                // which it lifts, rather than painting a line to where the pointer came in.
                if ev.buttons() & 1 == 1 {
                    paint(at, false);
                } else {
                    stroke.set(None);
                }
            }
            return;
        }
        if let Some((x, y)) = drag.get_untracked() {
            let (dx, dy) = (ev.client_x() - x, ev.client_y() - y);
            if let Some(w) = state.window.get_untracked() {
                state.window.set(Some(w.dragged(dx as f64, dy as f64)));
            }
            drag.set(Some((ev.client_x(), ev.client_y())));
        }
    };
    let on_up = move |_ev: web_sys::MouseEvent| {
        drag.set(None);
        stroke.set(None);
    };
    let on_leave = move |ev: web_sys::MouseEvent| {
        on_up(ev);
        hover.set(None);
        probe.set(None);
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        step_slice(if ev.delta_y() > 0.0 { 1 } else { -1 });
    };

    let provenance = move || {
        let m = state.model.get_untracked().unwrap_or_default();
        Provenance {
            name: m.name,
            sha256: m.sha256,
            device: state.device.get_untracked(),
        }
    };
    let export_csv = move |_| {
        let p = provenance();
        let limits = state
            .model
            .get_untracked()
            .and_then(|m| m.test_burden_limits);
        let rows: Vec<_> = state.cases.with_untracked(|cases| {
            cases
                .iter()
                .filter_map(|c| Some((c, c.stack.as_ref()?, c.result.as_ref()?)))
                .flat_map(|(c, s, r)| report_rows(&c.name, s, r, &p.name, &p.sha256, limits))
                .collect()
        });
        match report_csv(&rows) {
            Ok(bytes) => download("scarseg-report.csv", &bytes, "text/csv"),
            // Only a serialisation bug could land here: writing to memory does not fail.
            Err(e) => web_sys::console::error_1(&format!("page: CSV report: {e}").into()),
        }
    };
    let export_json = move |_| {
        let p = provenance();
        let cases: Vec<serde_json::Value> = state.cases.with_untracked(|cases| {
            cases
                .iter()
                .filter_map(|c| {
                    let (s, r) = (c.stack.as_ref()?, c.result.as_ref()?);
                    let limits = state
                        .model
                        .get_untracked()
                        .and_then(|m| m.test_burden_limits);
                    let mut record = stack_record(&c.name, s, r, &c.warnings, limits);
                    if let Some(Ok(map)) = c.aha_map()
                        && let Ok(aha) = serde_json::to_value(map)
                    {
                        record["aha_segments"] = aha;
                    }
                    Some(record)
                })
                .collect()
        });
        let report = serde_json::json!({
            "weights": { "name": p.name, "sha256": p.sha256 },
            "device": p.device,
            "threshold": threshold.get_untracked(),
            "inputs": cases,
            "notice": "ScarSeg is not a certified medical device; results are for research and teaching.",
        });
        if let Ok(bytes) = serde_json::to_vec_pretty(&report) {
            download("scarseg-report.json", &bytes, "application/json");
        }
    };
    let export_aha_csv = move |_| {
        let rows: Vec<_> = state.cases.with_untracked(|cases| {
            cases
                .iter()
                .filter_map(|c| Some((c, c.aha_map()?.ok()?)))
                .flat_map(|(c, map)| aha_rows(&c.name, &map))
                .collect()
        });
        match aha_csv(&rows) {
            Ok(bytes) => download("scarseg-aha.csv", &bytes, "text/csv"),
            Err(e) => web_sys::console::error_1(&format!("page: AHA CSV: {e}").into()),
        }
    };
    let export_masks = move |_| {
        let Some(c) = current_case() else { return };
        let (Some(s), Some(r)) = (c.stack, c.result) else {
            return;
        };
        let base = output_stem(&stem(&c.input), s.part.as_deref());
        let many = s.slices.len() > 1;
        let mut files = Vec::new();
        for (k, (x, sl)) in r.slices.iter().zip(&s.slices).enumerate() {
            let name = if many {
                format!("{base}_{k:03}")
            } else {
                base.clone()
            };
            for (kind, m) in [("scar", &x.scar), ("myo", &x.myocardium)] {
                if let Ok(png) = mask_png(m, sl.spacing_mm) {
                    files.push((format!("{name}_{kind}.png"), png, "image/png"));
                }
            }
        }
        download_all(files);
    };
    let export_nifti = move |_| {
        let Some(c) = current_case() else { return };
        let (Some(s), Some(r)) = (c.stack, c.result) else {
            return;
        };
        let labels: Vec<u8> = r
            .slices
            .iter()
            .flat_map(|x| label_map(&x.scar, &x.myocardium))
            .collect();
        if let Ok(bytes) = nifti1(&s.slices, NiftiData::U8(&labels), true) {
            download(
                &format!(
                    "{}{LABEL_SUFFIX}.nii.gz",
                    output_stem(&stem(&c.input), s.part.as_deref())
                ),
                &bytes,
                "application/gzip",
            );
        }
    };
    // Read in place: cloning the case would copy its pixels on every update.
    let case_is_dicom = move || {
        let Some(id) = state.current.get() else {
            return false;
        };
        state.cases.with(|cases| {
            cases
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.stack.as_ref())
                .is_some_and(|s| s.slices.iter().all(|x| x.dicom.is_some()))
        })
    };
    // Why the current case has no DICOM segmentation, shown beside the exports.
    let seg_error = RwSignal::new(None::<String>);
    // Who signs the measurement report as reviewed (a DICOM person name and organization),
    // typed on the page and kept nowhere else.
    let sr_name = RwSignal::new(String::new());
    let sr_organization = RwSignal::new(String::new());
    // When the current result's DICOM objects were made: (case, result, date, time). The
    // segmentation and the report exported from one result share it, as predict's do, because
    // their UIDs derive from it: a report exported a second later must still name the
    // segmentation's UID. A new result (corrections, another threshold) gets a new time.
    let dicom_made = StoredValue::new(None::<(usize, usize, String)>);
    // The DICOM segmentation, or its measurement report (`signed`: the one the signature
    // above it applies to): one writer each, predict's.
    let export_dicom = move |write: DicomWriter, suffix: &'static str, signed: bool| {
        let Some(c) = current_case() else { return };
        let (Some(s), Some(r)) = (c.stack, c.result) else {
            return;
        };
        let p = provenance();
        let key = (c.id, Arc::as_ptr(&r) as usize);
        let made = match dicom_made.get_value() {
            Some((id, result, made)) if (id, result) == key => made,
            _ => {
                let made = local_datetime();
                dicom_made.set_value(Some((key.0, key.1, made.clone())));
                made
            }
        };
        let (date, time) = made.split_at(8);
        let (name, organization) = (sr_name.get_untracked(), sr_organization.get_untracked());
        // Signed now, however long after the result was made.
        let signed_at = local_datetime();
        let verified_by = match (name.trim().is_empty(), organization.trim().is_empty()) {
            _ if !signed => None,
            (true, true) => None,
            (false, false) => Some(Verifier {
                name: &name,
                organization: &organization,
                datetime: &signed_at,
            }),
            _ => {
                seg_error.set(Some(
                    "to sign the report, give both the name and the organization (or neither)"
                        .into(),
                ));
                return;
            }
        };
        let maker = SegMaker {
            model_name: &p.name,
            weights_sha256: &p.sha256,
            date,
            time,
            verified_by,
        };
        match write(&s, &r, &maker) {
            Ok(bytes) => {
                seg_error.set(None);
                download(
                    &format!(
                        "{}{suffix}",
                        output_stem(&stem(&c.input), s.part.as_deref())
                    ),
                    &bytes,
                    "application/dicom",
                );
            }
            Err(e) => seg_error.set(Some(format!("{}: {}", c.name, e.message))),
        }
    };
    let screenshot = move |_| {
        if let Some(canvas) = canvas_ref.get_untracked()
            && let Ok(url) = canvas.to_data_url()
        {
            click_link("scarseg-view.png", &url);
        }
    };

    let open_weights = move |ev: web_sys::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = file_list(input.files());
        // Cleared, as the file pickers are, so that choosing the same model again (or another
        // after a refused one) fires again.
        input.set_value("");
        spawn_local(async move {
            let mut manifest = None;
            let mut weights = None;
            let mut breath = Breath::new();
            for f in files {
                let name = f.name();
                let bytes = file_bytes(&f, &mut breath).await;
                match bytes {
                    // A model folder sent packed (a ZIP or tar archive of it).
                    Ok(b) if is_archive(&b) => {
                        let found = unpack_breathing(&name, b, &Limits::default(), &mut breath)
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|unpacked| model_in_archive(&name, unpacked.files));
                        match found {
                            Ok(found) => {
                                manifest = Some(found.manifest_json);
                                weights = Some(found.weights);
                            }
                            Err(e) => {
                                state.model_error.set(Some(e));
                                return;
                            }
                        }
                    }
                    Ok(b) if name.ends_with(".json") => manifest = Some(b),
                    Ok(b) if name.ends_with(".safetensors") => weights = Some(b),
                    _ => {}
                }
            }
            match (manifest, weights) {
                (Some(manifest), Some(weights)) => match LOST.with(|l| l.borrow().clone()) {
                    Some(why) => state.model_error.set(Some(format!("not loaded: {why}"))),
                    None => send(ToWorker::LoadModel { manifest, weights }),
                },
                _ => state.model_error.set(Some(
                    "choose the model folder's manifest.json and its .safetensors weights \
                     together, or a ZIP or tar archive of the folder"
                        .into(),
                )),
            }
        });
    };

    view! {
        <header>
            <h1>"ScarSeg"</h1>
            <p>"Segmentation of myocardial scar in late-gadolinium-enhancement cardiac MRI, run
               entirely on your own machine. No image, mask or number leaves it."</p>
            <p class="warning" data-testid="not-a-medical-device">"ScarSeg is not a certified
               medical device. Its results are for research and teaching."</p>
        </header>
        <section class="status">
            <p data-testid="device">"Network runs on: " {move || state.device.get()}
                " "
                <select aria-label="device" data-testid="device-choice"
                    on:change=move |ev| {
                        let choice = match event_target_value(&ev).as_str() {
                            "cpu" => DeviceChoice::Cpu,
                            "webgpu" => DeviceChoice::WebGpu,
                            _ => DeviceChoice::Auto,
                        };
                        device_choice.set(choice);
                        state.worker_notice.set(None);
                        DEATHS.with(|d| d.set(0));
                        start_worker(state, choice, None, None);
                    }>
                    <option value="auto" selected=move || device_choice.get() == DeviceChoice::Auto>"Auto (fastest)"</option>
                    <option value="webgpu" selected=move || device_choice.get() == DeviceChoice::WebGpu>"WebGPU"</option>
                    <option value="cpu" selected=move || device_choice.get() == DeviceChoice::Cpu>"CPU"</option>
                </select>
            </p>
            <p data-testid="model">"Model: "
                {move || match state.model.get() {
                    Some(m) => view! {
                        <span>{m.name.clone()} " (input " {m.size} " px, sha256 "
                            <code data-testid="model-sha">{m.sha256[..16.min(m.sha256.len())].to_string()}</code> "...) "
                            {m.test_scar_dice.map(|d| view! {
                                <span data-testid="model-score"
                                    title="mean scar Dice of scarseg eval on the model's test set, with its 95% confidence interval (manifest.json metrics); the default model's test set is synthetic phantom cases">
                                    {format!("{} ", model_score(d, m.test_scar_dice_ci95))}</span>
                            })}
                            {m.card.clone().map(|c| view! { <a href=c target="_blank">"model card"</a> })}
                        </span>
                    }.into_any(),
                    None => view! { <span>"loading..."</span> }.into_any(),
                }}
                " "
                <label class="button">"Open your own weights"
                    <input type="file" multiple accept=".json,.safetensors,.zip,.tar,.gz,.tgz" data-testid="weights-input"
                        on:change=open_weights />
                </label>
            </p>
            <Show when=move || state.model_error.get().is_some()>
                <p class="error" data-testid="model-error">{move || state.model_error.get().unwrap_or_default()}
                    " The previous model stays in use."</p>
            </Show>
            <Show when=move || state.worker_notice.get().is_some()>
                <p class="warning" role="status" data-testid="worker-notice">
                    {move || state.worker_notice.get().unwrap_or_default()}</p>
            </Show>
        </section>

        <section class="input"
            on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                let files = file_list(ev.data_transfer().and_then(|d| d.files()));
                open_files(files);
            }>
            <p>"Drop DICOM, NIfTI (.nii, .nii.gz), PNG or JPEG files (or a ZIP or tar archive of them) here, or "
                <label class="button">"choose files"
                    <input type="file" multiple data-testid="file-input"
                        on:change=pick_files />
                </label>
                " or "
                <label class="button">"a DICOM series folder"
                    <input type="file" multiple prop:webkitdirectory=true data-testid="folder-input"
                        on:change=pick_files />
                </label>
                ". Files up to 512 MiB; larger ones are refused with a message. A file or folder \
                 that holds several stacks (several series, a PSIR acquisition's magnitude and \
                 real images, time points, a 4-D NIfTI's volumes) becomes one case per stack."</p>
            <p>"Samples (synthetic phantom cases): "
                {move || samples.get().into_iter().map(|s| {
                    let files = s.files.clone();
                    let name = s.name.clone();
                    view! {
                        <button title=s.description.clone() data-testid="sample"
                            on:click=move |_| {
                                let files = files.clone();
                                let name = name.clone();
                                spawn_local(async move {
                                    let mut loaded = Vec::new();
                                    for f in &files {
                                        if let Ok(b) = fetch_bytes(&format!("./samples/{f}")).await {
                                            loaded.push((f.clone(), b));
                                        }
                                    }
                                    let item = Item { name, files: loaded };
                                    submit(state, vec![(item, Vec::new())], options());
                                });
                            }>{s.name.clone()}</button>
                    }
                }).collect_view()}
            </p>
        </section>

        <section class="files">
            // A screen reader announces this line when it changes: when a file finishes, fails
            // or is cancelled, not on every slice's progress (the list itself re-renders then).
            <p class="sr-only" role="status" data-testid="files-summary">{move || state.cases.with(|cases| files_summary(cases))}</p>
            <Show when=move || state.left_out.with(|l| !l.is_empty())>
                <p data-testid="left-out">
                    {move || format!("From the folder opened last: {}.", state.left_out.with(|l| left_out_note(l)))}
                </p>
            </Show>
            <ul data-testid="files">
                {move || state.cases.get().into_iter().map(|c| {
                    let id = c.id;
                    let status = match &c.status {
                        Status::Queued => "queued".to_string(),
                        Status::Running { done, of } => format!("analysing slice {} of {of}", done + 1),
                        Status::Done => match &c.result {
                            Some(r) => format!("done: burden {} {} ({:.0} ms/slice)",
                                r.burden_percent.map(|b| format!("{b:.1}%")).unwrap_or_else(|| "n/a (no myocardium)".into()),
                                if r.high_risk { "HIGH RISK (>5%)" } else { "" },
                                c.ms_per_slice),
                            None => "done".into(),
                        },
                        Status::Failed(m) => format!("failed: {}", m.join("; ")),
                        Status::Cancelled => "cancelled".to_string(),
                    };
                    let class = match c.status {
                        Status::Failed(_) => "failed",
                        Status::Done => "done",
                        _ => "pending",
                    };
                    // A wall the network may have missed, or an image that is no short-axis LGE
                    // slice: said in the list too, since the report shows one case at a time.
                    let doubted = matches!(c.status, Status::Done)
                        && c.result.as_ref().is_some_and(|r| r.doubted_slices() > 0);
                    let running = c.status.is_open();
                    let job = c.job;
                    view! {
                        <li class=class data-testid="file-row">
                            <button on:click=move |_| select_case(state, id) disabled=c.stack.is_none()>{c.name.clone()}</button>
                            " " <span data-testid="file-status">{status}</span>
                            {doubted.then(|| view! { <span class="warn" data-testid="file-doubt">" - check the outline (see the report)"</span> })}
                            {(!c.warnings.is_empty()).then(|| view! { <span class="warn">" (" {c.warnings.join("; ")} ")"</span> })}
                            {running.then(|| view! { <button on:click=move |_| send(ToWorker::Cancel { job })>"cancel"</button> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>

        <section class="viewer">
            <div class="controls">
                <label>"Slice "
                    <input type="range" min="0" data-testid="slice"
                        max=move || slice_count().saturating_sub(1).to_string()
                        prop:value=move || state.slice.get().to_string()
                        on:input=move |ev| state.slice.set(event_target_value(&ev).parse().unwrap_or(0)) />
                    {move || format!(" {} / {}", state.slice.get() + 1, slice_count().max(1))}
                </label>
                <label>" Threshold "
                    <input type="range" min="0.05" max="0.95" step="0.05" data-testid="threshold"
                        prop:value=move || threshold.get().to_string()
                        on:input=move |ev| threshold.set(event_target_value(&ev).parse().unwrap_or(0.5))
                        on:change=move |_| rethreshold() />
                    {move || format!(" {:.2}", threshold.get())}
                </label>
                <label>" Opacity "
                    <input type="range" min="0" max="1" step="0.05"
                        prop:value=move || overlay.get().opacity.to_string()
                        on:input=move |ev| overlay.update(|o| o.opacity = event_target_value(&ev).parse().unwrap_or(0.45)) />
                </label>
                <label><input type="checkbox" prop:checked=move || overlay.get().scar
                    on:change=move |_| overlay.update(|o| o.scar = !o.scar) />"scar"</label>
                <label><input type="checkbox" prop:checked=move || overlay.get().myocardium
                    on:change=move |_| overlay.update(|o| o.myocardium = !o.myocardium) />"myocardium"</label>
                <label><input type="checkbox" prop:checked=move || overlay.get().outline
                    on:change=move |_| overlay.update(|o| o.outline = !o.outline) />"outline"</label>
                <label><input type="checkbox" prop:checked=move || overlay.get().probability
                    on:change=move |_| overlay.update(|o| o.probability = !o.probability) />"scar probability"</label>
                <label title="the twelve wall sectors the report counts; a red arc marks scar through more than half the wall">
                    <input type="checkbox" data-testid="overlay-sectors" prop:checked=move || overlay.get().sectors
                    on:change=move |_| overlay.update(|o| o.sectors = !o.sectors) />"sectors"</label>
                " Window: "
                <button aria-label="auto window" on:click=move |_| {
                    let w = current_case().and_then(|c| c.stack.and_then(|s| s.slices.get(state.slice.get_untracked()).map(|s| Window::auto(&s.pixels))));
                    state.window.set(w);
                }>"auto"</button>
                <button aria-label="narrow window" on:click=move |_| state.window.update(|w| if let Some(w) = w { w.width *= 0.7 })>"narrow"</button>
                <button aria-label="wide window" on:click=move |_| state.window.update(|w| if let Some(w) = w { w.width /= 0.7 })>"wide"</button>
                {move || stored_window().map(|_| view! {
                    <button data-testid="window-stored" aria-label="the window stored with the image"
                        title="the window the scanner (or the converter) stored with this image, which the case opened with (w)"
                        on:click=move |_| use_stored_window()>"stored"</button>
                })}
                // Typed, or stepped with the arrows: the window in the image's own units, as
                // the scanner's console and PACS viewers give it.
                <label>" level "
                    <input type="number" class="window-field" data-testid="window-centre"
                        step=move || state.window.get().map_or(1.0, |w| w.field_step()).to_string()
                        prop:value=move || state.window.get().map(|w| Window::field_text(w.centre, w.field_step())).unwrap_or_default()
                        on:change=move |ev| {
                            let typed = event_target_value(&ev).parse::<f64>().ok().filter(|v| v.is_finite());
                            state.window.update(|w| if let (Some(w), Some(v)) = (w.as_mut(), typed) { w.centre = v });
                        } />
                </label>
                <label>" width "
                    <input type="number" class="window-field" data-testid="window-width" min="0"
                        step=move || state.window.get().map_or(1.0, |w| w.field_step()).to_string()
                        prop:value=move || state.window.get().map(|w| Window::field_text(w.width, w.field_step())).unwrap_or_default()
                        on:change=move |ev| {
                            let typed = event_target_value(&ev).parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0);
                            state.window.update(|w| if let (Some(w), Some(v)) = (w.as_mut(), typed) { w.width = v });
                        } />
                </label>
                " Zoom: "
                <button aria-label="zoom out" on:click=move |_| zoom_by(1.0 / 1.25)>"-"</button>
                <button aria-label="zoom in" on:click=move |_| zoom_by(1.25)>"+"</button>
                <button aria-label="fit the image to the view" data-testid="zoom-fit" on:click=move |_| fit_view()>"fit"</button>
            </div>
            <div class="controls correct" data-testid="correct">
                <label title="paint or erase the masks by hand; every figure, export and the AHA segments follow">"Correct by hand: "
                    <select data-testid="correct-tool"
                        prop:value=move || tool.get().map(Tool::label).unwrap_or("off")
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            choose_tool(Tool::ALL.into_iter().find(|t| t.label() == v));
                        }>
                        <option value="off">"off (drag sets the window)"</option>
                        {Tool::ALL.into_iter().map(|t| view! { <option value=t.label()>{t.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label>" brush radius "
                    <input type="range" data-testid="brush" step="0.5"
                        min=BRUSH_RANGE_MM.0.to_string() max=BRUSH_RANGE_MM.1.to_string()
                        prop:value=move || brush_mm.get().to_string()
                        on:input=move |ev| brush_mm.set(event_target_value(&ev).parse().unwrap_or(DEFAULT_BRUSH_MM)) />
                    {move || format!(" {:.1} mm", brush_mm.get())}
                </label>
                " "
                <button data-testid="correct-undo" title="the last stroke or revert (u, Ctrl+Z)"
                    disabled=move || !current_case().is_some_and(|c| c.corrections.can_undo())
                    on:click=move |_| undo()>"undo"</button>
                <button data-testid="correct-revert" title="back to the network's masks on this slice"
                    disabled=move || current_case().is_none_or(|c| c.corrections.slice(state.slice.get()).is_none_or(|e| e.is_empty()))
                    on:click=move |_| revert()>"revert slice"</button>
                " "
                <label class="button" title="a label volume on this case's grid (EMIDEC's values 0-4, as 'NIfTI labels' exports it) or a DICOM segmentation of this series: where it differs from the network's masks it becomes the corrections">"load labels"
                    <input type="file" data-testid="labels-input" on:change=load_labels />
                </label>
                {move || sample_truth().map(|_| view! {
                    " "
                    <button data-testid="load-truth" title="the phantom's own labels for this bundled sample: the corrections then show where the network went wrong, and the report its Dice against them"
                        on:click=load_truth>"load the phantom's truth"</button>
                })}
                {move || current_case().map(|c| {
                    // Each part of an item is offered the segmentations that fit it, and those
                    // that fit none of its parts analysed so far.
                    let offered = state.cases.with(|cases| {
                        let parts: Vec<&[bool]> = cases.iter()
                            .filter(|o| o.job == c.job && o.item == c.item)
                            .map(|o| o.beside_fits.as_slice()).collect();
                        segmentations_offered(c.beside.len(), &c.beside_fits, &parts)
                    });
                    offered.into_iter().map(|j| {
                        let (name, bytes) = c.beside[j].clone();
                        let file = name.clone();
                        view! {
                            " "
                            <button data-testid="apply-beside" title="a DICOM segmentation or label volume opened with this image (a reader's, OHIF's, ScarSeg's own): where it differs from the network's masks it becomes the corrections"
                                on:click=move |_| apply_labels(file.clone(), bytes.to_vec())>
                                {format!("load {name} as labels")}</button>
                        }
                    }).collect_view()
                })}
                " "
                <span data-testid="correct-status">{move || current_case().and_then(|c| {
                    let r = c.result?;
                    let here = r.slices.get(state.slice.get()).map_or(0, |x| x.edited_px);
                    Some(format!("{here} pixel(s) of this slice and {} of the stack changed by hand", r.edited_px()))
                })}</span>
                {move || labels_error.get().map(|e| view! { <span class="warn" data-testid="labels-error">" " {e}</span> })}
            </div>
            <div class="canvas-box" node_ref=view_box>
                // A screen reader gets what the image is; the numbers are in the report below.
                <canvas node_ref=canvas_ref data-testid="view" role="img" tabindex="0"
                    aria-label=move || current_case().map(|c| format!(
                        "{}, slice {} of {}, with the overlays chosen above (scar yellow, myocardium cyan); the report below gives its numbers{}",
                        c.name, state.slice.get() + 1, slice_count().max(1),
                        if marking.get() {
                            "; marking the RV insertion: the arrow keys move the cross (Shift: five pixels) and Enter or Space marks it".to_string()
                        } else {
                            tool.get().map_or(String::new(), |t| format!(
                                "; brush: {}, the arrow keys move it (Shift: five pixels) and Space puts it down or lifts it",
                                t.label()))
                        }))
                    on:focus=move |_| if tool.get_untracked().is_some() || marking.get_untracked() {
                        show_keyboard_point();
                    }
                    on:blur=move |_| {
                        stroke.set(None);
                        hover.set(None);
                    }
                    on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up on:mouseleave=on_leave
                    on:wheel=on_wheel></canvas>
            </div>
            // The pixel under the pointer, or under the keyboard's brush or cross.
            <p class="help readout" data-testid="readout">{move || {
                let at = hover.get().or(probe.get())?;
                let (id, k) = (state.current.get()?, state.slice.get());
                state.cases.with(|cases| {
                    let c = cases.iter().find(|c| c.id == id)?;
                    let (s, r) = (c.stack.as_ref()?.slices.get(k)?, c.result.as_ref()?.slices.get(k)?);
                    pixel_readout(s, &r.scar_probability, &r.scar, &r.myocardium, at)
                })
            }}</p>
            <p class="help">"Keys: up/down or left/right or mouse wheel: slice; left-drag on the image:
               window (right/left) and level (down/up); r: auto window; w: the window stored with
               the image; + and -: zoom; f: fit the image to the view; o: outline;
               m: masks on/off; p: probability map; i: mark the RV insertion with the next click (Esc:
               stop); 1-4: paint scar, erase scar, paint myocardium, erase myocardium, then drag on
               the image (0 or Esc: back to the window); [ and ]: brush radius; u or Ctrl+Z: undo.
               Without a mouse: Tab to the image, choose a brush (1-4), move it with the arrows
               (Shift: five pixels) and put it down or lift it with Space; it paints while down.
               After i, the arrows move a cross instead, and Enter marks the insertion there.
               Scar is yellow, myocardium cyan."</p>
        </section>

        <section class="report" data-testid="report">
            <h2>"Report"</h2>
            {move || current_case().and_then(|c| {
                let (s, r) = (c.stack?, c.result?);
                let (transmural, wall) = r.transmural_sectors();
                let (gray, _) = r.gray_zone(&s);
                let map = current_aha.get().and_then(Result::ok);
                let levels = map.as_ref().map(|m| m.levels.clone()).unwrap_or_default();
                let insertions = map.as_ref().map(|m| m.insertions_deg.clone()).unwrap_or_default();
                let marks = map.as_ref().map(|m| m.insertion_marks_deg.clone()).unwrap_or_default();
                let m = state.model.get().unwrap_or_default();
                Some(view! {
                    <p data-testid="stack-summary">{format!(
                        "{} (discs of {:.1} mm, slice centre to slice centre). Weights {} (sha256 {}).",
                        stack_summary(&c.name, &s, &r),
                        s.disc_heights_mm().first().copied().unwrap_or_default(),
                        m.name, m.sha256)}</p>
                    {m.test_burden_limits.zip(r.burden_percent).map(|(limits, b)| view! {
                        <p data-testid="flag-agreement">{flag_agreement_text(b, limits)}</p>
                    })}
                    {doubts_text(&r).map(|text| view! {
                        <p data-testid="doubts" class="warn" role="note">{format!("{text}.")}</p>
                    })}
                    <p data-testid="stack-transmurality">{format!(
                        "Scar through more than half the wall in {transmural} of {wall} wall sectors \
                         (each slice's myocardium cut into {WALL_SECTORS} sectors of {} degrees, clockwise from 12 o'clock). \
                         Gray zone (above 2 SD of remote, below the FWHM threshold): {} of the myocardium.",
                        360 / WALL_SECTORS,
                        gray.map(|g| format!("{g:.2}%")).unwrap_or_else(|| "n/a".into()))}</p>
                    <p data-testid="stack-depth">{scar_depth_text(r.scar_depth(&s))}</p>
                    {(r.edited_px() > 0).then(|| {
                        let slices: Vec<String> = r.slices.iter().enumerate()
                            .filter(|(_, x)| x.edited_px > 0)
                            .map(|(k, _)| (k + 1).to_string())
                            .collect();
                        let network = r.network_burden_percent(&s)
                            .map(|b| format!("{b:.2}%")).unwrap_or_else(|| "n/a".into());
                        let (scar_dice, myo_dice) = r.network_dice();
                        let d = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into());
                        view! { <p data-testid="stack-corrected" class="corrected">{format!(
                            "Corrected by hand on slice(s) {} ({} pixel(s) changed): every figure here, the \
                             exports and the AHA segments measure the corrected outlines. The network alone \
                             found a burden of {network}; its masks against the corrected ones, over the stack: \
                             scar Dice {}, myocardium Dice {}.",
                            slices.join(", "), r.edited_px(), d(scar_dice), d(myo_dice))}</p> }
                    })}
                    // On a narrow screen (a tablet upright) the table scrolls, not the page.
                    <div class="table-scroll" role="region" aria-label="the report by slice" tabindex="0">
                    <table>
                        <thead><tr><th>"slice"</th><th>"scar mm2"</th><th>"myocardium mm2"</th>
                            <th>"burden %"</th><th title="sectors whose scar fills more than half their myocardium, of the sectors that hold myocardium">"sectors > 50%"</th>
                            <th title="the slice's scar by depth in the wall: percent in its inner (subendocardial), middle and outer (subepicardial) thirds; '-' without scar or where the myocardium encloses no cavity">"scar in / mid / out %"</th>
                            <th>"FWHM %"</th><th>"2-SD %"</th><th>"3-SD %"</th><th>"5-SD %"</th><th>"6-SD %"</th>
                            <th title="myocardium above 2 SD of remote but below the FWHM threshold, percent of the myocardium">"gray zone %"</th>
                            <th title="the slice's third of the ventricle for the AHA segments, once the RV insertion is marked">"AHA level"</th>
                            <th title="the anterior RV insertion the slice's segments start at, degrees clockwise from 12 o'clock: marked on the slice, or between the marks around it">"RV insertion"</th>
                            <th title="pixels whose scar or myocardium label was changed by hand">"corrected px"</th>
                            <th title="why the slice's myocardium may not be one ring round a bright cavity, as a short-axis LGE slice of the left ventricle shows it (the outline checks); '-': no doubt">"outline"</th></tr></thead>
                        <tbody>
                            {r.slices.iter().enumerate().map(|(k, x)| {
                                let f = |v: Option<f64>| v.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into());
                                let nsd = |n: u32| f(x.nsd_burden_percent.iter().find(|(m, _)| *m == n).and_then(|(_, b)| *b));
                                view! { <tr data-testid="slice-row"><td>{k + 1}</td><td>{format!("{:.1}", x.scar_area_mm2)}</td>
                                    <td>{format!("{:.1}", x.myocardium_area_mm2)}</td><td>{f(x.burden_percent)}</td>
                                    <td data-testid="slice-transmural">{format!("{} / {}", x.transmural_sectors(), x.wall_sectors())}</td>
                                    <td class="figures" data-testid="slice-depth">{scar_thirds_cell(x.scar_depth)}</td>
                                    <td>{f(x.fwhm_burden_percent)}</td><td>{nsd(2)}</td><td>{nsd(3)}</td><td>{nsd(5)}</td><td>{nsd(6)}</td>
                                    <td data-testid="slice-gray-zone">{f(x.gray_zone_percent())}</td>
                                    <td data-testid="slice-level">{match levels.get(k).copied().flatten() {
                                        Some(WallLevel::Basal) => "basal",
                                        Some(WallLevel::Mid) => "mid",
                                        Some(WallLevel::Apical) => "apical",
                                        None => "-",
                                    }}</td>
                                    <td data-testid="slice-insertion">{match (insertions.get(k).copied().flatten(), marks.get(k).copied().flatten()) {
                                        (Some(a), Some(_)) => format!("{a:.0} (marked)"),
                                        (Some(a), None) => format!("{a:.0}"),
                                        (None, _) => "-".to_string(),
                                    }}</td>
                                    <td data-testid="slice-edited">{x.edited_px}</td>
                                    // The same words as the CSV reports' `doubts` column.
                                    <td data-testid="slice-doubts">{if x.doubts.is_empty() {
                                        "-".to_string()
                                    } else {
                                        listed(&x.doubts)
                                    }}</td></tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                })
            })}
            <p>"FWHM and n-SD run on the network's myocardium."</p>
            <p class="exports">"Export: "
                <button data-testid="export-csv" on:click=export_csv>"CSV"</button>
                <button data-testid="export-json" on:click=export_json>"JSON"</button>
                <button data-testid="export-masks" on:click=export_masks>"mask PNGs"</button>
                <button data-testid="export-nifti" on:click=export_nifti>"NIfTI labels"</button>
                <button data-testid="export-seg" on:click=move |_| export_dicom(dicom_seg, SEG_SUFFIX, false)
                    title="a DICOM Segmentation of this series (myocardium and scar), in its study: for a PACS, OHIF or 3D Slicer. DICOM inputs only."
                    disabled=move || !case_is_dicom()>"DICOM SEG"</button>
                <button data-testid="export-sr" on:click=move |_| export_dicom(dicom_sr, SR_SUFFIX, true)
                    title="a DICOM measurement report (TID 1500) of the DICOM SEG's volumes, scar burden and the >5% flag, in this series' study. DICOM inputs only."
                    disabled=move || !case_is_dicom()>"DICOM SR"</button>
                <button data-testid="export-screenshot" on:click=screenshot>"screenshot"</button>
                <button data-testid="print" title="the report, its image and the bull's-eye on paper or as a PDF, through the browser's print dialog"
                    on:click=move |_| { if let Some(w) = web_sys::window() { let _ = w.print(); } }>"print report"</button>
                {move || seg_error.get().map(|e| view! { <span class="warn" data-testid="seg-error">" " {e}</span> })}
            </p>
            <p class="sign" title="a reader who has checked the outlines signs the DICOM SR: it is then VERIFIED, with them as its verifying observer; unsigned, it is UNVERIFIED">
                "Sign the DICOM SR as reviewed by "
                <input type="text" data-testid="sr-name" placeholder="Family^Given" size="18"
                    aria-label="reviewer's name, Family^Given"
                    prop:value=move || sr_name.get()
                    on:input=move |ev| sr_name.set(event_target_value(&ev)) />
                " of "
                <input type="text" data-testid="sr-organization" placeholder="organization" size="22"
                    aria-label="reviewer's organization"
                    prop:value=move || sr_organization.get()
                    on:input=move |ev| sr_organization.set(event_target_value(&ev)) />
                <span data-testid="sr-signed">{move || {
                    if sr_name.get().trim().is_empty() || sr_organization.get().trim().is_empty() {
                        " unsigned: the report is UNVERIFIED"
                    } else {
                        " the report will be VERIFIED by them"
                    }
                }}</span>
            </p>
        </section>

        <section class="aha" data-testid="aha">
            <h2>"AHA segments"</h2>
            <p class="intro">"The network does not draw the right ventricle, so the 16 segments start where you
               mark the anterior insertion of the right ventricle's wall into the septum. One mark
               serves the whole stack; the insertion turns from base to apex, so mark it on more
               slices (a mark per slice; mark again to move it) and each slice is cut at its own
               mark, or at an angle between the marks around it. Suggest from the image marks each
               slice where the right ventricle's blood pool lies against the septum: check it.
               Slices with myocardium are split into basal, mid and apical thirds."</p>
            <p class="controls">
                <button data-testid="aha-mark" disabled=move || current_case().and_then(|c| c.result).is_none()
                    on:click=move |_| marking.update(|m| *m = !*m)>
                    {move || if marking.get() { "now click the insertion on the image (click here to stop)" } else { "mark RV insertion" }}</button>
                " "
                <label title="for an image stored mirrored, with the septum on the viewer's right">
                    <input type="checkbox" data-testid="aha-mirror"
                        prop:checked=move || current_case().is_some_and(|c| c.aha.septum_clockwise)
                        on:change=move |_| update_mark(&|m| m.septum_clockwise = !m.septum_clockwise) />
                    "septum clockwise of the insertion"</label>
                " Levels: "
                <select aria-label="the slices' levels" data-testid="aha-level"
                    on:change=move |ev| {
                        let level = match event_target_value(&ev).as_str() {
                            "basal" => Some(WallLevel::Basal),
                            "mid" => Some(WallLevel::Mid),
                            "apical" => Some(WallLevel::Apical),
                            _ => None,
                        };
                        update_mark(&|m| m.level = level);
                    }>
                    <option value="thirds" selected=move || current_case().is_some_and(|c| c.aha.level.is_none())>"thirds of the stack"</option>
                    <option value="basal" selected=move || current_case().is_some_and(|c| c.aha.level == Some(WallLevel::Basal))>"every slice basal"</option>
                    <option value="mid" selected=move || current_case().is_some_and(|c| c.aha.level == Some(WallLevel::Mid))>"every slice mid"</option>
                    <option value="apical" selected=move || current_case().is_some_and(|c| c.aha.level == Some(WallLevel::Apical))>"every slice apical"</option>
                </select>
                " Base: "
                <select aria-label="which end is the base" data-testid="aha-base"
                    disabled=move || current_case().is_some_and(|c| c.aha.level.is_some())
                    on:change=move |ev| {
                        let base = match event_target_value(&ev).as_str() {
                            "first" => Some(true),
                            "last" => Some(false),
                            _ => None,
                        };
                        update_mark(&|m| m.base_first = base);
                    }>
                    <option value="auto" selected=move || current_case().is_some_and(|c| c.aha.base_first.is_none())>"the wider end"</option>
                    <option value="first" selected=move || current_case().is_some_and(|c| c.aha.base_first == Some(true))>"the first slice"</option>
                    <option value="last" selected=move || current_case().is_some_and(|c| c.aha.base_first == Some(false))>"the last slice"</option>
                </select>
                " "
                <label><input type="checkbox" prop:checked=move || overlay.get().aha
                    on:change=move |_| overlay.update(|o| o.aha = !o.aha) />"show on the image"</label>
                " "
                <button data-testid="aha-suggest" title="find the insertion on each slice where the right ventricle's blood pool lies against the septum; check it"
                    disabled=move || current_case().and_then(|c| c.result).is_none()
                    on:click=suggest_insertion>"suggest from the image"</button>
                " "
                <button data-testid="aha-unmark" title="take this slice's mark away (the others stay)"
                    disabled=move || {
                        let k = state.slice.get();
                        current_case().is_none_or(|c| c.aha.marks_deg.get(k).copied().flatten().is_none())
                    }
                    on:click=move |_| {
                        let k = state.slice.get_untracked();
                        update_mark(&|m| if let Some(x) = m.marks_deg.get_mut(k) { *x = None; });
                    }>"unmark slice"</button>
                " "
                <button data-testid="aha-clear" on:click=move |_| update_mark(&|m| *m = AhaMark::default())>"clear"</button>
                " "
                <button data-testid="export-aha-csv" title="the 16 segments of every case with its insertion marked"
                    disabled=move || !matches!(current_aha.get(), Some(Ok(_)))
                    on:click=export_aha_csv>"export AHA CSV"</button>
            </p>
            <Show when=move || aha_note.get().is_some()>
                <p class="warn" data-testid="aha-note">{move || aha_note.get().unwrap_or_default()}</p>
            </Show>
            <p data-testid="aha-status">{move || match current_aha.get() {
                None => "No insertion marked for this case.".to_string(),
                Some(Err(e)) => format!("No AHA segments: {e}."),
                Some(Ok(map)) => aha_summary(&map),
            }}</p>
            {move || match current_aha.get() {
                Some(Ok(map)) => Some(view! { <AhaBullseye map=map /> }),
                _ => None,
            }}
        </section>

        <TeachingView teaching=state.teaching send=send next_request=next_id
            slice=current_slice options=teaching_options />
    }
}

fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    if js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        let _ = navigator.service_worker().register("./sw.js");
    }
}

/// Outlines `roi`, a box in the canvas's pixels, along its inner edge `depth` whole pixels deep
/// (lines on pixel centres would blur across two).
pub(crate) fn outline_roi(
    ctx: &web_sys::CanvasRenderingContext2d,
    roi: &scarseg_imaging::roi::Roi,
    depth: f64,
    style: &str,
) {
    ctx.set_stroke_style_str(style);
    ctx.set_line_width(depth);
    ctx.stroke_rect(
        roi.left as f64 + depth / 2.0,
        roi.top as f64 + depth / 2.0,
        roi.cols as f64 - depth,
        roi.rows as f64 - depth,
    );
}

/// Lines from `centre` to each of `ends`, on the canvas.
fn spokes(
    ctx: &web_sys::CanvasRenderingContext2d,
    centre: (f64, f64),
    ends: &[(f64, f64)],
    width: f64,
    style: &str,
) {
    ctx.set_line_width(width);
    ctx.set_stroke_style_str(style);
    ctx.begin_path();
    for (x, y) in ends {
        ctx.move_to(centre.0, centre.1);
        ctx.line_to(*x, *y);
    }
    ctx.stroke();
}

/// The AHA map in words: where the segments start, which slices make each third, and which
/// segments the scar crosses more than half of.
fn aha_summary(map: &AhaMap) -> String {
    let levels = [
        (WallLevel::Basal, "basal"),
        (WallLevel::Mid, "mid"),
        (WallLevel::Apical, "apical"),
    ]
    .iter()
    .filter_map(|(level, name)| {
        let at: Vec<usize> = (0..map.levels.len())
            .filter(|k| map.levels[*k] == Some(*level))
            .map(|k| k + 1)
            .collect();
        let (first, last) = (at.first()?, at.last()?);
        Some(if first == last {
            format!("{name} slice {first}")
        } else {
            format!("{name} slices {first}-{last}")
        })
    })
    .collect::<Vec<_>>()
    .join(", ");
    let transmural: Vec<String> = map
        .segments
        .iter()
        .filter(|s| s.grade.is_some_and(|g| g >= 3))
        .map(|s| format!("{} ({})", s.number, s.name))
        .collect();
    let territories = map
        .territories
        .iter()
        .filter_map(|t| Some(format!("{} {:.0}%", t.name, t.share_of_scar_percent?)))
        .collect::<Vec<_>>();
    let territories = if territories.is_empty() {
        "no scar in any segment".to_string()
    } else {
        territories.join(", ")
    };
    // One angle for the stack, or the marks it turns through.
    let insertion = if map.turns() {
        let marks: Vec<String> = map
            .insertion_marks_deg
            .iter()
            .enumerate()
            .filter_map(|(k, m)| Some(format!("slice {} at {:.0}", k + 1, (*m)?)))
            .collect();
        // Slices with a wall but no mark take angles between the marks.
        let between = map
            .insertions_deg
            .iter()
            .zip(&map.insertion_marks_deg)
            .any(|(cut, mark)| cut.is_some() && mark.is_none());
        format!(
            "marked on {} degrees clockwise from 12 o'clock{}",
            marks.join(", "),
            if between {
                " (the slices between at angles between the marks)"
            } else {
                ""
            }
        )
    } else {
        let angle = map.insertions_deg.iter().flatten().next().copied();
        format!(
            "at {:.0} degrees clockwise from 12 o'clock",
            angle.unwrap_or_default()
        )
    };
    format!(
        "Anterior RV insertion {insertion}, the septum {} of it; \
         {} ({}). Scar through more than half the wall: {}. Scar by coronary territory (the \
         AHA's typical supply): {territories}.",
        if map.septum_clockwise {
            "clockwise"
        } else {
            "counterclockwise"
        },
        levels,
        match map.base_first {
            Some(true) => "base first",
            Some(false) => "base last",
            None => "every slice at the level chosen",
        },
        if transmural.is_empty() {
            "no segment".to_string()
        } else {
            format!("segment {}", transmural.join(", "))
        }
    )
}

/// The AHA bull's-eye: each segment filled by its transmurality grade, with its number and
/// scar percentage; the apical cap (17), which short-axis slices do not cut, in grey.
#[component]
fn AhaBullseye(map: AhaMap) -> impl IntoView {
    let segments = bullseye()
        .into_iter()
        .map(|b| {
            let seg = &map.segments[b.number - 1];
            let fill = seg
                .grade
                .map(|g| GRADE_FILL[usize::from(g)])
                .unwrap_or(NO_WALL_FILL);
            let ink = if seg.grade.is_some_and(|g| g >= 3) {
                "#ffffff"
            } else {
                "#111111"
            };
            let percent = seg
                .scar_percent
                .map(|p| format!("{p:.0}%"))
                .unwrap_or_else(|| "-".into());
            let territory = map
                .territories
                .iter()
                .find(|t| t.segments.contains(&b.number))
                .map_or("", |t| t.name);
            let named = format!(
                "{} {} ({territory})",
                b.number,
                AHA_SEGMENT_NAMES[b.number - 1]
            );
            let title = match seg.scar_percent {
                Some(p) => format!(
                    "{named}: scar {p:.1}% of {:.0} mm3 of myocardium",
                    seg.myocardium_mm3
                ),
                None => format!("{named}: no slice's myocardium reaches it"),
            };
            let (x, y) = b.label;
            view! {
                <g data-testid="aha-segment" data-segment=b.number.to_string()
                    data-grade=seg.grade.map(|g| g.to_string()).unwrap_or_default()
                    data-percent=seg.scar_percent.map(|p| format!("{p:.3}")).unwrap_or_default()>
                    <title>{title}</title>
                    <path d=b.path fill=fill stroke="#333333" stroke-width="1" />
                    <text x=format!("{x:.1}") y=format!("{:.1}", y - 5.0) fill=ink font-size="9"
                        text-anchor="middle" dominant-baseline="middle">{b.number}</text>
                    <text x=format!("{x:.1}") y=format!("{:.1}", y + 6.0) fill=ink font-size="8"
                        text-anchor="middle" dominant-baseline="middle">{percent}</text>
                </g>
            }
        })
        .collect_view();
    let legend = ["0%", "up to 25%", "up to 50%", "up to 75%", "above 75%"]
        .into_iter()
        .enumerate()
        .map(|(g, label)| {
            view! {
                <span class="swatch" style=format!("background:{}", GRADE_FILL[g])></span>
                {format!(" {label} ")}
            }
        })
        .collect_view();
    view! {
        <div class="bullseye">
            <svg viewBox="0 0 240 240" width="280" height="280" data-testid="bullseye" role="img"
                aria-label="AHA bull's-eye: scar as a share of each segment's myocardium">
                {segments}
                <circle cx="120" cy="120" r="25" fill=NO_WALL_FILL stroke="#333333" stroke-width="1">
                    <title>"17 apex: beyond the cavity, not cut by short-axis slices"</title>
                </circle>
                <text x="120" y="120" font-size="9" text-anchor="middle" dominant-baseline="middle">"17"</text>
            </svg>
            <p class="legend">"Scar, share of each segment's myocardium: " {legend}
                <span class="swatch" style=format!("background:{NO_WALL_FILL}")></span>" no wall or not measured"</p>
        </div>
    }
}
