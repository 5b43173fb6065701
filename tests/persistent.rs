//! The persistent LSTM kernel (one dispatch per chunk of steps, h in
//! workgroup memory, c in registers; weights as texels on CPU adapters with
//! 8-lane subgroups, from their buffer elsewhere: both run here) against
//! the f64 reference and against
//! the one-dispatch-per-step kernels: awkward sizes, the widest hidden size
//! it takes, saturating inputs, h0/c0, variable lengths, bidirectional
//! stacks and chunked sequences; and as the training forward.

mod common;

use common::{
    check_against_reference_on, check_stack_on, per_step_gpu, persistent_gpu, persistent_plain_gpu,
    plain_gpu, random_vec, Case, StackCase,
};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::train::{HostSeeds, TrainOptions};
use wgpu_rnn::{
    AdapterSelector, CellKind, Direction, Gpu, Rnn, RnnConfig, RnnStack, RnnWeights, StackConfig,
    StackWeights,
};

#[test]
fn persistent_lstm_matches_the_reference() {
    for cell in [CellKind::Lstm, CellKind::PeepholeLstm] {
        for (i, h, t, b, scale) in [
            (1, 1, 1, 1, 1.0),
            (3, 67, 9, 5, 1.0),
            (67, 3, 5, 67, 1.0),
            (5, 256, 7, 2, 1.0),
            (4, 33, 6, 3, 1e4),
        ] {
            let weights = RnnWeights::random(RnnConfig::new(cell, i, h).unwrap(), 3, 1.0).unwrap();
            let case = Case {
                input_scale: scale,
                with_h0: true,
                with_c0: true,
                ..Case::new(t, b)
            };
            check_against_reference_on(persistent_gpu(), &weights, case);
            check_against_reference_on(persistent_plain_gpu(), &weights, case);
        }
    }
}

#[test]
fn persistent_lstm_is_bit_identical_to_per_step_dispatches() {
    // The same fused multiply-adds in the same order, the same activations.
    let mut rng = SmallRng::seed_from_u64(9);
    // T=1200 at H=64/128: past lavapipe's 65535 loop iterations per
    // invocation, so the sequence runs as several dispatches (it went wrong
    // from step 992 before that split).
    for (i, h, t, b) in [
        (3, 67, 11, 5),
        (8, 128, 4, 9),
        (8, 64, 1200, 1),
        (4, 128, 600, 2),
    ] {
        let weights = RnnWeights::random(
            RnnConfig::new(CellKind::PeepholeLstm, i, h).unwrap(),
            4,
            1.0,
        )
        .unwrap();
        let x = random_vec(&mut rng, t * b * i, 1.0);
        let h0 = random_vec(&mut rng, b * h, 1.0);
        let run = |g: &Gpu| {
            Rnn::new(g, &weights)
                .unwrap()
                .forward_host(&x, t, b, Some(&h0), None)
                .unwrap()
        };
        assert!(persistent_gpu().persistent_steps(b, h));
        let per_step = run(per_step_gpu());
        // Weights as texels (CPU adapters with 8-lane subgroups) and from
        // their buffer (GPUs, other CPU adapters).
        assert_eq!(run(persistent_gpu()), per_step, "I={i} H={h} T={t} B={b}");
        assert_eq!(
            run(persistent_plain_gpu()),
            per_step,
            "buffer weights: I={i} H={h} T={t} B={b}"
        );
    }
}

#[test]
fn persistent_training_is_bit_identical_to_per_step_dispatches() {
    // The training forward keeps the same histories, so every gradient of
    // the backward (the same kernels either way) has the same bits. T=1200
    // runs as several dispatches of the persistent kernel.
    let mut rng = SmallRng::seed_from_u64(12);
    for (i, h, t, b, ragged) in [(3, 67, 11, 5, true), (8, 64, 1200, 1, false)] {
        let layer = RnnConfig::new(CellKind::PeepholeLstm, i, h).unwrap();
        let weights = StackWeights::random(StackConfig::new(layer), 6, 1.0).unwrap();
        let x = random_vec(&mut rng, t * b * i, 1.0);
        let h0 = random_vec(&mut rng, b * h, 1.0);
        let c0 = random_vec(&mut rng, b * h, 1.0);
        let g_out = random_vec(&mut rng, t * b * h, 1.0);
        let g_c = random_vec(&mut rng, b * h, 1.0);
        let lengths: Vec<usize> = (0..b).map(|r| if ragged { t - 2 * r } else { t }).collect();
        let run = |g: &Gpu| {
            let seeds = HostSeeds {
                output: Some(&g_out),
                c_n: Some(&g_c),
                ..Default::default()
            };
            RnnStack::new(g, &weights)
                .unwrap()
                .train_step_host(
                    &x,
                    t,
                    b,
                    Some(&h0),
                    Some(&c0),
                    Some(&lengths),
                    seeds,
                    TrainOptions::default(),
                )
                .unwrap()
        };
        assert!(persistent_gpu().persistent_steps(b, h));
        let per_step = run(per_step_gpu());
        assert!(per_step.1.input.iter().all(|g| g.is_finite()));
        assert_eq!(run(persistent_gpu()), per_step, "I={i} H={h} T={t} B={b}");
        // Without the subgroup kernels the backward kernels differ too:
        // compare with one dispatch per step on that device.
        assert_eq!(
            run(persistent_plain_gpu()),
            run(plain_gpu()),
            "buffer weights: I={i} H={h} T={t} B={b}"
        );
    }
}

#[test]
fn persistent_stack_with_lengths_and_chunks() {
    let layer = RnnConfig::new(CellKind::Lstm, 6, 19).unwrap();
    let config = StackConfig::new(layer)
        .with_layers(2)
        .with_direction(Direction::Bidirectional);
    let weights = StackWeights::random(config, 5, 1.0).unwrap();
    let case = StackCase {
        seq: 13,
        batch: 6,
        lengths: Some(vec![13, 1, 7, 13, 2, 9]),
        with_h0: true,
        with_c0: true,
        seed: 2,
    };
    check_stack_on(persistent_gpu(), &weights, &case);

    // A 12 KiB binding limit: the widest weight (layer 2's weight_ih, 11.4
    // KiB) fits, one step's gate pre-activations take 1824 bytes, so the 13
    // steps run as chunks of 6, 6 and 1 and the kernel carries h and c from
    // one chunk's dispatch to the next.
    let chunked = Gpu::with_selector(&AdapterSelector {
        persistent: Some(true),
        max_storage_binding: Some(12 * 1024),
        ..AdapterSelector::from_env()
    })
    .unwrap();
    check_stack_on(&chunked, &weights, &case);
}
