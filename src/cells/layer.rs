//! [`Layer`]: one recurrent layer in one direction with its weights on the
//! device, in PyTorch's layout and in the layouts its forward kernels read.
//! It builds its part of a pass (input projection, the time loop); the
//! passes in `crate::pass` record those parts into one encoder.

use std::ops::Range;
use std::sync::Arc;

use super::{cell_family, function_constants};
use crate::config::{CellKind, GruReset, Precision, RnnConfig};
use crate::error::{Error, Result};
use crate::gpu::tensor::storage_buffer;
use crate::gpu::Gpu;
use crate::kernels::dispatch::{submit_all, Dispatch};
use crate::kernels::gemm::{gemm, GemmLayout, GemmParams, TILE};
use crate::kernels::repack::{add_rows, interleave_gates};
use crate::kernels::step::{
    persistent_pieces, StageRows, StepOffsets, StepStage, Steps, PERSISTENT_MAX_UNITS,
};
use crate::kernels::texels::TexelMatrix;
use crate::kernels::{flag, precision_constants, Kernel};
use crate::weights::LayerTensors;
use crate::weights::RnnWeights;

/// A recurrent layer (one direction) on the GPU. Cloning shares the device
/// buffers.
#[derive(Clone)]
pub(crate) struct Layer {
    gpu: Gpu,
    config: RnnConfig,
    /// How `recurrent` and `projection` hold their values.
    precision: Precision,
    /// The parameters in PyTorch's layout: what gradients, optimizers and
    /// checkpoints use, and what the backward kernels read (row-major, so
    /// that `Wᵀ v` reads neighbouring addresses in neighbouring invocations).
    pub(crate) params: LayerTensors,
    // What the forward kernels read, rebuilt from `params` by `repack`:
    /// `[G*H]`, see [`packing::folded_bias`].
    bias: wgpu::Buffer,
    /// The step kernel's recurrent weights, see [`packing::recurrent_weights`].
    pub(crate) recurrent: Vec<wgpu::Buffer>,
    /// LSTM: peepholes `[3, H]` (the parameter itself for a peephole LSTM,
    /// zeros for a plain one); reset-after GRU: `b_hn`.
    pub(crate) extra: Option<wgpu::Buffer>,
    /// `weight_hr` transposed, `[H, Ho]` (projected LSTM).
    projection: Option<wgpu::Buffer>,
    /// The weights of the subgroup step kernels as texels (see
    /// [`LayerTexels`]).
    pub(crate) texels: LayerTexels,
    repack: Arc<Vec<Dispatch>>,
}

/// What the subgroup step kernels (CPU adapters with 8-lane subgroups) read
/// their weights from; `None` elsewhere, and where a matrix passes the
/// texture size limit (its steps then run the plain kernels).
#[derive(Clone, Default)]
pub(crate) struct LayerTexels {
    /// The forward step's recurrent weights, `[Ho, width*H]` for each
    /// buffer of [`super::CellFamily::recurrent_layout`] (one per step stage).
    pub forward: Vec<TexelMatrix>,
    /// `weight_hh` `[G*H, Ho]`, for the backward step.
    pub backward: Option<TexelMatrix>,
    /// `weight_hr` transposed, `[H, Ho]`, for the projection step.
    pub projection: Option<TexelMatrix>,
    /// `weight_hr` `[Ho, H]`, for the projection's backward step.
    pub projection_backward: Option<TexelMatrix>,
}

impl LayerTexels {
    /// The texels of a layer whose recurrent weights are `precision`; an
    /// f16 layer (inference only) has no backward texels.
    fn new(gpu: &Gpu, config: &RnnConfig, precision: Precision) -> Result<Self> {
        if !gpu.tuning().subgroup_kernels() {
            return Ok(Self::default());
        }
        let (h, ho) = (config.hidden_size, config.output_size());
        let texels = |what: &str, rows: usize, cols: usize, precision| {
            TexelMatrix::fits(gpu, rows, cols)
                .then(|| TexelMatrix::with_precision(gpu, what, rows, cols, precision))
                .transpose()
        };
        // All of them or none: a stage without its texels runs the plain
        // kernel.
        let forward = cell_family(config.cell)
            .recurrent_layout()
            .iter()
            .map(|(_, width)| texels("recurrent weights", ho, width * h, precision))
            .collect::<Result<Option<Vec<_>>>>()?
            .unwrap_or_default();
        let backward = match precision {
            Precision::F32 => texels("weight_hh", config.gate_rows(), ho, precision)?,
            Precision::F16 => None,
        };
        let projection = match config.proj_size {
            Some(_) => texels("weight_hr transposed", h, ho, precision)?,
            None => None,
        };
        let projection_backward = match (config.proj_size, precision) {
            (Some(_), Precision::F32) => texels("weight_hr", ho, h, precision)?,
            _ => None,
        };
        Ok(Self {
            forward,
            backward,
            projection,
            projection_backward,
        })
    }
}

/// Everything one direction of one layer needs to record a forward pass.
pub(crate) struct LayerPass {
    gemms: Vec<(Range<usize>, Dispatch)>,
    steps: Steps,
    /// `[T+1, B, Ho]`: slot 0 is h0, slot s+1 the state after step s.
    pub hs: wgpu::Buffer,
    /// `[B, H]` cell state (LSTM); `[T+1, B, H]` in training, slot 0 c0.
    pub c: Option<wgpu::Buffer>,
    /// Gate pre-activations `[chunk, B, G*H]`; in training `[T, B, G*H]`
    /// holding the activations the step kernels write over them.
    pub acts: wgpu::Buffer,
    /// Training: `[T, B, H]` o*tanh(c) (projected LSTM, zero at finished
    /// steps), r*h (reset-before GRU) or W_hn h + b_hn (reset-after GRU).
    pub history: Option<wgpu::Buffer>,
    // Scratch the bind groups refer to; kept alive with them.
    _scratch: Vec<wgpu::Buffer>,
}

impl LayerPass {
    /// The input-projection GEMM of each chunk of steps.
    pub fn chunks(&self) -> &[(Range<usize>, Dispatch)] {
        &self.gemms
    }

    /// Records steps `steps` (a whole chunk of [`LayerPass::chunks`]).
    pub fn record_steps(&self, pass: &mut wgpu::ComputePass<'_>, steps: Range<usize>) {
        self.steps.record(pass, steps);
    }
}

impl Layer {
    /// Uploads `weights` and arranges them for the kernels, with the recurrent weights stored at `precision`; the
    /// layer holds `weights.rounded_for(precision)`. An adapter without
    /// `SHADER_F16` refuses f16 when the repacking kernels are compiled
    /// (`Gpu::pipeline`).
    pub fn with_precision(gpu: &Gpu, weights: &RnnWeights, precision: Precision) -> Result<Self> {
        let weights = &weights.clone().rounded_for(precision)?;
        let config = *weights.config();
        let params = LayerTensors::upload(gpu, weights)?;
        let (h, ho) = (config.hidden_size, config.output_size());
        let weight_buffer = |what: &str, n: usize| weight_buffer(gpu, what, n, precision);
        let family = cell_family(config.cell);
        let recurrent = family
            .recurrent_layout()
            .iter()
            .map(|(_, width)| weight_buffer("recurrent weights", ho * h * width))
            .collect::<Result<Vec<_>>>()?;
        let extra = family.extra(gpu, &params, h)?;
        let projection = params
            .weight_hr
            .as_ref()
            .map(|_| weight_buffer("weight_hr transposed", h * ho))
            .transpose()?;
        let bias = storage_buffer(gpu, "folded bias", config.gate_rows())?;
        let texels = LayerTexels::new(gpu, &config, precision)?;
        let repack = Arc::new(repack_dispatches(
            gpu,
            (&config, precision),
            &params,
            &bias,
            &recurrent,
            extra.as_ref(),
            projection.as_ref(),
            &texels,
        )?);
        let layer = Self {
            gpu: gpu.clone(),
            config,
            precision,
            params,
            bias,
            recurrent,
            extra,
            projection,
            texels,
            repack,
        };
        layer.repack()?;
        Ok(layer)
    }

    /// The parameters in PyTorch's layout. Writing to them (an optimizer
    /// step) takes effect in the forward pass after [`Layer::repack`].
    pub fn parameters(&self) -> &LayerTensors {
        &self.params
    }

    /// Rebuilds the forward kernels' layouts from [`Layer::parameters`]. An
    /// f16 layer converts on the device without a range check: what is
    /// written into its parameters must already be f16 values (see
    /// [`RnnWeights::rounded_for`]); an f16 layer is for inference, built
    /// from host weights.
    pub fn repack(&self) -> Result<()> {
        submit_all(
            &self.gpu,
            "repacking weights",
            "weight rebuild",
            self.repack.iter(),
        )
    }

    /// The dispatches of [`Layer::repack`], to record after an update.
    /// `[G*H]`: `b_ih + b_hh` as the input GEMM adds it (see
    /// [`packing::folded_bias`]).
    pub(crate) fn folded_bias(&self) -> &wgpu::Buffer {
        &self.bias
    }

    pub(crate) fn repack_dispatches(&self) -> &[Dispatch] {
        &self.repack
    }

    /// Reads the parameters back.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_weights(&self) -> Result<RnnWeights> {
        self.params.to_weights(self.config)
    }

    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    /// How the layer stores its recurrent weights.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Bytes of device memory the step kernels' recurrent weights take
    /// (`weight_hh`, and `weight_hr`, in their kernel layouts): half as
    /// many for an f16 layer.
    pub fn recurrent_weight_bytes(&self) -> u64 {
        self.recurrent
            .iter()
            .chain(&self.projection)
            .map(wgpu::Buffer::size)
            .sum()
    }

    /// Builds the dispatches of one forward pass over `steps_input`
    /// `[T, B, I]` in step order, masked by `lengths` `[B]` (u32). `train`
    /// keeps what the backward pass reads (see [`LayerPass`]); its gate
    /// activations of all steps must fit one storage binding.
    pub(crate) fn prepare(
        &self,
        seq: usize,
        batch: usize,
        steps_input: &wgpu::Buffer,
        lengths: &wgpu::Buffer,
        train: bool,
    ) -> Result<LayerPass> {
        if train && self.precision != Precision::F32 {
            // The backward kernels and the optimizer work on f32 weights; a
            // tape of f16 forward steps would not match their gradients.
            return Err(Error::config(
                "precision f16",
                "an f16 layer is for inference; train with an f32 layer (Precision::F32)",
            ));
        }
        let cfg = self.config;
        let gpu = &self.gpu;
        let (g, h, ho) = (cfg.gates(), cfg.hidden_size, cfg.output_size());
        let hs = storage_buffer(gpu, "hidden states [T+1, B, Ho]", (seq + 1) * batch * ho)?;
        let InputProjection { chunk, xg, gemms } =
            self.input_projection(seq, batch, steps_input, train)?;
        let offsets: Vec<StepOffsets> = (0..seq)
            .map(|s| StepOffsets {
                xg_offset: ((s % chunk) * batch * g * h) as u32,
                h_prev_offset: (s * batch * ho) as u32,
                h_out_offset: ((s + 1) * batch * ho) as u32,
            })
            .collect();

        // Per-call state the step kernels write besides `hs`: one [B, H]
        // block, or in training one per step (plus c0 for the cell state).
        let bh = batch * h;
        let steps_of = |n: usize| if train { n } else { 1 };
        let c = cfg
            .cell
            .has_cell_state()
            .then(|| storage_buffer(gpu, "cell state", steps_of(seq + 1) * bh))
            .transpose()?;
        let scratch = |what: &str| storage_buffer(gpu, what, steps_of(seq) * bh);
        let projected = self.projection.is_some();
        // The projection's input o*tanh(c), or what the backward pass reads.
        let family = cell_family(cfg.cell);
        let wants = family.step_scratch(projected, train);
        let history = wants.history.map(scratch).transpose()?;
        let bound_history = match (&history, wants.binds_history) {
            (Some(b), _) => Some(b.clone()),
            (None, true) => Some(storage_buffer(gpu, "unused binding", 1)?),
            (None, false) => None,
        };
        let z = wants.z.then(|| scratch("z")).transpose()?;
        let mut buffers: Vec<&wgpu::Buffer> = vec![&xg];
        buffers.extend(&self.recurrent);
        buffers.extend(&self.extra);
        buffers.push(lengths);
        buffers.push(&hs);
        buffers.extend(&c);
        buffers.extend(&bound_history);
        buffers.extend(&z);
        // Stage i's weights are recurrent[i]; the reset-before GRU's second
        // stage reads the r*h the first wrote.
        let mut stages: Vec<StepStage> = family
            .step_kernels(projected)
            .into_iter()
            .enumerate()
            .map(|(i, (kernel, mut constants))| StepStage {
                kernel,
                constants: {
                    constants.extend(precision_constants(self.precision));
                    constants.extend(function_constants(&cfg));
                    constants
                },
                units: h as u32,
                rec: ho as u32,
                buffers: buffers.clone(),
                texels: self.texels.forward.get(i),
                rows: Some(match (i, &history) {
                    (1, Some(rh)) => StageRows::History(rh),
                    _ => StageRows::PreviousState(&hs),
                }),
            })
            .collect();
        if let (Some(w_hr), Some(m)) = (&self.projection, &history) {
            stages.push(StepStage {
                kernel: Kernel::ProjectionStep,
                constants: precision_constants(self.precision),
                units: ho as u32,
                rec: h as u32,
                buffers: vec![w_hr, lengths, &hs, m],
                texels: self.texels.projection.as_ref(),
                rows: Some(StageRows::History(m)),
            });
        }
        let steps = if self.runs_persistent(batch) {
            let chunks: Vec<_> = gemms
                .iter()
                .flat_map(|(range, _)| persistent_pieces(range.clone(), h))
                .map(|piece| {
                    let first = offsets[piece.start];
                    (piece, first)
                })
                .collect();
            let mut cell = function_constants(&cfg);
            cell.push(("PEEPHOLE", flag(cfg.cell == CellKind::PeepholeLstm)));
            Steps::persistent(
                gpu,
                batch as u32,
                h as u32,
                (&cell, train),
                &chunks,
                &buffers,
                (self.precision, self.texels.forward.first()),
            )?
        } else {
            Steps::new(gpu, batch as u32, &offsets, stages, train)?
        };
        Ok(LayerPass {
            gemms,
            steps,
            hs,
            c,
            acts: xg,
            history: history.filter(|_| train),
            _scratch: bound_history.into_iter().chain(z).collect(),
        })
    }

    /// Whether this layer's steps at `batch` rows run the persistent LSTM
    /// kernels (forward, and in training backward): an LSTM without
    /// projection of at most `PERSISTENT_MAX_UNITS` units where
    /// [`Gpu::persistent_steps`] chooses them.
    pub(crate) fn runs_persistent(&self, batch: usize) -> bool {
        let cfg = self.config;
        matches!(cfg.cell, CellKind::Lstm | CellKind::PeepholeLstm)
            && cfg.proj_size.is_none()
            && cfg.hidden_size <= PERSISTENT_MAX_UNITS
            && self.gpu.tuning().persistent_steps(batch, cfg.hidden_size)
    }

    /// The input GEMMs of a forward over `steps_input` `[T, B, I]` (step
    /// order): `x W_ih^T` plus the folded biases into `xg`, one chunk of
    /// steps per GEMM. Training keeps every step's activations: one chunk
    /// (a sequence over the binding limit is refused by the allocation).
    pub(crate) fn input_projection(
        &self,
        seq: usize,
        batch: usize,
        steps_input: &wgpu::Buffer,
        train: bool,
    ) -> Result<InputProjection> {
        let cfg = self.config;
        let gpu = &self.gpu;
        let rows = cfg.gate_rows();
        let chunk = if train {
            seq
        } else {
            self.steps_per_chunk(seq, batch)?
        };
        let xg = storage_buffer(
            gpu,
            "gate pre-activations [steps, B, G*H]",
            chunk * batch * rows,
        )?;
        let gemms = (0..seq)
            .step_by(chunk)
            .map(|start| {
                let range = start..(start + chunk).min(seq);
                let params = GemmParams {
                    a_offset: (start * batch * cfg.input_size) as u32,
                    ..GemmParams::new(range.len() * batch, rows, cfg.input_size)
                };
                Ok((
                    range,
                    gemm(
                        gpu,
                        params,
                        GemmLayout::default(),
                        steps_input,
                        self.params.weight_ih.buffer(),
                        &self.bias,
                        &xg,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(InputProjection { chunk, xg, gemms })
    }

    /// How many time steps' gate pre-activations fit one storage binding and
    /// one GEMM dispatch. Long sequences are projected chunk by chunk.
    fn steps_per_chunk(&self, seq: usize, batch: usize) -> Result<usize> {
        let limits = self.gpu.limits();
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let step_bytes = (batch * self.config.gate_rows() * 4) as u64;
        let by_memory = (binding / step_bytes) as usize;
        let max_rows = limits.max_compute_workgroups_per_dimension as usize * TILE as usize;
        let by_dispatch = max_rows / batch;
        let chunk = seq.min(by_memory).min(by_dispatch);
        if chunk == 0 {
            return Err(Error::OverLimit {
                what: format!(
                    "gate pre-activations of one step [B={batch}, G*H={}]",
                    self.config.gate_rows()
                ),
                requested: step_bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit: binding,
            });
        }
        Ok(chunk)
    }
}

/// A buffer of `n` weights stored at `precision`.
pub(crate) fn weight_buffer(
    gpu: &Gpu,
    what: &str,
    n: usize,
    precision: Precision,
) -> Result<wgpu::Buffer> {
    match precision {
        Precision::F32 => storage_buffer(gpu, what, n),
        // Two f16 per 4-byte word.
        Precision::F16 => storage_buffer(gpu, what, n.div_ceil(2)),
    }
}

/// A layer's input projection (see [`Layer::input_projection`]).
pub(crate) struct InputProjection {
    /// Steps per GEMM and per block of `xg`.
    pub chunk: usize,
    /// `[chunk, B, G*H]`: the current chunk's gate pre-activations.
    pub xg: wgpu::Buffer,
    /// Each chunk's steps and its GEMM.
    pub gemms: Vec<(Range<usize>, Dispatch)>,
}

/// The dispatches that rebuild a layer's kernel layouts from `params`: the
/// interleaved recurrent weights, the folded bias, the reset-after GRU's
/// `b_hn`, the transposed projection and the texels. Plain LSTM peepholes
/// stay zero and a peephole LSTM binds its parameter directly.
#[allow(clippy::too_many_arguments)]
fn repack_dispatches(
    gpu: &Gpu,
    (config, precision): (&RnnConfig, Precision),
    params: &LayerTensors,
    bias: &wgpu::Buffer,
    recurrent: &[wgpu::Buffer],
    extra: Option<&wgpu::Buffer>,
    projection: Option<&wgpu::Buffer>,
    texels: &LayerTexels,
) -> Result<Vec<Dispatch>> {
    let (rows, h, ho) = (config.gate_rows(), config.hidden_size, config.output_size());
    let w_hh = params.weight_hh.buffer();
    let mut out = Vec::new();
    for ((gates, width), dst) in cell_family(config.cell)
        .recurrent_layout()
        .iter()
        .zip(recurrent)
    {
        let dst = (dst, precision);
        out.push(interleave_gates(gpu, w_hh, (h, ho), gates, *width, dst)?);
    }
    if let (Some(b_ih), Some(b_hh)) = (&params.bias_ih, &params.bias_hh) {
        let reset_after = config.cell == CellKind::Gru(GruReset::After);
        // The reset-after GRU's b_hn sits inside r * (...): not folded.
        let folded_rows = if reset_after { 2 * h } else { rows };
        let (b_ih, b_hh) = (b_ih.buffer(), b_hh.buffer());
        out.push(add_rows(gpu, rows, (b_ih, 0), (b_hh, folded_rows), bias)?);
        if let (true, Some(b_hn)) = (reset_after, extra) {
            out.push(add_rows(gpu, h, (b_hh, 2 * h), (b_hh, 0), b_hn)?);
        }
    }
    if let (Some(w_hr), Some(dst)) = (&params.weight_hr, projection) {
        // weight_hr [Ho, H] transposed: one slot per "unit" of Ho.
        let dst = (dst, precision);
        out.push(interleave_gates(gpu, w_hr.buffer(), (ho, h), &[0], 1, dst)?);
    }
    // After the interleaving they copy (dispatches run in order).
    for (t, recurrent) in texels.forward.iter().zip(recurrent) {
        out.push(t.pack(gpu, recurrent)?);
    }
    if let Some(t) = &texels.backward {
        out.push(t.pack(gpu, w_hh)?);
    }
    if let (Some(t), Some(w_hr_t)) = (&texels.projection, projection) {
        out.push(t.pack(gpu, w_hr_t)?);
    }
    if let (Some(t), Some(w_hr)) = (&texels.projection_backward, &params.weight_hr) {
        out.push(t.pack(gpu, w_hr.buffer())?);
    }
    Ok(out)
}
