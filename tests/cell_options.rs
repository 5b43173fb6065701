//! ONNX's cell options on the GPU (other activation functions with their
//! alpha/beta, per direction; clip; the LSTM's input_forget), forward and
//! backward, against the f64 reference, on every kernel path lavapipe can
//! be made to run: per-step (plain, subgroup, workgroup-tiled), the
//! persistent LSTM (texels and buffer), the layer wavefront; awkward sizes
//! and saturating pre-activations.

mod common;

use common::options::options_of;
use common::training::{case, check_on};
use common::{
    check_stack_on, check_stack_scheduled, gpu, persistent_gpu, persistent_plain_gpu, plain_gpu,
    tiled_gpu, StackCase,
};
use wgpu_rnn::train::TrainOptions;
use wgpu_rnn::{
    CellKind, CellOptions, Direction, GruReset, Nonlinearity, Precision, RnnConfig, Schedule,
    StackConfig, StackWeights,
};

fn config(cell: CellKind, options: CellOptions, (i, h): (usize, usize)) -> RnnConfig {
    RnnConfig::new(cell, i, h)
        .unwrap()
        .with_options(options)
        .unwrap()
}

fn stack_case(seq: usize, batch: usize, lengths: Option<Vec<usize>>, seed: u64) -> StackCase {
    StackCase {
        seq,
        batch,
        lengths,
        with_h0: true,
        with_c0: true,
        seed,
    }
}

#[test]
fn every_option_matches_the_reference_forward_on_every_kernel_path() {
    for cell in CellKind::ALL {
        let options = options_of(cell);
        let stack = StackConfig::new(config(cell, options, (3, 19)))
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let weights = StackWeights::random(stack, 1, 1.0).unwrap();
        // Default (subgroup kernels on lavapipe), plain, workgroup tiles;
        // the LSTM's persistent kernel with texels and with buffers.
        let mut devices = vec![gpu(), plain_gpu(), tiled_gpu()];
        if cell.has_cell_state() {
            devices.extend([persistent_gpu(), persistent_plain_gpu()]);
        }
        for device in devices {
            check_stack_on(device, &weights, &stack_case(5, 3, Some(vec![5, 2, 4]), 1));
        }
        // The awkward sizes, one direction each way.
        for (dims, (t, b), direction) in [
            ((1, 1), (1, 3), Direction::Forward),
            ((67, 3), (9, 67), Direction::Reverse),
            ((3, 67), (4, 3), Direction::Forward),
        ] {
            let stack = StackConfig::new(config(cell, options, dims)).with_direction(direction);
            let weights = StackWeights::random(stack, 7, 1.0).unwrap();
            check_stack_on(gpu(), &weights, &stack_case(t, b, None, 7));
        }
    }
}

#[test]
fn options_run_in_the_layer_wavefront() {
    for cell in [
        CellKind::Lstm,
        CellKind::PeepholeLstm,
        CellKind::Gru(GruReset::After),
        CellKind::Rnn(Nonlinearity::Tanh),
    ] {
        let stack = StackConfig::new(config(cell, options_of(cell), (4, 19))).with_layers(3);
        let weights = StackWeights::random(stack, 3, 1.0).unwrap();
        check_stack_scheduled(
            gpu(),
            &weights,
            &stack_case(7, 3, Some(vec![7, 1, 4]), 3),
            Precision::F32,
            Schedule::Wavefront,
        );
    }
}

/// Pre-activations in the thousands: the clip and every function stay
/// finite and match the reference.
#[test]
fn saturating_pre_activations_stay_finite() {
    for cell in CellKind::ALL {
        let stack = StackConfig::new(config(cell, options_of(cell), (5, 9)))
            .with_direction(Direction::Bidirectional);
        let weights = StackWeights::random(stack, 5, 2000.0).unwrap();
        check_stack_on(gpu(), &weights, &stack_case(6, 3, None, 5));
    }
}

#[test]
fn every_option_matches_the_reference_backward() {
    for cell in CellKind::ALL {
        let options = options_of(cell);
        let stack = StackConfig::new(config(cell, options, (5, 19)))
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let c = case(7, 3, Some(vec![7, 2, 5]), 1);
        let mut worst: f64 = 0.0;
        // Each device and batch rows (up to 4) compile their own pipelines,
        // which dominate this test's time: the batch is 3 throughout.
        for device in [gpu(), plain_gpu()] {
            worst = worst.max(check_on(device, stack, &c, TrainOptions::default()));
        }
        if cell == CellKind::Lstm {
            // The persistent LSTM backward, with texels and with buffers.
            let one = StackConfig::new(config(cell, options, (5, 19)));
            for device in [persistent_gpu(), persistent_plain_gpu()] {
                worst = worst.max(check_on(device, one, &c, TrainOptions::default()));
            }
        }
        // The awkward sizes.
        for ((i, h), (t, b)) in [((1, 1), (1, 3)), ((3, 67), (4, 3)), ((67, 3), (5, 3))] {
            let one = StackConfig::new(config(cell, options, (i, h)));
            worst = worst.max(check_on(
                gpu(),
                one,
                &case(t, b, None, 9),
                Default::default(),
            ));
        }
        eprintln!("{}: worst gradient error {worst:.3e}", cell.name());
    }
}
