//! The layer wavefront (`Schedule::Wavefront`) against the f64 reference
//! for every cell it runs, with and without workgroup tiles, f16 weights
//! and saturating values; its plan reuse, its weight refresh after an
//! optimizer step, its profile and its refusals.

mod common;

use common::{check_stack_scheduled, gpu, random_vec, tiled_gpu, uniform_params_gpu, StackCase};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::train::StackGrads;
use wgpu_rnn::train::{Optimizer, OptimizerConfig};
use wgpu_rnn::{
    reference, CellKind, Direction, GpuTensor, GruReset, Nonlinearity, Precision, RnnConfig,
    RnnStack, Schedule, StackConfig, StackWeights,
};

fn case(seq: usize, batch: usize, lengths: Option<Vec<usize>>, states: bool) -> StackCase {
    StackCase {
        seq,
        batch,
        lengths,
        with_h0: states,
        with_c0: states,
        seed: 11,
    }
}

const CELLS: [CellKind; 5] = [
    CellKind::Lstm,
    CellKind::PeepholeLstm,
    CellKind::Gru(GruReset::After),
    CellKind::Rnn(Nonlinearity::Tanh),
    CellKind::Rnn(Nonlinearity::Relu),
];

fn wavefront(gpu: &wgpu_rnn::Gpu, weights: &StackWeights, c: &StackCase, precision: Precision) {
    check_stack_scheduled(gpu, weights, c, precision, Schedule::Wavefront);
}

#[test]
fn every_cell_matches_the_reference() {
    for (i, cell) in CELLS.into_iter().enumerate() {
        // Three layers of 67 units (two workgroups, one partial) over five
        // rows of different lengths, with initial states.
        let config = StackConfig::new(RnnConfig::new(cell, 5, 67).unwrap()).with_layers(3);
        let weights = StackWeights::random(config, 40 + i as u64, 0.5).unwrap();
        wavefront(
            gpu(),
            &weights,
            &case(9, 5, Some(vec![9, 1, 4, 9, 6]), true),
            Precision::F32,
        );
    }
}

#[test]
fn workgroup_tiles_reverse_and_batch_first() {
    // The tiled products (the GPU path) over 70 inputs (a partial tile),
    // reverse and batch-first, no bias, seven rows (two row groups).
    for (i, cell) in [CellKind::PeepholeLstm, CellKind::Gru(GruReset::After)]
        .into_iter()
        .enumerate()
    {
        let layer = RnnConfig::new(cell, 3, 70).unwrap().with_bias(false);
        let config = StackConfig::new(layer)
            .with_layers(2)
            .with_direction(Direction::Reverse)
            .with_batch_first(true);
        let weights = StackWeights::random(config, 50 + i as u64, 0.5).unwrap();
        let c = case(6, 7, Some(vec![6, 2, 5, 1, 6, 3, 4]), true);
        wavefront(tiled_gpu(), &weights, &c, Precision::F32);
    }
}

#[test]
fn params_from_a_uniform_array() {
    // Devices without immediates read each wave's params at a dynamic
    // offset of one uniform array.
    let config = StackConfig::new(RnnConfig::new(CellKind::Gru(GruReset::After), 6, 20).unwrap())
        .with_layers(3);
    let weights = StackWeights::random(config, 130, 0.5).unwrap();
    let c = case(7, 2, Some(vec![4, 7]), true);
    wavefront(uniform_params_gpu(), &weights, &c, Precision::F32);
}

#[test]
fn long_sequences_project_layer_zero_in_chunks() {
    // Storage bindings capped at 4 KiB: layer 0's gate pre-activations
    // (60 steps x 128 bytes) take two GEMM chunks of 32 and 28 steps, the
    // second recorded between waves 31 and 32.
    let small = wgpu_rnn::Gpu::with_selector(&wgpu_rnn::AdapterSelector {
        max_storage_binding: Some(4096),
        ..wgpu_rnn::AdapterSelector::from_env()
    })
    .unwrap();
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 8).unwrap()).with_layers(2);
    let weights = StackWeights::random(config, 140, 0.5).unwrap();
    wavefront(&small, &weights, &case(60, 1, None, true), Precision::F32);
}

#[test]
fn tiny_shapes_more_layers_than_steps() {
    // One row, one step, one unit per layer... and four layers: most
    // waves have idle layers.
    for (i, cell) in CELLS.into_iter().enumerate() {
        let config = StackConfig::new(RnnConfig::new(cell, 1, 1).unwrap()).with_layers(4);
        let weights = StackWeights::random(config, 60 + i as u64, 0.9).unwrap();
        wavefront(gpu(), &weights, &case(1, 1, None, false), Precision::F32);
        let config = StackConfig::new(RnnConfig::new(cell, 2, 3).unwrap()).with_layers(4);
        let weights = StackWeights::random(config, 70 + i as u64, 0.9).unwrap();
        wavefront(gpu(), &weights, &case(2, 3, None, true), Precision::F32);
    }
}

#[test]
fn f16_weights() {
    if !common::f16_runs(gpu(), "f16_weights") {
        return;
    }
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 9, 33).unwrap()).with_layers(2);
    let weights = StackWeights::random(config, 80, 0.5).unwrap();
    wavefront(
        gpu(),
        &weights,
        &case(8, 3, Some(vec![8, 3, 5]), true),
        Precision::F16,
    );
}

#[test]
fn saturating_weights() {
    // Pre-activations in the thousands: gates at 0 and 1, tanh at +-1.
    for (i, cell) in CELLS.into_iter().enumerate() {
        let config = StackConfig::new(RnnConfig::new(cell, 4, 19).unwrap()).with_layers(2);
        let random = StackWeights::random(config, 90 + i as u64, 0.5).unwrap();
        let scaled = random
            .layers()
            .iter()
            .map(|w| w.clone().scaled(2000.0))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let weights = StackWeights::new(config, scaled).unwrap();
        wavefront(
            gpu(),
            &weights,
            &case(5, 2, Some(vec![5, 3]), true),
            Precision::F32,
        );
    }
}

/// The reference output of `weights` for `input` `[T, B, I]`.
fn reference_output(weights: &StackWeights, input: &[f32], seq: usize, batch: usize) -> Vec<f64> {
    reference::forward_stack(weights, input, seq, batch, None, None, None)
        .unwrap()
        .output
}

/// `a - b`, element by element.
fn minus(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

#[test]
fn reused_plans_see_new_weights() {
    // A kept plan must not keep the weights of its first call: an
    // optimizer step between two forwards changes every parameter.
    let (seq, batch) = (6, 3);
    let config =
        StackConfig::new(RnnConfig::new(CellKind::PeepholeLstm, 4, 21).unwrap()).with_layers(3);
    let before = StackWeights::random(config, 100, 0.5).unwrap();
    let after = StackWeights::random(config, 101, 0.5).unwrap();
    let stack = RnnStack::new(gpu(), &before)
        .unwrap()
        .with_schedule(Schedule::Wavefront)
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    let data = random_vec(&mut rng, seq * batch * 4, 1.0);
    let input = GpuTensor::from_slice(gpu(), "input", &data, &[seq, batch, 4]).unwrap();
    let first = stack
        .forward(&input, None, None, None)
        .unwrap()
        .output
        .to_vec()
        .unwrap();
    let again = stack
        .forward(&input, None, None, None)
        .unwrap()
        .output
        .to_vec()
        .unwrap();
    assert_eq!(first, again, "a reused plan gives the same bits");

    // SGD with learning rate 1 and gradient (before - after) moves every
    // parameter to `after` (to rounding).
    let grads = StackGrads::zeros(&stack).unwrap();
    for (g, (b, a)) in grads
        .layers()
        .iter()
        .zip(before.layers().iter().zip(after.layers()))
    {
        let required = [
            (&g.weight_ih, b.weight_ih(), a.weight_ih()),
            (&g.weight_hh, b.weight_hh(), a.weight_hh()),
        ];
        for (t, b, a) in required {
            t.write(&minus(b, a)).unwrap();
        }
        let optional = [
            (&g.bias_ih, b.bias_ih(), a.bias_ih()),
            (&g.bias_hh, b.bias_hh(), a.bias_hh()),
            (&g.peephole, b.peephole(), a.peephole()),
        ];
        for (t, b, a) in optional {
            let (t, b, a) = (t.as_ref().unwrap(), b.unwrap(), a.unwrap());
            t.write(&minus(b, a)).unwrap();
        }
    }
    let mut optimizer = Optimizer::new(gpu(), OptimizerConfig::sgd(1.0, 0.0)).unwrap();
    optimizer.add_stack(&stack, &grads).unwrap();
    optimizer.step().unwrap();
    let stepped = stack
        .forward(&input, None, None, None)
        .unwrap()
        .output
        .to_vec()
        .unwrap();

    let tol = Tolerance::stack(&config, seq, 4.0);
    let dims = [seq, batch, 21];
    let want_before = reference_output(&before, &data, seq, batch);
    let want_after = reference_output(&after, &data, seq, batch);
    compare("first forward", &want_before, &first, &dims, tol).unwrap();
    compare("after the step", &want_after, &stepped, &dims, tol).unwrap();
}

#[test]
fn profiled_wavefront_times_its_families() {
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 16).unwrap()).with_layers(2);
    let weights = StackWeights::random(config, 110, 0.5).unwrap();
    let stack = RnnStack::new(gpu(), &weights)
        .unwrap()
        .with_schedule(Schedule::Wavefront)
        .unwrap();
    let data = random_vec(&mut SmallRng::seed_from_u64(8), 5 * 2 * 3, 1.0);
    let input = GpuTensor::from_slice(gpu(), "input", &data, &[5, 2, 3]).unwrap();
    let plain = stack.forward(&input, None, None, None).unwrap();
    let (timed, profile) = stack.forward_profiled(&input, None, None, None).unwrap();
    assert_eq!(
        plain.output.to_vec().unwrap(),
        timed.output.to_vec().unwrap()
    );
    assert_eq!(plain.h_n.to_vec().unwrap(), timed.h_n.to_vec().unwrap());
    let families: Vec<&str> = profile.families.iter().map(|(f, _)| *f).collect();
    for family in [
        "weight rebuild",
        "input GEMM",
        "wavefront steps",
        "scatter (time order)",
    ] {
        assert!(
            families.contains(&family),
            "{family} missing from {families:?}"
        );
    }
}

#[test]
fn configurations_it_cannot_run_are_refused() {
    let refused = |config: StackConfig| {
        let weights = StackWeights::random(config, 120, 0.5).unwrap();
        let err = RnnStack::new(gpu(), &weights)
            .unwrap()
            .with_schedule(Schedule::Wavefront)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("wavefront"), "{err}");
    };
    let lstm = RnnConfig::new(CellKind::Lstm, 3, 8).unwrap();
    refused(
        StackConfig::new(lstm)
            .with_layers(2)
            .with_direction(Direction::Bidirectional),
    );
    refused(StackConfig::new(lstm.with_projection(4).unwrap()).with_layers(2));
    let gru_before = RnnConfig::new(CellKind::Gru(GruReset::Before), 3, 8).unwrap();
    refused(StackConfig::new(gru_before).with_layers(2));
    // Layered always runs; one wavefront layer is the layered schedule.
    let one = StackWeights::random(StackConfig::new(lstm), 121, 0.5).unwrap();
    let stack = RnnStack::new(gpu(), &one).unwrap();
    assert_eq!(stack.schedule(), Schedule::Layered);
    wavefront(gpu(), &one, &case(3, 2, None, true), Precision::F32);
}
