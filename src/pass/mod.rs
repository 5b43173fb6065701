//! The passes over a stack's layers: the forward (inference, kept plan,
//! layer wavefront; training with its tape) and the backward. Each records
//! every layer and direction into one encoder and submits once; profiling is
//! the same recording with each kernel family in a timed pass of its own.

mod backward;
mod forward;
mod output;
mod tape;
mod wavefront;

pub(crate) use backward::Backward;
pub(crate) use forward::{check_work, Forward, PlanCache, Source};
pub use output::{HostOutput, RnnOutput};
pub use tape::{GradMode, HostSeeds, InputGrads, LayerGrads, Seeds, TrainOptions, TrainTape};
