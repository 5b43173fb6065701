//! Passes recorded into the app's command encoder, on views into the app's
//! buffers: the same bits as the convenience methods, nothing submitted by
//! us (the app's own copies before and after, in the same submit, see our
//! results), and misuse refused with a clear error.

mod common;

use common::random_vec;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu::util::DeviceExt;
use wgpu_rnn::train::{GradMode, InputGrads, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::{
    wgpu, CellKind, Direction, Error, Gpu, GpuTensor, GruReset, RnnConfig, RnnOutput, RnnStack,
    StackConfig, StackWeights, TENSOR_USAGE,
};

/// An app's buffer with regions handed out at aligned offsets, after a
/// first region left unused (so no view starts at 0).
struct Arena {
    buffer: wgpu::Buffer,
    next: u64,
    align: u64,
}

impl Arena {
    fn new(gpu: &Gpu, bytes: u64) -> Self {
        let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
        let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("the app's buffer"),
            size: bytes,
            usage: TENSOR_USAGE,
            mapped_at_creation: false,
        });
        Self {
            buffer,
            next: align,
            align,
        }
    }

    fn view(&mut self, gpu: &Gpu, shape: &[usize]) -> GpuTensor {
        let at = self.next;
        let bytes = shape.iter().product::<usize>() as u64 * 4;
        self.next = (at + bytes).div_ceil(self.align) * self.align + self.align;
        GpuTensor::from_buffer(gpu, &self.buffer, at, shape).unwrap()
    }
}

/// Records the app's copy of `data` into `view` (the data exists on the
/// device only once the encoder runs).
fn app_writes(gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, data: &[f32], view: &GpuTensor) {
    let staging = gpu
        .device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app data"),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
    encoder.copy_buffer_to_buffer(&staging, 0, view.buffer(), view.offset(), view.byte_len());
}

/// Records the app's copy of `view` into a readable buffer.
fn app_reads(gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, view: &GpuTensor) -> wgpu::Buffer {
    let readable = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("app read-back"),
        size: view.byte_len(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_buffer_to_buffer(view.buffer(), view.offset(), &readable, 0, view.byte_len());
    readable
}

fn read(gpu: &Gpu, readable: &wgpu::Buffer) -> Vec<f32> {
    readable
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let out =
        bytemuck::cast_slice::<u8, f32>(&readable.slice(..).get_mapped_range().unwrap()).to_vec();
    readable.unmap();
    out
}

fn configs() -> Vec<StackConfig> {
    let lstm = RnnConfig::new(CellKind::Lstm, 3, 67).unwrap();
    let gru = RnnConfig::new(CellKind::Gru(GruReset::After), 5, 7).unwrap();
    let peephole = RnnConfig::new(CellKind::PeepholeLstm, 4, 3)
        .unwrap()
        .with_projection(2)
        .unwrap();
    vec![
        StackConfig::new(lstm).with_layers(2),
        StackConfig::new(gru)
            .with_layers(2)
            .with_direction(Direction::Bidirectional)
            .with_batch_first(true),
        StackConfig::new(peephole),
    ]
}

#[test]
fn a_forward_recorded_on_app_buffers_gives_the_convenience_bits() {
    let gpu = common::gpu();
    for config in configs() {
        let weights = StackWeights::random(config, 3, 1.0).unwrap();
        let stack = RnnStack::new(gpu, &weights).unwrap();
        let (seq, batch) = (6, 3);
        let lengths = [6, 2, 5];
        let layer = config.layer;
        let (slots, ho, h) = (config.state_slots(), layer.output_size(), layer.hidden_size);
        let mut rng = SmallRng::seed_from_u64(9);
        let x = random_vec(&mut rng, seq * batch * layer.input_size, 1.0);
        let h0 = random_vec(&mut rng, slots * batch * ho, 1.0);
        let c0 = random_vec(&mut rng, slots * batch * h, 1.0);
        let has_c = layer.cell.has_cell_state();
        let want = stack
            .forward_host(
                &x,
                seq,
                batch,
                Some(&h0),
                has_c.then_some(&c0[..]),
                Some(&lengths),
            )
            .unwrap();

        let mut arena = Arena::new(gpu, 1 << 20);
        let in_shape = config.sequence_shape(seq, batch, layer.input_size);
        let input = arena.view(gpu, &in_shape);
        let h0_view = arena.view(gpu, &[slots, batch, ho]);
        let c0_view = arena.view(gpu, &[slots, batch, h]);
        let out = RnnOutput {
            output: arena.view(
                gpu,
                &config.sequence_shape(seq, batch, config.output_size()),
            ),
            h_n: arena.view(gpu, &[slots, batch, ho]),
            c_n: has_c.then(|| arena.view(gpu, &[slots, batch, h])),
        };
        // Twice into one encoder: a kept plan recorded again must not
        // disturb the first recording (the second gets full lengths).
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        app_writes(gpu, &mut encoder, &x, &input);
        app_writes(gpu, &mut encoder, &h0, &h0_view);
        app_writes(gpu, &mut encoder, &c0, &c0_view);
        let c0_arg = has_c.then_some(&c0_view);
        stack
            .record_forward(
                &mut encoder,
                &input,
                Some(&h0_view),
                c0_arg,
                Some(&lengths),
                &out,
            )
            .unwrap();
        let got_output = app_reads(gpu, &mut encoder, &out.output);
        let got_h_n = app_reads(gpu, &mut encoder, &out.h_n);
        let got_c_n = out.c_n.as_ref().map(|c| app_reads(gpu, &mut encoder, c));
        stack
            .record_forward(&mut encoder, &input, Some(&h0_view), c0_arg, None, &out)
            .unwrap();
        let full_output = app_reads(gpu, &mut encoder, &out.output);
        gpu.queue().submit([encoder.finish()]);

        let label = format!("{config:?}");
        assert_eq!(read(gpu, &got_output), want.output, "{label} output");
        assert_eq!(read(gpu, &got_h_n), want.h_n, "{label} h_n");
        assert_eq!(got_c_n.map(|b| read(gpu, &b)), want.c_n, "{label} c_n");
        let full = stack
            .forward_host(&x, seq, batch, Some(&h0), has_c.then_some(&c0[..]), None)
            .unwrap();
        assert_eq!(read(gpu, &full_output), full.output, "{label} full length");
    }
}

#[test]
fn training_recorded_on_app_buffers_gives_the_convenience_bits() {
    let gpu = common::gpu();
    for config in configs() {
        let weights = StackWeights::random(config, 4, 1.0).unwrap();
        let stack = RnnStack::new(gpu, &weights).unwrap();
        let (seq, batch) = (5, 2);
        let layer = config.layer;
        let mut rng = SmallRng::seed_from_u64(2);
        let in_shape = config.sequence_shape(seq, batch, layer.input_size);
        let out_shape = config.sequence_shape(seq, batch, config.output_size());
        let x = random_vec(&mut rng, in_shape.iter().product(), 1.0);
        let g = random_vec(&mut rng, out_shape.iter().product(), 1.0);
        let options = TrainOptions {
            dropout: 0.25,
            seed: 5,
        };

        // The convenience path.
        let x_t = GpuTensor::from_slice(gpu, "x", &x, &in_shape).unwrap();
        let g_t = GpuTensor::from_slice(gpu, "g", &g, &out_shape).unwrap();
        let (out, tape) = stack
            .forward_train(&x_t, None, None, None, options)
            .unwrap();
        let grads = StackGrads::zeros(&stack).unwrap();
        let seeds = Seeds {
            output: Some(&g_t),
            ..Default::default()
        };
        let d = stack
            .backward(&tape, seeds, &grads, GradMode::Overwrite)
            .unwrap();
        let want = (
            out.output.to_vec().unwrap(),
            d.input.to_vec().unwrap(),
            grads.to_host().unwrap(),
        );
        let want_states = (
            d.h0.to_vec().unwrap(),
            d.c0.as_ref().map(|c| c.to_vec().unwrap()),
        );

        // Into the caller's tensors, twice over stale values: views at
        // offsets, then tensors of our own, recorded.
        let mut grad_arena = Arena::new(gpu, 1 << 20);
        let (slots, ho, h) = (config.state_slots(), layer.output_size(), layer.hidden_size);
        let stale = |t: GpuTensor| {
            t.write(&vec![7.0; t.len()]).unwrap();
            t
        };
        let views = InputGrads {
            input: stale(grad_arena.view(gpu, &in_shape)),
            h0: stale(grad_arena.view(gpu, &[slots, batch, ho])),
            c0: layer
                .cell
                .has_cell_state()
                .then(|| stale(grad_arena.view(gpu, &[slots, batch, h]))),
        };
        let own = stack.input_grads(seq, batch).unwrap();
        for _ in 0..2 {
            stack
                .backward_into(&tape, seeds, &grads, GradMode::Overwrite, &views)
                .unwrap();
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            stack
                .record_backward_into(
                    &mut encoder,
                    &tape,
                    seeds,
                    &grads,
                    GradMode::Overwrite,
                    &own,
                )
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            for into in [&views, &own] {
                assert_eq!(into.input.to_vec().unwrap(), want.1, "{config:?}");
                let states = (
                    into.h0.to_vec().unwrap(),
                    into.c0.as_ref().map(|c| c.to_vec().unwrap()),
                );
                assert_eq!(states, want_states, "{config:?}");
            }
            own.input.write(&vec![7.0; own.input.len()]).unwrap();
        }
        // The gradient of the input cannot share the seed's buffer.
        let bad = InputGrads {
            input: stale(grad_arena.view(gpu, &in_shape)),
            ..views.clone()
        };
        let seed_in_arena = Seeds {
            output: Some(&grad_arena.view(gpu, &out_shape)),
            ..Default::default()
        };
        let m = stack
            .backward_into(&tape, seed_in_arena, &grads, GradMode::Overwrite, &bad)
            .expect_err("refused")
            .to_string();
        assert!(m.contains("grad_output"), "{m}");

        // Recorded, on views, forward and backward in one encoder.
        let mut arena = Arena::new(gpu, 1 << 20);
        let input = arena.view(gpu, &in_shape);
        let seed = arena.view(gpu, &out_shape);
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        app_writes(gpu, &mut encoder, &x, &input);
        app_writes(gpu, &mut encoder, &g, &seed);
        let (out, tape) = stack
            .record_forward_train(&mut encoder, &input, (None, None), None, options)
            .unwrap();
        let grads = StackGrads::zeros(&stack).unwrap();
        let seeds = Seeds {
            output: Some(&seed),
            ..Default::default()
        };
        let d = stack
            .record_backward(&mut encoder, &tape, seeds, &grads, GradMode::Overwrite)
            .unwrap();
        gpu.queue().submit([encoder.finish()]);
        let got = (
            out.output.to_vec().unwrap(),
            d.input.to_vec().unwrap(),
            grads.to_host().unwrap(),
        );
        assert!(got == want, "{config:?}: recorded training differs");
    }
}

#[test]
fn bad_views_and_outputs_are_refused() {
    let gpu = common::gpu();
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
    let make = |usage, size| {
        gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let message = |r: Result<GpuTensor, Error>| r.expect_err("refused").to_string();

    let no_storage = make(
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        4096,
    );
    let m = message(GpuTensor::from_buffer(gpu, &no_storage, 0, &[4]));
    assert!(m.contains("STORAGE"), "{m}");

    let good = make(TENSOR_USAGE, 4096);
    // Half the alignment (2 bytes where it is 4) is never aligned.
    let m = message(GpuTensor::from_buffer(gpu, &good, align / 2, &[4]));
    assert!(m.contains("min_storage_buffer_offset_alignment"), "{m}");
    let m = message(GpuTensor::from_buffer(gpu, &good, align, &[1024]));
    assert!(m.contains("past the end"), "{m}");
    let m = message(GpuTensor::from_buffer(gpu, &good, 0, &[0, 3]));
    assert!(m.contains("axis 0"), "{m}");
    // The last aligned view that fits is fine.
    assert!(GpuTensor::from_buffer(gpu, &good, 4096 - align, &[(align / 4) as usize]).is_ok());

    // A tensor of another device, and outputs of the wrong shape.
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 2, 3).unwrap());
    let stack = RnnStack::new(gpu, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
    let other = Gpu::new().unwrap();
    let foreign = GpuTensor::zeros(&other, "x", &[4, 1, 2]).unwrap();
    let m = stack
        .forward(&foreign, None, None, None)
        .expect_err("refused")
        .to_string();
    assert!(m.contains("different device"), "{m}");
    let x = GpuTensor::zeros(gpu, "x", &[4, 1, 2]).unwrap();
    let mut out = stack.outputs(4, 1).unwrap();
    out.h_n = GpuTensor::zeros(gpu, "h_n", &[1, 2, 3]).unwrap();
    let m = stack
        .forward_into(&x, None, None, None, &out)
        .expect_err("refused")
        .to_string();
    assert!(m.contains("h_n"), "{m}");
    out.h_n = GpuTensor::zeros(gpu, "h_n", &[1, 1, 3]).unwrap();
    out.c_n = None;
    let m = stack
        .forward_into(&x, None, None, None, &out)
        .expect_err("refused")
        .to_string();
    assert!(m.contains("c_n"), "{m}");
}

/// One training step of an LSTM with a dense head, MSE and Adam: every
/// piece recorded into one encoder, submitted once, three steps in a row.
/// The same weights and losses as the convenience methods' step by step.
#[test]
fn a_whole_training_step_recorded_in_one_encoder_gives_the_convenience_bits() {
    use wgpu_rnn::train::{
        mse_loss, record_mse_loss, Linear, LinearGrads, Optimizer, OptimizerConfig,
    };
    let gpu = common::gpu();
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 2, 5).unwrap());
    let (seq, batch) = (7, 3);
    let mut rng = SmallRng::seed_from_u64(12);
    let data: Vec<(Vec<f32>, Vec<f32>)> = (0..3)
        .map(|_| {
            (
                random_vec(&mut rng, seq * batch * 2, 1.0),
                random_vec(&mut rng, batch, 1.0),
            )
        })
        .collect();
    let run = |recorded: bool| {
        let weights = StackWeights::random(config, 0, 1.0).unwrap();
        let lstm = RnnStack::new(gpu, &weights).unwrap();
        let head = Linear::random(gpu, (5, 1), 0).unwrap();
        let (lstm_grads, head_grads) = (
            StackGrads::zeros(&lstm).unwrap(),
            LinearGrads::zeros(&head).unwrap(),
        );
        let adam_config = OptimizerConfig::adam(0.05).with_max_grad_norm(0.5);
        let mut adam = Optimizer::new(gpu, adam_config).unwrap();
        adam.add_stack(&lstm, &lstm_grads).unwrap();
        adam.add_linear(&head, &head_grads).unwrap();
        let x = GpuTensor::zeros(gpu, "x", &[seq, batch, 2]).unwrap();
        let target = GpuTensor::zeros(gpu, "target", &[1, batch, 1]).unwrap();
        let mut losses = Vec::new();
        for (xs, ys) in &data {
            x.write(xs).unwrap();
            target.write(ys).unwrap();
            let options = TrainOptions::default();
            if recorded {
                let mut enc = gpu.device().create_command_encoder(&Default::default());
                let (out, tape) = lstm
                    .record_forward_train(&mut enc, &x, (None, None), None, options)
                    .unwrap();
                let pred = head.record_forward(&mut enc, &out.h_n).unwrap();
                let loss = record_mse_loss(&mut enc, &pred, &target).unwrap();
                let grad_h = head
                    .record_backward(
                        &mut enc,
                        &out.h_n,
                        &loss.grad,
                        &head_grads,
                        GradMode::Overwrite,
                    )
                    .unwrap();
                let seeds = Seeds {
                    h_n: Some(&grad_h),
                    ..Default::default()
                };
                lstm.record_backward(&mut enc, &tape, seeds, &lstm_grads, GradMode::Overwrite)
                    .unwrap();
                adam.record_step(&mut enc).unwrap();
                gpu.queue().submit([enc.finish()]);
                losses.push(loss.value_host().unwrap());
            } else {
                let (out, tape) = lstm.forward_train(&x, None, None, None, options).unwrap();
                let pred = head.forward(&out.h_n).unwrap();
                let loss = mse_loss(&pred, &target).unwrap();
                let grad_h = head
                    .backward(&out.h_n, &loss.grad, &head_grads, GradMode::Overwrite)
                    .unwrap();
                let seeds = Seeds {
                    h_n: Some(&grad_h),
                    ..Default::default()
                };
                lstm.backward(&tape, seeds, &lstm_grads, GradMode::Overwrite)
                    .unwrap();
                adam.step().unwrap();
                losses.push(loss.value_host().unwrap());
            }
        }
        let forward = lstm
            .forward_host(&data[0].0, seq, batch, None, None, None)
            .unwrap();
        (losses, head.to_host().unwrap(), forward)
    };
    let (want, got) = (run(false), run(true));
    assert!(
        got == want,
        "recorded training differs: {:?} vs {:?}",
        got.0,
        want.0
    );
}

/// The training pieces on views at nonzero offsets into the app's buffers
/// (bound at their offsets, no copies): a dense layer's forward and
/// backward, both losses, and Adam with clipping, several steps recorded
/// into one encoder, give the bits they give on tensors of their own.
#[test]
fn training_pieces_on_views_give_the_bits_of_their_own_tensors() {
    use wgpu_rnn::train::{
        cross_entropy_loss, mse_loss, ClassTargets, GradMode, Linear, LinearGrads, Optimizer,
        OptimizerConfig,
    };
    let gpu = common::gpu();
    let (rows, i, o) = (67, 5, 3);
    let mut rng = SmallRng::seed_from_u64(21);
    let x = random_vec(&mut rng, rows * i, 1.0);
    let dy = random_vec(&mut rng, rows * o, 1.0);
    let target = random_vec(&mut rng, rows * o, 1.0);
    let labels: Vec<u32> = (0..rows as u32).map(|r| r % o as u32).collect();
    let own =
        |data: &[f32], shape: &[usize]| GpuTensor::from_slice(gpu, "own", data, shape).unwrap();
    let (mut data, mut grads) = (Arena::new(gpu, 1 << 16), Arena::new(gpu, 1 << 16));
    let viewed = |arena: &mut Arena, values: &[f32], shape: &[usize]| {
        let v = arena.view(gpu, shape);
        v.write(values).unwrap();
        v
    };
    let head = Linear::random(gpu, (i, o), 4).unwrap();

    // Forward, backward (accumulating onto nonzero gradients), losses.
    let (x_own, x_view) = (own(&x, &[rows, i]), viewed(&mut data, &x, &[rows, i]));
    let (dy_own, dy_view) = (own(&dy, &[rows, o]), viewed(&mut data, &dy, &[rows, o]));
    let start = random_vec(&mut rng, o * i + o, 1.0);
    let own_grads = LinearGrads {
        weight: own(&start[..o * i], &[o, i]),
        bias: own(&start[o * i..], &[o]),
    };
    let view_grads = LinearGrads {
        weight: viewed(&mut grads, &start[..o * i], &[o, i]),
        bias: viewed(&mut grads, &start[o * i..], &[o]),
    };
    let bits = |t: &GpuTensor| t.to_vec().unwrap();
    assert_eq!(
        bits(&head.forward(&x_view).unwrap()),
        bits(&head.forward(&x_own).unwrap())
    );
    let dx_view = head
        .backward(&x_view, &dy_view, &view_grads, GradMode::Accumulate)
        .unwrap();
    let dx_own = head
        .backward(&x_own, &dy_own, &own_grads, GradMode::Accumulate)
        .unwrap();
    assert_eq!(bits(&dx_view), bits(&dx_own));
    assert_eq!(bits(&view_grads.weight), bits(&own_grads.weight));
    assert_eq!(bits(&view_grads.bias), bits(&own_grads.bias));
    let t_view = viewed(&mut data, &target, &[rows, o]);
    let (mse_view, mse_own) = (
        mse_loss(&dy_view, &t_view).unwrap(),
        mse_loss(&dy_own, &own(&target, &[rows, o])).unwrap(),
    );
    assert_eq!(bits(&mse_view.value), bits(&mse_own.value));
    assert_eq!(bits(&mse_view.grad), bits(&mse_own.grad));
    let classes = ClassTargets::from_slice(gpu, &labels, o).unwrap();
    let (ce_view, ce_own) = (
        cross_entropy_loss(&dy_view, &classes).unwrap(),
        cross_entropy_loss(&dy_own, &classes).unwrap(),
    );
    assert_eq!(bits(&ce_view.value), bits(&ce_own.value));
    assert_eq!(bits(&ce_view.grad), bits(&ce_own.grad));

    // Adam with clipping over parameters and gradients in the app's
    // buffers: three steps recorded into one encoder, against three steps
    // on tensors of their own.
    let config = OptimizerConfig::adam(0.05).with_max_grad_norm(0.5);
    let p0 = random_vec(&mut rng, rows * i, 1.0);
    let mut params = Arena::new(gpu, 1 << 16);
    let (p_view, p_own) = (viewed(&mut params, &p0, &[rows, i]), own(&p0, &[rows, i]));
    let mut by_views = Optimizer::new(gpu, config).unwrap();
    by_views.add("p", &p_view, &x_view).unwrap();
    by_views.add_linear(&head, &view_grads).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    for _ in 0..3 {
        by_views.record_step(&mut encoder).unwrap();
    }
    gpu.queue().submit([encoder.finish()]);
    let head_after_views = head.to_host().unwrap();
    let twin = Linear::random(gpu, (i, o), 4).unwrap();
    let mut by_own = Optimizer::new(gpu, config).unwrap();
    by_own.add("p", &p_own, &x_own).unwrap();
    by_own.add_linear(&twin, &own_grads).unwrap();
    for _ in 0..3 {
        by_own.step().unwrap();
    }
    assert_eq!(bits(&p_view), bits(&p_own));
    assert_eq!(head_after_views, twin.to_host().unwrap());
    assert_eq!(by_views.last_clip().unwrap(), by_own.last_clip().unwrap());
}
