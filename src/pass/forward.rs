//! A forward's plan: every buffer, bind group and dispatch of one forward
//! of an [`RnnStack`], in its [`Schedule`], recorded into one encoder and
//! submitted once; an inference forward's plan is kept for the next call of
//! the same shape and input tensor.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use super::output::RnnOutput;
use super::tape::{TapedLayer, TrainOptions, TrainTape};
use super::wavefront::WavefrontPlan;
use crate::cells::{DeviceStack, LayerPass};
use crate::config::{validate_lengths, Schedule};
use crate::error::{check_finite, element_count, Error, Result};
use crate::gpu::recorder::{Recorder, Submit};
use crate::gpu::tensor::{storage_buffer, storage_buffer_of, GpuTensor};
use crate::gpu::Gpu;
use crate::kernels::dispatch::Dispatch;
use crate::kernels::sequence::{gather_steps, sequence_copy, SeqParams};
use crate::kernels::Kernel;

/// Where one inference forward's [`ForwardPlan`] is kept for the next
/// (shared by a layer and the one-layer stacks it runs as).
pub(crate) type PlanCache = Arc<KeptForward>;

/// What a module keeps between inference forwards: the last plan. Locked
/// for a whole call, so that two threads never write its input or lengths
/// in turn before either has recorded.
#[derive(Default)]
pub(crate) struct KeptForward {
    plan: Mutex<Option<ForwardPlan>>,
}

impl KeptForward {
    /// Frees what is kept.
    pub(crate) fn release(&self) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The input buffer of the kept plan.
    #[cfg(test)]
    pub(crate) fn planned_input(&self) -> Option<wgpu::Buffer> {
        let plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        plan.as_ref().map(|p| p.input.clone())
    }
}

/// A forward over the layers of `stack`: plans (or reuses the kept plan),
/// records into one encoder and submits once.
pub(crate) struct Forward<'a> {
    pub stack: &'a DeviceStack,
    pub kept: &'a KeptForward,
    pub schedule: Schedule,
    /// A new plan's last layer writes the call's output tensor itself (a
    /// whole buffer) instead of a buffer of the plan's, saving a copy per
    /// call: for callers that pass the same output every call (a stream).
    /// Another output is still copied into, so it is never wrong.
    pub output_in_place: bool,
}

impl Deref for Forward<'_> {
    type Target = DeviceStack;
    fn deref(&self) -> &DeviceStack {
        self.stack
    }
}

/// Where an inference forward's input comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A device tensor (ours or a view on an app's buffer): copied into
    /// the plan's input in the recording.
    Tensor(&'a GpuTensor),
    /// Host values of the given `(T, B)`, checked finite: written into the
    /// plan's input before the submit (submitting paths only).
    Host(&'a [f32], (usize, usize)),
}

/// Every buffer, bind group and per-step uniform of an inference forward
/// of one `(T, B)`, kept so that the next call of that size allocates
/// nothing and only records. Its own input, lengths and output buffers are
/// what the layers bind: a call's tensors are copied in and out in the
/// recording, so any tensors of the right shape (ours, or views on an app's
/// buffers, different each call) run on one plan. Holds the memory of one
/// forward between calls; a call of another size replaces it.
pub(crate) struct ForwardPlan {
    seq: usize,
    batch: usize,
    /// The schedule it was planned for (clones of a stack share the kept
    /// plan but may run other schedules).
    schedule: Schedule,
    /// Where host input is written before the recording copies it into
    /// `input` (made on the first host call): a queue write straight into
    /// `input` would land before an app's encoder recorded earlier and
    /// submitted in between, which copies its own input there.
    host_staging: Option<wgpu::Buffer>,
    /// `[T, B, I]` in the stack's layout: what the first layer reads.
    input: wgpu::Buffer,
    /// `[B]` u32.
    lengths: wgpu::Buffer,
    /// Lengths some call gave, each in a buffer the recording copies from
    /// (never written after it is made, so recordings of different lengths
    /// in one encoder each copy their own); `None` while every call ran
    /// full length, which `lengths` holds from the start.
    given_lengths: Option<Vec<(Vec<u32>, wgpu::Buffer)>>,
    /// What the last layer writes; copied into each call's own output.
    output: wgpu::Buffer,
    steps: PlannedSteps,
}

/// Distinct per-row lengths a plan keeps buffers for before it forgets
/// them all (a loop over varying lengths allocates one small buffer per
/// new set, never without bound).
const KEPT_LENGTHS: usize = 16;

impl ForwardPlan {
    /// The buffer to copy `lengths` from before recording, `None` where
    /// `self.lengths` already holds them for good (every call so far full
    /// length).
    fn lengths_source(&mut self, gpu: &Gpu, lengths: &[u32]) -> Option<wgpu::Buffer> {
        let full = lengths.iter().all(|&l| l as usize == self.seq);
        if full && self.given_lengths.is_none() {
            return None;
        }
        let kept = self.given_lengths.get_or_insert_with(Vec::new);
        if let Some((_, buffer)) = kept.iter().find(|(l, _)| l == lengths) {
            return Some(buffer.clone());
        }
        if kept.len() >= KEPT_LENGTHS {
            kept.clear();
        }
        let buffer = gpu.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("lengths source"),
            contents: bytemuck::cast_slice(lengths),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
        kept.push((lengths.to_vec(), buffer.clone()));
        Some(buffer)
    }
}

/// A forward's dispatches in the stack's [`Schedule`].
enum PlannedSteps {
    Layered(Vec<PlannedLayer>),
    Wavefront(Box<WavefrontPlan>),
}

/// One layer-direction of a planned forward.
struct PlannedLayer {
    slot: usize,
    seq: usize,
    batch: usize,
    /// Whether `pass` keeps the training tape (then `c` holds every step).
    training: bool,
    gather: Option<(Dispatch, wgpu::Buffer)>,
    steps_in: wgpu::Buffer,
    pass: LayerPass,
    scatter: Dispatch,
    /// Where the scatter is a plain copy of `hs[1..=T]` when every row runs
    /// all T steps (one direction, and time-major or T = 1, forward or
    /// T = 1): its destination. A copy costs the GPU less than a dispatch.
    scatter_as_copy: Option<wgpu::Buffer>,
    /// Dropout on the layer's output, after its last direction.
    dropout: Option<Dispatch>,
}

/// The final states a forward returns, written by
/// [`Forward::record_layers`] (the output is written by the last layer's
/// scatter).
#[derive(Clone, Copy)]
struct Outputs<'a> {
    h_n: &'a GpuTensor,
    c_n: Option<&'a GpuTensor>,
}

/// A checked forward call: its sizes and lengths.
struct Call {
    seq: usize,
    batch: usize,
    lengths: Vec<u32>,
}

impl Call {
    /// Whether every row runs all T steps.
    fn full(&self) -> bool {
        self.lengths.iter().all(|&l| l as usize == self.seq)
    }
}

/// The dispatches of one forward and the tensors they read and write: what
/// one encoder records. With a kept plan, the recording first copies the
/// call's input and lengths into the plan's buffers, and last the plan's
/// output into the call's.
struct ForwardRecording<'a> {
    stack: &'a DeviceStack,
    steps: &'a PlannedSteps,
    /// `(from, into)` copies before the layers: the input, the lengths.
    copy_in: Vec<(Copy<'a>, &'a wgpu::Buffer)>,
    states: (Option<&'a GpuTensor>, Option<&'a GpuTensor>),
    /// Every row runs all T steps.
    full_lengths: bool,
    out: &'a RnnOutput,
    copy_out: Option<&'a wgpu::Buffer>,
}

/// What a recording copies into a plan's buffer.
enum Copy<'a> {
    Tensor(&'a GpuTensor),
    Buffer(wgpu::Buffer),
}

impl ForwardRecording<'_> {
    fn record(&self, rec: &mut Recorder<'_>) {
        let encoder = rec.encoder();
        for (from, into) in &self.copy_in {
            match from {
                Copy::Tensor(t) => t.copy_to(encoder, into, 0),
                Copy::Buffer(b) => encoder.copy_buffer_to_buffer(b, 0, into, 0, b.size()),
            }
        }
        let outputs = Outputs {
            h_n: &self.out.h_n,
            c_n: self.out.c_n.as_ref(),
        };
        match self.steps {
            PlannedSteps::Layered(layers) => record_layers(
                self.stack,
                rec,
                layers,
                self.states,
                outputs,
                self.full_lengths,
            ),
            PlannedSteps::Wavefront(plan) => {
                plan.record(rec, self.states, (outputs.h_n, outputs.c_n))
            }
        }
        if let Some(result) = self.copy_out {
            let output = &self.out.output;
            rec.encoder().copy_buffer_to_buffer(
                result,
                0,
                output.buffer(),
                output.offset(),
                output.byte_len(),
            );
        }
    }
}

impl Forward<'_> {
    /// Checks a call's input shape, initial states and lengths.
    fn call(
        &self,
        input_shape: &[usize],
        (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
    ) -> Result<Call> {
        let cfg = self.config;
        let layer0 = cfg.layer;
        let &[a, b, i] = input_shape else {
            let want = if cfg.batch_first {
                "input [B, T, I]"
            } else {
                "input [T, B, I]"
            };
            return Err(Error::shape(want, &[0, 0, layer0.input_size], input_shape));
        };
        if i != layer0.input_size {
            return Err(Error::shape(
                "input",
                &[a, b, layer0.input_size],
                input_shape,
            ));
        }
        let (seq, batch) = if cfg.batch_first { (b, a) } else { (a, b) };
        check_work(seq, batch)?;
        let (h, ho) = (layer0.hidden_size, layer0.output_size());
        let slots = cfg.state_slots();
        if let Some(h0) = h0 {
            self.check_tensor("h0", h0, &[slots, batch, ho])?;
        }
        if let Some(c0) = c0 {
            self.check_cell_state("c0", c0, &[slots, batch, h])?;
        }
        let lengths: Vec<u32> = match lengths {
            Some(l) => {
                validate_lengths(l, seq, batch)?;
                l.iter().map(|&v| v as u32).collect()
            }
            None => vec![seq as u32; batch],
        };
        Ok(Call {
            seq,
            batch,
            lengths,
        })
    }

    /// New output tensors for a forward of `(T, B)`.
    pub(crate) fn outputs(&self, seq: usize, batch: usize) -> Result<RnnOutput> {
        check_work(seq, batch)?;
        let cfg = self.config;
        let gpu = &self.gpu;
        let (h, ho, slots) = (
            cfg.layer.hidden_size,
            cfg.layer.output_size(),
            cfg.state_slots(),
        );
        let out_shape = cfg.sequence_shape(seq, batch, cfg.output_size());
        Ok(RnnOutput {
            output: GpuTensor::zeros(gpu, "output", &out_shape)?,
            h_n: GpuTensor::zeros(gpu, "h_n", &[slots, batch, ho])?,
            c_n: cfg
                .layer
                .cell
                .has_cell_state()
                .then(|| GpuTensor::zeros(gpu, "c_n", &[slots, batch, h]))
                .transpose()?,
        })
    }

    /// Checks that `out` holds the outputs of a forward of `(T, B)`.
    fn check_outputs(&self, out: &RnnOutput, seq: usize, batch: usize) -> Result<()> {
        let cfg = self.config;
        let (h, ho, slots) = (
            cfg.layer.hidden_size,
            cfg.layer.output_size(),
            cfg.state_slots(),
        );
        let out_shape = cfg.sequence_shape(seq, batch, cfg.output_size());
        self.check_tensor("output", &out.output, &out_shape)?;
        self.check_tensor("h_n", &out.h_n, &[slots, batch, ho])?;
        match &out.c_n {
            Some(c_n) => self.check_cell_state("c_n", c_n, &[slots, batch, h]),
            None if cfg.layer.cell.has_cell_state() => Err(Error::config(
                "c_n",
                "missing: an LSTM's forward writes its final cell state",
            )),
            None => Ok(()),
        }
    }

    /// Makes the kept plan one of `(T, B)` (allocating and compiling
    /// what it needs) unless it already is; `out` are the outputs of the
    /// calls to come.
    fn keep_plan(
        &self,
        cache: &mut Option<ForwardPlan>,
        (seq, batch): (usize, usize),
        out: &RnnOutput,
    ) -> Result<()> {
        let gpu = &self.gpu;
        let cfg = self.config;
        if cache
            .as_ref()
            .is_none_or(|plan| (plan.seq, plan.batch, plan.schedule) != (seq, batch, self.schedule))
        {
            // Drop the old plan's buffers before allocating the new ones.
            *cache = None;
            let full = vec![seq as u32; batch];
            let lengths = storage_buffer_of(gpu, "lengths", &full)?;
            let plan_input =
                storage_buffer(gpu, "planned input", seq * batch * cfg.layer.input_size)?;
            let result = match (self.output_in_place, out.output.offset()) {
                (true, 0) => out.output.buffer().clone(),
                _ => storage_buffer(gpu, "output [T, B, D*Ho]", out.output.len())?,
            };
            let steps = self.plan_inference((seq, batch), (&plan_input, &lengths, &result))?;
            *cache = Some(ForwardPlan {
                seq,
                batch,
                schedule: self.schedule,
                host_staging: None,
                input: plan_input,
                lengths,
                given_lengths: None,
                output: result,
                steps,
            });
        }
        Ok(())
    }

    /// Plans an inference forward of `(T, B)` into `out` ahead of the first
    /// call, so that the call allocates and compiles nothing.
    pub(crate) fn prepare(&self, seq: usize, batch: usize, out: &RnnOutput) -> Result<()> {
        self.check_outputs(out, seq, batch)?;
        let mut cache = self.kept.plan.lock().unwrap_or_else(|e| e.into_inner());
        self.keep_plan(&mut cache, (seq, batch), out)
    }

    /// An inference forward from `input` into `out` (tensors of the
    /// shapes [`Forward::outputs`] makes), submitted as `how` says. It
    /// reuses the kept plan when the call's `(T, B)` is the last one's,
    /// else plans afresh and keeps that.
    pub(crate) fn infer<S: Submit>(
        &self,
        input: Source<'_>,
        states: (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
        out: &RnnOutput,
        how: S,
    ) -> Result<S::Out> {
        let cfg = self.config;
        let input_shape = match input {
            Source::Tensor(t) => t.shape().to_vec(),
            Source::Host(_, (seq, batch)) => cfg
                .sequence_shape(seq, batch, cfg.layer.input_size)
                .to_vec(),
        };
        let call = self.call(&input_shape, states, lengths)?;
        match input {
            Source::Tensor(t) => self.check_tensor("input", t, &input_shape)?,
            Source::Host(data, _) => {
                let n = element_count("input", &input_shape)?;
                if data.len() != n {
                    return Err(Error::shape("input", &input_shape, &[data.len()]));
                }
                if n == 0 {
                    return Err(Error::ZeroSize {
                        what: format!("input {input_shape:?}"),
                    });
                }
                check_finite("input", data)?;
            }
        }
        self.check_outputs(out, call.seq, call.batch)?;
        let gpu = &self.gpu;
        let mut cache = self.kept.plan.lock().unwrap_or_else(|e| e.into_inner());
        self.keep_plan(&mut cache, (call.seq, call.batch), out)?;
        let Some(plan) = cache.as_mut() else {
            unreachable!("planned above")
        };
        let lengths_source = plan.lengths_source(gpu, &call.lengths);
        let mut copy_in = Vec::new();
        match input {
            Source::Tensor(t) => copy_in.push((Copy::Tensor(t), &plan.input)),
            Source::Host(data, _) => {
                let staging = plan
                    .host_staging
                    .get_or_insert_with(|| {
                        gpu.create_buffer(&wgpu::BufferDescriptor {
                            label: Some("host input staging"),
                            size: plan.input.size(),
                            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                            mapped_at_creation: false,
                        })
                    })
                    .clone();
                gpu.queue()
                    .write_buffer(&staging, 0, bytemuck::cast_slice(data));
                copy_in.push((Copy::Buffer(staging), &plan.input));
            }
        }
        if let Some(source) = lengths_source {
            copy_in.push((Copy::Buffer(source), &plan.lengths));
        }
        let recording = ForwardRecording {
            stack: self.stack,
            steps: &plan.steps,
            copy_in,
            states,
            full_lengths: call.full(),
            out,
            copy_out: (out.output.offset() != 0 || out.output.buffer() != &plan.output)
                .then_some(&plan.output),
        };
        how.submit(gpu, "forward", &|rec| recording.record(rec))
    }

    /// A training forward: dropout between layers, and the [`TrainTape`]
    /// that the backward reads (it owns its buffers: the kept inference
    /// plan is freed first). A view at a nonzero offset as input is copied
    /// into a buffer of the tape's own (the backward reads the input).
    pub(crate) fn train<S: Submit>(
        &self,
        input: &GpuTensor,
        states: (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
        options: TrainOptions,
        how: S,
    ) -> Result<(RnnOutput, TrainTape, S::Out)> {
        let options = options.validated()?;
        let call = self.call(input.shape(), states, lengths)?;
        self.check_tensor("input", input, input.shape())?;
        self.kept.release();
        let out = self.outputs(call.seq, call.batch)?;
        let gpu = &self.gpu;
        let (seq, batch) = (call.seq, call.batch);
        let lengths = storage_buffer_of(gpu, "lengths", &call.lengths)?;
        let own_input = match input.offset() {
            0 => None,
            _ => Some(storage_buffer(gpu, "input", input.len())?),
        };
        let layer_input = own_input.as_ref().unwrap_or(input.buffer());
        let planned = PlannedSteps::Layered(self.plan_layers(
            seq,
            batch,
            layer_input,
            &lengths,
            out.output.buffer(),
            Some(options),
        )?);
        let recording = ForwardRecording {
            stack: self.stack,
            steps: &planned,
            copy_in: own_input
                .iter()
                .map(|own| (Copy::Tensor(input), own))
                .collect(),
            states,
            full_lengths: call.full(),
            out: &out,
            copy_out: None,
        };
        let submitted = how.submit(gpu, "forward", &|rec| recording.record(rec))?;
        let PlannedSteps::Layered(planned) = planned else {
            unreachable!("a training forward runs layered")
        };
        let tape = TrainTape {
            gpu: gpu.clone(),
            stack: self.stack.id.clone(),
            versions: self.stack.parameter_versions(),
            seq,
            batch,
            lengths,
            options,
            layers: planned
                .into_iter()
                .map(|p| TapedLayer {
                    steps_in: p.steps_in,
                    pass: p.pass,
                })
                .collect(),
        };
        Ok((out, tape, submitted))
    }

    /// Whether an inference forward runs the layer wavefront: asked for,
    /// and more than one layer to overlap.
    fn wavefront(&self) -> bool {
        self.schedule == Schedule::Wavefront && self.config.num_layers > 1
    }

    /// The dispatches of an inference forward over `input` into `output`.
    fn plan_inference(
        &self,
        (seq, batch): (usize, usize),
        (input, lengths, output): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
    ) -> Result<PlannedSteps> {
        Ok(if self.wavefront() {
            PlannedSteps::Wavefront(Box::new(WavefrontPlan::new(
                &self.gpu,
                &self.config,
                &self.layers,
                (seq, batch),
                (input, lengths, output),
            )?))
        } else {
            PlannedSteps::Layered(self.plan_layers(seq, batch, input, lengths, output, None)?)
        })
    }

    /// Builds every dispatch of a forward over `input` (all checks happen
    /// here), the last layer writing `output`.
    fn plan_layers(
        &self,
        seq: usize,
        batch: usize,
        input: &wgpu::Buffer,
        lengths: &wgpu::Buffer,
        output: &wgpu::Buffer,
        train: Option<TrainOptions>,
    ) -> Result<Vec<PlannedLayer>> {
        let cfg = self.config;
        let gpu = &self.gpu;
        let training = train.is_some();
        let (ho, dirs) = (cfg.layer.output_size(), cfg.directions());
        let mut planned = Vec::new();
        let mut between: Vec<wgpu::Buffer> = Vec::new();
        for l in 0..cfg.num_layers {
            let last = l + 1 == cfg.num_layers;
            let in_width = cfg.layer_config(l).input_size;
            let in_batch_first = l == 0 && cfg.batch_first;
            let out_batch_first = last && cfg.batch_first;
            let out_buffer = if last {
                output.clone()
            } else {
                storage_buffer(
                    gpu,
                    "layer output [T, B, D*Ho]",
                    seq * batch * cfg.output_size(),
                )?
            };
            let layer_in = if l == 0 {
                input.clone()
            } else {
                between.last().cloned().expect("previous layer output")
            };
            for d in 0..dirs {
                let reverse = cfg.direction.is_reverse(d);
                let gather = gather_steps(
                    gpu,
                    lengths,
                    &layer_in,
                    (seq, batch, in_width),
                    (in_batch_first, reverse),
                )?;
                let steps_in = gather.as_ref().map_or(&layer_in, |(_, b)| b).clone();
                let slot = l * dirs + d;
                let pass = self.layers[slot].prepare(seq, batch, &steps_in, lengths, training)?;
                let params = SeqParams {
                    seq: seq as u32,
                    batch: batch as u32,
                    width: ho as u32,
                    stride: cfg.output_size() as u32,
                    col: (d * ho) as u32,
                    src_slot: 1,
                    batch_first: u32::from(out_batch_first),
                    reverse: u32::from(reverse),
                    ..Default::default()
                };
                let scatter = sequence_copy(
                    gpu,
                    Kernel::ScatterOutput,
                    false,
                    params,
                    lengths,
                    &pass.hs,
                    &out_buffer,
                )?;
                let contiguous = dirs == 1 && (seq == 1 || (!out_batch_first && !reverse));
                let scatter_as_copy = contiguous.then(|| out_buffer.clone());
                let mask = train.and_then(|t| t.mask(l, cfg.num_layers));
                let dropout = match mask {
                    Some(mask) if d + 1 == dirs => {
                        Some(mask.dispatch(gpu, &out_buffer, seq * batch * cfg.output_size())?)
                    }
                    _ => None,
                };
                planned.push(PlannedLayer {
                    slot,
                    seq,
                    batch,
                    training,
                    gather,
                    steps_in,
                    pass,
                    scatter,
                    scatter_as_copy,
                    dropout,
                });
            }
            if !last {
                between.push(out_buffer);
            }
        }
        Ok(planned)
    }
}

/// Records `planned` with `rec`: each layer-direction's initial state
/// (`h0`/`c0`, or zeros: a kept plan's buffers hold the last call's), its
/// dispatches, and its final state into `h_n`/`c_n`. `full_lengths`: every
/// row runs all steps.
fn record_layers(
    stack: &DeviceStack,
    rec: &mut Recorder<'_>,
    planned: &[PlannedLayer],
    (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
    out: Outputs<'_>,
    full_lengths: bool,
) {
    let layer0 = stack.config.layer;
    for p in planned {
        let batch = p.batch;
        let (h_bytes, c_bytes) = (
            (batch * layer0.output_size() * 4) as u64,
            (batch * layer0.hidden_size * 4) as u64,
        );
        let slot = p.slot as u64;
        let encoder = rec.encoder();
        match h0 {
            Some(h0) => encoder.copy_buffer_to_buffer(
                h0.buffer(),
                h0.offset() + slot * h_bytes,
                &p.pass.hs,
                0,
                h_bytes,
            ),
            None => encoder.clear_buffer(&p.pass.hs, 0, Some(h_bytes)),
        }
        if let Some(c) = &p.pass.c {
            match c0 {
                Some(c0) => encoder.copy_buffer_to_buffer(
                    c0.buffer(),
                    c0.offset() + slot * c_bytes,
                    c,
                    0,
                    c_bytes,
                ),
                // The inference cell state is updated in place: it ends
                // the last call holding that call's c_T.
                None => encoder.clear_buffer(c, 0, Some(c_bytes)),
            }
        }
        if let Some((gather, _)) = &p.gather {
            rec.run("gather (step order)", |pass| gather.record(pass));
        }
        for (range, gemm) in p.pass.chunks() {
            rec.run("input GEMM", |pass| gemm.record(pass));
            rec.run("step kernels", |pass| {
                p.pass.record_steps(pass, range.clone())
            });
        }
        match (&p.scatter_as_copy, full_lengths) {
            (Some(dst), true) => {
                let steps = p.seq as u64 * h_bytes;
                rec.encoder()
                    .copy_buffer_to_buffer(&p.pass.hs, h_bytes, dst, 0, steps)
            }
            _ => rec.run("scatter (time order)", |pass| p.scatter.record(pass)),
        }
        if let Some(dropout) = &p.dropout {
            rec.run("dropout", |pass| dropout.record(pass));
        }
        let encoder = rec.encoder();
        encoder.copy_buffer_to_buffer(
            &p.pass.hs,
            p.seq as u64 * h_bytes,
            out.h_n.buffer(),
            out.h_n.offset() + slot * h_bytes,
            h_bytes,
        );
        if let (Some(c_n), Some(c)) = (out.c_n, &p.pass.c) {
            // Training keeps every step's cell state; the last is slot T.
            let last = if p.training {
                p.seq as u64 * c_bytes
            } else {
                0
            };
            encoder.copy_buffer_to_buffer(
                c,
                last,
                c_n.buffer(),
                c_n.offset() + slot * c_bytes,
                c_bytes,
            );
        }
    }
}

/// The crate's one rule for empty work: a pass of no steps (T = 0) or no
/// rows (B = 0) is an [`Error::ZeroSize`], on every entry point (host and
/// device, inference, training, stream).
pub(crate) fn check_work(seq: usize, batch: usize) -> Result<()> {
    let what = match (seq, batch) {
        (0, 0) => "sequence length T and batch B",
        (0, _) => "sequence length T",
        (_, 0) => "batch B",
        _ => return Ok(()),
    };
    Err(Error::ZeroSize { what: what.into() })
}
