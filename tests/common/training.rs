//! The training check shared by the backward tests: a forward and backward
//! on the GPU against the f64 reference backward, every gradient compared.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::reference::backward::{backward, Cotangents};
use wgpu_rnn::reference::check::gradient_bound;
use wgpu_rnn::reference::Problem;
use wgpu_rnn::train::{HostSeeds, TrainOptions};
use wgpu_rnn::{Gpu, RnnStack, StackConfig, StackWeights};

use super::gradients::{reference_dropout, worst_gradient_error};
use super::random_vec;

/// One backward case.
#[derive(Debug, Clone)]
pub struct Case {
    pub seq: usize,
    pub batch: usize,
    pub lengths: Option<Vec<usize>>,
    pub with_h0: bool,
    pub with_c0: bool,
    /// Which cotangents are given: output, h_n, c_n.
    pub seeds: [bool; 3],
    pub input_scale: f32,
    /// Multiplies the error bound (saturation only, see its test).
    pub bound_factor: f64,
    pub seed: u64,
}

pub fn case(seq: usize, batch: usize, lengths: Option<Vec<usize>>, seed: u64) -> Case {
    Case {
        seq,
        batch,
        lengths,
        with_h0: true,
        with_c0: true,
        seeds: [true; 3],
        input_scale: 1.0,
        bound_factor: 1.0,
        seed,
    }
}

/// Runs the forward and backward on `device` and in the reference and
/// compares every gradient within [`gradient_bound`] (times the case's
/// `bound_factor`). Returns the worst relative error.
pub fn check_on(device: &Gpu, config: StackConfig, c: &Case, options: TrainOptions) -> f64 {
    let weights = StackWeights::random(config, c.seed, 1.0).unwrap();
    let layer = config.layer;
    let (slots, ho, h) = (config.state_slots(), layer.output_size(), layer.hidden_size);
    let (t, b) = (c.seq, c.batch);
    let mut rng = SmallRng::seed_from_u64(c.seed + 1000);
    let input = random_vec(&mut rng, t * b * layer.input_size, c.input_scale);
    let h0 = c.with_h0.then(|| random_vec(&mut rng, slots * b * ho, 1.0));
    let c0 = (c.with_c0 && layer.cell.has_cell_state())
        .then(|| random_vec(&mut rng, slots * b * h, 1.0));
    // Random cotangents, nonzero at padded steps too (they must not count).
    let g_out = c.seeds[0].then(|| random_vec(&mut rng, t * b * config.output_size(), 1.0));
    let g_h = c.seeds[1].then(|| random_vec(&mut rng, slots * b * ho, 1.0));
    let g_c = (c.seeds[2] && layer.cell.has_cell_state())
        .then(|| random_vec(&mut rng, slots * b * h, 1.0));

    let stack = RnnStack::new(device, &weights).unwrap();
    let seeds = HostSeeds {
        output: g_out.as_deref(),
        h_n: g_h.as_deref(),
        c_n: g_c.as_deref(),
    };
    let (_, got) = stack
        .train_step_host(
            &input,
            t,
            b,
            h0.as_deref(),
            c0.as_deref(),
            c.lengths.as_deref(),
            seeds,
            options,
        )
        .unwrap();

    let mut problem = Problem::new(
        &weights,
        &input,
        t,
        b,
        h0.as_deref(),
        c0.as_deref(),
        c.lengths.as_deref(),
    )
    .unwrap();
    problem.dropout = reference_dropout(&config, options, t, b);
    let f64s = |v: Option<Vec<f32>>, n: usize| {
        v.map_or_else(
            || vec![0.0; n],
            |v| v.iter().map(|&x| f64::from(x)).collect(),
        )
    };
    let cot = Cotangents {
        output: f64s(g_out, t * b * config.output_size()),
        h_n: f64s(g_h, slots * b * ho),
        c_n: f64s(g_c, slots * b * h),
    };
    let want = backward(&problem, &cot);
    let label = format!(
        "{} I={} H={} Ho={} L={} {} bias={} batch_first={} T={t} B={b} lengths={:?} h0={} c0={} seeds={:?} x_scale={} dropout={}",
        layer.cell.name(),
        layer.input_size,
        h,
        ho,
        config.num_layers,
        config.direction.name(),
        layer.bias,
        config.batch_first,
        c.lengths,
        c.with_h0,
        c.with_c0,
        c.seeds,
        c.input_scale,
        options.dropout,
    );
    let worst = worst_gradient_error(&label, &config, &want, &got);
    let bound = c.bound_factor * gradient_bound(&config, t);
    eprintln!("{label}: worst relative gradient error {worst:.3e} (bound {bound:.3e})");
    assert!(worst <= bound, "{label}: {worst:e} > {bound:e}");
    worst
}
