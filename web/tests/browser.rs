//! The library in a real browser: headless Chromium on WebGPU, every check
//! against the f64 reference (which runs in wasm as it is) or against
//! PyTorch's and ONNX Runtime's checked-in outputs. Run with `make
//! test-web` (web/test.sh).
//!
//! What the native suite checks that this one does not, and why:
//! - f16 weights, subgroup kernels, immediates and timed profiles: WebGPU
//!   in wgpu 30 requests neither `shader-f16` nor subgroups nor immediates,
//!   and profiles are read back with a blocking wait (refused on wasm32).
//! - The kernel-variant switches (`WGPU_RNN_*` tuning; the fused stream
//!   step is forced through an `AdapterSelector` instead), OpenGL and the
//!   shader translations: no environment in a page. A GPU's browser gets
//!   the GPU defaults for a device without subgroups and f16 (the native
//!   suite runs them on SwiftShader's Vulkan); Chromium's fallback adapter
//!   here gets SwiftShader's (`src/gpu/tuning.rs`).
//! - Files by path, external ONNX data, the command line, device loss and
//!   app encoders: the page has bytes, not files; the rest is native API
//!   exercised natively.

mod check;
#[path = "../../tests/common/options.rs"]
mod options;

use check::{check_backward, check_forward, gpu, random_vec, web_sys_log, Case};
use options::options_of;
use rand::SeedableRng;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use wgpu_rnn::io::onnx::load_graph_bytes;
use wgpu_rnn::io::pytorch::{load_state_dict, param_name};
use wgpu_rnn::io::tensors::TensorFile;
use wgpu_rnn::reference::check::{compare, gradient_bound, relative_gradient_error, Tolerance};
use wgpu_rnn::train::{mse_loss, GradMode, HostSeeds, Linear, LinearGrads, Optimizer};
use wgpu_rnn::train::{OptimizerConfig, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::{CellKind, Direction, GpuTensor, GruReset};
use wgpu_rnn::{RnnConfig, RnnStack, RnnWeights, StackConfig, StackWeights};
use wgpu_rnn_tasks::TaskRng;

wasm_bindgen_test_configure!(run_in_browser);

fn stack(cell: CellKind, (i, h): (usize, usize)) -> StackConfig {
    StackConfig::new(RnnConfig::new(cell, i, h).unwrap())
}

#[wasm_bindgen_test]
fn one_seed_gives_the_native_weights() {
    // [0.2203, 0.1747, -0.2827, 0.1741], as on x86_64 (src/weights/host.rs
    // pins the same bits natively).
    let w = RnnWeights::random(RnnConfig::new(CellKind::Lstm, 4, 8).unwrap(), 1, 1.0).unwrap();
    let bits: Vec<u32> = w.weight_ih()[..4].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0x3e61a19a, 0x3e32ec42, 0xbe90c2c8, 0x3e3247ae]);
}

#[wasm_bindgen_test]
async fn every_cell_forward_matches_the_reference() {
    let gpu = gpu().await;
    for cell in CellKind::ALL {
        for (sizes, seq, batch) in [((1, 1), 1, 1), ((3, 67), 5, 3), ((67, 3), 4, 2)] {
            check_forward(&gpu, stack(cell, sizes), &Case::new(seq, batch)).await;
        }
        // Saturating inputs: |x| up to 1e4 gives gates of exactly 0 or 1.
        let saturating = Case {
            input_scale: 1e4,
            ..Case::new(6, 3)
        };
        check_forward(&gpu, stack(cell, (3, 5)), &saturating).await;
    }
}

#[wasm_bindgen_test]
async fn every_cell_backward_matches_the_reference() {
    let gpu = gpu().await;
    for cell in CellKind::ALL {
        for (sizes, seq, batch) in [((1, 1), 1, 1), ((3, 5), 4, 3), ((67, 3), 3, 2)] {
            let case = Case::new(seq, batch);
            check_backward(&gpu, stack(cell, sizes), &case, TrainOptions::default()).await;
        }
    }
}

#[wasm_bindgen_test]
async fn stack_options_match_the_reference() {
    let gpu = gpu().await;
    let lstm = RnnConfig::new(CellKind::Lstm, 3, 5).unwrap();
    let gru = RnnConfig::new(CellKind::Gru(GruReset::After), 4, 3).unwrap();
    let projected = lstm.with_projection(2).unwrap();
    let ragged = Case {
        lengths: Some(vec![5, 2, 4]),
        ..Case::new(5, 3)
    };
    let configs = [
        StackConfig::new(lstm).with_layers(3),
        StackConfig::new(lstm).with_direction(Direction::Bidirectional),
        StackConfig::new(projected)
            .with_layers(2)
            .with_direction(Direction::Bidirectional)
            .with_batch_first(true),
        StackConfig::new(gru)
            .with_layers(2)
            .with_direction(Direction::Bidirectional),
        StackConfig::new(gru.with_bias(false)).with_batch_first(true),
    ];
    for config in configs {
        check_forward(&gpu, config, &ragged).await;
        check_backward(&gpu, config, &ragged, TrainOptions::default()).await;
    }
    // Dropout between layers: the reference applies the same masks.
    let dropout = TrainOptions {
        dropout: 0.3,
        seed: 7,
    };
    check_backward(
        &gpu,
        StackConfig::new(lstm).with_layers(3),
        &ragged,
        dropout,
    )
    .await;
}

#[wasm_bindgen_test]
async fn cell_options_match_the_reference() {
    // The native option tests' sets (tests/common/options.rs): every
    // function with its alpha/beta, per direction, clip and input_forget.
    let gpu = gpu().await;
    for cell in CellKind::ALL {
        let layer = RnnConfig::new(cell, 3, 4)
            .unwrap()
            .with_options(options_of(cell))
            .unwrap();
        let config = StackConfig::new(layer).with_direction(Direction::Bidirectional);
        let case = Case::new(5, 2);
        check_forward(&gpu, config, &case).await;
        check_backward(&gpu, config, &case, TrainOptions::default()).await;
    }
}

#[wasm_bindgen_test]
async fn a_stream_equals_the_whole_sequence_and_resets_rows() {
    let gpu = gpu().await;
    for cell in [CellKind::Lstm, CellKind::Gru(GruReset::After)] {
        let config = StackConfig::new(RnnConfig::new(cell, 4, 6).unwrap()).with_layers(2);
        let weights = StackWeights::random(config, 2, 1.0).unwrap();
        let stack = RnnStack::new(&gpu, &weights).unwrap();
        let (batch, i, ho, seq) = (3, 4, 6, 8);
        let mut rng = TaskRng::seed_from_u64(4);
        let x = random_vec(&mut rng, seq * batch * i, 1.0);
        let frames: Vec<&[f32]> = x.chunks(batch * i).collect();

        // Frame by frame and in chunks of 3 and 5: the whole sequence's
        // output, bit for bit (the same kernels in the same order).
        let whole = stack
            .forward_host_async(&x, seq, batch, None, None, None)
            .await
            .unwrap();
        let mut stepped = stack.stream(batch).unwrap();
        let mut by_steps = Vec::new();
        for f in &frames {
            by_steps.extend(stepped.steps_host_async(f).await.unwrap());
        }
        let mut chunked = stack.stream(batch).unwrap();
        let mut by_chunks = chunked.steps_host_async(&x[..3 * batch * i]).await.unwrap();
        by_chunks.extend(chunked.steps_host_async(&x[3 * batch * i..]).await.unwrap());
        let tol = Tolerance::stack(&config, seq, 8.0);
        let whole64: Vec<f64> = whole.output.iter().map(|&v| f64::from(v)).collect();
        for (what, got) in [("steps", &by_steps), ("chunks", &by_chunks)] {
            compare(
                &format!("{} stream {what}", cell.name()),
                &whole64,
                got,
                &[got.len()],
                tol,
            )
            .unwrap_or_else(|m| panic!("{m}"));
        }

        // Row 1 restarted at t=5 equals a fresh stream fed from t=5; rows 0
        // and 2 are untouched.
        let mut kept = stack.stream(batch).unwrap();
        let mut reset = stack.stream(batch).unwrap();
        let mut fresh = stack.stream(batch).unwrap();
        let mut outs = (Vec::new(), Vec::new(), Vec::new());
        for (t, f) in frames.iter().enumerate() {
            if t == 5 {
                reset.reset_rows(&[false, true, false]).unwrap();
            }
            outs.0 = kept.steps_host_async(f).await.unwrap();
            outs.1 = reset.steps_host_async(f).await.unwrap();
            if t >= 5 {
                outs.2 = fresh.steps_host_async(f).await.unwrap();
            }
        }
        let row = |v: &[f32], b: usize| v[b * ho..(b + 1) * ho].to_vec();
        assert_eq!(row(&outs.1, 0), row(&outs.0, 0), "row 0 was touched");
        assert_eq!(row(&outs.1, 2), row(&outs.0, 2), "row 2 was touched");
        assert_eq!(row(&outs.1, 1), row(&outs.2, 1), "row 1 did not restart");
        assert_ne!(row(&outs.1, 1), row(&outs.0, 1));
        let err = reset.reset_rows(&[true, false]).unwrap_err().to_string();
        assert!(err.contains("row mask"), "{err}");
    }
}

#[wasm_bindgen_test]
async fn the_fused_stream_step_matches_the_reference() {
    // One dispatch per call for the whole stack, forced on (the fallback
    // adapter takes it for one-row streams only): every cell, a projected
    // LSTM, single steps and chunks, against the f64 reference.
    let selector = wgpu_rnn::AdapterSelector {
        fused_stream: Some(true),
        ..Default::default()
    };
    let gpu = wgpu_rnn::Gpu::with_selector_async(&selector).await.unwrap();
    let projected = RnnConfig::new(CellKind::Lstm, 4, 6)
        .unwrap()
        .with_projection(3)
        .unwrap();
    let layers = CellKind::ALL
        .into_iter()
        .map(|cell| RnnConfig::new(cell, 4, 6).unwrap())
        .chain([projected]);
    for layer in layers {
        let config = StackConfig::new(layer).with_layers(2);
        let weights = StackWeights::random(config, 3, 1.0).unwrap();
        let stack = RnnStack::new(&gpu, &weights).unwrap();
        let (batch, seq) = (3, 8);
        let mut rng = TaskRng::seed_from_u64(9);
        let x = random_vec(&mut rng, seq * batch * 4, 1.0);
        let mut stream = stack.stream(batch).unwrap();
        assert!(stream.is_fused(1) && stream.is_fused(5));
        let mut got = Vec::new();
        for f in x[..3 * batch * 4].chunks(batch * 4) {
            got.extend(stream.steps_host_async(f).await.unwrap());
        }
        got.extend(stream.steps_host_async(&x[3 * batch * 4..]).await.unwrap());
        let want =
            wgpu_rnn::reference::forward_stack(&weights, &x, seq, batch, None, None, None).unwrap();
        let tol = Tolerance::stack(&config, seq, want.preactivation_scale);
        let dims = [seq, batch, config.output_size()];
        compare(
            &format!("fused {}", layer.cell.name()),
            &want.output,
            &got,
            &dims,
            tol,
        )
        .unwrap_or_else(|m| panic!("{m}"));
    }
}

#[wasm_bindgen_test]
async fn a_training_loop_learns_on_the_gpu() {
    // The README's loop: an LSTM, a dense head on h_n, MSE, the backward
    // pass, global-norm clipping and Adam; only the loss comes back.
    let gpu = gpu().await;
    let (t, b, h) = (20, 8, 32);
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 2, h).unwrap());
    let lstm = RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0).unwrap()).unwrap();
    let head = Linear::random(&gpu, (h, 1), 0).unwrap();
    let (grads, head_grads) = (
        StackGrads::zeros(&lstm).unwrap(),
        LinearGrads::zeros(&head).unwrap(),
    );
    let adam_config = OptimizerConfig::adam(0.01).with_max_grad_norm(1.0);
    let mut adam = Optimizer::new(&gpu, adam_config).unwrap();
    adam.add_stack(&lstm, &grads).unwrap();
    adam.add_linear(&head, &head_grads).unwrap();
    let x = GpuTensor::from_slice(&gpu, "x", &vec![0.5; t * b * 2], &[t, b, 2]).unwrap();
    let target = GpuTensor::from_slice(&gpu, "target", &vec![1.0; b], &[1, b, 1]).unwrap();
    let mut losses = Vec::new();
    for _ in 0..30 {
        let (out, tape) = lstm
            .forward_train(&x, None, None, None, TrainOptions::default())
            .unwrap();
        let prediction = head.forward(&out.h_n).unwrap();
        let loss = mse_loss(&prediction, &target).unwrap();
        let dh = head
            .backward(&out.h_n, &loss.grad, &head_grads, GradMode::Overwrite)
            .unwrap();
        let seeds = Seeds {
            h_n: Some(&dh),
            ..Default::default()
        };
        lstm.backward(&tape, seeds, &grads, GradMode::Overwrite)
            .unwrap();
        adam.step().unwrap();
        losses.push(loss.value_host_async().await.unwrap());
    }
    web_sys_log(&format!("training losses: {losses:?}"));
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(
        losses[29] < 0.05 * losses[0],
        "the loss did not fall: {losses:?}"
    );
    let (clip_norm, scale) = adam.last_clip_async().await.unwrap();
    assert!(clip_norm.is_finite() && scale > 0.0 && scale <= 1.0);
}

fn golden(bytes: &[u8], name: &str) -> TensorFile {
    TensorFile::from_bytes(name, bytes).unwrap()
}

fn f32s(file: &TensorFile, name: &str) -> Option<Vec<f32>> {
    file.get(name)
        .map(|t| t.values.iter().map(|&v| v as f32).collect())
}

#[wasm_bindgen_test]
async fn a_pytorch_checkpoint_from_bytes_runs_forward_and_backward_as_pytorch() {
    // scripts/make_golden.py: nn.LSTM(4, 6, proj_size=3, num_layers=2,
    // bidirectional), ragged lengths, states; PyTorch float64 the truth.
    let model = golden(
        include_bytes!(
            "../../tests/data/golden/torch_lstm_bi_varlen_proj_2layers.model.safetensors"
        ),
        "model",
    );
    let input = golden(
        include_bytes!(
            "../../tests/data/golden/torch_lstm_bi_varlen_proj_2layers.input.safetensors"
        ),
        "input",
    );
    let expected = golden(
        include_bytes!(
            "../../tests/data/golden/torch_lstm_bi_varlen_proj_2layers.expected.safetensors"
        ),
        "expected",
    );
    let gpu = gpu().await;
    let weights = load_state_dict(&model).unwrap().weights;
    let config = *weights.config();
    let shape = &input.get("input").unwrap().shape;
    let (seq, batch) = (shape[0], shape[1]);
    let x = f32s(&input, "input").unwrap();
    let (h0, c0) = (f32s(&input, "h0"), f32s(&input, "c0"));
    let lengths: Vec<usize> = input
        .get("lengths")
        .unwrap()
        .values
        .iter()
        .map(|&v| v as usize)
        .collect();
    let seeds = (
        f32s(&input, "grad_output").unwrap(),
        f32s(&input, "grad_h_n").unwrap(),
        f32s(&input, "grad_c_n").unwrap(),
    );
    let stack = RnnStack::new(&gpu, &weights).unwrap();
    let (out, grads) = stack
        .train_step_host_async(
            &x,
            seq,
            batch,
            h0.as_deref(),
            c0.as_deref(),
            Some(&lengths),
            HostSeeds {
                output: Some(&seeds.0),
                h_n: Some(&seeds.1),
                c_n: Some(&seeds.2),
            },
            TrainOptions::default(),
        )
        .await
        .unwrap();
    let want = wgpu_rnn::reference::forward_stack(
        &weights,
        &x,
        seq,
        batch,
        h0.as_deref(),
        c0.as_deref(),
        Some(&lengths),
    )
    .unwrap();
    let tol = Tolerance::stack(&config, seq, want.preactivation_scale);
    for (name, got) in [
        ("output", &out.output),
        ("h_n", &out.h_n),
        ("c_n", out.c_n.as_ref().unwrap()),
    ] {
        let truth = &expected.get(name).unwrap().values;
        compare(&format!("PyTorch {name}"), truth, got, &[got.len()], tol)
            .unwrap_or_else(|m| panic!("{m}"));
    }
    // Gradients: the native golden test's bound (doubled for these N(0,1)
    // weights) on every tensor PyTorch's autograd wrote.
    let bound = 2.0 * gradient_bound(&config, seq);
    let mut checked = 0;
    let mut check = |name: String, got: &[f32]| {
        let truth = &expected
            .get(&name)
            .unwrap_or_else(|| panic!("no {name}"))
            .values;
        let rel = relative_gradient_error(truth, got.iter().map(|&g| f64::from(g)));
        assert!(rel <= bound, "{name}: {rel:e} > {bound:e}");
        checked += 1;
    };
    check("grad_input".into(), &grads.input);
    check("grad_h0".into(), &grads.h0);
    check("grad_c0".into(), grads.c0.as_ref().unwrap());
    let directions = config.direction.count();
    for (slot, g) in grads.params.iter().enumerate() {
        let (layer, reverse) = (slot / directions, slot % directions == 1);
        let name = |kind: &str| format!("grad.{}", param_name(kind, layer, reverse));
        check(name("weight_ih"), &g.weight_ih);
        check(name("weight_hh"), &g.weight_hh);
        check(name("bias_ih"), g.bias_ih.as_ref().unwrap());
        check(name("bias_hh"), g.bias_hh.as_ref().unwrap());
        check(name("weight_hr"), g.weight_hr.as_ref().unwrap());
    }
    assert_eq!(checked, 3 + 4 * 5);
}

#[wasm_bindgen_test]
async fn an_onnx_file_from_bytes_runs_as_onnx_runtime() {
    // scripts/make_onnx_files.py: torch.onnx.export of a 2-layer
    // bidirectional batch-first nn.LSTM, run by ONNX Runtime.
    let graph = load_graph_bytes(
        "torch_lstm_2layers_bidirectional_batch_first.onnx",
        include_bytes!("../../tests/data/onnx/torch_lstm_2layers_bidirectional_batch_first.onnx"),
    )
    .unwrap();
    let input = golden(
        include_bytes!(
            "../../tests/data/onnx/torch_lstm_2layers_bidirectional_batch_first.input.safetensors"
        ),
        "input",
    );
    let expected = golden(
        include_bytes!(
            "../../tests/data/onnx/torch_lstm_2layers_bidirectional_batch_first.expected.safetensors"
        ),
        "expected",
    );
    let gpu = gpu().await;
    let weights = graph.weights();
    let config = *weights.config();
    assert!(config.batch_first && config.num_layers == 2);
    let shape = &input.get("input").unwrap().shape;
    let (batch, seq) = (shape[0], shape[1]);
    let x = f32s(&input, "input").unwrap();
    let stack = RnnStack::new(&gpu, weights).unwrap();
    let out = stack
        .forward_host_async(&x, seq, batch, None, None, None)
        .await
        .unwrap();
    let want =
        wgpu_rnn::reference::forward_stack(weights, &x, seq, batch, None, None, None).unwrap();
    // ONNX Runtime is float32 itself: twice the tolerance, as natively.
    let mut tol = Tolerance::stack(&config, seq, want.preactivation_scale);
    tol.atol *= 2.0;
    tol.rtol *= 2.0;
    for (name, got) in [
        ("output", &out.output),
        ("h_n", &out.h_n),
        ("c_n", out.c_n.as_ref().unwrap()),
    ] {
        let truth = &expected.get(name).unwrap().values;
        compare(
            &format!("ONNX Runtime {name}"),
            truth,
            got,
            &[got.len()],
            tol,
        )
        .unwrap_or_else(|m| panic!("{m}"));
    }
    // A truncated file is an error, not a panic.
    let bytes = include_bytes!("../../tests/data/onnx/lstm_forward_layout1.onnx");
    assert!(load_graph_bytes("cut.onnx", &bytes[..bytes.len() / 2]).is_err());
}
