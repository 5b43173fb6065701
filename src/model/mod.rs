//! The modules a user holds: [`RnnStack`] (PyTorch's `nn.LSTM` / `nn.GRU` /
//! `nn.RNN`), [`Rnn`] (one layer, one direction), a [`Stream`] of frames
//! through a stack, and a stack's gradients.

mod chunks;
mod fused_stream;
mod grads;
mod rnn;
mod stack;
mod stream;

pub use grads::{HostGradients, HostLayerGrads, StackGrads};
pub use rnn::Rnn;
pub use stack::RnnStack;
pub use stream::Stream;
