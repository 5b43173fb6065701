//! The GPU backward pass (BPTT) against the f64 reference backward, for
//! every cell and module option: layers, reverse and bidirectional
//! directions, projection, variable lengths, batch-first, h0/c0 given or
//! not, every cotangent given or not; plus dropout, gradient accumulation,
//! saturated gates and long sequences.

mod common;

use common::training::{case, check_on, Case};
use common::{gpu, persistent_gpu, persistent_plain_gpu, random_vec, tiled_gpu};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::train::{GradMode, HostSeeds, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::{
    CellKind, Direction, Error, GpuTensor, RnnConfig, RnnStack, StackConfig, StackWeights,
};

/// [`check_on`] on the default device.
fn check(config: StackConfig, c: &Case, options: TrainOptions) -> f64 {
    check_on(gpu(), config, c, options)
}

fn layer(cell: CellKind, input: usize, hidden: usize) -> RnnConfig {
    RnnConfig::new(cell, input, hidden).unwrap()
}

/// The awkward sizes of the foundation issue, one layer, every cell.
#[test]
fn every_cell_matches_the_reference_backward() {
    for cell in CellKind::ALL {
        let mut worst: f64 = 0.0;
        for (n, (i, h, t, b)) in [(1, 1, 1, 1), (3, 67, 5, 3), (67, 3, 9, 67)]
            .into_iter()
            .enumerate()
        {
            let config = StackConfig::new(layer(cell, i, h));
            worst = worst.max(check(
                config,
                &case(t, b, None, n as u64),
                TrainOptions::default(),
            ));
        }
        eprintln!("{}: worst {worst:.3e}", cell.name());
    }
}

/// The option combinations that interact, for every cell (projection for
/// the LSTMs).
#[test]
fn module_options_match_the_reference_backward() {
    for cell in CellKind::ALL {
        let mut l = layer(cell, 5, 19);
        if cell.has_cell_state() {
            l = l.with_projection(7).unwrap();
        }
        let combos = [
            (
                StackConfig::new(l)
                    .with_layers(2)
                    .with_direction(Direction::Bidirectional),
                case(9, 5, Some(vec![3, 9, 1, 7, 5]), 1),
            ),
            (
                StackConfig::new(l)
                    .with_direction(Direction::Reverse)
                    .with_batch_first(true),
                Case {
                    with_h0: false,
                    with_c0: false,
                    seeds: [true, false, true],
                    ..case(11, 3, Some(vec![11, 4, 6]), 2)
                },
            ),
            (
                StackConfig::new(layer(cell, 3, 6).with_bias(false))
                    .with_layers(3)
                    .with_batch_first(true),
                Case {
                    with_c0: false,
                    seeds: [false, true, false],
                    ..case(6, 2, None, 3)
                },
            ),
        ];
        for (config, c) in combos {
            check(config, &c, TrainOptions::default());
        }
    }
}

/// Dropout between layers: the backward pass uses the forward's mask (the
/// reference applies the host twin's mask), and a seed reproduces a run.
#[test]
fn dropout_masks_match_and_reproduce() {
    for cell in [CellKind::Lstm, CellKind::Gru(wgpu_rnn::GruReset::After)] {
        let config = StackConfig::new(layer(cell, 4, 9))
            .with_layers(3)
            .with_direction(Direction::Bidirectional);
        let options = TrainOptions {
            dropout: 0.3,
            seed: 99,
        };
        check(config, &case(7, 3, Some(vec![7, 2, 5]), 11), options);
    }
    let config = StackConfig::new(layer(CellKind::Lstm, 4, 9)).with_layers(2);
    let weights = StackWeights::random(config, 3, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let input = random_vec(&mut SmallRng::seed_from_u64(5), 6 * 2 * 4, 1.0);
    let g_out = vec![1.0; 6 * 2 * 9];
    let run = |seed: u64| {
        let seeds = HostSeeds {
            output: Some(&g_out),
            ..Default::default()
        };
        let options = TrainOptions { dropout: 0.5, seed };
        stack
            .train_step_host(&input, 6, 2, None, None, None, seeds, options)
            .unwrap()
    };
    let (a, b, other) = (run(1), run(1), run(2));
    assert_eq!(a, b, "the same seed gives the same bits");
    assert_ne!(a.0.output, other.0.output, "another seed drops other units");
    // Dropout is a training-mode feature: inference ignores it.
    let plain = stack.forward_host(&input, 6, 2, None, None, None).unwrap();
    let no_drop = stack
        .train_step_host(
            &input,
            6,
            2,
            None,
            None,
            None,
            HostSeeds::default(),
            TrainOptions::default(),
        )
        .unwrap();
    assert_eq!(
        plain, no_drop.0,
        "a training forward without dropout is the inference forward"
    );
}

/// `GradMode::Accumulate` adds into the gradient buffers; `Overwrite`
/// replaces them.
#[test]
fn gradients_accumulate_or_overwrite() {
    let config = StackConfig::new(
        layer(CellKind::PeepholeLstm, 3, 5)
            .with_projection(2)
            .unwrap(),
    )
    .with_direction(Direction::Bidirectional);
    let weights = StackWeights::random(config, 8, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let mut rng = SmallRng::seed_from_u64(9);
    let input = GpuTensor::from_slice(
        gpu(),
        "x",
        &random_vec(&mut rng, 4 * 2 * 3, 1.0),
        &[4, 2, 3],
    )
    .unwrap();
    let g_out = GpuTensor::from_slice(
        gpu(),
        "g",
        &random_vec(&mut rng, 4 * 2 * 4, 1.0),
        &[4, 2, 4],
    )
    .unwrap();
    let seeds = Seeds {
        output: Some(&g_out),
        ..Default::default()
    };
    let grads = StackGrads::zeros(&stack).unwrap();
    let step = |mode: GradMode| {
        let (_, tape) = stack
            .forward_train(&input, None, None, None, TrainOptions::default())
            .unwrap();
        stack.backward(&tape, seeds, &grads, mode).unwrap();
        grads.to_host().unwrap()
    };
    let once = step(GradMode::Overwrite);
    let twice = step(GradMode::Accumulate);
    let doubled = |v: &[f32]| v.iter().map(|x| 2.0 * x).collect::<Vec<f32>>();
    for (a, b) in once.iter().zip(&twice) {
        let pairs = [
            ("weight_hh", &a.weight_hh, &b.weight_hh),
            (
                "peephole",
                a.peephole.as_ref().unwrap(),
                b.peephole.as_ref().unwrap(),
            ),
            (
                "weight_hr",
                a.weight_hr.as_ref().unwrap(),
                b.weight_hr.as_ref().unwrap(),
            ),
            (
                "bias_ih",
                a.bias_ih.as_ref().unwrap(),
                b.bias_ih.as_ref().unwrap(),
            ),
        ];
        for (name, single, accumulated) in pairs {
            assert_eq!(&doubled(single), accumulated, "accumulated {name}");
        }
    }
    assert_eq!(step(GradMode::Overwrite), once, "overwrite replaces");
}

/// Saturated gates (inputs up to 1e4) give finite gradients that match the
/// reference; long sequences (T = 1000) stay within the bound.
///
/// Near saturation σ' = σ(1-σ) comes from the saved f32 σ (as in PyTorch's
/// float32 backward), and 1-σ has an absolute error of about u: the gate
/// gradients are accurate to u·|dh| absolutely, not relatively, and
/// weight_ih's gradient multiplies them by |x| = 1e4. Measured: 2.2e-5 of
/// the tensor's scale for weight_ih, below 3e-6 for everything else; the
/// bound is 100x the unsaturated one.
#[test]
fn saturation_and_long_sequences() {
    for cell in CellKind::ALL {
        let config = StackConfig::new(layer(cell, 3, 7));
        let c = Case {
            input_scale: 1e4,
            bound_factor: 100.0,
            ..case(20, 3, Some(vec![20, 13, 1]), 21)
        };
        check(config, &c, TrainOptions::default());
    }
    for cell in [
        CellKind::Lstm,
        CellKind::Gru(wgpu_rnn::GruReset::Before),
        CellKind::Rnn(wgpu_rnn::Nonlinearity::Tanh),
    ] {
        let config = StackConfig::new(layer(cell, 5, 67));
        check(
            config,
            &case(1000, 3, Some(vec![1000, 999, 400]), 31),
            TrainOptions::default(),
        );
    }
}

/// The training forward on the workgroup-tiled step kernels (the GPU
/// default) keeps the same histories.
#[test]
fn tiled_training_forward_matches() {
    for cell in CellKind::ALL {
        let mut l = layer(cell, 4, 67);
        if cell.has_cell_state() {
            l = l.with_projection(5).unwrap();
        }
        let config = StackConfig::new(l).with_direction(Direction::Bidirectional);
        check_on(
            tiled_gpu(),
            config,
            &case(6, 5, Some(vec![6, 1, 3, 6, 2]), 41),
            TrainOptions::default(),
        );
    }
}

/// The persistent LSTM kernels in training (the forward keeping every
/// step's cell state and activations, the backward walking the slots in one
/// dispatch per piece), weights as texels and from their buffer: awkward
/// sizes, ragged rows, and a two-layer bidirectional stack with dropout.
#[test]
fn persistent_training_matches() {
    for device in [persistent_gpu(), persistent_plain_gpu()] {
        for cell in [CellKind::Lstm, CellKind::PeepholeLstm] {
            let ragged = case(9, 5, Some(vec![9, 1, 4, 9, 2]), 51);
            check_on(
                device,
                StackConfig::new(layer(cell, 3, 67)),
                &ragged,
                TrainOptions::default(),
            );
            let one = case(4, 1, None, 52);
            check_on(
                device,
                StackConfig::new(layer(cell, 5, 1)),
                &one,
                TrainOptions::default(),
            );
        }
        let config = StackConfig::new(layer(CellKind::Lstm, 4, 19))
            .with_layers(2)
            .with_direction(Direction::Bidirectional);
        let options = TrainOptions {
            dropout: 0.3,
            seed: 7,
        };
        check_on(
            device,
            config,
            &case(7, 3, Some(vec![7, 2, 5]), 53),
            options,
        );
    }
}

/// Bad calls get a clear error, never a panic or a wrong answer.
#[test]
fn bad_backward_calls_are_refused() {
    let config = StackConfig::new(layer(CellKind::Gru(wgpu_rnn::GruReset::After), 3, 4));
    let weights = StackWeights::random(config, 1, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let other = RnnStack::new(
        gpu(),
        &StackWeights::random(config.with_layers(2), 1, 1.0).unwrap(),
    )
    .unwrap();
    let input = GpuTensor::from_slice(gpu(), "x", &[0.5; 2 * 3], &[2, 1, 3]).unwrap();
    let (_, tape) = stack
        .forward_train(&input, None, None, None, TrainOptions::default())
        .unwrap();
    let grads = StackGrads::zeros(&stack).unwrap();
    fn err<T>(r: Result<T, Error>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    let e = err(other.backward(
        &tape,
        Seeds::default(),
        &StackGrads::zeros(&other).unwrap(),
        GradMode::Overwrite,
    ));
    assert!(e.contains("tape"), "{e}");
    let wrong = GpuTensor::zeros(gpu(), "g", &[2, 1, 5]).unwrap();
    let seeds = Seeds {
        output: Some(&wrong),
        ..Default::default()
    };
    let e = err(stack.backward(&tape, seeds, &grads, GradMode::Overwrite));
    assert!(e.contains("grad_output"), "{e}");
    let c_n = GpuTensor::zeros(gpu(), "g", &[1, 1, 4]).unwrap();
    let seeds = Seeds {
        c_n: Some(&c_n),
        ..Default::default()
    };
    let e = err(stack.backward(&tape, seeds, &grads, GradMode::Overwrite));
    assert!(e.contains("grad_c_n"), "{e}");
    let e = err(stack.backward(
        &tape,
        Seeds::default(),
        &StackGrads::zeros(&other).unwrap(),
        GradMode::Overwrite,
    ));
    assert!(e.contains("gradients"), "{e}");
    let e = err(stack
        .forward_train(
            &input,
            None,
            None,
            None,
            TrainOptions {
                dropout: 1.0,
                seed: 0,
            },
        )
        .map(|_| ()));
    assert!(e.contains("dropout"), "{e}");
}

/// The memory a training forward keeps, per step and layer-direction, for
/// the LSTM with B = 64, H = 512: gate activations (4H), the state
/// (H) and the cell state (H), f32: 64 * 6 * 512 * 4 = 786,432 bytes.
#[test]
fn training_memory_per_step() {
    let config = StackConfig::new(layer(CellKind::Lstm, 16, 512));
    let weights = StackWeights::random(config, 1, 1.0).unwrap();
    let stack = RnnStack::new(gpu(), &weights).unwrap();
    let saved = |seq: usize| {
        let input = GpuTensor::zeros(gpu(), "x", &[seq, 64, 16]).unwrap();
        let (_, tape) = stack
            .forward_train(&input, None, None, None, TrainOptions::default())
            .unwrap();
        tape.saved_bytes()
    };
    let per_step = saved(2) - saved(1);
    eprintln!("LSTM B=64 H=512: {per_step} bytes kept per step and layer-direction");
    assert_eq!(per_step, 64 * (4 + 1 + 1) * 512 * 4);
}
