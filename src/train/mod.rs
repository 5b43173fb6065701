//! Training on the device: a stack's training forward and backward (the
//! tape, seeds and gradients), a dense head ([`Linear`]), the losses, and
//! the optimizers (SGD, Adam) that update everything in place.

mod linear;
mod loss;
mod optim;

pub use crate::model::{HostGradients, HostLayerGrads, StackGrads};
pub use crate::pass::{
    GradMode, HostSeeds, InputGrads, LayerGrads, Seeds, TrainOptions, TrainTape,
};
pub use linear::{Linear, LinearGrads};
pub use loss::{
    cross_entropy_loss, mse_loss, record_cross_entropy_loss, record_mse_loss, ClassTargets, Loss,
    IGNORE_INDEX,
};
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};

// Sits at the top layer: its workload runs every pass.
#[cfg(test)]
mod translation_tests;
