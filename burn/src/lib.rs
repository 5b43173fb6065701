//! Burn's recurrent modules on wgpu-rnn's kernels.
//!
//! A Burn 0.22.1 user keeps their `burn::nn::Lstm`, `BiLstm`, `Gru`,
//! `BiGru`, `Rnn` and `BiRnn` modules, records and optimizer, and calls
//! [`Accelerated::forward_accelerated`] where they called `forward`: the
//! same arguments and results, computed by our kernels on Burn's own
//! tensors and wgpu device, with Burn's autodiff carrying the gradients to
//! the input, the initial states and every parameter.
//!
//! ```no_run
//! use burn::nn::LstmConfig;
//! use burn::tensor::{Distribution, Tensor};
//! use wgpu_rnn_burn::Accelerated;
//!
//! let device = wgpu_rnn_burn::init()?; // Burn's wgpu device, shared with our kernels
//! let lstm = LstmConfig::new(16, 32, true).init(&device);
//! let x = Tensor::<3>::random([4, 50, 16], Distribution::Default, &device);
//! let (y, state) = lstm.forward_accelerated(x, None); // was: lstm.forward(x, None)
//! # Ok::<(), wgpu_rnn_burn::Error>(())
//! ```
//!
//! Only devices made by [`init`] or [`adopt`] are shared with our kernels;
//! on any other device, and for options our kernels compute differently
//! from Burn (Burn's `clip`, which clamps states where ONNX's clamps
//! pre-activations; activations we have no kernel for), the call runs
//! Burn's own forward and logs a warning once per reason
//! ([`Accelerated::fallback_reason`] says why beforehand).
#![deny(missing_docs)]

mod device;
mod engine;
mod layout;
mod modules;
mod ops;

pub use device::{adopt, gpu_for, init};
pub use modules::Accelerated;

/// What can fail outside a forward: making or adopting the device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Burn could not create or adopt the wgpu device.
    #[error("wgpu device: {0}")]
    Device(String),
}
