//! What the page has asked of the analysis worker and not yet heard the end of, so that a worker
//! that dies costs one file, not the page.
//!
//! A panic, running out of its 4 GB of memory or a lost GPU kills the worker's wasm: its one
//! task loop never runs again, and without this every file after it would wait for ever. The
//! worker does one thing at a time, in the order the page sent them, so the first open entry
//! here is what it died on. The page marks that failed, starts a new worker and sends it the
//! rest ([`Ledger::restart`]); the same restart, with nothing to blame, carries the open work over
//! to the device the user switches to. [`after_death`] decides whether a new worker starts, and
//! on which device.

use std::collections::{BTreeSet, VecDeque};

use scarseg_imaging::postprocess::PostprocessOptions;

use crate::protocol::{DeviceChoice, FromWorker, Item, ToWorker};

/// How many workers in a row may die without finishing anything before the page stops
/// starting new ones: each death fails what it died on, so this bounds only deaths that no
/// work explains (the default model killing every new worker).
pub const MAX_DEATHS: u32 = 3;

/// What the page does when its worker died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDeath {
    /// Start another on `device`; `reason` goes on the device line where the page chose the
    /// device, `notice` tells the user what happened.
    Restart {
        device: DeviceChoice,
        reason: Option<String>,
        notice: String,
    },
    /// Start none: why no analysis runs.
    GiveUp(String),
}

/// A worker's error event message as the user reads it: the panic's own message (thrown by the
/// worker's hook), or what a wasm trap means.
pub fn death_message(event: &str) -> String {
    let message = event.strip_prefix("Uncaught ").unwrap_or(event);
    let message = message.strip_prefix("Error: ").unwrap_or(message);
    if message.contains("unreachable") {
        // What a wasm trap says: std aborts this way when an allocation fails.
        format!("{message}: it ran out of memory or met an internal error")
    } else {
        message.to_string()
    }
}

/// Decides what follows a worker's death. `ready`: whether its wasm had started; `deaths`: how
/// many died in a row without a result, this one included; `on_gpu`: whether it ran on WebGPU;
/// `choice`: the device the user chose; `starting`: whether it died before its model was up.
pub fn after_death(
    message: &str,
    ready: bool,
    deaths: u32,
    on_gpu: bool,
    choice: DeviceChoice,
    starting: bool,
) -> AfterDeath {
    if !ready {
        return AfterDeath::GiveUp(format!(
            "the analysis worker could not start ({message}); this browser may lack a \
             WebAssembly feature ScarSeg needs (SIMD, in Chrome and Edge 91, Firefox 89 and \
             Safari 16.4 on)"
        ));
    }
    if deaths > MAX_DEATHS {
        return AfterDeath::GiveUp(format!(
            "the analysis worker stopped {deaths} times in a row, the last time: {message}"
        ));
    }
    let (device, reason) = if on_gpu {
        let why = format!(
            "the worker stopped on WebGPU ({message}), so the CPU is used; choose WebGPU or Auto \
             to try the GPU again"
        );
        (DeviceChoice::Cpu, Some(why))
    } else {
        (choice, None)
    };
    let when = if starting { " while starting" } else { "" };
    let on = if on_gpu { ", on the CPU," } else { "" };
    AfterDeath::Restart {
        device,
        reason,
        notice: format!(
            "The analysis worker stopped{when} ({message}). A new one{on} carries on with the \
             rest; what it stopped on is marked."
        ),
    }
}

/// One thing sent to the worker whose end the page has not heard.
#[derive(Debug)]
enum Work {
    /// Picking the device and loading the default model.
    Start,
    /// A model the user opened (manifest, weights): kept, to send to a new worker once it is
    /// the one in use.
    Model { manifest: Vec<u8>, weights: Vec<u8> },
    /// A job, with its items, to send again what was not analysed. This holds a second copy of
    /// the job's files while it runs.
    Job {
        job: u32,
        items: Vec<Item>,
        options: PostprocessOptions,
    },
    /// A teaching view request (its id), kept to send again.
    Teaching(u32, Box<ToWorker>),
}

/// What the worker was doing when it died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Culprit {
    /// Starting: picking its device or loading the default model.
    Start,
    /// Loading a model the user opened.
    Model,
    /// Analysing this item of this job (or decoding it).
    Item { job: u32, item: usize },
    /// A teaching view request.
    Teaching(u32),
}

/// What the page does after a worker died or was replaced.
#[derive(Debug, Default)]
pub struct Restart {
    /// What the worker died on (none for a device switch, or when it died between things).
    pub culprit: Option<Culprit>,
    /// To send the new worker after its `Start`, in order: the model the user had opened, then
    /// the open work without the culprit.
    pub resend: Vec<ToWorker>,
    /// Items sent again under a new job: (old job, old item) -> (new job, new item).
    pub moved: Vec<((u32, usize), (u32, usize))>,
    /// Jobs and noise runs the user had cancelled: not sent again; what was left of them is
    /// cancelled.
    pub cancelled: Vec<u32>,
}

/// The open work, in the order sent; see the module doc.
#[derive(Debug, Default)]
pub struct Ledger {
    open: VecDeque<Work>,
    cancelled: BTreeSet<u32>,
    /// The model the user opened that the worker took, if any.
    user_model: Option<(Vec<u8>, Vec<u8>)>,
}

impl Ledger {
    /// The bytes of the files of the jobs not finished, which the page holds until they are.
    pub fn held_bytes(&self) -> u64 {
        self.open
            .iter()
            .map(|work| match work {
                Work::Job { items, .. } => items.iter().map(Item::bytes).sum(),
                _ => 0,
            })
            .sum()
    }

    /// Records a message the page has just sent.
    pub fn sent(&mut self, msg: ToWorker) {
        match msg {
            ToWorker::Start { .. } => self.open.push_back(Work::Start),
            ToWorker::LoadModel { manifest, weights } => {
                self.open.push_back(Work::Model { manifest, weights })
            }
            ToWorker::Analyse {
                job,
                items,
                options,
            } => self.open.push_back(Work::Job {
                job,
                items,
                options,
            }),
            ToWorker::Explain { request, .. } | ToWorker::Robustness { request, .. } => {
                self.open.push_back(Work::Teaching(request, Box::new(msg)))
            }
            ToWorker::Cancel { job } => {
                self.cancelled.insert(job);
            }
        }
    }

    /// Records what a message from the worker ends.
    pub fn heard(&mut self, msg: &FromWorker) {
        match msg {
            // A start and a model the user opened each end with one of these, in order.
            FromWorker::Model { .. } | FromWorker::ModelError { .. } => {
                let first = self
                    .open
                    .iter()
                    .position(|w| matches!(w, Work::Start | Work::Model { .. }));
                if let Some(Work::Model { manifest, weights }) =
                    first.and_then(|i| self.open.remove(i))
                    && matches!(msg, FromWorker::Model { .. })
                {
                    self.user_model = Some((manifest, weights));
                }
            }
            FromWorker::JobEnd { job, .. } => {
                self.open
                    .retain(|w| !matches!(w, Work::Job { job: j, .. } if j == job));
                self.cancelled.remove(job);
            }
            FromWorker::Explanation { request, .. }
            | FromWorker::Robustness { request, .. }
            | FromWorker::TeachingError { request, .. } => {
                self.open
                    .retain(|w| !matches!(w, Work::Teaching(r, _) if r == request));
            }
            _ => {}
        }
    }

    /// Whether the worker has been asked to start and has not finished starting.
    pub fn starting(&self) -> bool {
        self.open.iter().any(|w| matches!(w, Work::Start))
    }

    /// Empties the ledger for a new worker. `died`: the old worker died (its first open work is
    /// the culprit), rather than being replaced by the user. `finished(job, item)`: whether the
    /// page has every result of that item (done, failed or cancelled). `new_job` gives the
    /// fresh job ids. The messages in [`Restart::resend`] are recorded again when sent.
    pub fn restart(
        &mut self,
        died: bool,
        finished: impl Fn(u32, usize) -> bool,
        mut new_job: impl FnMut() -> u32,
    ) -> Restart {
        let mut out = Restart::default();
        if let Some((manifest, weights)) = self.user_model.take() {
            out.resend.push(ToWorker::LoadModel { manifest, weights });
        }
        let mut blamed = !died;
        for work in std::mem::take(&mut self.open) {
            match work {
                Work::Start => {
                    if !blamed {
                        out.culprit = Some(Culprit::Start);
                    }
                }
                Work::Model { manifest, weights } => {
                    if blamed {
                        out.resend.push(ToWorker::LoadModel { manifest, weights });
                    } else {
                        out.culprit = Some(Culprit::Model);
                    }
                }
                Work::Teaching(request, msg) => {
                    if !blamed {
                        out.culprit = Some(Culprit::Teaching(request));
                    } else if self.cancelled.contains(&request) {
                        out.cancelled.push(request);
                    } else {
                        out.resend.push(*msg);
                    }
                }
                Work::Job {
                    job,
                    items,
                    options,
                } => {
                    let mut open: Vec<(usize, Item)> = items
                        .into_iter()
                        .enumerate()
                        .filter(|(k, _)| !finished(job, *k))
                        .collect();
                    if !blamed && !open.is_empty() {
                        let (item, _) = open.remove(0);
                        out.culprit = Some(Culprit::Item { job, item });
                    }
                    if self.cancelled.contains(&job) {
                        out.cancelled.push(job);
                    } else if !open.is_empty() {
                        let to = new_job();
                        let (old, items): (Vec<usize>, Vec<Item>) = open.into_iter().unzip();
                        out.moved.extend(
                            old.into_iter()
                                .enumerate()
                                .map(|(k, o)| ((job, o), (to, k))),
                        );
                        out.resend.push(ToWorker::Analyse {
                            job: to,
                            items,
                            options,
                        });
                    }
                }
            }
            // Only the first open work can be what the worker died on.
            blamed = true;
        }
        self.cancelled.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str) -> Item {
        Item {
            name: name.into(),
            files: vec![(name.into(), name.as_bytes().to_vec())],
        }
    }

    fn analyse(job: u32, names: &[&str]) -> ToWorker {
        ToWorker::Analyse {
            job,
            items: names.iter().map(|n| item(n)).collect(),
            options: PostprocessOptions::default(),
        }
    }

    #[test]
    fn the_files_of_unfinished_jobs_are_counted_until_they_end() {
        let mut ledger = Ledger::default();
        ledger.sent(model(1));
        assert_eq!(ledger.held_bytes(), 0);
        // "a" 1 byte, "bb" 2, "cccc" 4 (each item's file is its name's bytes).
        ledger.sent(analyse(1, &["a", "bb"]));
        ledger.sent(analyse(2, &["cccc"]));
        assert_eq!(ledger.held_bytes(), 7);
        ledger.heard(&FromWorker::JobEnd {
            job: 1,
            cancelled: false,
        });
        assert_eq!(ledger.held_bytes(), 4);
        ledger.heard(&FromWorker::JobEnd {
            job: 2,
            cancelled: true,
        });
        assert_eq!(ledger.held_bytes(), 0);
    }

    fn names(msg: &ToWorker) -> (u32, Vec<String>) {
        match msg {
            ToWorker::Analyse { job, items, .. } => {
                (*job, items.iter().map(|i| i.name.clone()).collect())
            }
            other => panic!("{other:?}"),
        }
    }

    fn model(tag: u8) -> ToWorker {
        ToWorker::LoadModel {
            manifest: vec![tag],
            weights: vec![tag, tag],
        }
    }

    fn manifest_of(msg: &ToWorker) -> Vec<u8> {
        match msg {
            ToWorker::LoadModel { manifest, .. } => manifest.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn model_loaded() -> FromWorker {
        FromWorker::Model {
            name: "m".into(),
            sha256: String::new(),
            size: 128,
            card: None,
            threshold: 0.5,
            test_scar_dice: None,
            test_scar_dice_ci95: None,
            test_burden_limits: None,
        }
    }

    fn start(device: DeviceChoice) -> ToWorker {
        ToWorker::Start {
            device,
            reason: None,
        }
    }

    fn ids(mut next: u32) -> impl FnMut() -> u32 {
        move || {
            next += 1;
            next
        }
    }

    #[test]
    fn a_death_fails_the_first_open_item_and_sends_the_rest_again() {
        let mut ledger = Ledger::default();
        ledger.sent(start(DeviceChoice::Auto));
        ledger.heard(&model_loaded());
        ledger.sent(analyse(3, &["a", "b", "c", "d"]));
        ledger.sent(analyse(5, &["e"]));
        // a is done and b failed on its own; the worker died on c.
        let finished = |job: u32, k: usize| job == 3 && k < 2;
        let restart = ledger.restart(true, finished, ids(9));
        assert_eq!(restart.culprit, Some(Culprit::Item { job: 3, item: 2 }));
        assert_eq!(restart.resend.len(), 2);
        assert_eq!(names(&restart.resend[0]), (10, vec!["d".to_string()]));
        assert_eq!(names(&restart.resend[1]), (11, vec!["e".to_string()]));
        assert_eq!(restart.moved, vec![((3, 3), (10, 0)), ((5, 0), (11, 0))]);
        assert!(restart.cancelled.is_empty());
        // Nothing is left open: the new worker's messages are recorded as they are sent.
        assert!(ledger.restart(true, |_, _| false, ids(0)).resend.is_empty());
    }

    #[test]
    fn a_switch_blames_nothing_and_sends_the_item_in_progress_again() {
        let mut ledger = Ledger::default();
        ledger.sent(analyse(3, &["a", "b"]));
        let restart = ledger.restart(false, |_, k| k == 0, ids(3));
        assert_eq!(restart.culprit, None);
        assert_eq!(names(&restart.resend[0]), (4, vec!["b".to_string()]));
        assert_eq!(restart.moved, vec![((3, 1), (4, 0))]);
    }

    #[test]
    fn ended_work_is_not_blamed() {
        let mut ledger = Ledger::default();
        ledger.sent(analyse(1, &["a"]));
        ledger.sent(ToWorker::Explain {
            request: 2,
            slice: scarseg_imaging::Slice::new(1, 1, vec![0.0], "s"),
        });
        ledger.sent(analyse(4, &["b"]));
        ledger.heard(&FromWorker::JobEnd {
            job: 1,
            cancelled: false,
        });
        // The teaching request was next: it is the culprit, and job 4 goes on.
        let restart = ledger.restart(true, |_, _| false, ids(4));
        assert_eq!(restart.culprit, Some(Culprit::Teaching(2)));
        assert_eq!(restart.resend.len(), 1);
        assert_eq!(names(&restart.resend[0]), (5, vec!["b".to_string()]));
    }

    #[test]
    fn a_finished_job_without_its_end_blames_nothing() {
        // The worker died after the last item's result, before JobEnd.
        let mut ledger = Ledger::default();
        ledger.sent(analyse(1, &["a"]));
        ledger.sent(analyse(2, &["b"]));
        let restart = ledger.restart(true, |job, _| job == 1, ids(2));
        assert_eq!(restart.culprit, None);
        assert_eq!(names(&restart.resend[0]), (3, vec!["b".to_string()]));
    }

    #[test]
    fn the_users_model_goes_to_the_new_worker_and_a_model_that_killed_it_does_not() {
        let mut ledger = Ledger::default();
        ledger.sent(start(DeviceChoice::Auto));
        ledger.sent(model(1));
        ledger.heard(&model_loaded()); // the default model: Start ends
        assert!(!ledger.starting());
        ledger.heard(&model_loaded()); // model 1 taken
        ledger.sent(model(2));
        ledger.heard(&FromWorker::ModelError {
            message: "does not fit".into(),
        }); // refused: model 1 stays
        ledger.sent(model(3)); // the worker dies loading it
        ledger.sent(analyse(7, &["a"]));
        let restart = ledger.restart(true, |_, _| false, ids(7));
        assert_eq!(restart.culprit, Some(Culprit::Model));
        assert_eq!(restart.resend.len(), 2);
        assert_eq!(manifest_of(&restart.resend[0]), vec![1]);
        assert_eq!(names(&restart.resend[1]), (8, vec!["a".to_string()]));
    }

    #[test]
    fn a_model_opened_behind_a_job_is_sent_again_in_its_place() {
        let mut ledger = Ledger::default();
        ledger.sent(analyse(1, &["a", "b"]));
        ledger.sent(model(4));
        let restart = ledger.restart(true, |_, _| false, ids(1));
        assert_eq!(restart.culprit, Some(Culprit::Item { job: 1, item: 0 }));
        assert_eq!(names(&restart.resend[0]), (2, vec!["b".to_string()]));
        assert_eq!(manifest_of(&restart.resend[1]), vec![4]);
    }

    #[test]
    fn a_death_while_starting_blames_the_start() {
        let mut ledger = Ledger::default();
        ledger.sent(start(DeviceChoice::WebGpu));
        assert!(ledger.starting());
        ledger.sent(analyse(2, &["a"]));
        let restart = ledger.restart(true, |_, _| false, ids(2));
        assert_eq!(restart.culprit, Some(Culprit::Start));
        assert_eq!(names(&restart.resend[0]), (3, vec!["a".to_string()]));
    }

    #[test]
    fn cancelled_jobs_are_not_sent_again() {
        let mut ledger = Ledger::default();
        ledger.sent(analyse(1, &["a", "b"]));
        ledger.sent(analyse(2, &["c"]));
        ledger.sent(ToWorker::Cancel { job: 2 });
        let restart = ledger.restart(true, |_, _| false, ids(2));
        assert_eq!(restart.culprit, Some(Culprit::Item { job: 1, item: 0 }));
        assert_eq!(restart.cancelled, vec![2]);
        assert_eq!(restart.resend.len(), 1);
        assert_eq!(names(&restart.resend[0]), (3, vec!["b".to_string()]));
        // A cancel is forgotten with its job's end.
        let mut ledger = Ledger::default();
        ledger.sent(ToWorker::Cancel { job: 1 });
        ledger.heard(&FromWorker::JobEnd {
            job: 1,
            cancelled: true,
        });
        ledger.sent(analyse(1, &["x"]));
        assert!(
            ledger
                .restart(false, |_, _| false, ids(1))
                .cancelled
                .is_empty()
        );
    }

    #[test]
    fn teaching_requests_behind_the_culprit_are_sent_again_unless_cancelled() {
        let slice = || scarseg_imaging::Slice::new(1, 1, vec![0.0], "s");
        let mut ledger = Ledger::default();
        ledger.sent(analyse(1, &["a"]));
        ledger.sent(ToWorker::Explain {
            request: 2,
            slice: slice(),
        });
        ledger.sent(ToWorker::Robustness {
            request: 3,
            slice: slice(),
            sigma: 0.05,
            iterations: 10,
            options: PostprocessOptions::default(),
        });
        ledger.sent(ToWorker::Cancel { job: 3 });
        let restart = ledger.restart(true, |_, _| false, ids(3));
        assert_eq!(restart.culprit, Some(Culprit::Item { job: 1, item: 0 }));
        assert_eq!(restart.resend.len(), 1);
        assert!(matches!(
            restart.resend[0],
            ToWorker::Explain { request: 2, .. }
        ));
        assert_eq!(restart.cancelled, vec![3]);
    }

    #[test]
    fn what_a_death_says() {
        assert_eq!(
            death_message("Uncaught Error: capacity overflow (at raw_vec.rs:28:5)"),
            "capacity overflow (at raw_vec.rs:28:5)"
        );
        assert_eq!(
            death_message("Uncaught RuntimeError: unreachable"),
            "RuntimeError: unreachable: it ran out of memory or met an internal error"
        );
        assert_eq!(
            death_message("Uncaught CompileError: bad magic"),
            "CompileError: bad magic"
        );
    }

    #[test]
    fn after_a_death() {
        let restart = |device, reason: Option<&str>, notice: &str| AfterDeath::Restart {
            device,
            reason: reason.map(String::from),
            notice: notice.to_string(),
        };
        // On the CPU: the same device again.
        assert_eq!(
            after_death("boom", true, 1, false, DeviceChoice::Auto, false),
            restart(
                DeviceChoice::Auto,
                None,
                "The analysis worker stopped (boom). A new one carries on with the rest; what \
                 it stopped on is marked."
            )
        );
        // On WebGPU: the CPU, saying why.
        assert_eq!(
            after_death("lost", true, MAX_DEATHS, true, DeviceChoice::WebGpu, true),
            restart(
                DeviceChoice::Cpu,
                Some(
                    "the worker stopped on WebGPU (lost), so the CPU is used; choose WebGPU or \
                     Auto to try the GPU again"
                ),
                "The analysis worker stopped while starting (lost). A new one, on the CPU, \
                 carries on with the rest; what it stopped on is marked."
            )
        );
        // One more death in a row than allowed, and a worker that never started: no restart.
        let give_up = after_death(
            "boom",
            true,
            MAX_DEATHS + 1,
            false,
            DeviceChoice::Cpu,
            false,
        );
        assert_eq!(
            give_up,
            AfterDeath::GiveUp(
                "the analysis worker stopped 4 times in a row, the last time: boom".into()
            )
        );
        match after_death("CompileError: x", false, 1, true, DeviceChoice::Auto, true) {
            AfterDeath::GiveUp(why) => {
                assert!(why.starts_with("the analysis worker could not start (CompileError: x);"))
            }
            other => panic!("{other:?}"),
        }
    }
}
