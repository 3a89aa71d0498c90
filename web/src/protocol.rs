//! One typed message enum each way is the whole protocol between page and worker.

use scarseg_imaging::postprocess::PostprocessOptions;
use scarseg_imaging::{Slice, Stack};
use scarseg_pipeline::StackResult;
use scarseg_pipeline::teaching::{Explanation, Robustness};
use serde::{Deserialize, Serialize};

/// Encodes a message for `postMessage` as one byte buffer (postcard): a stack's pixels and
/// probability maps cross as raw bytes, not as millions of JS numbers.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(msg).map_err(|e| e.to_string())
}

/// Where [`encode_into`] writes a message: a buffer of its exact size outside this memory (the
/// page's: the JavaScript array it hands to the worker).
pub trait Destination {
    /// How many bytes it holds.
    fn size(&self) -> usize;
    /// Copies `bytes` in at `at`; [`encode_into`] keeps within [`Destination::size`].
    fn write(&mut self, at: usize, bytes: &[u8]);
}

/// `msg` as [`encode`] writes it, into the destination `make` gives for its size (measured
/// first): runs of a few bytes (lengths, numbers, names) are gathered and written together, a
/// file's bytes written directly, so that a large file is copied out once rather than into a
/// buffer that grows as it is written and then out again (which held the page 0.4 s for a
/// 256 MiB volume).
pub fn encode_into<T: Serialize, D: Destination>(
    msg: &T,
    make: impl FnOnce(usize) -> D,
) -> Result<D, String> {
    let size = postcard::experimental::serialized_size(msg).map_err(|e| e.to_string())?;
    let out = Gathering {
        to: make(size),
        at: 0,
        small: Vec::new(),
    };
    postcard::serialize_with_flavor(msg, out).map_err(|e| e.to_string())
}

/// [`encode_into`]'s postcard output.
struct Gathering<D> {
    to: D,
    /// Where `small`'s bytes go in `to`.
    at: usize,
    small: Vec<u8>,
}

impl<D: Destination> Gathering<D> {
    /// Runs shorter than this are gathered.
    const SMALL: usize = 4096;

    fn write(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        let end = self
            .at
            .checked_add(bytes.len())
            .filter(|&end| end <= self.to.size())
            .ok_or(postcard::Error::SerializeBufferFull)?;
        self.to.write(self.at, bytes);
        self.at = end;
        Ok(())
    }

    fn flush(&mut self) -> postcard::Result<()> {
        let small = std::mem::take(&mut self.small);
        let written = self.write(&small);
        self.small = small;
        self.small.clear();
        written
    }
}

impl<D: Destination> postcard::ser_flavors::Flavor for Gathering<D> {
    type Output = D;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.small.push(byte);
        if self.small.len() >= Self::SMALL {
            self.flush()?;
        }
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if self.small.len() + bytes.len() < Self::SMALL {
            self.small.extend_from_slice(bytes);
            return Ok(());
        }
        self.flush()?;
        self.write(bytes)
    }

    fn finalize(mut self) -> postcard::Result<D> {
        self.flush()?;
        if self.at != self.to.size() {
            return Err(postcard::Error::SerializeBufferFull);
        }
        Ok(self.to)
    }
}

/// The most bytes of files one [`ToWorker::Analyse`] carries (one item more if a single item is
/// larger): a message is copied whole into the worker's memory, which in wasm32 cannot hold one
/// buffer of 2 GiB or more, and a drop of 3 GB in one message was never analysed (nor said why).
pub const JOB_BYTES: u64 = 512 << 20;

/// Consecutive runs of `sizes` (each item's bytes) whose sum stays within `budget`, each run
/// at least one item: the jobs a drop of items is sent as.
pub fn batches(sizes: &[u64], budget: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0u64);
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && sum.saturating_add(size) > budget {
            out.push(start..i);
            (start, sum) = (i, 0);
        }
        sum = sum.saturating_add(size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Decodes a message made by [`encode`].
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}

/// Name of the bundled default model (its folder under `models/`).
pub const DEFAULT_MODEL: &str = "scarseg-atto-phantom";

/// Which device the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceChoice {
    /// The fastest: WebGPU on a hardware adapter, else the CPU.
    Auto,
    /// WebGPU even on a software adapter.
    WebGpu,
    /// The CPU (burn's flex inside wasm).
    Cpu,
}

/// One thing to analyse: a file, or the files of one DICOM series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// Shown to the user.
    pub name: String,
    /// (file name, bytes); several for a series.
    #[serde(with = "files_as_bytes")]
    pub files: Vec<(String, Vec<u8>)>,
}

impl Item {
    /// Its files' bytes together: what the page holds for it and sends.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// Files' bytes as byte strings: postcard then copies each file at once, where a `Vec<u8>` goes
/// through serde one byte at a time (a study's 165 MiB took 0.3 s of the page's thread to
/// encode, and as long again in the worker to decode). The bytes on the wire are the same: a
/// length, then the bytes.
mod files_as_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(files: &[(String, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(files.iter().map(|(name, bytes)| (name, Bytes::new(bytes))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Vec<u8>)>, D::Error> {
        let files = Vec::<(String, ByteBuf)>::deserialize(d)?;
        Ok(files.into_iter().map(|(n, b)| (n, b.into_vec())).collect())
    }
}

/// Page -> worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// Pick the device (once per worker) and load the default model.
    Start {
        /// The user's device choice.
        device: DeviceChoice,
        /// Why this device, where the page chose it rather than the user (a worker that died
        /// on WebGPU is started again on the CPU); shown on the device line.
        reason: Option<String>,
    },
    /// Replace the model by one the user opened (kept only if it loads).
    LoadModel {
        /// manifest.json bytes.
        #[serde(with = "serde_bytes")]
        manifest: Vec<u8>,
        /// The weights file's bytes.
        #[serde(with = "serde_bytes")]
        weights: Vec<u8>,
    },
    /// Analyse items; results come back per item.
    Analyse {
        /// Job id, for progress and cancel.
        job: u32,
        /// What to analyse.
        items: Vec<Item>,
        /// Postprocessing.
        options: PostprocessOptions,
    },
    /// The teaching view: run the network on one slice with its diagnostics.
    Explain {
        /// Request id (from the same counter as jobs).
        request: u32,
        /// The slice, on its own grid.
        slice: Slice,
    },
    /// The teaching view's noise panel: ScarNet's Monte Carlo protocol on one slice.
    Robustness {
        /// Request id; `Cancel` with it stops after the current run.
        request: u32,
        /// The slice.
        slice: Slice,
        /// Noise SD as a fraction of the slice's intensity range.
        sigma: f64,
        /// Noisy runs.
        iterations: usize,
        /// Postprocessing (the page's threshold).
        options: PostprocessOptions,
    },
    /// Stop a job (or a noise run) after the current slice.
    Cancel {
        /// The job.
        job: u32,
    },
}

/// Worker -> page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's handler is installed: messages sent before this would be lost, so the page
    /// waits for it before sending `Start`.
    Ready,
    /// The device the network runs on, and why.
    Device {
        /// `WebGPU` or `CPU`.
        kind: String,
        /// Adapter name where known.
        adapter: String,
        /// Why this device.
        reason: String,
    },
    /// A model is ready.
    Model {
        /// Its name.
        name: String,
        /// Its weights' sha256.
        sha256: String,
        /// Its input size.
        size: usize,
        /// Model card file, relative to the model folder (default model only).
        card: Option<String>,
        /// The model's default threshold.
        threshold: f32,
        /// Mean scar Dice on its test set, from the manifest's metrics (absent when it was not
        /// evaluated at export), so the page can say how good the model is where it names it.
        test_scar_dice: Option<f64>,
        /// Its 95% confidence interval (lower, upper), where the manifest has one: a mean of
        /// 100 cases is uncertain by a few hundredths, which the page says beside it.
        test_scar_dice_ci95: Option<(f64, f64)>,
        /// The 95% limits of agreement of its burden with the reference on its test set
        /// (lower, upper; percentage points), where the manifest has them: how far a flag
        /// near 5% can be trusted.
        test_burden_limits: Option<(f64, f64)>,
    },
    /// A model could not be loaded; the previous one (if any) stays.
    ModelError {
        /// Why.
        message: String,
    },
    /// One item holds several stacks (a PSIR acquisition's magnitude and real images, a study's
    /// series, a 4-D NIfTI's volumes): each is analysed and shown as a case of its own, and
    /// the messages about it carry its index as `part`.
    Parts {
        /// Job.
        job: u32,
        /// Item index in the job.
        item: usize,
        /// Each part's name, in order; part 0 takes the item's place.
        names: Vec<String>,
    },
    /// Progress of one item.
    Progress {
        /// Job.
        job: u32,
        /// Item index in the job.
        item: usize,
        /// Which of the item's stacks (0 unless it holds several).
        part: usize,
        /// Slices done.
        done: usize,
        /// Slices in the item.
        of: usize,
    },
    /// One item analysed.
    Done {
        /// Job.
        job: u32,
        /// Item index.
        item: usize,
        /// Which of the item's stacks.
        part: usize,
        /// The decoded stack (pixels on their own grid).
        stack: Stack,
        /// The analysis.
        result: StackResult,
        /// Milliseconds per slice spent in the network and readback.
        ms_per_slice: f64,
    },
    /// One item failed; the others go on.
    Failed {
        /// Job.
        job: u32,
        /// Item index.
        item: usize,
        /// Which of the item's stacks (0 for an item that decoded to none).
        part: usize,
        /// Every reason (one per bad file of a series).
        messages: Vec<String>,
    },
    /// The diagnostics of one slice.
    Explanation {
        /// Request id.
        request: u32,
        /// What the network did.
        explanation: Explanation,
        /// Milliseconds the diagnostic forward took.
        ms: f64,
    },
    /// Noise runs done so far.
    RobustnessProgress {
        /// Request id.
        request: u32,
        /// Runs done.
        done: usize,
        /// Runs asked for.
        of: usize,
    },
    /// The noise protocol's result (over the runs done, if cancelled).
    Robustness {
        /// Request id.
        request: u32,
        /// The result.
        result: Robustness,
    },
    /// A teaching request failed.
    TeachingError {
        /// Request id.
        request: u32,
        /// Why.
        message: String,
    },
    /// The job finished (or was cancelled).
    JobEnd {
        /// Job.
        job: u32,
        /// Whether it stopped early.
        cancelled: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msg = ToWorker::Analyse {
            job: 7,
            items: vec![Item {
                name: "a.png".into(),
                files: vec![("a.png".into(), vec![1, 2, 3])],
            }],
            options: PostprocessOptions::default(),
        };
        let back: ToWorker = decode(&encode(&msg).expect("encode")).expect("decode");
        match back {
            ToWorker::Analyse {
                job,
                items,
                options,
            } => {
                assert_eq!(job, 7);
                assert_eq!(items[0].files[0].1, vec![1, 2, 3]);
                assert_eq!(options, PostprocessOptions::default());
            }
            other => panic!("{other:?}"),
        }
        assert!(decode::<FromWorker>(&[255, 255, 255]).is_err());
    }

    /// A destination that keeps what it is given, and each write's length.
    struct Recorded {
        bytes: Vec<u8>,
        writes: Vec<usize>,
    }

    impl Destination for Recorded {
        fn size(&self) -> usize {
            self.bytes.len()
        }

        fn write(&mut self, at: usize, bytes: &[u8]) {
            self.bytes[at..at + bytes.len()].copy_from_slice(bytes);
            self.writes.push(bytes.len());
        }
    }

    fn recorded(size: usize) -> Recorded {
        Recorded {
            bytes: vec![0xEE; size],
            writes: Vec::new(),
        }
    }

    #[test]
    fn a_message_written_into_its_destination_is_the_same_bytes() {
        // Files on either side of the 4 KiB gathered at most, a series of small ones, and a large
        // one: the same bytes as `encode` gives, the large files each written once, whole, and
        // the message's hundreds of small values and files in a few writes, not one each.
        let file = |n: usize, seed: u8| (0..n).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<u8>>();
        let series: Vec<(String, Vec<u8>)> = (0..50)
            .map(|k| (format!("IM{k}"), file(100, k as u8)))
            .collect();
        let msg = ToWorker::Analyse {
            job: 3,
            items: vec![
                Item {
                    name: "empty".into(),
                    files: vec![("empty".into(), vec![])],
                },
                Item {
                    name: "series".into(),
                    files: series,
                },
                Item {
                    name: "edges".into(),
                    files: vec![
                        ("under".into(), file(4095, 1)),
                        ("at".into(), file(4096, 2)),
                        ("large".into(), file(3 << 20, 3)),
                    ],
                },
            ],
            options: PostprocessOptions::default(),
        };
        let expected = encode(&msg).expect("encode");
        let out = encode_into(&msg, recorded).expect("encode_into");
        assert_eq!(out.bytes, expected);
        assert_eq!(out.writes.iter().sum::<usize>(), expected.len());
        for large in [4096, 3 << 20] {
            let whole = out.writes.iter().filter(|&&n| n == large).count();
            assert_eq!(whole, 1, "{large}: {:?}", out.writes);
        }
        assert!(out.writes.len() <= 10, "{:?}", out.writes);

        // A destination of another size than the message is an error, not a short message.
        for wrong in [expected.len() - 1, expected.len() + 1] {
            assert!(encode_into(&msg, |_| recorded(wrong)).is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_drop_is_sent_in_jobs_within_the_budget() {
        assert!(batches(&[], 10).is_empty());
        let all = batches(&[3, 3, 3], 10);
        assert!(all.len() == 1 && all[0] == (0..3), "{all:?}");
        assert_eq!(batches(&[4, 4, 4, 4, 2], 10), [0..2, 2..5]);
        // One item over the budget goes alone; so does the next one that would pass it.
        assert_eq!(batches(&[25, 1, 9, 1], 10), [0..1, 1..3, 3..4]);
        assert_eq!(batches(&[5, 25], 10), [0..1, 1..2]);
        // Exactly at the budget stays together.
        assert_eq!(batches(&[5, 5, 1], 10), [0..2, 2..3]);
        // Twelve 256 MiB volumes: six jobs of two.
        let volumes = vec![256 << 20; 12];
        assert_eq!(batches(&volumes, JOB_BYTES).len(), 6);
    }

    #[test]
    fn file_bytes_go_as_a_length_and_the_bytes() {
        // postcard: the variant's index and each length as a varint, a string's and a byte
        // string's bytes as they are (the wire format a `Vec<u8>` had, byte for byte).
        let msg = ToWorker::Analyse {
            job: 7,
            items: vec![Item {
                name: "a".into(),
                files: vec![("b".into(), vec![1, 2, 200])],
            }],
            options: PostprocessOptions::default(),
        };
        let bytes = encode(&msg).expect("encode");
        let head = [2, 7, 1, 1, b'a', 1, 1, b'b', 3, 1, 2, 200];
        assert_eq!(bytes[..head.len()], head, "{bytes:?}");
        let load = ToWorker::LoadModel {
            manifest: b"{}".to_vec(),
            weights: vec![0; 300],
        };
        let bytes = encode(&load).expect("encode");
        // 300 is 0xAC 0x02 as a varint.
        assert_eq!(bytes[..6], [1, 2, b'{', b'}', 0xAC, 0x02]);
        assert_eq!(bytes.len(), 6 + 300);
        let ToWorker::LoadModel { manifest, weights } = decode(&bytes).expect("decode") else {
            panic!("not LoadModel");
        };
        assert_eq!((manifest, weights), (b"{}".to_vec(), vec![0; 300]));
    }
}
