//! `RnnStack`: what PyTorch calls `nn.LSTM` / `nn.GRU` / `nn.RNN` — layers of
//! one cell, each forward, reverse (ONNX `direction=reverse`) or both, with
//! variable-length batches and time- or batch-major tensors. Every layer and
//! direction is recorded into one encoder and submitted once.

use crate::config::{Precision, RnnConfig};
use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::layer::{HostOutput, Rnn, RnnOutput};
use crate::plan::PlanCache;
use crate::profile::KernelProfile;
use crate::tensor::GpuTensor;
use crate::wavefront::Schedule;
use crate::weights::RnnWeights;

/// Which way(s) each layer runs over the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Forward,
    /// From each row's last valid step to the first (ONNX `reverse`).
    Reverse,
    /// Forward and reverse; outputs concatenated `[forward | reverse]`.
    Bidirectional,
}

impl Direction {
    /// `D`: 1, or 2 for bidirectional.
    pub fn count(self) -> usize {
        match self {
            Direction::Bidirectional => 2,
            _ => 1,
        }
    }

    /// Whether direction index `d` (0 or 1) runs backwards in time.
    pub fn is_reverse(self, d: usize) -> bool {
        self == Direction::Reverse || (self == Direction::Bidirectional && d == 1)
    }

    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Reverse => "reverse",
            Direction::Bidirectional => "bidirectional",
        }
    }
}

/// A whole recurrent module: `layer` describes layer 0 (its `input_size` is
/// the module's); deeper layers read `D*Ho` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackConfig {
    pub layer: RnnConfig,
    pub num_layers: usize,
    pub direction: Direction,
    /// Input and output are `[B, T, ...]` instead of `[T, B, ...]` (states
    /// never are).
    pub batch_first: bool,
}

impl StackConfig {
    /// One forward, time-major layer.
    pub fn new(layer: RnnConfig) -> Self {
        Self {
            layer,
            num_layers: 1,
            direction: Direction::Forward,
            batch_first: false,
        }
    }
    pub fn with_layers(mut self, num_layers: usize) -> Self {
        self.num_layers = num_layers;
        self
    }
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }
    pub fn with_batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    pub fn validated(self) -> Result<Self> {
        self.layer.validated()?;
        if self.num_layers == 0 {
            return Err(Error::ZeroSize {
                what: "num_layers".into(),
            });
        }
        Ok(self)
    }

    /// `D`.
    pub fn directions(&self) -> usize {
        self.direction.count()
    }

    /// The config of layer `l` (any direction).
    pub fn layer_config(&self, l: usize) -> RnnConfig {
        let input_size = if l == 0 {
            self.layer.input_size
        } else {
            self.output_size()
        };
        RnnConfig {
            input_size,
            ..self.layer
        }
    }

    /// `D*Ho`: the last axis of the output.
    pub fn output_size(&self) -> usize {
        self.directions() * self.layer.output_size()
    }

    /// The shape of a sequence tensor with `width` values per step and row:
    /// `[T, B, width]`, or `[B, T, width]` batch-first.
    pub fn sequence_shape(&self, seq: usize, batch: usize, width: usize) -> [usize; 3] {
        if self.batch_first {
            [batch, seq, width]
        } else {
            [seq, batch, width]
        }
    }

    /// `L*D`: the first axis of `h0`, `h_n`, `c0`, `c_n`.
    pub fn state_slots(&self) -> usize {
        self.num_layers * self.directions()
    }
}

/// The parameters of every layer and direction, index `l*D + d`.
#[derive(Debug, Clone, PartialEq)]
pub struct StackWeights {
    config: StackConfig,
    layers: Vec<RnnWeights>,
}

impl StackWeights {
    /// Checks that there is one `RnnWeights` per layer and direction, each
    /// with the config that position needs.
    pub fn new(config: StackConfig, layers: Vec<RnnWeights>) -> Result<Self> {
        let config = config.validated()?;
        if layers.len() != config.state_slots() {
            return Err(Error::shape(
                "layer weights (L*D)",
                &[config.state_slots()],
                &[layers.len()],
            ));
        }
        for (i, w) in layers.iter().enumerate() {
            let want = config.layer_config(i / config.directions());
            if *w.config() != want {
                return Err(Error::config(
                    format!(
                        "layer {} direction {}",
                        i / config.directions(),
                        i % config.directions()
                    ),
                    format!(
                        "weights are for {:?}, the module needs {want:?}",
                        w.config()
                    ),
                ));
            }
        }
        Ok(Self { config, layers })
    }

    /// Random weights for every layer (see [`RnnWeights::random`]).
    pub fn random(config: StackConfig, seed: u64, scale: f32) -> Result<Self> {
        let config = config.validated()?;
        let layers = (0..config.state_slots())
            .map(|i| {
                RnnWeights::random(
                    config.layer_config(i / config.directions()),
                    seed.wrapping_add(i as u64 * 7919),
                    scale,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(config, layers)
    }

    /// Every layer's [`RnnWeights::rounded_for`] `precision`.
    pub fn rounded_for(self, precision: Precision) -> Result<Self> {
        let layers = self
            .layers
            .into_iter()
            .map(|w| w.rounded_for(precision))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, ..self })
    }

    pub fn config(&self) -> &StackConfig {
        &self.config
    }
    /// Weights of layer `l`, direction `d`.
    pub fn layer(&self, l: usize, d: usize) -> &RnnWeights {
        &self.layers[l * self.config.directions() + d]
    }
    pub fn layers(&self) -> &[RnnWeights] {
        &self.layers
    }
}

/// Checks `lengths` (one per batch row, each in `1..=seq`).
pub fn validate_lengths(lengths: &[usize], seq: usize, batch: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(Error::shape("lengths", &[batch], &[lengths.len()]));
    }
    match lengths.iter().position(|&l| l == 0 || l > seq) {
        None => Ok(()),
        Some(index) => Err(Error::Length {
            index,
            value: lengths[index] as i64,
            seq,
        }),
    }
}

/// A recurrent module on the GPU.
pub struct RnnStack {
    pub(crate) gpu: Gpu,
    pub(crate) config: StackConfig,
    pub(crate) layers: Vec<Rnn>,
    /// The last inference forward's buffers and dispatches.
    pub(crate) plan: PlanCache,
    pub(crate) schedule: Schedule,
}

impl RnnStack {
    /// Uploads every layer's weights.
    pub fn new(gpu: &Gpu, weights: &StackWeights) -> Result<Self> {
        Self::with_precision(gpu, weights, Precision::F32)
    }

    /// [`RnnStack::new`] with every layer's recurrent weights stored at
    /// `precision` (see [`Rnn::with_precision`]).
    pub fn with_precision(gpu: &Gpu, weights: &StackWeights, precision: Precision) -> Result<Self> {
        let layers = weights
            .layers
            .iter()
            .map(|w| Rnn::with_precision(gpu, w, precision))
            .collect::<Result<Vec<_>>>()?;
        Self::from_layers(gpu, weights.config, layers)
    }

    pub(crate) fn from_layers(gpu: &Gpu, config: StackConfig, layers: Vec<Rnn>) -> Result<Self> {
        Self::with_plan_cache(gpu, config, layers, PlanCache::default())
    }

    /// [`RnnStack::from_layers`] keeping its forward plans in `plan` (a
    /// layer's own, so that [`Rnn::forward`] reuses them too).
    pub(crate) fn with_plan_cache(
        gpu: &Gpu,
        config: StackConfig,
        layers: Vec<Rnn>,
        plan: PlanCache,
    ) -> Result<Self> {
        let config = config.validated()?;
        debug_assert_eq!(layers.len(), config.state_slots());
        Ok(Self {
            gpu: gpu.clone(),
            config,
            layers,
            plan,
            schedule: Schedule::Layered,
        })
    }

    /// This stack running its inference forwards in `schedule` (training
    /// forwards always run [`Schedule::Layered`]). Refuses a schedule the
    /// configuration cannot run.
    pub fn with_schedule(mut self, schedule: Schedule) -> Result<Self> {
        schedule.check(&self.config)?;
        self.release_plan();
        self.schedule = schedule;
        Ok(self)
    }

    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// [`RnnStack::check_tensor`] for a cell-state tensor (`c0`,
    /// `grad_c_n`), which only an LSTM has.
    pub(crate) fn check_cell_state(
        &self,
        what: &str,
        t: &GpuTensor,
        expected: &[usize],
    ) -> Result<()> {
        let cell = self.config.layer.cell;
        if !cell.has_cell_state() {
            return Err(Error::config(
                what,
                format!("given, but a {} has no cell state", cell.name()),
            ));
        }
        self.check_tensor(what, t, expected)
    }

    /// Checks that `t` lives on this module's device and has shape `expected`.
    pub(crate) fn check_tensor(&self, what: &str, t: &GpuTensor, expected: &[usize]) -> Result<()> {
        t.check(&self.gpu, what, "layer", expected)
    }

    /// Runs the module over `input` `[T, B, I]` (`[B, T, I]` batch-first)
    /// from `h0` `[L*D, B, Ho]` / `c0` `[L*D, B, H]` (zeros when `None`; `c0`
    /// only for LSTMs). With `lengths`, row `b` uses steps `t < lengths[b]`
    /// (any order), a reverse direction starts at the row's own last valid
    /// step, the output is zero past it and `h_n`/`c_n` are the states after
    /// it. One submit, no read-back. The call's buffers and bind groups are
    /// kept for the next call with the same sizes and the same `input`
    /// tensor (write new data into it with [`GpuTensor::write`]); another
    /// shape, a training forward or [`RnnStack::release_plan`] frees them.
    pub fn forward(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
    ) -> Result<RnnOutput> {
        Ok(self.run_forward(input, h0, c0, lengths, false, None)?.0)
    }

    /// [`RnnStack::forward`] with each kernel family (gather, input GEMM,
    /// step kernels, scatter) in passes of its own, timed with timestamp
    /// queries; waits for the GPU. Needs the `TIMESTAMP_QUERY` feature.
    pub fn forward_profiled(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
    ) -> Result<(RnnOutput, KernelProfile)> {
        let (out, profile, _) = self.run_forward(input, h0, c0, lengths, true, None)?;
        Ok((out, profile.expect("profiled run returns a profile")))
    }

    /// Frees the buffers the last inference forward kept for the next one
    /// (see [`RnnStack::forward`]); the next forward plans afresh.
    pub fn release_plan(&self) {
        self.plan.release();
    }

    /// Uploads host data, runs [`RnnStack::forward`] and reads everything
    /// back. `input` is `[T, B, I]` (`[B, T, I]` batch-first), `h0` / `c0`
    /// `[L*D, B, Ho]` / `[L*D, B, H]`. NaN or infinite inputs are refused with
    /// [`Error::NonFinite`]. The input goes into a device tensor kept for
    /// the next call of the same shape, so repeated calls reuse the
    /// forward's plan.
    pub fn forward_host(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
    ) -> Result<HostOutput> {
        let gpu = &self.gpu;
        let cfg = self.config;
        let in_shape = cfg.sequence_shape(seq_len, batch, cfg.layer.input_size);
        // Finiteness is checked by the uploads, lengths by `forward`.
        let slots = cfg.state_slots();
        let mut kept = self.plan.host_input();
        let input = match kept.as_ref() {
            Some(t) if t.shape() == in_shape => {
                t.write_as("input", input)?;
                t.clone()
            }
            _ => {
                *kept = None;
                let t = GpuTensor::from_slice(gpu, "input", input, &in_shape)?;
                kept.insert(t).clone()
            }
        };
        let h0 = h0
            .map(|d| GpuTensor::from_slice(gpu, "h0", d, &[slots, batch, cfg.layer.output_size()]))
            .transpose()?;
        let c0 = c0
            .map(|d| GpuTensor::from_slice(gpu, "c0", d, &[slots, batch, cfg.layer.hidden_size]))
            .transpose()?;
        self.forward(&input, h0.as_ref(), c0.as_ref(), lengths)?
            .to_host()
    }
}
