//! Every module option on the GPU against the f64 reference, for every cell:
//! stacked layers, reverse and bidirectional directions, variable lengths in
//! any order, batch-first tensors, initial states, no bias, and the LSTM
//! projection (with peepholes and bidirectional too). Padded input values
//! must not change a single bit of the result.

mod common;

use common::{check_stack, check_stack_on, gpu, random_vec, tiled_gpu, StackCase};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::{
    CellKind, Direction, GruReset, Nonlinearity, RnnConfig, RnnStack, StackConfig, StackWeights,
};

fn case(
    seq: usize,
    batch: usize,
    lengths: Option<Vec<usize>>,
    states: bool,
    seed: u64,
) -> StackCase {
    StackCase {
        seq,
        batch,
        lengths,
        with_h0: states,
        with_c0: states,
        seed,
    }
}

/// The option combinations that interact, for one cell (and projection
/// size, LSTMs only).
fn options(cell: CellKind, proj: Option<usize>) {
    let layer = |input: usize, hidden: usize| {
        let c = RnnConfig::new(cell, input, hidden).unwrap();
        match proj {
            Some(p) => c.with_projection(p).unwrap(),
            None => c,
        }
    };
    let combos: Vec<(StackConfig, StackCase)> = vec![
        // Bidirectional x variable length x layers (x projection), with states.
        (
            StackConfig::new(layer(5, 67))
                .with_layers(2)
                .with_direction(Direction::Bidirectional),
            case(9, 5, Some(vec![3, 9, 1, 7, 5]), true, 1),
        ),
        // Reverse x variable length, batch-first.
        (
            StackConfig::new(layer(3, 13))
                .with_direction(Direction::Reverse)
                .with_batch_first(true),
            case(11, 3, Some(vec![11, 4, 6]), false, 2),
        ),
        // Three layers, batch-first with h0 only, full lengths.
        (
            StackConfig::new(layer(1, 8))
                .with_layers(3)
                .with_batch_first(true),
            StackCase {
                with_c0: false,
                ..case(6, 2, None, true, 3)
            },
        ),
        // Reverse, two layers, no bias, B = 1.
        (
            StackConfig::new(layer(4, 5).with_bias(false))
                .with_layers(2)
                .with_direction(Direction::Reverse),
            case(7, 1, Some(vec![5]), true, 4),
        ),
        // Bidirectional x batch-first x h0 (the pairs), T >= 200.
        (
            StackConfig::new(layer(2, 6))
                .with_direction(Direction::Bidirectional)
                .with_batch_first(true),
            case(230, 3, Some(vec![230, 17, 199]), true, 5),
        ),
    ];
    for (n, (config, case)) in combos.into_iter().enumerate() {
        let weights = StackWeights::random(config, 50 + n as u64, 1.0).unwrap();
        check_stack(&weights, &case);
    }
}

/// The workgroup-tiled step kernels (the GPU default) with a projection,
/// several layers, both directions and variable lengths, for every cell.
#[test]
fn tiled_step_kernels_handle_module_options() {
    for cell in CellKind::ALL {
        let mut layer = RnnConfig::new(cell, 5, 67).unwrap();
        if cell.has_cell_state() {
            layer = layer.with_projection(3).unwrap();
        }
        let config = StackConfig::new(layer)
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let weights = StackWeights::random(config, 77, 1.0).unwrap();
        check_stack_on(
            tiled_gpu(),
            &weights,
            &case(9, 5, Some(vec![3, 9, 1, 7, 5]), true, 8),
        );
    }
}

#[test]
fn lstm_module_options_match_reference() {
    options(CellKind::Lstm, None);
}

#[test]
fn lstm_with_projection_matches_reference() {
    options(CellKind::Lstm, Some(3));
}

#[test]
fn peephole_lstm_module_options_match_reference() {
    options(CellKind::PeepholeLstm, None);
    options(CellKind::PeepholeLstm, Some(2));
}

#[test]
fn gru_reset_after_module_options_match_reference() {
    options(CellKind::Gru(GruReset::After), None);
}

#[test]
fn gru_reset_before_module_options_match_reference() {
    options(CellKind::Gru(GruReset::Before), None);
}

#[test]
fn rnn_tanh_module_options_match_reference() {
    options(CellKind::Rnn(Nonlinearity::Tanh), None);
}

#[test]
fn rnn_relu_module_options_match_reference() {
    options(CellKind::Rnn(Nonlinearity::Relu), None);
}

/// Garbage (huge values) at padded steps gives the same bits as zeros
/// there, in every direction and layout; the output is exactly 0 there.
#[test]
fn padded_steps_never_influence_anything() {
    for cell in CellKind::ALL {
        for (direction, batch_first) in [
            (Direction::Bidirectional, false),
            (Direction::Reverse, true),
        ] {
            let config = StackConfig::new(RnnConfig::new(cell, 3, 4).unwrap())
                .with_layers(2)
                .with_direction(direction)
                .with_batch_first(batch_first);
            let weights = StackWeights::random(config, 9, 1.0).unwrap();
            let stack = RnnStack::new(gpu(), &weights).unwrap();
            let (seq, batch, lengths) = (6, 3, [2usize, 6, 4]);
            let mut rng = SmallRng::seed_from_u64(1);
            let clean = random_vec(&mut rng, seq * batch * 3, 1.0);
            let mut dirty = clean.clone();
            let at = |t: usize, b: usize| {
                if batch_first {
                    b * seq + t
                } else {
                    t * batch + b
                }
            };
            for (b, &len) in lengths.iter().enumerate() {
                for t in len..seq {
                    dirty[at(t, b) * 3..][..3].copy_from_slice(&[1e30, -1e30, 3e3]);
                }
            }
            let a = stack
                .forward_host(&clean, seq, batch, None, None, Some(&lengths))
                .unwrap();
            let b = stack
                .forward_host(&dirty, seq, batch, None, None, Some(&lengths))
                .unwrap();
            assert_eq!(a, b, "{}: padded input changed the result", cell.name());
            let width = config.output_size();
            for (row, &len) in lengths.iter().enumerate() {
                for t in len..seq {
                    assert!(a.output[at(t, row) * width..][..width]
                        .iter()
                        .all(|&v| v == 0.0));
                }
            }
        }
    }
}

/// A profiled forward runs the same dispatches (same bits) and reports a
/// positive GPU time for every kernel family it used.
#[test]
fn profiled_forward_gives_the_same_bits_and_every_family() {
    use wgpu_rnn::GpuTensor;
    let config = StackConfig::new(
        RnnConfig::new(CellKind::Lstm, 3, 7)
            .unwrap()
            .with_projection(2)
            .unwrap(),
    )
    .with_layers(2)
    .with_direction(Direction::Bidirectional);
    let weights = StackWeights::random(config, 5, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let x = random_vec(&mut SmallRng::seed_from_u64(2), 5 * 2 * 3, 1.0);
    let input = GpuTensor::from_slice(gpu(), "input", &x, &[5, 2, 3]).unwrap();
    let plain = stack
        .forward(&input, None, None, Some(&[5, 3]))
        .unwrap()
        .to_host()
        .unwrap();
    let (out, profile) = stack
        .forward_profiled(&input, None, None, Some(&[5, 3]))
        .unwrap();
    assert_eq!(out.to_host().unwrap(), plain);
    let families: Vec<&str> = profile.families.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        families,
        [
            "input GEMM",
            "step kernels",
            "scatter (time order)",
            "gather (step order)"
        ]
    );
    assert!(
        profile.families.iter().all(|(_, s)| *s > 0.0),
        "{profile:?}"
    );
}

/// A profiled training step (forward and backward) runs the same
/// dispatches (same bits in every gradient) and reports a positive GPU time
/// for every kernel family of the backward.
#[test]
fn profiled_training_gives_the_same_bits_and_every_family() {
    use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
    use wgpu_rnn::GpuTensor;
    let config = StackConfig::new(RnnConfig::new(CellKind::PeepholeLstm, 3, 7).unwrap())
        .with_layers(2)
        .with_direction(Direction::Bidirectional);
    let weights = StackWeights::random(config, 6, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    let x = random_vec(&mut rng, 5 * 2 * 3, 1.0);
    let g = random_vec(&mut rng, 5 * 2 * 14, 1.0);
    let input = GpuTensor::from_slice(gpu(), "input", &x, &[5, 2, 3]).unwrap();
    let g_out = GpuTensor::from_slice(gpu(), "grad_output", &g, &[5, 2, 14]).unwrap();
    let lengths = Some(&[5, 3][..]);
    let options = TrainOptions {
        dropout: 0.25,
        seed: 4,
    };
    let seeds = Seeds {
        output: Some(&g_out),
        ..Default::default()
    };
    let host = |grads: &StackGrads, input: &wgpu_rnn::train::InputGrads| {
        (grads.to_host().unwrap(), input.input.to_vec().unwrap())
    };

    let grads = StackGrads::zeros(&stack).unwrap();
    let (_, tape) = stack
        .forward_train(&input, None, None, lengths, options)
        .unwrap();
    let d = stack
        .backward(&tape, seeds, &grads, GradMode::Overwrite)
        .unwrap();
    let plain = host(&grads, &d);

    let grads = StackGrads::zeros(&stack).unwrap();
    let (_, tape, forward) = stack
        .forward_train_profiled(&input, None, None, lengths, options)
        .unwrap();
    let (d, backward) = stack
        .backward_profiled(&tape, seeds, &grads, GradMode::Overwrite)
        .unwrap();
    assert_eq!(host(&grads, &d), plain);
    assert!(plain.1.iter().any(|&v| v != 0.0));

    let names =
        |p: &wgpu_rnn::KernelProfile| -> Vec<&str> { p.families.iter().map(|(f, _)| *f).collect() };
    assert!(names(&forward).contains(&"step kernels"), "{forward:?}");
    assert!(names(&forward).contains(&"dropout"), "{forward:?}");
    assert_eq!(
        names(&backward),
        [
            "backward gather",
            "backward steps",
            "backward GEMMs",
            "reductions",
            "backward scatter",
            "dropout"
        ]
    );
    assert!(
        backward.families.iter().all(|(_, s)| *s > 0.0),
        "{backward:?}"
    );
}
