//! The per-step kernels take their params as immediates where the device
//! has them (lavapipe does) and from one uniform array at dynamic offsets
//! elsewhere. Both must give the same bits: every other test runs the
//! default (immediates here), this one the uniform path against it, on a
//! forward (the persistent kernel too) and on a training step.

mod common;

use common::{gpu, random_vec, uniform_params_gpu};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::train::{HostSeeds, TrainOptions};
use wgpu_rnn::{CellKind, Gpu, Rnn, RnnConfig, RnnStack, RnnWeights, StackConfig, StackWeights};

#[test]
fn immediates_are_on_where_the_device_has_them() {
    assert!(!uniform_params_gpu().tuning().immediates());
    let caps = gpu().capabilities();
    assert_eq!(gpu().tuning().immediates(), caps.immediates);
    if gpu().info().name.contains("llvmpipe") {
        assert!(caps.immediates, "lavapipe has push constants: the tests below would compare the uniform path with itself");
    }
}

#[test]
fn immediate_and_uniform_params_give_the_same_bits() {
    let mut rng = SmallRng::seed_from_u64(3);
    // Forward: H = 32 runs the persistent LSTM on CPU adapters, H = 67 one
    // dispatch per step.
    for h in [32, 67] {
        let weights =
            RnnWeights::random(RnnConfig::new(CellKind::Lstm, 3, h).unwrap(), 1, 1.0).unwrap();
        let x = random_vec(&mut rng, 5 * 4 * 3, 1.0);
        let run = |g: &Gpu| {
            Rnn::new(g, &weights)
                .unwrap()
                .forward_host(&x, 5, 4, None, None)
                .unwrap()
        };
        assert_eq!(run(gpu()), run(uniform_params_gpu()), "lstm H={h}");
    }
    // A training step: the forward and backward step kernels and the
    // projection's two (every pipeline here is compiled twice, and the
    // params path is the same code for every kernel, so one cell).
    let (i, h, t, b) = (4, 19, 4, 5);
    let layer = RnnConfig::new(CellKind::Lstm, i, h)
        .unwrap()
        .with_projection(7)
        .unwrap();
    let weights = StackWeights::random(StackConfig::new(layer), 2, 1.0).unwrap();
    let out = layer.output_size();
    let x = random_vec(&mut rng, t * b * i, 1.0);
    let g_out = random_vec(&mut rng, t * b * out, 1.0);
    let lengths = [4, 2, 4, 1, 3];
    let run = |g: &Gpu| {
        let seeds = HostSeeds {
            output: Some(&g_out),
            h_n: None,
            c_n: None,
        };
        RnnStack::new(g, &weights)
            .unwrap()
            .train_step_host(
                &x,
                t,
                b,
                None,
                None,
                Some(&lengths),
                seeds,
                TrainOptions::default(),
            )
            .unwrap()
    };
    assert_eq!(
        run(gpu()),
        run(uniform_params_gpu()),
        "projected lstm training step"
    );
}
