//! [`Stream`]: a unidirectional [`RnnStack`] run frame by frame, its
//! states kept on the device between calls (speech enhancement, keyword
//! spotting, online forecasting, a game agent). Each call is an inference
//! forward of K steps on a plan the stream keeps per K, with the states as
//! both its initial and its final states: after the first call of a K
//! nothing is allocated and nothing waited for.

use std::sync::Arc;

use crate::config::Direction;
use crate::error::{Error, Result};
use crate::gpu::recorder::{IntoEncoder, Plain, Submit};
use crate::gpu::tensor::read_mapped;
use crate::gpu::GpuTensor;
use crate::pass::{check_work, Forward, PlanCache, RnnOutput, Source, TrainOptions, TrainTape};

use super::chunks::forget_oldest;
use super::fused_stream::FusedSteps;
use super::RnnStack;

/// A stream of frames through a unidirectional stack, for a fixed batch of
/// `B` independent streams (rows). Made by [`RnnStack::stream`].
///
/// ```
/// use wgpu_rnn::{CellKind, Gpu, GruReset, RnnConfig, RnnStack, StackConfig, StackWeights};
/// let gpu = Gpu::new()?;
/// let config = StackConfig::new(RnnConfig::new(CellKind::Gru(GruReset::After), 4, 8)?);
/// let gru = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0)?)?;
/// let mut stream = gru.stream(2)?; // two independent streams
/// for t in 0..10 {
///     let frame = vec![t as f32 * 0.1; 2 * 4]; // [B, I]
///     let h = stream.step_host(&frame)?; // [B, H]: the new state, read back
///     assert_eq!(h.len(), 2 * 8);
/// }
/// stream.reset_rows(&[true, false])?; // stream 0 starts over
/// assert_eq!(stream.h().shape(), &[1, 2, 8]); // [L, B, H], on the device
/// # Ok::<(), wgpu_rnn::Error>(())
/// ```
pub struct Stream {
    stack: RnnStack,
    batch: usize,
    /// `h` `[L, B, Ho]` and (LSTM) `c` `[L, B, H]`: the state after the last
    /// step, zeros at the start.
    h: GpuTensor,
    c: Option<GpuTensor>,
    /// One kept forward per number of steps a call has taken.
    runs: Vec<Run>,
    /// Per number of steps, where [`Stream::steps_host`] reads its output
    /// back from.
    readables: Vec<(usize, wgpu::Buffer)>,
    /// The whole stack in one dispatch per call, where the tuning takes it
    /// (else `runs`, layer by layer).
    fused: Option<FusedSteps>,
}

/// The kept forward of one number of steps `K` and its output
/// `[K, B, Ho]` (`[B, K, Ho]` batch-first).
struct Run {
    steps: usize,
    plan: PlanCache,
    out: RnnOutput,
}

impl RnnStack {
    /// A [`Stream`] of `batch` rows through this stack, from zero states,
    /// with the one-step forward planned (its buffers made, its pipelines
    /// compiled). Refuses a bidirectional or reverse stack: its steps run
    /// from the end of the sequence, which a stream does not have yet.
    pub fn stream(&self, batch: usize) -> Result<Stream> {
        let cfg = self.config();
        if cfg.direction != Direction::Forward {
            return Err(Error::config(
                "stream",
                format!(
                    "a {} stack needs the whole sequence; a stream runs forward stacks only",
                    cfg.direction.name()
                ),
            ));
        }
        if batch == 0 {
            return Err(Error::ZeroSize {
                what: "stream batch".into(),
            });
        }
        let gpu = self.gpu();
        let (layers, h, ho) = (
            cfg.num_layers,
            cfg.layer.hidden_size,
            cfg.layer.output_size(),
        );
        let mut stream = Stream {
            stack: self.clone(),
            batch,
            h: GpuTensor::zeros(gpu, "stream h", &[layers, batch, ho])?,
            c: cfg
                .layer
                .cell
                .has_cell_state()
                .then(|| GpuTensor::zeros(gpu, "stream c", &[layers, batch, h]))
                .transpose()?,
            runs: Vec::new(),
            readables: Vec::new(),
            fused: None,
        };
        stream.fused = FusedSteps::new(self, batch, &stream.h, stream.c.as_ref())?;
        // A real-time loop's first step should not compile pipelines.
        match &mut stream.fused {
            Some(fused) => fused.prepare(1)?,
            None => stream.run_of(1).map(drop)?,
        }
        stream.readable_of(1);
        Ok(stream)
    }
}

impl Stream {
    /// Rows (independent streams) the stream advances together.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The stack the stream runs.
    pub fn stack(&self) -> &RnnStack {
        &self.stack
    }

    /// Whether a call of `steps` steps is one dispatch for the whole stack
    /// (the fused step, see [`crate::Tuning::fused_stream`]) rather than
    /// the layer-by-layer passes of a forward.
    pub fn is_fused(&self, steps: usize) -> bool {
        self.fused.as_ref().is_some_and(|f| f.takes(steps))
    }

    /// The hidden state after the last step, `[L, B, Ho]`: read it, save
    /// it, or write another into it ([`GpuTensor::write`], or a copy
    /// recorded by the app) to set it.
    pub fn h(&self) -> &GpuTensor {
        &self.h
    }

    /// The cell state after the last step, `[L, B, H]` (LSTMs), as
    /// [`Stream::h`].
    pub fn c(&self) -> Option<&GpuTensor> {
        self.c.as_ref()
    }

    /// Advances every row one step on `x` `[B, I]` (or `[1, B, I]`) and
    /// submits: no host wait. Returns the top layer's new `h`, `[1, B, Ho]`
    /// (`[B, 1, Ho]` batch-first; valid once the GPU has run the submit,
    /// and until the next call).
    pub fn step(&mut self, x: &GpuTensor) -> Result<&GpuTensor> {
        let x = self.one_step(x)?;
        self.run(&x, Plain)
    }

    /// Advances every row `K` steps on `x` `[K, B, I]` (`[B, K, I]` for a
    /// batch-first stack) in one recording and one submit. Returns the top
    /// layer's output of the K steps, `[K, B, Ho]` (`[B, K, Ho]`).
    pub fn steps(&mut self, x: &GpuTensor) -> Result<&GpuTensor> {
        self.run(x, Plain)
    }

    /// [`Stream::step`] recorded into the app's `encoder` (nothing
    /// submitted or waited for).
    pub fn record_step(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        x: &GpuTensor,
    ) -> Result<&GpuTensor> {
        let x = self.one_step(x)?;
        self.run(&x, IntoEncoder(encoder))
    }

    /// [`Stream::steps`] recorded into the app's `encoder`.
    pub fn record_steps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        x: &GpuTensor,
    ) -> Result<&GpuTensor> {
        self.run(x, IntoEncoder(encoder))
    }

    /// One step from host values `x` `[B, I]`, waiting for the GPU and
    /// reading the top layer's new `h` `[B, Ho]` back: a real-time loop's
    /// step. Refuses NaN and infinities. Allocates nothing on the device
    /// after its first call.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step_host(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        let input = self.stack.config().layer.input_size;
        if x.len() != self.batch * input {
            return Err(Error::shape(
                "stream step input [B, I]",
                &[self.batch, input],
                &[x.len()],
            ));
        }
        pollster::block_on(self.steps_host_async(x))
    }

    /// [`Stream::step_host`] for `K = x.len() / (B * I)` steps at once:
    /// `x` `[K, B, I]` (`[B, K, I]` batch-first) in, the top layer's output
    /// `[K, B, Ho]` (`[B, K, Ho]`) back.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn steps_host(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        pollster::block_on(self.steps_host_async(x))
    }

    /// [`Stream::steps_host`] without blocking the thread on the read-back.
    pub async fn steps_host_async(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        let gpu = self.stack.gpu().clone();
        let cfg = *self.stack.config();
        let frame = self.batch * cfg.layer.input_size;
        if x.is_empty() {
            return Err(Error::ZeroSize {
                what: "stream steps K".into(),
            });
        }
        if !x.len().is_multiple_of(frame) {
            return Err(Error::shape(
                "stream input [K, B, I]",
                &[
                    x.len().div_ceil(frame).max(1),
                    self.batch,
                    cfg.layer.input_size,
                ],
                &[x.len()],
            ));
        }
        let steps = x.len() / frame;
        let shape = cfg.sequence_shape(steps, self.batch, cfg.layer.input_size);
        let readable = self.readable_of(steps);
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stream steps"),
            });
        // The values go straight into the kept plan's input buffer.
        let output = self.run_from(
            Source::Host(x, (steps, self.batch)),
            &shape,
            IntoEncoder(&mut encoder),
        )?;
        output.copy_to(&mut encoder, &readable, 0);
        gpu.scoped("stream steps", || gpu.queue().submit([encoder.finish()]))?;
        let bytes = read_mapped(&gpu, &readable, "stream output").await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Truncated backpropagation through time: a training forward of the
    /// `K` steps of `x` `[K, B, I]` from the stream's state, which then
    /// moves on to the state after them. Run the backward on the returned
    /// tape as after [`RnnStack::forward_train`]; its `h0`/`c0` gradients
    /// are where the truncation cuts (the earlier chunks are not
    /// revisited). Allocates its tape, as every training forward does.
    pub fn train_steps(
        &mut self,
        x: &GpuTensor,
        options: TrainOptions,
    ) -> Result<(RnnOutput, TrainTape)> {
        let gpu = self.stack.gpu().clone();
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stream training steps"),
            });
        let taped = self.record_train_steps(&mut encoder, x, options)?;
        gpu.scoped("stream training steps", || {
            gpu.queue().submit([encoder.finish()])
        })?;
        Ok(taped)
    }

    /// [`Stream::train_steps`] recorded into the app's `encoder`.
    pub fn record_train_steps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        x: &GpuTensor,
        options: TrainOptions,
    ) -> Result<(RnnOutput, TrainTape)> {
        let (out, tape) = self.stack.record_forward_train(
            encoder,
            x,
            (Some(&self.h), self.c.as_ref()),
            None,
            options,
        )?;
        out.h_n.copy_to(encoder, self.h.buffer(), self.h.offset());
        if let (Some(c_n), Some(c)) = (&out.c_n, &self.c) {
            c_n.copy_to(encoder, c.buffer(), c.offset());
        }
        Ok((out, tape))
    }

    /// Zeroes the states of the rows where `rows` is true (a new utterance
    /// in that slot), for every layer, on the device; the other rows are
    /// untouched. Submits; no host wait.
    pub fn reset_rows(&mut self, rows: &[bool]) -> Result<()> {
        let gpu = self.stack.gpu().clone();
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stream reset"),
            });
        self.record_reset_rows(&mut encoder, rows)?;
        gpu.scoped("stream reset", || gpu.queue().submit([encoder.finish()]))?;
        Ok(())
    }

    /// [`Stream::reset_rows`] recorded into the app's `encoder`.
    pub fn record_reset_rows(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &[bool],
    ) -> Result<()> {
        if rows.len() != self.batch {
            return Err(Error::shape(
                "stream row mask",
                &[self.batch],
                &[rows.len()],
            ));
        }
        let layers = self.stack.config().num_layers;
        for state in std::iter::once(&self.h).chain(&self.c) {
            let width = state.shape()[2] as u64 * 4;
            for l in 0..layers {
                for b in (0..self.batch).filter(|&b| rows[b]) {
                    let at = state.offset() + ((l * self.batch + b) as u64) * width;
                    encoder.clear_buffer(state.buffer(), at, Some(width));
                }
            }
        }
        Ok(())
    }

    /// `x` `[B, I]` as the one-step input `[1, B, I]` (`[B, 1, I]`
    /// batch-first; the same buffer).
    fn one_step(&self, x: &GpuTensor) -> Result<GpuTensor> {
        let cfg = self.stack.config();
        let input = cfg.layer.input_size;
        match *x.shape() {
            [b, i] | [1, b, i] | [b, 1, i] if (b, i) == (self.batch, input) => {
                x.reshape(&cfg.sequence_shape(1, self.batch, input))
            }
            _ => Err(Error::shape(
                "stream step input [B, I]",
                &[self.batch, input],
                x.shape(),
            )),
        }
    }

    /// Where host calls of `steps` steps read their output back from, made
    /// on first use.
    fn readable_of(&mut self, steps: usize) -> wgpu::Buffer {
        if let Some((_, b)) = self.readables.iter().find(|(k, _)| *k == steps) {
            return b.clone();
        }
        forget_oldest(&mut self.readables, |(k, _)| *k);
        let bytes = steps * self.batch * self.stack.config().output_size() * 4;
        let b = self.stack.gpu().create_buffer(&wgpu::BufferDescriptor {
            label: Some("stream read-back"),
            size: bytes as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.readables.push((steps, b.clone()));
        b
    }

    /// The forward pass of `run`.
    fn forward<'a>(&'a self, run: &'a Run) -> Forward<'a> {
        Forward {
            stack: &self.stack.device,
            kept: &run.plan,
            schedule: self.stack.schedule(),
            output_in_place: true,
        }
    }

    /// The index of the run of `steps` steps, made and planned (buffers
    /// allocated, pipelines compiled) on first use.
    fn run_of(&mut self, steps: usize) -> Result<usize> {
        if let Some(at) = self.runs.iter().position(|r| r.steps == steps) {
            return Ok(at);
        }
        forget_oldest(&mut self.runs, |r| r.steps);
        let cfg = *self.stack.config();
        let gpu = self.stack.gpu();
        let out_shape = cfg.sequence_shape(steps, self.batch, cfg.output_size());
        // Only the output is the run's own: the states are the stream's,
        // read before each layer and written after it.
        let run = Run {
            steps,
            plan: Arc::default(),
            out: RnnOutput {
                output: GpuTensor::zeros(gpu, "stream output", &out_shape)?,
                h_n: self.h.clone(),
                c_n: self.c.clone(),
            },
        };
        self.forward(&run).prepare(steps, self.batch, &run.out)?;
        self.runs.push(run);
        Ok(self.runs.len() - 1)
    }

    /// One call of `K` steps (K from `x`), recorded as `how` says.
    fn run<S: Submit>(&mut self, x: &GpuTensor, how: S) -> Result<&GpuTensor> {
        self.run_from(Source::Tensor(x), x.shape(), how)
    }

    /// [`Stream::run`] from a tensor or host values of `shape`.
    fn run_from<S: Submit>(
        &mut self,
        input: Source<'_>,
        shape: &[usize],
        how: S,
    ) -> Result<&GpuTensor> {
        let cfg = *self.stack.config();
        let steps = match *shape {
            [a, b, i] if i == cfg.layer.input_size => {
                let (steps, batch) = if cfg.batch_first { (b, a) } else { (a, b) };
                if batch != self.batch {
                    return Err(Error::shape("stream input batch", &[self.batch], &[batch]));
                }
                steps
            }
            _ => {
                let want = cfg.sequence_shape(1, self.batch, cfg.layer.input_size);
                return Err(Error::shape("stream input [K, B, I]", &want, shape));
            }
        };
        check_work(steps, self.batch)?;
        // Both paths read and write the same states: calls may alternate.
        if self.is_fused(steps) {
            let fused = self.fused.as_mut().expect("checked above");
            return fused.run(input, shape, steps, how);
        }
        let at = self.run_of(steps)?;
        let run = &self.runs[at];
        self.forward(run)
            .infer(input, (Some(&self.h), self.c.as_ref()), None, &run.out, how)?;
        Ok(&run.out.output)
    }
}
