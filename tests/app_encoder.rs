//! Passes recorded into the app's command encoder, on views into the app's
//! buffers: the same bits as the convenience methods, nothing submitted by
//! us (the app's own copies before and after, in the same submit, see our
//! results), and misuse refused with a clear error.

mod common;

use common::random_vec;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu::util::DeviceExt;
use wgpu_rnn::train::{GradMode, Seeds, StackGrads, TrainOptions};
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
