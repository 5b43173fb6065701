//! Recurrent layers (LSTM, peephole LSTM, GRU with the reset gate before or
//! after the recurrent product, tanh/relu RNN) on any GPU through wgpu, every
//! kernel checked against an f64 CPU reference.
//!
//! # From a device to a trained model
//!
//! 1. **A device**: [`Gpu::new`] picks an adapter (`WGPU_RNN_BACKEND`,
//!    `WGPU_RNN_ADAPTER`); [`Gpu::from_wgpu`] runs on your app's device.
//! 2. **A module**: [`RnnConfig`] is one layer (cell, input size, hidden
//!    size, biases, projection, [`CellOptions`]); [`StackConfig`] stacks
//!    it as PyTorch's `nn.LSTM(..., num_layers, bidirectional,
//!    batch_first)` does. [`StackWeights`] holds every layer's weights in
//!    PyTorch's layout: random, from a PyTorch `state_dict`
//!    ([`io::pytorch`]) or from an `.onnx` file ([`io::onnx`]).
//! 3. **Forward**: [`RnnStack`] uploads the weights once; its forward takes
//!    the input `[T, B, I]` (batch-first `[B, T, I]`) and optional `h0`
//!    `[L*D, B, Ho]`, `c0` `[L*D, B, H]` and per-row lengths, and returns
//!    `output` `[T, B, D*Ho]`, `h_n` and `c_n` ([`RnnOutput`] on the device,
//!    [`HostOutput`] on the host).
//! 4. **Training**: a forward that keeps its tape, a dense head, a loss,
//!    the backward pass and an optimizer, all on the device (module
//!    [`train`]).
//! 5. **In your app**: every pass has a `record_*` form for your
//!    `CommandEncoder`, [`GpuTensor::from_buffer`] views your buffers, and
//!    a [`Stream`] keeps the states on the device between frames.
//!
//! A forward pass on the host's data:
//!
//! ```
//! use wgpu_rnn::{CellKind, Direction, Gpu, RnnConfig, RnnStack, StackConfig, StackWeights};
//! let gpu = Gpu::new()?;
//! let layer = RnnConfig::new(CellKind::Lstm, 8, 16)?; // nn.LSTM(8, 16, ...)
//! let config = StackConfig::new(layer)
//!     .with_layers(2)
//!     .with_direction(Direction::Bidirectional);
//! let lstm = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0)?)?;
//! let (seq, batch) = (5, 3);
//! let input = vec![0.5f32; seq * batch * 8]; // [T, B, I]
//! let lengths = [5, 2, 4]; // row b uses steps t < lengths[b]
//! let out = lstm.forward_host(&input, seq, batch, None, None, Some(&lengths))?;
//! assert_eq!(out.output.len(), seq * batch * 2 * 16); // [T, B, D*H]
//! assert_eq!(out.h_n.len(), 4 * batch * 16); // [L*D, B, H]
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```
//!
//! Training: a forward pass that keeps its tape, a head and a loss, the
//! backward pass, and Adam; only the loss is read back:
//!
//! ```
//! use wgpu_rnn::train::{mse_loss, GradMode, Linear, LinearGrads, Optimizer, OptimizerConfig};
//! use wgpu_rnn::train::{Seeds, StackGrads, TrainOptions};
//! use wgpu_rnn::{CellKind, Gpu, GpuTensor, GruReset, RnnConfig, RnnStack, StackConfig, StackWeights};
//! let gpu = Gpu::new()?;
//! let config = StackConfig::new(RnnConfig::new(CellKind::Gru(GruReset::After), 8, 16)?)
//!     .with_layers(2);
//! let gru = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0)?)?;
//! let head = Linear::random(&gpu, (16, 1), 0)?;
//! let (grads, head_grads) = (StackGrads::zeros(&gru)?, LinearGrads::zeros(&head)?);
//! let mut adam = Optimizer::new(&gpu, OptimizerConfig::adam(0.01))?;
//! adam.add_stack(&gru, &grads)?;
//! adam.add_linear(&head, &head_grads)?;
//! let x = GpuTensor::from_slice(&gpu, "x", &vec![0.5f32; 5 * 2 * 8], &[5, 2, 8])?;
//! let target = GpuTensor::from_slice(&gpu, "target", &[1.0; 5 * 2], &[5, 2, 1])?;
//! let mut losses = vec![];
//! for _ in 0..10 {
//!     let options = TrainOptions { dropout: 0.1, seed: 1 }; // between layers
//!     let (out, tape) = gru.forward_train(&x, None, None, None, options)?;
//!     let y = head.forward(&out.output)?; // [T, B, 1]
//!     let loss = mse_loss(&y, &target)?;
//!     let d_out = head.backward(&out.output, &loss.grad, &head_grads, GradMode::Overwrite)?;
//!     let seeds = Seeds { output: Some(&d_out), ..Default::default() };
//!     let d = gru.backward(&tape, seeds, &grads, GradMode::Overwrite)?;
//!     assert_eq!(d.input.shape(), &[5, 2, 8]); // d(loss)/d(input)
//!     adam.step()?;
//!     losses.push(loss.value_host()?);
//! }
//! assert!(losses[9] < losses[0]);
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```
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
//! Errors are one [`Error`] enum whose variants carry the offending values.
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
#[cfg(not(target_arch = "wasm32"))]
pub use gpu::list_adapters;
pub use gpu::{
    describe_adapter, AdapterSelector, Capabilities, Gpu, GpuTensor, KernelProfile, Tuning,
    ENV_ADAPTER, ENV_BACKEND, ENV_IMMEDIATES, ENV_PERSISTENT, ENV_ROW_TEXELS, ENV_STEP_TILES,
    ENV_SUBGROUP_KERNELS, OPTIONAL_FEATURES, TENSOR_USAGE,
};
pub use model::{Rnn, RnnStack, Stream};
pub use pass::{HostOutput, RnnOutput};
pub use weights::{parameter_shapes, LayerTensors, RnnWeights, StackWeights};

/// The README's Rust snippets, compiled and run by `cargo test --doc` (an
/// excerpt of an example is marked `ignore` and checked by
/// `tests/readme.rs` against that example).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;
