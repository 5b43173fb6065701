//! A training loop on the GPU in user code: an LSTM and a dense head learn
//! the adding problem (sum the two marked values of a sequence). Forward,
//! loss, backward, clipping and Adam all run on the device; the loss is the
//! only thing read back, every 50 steps.
//!
//!     cargo run --release --example train_adding

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use wgpu_rnn::train::mse_loss;
use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::train::{Linear, LinearGrads};
use wgpu_rnn::train::{Optimizer, OptimizerConfig};
use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights};

const T: usize = 20;
const BATCH: usize = 64;
const HIDDEN: usize = 32;

/// `[T, B, 2]` steps of (value, marker) and the `[B]` sums of the marked values.
fn batch(rng: &mut SmallRng) -> (Vec<f32>, Vec<f32>) {
    let mut x = vec![0.0; T * BATCH * 2];
    let mut sums = vec![0.0; BATCH];
    for b in 0..BATCH {
        for t in 0..T {
            x[(t * BATCH + b) * 2] = rng.random_range(0.0..1.0);
        }
        for t in [rng.random_range(0..T / 2), rng.random_range(T / 2..T)] {
            x[(t * BATCH + b) * 2 + 1] = 1.0;
            sums[b] += x[(t * BATCH + b) * 2];
        }
    }
    (x, sums)
}

fn main() -> Result<(), wgpu_rnn::Error> {
    let gpu = Gpu::new()?;
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 2, HIDDEN)?);
    let lstm = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0)?)?;
    let head = Linear::random(&gpu, (HIDDEN, 1), 0)?;
    let (lstm_grads, head_grads) = (StackGrads::zeros(&lstm)?, LinearGrads::zeros(&head)?);

    let mut adam = Optimizer::new(&gpu, OptimizerConfig::adam(0.01).with_max_grad_norm(1.0))?;
    adam.add_stack(&lstm, &lstm_grads)?;
    adam.add_linear(&head, &head_grads)?;

    let x = GpuTensor::zeros(&gpu, "x", &[T, BATCH, 2])?;
    let target = GpuTensor::zeros(&gpu, "target", &[1, BATCH, 1])?;
    let mut rng = SmallRng::seed_from_u64(1);
    for step in 1..=400 {
        let (xs, sums) = batch(&mut rng);
        x.write(&xs)?;
        target.write(&sums)?;

        let (out, tape) = lstm.forward_train(&x, None, None, None, TrainOptions::default())?;
        let prediction = head.forward(&out.h_n)?; // from the last state, [1, B, 1]
        let loss = mse_loss(&prediction, &target)?;
        let grad_h = head.backward(&out.h_n, &loss.grad, &head_grads, GradMode::Overwrite)?;
        let seeds = Seeds {
            h_n: Some(&grad_h),
            ..Default::default()
        };
        lstm.backward(&tape, seeds, &lstm_grads, GradMode::Overwrite)?;
        adam.step()?;

        if step % 50 == 0 {
            println!("step {step}: MSE {:.4} (chance 0.167)", loss.value_host()?);
        }
    }
    Ok(())
}
