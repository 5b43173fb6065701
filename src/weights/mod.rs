//! A layer's parameters: on the host ([`RnnWeights`], a stack's
//! [`StackWeights`]) in PyTorch's names and shapes, and on the device
//! ([`LayerTensors`], also the shape of its gradients and optimizer state).

mod device;
mod host;

pub use device::{parameter_shapes, LayerTensors};
pub use host::{RnnWeights, StackWeights};
