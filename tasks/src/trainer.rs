//! One model (a recurrent layer and a dense head) trained on one task, every
//! step on the GPU: forward with a tape, loss, the head's and the layer's
//! backward, clipping and Adam. The batch goes up; only the loss, when
//! asked for, comes down.

use crate::tasks::{Batch, Target, Task};
use crate::TaskRng;
use wgpu_rnn::train::{cross_entropy_loss, mse_loss, ClassTargets, Loss};
use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::train::{Linear, LinearGrads};
use wgpu_rnn::train::{Optimizer, OptimizerConfig};
use wgpu_rnn::Gpu;
use wgpu_rnn::GpuTensor;
use wgpu_rnn::Result;
use wgpu_rnn::{CellKind, RnnConfig};
use wgpu_rnn::{RnnStack, StackConfig, StackWeights};

/// What one training run is: the model, the task and its size.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub cell: CellKind,
    pub task: Task,
    /// The task's length parameter (sequence length for adding, delay for copy).
    pub t: usize,
    pub hidden: usize,
    pub batch: usize,
    pub optimizer: OptimizerConfig,
    /// Seeds the weights; the data generator is seeded by the caller.
    pub seed: u64,
}

pub struct Trainer {
    setup: Setup,
    gpu: Gpu,
    rnn: RnnStack,
    head: Linear,
    rnn_grads: StackGrads,
    head_grads: LinearGrads,
    optimizer: Optimizer,
    /// `[steps, B, features]`, rewritten every step.
    inputs: GpuTensor,
    /// Adding: `[1, B, 1]` sums, rewritten every step.
    sums: GpuTensor,
}

impl Trainer {
    pub fn new(gpu: &Gpu, setup: Setup) -> Result<Self> {
        let task = setup.task;
        let layer = RnnConfig::new(setup.cell, task.features(), setup.hidden)?;
        let weights = StackWeights::random(StackConfig::new(layer), setup.seed, 1.0)?;
        let rnn = RnnStack::new(gpu, &weights)?;
        let head = Linear::random(gpu, (setup.hidden, task.outputs()), setup.seed ^ 0x5eed)?;
        let rnn_grads = StackGrads::zeros(&rnn)?;
        let head_grads = LinearGrads::zeros(&head)?;
        let mut optimizer = Optimizer::new(gpu, setup.optimizer)?;
        optimizer.add_stack(&rnn, &rnn_grads)?;
        optimizer.add_linear(&head, &head_grads)?;
        let steps = task.steps(setup.t);
        let inputs = GpuTensor::zeros(gpu, "task inputs", &[steps, setup.batch, task.features()])?;
        let sums = GpuTensor::zeros(gpu, "adding targets", &[1, setup.batch, 1])?;
        Ok(Self {
            setup,
            gpu: gpu.clone(),
            rnn,
            head,
            rnn_grads,
            head_grads,
            optimizer,
            inputs,
            sums,
        })
    }

    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// One optimizer step on a fresh batch from `rng`. Returns the batch's
    /// loss when `read_loss` (a read-back, which waits for the GPU).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step(&mut self, rng: &mut TaskRng, read_loss: bool) -> Result<Option<f32>> {
        let loss = self.record_step(rng)?;
        read_loss.then(|| loss.value_host()).transpose()
    }

    /// One optimizer step on a fresh batch from `rng`, submitted; the loss
    /// stays on the device until asked for (`Loss::value_host_async`).
    pub fn record_step(&mut self, rng: &mut TaskRng) -> Result<Loss> {
        let Setup { task, t, batch, .. } = self.setup;
        let data = task.batch(t, batch, rng);
        let (loss, _) = self.gradients(&data)?;
        self.optimizer.step()?;
        Ok(loss)
    }

    /// The gradient flow on `data` without training: per time step `t`,
    /// the norm of d(loss)/d(x_t) over the input features, averaged over
    /// the batch (the backward pass's input gradient, read back).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn input_gradient_norms(&mut self, data: &Batch) -> Result<Vec<f64>> {
        let (_, d_input) = self.gradients(data)?;
        let values = d_input.to_vec()?;
        let &[steps, batch, features] = d_input.shape() else {
            unreachable!("the input gradient has the input's shape [T, B, I]")
        };
        Ok(values
            .chunks(batch * features)
            .take(steps)
            .map(|step| {
                step.chunks(features)
                    .map(|row| {
                        row.iter()
                            .map(|&g| f64::from(g).powi(2))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .sum::<f64>()
                    / batch as f64
            })
            .collect())
    }

    /// Forward with a tape, the loss, and both backward passes on `data`:
    /// the parameters' gradients overwritten in place, the loss and the
    /// input's gradient returned. Nothing is updated.
    fn gradients(&mut self, data: &Batch) -> Result<(Loss, GpuTensor)> {
        let task = self.setup.task;
        self.inputs.write(&data.inputs)?;
        let no_dropout = TrainOptions {
            dropout: 0.0,
            seed: 0,
        };
        let (out, tape) = self
            .rnn
            .forward_train(&self.inputs, None, None, None, no_dropout)?;
        // Adding: the head reads the last state h_n [1, B, H]; copy: every
        // step's output [steps, B, H].
        let (features, loss) = match &data.target {
            Target::Sums(sums) => {
                self.sums.write(sums)?;
                let pred = self.head.forward(&out.h_n)?;
                (&out.h_n, mse_loss(&pred, &self.sums)?)
            }
            Target::Classes(classes) => {
                let targets = ClassTargets::from_slice(&self.gpu, classes, task.outputs())?;
                let logits = self.head.forward(&out.output)?;
                (&out.output, cross_entropy_loss(&logits, &targets)?)
            }
        };
        let overwrite = GradMode::Overwrite;
        let grad = self
            .head
            .backward(features, &loss.grad, &self.head_grads, overwrite)?;
        let seeds = match data.target {
            Target::Sums(_) => Seeds {
                h_n: Some(&grad),
                ..Default::default()
            },
            Target::Classes(_) => Seeds {
                output: Some(&grad),
                ..Default::default()
            },
        };
        let d = self
            .rnn
            .backward(&tape, seeds, &self.rnn_grads, overwrite)?;
        Ok((loss, d.input))
    }
}
