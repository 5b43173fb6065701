//! The recurrent cells on the device: how a layer holds its weights for the
//! kernels ([`Layer`], [`packing`]) and the stack of layers a pass runs over.

mod layer;
pub(crate) mod packing;
mod stack;

pub(crate) use layer::{weight_buffer, InputProjection, Layer, LayerPass};
pub(crate) use stack::DeviceStack;
