//! A check that a device computes ASE's top-k correctly, run before the network is trusted on
//! it.
//!
//! ASE keeps the k largest activations of every channel (`Tensor::topk`). On the GPU backends
//! burn 0.22.1 computes that with cubek-reduce 0.3.1's top-k reduction, which on some devices
//! returns slots it never filled (`-f32::MAX`) once k passes a bound that depends on the row
//! length, the data and the device. On lavapipe (Vulkan on the CPU) rows of 1,024 values go
//! wrong from a k between 56 and 64, rows of 4,096 and 16,384 from one between 32 and 40
//! (`benchmarks/topk_survey_wgpu.md`, from `cargo run --release -p scarseg-model --example
//! topk_survey`), so rho = 1/64 fails at stage 0 from inputs of 256 x 256 (upstream reports the same
//! class of fault at k = 5 on NVIDIA under Vulkan). A wrong top-k gives wrong or NaN outputs
//! with no error. The check runs the exact top-k problems the network poses at one input size
//! and batch, on rows whose largest values sit at the start, the end, in one block, in ties and
//! at random, and compares them with a sort on the CPU.

use burn::tensor::{Device, Tensor};

use crate::config::{ScarSegNetConfig, ase_k};
use crate::error::ModelError;

/// One top-k problem ASE poses: `rows` rows (batch x channels) of `n` values, keep `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopKProblem {
    /// Encoder stage, 0-3.
    pub stage: usize,
    /// Batch size.
    pub batch: usize,
    /// Channels of the stage.
    pub channels: usize,
    /// Values per row: the stage's height x width.
    pub n: usize,
    /// Values kept.
    pub k: usize,
}

/// The top-k problems of a forward pass of `batch` inputs of `height` x `width` (multiples of
/// 32): one per encoder stage, whose maps are a quarter, an eighth, ... of the input's side.
pub fn ase_topk_problems(
    config: &ScarSegNetConfig,
    batch: usize,
    height: usize,
    width: usize,
) -> Vec<TopKProblem> {
    (0..4)
        .map(|stage| {
            let (h, w) = (height >> (2 + stage), width >> (2 + stage));
            TopKProblem {
                stage,
                batch,
                channels: config.dims[stage],
                n: h * w,
                k: ase_k(config.ase_rho, h, w),
            }
        })
        .collect()
}

/// Row `row` of a check: one of five orderings, chosen so that the largest values sit in every
/// place a partial reduction could lose them.
pub fn check_row(row: usize, n: usize) -> Vec<f32> {
    match row % 5 {
        // Largest at the end.
        0 => (0..n).map(|i| i as f32).collect(),
        // Largest at the start.
        1 => (0..n).map(|i| (n - i) as f32).collect(),
        // The largest eighth in one block at the end, the rest tied at 0.
        2 => (0..n)
            .map(|i| if i >= n - n / 8 { (i + 1) as f32 } else { 0.0 })
            .collect(),
        // All tied.
        3 => vec![1.0; n],
        // Scattered: a fixed hash of the index, in [0, 1).
        _ => (0..n)
            .map(|i| {
                let h =
                    (i as u32 ^ (row as u32).wrapping_mul(0x9e37_79b9)).wrapping_mul(0x85eb_ca6b);
                (h >> 8) as f32 / (1u32 << 24) as f32
            })
            .collect(),
    }
}

/// The k largest of `row`, largest first: the reference the device is checked against.
pub fn reference_topk(row: &[f32], k: usize) -> Vec<f32> {
    let mut sorted = row.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    sorted.truncate(k);
    sorted
}

/// A problem's check rows and, for each, its k largest: built once, then used for the
/// device's input and for every comparison of its results.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Row `r` is `check_row(r, n)`.
    pub rows: Vec<Vec<f32>>,
    /// The k largest of each row, largest first.
    pub top: Vec<Vec<f32>>,
}

impl Expected {
    /// The rows of `problem` (batch x channels of them) and their reference top-k.
    pub fn new(problem: &TopKProblem) -> Self {
        let rows: Vec<Vec<f32>> = (0..problem.batch * problem.channels)
            .map(|r| check_row(r, problem.n))
            .collect();
        let top = rows.iter().map(|r| reference_topk(r, problem.k)).collect();
        Self { rows, top }
    }
}

/// The first row of `found` (rows of `k`) in which `wrong_in_row` counts a wrong slot is the
/// error; a row missing from `found` counts as wholly wrong.
fn first_wrong_row<T>(
    problem: &TopKProblem,
    found: &[T],
    mut wrong_in_row: impl FnMut(usize, &[T]) -> usize,
) -> Result<(), ModelError> {
    let rows = problem.batch * problem.channels;
    for row in 0..rows {
        let wrong = found
            .get(row * problem.k..(row + 1) * problem.k)
            .map_or(problem.k, |got| wrong_in_row(row, got));
        if wrong > 0 {
            return Err(ModelError::DeviceTopK {
                stage: problem.stage,
                n: problem.n,
                k: problem.k,
                rows,
                wrong,
            });
        }
    }
    Ok(())
}

/// Compares a device's top-k values of every row (`found`, rows of `k`) with the reference.
pub fn compare(
    problem: &TopKProblem,
    expected: &Expected,
    found: &[f32],
) -> Result<(), ModelError> {
    first_wrong_row(problem, found, |row, got| {
        got.iter()
            .zip(&expected.top[row])
            .filter(|(a, b)| a != b)
            .count()
    })
}

/// Checks top-k indices (`found`, rows of `k`): each must be in range, distinct within its row,
/// and point at the value the reference keeps in that slot. Ties may be broken either way.
pub fn compare_indices(
    problem: &TopKProblem,
    expected: &Expected,
    found: &[i64],
) -> Result<(), ModelError> {
    first_wrong_row(problem, found, |row, got| {
        let values = &expected.rows[row];
        let mut seen = std::collections::BTreeSet::new();
        got.iter()
            .zip(&expected.top[row])
            .filter(|&(&i, &e)| {
                let ok = usize::try_from(i)
                    .ok()
                    .and_then(|i| values.get(i).map(|&v| (i, v)))
                    .is_some_and(|(i, v)| v == e && seen.insert(i));
                !ok
            })
            .count()
    })
}

fn readback(e: impl std::fmt::Debug) -> ModelError {
    ModelError::DeviceFailed(format!("while the top-k check was read back: {e:?}"))
}

/// Runs every top-k problem of a forward pass of `batch` inputs of `height` x `width` on
/// `device` and checks each against a sort on the CPU: the values alone (what inference
/// computes) and the values with their indices (what training computes, for the gradient; a
/// separate kernel). Asynchronous because the browser reads GPU results back asynchronously;
/// native callers block on it.
pub async fn check_ase_topk(
    config: &ScarSegNetConfig,
    device: &Device,
    batch: usize,
    height: usize,
    width: usize,
) -> Result<(), ModelError> {
    for problem in ase_topk_problems(config, batch, height, width) {
        let expected = Expected::new(&problem);
        let values: Vec<f32> = expected.rows.concat();
        let x = Tensor::<1>::from_floats(values.as_slice(), device).reshape([
            problem.batch,
            problem.channels,
            problem.n,
        ]);
        let found = x
            .clone()
            .topk(problem.k, 2)
            .into_data_async()
            .await
            .map_err(readback)?;
        compare(
            &problem,
            &expected,
            &found.try_into_vec::<f32>().map_err(readback)?,
        )?;
        let (found, indices) = x.topk_with_indices(problem.k, 2);
        let found = found.into_data_async().await.map_err(readback)?;
        compare(
            &problem,
            &expected,
            &found.try_into_vec::<f32>().map_err(readback)?,
        )?;
        let indices = indices.into_data_async().await.map_err(readback)?;
        let indices: Vec<i64> = indices
            .convert::<i64>()
            .try_into_vec::<i64>()
            .map_err(readback)?;
        compare_indices(&problem, &expected, &indices)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;
    use futures_lite::future::block_on;

    #[test]
    fn problems_follow_the_stage_sizes_and_rho() {
        // Atto at 128 x 128: stages of 32, 16, 8 and 4 pixels a side; k = floor(n / 64 + 0.5)
        // at least 1: 1024 / 64 = 16, 256 / 64 = 4, 64 / 64 = 1, 16 / 64 + 0.5 -> 0 -> 1.
        let atto = ScarSegNetConfig::variant(Variant::Atto);
        let p = ase_topk_problems(&atto, 2, 128, 128);
        let got: Vec<_> = p.iter().map(|p| (p.channels, p.n, p.k, p.batch)).collect();
        assert_eq!(
            got,
            [
                (40, 1024, 16, 2),
                (80, 256, 4, 2),
                (160, 64, 1, 2),
                (320, 16, 1, 2)
            ]
        );
    }

    #[test]
    fn the_reference_keeps_the_largest_first() {
        assert_eq!(reference_topk(&[0.1, 0.9, 0.6, 0.2], 2), [0.9, 0.6]);
        // The block row of 16: indices 14 and 15 hold 15 and 16, the rest 0.
        assert_eq!(reference_topk(&check_row(2, 16), 3), [16.0, 15.0, 0.0]);
        assert_eq!(reference_topk(&check_row(3, 5), 2), [1.0, 1.0]);
    }

    #[test]
    fn an_unfilled_slot_is_caught() {
        // What the faulty kernel returns: the right values but one slot left at -f32::MAX.
        let problem = TopKProblem {
            stage: 0,
            batch: 1,
            channels: 2,
            n: 8,
            k: 3,
        };
        let expected = Expected::new(&problem);
        let mut found: Vec<f32> = (0..2)
            .flat_map(|r| reference_topk(&check_row(r, 8), 3))
            .collect();
        assert_eq!(compare(&problem, &expected, &found), Ok(()));
        found[5] = -f32::MAX;
        let err = compare(&problem, &expected, &found).expect_err("unfilled slot");
        assert_eq!(
            err.to_string(),
            "this device computes top-k wrongly (stage 0: the 3 largest of 8 values, 1 of 3 \
             wrong in one of 2 rows), so ASE, and every output, would be wrong on it: use the \
             CPU (flex)"
        );
        // A result of the wrong length is caught too, as wholly wrong.
        assert!(matches!(
            compare(&problem, &expected, &found[..4]),
            Err(ModelError::DeviceTopK { wrong: 3, .. })
        ));

        // Indices: row 0 is ascending 0..8, so its 3 largest are at 7, 6, 5; row 1 descending
        // (8 - i), so at 0, 1, 2. An unfilled slot (u32::MAX), a repeat or an index at another
        // value is caught.
        let right = [7, 6, 5, 0, 1, 2];
        assert_eq!(compare_indices(&problem, &expected, &right), Ok(()));
        for bad in [
            [7, 6, 5, 0, 1, i64::from(u32::MAX)],
            [7, 6, 6, 0, 1, 2],
            [7, 6, 4, 0, 1, 2],
        ] {
            assert!(
                compare_indices(&problem, &expected, &bad).is_err(),
                "{bad:?}"
            );
        }
        // Ties: any distinct indices of the tied value are right.
        let tied = TopKProblem {
            channels: 4,
            ..problem
        };
        let ok = [7, 6, 5, 0, 1, 2, 7, 6, 5, 3, 2, 0];
        assert_eq!(compare_indices(&tied, &Expected::new(&tied), &ok), Ok(()));
    }

    #[test]
    fn the_cpu_passes_for_the_bundled_configuration() {
        let atto = ScarSegNetConfig::variant(Variant::Atto);
        let device = Device::flex();
        for batch in [1, 2] {
            assert_eq!(
                block_on(check_ase_topk(&atto, &device, batch, 128, 128)),
                Ok(())
            );
        }
        // And at a size where lavapipe fails: the CPU's top-k is a sort, right at any k.
        assert_eq!(
            block_on(check_ase_topk(&atto, &device, 1, 512, 512)),
            Ok(())
        );
    }
}
