//! The long-memory tasks of the demo and the one model that learns them,
//! shared by `wgpu-rnn demo` (native) and the browser page (wasm32): the
//! same seed gives the same batches and the same weights on both.

pub mod tasks;
pub mod trainer;

/// The data generator: Xoshiro256++, the same sequence on every target.
pub type TaskRng = rand_xoshiro::Xoshiro256PlusPlus;

pub use tasks::{Batch, Target, Task, COPY_CLASSES, COPY_SYMBOLS};
pub use trainer::{Setup, Trainer};
