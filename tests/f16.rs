//! f16 layers (`Precision::F16`: recurrent weights stored as f16, f32 sums
//! and states) against the f64 reference. On the weights the layer holds
//! (rounded to f16) they must agree as closely as an f32 layer does; on the
//! original f32 weights they differ by what the rounding costs, which is
//! measured and bounded here. Bad uses get errors. On a device without
//! `SHADER_F16` (OpenGL, SwiftShader) each test checks the refusal instead
//! and says so.

mod common;

use common::{
    check_against_reference_at, check_stack_at, gpu, persistent_gpu, plain_gpu, random_vec,
    row_texels_gpu, tiled_gpu, Case, StackCase,
};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::{
    reference, CellKind, Direction, Error, GpuTensor, Precision, Rnn, RnnConfig, RnnStack,
    RnnWeights, StackConfig, StackWeights,
};

const F16: Precision = Precision::F16;

#[test]
fn every_cell_matches_the_reference_on_its_f16_weights() {
    if !common::f16_runs(gpu(), "every_cell_matches_the_reference_on_its_f16_weights") {
        return;
    }
    for cell in CellKind::ALL {
        for (i, h, t, b, scale) in [(1, 1, 1, 1, 1.0), (3, 67, 7, 5, 1.0), (5, 33, 6, 3, 1e4)] {
            let weights = RnnWeights::random(RnnConfig::new(cell, i, h).unwrap(), 5, 1.0).unwrap();
            let case = Case {
                input_scale: scale,
                with_h0: true,
                with_c0: true,
                ..Case::new(t, b)
            };
            check_against_reference_at(gpu(), &weights, case, F16);
        }
        // The other step kernels: workgroup tiles (what GPUs run), direct
        // reads (CPU adapters without 8-lane subgroups), and the subgroup
        // twins with the row operand as texels too (gpu() above runs the
        // twins with f16 weight texels and rows from buffers).
        let weights = RnnWeights::random(RnnConfig::new(cell, 4, 67).unwrap(), 6, 1.0).unwrap();
        for device in [tiled_gpu(), row_texels_gpu()] {
            check_against_reference_at(device, &weights, Case::new(5, 3), F16);
        }
        // Direct reads differ from the tiles only in how rows are staged,
        // not in how weights are read: one cell.
        if cell == CellKind::Lstm {
            check_against_reference_at(plain_gpu(), &weights, Case::new(5, 3), F16);
        }
    }
}

#[test]
fn projected_and_persistent_lstms_read_f16_weights() {
    if !common::f16_runs(gpu(), "projected_and_persistent_lstms_read_f16_weights") {
        return;
    }
    let config = RnnConfig::new(CellKind::Lstm, 5, 67)
        .unwrap()
        .with_projection(13)
        .unwrap();
    let weights = RnnWeights::random(config, 7, 1.0).unwrap();
    check_against_reference_at(gpu(), &weights, Case::new(6, 3), F16);
    check_against_reference_at(tiled_gpu(), &weights, Case::new(6, 3), F16);
    for cell in [CellKind::Lstm, CellKind::PeepholeLstm] {
        let weights = RnnWeights::random(RnnConfig::new(cell, 3, 67).unwrap(), 8, 1.0).unwrap();
        let case = Case {
            with_h0: true,
            with_c0: true,
            ..Case::new(9, 5)
        };
        check_against_reference_at(persistent_gpu(), &weights, case, F16);
    }
}

#[test]
fn f16_stacks_match_the_reference() {
    if !common::f16_runs(gpu(), "f16_stacks_match_the_reference") {
        return;
    }
    for cell in [CellKind::Lstm, CellKind::Gru(wgpu_rnn::GruReset::After)] {
        let config = StackConfig::new(RnnConfig::new(cell, 3, 33).unwrap())
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let weights = StackWeights::random(config, 9, 1.0).unwrap();
        let case = StackCase {
            seq: 6,
            batch: 3,
            lengths: Some(vec![6, 2, 5]),
            with_h0: true,
            with_c0: true,
            seed: 10,
        };
        check_stack_at(gpu(), &weights, &case, F16);
    }
}

/// The worst |GPU - reference| of an f16 layer's output, against the
/// reference on `weights` as given.
fn f16_output_error(weights: &RnnWeights, seq: usize, batch: usize, seed: u64) -> f64 {
    let cfg = *weights.config();
    let mut rng = SmallRng::seed_from_u64(seed);
    let input = random_vec(&mut rng, seq * batch * cfg.input_size, 1.0);
    let layer = Rnn::with_precision(gpu(), weights, F16).unwrap();
    let got = layer.forward_host(&input, seq, batch, None, None).unwrap();
    let want = reference::forward(weights, &input, seq, batch, None, None).unwrap();
    want.output
        .iter()
        .zip(&got.output)
        .map(|(w, &g)| (w - f64::from(g)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn f16_layers_store_half_the_bytes() {
    if !common::f16_runs(gpu(), "f16_layers_store_half_the_bytes") {
        return;
    }
    let config = RnnConfig::new(CellKind::Lstm, 5, 67)
        .unwrap()
        .with_projection(13)
        .unwrap();
    let weights = RnnWeights::random(config, 15, 1.0).unwrap();
    let f32_bytes = Rnn::new(gpu(), &weights).unwrap().recurrent_weight_bytes();
    let f16 = Rnn::with_precision(gpu(), &weights, F16).unwrap();
    assert_eq!(f16.precision(), F16);
    // [13, 67, 4] interleaved weight_hh and [67, 13] weight_hr: 4355 f32
    // values, stored as whole 4-byte words of two halves.
    assert_eq!(f32_bytes, 4 * (13 * 67 * 4 + 67 * 13));
    assert_eq!(
        f16.recurrent_weight_bytes(),
        2 * (13 * 67 * 4) + 2 * (67 * 13 + 1)
    );
}

#[test]
fn the_kernels_compute_with_the_rounded_weights() {
    if !common::f16_runs(gpu(), "the_kernels_compute_with_the_rounded_weights") {
        return;
    }
    // If the f16 layer secretly kept f32 weights, it would be closer to the
    // unrounded reference than to the rounded one.
    for cell in [
        CellKind::Lstm,
        CellKind::Gru(wgpu_rnn::GruReset::Before),
        CellKind::Rnn(wgpu_rnn::Nonlinearity::Tanh),
    ] {
        let weights = RnnWeights::random(RnnConfig::new(cell, 4, 67).unwrap(), 11, 1.0).unwrap();
        let rounded = weights.clone().rounded_for(F16).unwrap();
        assert_ne!(weights, rounded, "random weights are not all f16 values");
        let to_rounded = f16_output_error(&rounded, 8, 4, 12);
        let to_f32 = f16_output_error(&weights, 8, 4, 12);
        eprintln!(
            "{}: |f16 layer - reference| {to_rounded:.2e} on the rounded weights, {to_f32:.2e} on the f32 ones",
            cell.name()
        );
        assert!(
            to_f32 > 10.0 * to_rounded,
            "{}: the f16 layer is not computing with f16 weights ({to_rounded:.2e} vs {to_f32:.2e})",
            cell.name()
        );
    }
}

#[test]
fn f16_accuracy_against_the_f32_weights_over_a_long_sequence() {
    if !common::f16_runs(
        gpu(),
        "f16_accuracy_against_the_f32_weights_over_a_long_sequence",
    ) {
        return;
    }
    // What storing the recurrent weights in f16 costs: the weights move by
    // at most 2^-11 relative, the outputs of a 256-step sequence by about
    // 2e-5 (measured 1.7e-5 LSTM, 2.2e-5 GRU). States kept in f16 would
    // cost about 2^-11 of |h| per step and fail the bound.
    for cell in [CellKind::Lstm, CellKind::Gru(wgpu_rnn::GruReset::After)] {
        let weights = RnnWeights::random(RnnConfig::new(cell, 16, 64).unwrap(), 13, 1.0).unwrap();
        let err = f16_output_error(&weights, 256, 2, 14);
        eprintln!(
            "{}: f16 vs f32 weights, T=256: max |err| {err:.2e}",
            cell.name()
        );
        assert!(err < 2e-4, "{}: f16 error {err:.2e}", cell.name());
    }
}

#[test]
fn bad_f16_uses_are_errors() {
    if !common::f16_runs(gpu(), "bad_f16_uses_are_errors") {
        return;
    }
    // A recurrent weight past f16's range.
    let config = RnnConfig::new(CellKind::Lstm, 2, 3)
        .unwrap()
        .with_bias(false);
    let mut hh = vec![0.1f32; 12 * 3];
    hh[5] = 1e5;
    let weights = RnnWeights::new(config, vec![0.1; 12 * 2], hh, None, None, None);
    let weights = weights.unwrap();
    match Rnn::with_precision(gpu(), &weights, F16) {
        Err(Error::Config { what, reason }) => {
            assert!(
                what.contains("weight_hh") && reason.contains("f16"),
                "{what}: {reason}"
            )
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a weight of 1e5 was accepted at f16"),
    }
    // Training an f16 layer.
    let weights = StackWeights::random(StackConfig::new(config), 1, 1.0).unwrap();
    let stack = RnnStack::with_precision(gpu(), &weights, F16).unwrap();
    let input = GpuTensor::from_slice(gpu(), "x", &[0.5; 4], &[2, 1, 2]).unwrap();
    match stack.forward_train(&input, None, None, None, Default::default()) {
        Err(Error::Config { reason, .. }) => assert!(reason.contains("inference"), "{reason}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an f16 layer was trained"),
    }
    // Inference on it works.
    stack.forward(&input, None, None, None).unwrap();
}
