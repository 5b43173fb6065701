//! `Stream`: a unidirectional stack run frame by frame with its states on
//! the device. T single steps, or chunks of K, give the whole-sequence
//! forward (bit for bit where the kernels are the same, else within the
//! reference's tolerance); `reset_rows` restarts chosen rows and leaves
//! the others alone; misuse is an error. (That a steady-state step
//! allocates nothing is `tests/steady_state.rs`.)

mod common;

use common::random_vec;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::{
    reference, Activation, Activations, CellKind, CellOptions, Direction, GpuTensor, RnnConfig,
    RnnStack, StackConfig, StackWeights,
};

/// Every unidirectional cell and option a stream takes.
fn configs() -> Vec<StackConfig> {
    let mut out = Vec::new();
    for cell in CellKind::ALL {
        let layer = RnnConfig::new(cell, 3, 5).unwrap();
        out.push(StackConfig::new(layer).with_layers(2));
    }
    let projected = RnnConfig::new(CellKind::Lstm, 4, 6)
        .unwrap()
        .with_projection(3)
        .unwrap();
    out.push(StackConfig::new(projected).with_layers(2));
    let wide = RnnConfig::new(CellKind::Gru(wgpu_rnn::GruReset::After), 7, 67).unwrap();
    out.push(StackConfig::new(wide).with_batch_first(true));
    // ONNX's options (other functions, clip, input_forget).
    let options = CellOptions {
        activations: Activations {
            f: Some(Activation::HardSigmoid {
                alpha: 0.3,
                beta: 0.45,
            }),
            g: Some(Activation::Softsign),
            h: Some(Activation::Elu { alpha: 0.8 }),
        },
        clip: Some(0.9),
        input_forget: true,
        ..CellOptions::default()
    };
    let with_options = RnnConfig::new(CellKind::Lstm, 3, 5)
        .unwrap()
        .with_options(options)
        .unwrap();
    out.push(StackConfig::new(with_options).with_layers(2));
    out
}

/// The stream over `x` `[T, B, I]` from `h0`/`c0`: single steps, then
/// chunks of `chunk`; returns the outputs `[T, B, Ho]` (both ways) and the
/// final states.
fn run_stream(
    stack: &RnnStack,
    x: &[f32],
    (seq, batch): (usize, usize),
    (h0, c0): (&[f32], Option<&[f32]>),
    chunk: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, bool) {
    let gpu = stack.gpu();
    let cfg = stack.config();
    let i = cfg.layer.input_size;
    // Time-major data; batch-first stacks take [B, K, I] chunks.
    let frame = |t: usize| &x[t * batch * i..(t + 1) * batch * i];
    let to_layout = |t0: usize, k: usize| -> Vec<f32> {
        if !cfg.batch_first {
            return x[t0 * batch * i..(t0 + k) * batch * i].to_vec();
        }
        let mut v = Vec::with_capacity(k * batch * i);
        for b in 0..batch {
            for t in t0..t0 + k {
                v.extend_from_slice(&frame(t)[b * i..(b + 1) * i]);
            }
        }
        v
    };
    let from_layout = |out: Vec<f32>, k: usize| -> Vec<f32> {
        if !cfg.batch_first {
            return out;
        }
        let ho = cfg.output_size();
        let mut v = vec![0.0; out.len()];
        for b in 0..batch {
            for t in 0..k {
                let src = (b * k + t) * ho;
                let dst = (t * batch + b) * ho;
                v[dst..dst + ho].copy_from_slice(&out[src..src + ho]);
            }
        }
        v
    };

    let mut stream = stack.stream(batch).unwrap();
    stream.h().write(h0).unwrap();
    if let (Some(c), Some(c0)) = (stream.c(), c0) {
        c.write(c0).unwrap();
    }
    let mut steps = Vec::new();
    for t in 0..seq {
        let x_t = GpuTensor::from_slice(gpu, "x_t", frame(t), &[batch, i]).unwrap();
        steps.extend(stream.step(&x_t).unwrap().to_vec().unwrap());
    }
    let h_n = stream.h().to_vec().unwrap();

    let fused = stream.is_fused(1) && stream.is_fused(chunk);
    let mut stream = stack.stream(batch).unwrap();
    stream.h().write(h0).unwrap();
    if let (Some(c), Some(c0)) = (stream.c(), c0) {
        c.write(c0).unwrap();
    }
    let mut chunks = Vec::new();
    for t0 in (0..seq).step_by(chunk) {
        let k = chunk.min(seq - t0);
        let shape = cfg.sequence_shape(k, batch, i);
        let x_k = GpuTensor::from_slice(gpu, "x_k", &to_layout(t0, k), &shape).unwrap();
        let out = stream.steps(&x_k).unwrap().to_vec().unwrap();
        chunks.extend(from_layout(out, k));
    }
    assert_eq!(
        stream.h().to_vec().unwrap(),
        h_n,
        "chunked h_n differs from stepped"
    );
    (steps, chunks, h_n, fused)
}

#[test]
fn steps_and_chunks_equal_the_whole_sequence() {
    for gpu in [
        common::gpu(),
        common::fused_gpu(),
        common::fused_plain_gpu(),
        common::tiled_gpu(),
        common::persistent_gpu(),
    ] {
        for config in configs() {
            steps_and_chunks_on(gpu, config);
        }
    }
}

fn steps_and_chunks_on(gpu: &wgpu_rnn::Gpu, config: StackConfig) {
    {
        let weights = StackWeights::random(config, 5, 1.0).unwrap();
        let stack = RnnStack::new(gpu, &weights).unwrap();
        let layer = config.layer;
        let (seq, batch) = (9, 3);
        let (slots, ho, h) = (config.num_layers, layer.output_size(), layer.hidden_size);
        let mut rng = SmallRng::seed_from_u64(17);
        let x = random_vec(&mut rng, seq * batch * layer.input_size, 1.0);
        let h0 = random_vec(&mut rng, slots * batch * ho, 1.0);
        let c0 = layer
            .cell
            .has_cell_state()
            .then(|| random_vec(&mut rng, slots * batch * h, 1.0));

        let (steps, chunks, h_n, fused) =
            run_stream(&stack, &x, (seq, batch), (&h0, c0.as_deref()), 4);

        // The whole sequence, time-major (the reference's layout).
        let time_major = StackConfig {
            batch_first: false,
            ..config
        };
        let whole_stack = RnnStack::new(
            gpu,
            &StackWeights::new(time_major, weights.layers().to_vec()).unwrap(),
        )
        .unwrap();
        let whole = whole_stack
            .forward_host(&x, seq, batch, Some(&h0), c0.as_deref(), None)
            .unwrap();
        let want = reference::forward_stack(
            &StackWeights::new(time_major, weights.layers().to_vec()).unwrap(),
            &x,
            seq,
            batch,
            Some(&h0),
            c0.as_deref(),
            None,
        )
        .unwrap();
        let tol = Tolerance::stack(&config, seq, want.preactivation_scale);
        let label = format!(
            "{} {config:?} {:?} fused {fused}",
            layer.cell.name(),
            gpu.tuning()
        );
        let dims = [seq, batch, ho];
        for (what, got) in [("steps", &steps), ("chunks", &chunks)] {
            compare(&format!("{label} {what}"), &want.output, got, &dims, tol)
                .unwrap_or_else(|m| panic!("{m}"));
        }
        compare(
            &format!("{label} h_n"),
            &want.h_n,
            &h_n,
            &[slots, batch, ho],
            tol,
        )
        .unwrap_or_else(|m| panic!("{m}"));
        let max_diff = |a: &[f32]| {
            a.iter()
                .zip(&whole.output)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max)
        };
        eprintln!(
            "{label}: |steps - whole| {:.2e}, |chunks - whole| {:.2e}, steps bit-identical: {}",
            max_diff(&steps),
            max_diff(&chunks),
            steps == whole.output
        );

        if fused {
            // One kernel, the same sums in the same order for every step,
            // whatever the number of steps per call.
            assert!(steps == chunks, "{label}: fused chunks differ from steps");
            return;
        }
        // One chunk of the whole sequence runs the whole forward's kernels:
        // the same bits.
        let (_, one_chunk, _, _) = run_stream(&stack, &x, (seq, batch), (&h0, c0.as_deref()), seq);
        assert!(one_chunk == whole.output, "{label}: one chunk of T differs");

        // Single steps run the kernels of T=1 forwards fed their own h_n:
        // the same bits.
        let mut state = (h0.clone(), c0.clone());
        let mut fed = Vec::new();
        for t in 0..seq {
            let frame = &x[t * batch * layer.input_size..(t + 1) * batch * layer.input_size];
            let out = whole_stack
                .forward_host(frame, 1, batch, Some(&state.0), state.1.as_deref(), None)
                .unwrap();
            fed.extend(out.output);
            state = (out.h_n, out.c_n);
        }
        assert!(steps == fed, "{label}: steps differ from T=1 forwards");
    }
}

#[test]
fn reset_rows_restarts_only_those_rows() {
    // Every cell and option on the fused step, and layer by layer.
    for (gpu, config) in configs()
        .into_iter()
        .map(|c| (common::fused_gpu(), c))
        .chain([
            (common::gpu(), configs()[0]),
            (common::tiled_gpu(), configs()[0]),
        ])
    {
        let stack = RnnStack::new(gpu, &StackWeights::random(config, 2, 1.0).unwrap()).unwrap();
        let (batch, i) = (3, config.layer.input_size);
        let mut rng = SmallRng::seed_from_u64(4);
        let frames: Vec<Vec<f32>> = (0..8)
            .map(|_| random_vec(&mut rng, batch * i, 1.0))
            .collect();

        let mut kept = stack.stream(batch).unwrap();
        let mut reset = stack.stream(batch).unwrap();
        let mut fresh = stack.stream(batch).unwrap();
        let mut outs = (Vec::new(), Vec::new(), Vec::new());
        for (t, f) in frames.iter().enumerate() {
            if t == 5 {
                reset.reset_rows(&[false, true, false]).unwrap();
            }
            outs.0 = kept.step_host(f).unwrap();
            outs.1 = reset.step_host(f).unwrap();
            if t >= 5 {
                outs.2 = fresh.step_host(f).unwrap();
            }
        }
        let ho = config.output_size();
        // Batch-first [B, 1, Ho] and time-major [1, B, Ho] rows coincide.
        let row = |v: &[f32], b: usize| v[b * ho..(b + 1) * ho].to_vec();
        assert_eq!(row(&outs.1, 0), row(&outs.0, 0), "row 0 was touched");
        assert_eq!(row(&outs.1, 2), row(&outs.0, 2), "row 2 was touched");
        assert_eq!(row(&outs.1, 1), row(&outs.2, 1), "row 1 did not restart");
        assert_ne!(row(&outs.1, 1), row(&outs.0, 1));
        let err = reset.reset_rows(&[true, false]).unwrap_err().to_string();
        assert!(err.contains("row mask"), "{err}");
    }
}

#[test]
fn bad_streams_are_refused() {
    let gpu = common::gpu();
    let layer = RnnConfig::new(CellKind::Lstm, 2, 3).unwrap();
    for direction in [Direction::Bidirectional, Direction::Reverse] {
        let config = StackConfig::new(layer).with_direction(direction);
        let stack = RnnStack::new(gpu, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
        let err = stack.stream(2).err().expect("refused").to_string();
        assert!(err.contains("forward stacks only"), "{err}");
    }
    let stack = RnnStack::new(
        gpu,
        &StackWeights::random(StackConfig::new(layer), 1, 1.0).unwrap(),
    )
    .unwrap();
    assert!(stack.stream(0).is_err());
    let mut stream = stack.stream(2).unwrap();
    let wrong = GpuTensor::zeros(gpu, "x", &[3, 2]).unwrap();
    let err = stream.step(&wrong).unwrap_err().to_string();
    assert!(err.contains("stream step input"), "{err}");
    let wrong = GpuTensor::zeros(gpu, "x", &[4, 3, 2]).unwrap();
    assert!(stream.steps(&wrong).is_err());
    assert!(stream.step_host(&[0.0; 3]).is_err());
    assert!(stream.step_host(&[f32::NAN; 4]).is_err());
    let other = wgpu_rnn::Gpu::new().unwrap();
    let foreign = GpuTensor::zeros(&other, "x", &[2, 2]).unwrap();
    let err = stream.step(&foreign).unwrap_err().to_string();
    assert!(err.contains("different device"), "{err}");
}

/// Truncated BPTT through a stream: chunks of training forwards carry the
/// state like inference steps do, and each chunk's gradients are those of a
/// training step from the state the chunk started at.
#[test]
fn training_chunks_carry_the_state() {
    use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
    fn seeds_of(o: &wgpu_rnn::RnnOutput) -> Seeds<'_> {
        Seeds {
            output: Some(&o.output),
            ..Default::default()
        }
    }
    let gpu = common::gpu();
    for cell in [CellKind::Lstm, CellKind::Gru(wgpu_rnn::GruReset::After)] {
        let config = StackConfig::new(RnnConfig::new(cell, 3, 5).unwrap()).with_layers(2);
        let weights = StackWeights::random(config, 8, 1.0).unwrap();
        let stack = RnnStack::new(gpu, &weights).unwrap();
        let (k, batch) = (4, 2);
        let mut rng = SmallRng::seed_from_u64(6);
        let chunks: Vec<Vec<f32>> = (0..3)
            .map(|_| random_vec(&mut rng, k * batch * 3, 1.0))
            .collect();
        let mut inference = stack.stream(batch).unwrap();
        let mut training = stack.stream(batch).unwrap();
        let label = cell.name();
        for (n, chunk) in chunks.iter().enumerate() {
            let x = GpuTensor::from_slice(gpu, "x", chunk, &[k, batch, 3]).unwrap();
            let h0 = training.h().to_vec().unwrap();
            let c0 = training.c().map(|c| c.to_vec().unwrap());
            let want = inference.steps(&x).unwrap().to_vec().unwrap();
            let (out, tape) = training.train_steps(&x, TrainOptions::default()).unwrap();
            let got = out.output.to_vec().unwrap();
            let worst = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-5,
                "{label} chunk {n}: output {worst:e} from inference"
            );
            let state_gap = inference
                .h()
                .to_vec()
                .unwrap()
                .iter()
                .zip(&training.h().to_vec().unwrap())
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                state_gap < 1e-5,
                "{label} chunk {n}: state {state_gap:e} apart"
            );

            // The chunk's gradients are those of a training step from h0/c0.

            let grads = StackGrads::zeros(&stack).unwrap();
            stack
                .backward(&tape, seeds_of(&out), &grads, GradMode::Overwrite)
                .unwrap();
            let h0_t = GpuTensor::from_slice(gpu, "h0", &h0, &[2, batch, 5]).unwrap();
            let c0_t = c0.map(|c| GpuTensor::from_slice(gpu, "c0", &c, &[2, batch, 5]).unwrap());
            let (o2, tape2) = stack
                .forward_train(
                    &x,
                    Some(&h0_t),
                    c0_t.as_ref(),
                    None,
                    TrainOptions::default(),
                )
                .unwrap();
            let grads2 = StackGrads::zeros(&stack).unwrap();
            stack
                .backward(&tape2, seeds_of(&o2), &grads2, GradMode::Overwrite)
                .unwrap();
            assert!(
                grads.to_host().unwrap() == grads2.to_host().unwrap(),
                "{label} chunk {n}: gradients differ from a step from the chunk's start state"
            );
        }
    }
}

/// Chunks of many sizes (more than a stream keeps plans for, so the oldest
/// are freed and planned again) still follow single steps bit for bit.
#[test]
fn chunks_of_many_sizes_follow_single_steps() {
    let gpu = common::gpu();
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 5).unwrap());
    let stack = RnnStack::new(gpu, &StackWeights::random(config, 4, 1.0).unwrap()).unwrap();
    let batch = 2;
    let sizes = [2, 3, 4, 5, 6, 7, 2, 3, 1, 5];
    let total: usize = sizes.iter().sum();
    let mut rng = SmallRng::seed_from_u64(8);
    let x = random_vec(&mut rng, total * batch * 3, 1.0);
    let mut single = stack.stream(batch).unwrap();
    let want: Vec<f32> = x
        .chunks(batch * 3)
        .flat_map(|f| single.step_host(f).unwrap())
        .collect();
    let mut chunked = stack.stream(batch).unwrap();
    let mut got = Vec::new();
    let mut at = 0;
    for k in sizes {
        got.extend(
            chunked
                .steps_host(&x[at * batch * 3..(at + k) * batch * 3])
                .unwrap(),
        );
        at += k;
    }
    let worst = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "chunks differ from steps by {worst:e}");
}

/// The fused step at awkward sizes (I = 1, H = 67, one row, one layer and
/// three) with inputs up to 1e4 that saturate every gate: the f64
/// reference's outputs within its tolerance, for every cell.
#[test]
fn fused_steps_saturate_as_the_reference_does() {
    let gpu = common::fused_gpu();
    for cell in CellKind::ALL {
        for (layers, batch) in [(1, 1), (3, 2)] {
            let layer = RnnConfig::new(cell, 1, 67).unwrap();
            let config = StackConfig::new(layer).with_layers(layers);
            let weights = StackWeights::random(config, 8, 1.0).unwrap();
            let stack = RnnStack::new(gpu, &weights).unwrap();
            let mut stream = stack.stream(batch).unwrap();
            assert!(stream.is_fused(1), "{config:?}");
            let seq = 6;
            let mut rng = SmallRng::seed_from_u64(3);
            let x = random_vec(&mut rng, seq * batch, 1e4);
            let got: Vec<f32> = x
                .chunks(batch)
                .flat_map(|frame| stream.step_host(frame).unwrap())
                .collect();
            let want =
                reference::forward_stack(&weights, &x, seq, batch, None, None, None).unwrap();
            let tol = Tolerance::stack(&config, seq, want.preactivation_scale);
            compare(
                &format!("{} x{layers} B={batch}", cell.name()),
                &want.output,
                &got,
                &[seq, batch, 67],
                tol,
            )
            .unwrap_or_else(|m| panic!("{m}"));
        }
    }
}

/// A parameter written between steps (here through the API; an optimizer
/// step the same way) is in the next fused step: the same bits as a
/// stream of a stack built with the new weights, from the same state.
#[test]
fn fused_steps_follow_written_parameters() {
    let gpu = common::fused_gpu();
    for cell in [CellKind::Lstm, CellKind::Gru(wgpu_rnn::GruReset::Before)] {
        let config = StackConfig::new(RnnConfig::new(cell, 3, 5).unwrap()).with_layers(2);
        let weights = StackWeights::random(config, 6, 1.0).unwrap();
        let stack = RnnStack::new(gpu, &weights).unwrap();
        let mut stream = stack.stream(2).unwrap();
        let frame = [0.5, -0.25, 1.0, 0.75, -1.0, 0.1];
        stream.step_host(&frame).unwrap();
        let h = stream.h().to_vec().unwrap();
        let c = stream.c().map(|c| c.to_vec().unwrap());

        let new_hh = StackWeights::random(config, 7, 1.0)
            .unwrap()
            .layer(1, 0)
            .weight_hh()
            .to_vec();
        let params = stack.parameters(1, 0).unwrap();
        params.weight_hh.write(&new_hh).unwrap();
        let got = stream.step_host(&frame).unwrap();

        let mut layers = weights.layers().to_vec();
        let top = &layers[1];
        layers[1] = wgpu_rnn::RnnWeights::new(
            *top.config(),
            top.weight_ih().to_vec(),
            new_hh,
            top.bias_ih().map(<[f32]>::to_vec),
            top.bias_hh().map(<[f32]>::to_vec),
            None,
        )
        .unwrap();
        let rebuilt = RnnStack::new(gpu, &StackWeights::new(config, layers).unwrap()).unwrap();
        let mut fresh = rebuilt.stream(2).unwrap();
        fresh.h().write(&h).unwrap();
        if let (Some(state), Some(c)) = (fresh.c(), &c) {
            state.write(c).unwrap();
        }
        let want = fresh.step_host(&frame).unwrap();
        assert_eq!(got, want, "{}", cell.name());
    }
}

/// A layer whose input and state pass what the fused step stages runs
/// layer by layer, with the same results.
#[test]
fn a_stack_too_wide_for_the_fused_step_runs_layer_by_layer() {
    let gpu = common::fused_gpu();
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 2100, 3).unwrap());
    let weights = StackWeights::random(config, 2, 1.0).unwrap();
    let stack = RnnStack::new(gpu, &weights).unwrap();
    let mut stream = stack.stream(1).unwrap();
    assert!(!stream.is_fused(1));
    let mut rng = SmallRng::seed_from_u64(5);
    let x = random_vec(&mut rng, 2100, 1.0);
    let got = stream.step_host(&x).unwrap();
    let want = reference::forward_stack(&weights, &x, 1, 1, None, None, None).unwrap();
    let tol = Tolerance::stack(&config, 1, want.preactivation_scale);
    compare("wide", &want.output, &got, &[1, 1, 3], tol).unwrap_or_else(|m| panic!("{m}"));
}
