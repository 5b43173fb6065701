//! What a training forward keeps for the backward ([`TrainTape`]), its
//! options, and the seeds and results of a backward pass.

use std::sync::Arc;

use crate::cells::LayerPass;
use crate::config::StackConfig;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor};
use crate::kernels::dropout::DropoutMask;
use crate::weights::LayerTensors;

/// Options of a training forward pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrainOptions {
    /// Dropout probability on the output of every layer but the last
    /// (PyTorch's `dropout` argument); 0 disables it.
    pub dropout: f32,
    /// Seeds the dropout masks: the same seed gives the same masks.
    pub seed: u64,
}

impl TrainOptions {
    /// Checks that `dropout` is in `[0, 1)`.
    pub fn validated(self) -> Result<Self> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(
                "dropout",
                format!("{} is outside [0, 1)", self.dropout),
            ));
        }
        Ok(self)
    }

    /// The mask applied to layer `l`'s output (none after the last layer).
    pub fn mask(self, l: usize, num_layers: usize) -> Option<DropoutMask> {
        (self.dropout > 0.0 && l + 1 < num_layers).then(|| DropoutMask {
            p: self.dropout,
            seed: (self.seed as u32 ^ (self.seed >> 32) as u32)
                .wrapping_add((l as u32).wrapping_mul(0x9E37_79B9)),
        })
    }
}

/// One layer-direction's saved forward state.
pub(crate) struct TapedLayer {
    /// The layer's input in step order `[T, B, I]` (after dropout).
    pub steps_in: wgpu::Buffer,
    pub pass: LayerPass,
}

/// What a training forward keeps for [`crate::RnnStack::backward`].
pub struct TrainTape {
    pub(crate) gpu: Gpu,
    /// The stack that recorded it ([`crate::cells::DeviceStack::id`]).
    pub(crate) stack: Arc<()>,
    /// Its parameters' versions at the forward, per layer-direction.
    pub(crate) versions: Vec<Vec<(&'static str, u64)>>,
    pub(crate) seq: usize,
    pub(crate) batch: usize,
    pub(crate) lengths: wgpu::Buffer,
    pub(crate) options: TrainOptions,
    /// Index `l*D + d`.
    pub(crate) layers: Vec<TapedLayer>,
}

impl std::fmt::Debug for TrainTape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainTape")
            .field("seq", &self.seq)
            .field("batch", &self.batch)
            .field("layer_directions", &self.layers.len())
            .field("options", &self.options)
            .field("saved_bytes", &self.saved_bytes())
            .finish()
    }
}

impl TrainTape {
    /// Device bytes the tape holds beyond the inference forward's: per layer
    /// and direction the gate activations `[T, B, G*H]`, the states
    /// `[T+1, B, Ho]`, the cell states `[T+1, B, H]` (LSTM), one `[T, B, H]`
    /// history (projected LSTM, GRU) and the layer input in step order
    /// when it is a copy (reverse direction or batch-first).
    pub fn saved_bytes(&self) -> u64 {
        let mut total = 0;
        for t in &self.layers {
            total += t.pass.acts.size() + t.pass.hs.size();
            total += t.pass.c.as_ref().map_or(0, wgpu::Buffer::size);
            total += t.pass.history.as_ref().map_or(0, wgpu::Buffer::size);
        }
        total
    }

    /// `T`: the sequence length of the forward.
    pub fn seq_len(&self) -> usize {
        self.seq
    }
    /// `B`: the batch size of the forward.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// Whether the backward pass overwrites the parameter gradients or adds to
/// them (gradient accumulation over several batches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradMode {
    /// Replace the gradients with this pass's.
    #[default]
    Overwrite,
    /// Add this pass's gradients to the existing ones.
    Accumulate,
}

/// Gradients of one layer-direction's parameters, PyTorch's names and
/// shapes.
pub type LayerGrads = LayerTensors;

/// The cotangents of the forward's outputs; `None` means zeros.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeds<'a> {
    /// Shaped like `output`.
    pub output: Option<&'a GpuTensor>,
    /// `[L*D, B, Ho]`
    pub h_n: Option<&'a GpuTensor>,
    /// `[L*D, B, H]` (LSTM only).
    pub c_n: Option<&'a GpuTensor>,
}

/// Gradients with respect to the forward's inputs.
#[derive(Debug, Clone)]
pub struct InputGrads {
    /// Shaped like the input; zero at padded steps.
    pub input: GpuTensor,
    /// `[L*D, B, Ho]`
    pub h0: GpuTensor,
    /// `[L*D, B, H]` (LSTM only).
    pub c0: Option<GpuTensor>,
}

impl InputGrads {
    /// Zeros shaped like the gradients of a `(T, B)` forward of a stack
    /// with `cfg`.
    pub(crate) fn zeros(gpu: &Gpu, cfg: &StackConfig, seq: usize, batch: usize) -> Result<Self> {
        let (slots, ho, h) = (
            cfg.state_slots(),
            cfg.layer.output_size(),
            cfg.layer.hidden_size,
        );
        let in_shape = cfg.sequence_shape(seq, batch, cfg.layer.input_size);
        Ok(Self {
            input: GpuTensor::zeros(gpu, "grad_input", &in_shape)?,
            h0: GpuTensor::zeros(gpu, "grad_h0", &[slots, batch, ho])?,
            c0: cfg
                .layer
                .cell
                .has_cell_state()
                .then(|| GpuTensor::zeros(gpu, "grad_c0", &[slots, batch, h]))
                .transpose()?,
        })
    }
}

/// Host cotangents for [`crate::RnnStack::train_step_host`]; `None` is zeros.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSeeds<'a> {
    /// Shaped like `output`.
    pub output: Option<&'a [f32]>,
    /// `[L*D, B, Ho]`
    pub h_n: Option<&'a [f32]>,
    /// `[L*D, B, H]` (LSTM only).
    pub c_n: Option<&'a [f32]>,
}
