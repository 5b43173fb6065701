//! The long-memory tasks, generated on the fly from a seeded generator.
//!
//! - Adding problem (Hochreiter & Schmidhuber 1997): `T` steps of
//!   (value ~ U(0,1), marker); one marker in each half of the sequence; the
//!   target is the sum of the two marked values. Predicting the mean (1) gives
//!   MSE 1/6 ≈ 0.167; remembering only the second value gives 1/12 ≈ 0.083.
//! - Copy (delayed recall): `K` symbols out of `C`, then `T` blank steps whose
//!   last is a recall marker, then `K` steps in which the model must emit the
//!   symbols in order (cross-entropy on those steps only). Guessing gives
//!   `ln C`.

use rand::Rng;

use crate::TaskRng;

use wgpu_rnn::train::IGNORE_INDEX;

/// Symbols remembered by the copy task.
pub const COPY_SYMBOLS: usize = 3;
/// Alphabet of the copy task.
pub const COPY_CLASSES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    Adding,
    Copy,
}

/// One batch, step-major: `inputs` `[steps, B, features]`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub inputs: Vec<f32>,
    pub target: Target,
}

#[derive(Debug, Clone)]
pub enum Target {
    /// `[B]`: the sum the model's last state must produce.
    Sums(Vec<f32>),
    /// `[steps * B]`: the class per step, [`IGNORE_INDEX`] where nothing is asked.
    Classes(Vec<u32>),
}

impl Task {
    pub const ALL: [Task; 2] = [Task::Adding, Task::Copy];

    pub fn name(self) -> &'static str {
        match self {
            Task::Adding => "adding",
            Task::Copy => "copy",
        }
    }

    /// Features per step.
    pub fn features(self) -> usize {
        match self {
            Task::Adding => 2,
            // One-hot: the symbols, blank, recall marker.
            Task::Copy => COPY_CLASSES + 2,
        }
    }

    /// Outputs of the dense head: one sum, or a class score per symbol.
    pub fn outputs(self) -> usize {
        match self {
            Task::Adding => 1,
            Task::Copy => COPY_CLASSES,
        }
    }

    /// Steps of a sequence of length parameter `t`.
    pub fn steps(self, t: usize) -> usize {
        match self {
            Task::Adding => t,
            Task::Copy => t + 2 * COPY_SYMBOLS,
        }
    }

    /// The loss of a model that has learned nothing but the output's
    /// statistics.
    pub fn chance_loss(self) -> f64 {
        match self {
            Task::Adding => 1.0 / 6.0,
            Task::Copy => (COPY_CLASSES as f64).ln(),
        }
    }

    /// The loss below which the task counts as solved: adding below 0.05
    /// (well under the 0.083 of remembering only the second value); copy
    /// below a tenth of chance (about 96% of symbols right).
    pub fn solved_below(self) -> f64 {
        match self {
            Task::Adding => 0.05,
            Task::Copy => 0.1 * self.chance_loss(),
        }
    }

    /// The data generator's seed of a run of this task at length `t` from
    /// the run's `seed`: runs are reproducible alone, and every cell of a
    /// (task, t) sees the same batches (in the demo and on the page).
    pub fn data_seed(self, seed: u64, t: usize) -> u64 {
        seed.wrapping_mul(1_000_003)
            .wrapping_add(t as u64 * 2 + self as u64)
    }

    /// A fresh batch of `batch` sequences with length parameter `t >= 2`.
    pub fn batch(self, t: usize, batch: usize, rng: &mut TaskRng) -> Batch {
        match self {
            Task::Adding => adding(t, batch, rng),
            Task::Copy => copy(t, batch, rng),
        }
    }
}

fn adding(t: usize, batch: usize, rng: &mut TaskRng) -> Batch {
    let mut inputs = vec![0.0f32; t * batch * 2];
    let mut sums = vec![0.0f32; batch];
    let half = t / 2;
    for (b, sum) in sums.iter_mut().enumerate() {
        for s in 0..t {
            inputs[(s * batch + b) * 2] = rng.random_range(0.0..1.0);
        }
        let first = rng.random_range(0..half.max(1));
        let second = rng.random_range(half..t).max(first + 1).min(t - 1);
        for s in [first, second] {
            inputs[(s * batch + b) * 2 + 1] = 1.0;
            *sum += inputs[(s * batch + b) * 2];
        }
    }
    Batch {
        inputs,
        target: Target::Sums(sums),
    }
}

fn copy(t: usize, batch: usize, rng: &mut TaskRng) -> Batch {
    let (k, c) = (COPY_SYMBOLS, COPY_CLASSES);
    let steps = Task::Copy.steps(t);
    let features = Task::Copy.features();
    let (blank, recall) = (c, c + 1);
    let mut inputs = vec![0.0f32; steps * batch * features];
    let mut classes = vec![IGNORE_INDEX; steps * batch];
    for b in 0..batch {
        let symbols: Vec<usize> = (0..k).map(|_| rng.random_range(0..c)).collect();
        for s in 0..steps {
            let feature = if s < k {
                symbols[s]
            } else if s == k + t - 1 {
                recall
            } else {
                blank
            };
            inputs[(s * batch + b) * features + feature] = 1.0;
            if s >= k + t {
                classes[s * batch + b] = symbols[s - k - t] as u32;
            }
        }
    }
    Batch {
        inputs,
        target: Target::Classes(classes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn adding_marks_two_values_one_per_half() {
        let mut rng = TaskRng::seed_from_u64(1);
        let (t, batch) = (10, 50);
        let Batch {
            inputs,
            target: Target::Sums(sums),
        } = Task::Adding.batch(t, batch, &mut rng)
        else {
            panic!("adding has sums");
        };
        for b in 0..batch {
            let marked: Vec<usize> = (0..t)
                .filter(|&s| inputs[(s * batch + b) * 2 + 1] == 1.0)
                .collect();
            assert_eq!(marked.len(), 2, "row {b}");
            assert!(
                marked[0] < t / 2 && marked[1] >= t / 2,
                "row {b}: {marked:?}"
            );
            let sum: f32 = marked.iter().map(|&s| inputs[(s * batch + b) * 2]).sum();
            assert_eq!(sum, sums[b]);
        }
    }

    #[test]
    fn copy_asks_for_the_symbols_after_the_delay() {
        let mut rng = TaskRng::seed_from_u64(2);
        let (t, batch, f) = (6, 3, Task::Copy.features());
        let Batch {
            inputs,
            target: Target::Classes(classes),
        } = Task::Copy.batch(t, batch, &mut rng)
        else {
            panic!("copy has classes");
        };
        let steps = Task::Copy.steps(t);
        for b in 0..batch {
            let hot = |s: usize| {
                (0..f)
                    .position(|i| inputs[(s * batch + b) * f + i] == 1.0)
                    .unwrap()
            };
            for i in 0..COPY_SYMBOLS {
                assert_eq!(classes[(COPY_SYMBOLS + t + i) * batch + b] as usize, hot(i));
            }
            assert_eq!(hot(COPY_SYMBOLS + t - 1), COPY_CLASSES + 1, "recall marker");
            let asked = (0..steps)
                .filter(|&s| classes[s * batch + b] != IGNORE_INDEX)
                .count();
            assert_eq!(asked, COPY_SYMBOLS);
        }
    }
}
