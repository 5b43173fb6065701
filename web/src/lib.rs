//! wgpu-rnn in the browser: what the pages in `web/www` call through
//! wasm-bindgen. Everything here is glue; the models, the training and the
//! tasks are the library's and `wgpu-rnn-tasks`'.
//!
//! - [`Lab`]: one WebGPU device ([`Gpu::new_async`]) and the adapter's name.
//! - [`AddingRun`]: one cell learning the adding problem (the demo's
//!   model: a layer, a dense head, MSE, clipping, Adam), one step a call.
//! - [`BenchLstm`]: one LSTM with given weights, timed by the bench page
//!   against TensorFlow.js: inference, and a training step (forward, MSE on
//!   the output, backward, Adam).
//!
//! Every method that waits returns a `Promise`: nothing here blocks the
//! page's thread.

use js_sys::{Float32Array, Promise};
use rand::SeedableRng;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use wgpu_rnn::train::TrainOptions;
use wgpu_rnn::train::{mse_loss, GradMode, Optimizer, OptimizerConfig, Seeds, StackGrads};
use wgpu_rnn::{CellKind, Gpu, GpuTensor, RnnConfig};
use wgpu_rnn::{RnnOutput, RnnStack, RnnWeights, StackConfig, StackWeights};
use wgpu_rnn_tasks::{Setup, Task, TaskRng, Trainer};

fn js_error(e: wgpu_rnn::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// One WebGPU device for the page.
#[wasm_bindgen]
pub struct Lab {
    gpu: Gpu,
}

#[wasm_bindgen]
impl Lab {
    /// Opens the browser's WebGPU adapter with the limits it offers.
    pub async fn open() -> Result<Lab, JsError> {
        let gpu = Gpu::new_async().await.map_err(js_error)?;
        Ok(Lab { gpu })
    }

    /// wgpu's back end and the adapter's device type (the browser keeps
    /// its name from wgpu: the page asks `navigator.gpu` for it).
    pub fn backend(&self) -> String {
        let info = self.gpu.info();
        format!("{:?}, {:?}", info.backend, info.device_type)
    }
}

/// One cell on the adding problem: a fresh batch and one Adam step a call.
#[wasm_bindgen]
pub struct AddingRun {
    trainer: Trainer,
    rng: TaskRng,
}

#[wasm_bindgen]
impl AddingRun {
    /// `cell` as the CLI names it ([`CellKind::parse`]), sequence length `t`, `hidden` units, `batch`
    /// sequences a step, Adam's learning rate `lr` with gradients clipped to
    /// norm 1, weights and data from `seed` (as `wgpu-rnn demo` seeds them).
    #[wasm_bindgen(constructor)]
    pub fn new(
        lab: &Lab,
        cell: &str,
        t: usize,
        hidden: usize,
        batch: usize,
        lr: f32,
        seed: u32,
    ) -> Result<AddingRun, JsError> {
        let seed = u64::from(seed);
        if t < 2 {
            return Err(JsError::new("the adding problem needs t >= 2"));
        }
        let setup = Setup {
            cell: CellKind::parse(cell).map_err(js_error)?,
            task: Task::Adding,
            t,
            hidden,
            batch,
            optimizer: OptimizerConfig::adam(lr).with_max_grad_norm(1.0),
            seed,
        };
        let trainer = Trainer::new(&lab.gpu, setup).map_err(js_error)?;
        Ok(AddingRun {
            trainer,
            rng: TaskRng::seed_from_u64(Task::Adding.data_seed(seed, t)),
        })
    }

    /// One training step; resolves to the batch's loss (MSE).
    pub fn step(&mut self) -> Result<Promise, JsError> {
        let loss = self.trainer.record_step(&mut self.rng).map_err(js_error)?;
        Ok(future_to_promise(async move {
            let value = loss.value_host_async().await.map_err(js_error)?;
            Ok(JsValue::from(value))
        }))
    }
}

/// One LSTM (`nn.LSTM(I, H)`, one layer) with the page's weights, for the
/// bench: inference and a training step on the same device, buffers kept
/// between calls as an app would keep them.
#[wasm_bindgen]
pub struct BenchLstm {
    stack: RnnStack,
    grads: StackGrads,
    adam: Optimizer,
    input: GpuTensor,
    target: GpuTensor,
    out: RnnOutput,
}

#[wasm_bindgen]
impl BenchLstm {
    /// Weights in PyTorch's layout: `weight_ih [4H, I]`, `weight_hh [4H, H]`,
    /// `bias_ih [4H]`, `bias_hh [4H]`, gates i, f, g, o.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(constructor)]
    pub fn new(
        lab: &Lab,
        batch: usize,
        seq: usize,
        input: usize,
        hidden: usize,
        weight_ih: Vec<f32>,
        weight_hh: Vec<f32>,
        bias_ih: Vec<f32>,
        bias_hh: Vec<f32>,
    ) -> Result<BenchLstm, JsError> {
        let gpu = &lab.gpu;
        let layer = RnnConfig::new(CellKind::Lstm, input, hidden).map_err(js_error)?;
        let weights = RnnWeights::new(
            layer,
            weight_ih,
            weight_hh,
            Some(bias_ih),
            Some(bias_hh),
            None,
        )
        .map_err(js_error)?;
        let weights =
            StackWeights::new(StackConfig::new(layer), vec![weights]).map_err(js_error)?;
        let stack = RnnStack::new(gpu, &weights).map_err(js_error)?;
        let grads = StackGrads::zeros(&stack).map_err(js_error)?;
        let mut adam = Optimizer::new(gpu, OptimizerConfig::adam(1e-3)).map_err(js_error)?;
        adam.add_stack(&stack, &grads).map_err(js_error)?;
        let input_t =
            GpuTensor::zeros(gpu, "bench input", &[seq, batch, input]).map_err(js_error)?;
        let target =
            GpuTensor::zeros(gpu, "bench target", &[seq, batch, hidden]).map_err(js_error)?;
        let out = stack
            .forward(&input_t, None, None, None)
            .map_err(js_error)?;
        Ok(BenchLstm {
            stack,
            grads,
            adam,
            input: input_t,
            target,
            out,
        })
    }

    /// The output `[T, B, H]` (time-major) for `x` `[T, B, I]`.
    pub fn infer(&self, x: &[f32]) -> Result<Promise, JsError> {
        self.input.write(x).map_err(js_error)?;
        self.stack
            .forward_into(&self.input, None, None, None, &self.out)
            .map_err(js_error)?;
        let output = self.out.output.clone();
        Ok(future_to_promise(async move {
            let values = output.to_vec_async().await.map_err(js_error)?;
            Ok(Float32Array::from(&values[..]).into())
        }))
    }

    /// One training step as TensorFlow.js's `trainOnBatch` takes it: forward
    /// with a tape, MSE of the output against `target` `[T, B, H]`, the
    /// backward pass and Adam; resolves to the loss.
    pub fn train(&mut self, x: &[f32], target: &[f32]) -> Result<Promise, JsError> {
        self.input.write(x).map_err(js_error)?;
        self.target.write(target).map_err(js_error)?;
        let (out, tape) = self
            .stack
            .forward_train(&self.input, None, None, None, TrainOptions::default())
            .map_err(js_error)?;
        let loss = mse_loss(&out.output, &self.target).map_err(js_error)?;
        let seeds = Seeds {
            output: Some(&loss.grad),
            ..Default::default()
        };
        self.stack
            .backward(&tape, seeds, &self.grads, GradMode::Overwrite)
            .map_err(js_error)?;
        self.adam.step().map_err(js_error)?;
        Ok(future_to_promise(async move {
            let value = loss.value_host_async().await.map_err(js_error)?;
            Ok(JsValue::from(value))
        }))
    }
}
