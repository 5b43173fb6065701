//! Inference forwards reuse the previous call's buffers and bind groups when
//! the shape and the input tensor are the same. A reused forward must give
//! the bits a freshly planned one gives, whatever the last call left behind
//! (its h0, its final cell state, its lengths), and must never overwrite
//! the tensors an earlier call returned.

mod common;

use common::{gpu, per_step_gpu, random_vec};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::{
    CellKind, Direction, Gpu, GpuTensor, GruReset, HostOutput, Rnn, RnnConfig, RnnStack,
    RnnWeights, StackConfig, StackWeights,
};

/// One call's arguments.
struct Call<'a> {
    h0: Option<&'a GpuTensor>,
    c0: Option<&'a GpuTensor>,
    lengths: Option<&'a [usize]>,
}

fn fresh(gpu: &Gpu, weights: &StackWeights, input: &GpuTensor, call: &Call) -> HostOutput {
    RnnStack::new(gpu, weights)
        .unwrap()
        .forward(input, call.h0, call.c0, call.lengths)
        .unwrap()
        .to_host()
        .unwrap()
}

#[test]
fn reused_forwards_match_fresh_ones_bit_for_bit() {
    let (t, b, i, h) = (7, 3, 5, 33);
    let mut rng = SmallRng::seed_from_u64(1);
    for (device, cell) in [
        (gpu(), CellKind::Lstm),
        (per_step_gpu(), CellKind::PeepholeLstm),
        (gpu(), CellKind::Gru(GruReset::Before)),
    ] {
        let config = StackConfig::new(RnnConfig::new(cell, i, h).unwrap())
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let slots = config.state_slots();
        let weights = StackWeights::random(config, 2, 1.0).unwrap();
        let stack = RnnStack::new(device, &weights).unwrap();
        let tensor = |rng: &mut SmallRng, shape: &[usize]| {
            let n = shape.iter().product();
            GpuTensor::from_slice(device, "t", &random_vec(rng, n, 1.0), shape).unwrap()
        };
        let input = tensor(&mut rng, &[t, b, i]);
        let h0 = tensor(&mut rng, &[slots, b, h]);
        let c0 = tensor(&mut rng, &[slots, b, h]);
        let with_states = Call {
            h0: Some(&h0),
            c0: cell.has_cell_state().then_some(&c0),
            lengths: Some(&[7, 2, 5]),
        };
        let plain = Call {
            h0: None,
            c0: None,
            lengths: None,
        };
        let run = |call: &Call, input: &GpuTensor| {
            stack
                .forward(input, call.h0, call.c0, call.lengths)
                .unwrap()
        };
        // First call plans; the second reuses and must not see the first's
        // h0, c_T or lengths.
        let first = run(&with_states, &input);
        let first_host = first.to_host().unwrap();
        assert_eq!(first_host, fresh(device, &weights, &input, &with_states));
        let second = run(&plain, &input).to_host().unwrap();
        assert_eq!(second, fresh(device, &weights, &input, &plain), "{cell:?}");
        assert_eq!(
            first.to_host().unwrap(),
            first_host,
            "an earlier output changed"
        );
        // New data in the same tensor: reused again.
        input.write(&random_vec(&mut rng, t * b * i, 1.0)).unwrap();
        let third = run(&with_states, &input).to_host().unwrap();
        assert_eq!(third, fresh(device, &weights, &input, &with_states));
        // Another shape replans; then back.
        let short = tensor(&mut rng, &[4, b, i]);
        let fourth = run(&plain, &short).to_host().unwrap();
        assert_eq!(fourth, fresh(device, &weights, &short, &plain));
        let fifth = run(&plain, &input).to_host().unwrap();
        assert_eq!(fifth, fresh(device, &weights, &input, &plain));
    }
}

/// A single layer called with c0, then without: the second call reuses the
/// plan and must start from zeros, as a freshly planned layer does.
fn c0_then_none_matches_fresh(hidden: usize, batch: usize, seed: u64) {
    let weights = RnnWeights::random(
        RnnConfig::new(CellKind::Lstm, 3, hidden).unwrap(),
        seed,
        1.0,
    )
    .unwrap();
    let layer = Rnn::new(gpu(), &weights).unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    let host = |v: wgpu_rnn::RnnOutput| v.to_host().unwrap();
    let x = random_vec(&mut rng, 6 * batch * 3, 1.0);
    let input = GpuTensor::from_slice(gpu(), "x", &x, &[6, batch, 3]).unwrap();
    let c = random_vec(&mut rng, batch * hidden, 1.0);
    let c0 = GpuTensor::from_slice(gpu(), "c0", &c, &[1, batch, hidden]).unwrap();
    let with_c0 = host(layer.forward(&input, None, Some(&c0)).unwrap());
    let without = host(layer.forward(&input, None, None).unwrap());
    let fresh = host(
        Rnn::new(gpu(), &weights)
            .unwrap()
            .forward(&input, None, None)
            .unwrap(),
    );
    assert_eq!(without, fresh, "H={hidden} B={batch}");
    assert_ne!(
        with_c0, without,
        "c0 made no difference: the test is not testing"
    );
}

#[test]
fn a_single_layer_reuses_its_plan_too() {
    c0_then_none_matches_fresh(67, 2, 4);
}

#[test]
fn the_persistent_kernel_starts_from_a_cleared_cell_state() {
    // B = 1, H <= 64 runs the persistent LSTM on CPU adapters with the
    // texel kernels; it reads c from its buffer, which the last call left
    // holding its c_T.
    c0_then_none_matches_fresh(32, 1, 6);
}

#[test]
fn a_projected_lstm_reuses_its_plan_with_and_without_h0() {
    let config = RnnConfig::new(CellKind::Lstm, 3, 40)
        .unwrap()
        .with_projection(7)
        .unwrap();
    let weights = StackWeights::random(StackConfig::new(config), 8, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let mut rng = SmallRng::seed_from_u64(9);
    let input = GpuTensor::from_slice(
        gpu(),
        "x",
        &random_vec(&mut rng, 5 * 2 * 3, 1.0),
        &[5, 2, 3],
    )
    .unwrap();
    let h0 =
        GpuTensor::from_slice(gpu(), "h0", &random_vec(&mut rng, 2 * 7, 1.0), &[1, 2, 7]).unwrap();
    let with_h0 = Call {
        h0: Some(&h0),
        c0: None,
        lengths: Some(&[5, 3]),
    };
    let plain = Call {
        h0: None,
        c0: None,
        lengths: None,
    };
    for call in [&with_h0, &plain, &with_h0] {
        let got = stack
            .forward(&input, call.h0, call.c0, call.lengths)
            .unwrap()
            .to_host()
            .unwrap();
        assert_eq!(got, fresh(gpu(), &weights, &input, call));
    }
    // Freed and planned again.
    stack.release_plan();
    let got = stack
        .forward(&input, None, None, None)
        .unwrap()
        .to_host()
        .unwrap();
    assert_eq!(got, fresh(gpu(), &weights, &input, &plain));
}
