//! The library API under misuse, as a new user meets it: empty work, stale
//! and foreign tapes, parameters registered twice, bad scales, sizes that
//! overflow; each is a clear `Error`, never a panic or a silent wrong
//! answer. Plus what already holds and must keep holding: `Send + Sync`,
//! one stack shared by threads, the same bits run after run.

mod common;

use common::random_vec;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::train::{
    mse_loss, GradMode, Linear, LinearGrads, Optimizer, OptimizerConfig, Seeds, StackGrads,
    TrainOptions, TrainTape,
};
use wgpu_rnn::{
    CellKind, Error, Gpu, GpuTensor, RnnConfig, RnnStack, RnnWeights, StackConfig, StackWeights,
};

fn lstm(gpu: &Gpu, layers: usize) -> RnnStack {
    let config =
        StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 4).unwrap()).with_layers(layers);
    RnnStack::new(gpu, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap()
}

fn text<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.expect_err("must be refused").to_string()
}

/// B = 0 and T = 0 are `Error::ZeroSize` at every entry point.
#[test]
fn empty_work_is_a_zero_size_error_everywhere() {
    let gpu = common::gpu();
    let stack = lstm(gpu, 2);
    let zero_size = |r: Result<(), Error>, what: &str| match r {
        Err(Error::ZeroSize { .. }) => {}
        other => panic!("{what}: expected ZeroSize, got {other:?}"),
    };
    for (t, b) in [(0, 2), (3, 0), (0, 0)] {
        let x = GpuTensor::zeros(gpu, "x", &[t, b, 3]).unwrap();
        let case = format!("T={t} B={b}");
        zero_size(
            stack.forward(&x, None, None, None).map(drop),
            &format!("{case} forward"),
        );
        zero_size(
            stack
                .forward_train(&x, None, None, None, TrainOptions::default())
                .map(drop),
            &format!("{case} forward_train"),
        );
        zero_size(
            stack.forward_host(&[], t, b, None, None, None).map(drop),
            &format!("{case} forward_host"),
        );
        zero_size(
            stack
                .train_step_host(
                    &[],
                    t,
                    b,
                    None,
                    None,
                    None,
                    Default::default(),
                    TrainOptions::default(),
                )
                .map(drop),
            &format!("{case} train_step_host"),
        );
        zero_size(stack.outputs(t, b).map(drop), &format!("{case} outputs"));
    }
    zero_size(stack.stream(0).map(drop), "stream of 0 rows");
    let mut stream = stack.stream(2).unwrap();
    let x = GpuTensor::zeros(gpu, "x", &[0, 2, 3]).unwrap();
    zero_size(stream.steps(&x).map(drop), "stream of 0 steps");
    zero_size(stream.steps_host(&[]).map(drop), "host stream of 0 steps");

    let head = Linear::random(gpu, (4, 1), 0).unwrap();
    let empty = GpuTensor::zeros(gpu, "x", &[0, 4]).unwrap();
    zero_size(head.forward(&empty).map(drop), "Linear of 0 rows");
    let grads = LinearGrads::zeros(&head).unwrap();
    let g = GpuTensor::zeros(gpu, "g", &[0, 1]).unwrap();
    zero_size(
        head.backward(&empty, &g, &grads, GradMode::Overwrite)
            .map(drop),
        "Linear backward of 0 rows",
    );
    zero_size(mse_loss(&g, &g).map(drop), "MSE of 0 values");
    zero_size(
        Linear::random(gpu, (0, 1), 0).map(drop),
        "Linear of 0 inputs",
    );
}

/// A tape whose weights changed since its forward is refused, naming the
/// parameter; so is a tape of another stack.
#[test]
fn stale_and_foreign_tapes_are_refused() {
    let gpu = common::gpu();
    let stack = lstm(gpu, 1);
    let x = GpuTensor::from_slice(gpu, "x", &[0.5; 2 * 2 * 3], &[2, 2, 3]).unwrap();
    let grads = StackGrads::zeros(&stack).unwrap();
    let forward = |s: &RnnStack| -> (wgpu_rnn::RnnOutput, TrainTape) {
        s.forward_train(&x, None, None, None, TrainOptions::default())
            .unwrap()
    };
    let backward = |s: &RnnStack, out: &wgpu_rnn::RnnOutput, tape: &TrainTape| {
        let seeds = Seeds {
            output: Some(&out.output),
            ..Default::default()
        };
        s.backward(tape, seeds, &grads, GradMode::Overwrite)
            .map(drop)
    };

    // After an optimizer step.
    let (out, tape) = forward(&stack);
    backward(&stack, &out, &tape).unwrap();
    let mut sgd = Optimizer::new(gpu, OptimizerConfig::sgd(0.1, 0.0)).unwrap();
    sgd.add_stack(&stack, &grads).unwrap();
    sgd.step().unwrap();
    let m = text(backward(&stack, &out, &tape));
    assert!(m.contains("weight_ih") && m.contains("changed"), "{m}");

    // After a write into a parameter through the public API.
    let (out, tape) = forward(&stack);
    let rnn_params = stack.parameters(0, 0).unwrap();
    let w = rnn_params.weight_hh.to_vec().unwrap();
    rnn_params.weight_hh.write(&w).unwrap();
    let m = text(backward(&stack, &out, &tape));
    assert!(m.contains("weight_hh") && m.contains("changed"), "{m}");

    // A fresh tape works again; a tape of another stack with the same
    // configuration does not.
    let (out, tape) = forward(&stack);
    backward(&stack, &out, &tape).unwrap();
    let twin = lstm(gpu, 1);
    let m = text(backward(&twin, &out, &tape));
    assert!(m.contains("different"), "{m}");
    // A clone shares the weights: its tapes are its own.
    let clone = stack.clone();
    backward(&clone, &out, &tape).unwrap();
}

/// A parameter registered twice would be updated twice.
#[test]
fn a_parameter_registered_twice_is_refused() {
    let gpu = common::gpu();
    let stack = lstm(gpu, 1);
    let grads = StackGrads::zeros(&stack).unwrap();
    let mut adam = Optimizer::new(gpu, OptimizerConfig::adam(0.01)).unwrap();
    adam.add_stack(&stack, &grads).unwrap();
    let m = text(adam.add_stack(&stack, &grads));
    assert!(m.contains("twice"), "{m}");
    let head = Linear::random(gpu, (4, 1), 0).unwrap();
    let head_grads = LinearGrads::zeros(&head).unwrap();
    let mut sgd = Optimizer::new(gpu, OptimizerConfig::sgd(0.1, 0.9)).unwrap();
    sgd.add_linear(&head, &head_grads).unwrap();
    let m = text(sgd.add("again", head.weight(), &head_grads.weight));
    assert!(m.contains("twice"), "{m}");
    // The refused registration changed nothing: a step still works.
    sgd.step().unwrap();
    // A parameter that is its own gradient, or another's gradient.
    let p = GpuTensor::zeros(gpu, "p", &[3]).unwrap();
    let m = text(sgd.add("p", &p, &p));
    assert!(m.contains("its own gradient"), "{m}");
    let q = GpuTensor::zeros(gpu, "q", &[1, 4]).unwrap();
    let m = text(sgd.add("q", &q, head.weight()));
    assert!(m.contains("shares its buffer"), "{m}");
    // Linear gradients in the buffer of the input they are computed from:
    // no kernel can write one buffer while it reads another binding of it.
    let arena = gpu
        .device()
        .create_buffer(&wgpu_rnn::wgpu::BufferDescriptor {
            label: None,
            size: 4096,
            usage: wgpu_rnn::TENSOR_USAGE,
            mapped_at_creation: false,
        });
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
    let views = LinearGrads {
        weight: GpuTensor::from_buffer(gpu, &arena, align, &[1, 4]).unwrap(),
        bias: GpuTensor::from_buffer(gpu, &arena, 2 * align, &[1]).unwrap(),
    };
    let x = GpuTensor::from_buffer(gpu, &arena, 3 * align, &[2, 4]).unwrap();
    let dy = GpuTensor::zeros(gpu, "dy", &[2, 1]).unwrap();
    let m = text(head.backward(&x, &dy, &views, GradMode::Overwrite));
    assert!(
        m.contains("grad linear weight") && m.contains("linear input"),
        "{m}"
    );
    // A parameter in its gradient's buffer, likewise.
    let p = GpuTensor::from_buffer(gpu, &arena, align, &[4]).unwrap();
    let g = GpuTensor::from_buffer(gpu, &arena, 2 * align, &[4]).unwrap();
    let m = text(sgd.add("p", &p, &g));
    assert!(m.contains("one buffer with its gradient"), "{m}");
}

#[test]
fn non_finite_scales_are_refused() {
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 4).unwrap());
    for scale in [f32::NAN, f32::INFINITY, -f32::INFINITY] {
        assert!(matches!(
            StackWeights::random(config, 1, scale),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            RnnWeights::random(config.layer, 1, scale),
            Err(Error::NonFinite { .. })
        ));
    }
}

/// A model too big for the device is refused from its configuration,
/// before its weights are copied or uploaded.
#[test]
fn a_model_over_the_limits_is_refused_before_any_copy() {
    let gpu = common::gpu();
    let h = 1 << 14;
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 1, h).unwrap());
    let m = text(gpu.check_config(&config));
    assert!(m.contains("max_storage_buffer_binding_size"), "{m}");
    let ok = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 4).unwrap());
    gpu.check_config(&ok).unwrap();
}

fn _send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Gpu>();
    both::<RnnStack>();
    both::<TrainTape>();
    both::<StackGrads>();
    both::<Optimizer>();
    both::<Linear>();
    both::<GpuTensor>();
    both::<wgpu_rnn::Stream>();
}

/// Eight threads sharing one stack get one thread's bits; the same inputs
/// give the same bits run after run, forward and backward with dropout.
#[test]
fn threads_and_reruns_give_the_same_bits() {
    let gpu = common::gpu();
    let stack = lstm(gpu, 2);
    let mut rng = SmallRng::seed_from_u64(3);
    let inputs: Vec<Vec<f32>> = (0..8)
        .map(|_| random_vec(&mut rng, 5 * 2 * 3, 1.0))
        .collect();
    let alone: Vec<_> = inputs
        .iter()
        .map(|x| stack.forward_host(x, 5, 2, None, None, None).unwrap())
        .collect();
    let shared: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .iter()
            .map(|x| {
                let stack = &stack;
                s.spawn(move || stack.forward_host(x, 5, 2, None, None, None).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(alone == shared, "threads changed the results");
    let options = TrainOptions {
        dropout: 0.3,
        seed: 9,
    };
    let seeds = wgpu_rnn::train::HostSeeds {
        output: Some(&[0.25; 5 * 2 * 4]),
        ..Default::default()
    };
    let run = || {
        stack
            .train_step_host(&inputs[0], 5, 2, None, None, None, seeds, options)
            .unwrap()
    };
    let first = run();
    for _ in 0..3 {
        assert!(run() == first, "a rerun changed the bits");
    }
}

/// Sizes and values read from files: no overflow in either build profile,
/// and messages that name the tensor at fault.
#[test]
fn file_sizes_and_values_are_checked_with_their_names() {
    use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
    use wgpu_rnn::io::{onnx, pytorch};
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 4).unwrap()).with_layers(2);
    let weights = StackWeights::random(config, 1, 1.0).unwrap();
    let good = pytorch::to_state_dict(&weights);
    pytorch::load_state_dict(&good).unwrap();

    // A layer index of 2^64 - 1.
    let mut file = good.clone();
    let t = file.tensors["weight_ih_l1"].clone();
    file.tensors.insert(format!("weight_ih_l{}", usize::MAX), t);
    let m = text(pytorch::load_state_dict(&file));
    assert!(
        m.contains(&format!("weight_ih_l{}", usize::MAX)) && m.contains("layer index"),
        "{m}"
    );

    // A 1-D weight_ih_l0 is weight_ih_l0's problem.
    let mut file = good.clone();
    file.tensors
        .insert("weight_ih_l0".into(), HostTensor::f32(&[16], &[0.0; 16]));
    let m = text(pytorch::load_state_dict(&file));
    assert!(
        m.contains("weight_ih_l0") && !m.contains("weight_hh_l0"),
        "{m}"
    );

    // A NaN in layer 1 names layer 1's tensor.
    let mut file = good.clone();
    file.tensors.get_mut("weight_hh_l1").unwrap().values[53] = f64::NAN;
    let m = text(pytorch::load_state_dict(&file));
    assert!(m.contains("weight_hh_l1[53]"), "{m}");

    // An F64 value past f32's range is not "inf".
    let mut file = good.clone();
    let t = file.tensors.get_mut("bias_hh_l0").unwrap();
    t.dtype = safetensors::Dtype::F64;
    t.values[2] = 1e300;
    let m = text(pytorch::load_state_dict(&file));
    assert!(
        m.contains("bias_hh_l0") && m.contains("1e300") && m.contains("range"),
        "{m}"
    );

    // ONNX hidden_size of 2^64 - 1.
    let w = HostTensor::f32(&[1, 16, 3], &[0.0; 48]);
    let r = HostTensor::f32(&[1, 16, 4], &[0.0; 64]);
    let attrs = onnx::OnnxAttributes {
        hidden_size: usize::MAX,
        direction: wgpu_rnn::Direction::Forward,
        linear_before_reset: false,
        activation: wgpu_rnn::Nonlinearity::Tanh,
        layout: 0,
        options: Default::default(),
    };
    let m = text(onnx::from_onnx(
        onnx::OnnxOp::Lstm,
        &w,
        &r,
        None,
        None,
        &attrs,
    ));
    assert!(m.contains("hidden_size"), "{m}");
    let mut file = TensorFile::default();
    file.tensors.insert("W".into(), w);
    file.tensors.insert("R".into(), r);
    for (k, v) in [("op", "LSTM"), ("hidden_size", "18446744073709551615")] {
        file.metadata.insert(k.into(), v.into());
    }
    let m = text(onnx::load_onnx_file(&file));
    assert!(m.contains("hidden_size"), "{m}");
}

/// An adapter name that matches nothing lists every adapter of every
/// backend tried, not only the last tier's.
#[test]
fn no_adapter_lists_every_adapter_seen() {
    let sel = wgpu_rnn::AdapterSelector {
        name: Some("no such adapter anywhere".into()),
        ..Default::default()
    };
    match Gpu::with_selector(&sel) {
        Err(Error::NoAdapter { seen, .. }) => {
            let here = common::gpu().describe();
            assert!(seen.contains(&here), "{here} missing from {seen:?}");
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}

/// A lost device (here destroyed, as wgpu offers for this test) makes every
/// later operation an `Error::DeviceLost`: no panic, no hang.
#[test]
fn a_lost_device_is_an_error_not_a_panic() {
    let gpu = Gpu::new().expect("GPU tests need a wgpu adapter");
    let stack = lstm(&gpu, 2);
    let x = GpuTensor::from_slice(&gpu, "x", &[0.5; 2 * 2 * 3], &[2, 2, 3]).unwrap();
    let mut stream = stack.stream(2).unwrap();
    let out = stack.forward(&x, None, None, None).unwrap();
    gpu.device().destroy();
    let lost = |what: &str, r: Result<(), Error>| match r {
        Err(Error::DeviceLost { .. }) => {}
        other => panic!("{what}: expected DeviceLost, got {other:?}"),
    };
    // wgpu delivers a loss at the device's next poll, as WebGPU does; a
    // read-back polls, so it is the first to see it.
    lost("read-back", out.output.to_vec().map(drop));
    lost("forward", stack.forward(&x, None, None, None).map(drop));
    lost(
        "forward_host",
        stack
            .forward_host(&[0.5; 12], 2, 2, None, None, None)
            .map(drop),
    );
    lost(
        "forward_train",
        stack
            .forward_train(&x, None, None, None, TrainOptions::default())
            .map(drop),
    );
    lost("stream step", stream.step_host(&[0.5; 6]).map(drop));
    lost("read-back again", out.h_n.to_vec().map(drop));
    lost(
        "upload",
        GpuTensor::from_slice(&gpu, "y", &[1.0], &[1]).map(drop),
    );
    lost(
        "new stack",
        RnnStack::new(
            &gpu,
            &StackWeights::random(*stack.config(), 2, 1.0).unwrap(),
        )
        .map(drop),
    );
}

/// A file's module is known from its names, shapes and metadata, so a
/// loader can refuse a model too big for the device before converting it.
#[test]
fn a_files_module_is_known_before_its_weights_are_read() {
    use wgpu_rnn::io::{model_config, pytorch};
    let config = StackConfig::new(
        RnnConfig::new(CellKind::Lstm, 3, 4)
            .unwrap()
            .with_projection(2)
            .unwrap(),
    )
    .with_layers(2)
    .with_direction(wgpu_rnn::Direction::Bidirectional);
    let file = pytorch::to_state_dict(&StackWeights::random(config, 1, 1.0).unwrap());
    assert_eq!(model_config(&file).unwrap(), config);
    // With every value NaN, the configuration still reads: no value is.
    let mut poisoned = file.clone();
    for t in poisoned.tensors.values_mut() {
        t.values.iter_mut().for_each(|v| *v = f64::NAN);
    }
    assert_eq!(model_config(&poisoned).unwrap(), config);
    assert!(wgpu_rnn::io::load_model(&poisoned).is_err());
}
