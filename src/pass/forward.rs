//! A forward's plan: every buffer, bind group and dispatch of one forward
//! of an [`RnnStack`], in its [`Schedule`], recorded into one encoder and
//! submitted once; an inference forward's plan is kept for the next call of
//! the same shape and input tensor.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use super::output::RnnOutput;
use super::tape::{TapedLayer, TrainOptions, TrainTape};
use super::wavefront::WavefrontPlan;
use crate::cells::{DeviceStack, LayerPass};
use crate::config::{validate_lengths, Schedule};
use crate::error::{Error, Result};
use crate::gpu::recorder::{Recorder, Submit};
use crate::gpu::tensor::{storage_buffer, storage_buffer_of, GpuTensor};
use crate::kernels::dispatch::Dispatch;
use crate::kernels::sequence::{gather_steps, sequence_copy, SeqParams};
use crate::kernels::Kernel;

/// Where one inference forward's [`ForwardPlan`] is kept for the next
/// (shared by a layer and the one-layer stacks it runs as).
pub(crate) type PlanCache = Arc<KeptForward>;

/// What a module keeps between inference forwards.
#[derive(Default)]
pub(crate) struct KeptForward {
    plan: Mutex<Option<ForwardPlan>>,
    /// The tensor `RnnStack::forward_host` writes its input into, so that
    /// its calls of one shape reuse the plan too. Locked for a whole
    /// `forward_host` call: two threads must not write it in turn before
    /// either has submitted.
    host_input: Mutex<Option<GpuTensor>>,
}

impl KeptForward {
    /// Frees what is kept.
    pub(crate) fn release(&self) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.host_input() = None;
    }

    /// The host-input tensor, locked.
    pub(crate) fn host_input(&self) -> MutexGuard<'_, Option<GpuTensor>> {
        self.host_input.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The input buffer the kept plan was made for.
    #[cfg(test)]
    pub(crate) fn planned_input(&self) -> Option<wgpu::Buffer> {
        let plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        plan.as_ref().map(|p| p.key.input.clone())
    }
}

/// A forward over the layers of `stack`: plans (or reuses the kept plan),
/// records into one encoder and submits once.
pub(crate) struct Forward<'a> {
    pub stack: &'a DeviceStack,
    pub kept: &'a KeptForward,
    pub schedule: Schedule,
}

impl Deref for Forward<'_> {
    type Target = DeviceStack;
    fn deref(&self) -> &DeviceStack {
        self.stack
    }
}

/// What a forward's buffers and bind groups are made for: the sizes, and
/// the input tensor the first layer's bind groups refer to.
#[derive(PartialEq)]
struct PlanKey {
    seq: usize,
    batch: usize,
    input: wgpu::Buffer,
}

/// Every buffer, bind group and per-step uniform of an inference forward,
/// kept so that the next call with the same [`PlanKey`] only writes the
/// lengths and records (allocating nothing but its outputs). Holds the
/// memory of one forward between calls; a call of another shape replaces
/// it.
pub(crate) struct ForwardPlan {
    key: PlanKey,
    lengths: wgpu::Buffer,
    /// What the last layer writes; copied into each call's own output
    /// tensor, so that an earlier call's result is never overwritten.
    output: wgpu::Buffer,
    steps: PlannedSteps,
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

/// A checked forward call: its sizes, lengths and output tensors.
struct Call {
    seq: usize,
    batch: usize,
    lengths: Vec<u32>,
    out: RnnOutput,
}

/// The dispatches of one forward and the tensors they read and write: what
/// one encoder records. The last layer writes `copy_out` when the plan is
/// kept (then copied into this call's own output tensor).
struct ForwardRecording<'a> {
    stack: &'a DeviceStack,
    steps: &'a PlannedSteps,
    states: (Option<&'a GpuTensor>, Option<&'a GpuTensor>),
    out: &'a RnnOutput,
    copy_out: Option<&'a wgpu::Buffer>,
}

impl ForwardRecording<'_> {
    fn record(&self, rec: &mut Recorder<'_>) {
        let outputs = Outputs {
            h_n: &self.out.h_n,
            c_n: self.out.c_n.as_ref(),
        };
        match self.steps {
            PlannedSteps::Layered(layers) => {
                record_layers(self.stack, rec, layers, self.states, outputs)
            }
            PlannedSteps::Wavefront(plan) => {
                plan.record(rec, self.states, (outputs.h_n, outputs.c_n))
            }
        }
        if let Some(result) = self.copy_out {
            let output = self.out.output.buffer();
            rec.encoder()
                .copy_buffer_to_buffer(result, 0, output, 0, result.size());
        }
    }
}

impl Forward<'_> {
    /// Checks the inputs and makes the outputs.
    fn call(
        &self,
        input: &GpuTensor,
        (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
    ) -> Result<Call> {
        let cfg = self.config;
        let layer0 = cfg.layer;
        let &[a, b, _] = input.shape() else {
            let want = if cfg.batch_first {
                "input [B, T, I]"
            } else {
                "input [T, B, I]"
            };
            return Err(Error::shape(
                want,
                &[0, 0, layer0.input_size],
                input.shape(),
            ));
        };
        let (seq, batch) = if cfg.batch_first { (b, a) } else { (a, b) };
        self.check_tensor("input", input, &[a, b, layer0.input_size])?;
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
        let gpu = &self.gpu;
        let out_shape = cfg.sequence_shape(seq, batch, cfg.output_size());
        let output = GpuTensor::zeros(gpu, "output", &out_shape)?;
        let h_n = GpuTensor::zeros(gpu, "h_n", &[slots, batch, ho])?;
        let c_n = layer0
            .cell
            .has_cell_state()
            .then(|| GpuTensor::zeros(gpu, "c_n", &[slots, batch, h]))
            .transpose()?;
        Ok(Call {
            seq,
            batch,
            lengths,
            out: RnnOutput { output, h_n, c_n },
        })
    }

    /// An inference forward, submitted as `how` says. It reuses the kept
    /// plan's buffers and bind groups when the shape and the input tensor
    /// are those of the previous call ([`ForwardPlan`]), else plans afresh
    /// and keeps that.
    pub(crate) fn infer<S: Submit>(
        &self,
        input: &GpuTensor,
        states: (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
        how: S,
    ) -> Result<(RnnOutput, S::Out)> {
        let call = self.call(input, states, lengths)?;
        let gpu = &self.gpu;
        let key = PlanKey {
            seq: call.seq,
            batch: call.batch,
            input: input.buffer().clone(),
        };
        let mut cache = self.kept.plan.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_none_or(|plan| plan.key != key) {
            // Drop the old plan's buffers before allocating the new ones.
            *cache = None;
            let lengths_buffer = storage_buffer_of(gpu, "lengths", &call.lengths)?;
            let result = storage_buffer(gpu, "output [T, B, D*Ho]", call.out.output.len())?;
            let steps =
                self.plan_inference((call.seq, call.batch), input, &lengths_buffer, &result)?;
            *cache = Some(ForwardPlan {
                key,
                lengths: lengths_buffer,
                output: result,
                steps,
            });
        }
        let Some(plan) = cache.as_ref() else {
            unreachable!("planned above")
        };
        gpu.queue()
            .write_buffer(&plan.lengths, 0, bytemuck::cast_slice(&call.lengths));
        let recording = ForwardRecording {
            stack: self.stack,
            steps: &plan.steps,
            states,
            out: &call.out,
            copy_out: Some(&plan.output),
        };
        let submitted = how.submit(gpu, "forward", &|rec| recording.record(rec))?;
        Ok((call.out, submitted))
    }

    /// A training forward: dropout between layers, and the [`TrainTape`]
    /// that the backward reads (it owns its buffers: the kept inference
    /// plan is freed first).
    pub(crate) fn train<S: Submit>(
        &self,
        input: &GpuTensor,
        states: (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
        options: TrainOptions,
        how: S,
    ) -> Result<(RnnOutput, TrainTape, S::Out)> {
        let options = options.validated()?;
        self.kept.release();
        let call = self.call(input, states, lengths)?;
        let gpu = &self.gpu;
        let (seq, batch) = (call.seq, call.batch);
        let lengths = storage_buffer_of(gpu, "lengths", &call.lengths)?;
        let planned = PlannedSteps::Layered(self.plan_layers(
            seq,
            batch,
            input,
            &lengths,
            call.out.output.buffer(),
            Some(options),
        )?);
        let recording = ForwardRecording {
            stack: self.stack,
            steps: &planned,
            states,
            out: &call.out,
            copy_out: None,
        };
        let submitted = how.submit(gpu, "forward", &|rec| recording.record(rec))?;
        let PlannedSteps::Layered(planned) = planned else {
            unreachable!("a training forward runs layered")
        };
        let tape = TrainTape {
            gpu: gpu.clone(),
            config: self.config,
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
        Ok((call.out, tape, submitted))
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
        input: &GpuTensor,
        lengths: &wgpu::Buffer,
        output: &wgpu::Buffer,
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
        input: &GpuTensor,
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
                input.buffer().clone()
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
/// dispatches, and its final state into `h_n`/`c_n`.
fn record_layers(
    stack: &DeviceStack,
    rec: &mut Recorder<'_>,
    planned: &[PlannedLayer],
    (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
    out: Outputs<'_>,
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
            Some(h0) => {
                encoder.copy_buffer_to_buffer(h0.buffer(), slot * h_bytes, &p.pass.hs, 0, h_bytes)
            }
            None => encoder.clear_buffer(&p.pass.hs, 0, Some(h_bytes)),
        }
        if let Some(c) = &p.pass.c {
            match c0 {
                Some(c0) => {
                    encoder.copy_buffer_to_buffer(c0.buffer(), slot * c_bytes, c, 0, c_bytes)
                }
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
        rec.run("scatter (time order)", |pass| p.scatter.record(pass));
        if let Some(dropout) = &p.dropout {
            rec.run("dropout", |pass| dropout.record(pass));
        }
        let encoder = rec.encoder();
        encoder.copy_buffer_to_buffer(
            &p.pass.hs,
            p.seq as u64 * h_bytes,
            out.h_n.buffer(),
            slot * h_bytes,
            h_bytes,
        );
        if let (Some(c_n), Some(c)) = (out.c_n, &p.pass.c) {
            // Training keeps every step's cell state; the last is slot T.
            let last = if p.training {
                p.seq as u64 * c_bytes
            } else {
                0
            };
            encoder.copy_buffer_to_buffer(c, last, c_n.buffer(), slot * c_bytes, c_bytes);
        }
    }
}
