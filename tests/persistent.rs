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
use wgpu_rnn::reference::check::relative_gradient_error;
use wgpu_rnn::train::{HostGradients, HostSeeds, TrainOptions};
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
        assert!(persistent_gpu().tuning().persistent_steps(b, h));
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

/// Worst relative error over every gradient of `got` against `want`.
fn worst_gradient_error(want: &HostGradients, got: &HostGradients) -> f64 {
    let pairs = [
        (&want.input, &got.input),
        (&want.h0, &got.h0),
        (want.c0.as_ref().unwrap(), got.c0.as_ref().unwrap()),
    ];
    let params = want.params.iter().zip(&got.params).flat_map(|(w, g)| {
        [
            (&w.weight_ih, &g.weight_ih),
            (&w.weight_hh, &g.weight_hh),
            (w.bias_ih.as_ref().unwrap(), g.bias_ih.as_ref().unwrap()),
            (w.peephole.as_ref().unwrap(), g.peephole.as_ref().unwrap()),
        ]
    });
    pairs
        .into_iter()
        .chain(params)
        .map(|(w, g)| {
            assert!(g.iter().all(|v| v.is_finite()));
            let w: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
            relative_gradient_error(&w, g.iter().map(|&v| f64::from(v)))
        })
        .fold(0.0, f64::max)
}

#[test]
fn persistent_training_matches_per_step_dispatches() {
    // The persistent training forward keeps the same histories as one
    // dispatch per step (the same bits); the persistent backward sums over
    // units, then gates (the per-step kernels: gates, then units), so its
    // gradients agree to rounding. T=1200 runs as several dispatches of
    // each persistent kernel.
    let mut rng = SmallRng::seed_from_u64(12);
    for (i, h, t, b, ragged) in [
        (3, 67, 11, 5, true),
        (8, 64, 1200, 1, false),
        (2, 256, 5, 3, true),
    ] {
        let layer = RnnConfig::new(CellKind::PeepholeLstm, i, h).unwrap();
        let weights = StackWeights::random(StackConfig::new(layer), 6, 1.0).unwrap();
        let x = random_vec(&mut rng, t * b * i, 1.0);
        let h0 = random_vec(&mut rng, b * h, 1.0);
        let c0 = random_vec(&mut rng, b * h, 1.0);
        let g_out = random_vec(&mut rng, t * b * h, 1.0);
        let g_h = random_vec(&mut rng, b * h, 1.0);
        let g_c = random_vec(&mut rng, b * h, 1.0);
        let lengths: Vec<usize> = (0..b).map(|r| if ragged { t - 2 * r } else { t }).collect();
        let run = |g: &Gpu| {
            let seeds = HostSeeds {
                output: Some(&g_out),
                h_n: Some(&g_h),
                c_n: Some(&g_c),
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
        assert!(persistent_gpu().tuning().persistent_steps(b, h));
        let label = format!("I={i} H={h} T={t} B={b}");
        // Texel weights against the default kernels; buffer weights (what
        // GPUs run) against the kernels without subgroups.
        for (persistent, per_step) in [
            (persistent_gpu(), per_step_gpu()),
            (persistent_plain_gpu(), plain_gpu()),
        ] {
            let (want_out, want) = run(per_step);
            let (got_out, got) = run(persistent);
            assert_eq!(got_out, want_out, "{label}");
            let worst = worst_gradient_error(&want, &got);
            eprintln!("{label}: persistent backward, worst relative error {worst:.2e}");
            assert!(worst < 1e-5, "{label}: {worst:e}");
        }
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
