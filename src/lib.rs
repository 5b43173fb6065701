//! Recurrent layers (LSTM, peephole LSTM, GRU with the reset gate before or
//! after the recurrent product, tanh/relu RNN) on any GPU through wgpu, every
//! kernel checked against an f64 CPU reference.
//!
//! ```no_run
//! use wgpu_rnn::{CellKind, Gpu, Rnn, RnnConfig, RnnWeights};
//! let gpu = Gpu::new()?;
//! let config = RnnConfig::new(CellKind::Lstm, 8, 16)?;
//! let weights = RnnWeights::random(config, 0, 1.0)?;
//! let layer = Rnn::new(&gpu, &weights)?;
//! let (seq, batch) = (5, 2);
//! let input = vec![0.5f32; seq * batch * 8];
//! let out = layer.forward_host(&input, seq, batch, None, None)?;
//! assert_eq!(out.output.len(), seq * batch * 16);
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```
//!
//! Training: a forward pass that keeps its tape, then the backward pass
//! (module [`train`]):
//!
//! ```no_run
//! use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
//! use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};
//! let gpu = Gpu::new()?;
//! let config = StackConfig::new(RnnConfig::new(CellKind::Gru(wgpu_rnn::GruReset::After), 8, 16)?)
//!     .with_layers(2);
//! let gru = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0)?)?;
//! let x = GpuTensor::from_slice(&gpu, "x", &vec![0.5f32; 5 * 2 * 8], &[5, 2, 8])?;
//! let options = TrainOptions { dropout: 0.1, seed: 1 };
//! let (out, tape) = gru.forward_train(&x, None, None, None, options)?;
//! let grads = StackGrads::zeros(&gru)?;
//! let seeds = Seeds { output: Some(&out.output), ..Default::default() }; // d(½|output|²)
//! let d = gru.backward(&tape, seeds, &grads, GradMode::Overwrite)?;
//! assert_eq!(d.input.shape(), &[5, 2, 8]);
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```
//!
//! A whole training loop on the device: [`train::Linear`] (a dense head),
//! [`train::mse_loss`] / [`train::cross_entropy_loss`], and
//! [`train::Optimizer`] (SGD or Adam, global-norm clipping, in place);
//! `examples/train_adding.rs` and the `wgpu-rnn demo` command.
//!
//! Inside an app that already uses wgpu: [`Gpu::from_wgpu`] runs on the
//! app's device (ask for [`Gpu::recommended_features`] and
//! [`Gpu::recommended_limits`] when creating it), every pass has a
//! `record_*` form that records into the app's `CommandEncoder` without
//! submitting or waiting ([`RnnStack::record_forward`],
//! [`RnnStack::record_forward_train`], [`RnnStack::record_backward`], and
//! the training pieces), [`GpuTensor::from_buffer`] views the app's
//! buffers, and a [`Stream`] keeps a stack's states on the device between
//! frames (`examples/in_your_app.rs`, `examples/streaming.rs`).
//!
//! NaN policy: weights and inputs that pass through the host (`RnnWeights`,
//! `GpuTensor::from_slice`, `Rnn::forward_host`) are checked and a NaN or
//! infinity is an [`Error::NonFinite`]. Data that is already on the device is
//! not read back to check; a NaN there propagates through tanh and sigmoid as
//! IEEE arithmetic says (ReLU may turn it into 0, as `max` is allowed to).

#![deny(missing_docs)]

// The layers, bottom to top; a module uses only those above it in this
// list (tests/layering.rs checks it).
mod cell_options;
mod cells;
mod config;
mod error;
mod gpu;
pub mod io;
mod kernels;
mod model;
mod pass;
pub mod reference;
pub mod train;
mod weights;

/// The wgpu this crate is built against: name its types through this path
/// (or depend on the same version) when passing devices and buffers in.
pub use wgpu;

pub use cell_options::{Activation, Activations, CellOptions};
pub use config::{
    CellKind, Direction, GruReset, Nonlinearity, Precision, RnnConfig, Schedule, StackConfig,
};
pub use error::{Error, Result};
pub use gpu::{
    describe_adapter, list_adapters, AdapterSelector, Capabilities, Gpu, GpuTensor, KernelProfile,
    Tuning, ENV_ADAPTER, ENV_BACKEND, ENV_IMMEDIATES, ENV_PERSISTENT, ENV_ROW_TEXELS,
    ENV_STEP_TILES, ENV_SUBGROUP_KERNELS, OPTIONAL_FEATURES, TENSOR_USAGE,
};
pub use model::{Rnn, RnnStack, Stream};
pub use pass::{HostOutput, RnnOutput};
pub use weights::{parameter_shapes, LayerTensors, RnnWeights, StackWeights};
