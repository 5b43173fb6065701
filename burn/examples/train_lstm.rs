//! A Burn model with a dense head around `burn::nn::Lstm`, trained with
//! Burn's Adam on wgpu-rnn's kernels. Compared with a plain Burn program,
//! two lines change: the device comes from `wgpu_rnn_burn::init()` (so our
//! kernels share it), and the model calls `forward_accelerated` where it
//! called `forward`. Everything else (the module, its record, the loss,
//! the optimizer, autodiff) is Burn's own.
//!
//! The task: read a sequence of 16 random values and say the mean of its
//! first 4 (a memory task: the answer is 12 steps back by the last one).
//!
//! Run: `cargo run --release --example train_lstm` in `burn/`.

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use wgpu_rnn_burn::Accelerated;

#[derive(Module, Debug)]
struct Model {
    lstm: Lstm,
    head: Linear,
}

impl Model {
    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        // The one line that changes: was `self.lstm.forward(x, None)`.
        let (_, state) = self.lstm.forward_accelerated(x, None);
        self.head.forward(state.hidden)
    }
}

fn main() -> Result<(), wgpu_rnn_burn::Error> {
    // Was `Device::default()`: Burn's wgpu device, shared with our kernels.
    let device = wgpu_rnn_burn::init()?.autodiff();
    device.seed(7);
    let mut model = Model {
        lstm: LstmConfig::new(1, 32, true).init(&device),
        head: LinearConfig::new(32, 1).init(&device),
    };
    let mut optim = AdamConfig::new().init();
    let (batch, seq) = (32, 16);
    let mut first = None;
    let mut last = 0.0;
    for step in 0..300 {
        let x = Tensor::<3>::random([batch, seq, 1], Distribution::Uniform(-1.0, 1.0), &device);
        let target = x
            .clone()
            .slice([0..batch, 0..8])
            .mean_dim(1)
            .reshape([batch, 1]);
        let loss = MseLoss::new().forward(model.forward(x), target, Reduction::Mean);
        let value: f32 = loss.clone().into_scalar();
        first.get_or_insert(value);
        last = value;
        if step % 50 == 0 {
            println!("step {step:3}: loss {value:.5}");
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let first = first.unwrap_or(last);
    println!("loss {first:.5} -> {last:.5}");
    // The mean of 8 uniform values has variance 1/24 = 0.042: a model
    // that learned nothing stays there.
    assert!(
        last < 0.01,
        "the LSTM did not learn to remember (loss {last})"
    );
    Ok(())
}
