//! The modules a user holds: [`RnnStack`] (PyTorch's `nn.LSTM` / `nn.GRU` /
//! `nn.RNN`), [`Rnn`] (one layer, one direction) and a stack's gradients.

mod grads;
mod rnn;
mod stack;

pub use grads::{HostGradients, HostLayerGrads, StackGrads};
pub use rnn::Rnn;
pub use stack::RnnStack;
