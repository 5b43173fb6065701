//! Burn's own `Lstm`/`Gru` against the same modules through
//! `forward_accelerated`, in one run on one device: inference (a forward
//! over the sequence) and a training step (forward, MSE loss, Burn's
//! backward, Burn's Adam step). Every timing ends with a read-back of the
//! result, so it includes all of Burn's overhead around our kernels.
//!
//! Prints one JSON line per configuration and mode on stdout (keys `cell`,
//! `B`, `T`, `I`, `H`, `L`, `mode`, `burn_s`, `ours_s`; medians); the parts
//! of our call (the weight gather, the copies) go to stderr.
//! `make bench-burn` runs it; `BENCH_REPS` sets the timed repetitions.

use std::time::Instant;

use burn::module::Module;
use burn::nn::{Gru, GruConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use wgpu_rnn_burn::Accelerated;

const CONFIGS: [(usize, usize, usize, usize, usize); 3] =
    [(1, 64, 64, 64, 1), (16, 64, 256, 256, 1), (16, 32, 256, 256, 2)];

#[derive(Module, Debug)]
struct LstmStack {
    layers: Vec<Lstm>,
}

#[derive(Module, Debug)]
struct GruStack {
    layers: Vec<Gru>,
}

trait Stack: Module + Clone {
    fn run(&self, x: Tensor<3>, ours: bool) -> Tensor<3>;
}

impl Stack for LstmStack {
    fn run(&self, mut x: Tensor<3>, ours: bool) -> Tensor<3> {
        for l in &self.layers {
            x = match ours {
                true => l.forward_accelerated(x, None).0,
                false => l.forward(x, None).0,
            };
        }
        x
    }
}

impl Stack for GruStack {
    fn run(&self, mut x: Tensor<3>, ours: bool) -> Tensor<3> {
        for l in &self.layers {
            x = match ours {
                true => l.forward_accelerated(x, None),
                false => l.forward(x, None),
            };
        }
        x
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over `reps` runs after one warm-up run.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Waits for `t` by reading one value back.
fn wait<const D: usize>(t: Tensor<D>) {
    let _ = t.sum().into_data();
}

fn bench<S: Stack>(cell: &str, stack: S, (b, t, i, h, l): (usize, usize, usize, usize, usize), device: &Device, reps: usize) {
    let x = Tensor::<3>::random([b, t, i], Distribution::Uniform(-1.0, 1.0), device);
    for mode in ["infer", "train"] {
        let mut seconds = [0.0; 2];
        for (k, ours) in [false, true].into_iter().enumerate() {
            seconds[k] = match mode {
                "infer" => {
                    let stack = stack.clone().no_grad();
                    let plain = x.clone();
                    time(reps, || wait(stack.run(plain.clone(), ours)))
                }
                _ => {
                    let ad = device.clone().autodiff();
                    let mut model = stack.clone().fork(&ad);
                    let mut optim = AdamConfig::new().init();
                    let x = x.clone().to_device(&ad);
                    let target = Tensor::<3>::zeros([b, t, h], &ad);
                    time(reps, || {
                        let y = model.clone().run(x.clone(), ours);
                        let loss = (y - target.clone()).powf_scalar(2.0).mean();
                        let grads = GradientsParams::from_grads(loss.backward(), &model);
                        model = optim.step(1e-3, model.clone(), grads);
                        wait(loss);
                    })
                }
            };
        }
        println!(
            "{}",
            serde_json::json!({
                "cell": cell, "B": b, "T": t, "I": i, "H": h, "L": l, "mode": mode,
                "burn_s": seconds[0], "ours_s": seconds[1],
            })
        );
        eprintln!("{cell} {b} {t} {i} {h} {l} {mode}: Burn {:.4} s, ours {:.4} s, {:.1}x", seconds[0], seconds[1], seconds[0] / seconds[1]);
    }
}

/// What our call adds around the kernels, at `(b, t, i, h)`: Burn's
/// gather of the gate weights into PyTorch's layout (a `cat` and a
/// transposed copy per matrix), and the copies between Burn's buffers and
/// ours (input, weights, output and states).
fn parts((b, t, i, h): (usize, usize, usize, usize), device: &Device, reps: usize) {
    let lstm = LstmConfig::new(i, h, true).init(device);
    let gates = [&lstm.input_gate, lstm.forget_gate.as_ref().unwrap(), &lstm.cell_gate, &lstm.output_gate];
    let gather = time(reps, || {
        let w_ih = Tensor::cat(gates.iter().map(|g| g.input_transform.weight.val()).collect(), 1).transpose();
        let w_hh = Tensor::cat(gates.iter().map(|g| g.hidden_transform.weight.val()).collect(), 1).transpose();
        // Materialised as our call does (a contiguous copy), then waited for.
        wait(w_ih.add_scalar(0.0) + 0.0);
        wait(w_hh.add_scalar(0.0));
    });
    let empty_wait = time(reps, || wait(Tensor::<1>::zeros([1], device)));
    let gpu = wgpu_rnn_burn::gpu_for(device).expect("registered");
    let floats = b * t * i + 4 * h * (i + h) + 8 * h + b * t * h + 2 * b * h;
    let bytes = (floats * 4) as u64;
    let make = |usage| gpu.device().create_buffer(&wgpu::BufferDescriptor { label: None, size: bytes, usage, mapped_at_creation: false });
    let (from, to) = (make(wgpu::BufferUsages::COPY_SRC), make(wgpu::BufferUsages::COPY_DST));
    let copies = time(reps, || {
        let mut enc = gpu.device().create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&from, 0, &to, 0, bytes);
        gpu.queue().submit([enc.finish()]);
        gpu.device().poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    });
    let empty_submit = time(reps, || {
        gpu.queue().submit([]);
        gpu.device().poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    });
    eprintln!(
        "parts {b} {t} {i} {h}: weight gather {:.3} ms (less an empty read-back: {:.3} ms); \
         copying {bytes} bytes {:.3} ms (less an empty submit: {:.3} ms)",
        gather * 1e3,
        (gather - 2.0 * empty_wait) * 1e3,
        copies * 1e3,
        (copies - empty_submit) * 1e3,
    );
}

fn main() {
    let device = wgpu_rnn_burn::init().expect("a wgpu adapter");
    let reps = std::env::var("BENCH_REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let adapter = wgpu_rnn_burn::gpu_for(&device).expect("registered").info().name.clone();
    eprintln!("adapter: {adapter}; Burn 0.22.1; {reps} timed runs after one warm-up, medians");
    for &(b, t, i, h, l) in &CONFIGS {
        parts((b, t, i, h), &device, reps);
        let lstm = LstmStack { layers: (0..l).map(|k| LstmConfig::new(if k == 0 { i } else { h }, h, true).init(&device)).collect() };
        bench("lstm", lstm, (b, t, i, h, l), &device, reps);
        let gru = GruStack { layers: (0..l).map(|k| GruConfig::new(if k == 0 { i } else { h }, h, true).init(&device)).collect() };
        bench("gru", gru, (b, t, i, h, l), &device, reps);
    }
}
