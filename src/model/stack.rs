//! `RnnStack`: what PyTorch calls `nn.LSTM` / `nn.GRU` / `nn.RNN` — layers of
//! one cell, each forward, reverse (ONNX `direction=reverse`) or both, with
//! variable-length batches and time- or batch-major tensors. Every layer and
//! direction is recorded into one encoder and submitted once.

use crate::cells::{DeviceStack, Layer};
use crate::config::{Precision, Schedule, StackConfig};
use crate::error::{element_count, Error, Result};
use crate::gpu::recorder::{IntoEncoder, Plain, Profiled, Submit};
use crate::gpu::tensor::checked_bytes;
use crate::gpu::{Gpu, GpuTensor, KernelProfile};
use crate::pass::{
    check_work, Backward, Forward, GradMode, HostOutput, HostSeeds, InputGrads, PlanCache,
    RnnOutput, Seeds, Source, TrainOptions, TrainTape,
};
use crate::weights::{LayerTensors, StackWeights};

use super::grads::{HostGradients, StackGrads};

/// A recurrent module on the GPU.
#[derive(Clone)]
pub struct RnnStack {
    pub(crate) device: DeviceStack,
    /// The last inference forward's buffers and dispatches (shared by
    /// clones).
    plan: PlanCache,
    schedule: Schedule,
}

impl RnnStack {
    /// Uploads every layer's weights.
    pub fn new(gpu: &Gpu, weights: &StackWeights) -> Result<Self> {
        Self::with_precision(gpu, weights, Precision::F32)
    }

    /// [`RnnStack::new`] with every layer's recurrent weights stored at
    /// `precision` (see [`crate::Rnn::with_precision`]).
    pub fn with_precision(gpu: &Gpu, weights: &StackWeights, precision: Precision) -> Result<Self> {
        Ok(Self::from_device(DeviceStack::upload(
            gpu, weights, precision,
        )?))
    }

    pub(crate) fn from_layers(gpu: &Gpu, config: StackConfig, layers: Vec<Layer>) -> Result<Self> {
        Ok(Self::from_device(DeviceStack::new(gpu, config, layers)?))
    }

    fn from_device(device: DeviceStack) -> Self {
        Self {
            device,
            plan: PlanCache::default(),
            schedule: Schedule::Layered,
        }
    }

    /// This stack running its inference forwards in `schedule` (training
    /// forwards always run [`Schedule::Layered`]). Refuses a schedule the
    /// configuration cannot run.
    pub fn with_schedule(mut self, schedule: Schedule) -> Result<Self> {
        schedule.check(&self.device.config)?;
        self.release_plan();
        self.schedule = schedule;
        Ok(self)
    }

    /// How inference forwards order the layers' steps.
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// The device the stack lives on.
    pub fn gpu(&self) -> &Gpu {
        &self.device.gpu
    }

    /// The module's shape and options.
    pub fn config(&self) -> &StackConfig {
        &self.device.config
    }

    /// The parameters of layer `layer`, direction `direction` (0 forward,
    /// 1 reverse), in PyTorch's layout; `None` past the stack. Writing to
    /// them ([`GpuTensor::write`]) makes the tapes of earlier training
    /// forwards stale, and takes effect in inference forwards after
    /// [`RnnStack::repack`].
    pub fn parameters(&self, layer: usize, direction: usize) -> Option<&LayerTensors> {
        let cfg = self.config();
        (layer < cfg.num_layers && direction < cfg.directions())
            .then(|| self.device.layers[layer * cfg.directions() + direction].parameters())
    }

    /// Rebuilds every layer's kernel layouts from its parameters (after
    /// writing to them; an optimizer step does it itself).
    pub fn repack(&self) -> Result<()> {
        self.device.layers.iter().try_for_each(|l| l.repack())
    }

    /// [`RnnStack::repack`] recorded into the caller's `encoder`, after
    /// the caller recorded its own writes into [`RnnStack::parameters`]'
    /// buffers there (copies from another framework's tensors): counts as
    /// a write of every parameter, so tapes of earlier training forwards
    /// are stale and the stream step rebuilds its layouts.
    pub fn record_repack(&self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        for layer in &self.device.layers {
            layer
                .parameters()
                .named()
                .iter()
                .for_each(|(_, t)| t.bump());
        }
        IntoEncoder(encoder).submit(self.gpu(), "repacking weights", &|rec| {
            rec.run("weight rebuild", |pass| {
                self.device
                    .layers
                    .iter()
                    .flat_map(Layer::repack_dispatches)
                    .for_each(|d| d.record(pass))
            })
        })
    }

    fn forward_pass(&self) -> Forward<'_> {
        Forward {
            stack: &self.device,
            kept: &self.plan,
            schedule: self.schedule,
            output_in_place: false,
        }
    }

    fn backward_pass(&self) -> Backward<'_> {
        Backward {
            stack: &self.device,
        }
    }

    /// Runs the module over `input` `[T, B, I]` (`[B, T, I]` batch-first)
    /// from `h0` `[L*D, B, Ho]` / `c0` `[L*D, B, H]` (zeros when `None`; `c0`
    /// only for LSTMs). With `lengths`, row `b` uses steps `t < lengths[b]`
    /// (any order), a reverse direction starts at the row's own last valid
    /// step, the output is zero past it and `h_n`/`c_n` are the states after
    /// it. One submit, no read-back. The call's buffers and bind groups are
    /// kept for the next call of the same `(T, B)` (with any tensors);
    /// another size, a training forward or [`RnnStack::release_plan`] frees
    /// them. Returns new output tensors: see [`RnnStack::forward_into`] for
    /// a loop that allocates nothing.
    pub fn forward(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
    ) -> Result<RnnOutput> {
        let out = self.outputs_for(input)?;
        self.forward_into(input, h0, c0, lengths, &out)?;
        Ok(out)
    }

    /// Output tensors for a forward of `(T, B)`: `output` `[T, B, D*Ho]`
    /// (`[B, T, D*Ho]` batch-first), `h_n` `[L*D, B, Ho]`, `c_n`
    /// `[L*D, B, H]` (LSTMs).
    pub fn outputs(&self, seq: usize, batch: usize) -> Result<RnnOutput> {
        self.forward_pass().outputs(seq, batch)
    }

    /// [`RnnStack::outputs`] for the `(T, B)` of `input`.
    fn outputs_for(&self, input: &GpuTensor) -> Result<RnnOutput> {
        let &[a, b, _] = input.shape() else {
            return Err(crate::Error::shape(
                "input [T, B, I]",
                &[0, 0, self.config().layer.input_size],
                input.shape(),
            ));
        };
        let (seq, batch) = if self.config().batch_first {
            (b, a)
        } else {
            (a, b)
        };
        self.outputs(seq, batch)
    }

    /// [`RnnStack::forward`] into tensors the caller provides (made by
    /// [`RnnStack::outputs`], or views on the app's buffers): a loop of one
    /// `(T, B)` allocates nothing after its first call. `out.h_n` may be
    /// `h0` itself (and `out.c_n` `c0`): the states are read before they
    /// are written.
    pub fn forward_into(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
        out: &RnnOutput,
    ) -> Result<()> {
        self.forward_pass()
            .infer(Source::Tensor(input), (h0, c0), lengths, out, Plain)
    }

    /// [`RnnStack::forward_into`] recorded into the caller's `encoder`:
    /// nothing is submitted or waited for; the results are there once the
    /// caller submits the encoder (after any work recorded before, before
    /// any after). Several forwards may be recorded into one encoder.
    pub fn record_forward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
        out: &RnnOutput,
    ) -> Result<()> {
        self.forward_pass().infer(
            Source::Tensor(input),
            (h0, c0),
            lengths,
            out,
            IntoEncoder(encoder),
        )
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
        let out = self.outputs_for(input)?;
        let profile =
            self.forward_pass()
                .infer(Source::Tensor(input), (h0, c0), lengths, &out, Profiled)?;
        Ok((out, profile))
    }

    /// Frees the buffers the last inference forward kept for the next one
    /// (see [`RnnStack::forward`]); the next forward plans afresh.
    pub fn release_plan(&self) {
        self.plan.release();
    }

    /// Uploads host initial states: `h0` `[L*D, B, Ho]`, `c0` `[L*D, B, H]`.
    fn upload_states(
        &self,
        batch: usize,
        (h0, c0): (Option<&[f32]>, Option<&[f32]>),
    ) -> Result<(Option<GpuTensor>, Option<GpuTensor>)> {
        let (gpu, cfg) = (self.gpu(), self.config());
        let slots = cfg.state_slots();
        let upload = |what: &str, data: Option<&[f32]>, width: usize| {
            data.map(|d| GpuTensor::from_slice(gpu, what, d, &[slots, batch, width]))
                .transpose()
        };
        Ok((
            upload("h0", h0, cfg.layer.output_size())?,
            upload("c0", c0, cfg.layer.hidden_size)?,
        ))
    }

    /// Uploads host data, runs [`RnnStack::forward`] and reads everything
    /// back. `input` is `[T, B, I]` (`[B, T, I]` batch-first), `h0` / `c0`
    /// `[L*D, B, Ho]` / `[L*D, B, H]`. NaN or infinite inputs are refused with
    /// [`crate::Error::NonFinite`]. The input is written straight into the
    /// kept plan's input buffer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_host(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
    ) -> Result<HostOutput> {
        pollster::block_on(self.forward_host_async(input, seq_len, batch, h0, c0, lengths))
    }

    /// [`RnnStack::forward_host`] without blocking the thread on the
    /// read-back.
    pub async fn forward_host_async(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
    ) -> Result<HostOutput> {
        // Refused before anything is allocated for it.
        checked_bytes(self.gpu(), "input", input.len())?;
        let cfg = self.config();
        let shape = cfg.sequence_shape(seq_len, batch, cfg.layer.input_size);
        if element_count("input", &shape)? != input.len() {
            return Err(Error::shape("input", &shape, &[input.len()]));
        }
        let (h0, c0) = self.upload_states(batch, (h0, c0))?;
        let out = self.outputs(seq_len, batch)?;
        self.forward_pass().infer(
            Source::Host(input, (seq_len, batch)),
            (h0.as_ref(), c0.as_ref()),
            lengths,
            &out,
            Plain,
        )?;
        out.to_host_async().await
    }

    /// The forward pass of [`RnnStack::forward`] in training mode: dropout
    /// between layers and a [`TrainTape`] for [`RnnStack::backward`]. The
    /// gate activations of all steps of one layer must fit one storage
    /// binding.
    pub fn forward_train(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
        options: TrainOptions,
    ) -> Result<(RnnOutput, TrainTape)> {
        let (out, tape, ()) =
            self.forward_pass()
                .train(input, (h0, c0), lengths, options, Plain)?;
        Ok((out, tape))
    }

    /// [`RnnStack::forward_train`] recorded into the caller's `encoder`
    /// (nothing submitted or waited for). The tape is valid once the
    /// caller has submitted the encoder; record the backward after it, into
    /// the same encoder or a later one.
    pub fn record_forward_train(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        input: &GpuTensor,
        (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
        lengths: Option<&[usize]>,
        options: TrainOptions,
    ) -> Result<(RnnOutput, TrainTape)> {
        let (out, tape, ()) =
            self.forward_pass()
                .train(input, (h0, c0), lengths, options, IntoEncoder(encoder))?;
        Ok((out, tape))
    }

    /// [`RnnStack::forward_train`] with each kernel family's GPU time from
    /// timestamp queries (see [`RnnStack::forward_profiled`]).
    pub fn forward_train_profiled(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
        lengths: Option<&[usize]>,
        options: TrainOptions,
    ) -> Result<(RnnOutput, TrainTape, KernelProfile)> {
        self.forward_pass()
            .train(input, (h0, c0), lengths, options, Profiled)
    }

    /// The backward pass of the training forward that made `tape`: writes
    /// (or, with [`GradMode::Accumulate`], adds) the parameter gradients into
    /// `grads` and returns the input gradients. One submit, no read-back.
    pub fn backward(
        &self,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &StackGrads,
        mode: GradMode,
    ) -> Result<InputGrads> {
        let (d, ()) = self
            .backward_pass()
            .run(tape, seeds, grads.layers(), mode, None, Plain)?;
        Ok(d)
    }

    /// [`RnnStack::backward`] recorded into the caller's `encoder`
    /// (nothing submitted or waited for): the gradients are there once the
    /// caller submits it.
    pub fn record_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &StackGrads,
        mode: GradMode,
    ) -> Result<InputGrads> {
        let (d, ()) = self.backward_pass().run(
            tape,
            seeds,
            grads.layers(),
            mode,
            None,
            IntoEncoder(encoder),
        )?;
        Ok(d)
    }

    /// Tensors for [`RnnStack::backward_into`] of a `(T, B)` forward:
    /// zeros shaped like the gradients [`RnnStack::backward`] returns.
    pub fn input_grads(&self, seq: usize, batch: usize) -> Result<InputGrads> {
        check_work(seq, batch)?;
        InputGrads::zeros(self.gpu(), self.config(), seq, batch)
    }

    /// [`RnnStack::backward`] into tensors the caller provides (made by
    /// [`RnnStack::input_grads`], or views on the app's buffers) instead
    /// of new ones: they are overwritten. `out.h0` may be `seeds.h_n`
    /// itself (and `out.c0` `seeds.c_n`): each row is read before it is
    /// written.
    pub fn backward_into(
        &self,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &StackGrads,
        mode: GradMode,
        out: &InputGrads,
    ) -> Result<()> {
        self.backward_pass()
            .run(tape, seeds, grads.layers(), mode, Some(out), Plain)
            .map(drop)
    }

    /// [`RnnStack::backward_into`] recorded into the caller's `encoder`
    /// (nothing submitted or waited for).
    pub fn record_backward_into(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &StackGrads,
        mode: GradMode,
        out: &InputGrads,
    ) -> Result<()> {
        self.backward_pass()
            .run(
                tape,
                seeds,
                grads.layers(),
                mode,
                Some(out),
                IntoEncoder(encoder),
            )
            .map(drop)
    }

    /// [`RnnStack::backward`] with each kernel family's GPU time (backward
    /// gather, backward steps, backward GEMMs, reductions, backward
    /// scatter, dropout) from timestamp queries: the same dispatches in the
    /// same order, each family's run in a pass of its own. Waits for the
    /// GPU to read the timestamps back.
    pub fn backward_profiled(
        &self,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &StackGrads,
        mode: GradMode,
    ) -> Result<(InputGrads, KernelProfile)> {
        self.backward_pass()
            .run(tape, seeds, grads.layers(), mode, None, Profiled)
    }

    /// Uploads host data, runs [`RnnStack::forward_train`] and
    /// [`RnnStack::backward`] (overwriting fresh gradients) and reads
    /// everything back. Layouts as in [`RnnStack::forward_host`]; NaN or
    /// infinite inputs are refused with [`crate::Error::NonFinite`].
    #[allow(clippy::too_many_arguments)]
    #[cfg(not(target_arch = "wasm32"))]
    pub fn train_step_host(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
        seeds: HostSeeds<'_>,
        options: TrainOptions,
    ) -> Result<(HostOutput, HostGradients)> {
        pollster::block_on(
            self.train_step_host_async(input, seq_len, batch, h0, c0, lengths, seeds, options),
        )
    }

    /// [`RnnStack::train_step_host`] without blocking the thread on the
    /// read-backs.
    #[allow(clippy::too_many_arguments)]
    pub async fn train_step_host_async(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
        seeds: HostSeeds<'_>,
        options: TrainOptions,
    ) -> Result<(HostOutput, HostGradients)> {
        let gpu = self.gpu();
        let cfg = *self.config();
        let (slots, ho, h) = (
            cfg.state_slots(),
            cfg.layer.output_size(),
            cfg.layer.hidden_size,
        );
        let in_shape = cfg.sequence_shape(seq_len, batch, cfg.layer.input_size);
        let out_shape = cfg.sequence_shape(seq_len, batch, cfg.output_size());
        let upload = |what: &str, data: Option<&[f32]>, shape: &[usize]| {
            data.map(|d| GpuTensor::from_slice(gpu, what, d, shape))
                .transpose()
        };
        let input = GpuTensor::from_slice(gpu, "input", input, &in_shape)?;
        let (h0, c0) = self.upload_states(batch, (h0, c0))?;
        let g_out = upload("grad_output", seeds.output, &out_shape)?;
        let g_h = upload("grad_h_n", seeds.h_n, &[slots, batch, ho])?;
        let g_c = upload("grad_c_n", seeds.c_n, &[slots, batch, h])?;
        let (out, tape) = self.forward_train(&input, h0.as_ref(), c0.as_ref(), lengths, options)?;
        let grads = StackGrads::zeros(self)?;
        let seeds = Seeds {
            output: g_out.as_ref(),
            h_n: g_h.as_ref(),
            c_n: g_c.as_ref(),
        };
        let d = self.backward(&tape, seeds, &grads, GradMode::Overwrite)?;
        let c0 = match &d.c0 {
            Some(c0) => Some(c0.to_vec_async().await?),
            None => None,
        };
        let host = HostGradients {
            input: d.input.to_vec_async().await?,
            h0: d.h0.to_vec_async().await?,
            c0,
            params: grads.to_host_async().await?,
        };
        Ok((out.to_host_async().await?, host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CellKind, RnnConfig};

    /// The input buffer the kept plan was made for.
    fn planned_input(stack: &RnnStack) -> wgpu::Buffer {
        stack.plan.planned_input().expect("a kept plan")
    }

    #[test]
    fn host_forwards_of_one_shape_reuse_one_plan() {
        let gpu = Gpu::new().expect("GPU tests need a wgpu adapter");
        let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 5).unwrap()).with_layers(2);
        let weights = StackWeights::random(config, 1, 1.0).unwrap();
        let stack = RnnStack::new(&gpu, &weights).unwrap();
        let (a, b) = (vec![0.25f32; 4 * 2 * 3], vec![-0.5f32; 4 * 2 * 3]);
        let first = stack.forward_host(&a, 4, 2, None, None, None).unwrap();
        let input = planned_input(&stack);
        let second = stack.forward_host(&b, 4, 2, None, None, None).unwrap();
        assert!(
            planned_input(&stack) == input,
            "the second call planned again"
        );
        assert_ne!(first, second, "new data was not seen");
        // A NaN is refused and leaves the kept tensor usable.
        let mut bad = a.clone();
        bad[5] = f32::NAN;
        assert!(stack.forward_host(&bad, 4, 2, None, None, None).is_err());
        assert_eq!(
            stack.forward_host(&a, 4, 2, None, None, None).unwrap(),
            first
        );
        // Another shape gets its own tensor and plan.
        stack
            .forward_host(&a[..3 * 2 * 3], 3, 2, None, None, None)
            .unwrap();
        assert!(planned_input(&stack) != input);
    }
}
