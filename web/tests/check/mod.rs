//! The browser suite's checks: GPU results against the f64 reference, every
//! read-back awaited (a browser's thread never blocks). The same bounds as
//! the native suite: `Tolerance::stack` for forwards, `gradient_bound` for
//! gradients.
#![allow(dead_code)]

#[path = "../../../tests/common/gradients.rs"]
mod gradients;

use gradients::{reference_dropout, worst_gradient_error};
use rand::{Rng, SeedableRng};
use wgpu_rnn::reference::backward::{backward, Cotangents};
use wgpu_rnn::reference::check::{compare, gradient_bound, Tolerance};
use wgpu_rnn::reference::{forward_stack, Problem};
use wgpu_rnn::train::{HostSeeds, TrainOptions};
use wgpu_rnn::{Gpu, RnnStack, StackConfig, StackWeights};
use wgpu_rnn_tasks::TaskRng;

/// The browser's WebGPU device with the limits it offers; a page without
/// WebGPU fails the test (never a skip).
pub async fn gpu() -> Gpu {
    let gpu = Gpu::new_async()
        .await
        .unwrap_or_else(|e| panic!("the browser tests need WebGPU: {e}"));
    web_sys_log(&format!("device: {}", gpu.describe()));
    gpu
}

pub fn web_sys_log(line: &str) {
    wasm_bindgen_test::console_log!("{line}");
}

pub fn random_vec(rng: &mut TaskRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..=scale)).collect()
}

/// Inputs of one case: sequence, optional states and lengths.
#[derive(Debug, Clone)]
pub struct Case {
    pub seq: usize,
    pub batch: usize,
    pub lengths: Option<Vec<usize>>,
    pub states: bool,
    pub input_scale: f32,
    pub seed: u64,
}

impl Case {
    pub fn new(seq: usize, batch: usize) -> Self {
        Case {
            seq,
            batch,
            lengths: None,
            states: true,
            input_scale: 1.0,
            seed: 1,
        }
    }
}

struct Data {
    input: Vec<f32>,
    h0: Option<Vec<f32>>,
    c0: Option<Vec<f32>>,
}

fn data(config: &StackConfig, case: &Case, rng: &mut TaskRng) -> Data {
    let layer = config.layer;
    let (slots, b) = (config.state_slots(), case.batch);
    let input = random_vec(rng, case.seq * b * layer.input_size, case.input_scale);
    let h0 = case
        .states
        .then(|| random_vec(rng, slots * b * layer.output_size(), 1.0));
    let c0 = (case.states && layer.cell.has_cell_state())
        .then(|| random_vec(rng, slots * b * layer.hidden_size, 1.0));
    Data { input, h0, c0 }
}

fn label(config: &StackConfig, case: &Case) -> String {
    format!("{} {config:?} {case:?}", config.layer.cell.name())
}

/// Forward on the GPU against the reference: output, h_n and c_n within
/// [`Tolerance::stack`]. Returns the worst error/tolerance ratio.
pub async fn check_forward(gpu: &Gpu, config: StackConfig, case: &Case) -> f64 {
    let weights = StackWeights::random(config, case.seed, 1.0).unwrap();
    let mut rng = TaskRng::seed_from_u64(case.seed + 1000);
    let d = data(&config, case, &mut rng);
    let (t, b, lengths) = (case.seq, case.batch, case.lengths.as_deref());
    let stack = RnnStack::new(gpu, &weights).unwrap();
    let got = stack
        .forward_host_async(&d.input, t, b, d.h0.as_deref(), d.c0.as_deref(), lengths)
        .await
        .unwrap();
    let want = forward_stack(
        &weights,
        &d.input,
        t,
        b,
        d.h0.as_deref(),
        d.c0.as_deref(),
        lengths,
    )
    .unwrap();
    let tol = Tolerance::stack(&config, t, want.preactivation_scale);
    let label = label(&config, case);
    let mut worst: f64 = 0.0;
    let mut check = |what: &str, r: &[f64], g: &[f32]| {
        let a = compare(&format!("{label} {what}"), r, g, &[g.len()], tol)
            .unwrap_or_else(|m| panic!("{m}"));
        worst = worst.max(a.worst_ratio);
    };
    check("output", &want.output, &got.output);
    check("h_n", &want.h_n, &got.h_n);
    match (&want.c_n, &got.c_n) {
        (Some(r), Some(g)) => check("c_n", r, g),
        (None, None) => {}
        _ => panic!("{label}: c_n on one side only"),
    }
    web_sys_log(&format!("{label}: forward err/tol {worst:.3e}"));
    worst
}

/// Forward with a tape and backward on the GPU against the reference's
/// backward: the input's, the states' and every parameter's gradient within
/// [`gradient_bound`]. Returns the worst relative error.
pub async fn check_backward(
    gpu: &Gpu,
    config: StackConfig,
    case: &Case,
    options: TrainOptions,
) -> f64 {
    let weights = StackWeights::random(config, case.seed, 1.0).unwrap();
    let mut rng = TaskRng::seed_from_u64(case.seed + 1000);
    let d = data(&config, case, &mut rng);
    let layer = config.layer;
    let (t, b, slots) = (case.seq, case.batch, config.state_slots());
    let g_out = random_vec(&mut rng, t * b * config.output_size(), 1.0);
    let g_h = random_vec(&mut rng, slots * b * layer.output_size(), 1.0);
    let g_c = random_vec(&mut rng, slots * b * layer.hidden_size, 1.0);
    let with_c = layer.cell.has_cell_state();
    let seeds = HostSeeds {
        output: Some(&g_out),
        h_n: Some(&g_h),
        c_n: with_c.then_some(&g_c[..]),
    };
    let stack = RnnStack::new(gpu, &weights).unwrap();
    let lengths = case.lengths.as_deref();
    let (_, got) = stack
        .train_step_host_async(
            &d.input,
            t,
            b,
            d.h0.as_deref(),
            d.c0.as_deref(),
            lengths,
            seeds,
            options,
        )
        .await
        .unwrap();

    let mut problem = Problem::new(
        &weights,
        &d.input,
        t,
        b,
        d.h0.as_deref(),
        d.c0.as_deref(),
        lengths,
    )
    .unwrap();
    problem.dropout = reference_dropout(&config, options, t, b);
    let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let cot = Cotangents {
        output: f64s(&g_out),
        h_n: f64s(&g_h),
        c_n: if with_c {
            f64s(&g_c)
        } else {
            vec![0.0; g_c.len()]
        },
    };
    let want = backward(&problem, &cot);
    let label = label(&config, case);
    let worst = worst_gradient_error(&label, &config, &want, &got);
    let bound = gradient_bound(&config, t);
    web_sys_log(&format!(
        "{label}: worst relative gradient error {worst:.3e} (bound {bound:.3e})"
    ));
    assert!(worst <= bound, "{label}: {worst:e} > {bound:e}");
    worst
}
