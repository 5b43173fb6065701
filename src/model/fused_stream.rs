//! [`FusedSteps`]: a [`super::Stream`]'s calls as one dispatch each for the
//! whole stack (`stream/step.wgsl`), where the tuning takes the fused path
//! for the stream's batch and sizes (see [`crate::Tuning::fused_stream`]):
//! the frames copied in, every layer's products and cell for each frame,
//! the states updated in the stream's buffers. The kernel reads every
//! layer's weights as gate vectors (texels on CPU adapters with the texel
//! kernels) and its biases from two stacked buffers, rebuilt from the
//! parameters (before the dispatch, in the same recording) only for a
//! layer with a parameter written since (an optimizer step,
//! [`crate::GpuTensor::write`]).

use super::RnnStack;
use crate::cells::function_constants;
use crate::config::{CellKind, GruReset, Precision, StackConfig};
use crate::error::{check_finite, Error, Result};
use crate::gpu::recorder::{Recorder, Submit};
use crate::gpu::tensor::{checked_bytes, storage_buffer, storage_buffer_of};
use crate::gpu::{Gpu, GpuTensor};
use crate::kernels::dispatch::Dispatch;
use crate::kernels::flag;
use crate::kernels::repack::interleave_gates_at;
use crate::kernels::stream::{stream_step, StreamBuffers, StreamParams, LAYOUT_WORDS, STAGED};
use crate::kernels::texels::{SourceLayout, TexelMatrix};
use crate::pass::Source;

/// The fused steps of one stream.
pub(crate) struct FusedSteps {
    gpu: Gpu,
    config: StackConfig,
    batch: usize,
    constants: Vec<(&'static str, f64)>,
    /// Every layer's W_ih and W_hh as gate vectors, and its biases,
    /// peepholes and W_hr transposed (see the shader).
    vectors: wgpu::Buffer,
    /// The gate vectors as texels, where the kernel fetches them so (CPU
    /// adapters with the texel kernels), and the dispatch that packs them.
    texels: Option<(TexelMatrix, Dispatch)>,
    scalars: wgpu::Buffer,
    offsets: wgpu::Buffer,
    /// What rebuilds each layer's part of them, when one of its
    /// parameters was written since the last rebuild.
    layers: Vec<FusedLayer>,
    /// `[B, 2, max(H, Ho)]`.
    scratch: wgpu::Buffer,
    /// The stream's states (`c`: a placeholder for cells without one).
    h: wgpu::Buffer,
    c: wgpu::Buffer,
    /// One kept dispatch per number of steps a call has taken.
    runs: Vec<FusedRun>,
}

/// One layer's part of the fused weights and how to rebuild it.
struct FusedLayer {
    /// The layer's parameters and their versions when last rebuilt
    /// (`None`: never).
    params: Vec<GpuTensor>,
    built: Option<Vec<u64>>,
    /// The gate-vector layouts (W_ih, W_hh, W_hr transposed).
    repack: Vec<Dispatch>,
    /// The biases and peepholes, copied as they are: `(tensor, byte
    /// offset in the scalars)`.
    copies: Vec<(GpuTensor, u64)>,
}

impl FusedLayer {
    fn versions(&self) -> Vec<u64> {
        self.params.iter().map(GpuTensor::version).collect()
    }
}

/// The kept dispatch of `K` steps: its own input and output.
struct FusedRun {
    steps: usize,
    /// The frames `[K, B, I]` (`[B, K, I]`), copied or written in.
    x: wgpu::Buffer,
    out: GpuTensor,
    dispatch: Dispatch,
}

impl FusedSteps {
    /// The fused steps of a stream of `batch` rows of `stack` with states
    /// `state_h` and `c`, or `None` where the stream runs the
    /// layer-by-layer passes: an f16 stack, a layer whose input and state
    /// pass [`STAGED`] values, the tuning's choice for these sizes, or
    /// weights over one storage binding.
    pub fn new(
        stack: &RnnStack,
        batch: usize,
        state_h: &GpuTensor,
        c: Option<&GpuTensor>,
    ) -> Result<Option<Self>> {
        let gpu = stack.gpu();
        let config = *stack.config();
        let layers = &stack.device.layers;
        let staged = (0..config.num_layers)
            .map(|l| config.layer_config(l).input_size + config.layer.output_size())
            .max()
            .unwrap_or(0);
        if layers[0].precision() != Precision::F32
            || staged > STAGED
            || !gpu.tuning().fused_stream(batch, fused_work(&config), 1)
        {
            return Ok(None);
        }
        let (layer, h, ho) = (
            config.layer,
            config.layer.hidden_size,
            config.layer.output_size(),
        );
        let gates: Vec<usize> = (0..layer.gate_rows() / h).collect();
        // Sizes and offsets first (in vectors and in scalars).
        let (mut vec4s, mut scalars) = (0usize, 0usize);
        let mut offsets = Vec::with_capacity(layers.len() * LAYOUT_WORDS);
        let place = |n: usize, at: &mut usize| -> Result<u32> {
            let start = *at;
            *at = at
                .checked_add(n)
                .filter(|&end| end <= u32::MAX as usize / 4)
                .ok_or_else(|| Error::config("fused stream", "weights past u32 indices"))?;
            Ok(start as u32)
        };
        for (l, device_layer) in layers.iter().enumerate() {
            let c = config.layer_config(l);
            let params = device_layer.parameters();
            let rows = c.gate_rows();
            let has = |t: &Option<GpuTensor>, n: usize| if t.is_some() { n } else { 0 };
            offsets.extend([
                place(c.input_size * h, &mut vec4s)?,
                place(ho * h, &mut vec4s)?,
                place(has(&params.bias_ih, rows), &mut scalars)?,
                place(has(&params.bias_hh, rows), &mut scalars)?,
                place(has(&params.peephole, 3 * h), &mut scalars)?,
                place(has(&params.weight_hr, ho * h), &mut scalars)?,
                c.input_size as u32,
                0,
            ]);
        }
        // Each in one binding: else the layered path.
        if checked_bytes(gpu, "fused stream weights", vec4s * 4).is_err()
            || checked_bytes(gpu, "fused stream biases", scalars).is_err()
        {
            return Ok(None);
        }
        let vectors = storage_buffer(gpu, "fused stream weights", (vec4s * 4).max(4))?;
        let scalar_buffer = storage_buffer(gpu, "fused stream biases", scalars.max(1))?;
        let mut fused_layers = Vec::with_capacity(layers.len());
        for (l, device_layer) in layers.iter().enumerate() {
            let c = config.layer_config(l);
            let params = device_layer.parameters();
            let at = |i: usize| offsets[l * LAYOUT_WORDS + i] as usize;
            let mut repack = vec![
                interleave_gates_at(
                    gpu,
                    params.weight_ih.buffer(),
                    (h, c.input_size),
                    &gates,
                    4,
                    (&vectors, Precision::F32),
                    4 * at(0),
                )?,
                interleave_gates_at(
                    gpu,
                    params.weight_hh.buffer(),
                    (h, ho),
                    &gates,
                    4,
                    (&vectors, Precision::F32),
                    4 * at(1),
                )?,
            ];
            if let Some(w_hr) = &params.weight_hr {
                // [H, Ho]: element q of row k is W_hr[q, k].
                repack.push(interleave_gates_at(
                    gpu,
                    w_hr.buffer(),
                    (ho, h),
                    &[0],
                    1,
                    (&scalar_buffer, Precision::F32),
                    at(5),
                )?);
            }
            let copies = [
                (&params.bias_ih, 2),
                (&params.bias_hh, 3),
                (&params.peephole, 4),
            ]
            .into_iter()
            .filter_map(|(t, i)| t.as_ref().map(|t| (t.clone(), 4 * at(i) as u64)))
            .collect();
            fused_layers.push(FusedLayer {
                params: params.named().into_iter().map(|(_, t)| t.clone()).collect(),
                built: None,
                repack,
                copies,
            });
        }
        let width = h.max(ho);
        let cell = match layer.cell {
            CellKind::Lstm | CellKind::PeepholeLstm => 0,
            CellKind::Gru(GruReset::After) => 1,
            CellKind::Rnn(_) => 2,
            CellKind::Gru(GruReset::Before) => 3,
        };
        let mut constants = function_constants(&layer);
        constants.extend([
            ("CELL", f64::from(cell)),
            ("PEEPHOLE", flag(layer.cell == CellKind::PeepholeLstm)),
            ("PROJ", flag(layer.proj_size.is_some())),
            ("BIAS", flag(layer.bias)),
            ("GATES", gates.len() as f64),
            ("STREAM_WG", f64::from(gpu.tuning().stream_workgroup(width))),
        ]);
        let placeholder;
        let c = match c {
            Some(c) => c.buffer().clone(),
            None => {
                placeholder = storage_buffer(gpu, "unused cell state", 1)?;
                placeholder
            }
        };
        // Rows of gate vectors: I_l + Ho per layer, each H vectors.
        let rows = vec4s / h;
        let texels = if gpu.tuning().subgroup_kernels() && TexelMatrix::fits(gpu, rows, 4 * h) {
            let matrix = TexelMatrix::new(gpu, "fused stream weights", rows, 4 * h)?;
            let layout = SourceLayout {
                offset: 0,
                ld: 4 * h,
                transposed: false,
            };
            let pack = matrix.pack_from(gpu, &vectors, layout)?;
            Some((matrix, pack))
        } else {
            None
        };
        Ok(Some(Self {
            gpu: gpu.clone(),
            config,
            batch,
            constants,
            vectors,
            texels,
            scalars: scalar_buffer,
            offsets: storage_buffer_of(gpu, "fused stream offsets", &offsets)?,
            layers: fused_layers,
            scratch: storage_buffer(gpu, "fused stream scratch", batch * 2 * width)?,
            h: state_h.buffer().clone(),
            c,
            runs: Vec::new(),
        }))
    }

    /// Whether the tuning takes the fused step for calls of `steps` steps.
    pub fn takes(&self, steps: usize) -> bool {
        self.gpu
            .tuning()
            .fused_stream(self.batch, fused_work(&self.config), steps)
    }

    /// Plans the run of `steps` steps (its buffers, its pipeline) ahead of
    /// the first call that takes it.
    pub fn prepare(&mut self, steps: usize) -> Result<()> {
        self.run_of(steps).map(drop)
    }

    /// One call of `steps` steps on `input` (`shape`, checked by the
    /// caller against the stream), recorded as `how` says; returns the top
    /// layer's output of the steps.
    pub fn run<S: Submit>(
        &mut self,
        input: Source<'_>,
        shape: &[usize],
        steps: usize,
        how: S,
    ) -> Result<&GpuTensor> {
        let at = self.run_of(steps)?;
        let run = &self.runs[at];
        match input {
            Source::Tensor(t) => t.check(&self.gpu, "stream input", "stream", shape)?,
            Source::Host(data, _) => {
                if data.len() != steps * self.batch * self.input() {
                    return Err(Error::shape("stream input", shape, &[data.len()]));
                }
                check_finite("stream input", data)?;
                self.gpu
                    .queue()
                    .write_buffer(&run.x, 0, bytemuck::cast_slice(data));
            }
        }
        // Layers with a parameter written since their last rebuild are
        // rebuilt first, in the same recording.
        let stale: Vec<(usize, Vec<u64>)> = self
            .layers
            .iter()
            .enumerate()
            .filter_map(|(l, layer)| {
                let now = layer.versions();
                (layer.built.as_ref() != Some(&now)).then_some((l, now))
            })
            .collect();
        let record = |rec: &mut Recorder<'_>| {
            for (l, _) in &stale {
                let layer = &self.layers[*l];
                for (t, at) in &layer.copies {
                    t.copy_to(rec.encoder(), &self.scalars, *at);
                }
                rec.run("weight rebuild", |pass| {
                    layer.repack.iter().for_each(|d| d.record(pass))
                });
            }
            if let (false, Some((_, pack))) = (stale.is_empty(), &self.texels) {
                rec.run("weight rebuild", |pass| pack.record(pass));
            }
            if let Source::Tensor(t) = input {
                t.copy_to(rec.encoder(), &run.x, 0);
            }
            rec.run("stream step", |pass| run.dispatch.record(pass));
        };
        how.submit(&self.gpu, "stream step", &record)?;
        for (l, now) in stale {
            self.layers[l].built = Some(now);
        }
        Ok(&self.runs[at].out)
    }

    fn input(&self) -> usize {
        self.config.layer.input_size
    }

    /// The index of the run of `steps` steps, made on first use.
    fn run_of(&mut self, steps: usize) -> Result<usize> {
        if let Some(at) = self.runs.iter().position(|r| r.steps == steps) {
            return Ok(at);
        }
        super::chunks::forget_oldest(&mut self.runs, |r| r.steps);
        let (gpu, cfg, batch) = (&self.gpu, self.config, self.batch);
        let layer = cfg.layer;
        let x = storage_buffer(gpu, "fused stream frames", steps * batch * self.input())?;
        let out_shape = cfg.sequence_shape(steps, batch, cfg.output_size());
        let out = GpuTensor::zeros(gpu, "stream output", &out_shape)?;
        let params = StreamParams {
            batch: batch as u32,
            layers: cfg.num_layers as u32,
            steps: steps as u32,
            input: layer.input_size as u32,
            hidden: layer.hidden_size as u32,
            out_size: layer.output_size() as u32,
            batch_first: u32::from(cfg.batch_first),
            scratch_width: layer.hidden_size.max(layer.output_size()) as u32,
        };
        let dispatch = stream_step(
            gpu,
            &self.constants,
            params,
            StreamBuffers {
                x: &x,
                vectors: &self.vectors,
                scalars: &self.scalars,
                offsets: &self.offsets,
                h: &self.h,
                c: &self.c,
                scratch: &self.scratch,
                out: out.buffer(),
            },
            self.texels.as_ref().map(|(m, _)| m.view()),
        )?;
        self.runs.push(FusedRun {
            steps,
            x,
            out,
            dispatch,
        });
        Ok(self.runs.len() - 1)
    }
}

/// Multiply-adds one batch row's step takes through every layer: what
/// bounds the fused kernel, whose workgroup of a row runs them all.
pub(crate) fn fused_work(config: &StackConfig) -> usize {
    (0..config.num_layers)
        .map(|l| {
            let c = config.layer_config(l);
            let projection = c.proj_size.map_or(0, |p| p * c.hidden_size);
            c.gate_rows() * (c.input_size + c.output_size()) + projection
        })
        .sum()
}
