//! Burn's own `Lstm`/`Gru` against the same modules through
//! `forward_accelerated`, in one run on one device: inference (a forward
//! over the sequence) and a training step (forward, MSE loss, Burn's
//! backward, Burn's Adam step). Every timing ends with a read-back of the
//! result, so it includes all of Burn's overhead around our kernels.
//!
//! Prints one JSON line per configuration and mode on stdout (keys `cell`,
//! `B`, `T`, `I`, `H`, `L`, `mode`, `burn_s`, `ours_s`; medians); what the
//! copies of our call cost go to stderr.
//! `make bench-burn` runs it; `BENCH_REPS` sets the timed repetitions.

use std::time::Instant;

use burn::module::Module;
use burn::nn::{Gru, GruConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use wgpu_rnn::{CellKind, RnnConfig, RnnStack, StackConfig, StackWeights};
use wgpu_rnn_burn::Accelerated;

const CONFIGS: [(usize, usize, usize, usize, usize); 3] = [
    (1, 64, 64, 64, 1),
    (16, 64, 256, 256, 1),
    (16, 32, 256, 256, 2),
];

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

/// Adds every parameter's sum to a loss: a backward that gives each
/// parameter a gradient at almost no cost of its own.
struct SumParams<'a>(&'a mut Tensor<1>);

impl burn::module::ModuleVisitor for SumParams<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        *self.0 = self.0.clone() + param.val().sum();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over `reps` runs after two warm-up runs (Burn
/// autotunes its kernels on their first runs; CubeCL keeps the choice on
/// disk, so a second run of the bench starts tuned).
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
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

fn bench<S: Stack>(
    cell: &str,
    make: impl Fn(&Device) -> S,
    (b, t, i, h, l): (usize, usize, usize, usize, usize),
    device: &Device,
    reps: usize,
) {
    let x = Tensor::<3>::random([b, t, i], Distribution::Uniform(-1.0, 1.0), device);
    for mode in ["infer", "train"] {
        let mut seconds = [0.0; 2];
        for (k, ours) in [false, true].into_iter().enumerate() {
            seconds[k] = match mode {
                "infer" => {
                    let stack = make(device);
                    let plain = x.clone();
                    time(reps, || wait(stack.run(plain.clone(), ours)))
                }
                _ => {
                    let ad = device.clone().autodiff();
                    let mut model = make(&ad);
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
        if mode == "train" {
            // Burn's share of a training step, the same in both columns:
            // the loss, a backward through it alone and the Adam update of
            // every parameter.
            let ad = device.clone().autodiff();
            let mut model = make(&ad);
            let mut optim = AdamConfig::new().init();
            let fixed = time(reps, || {
                let mut loss = Tensor::<1>::zeros([1], &ad);
                model.visit(&mut SumParams(&mut loss));
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-3, model.clone(), grads);
                wait(loss);
            });
            eprintln!(
                "  of which Burn's loss, backward and Adam on the parameters alone: {:.4} s",
                fixed
            );
        }
        println!(
            "{}",
            serde_json::json!({
                "cell": cell, "B": b, "T": t, "I": i, "H": h, "L": l, "mode": mode,
                "burn_s": seconds[0], "ours_s": seconds[1],
            })
        );
        eprintln!(
            "{cell} {b} {t} {i} {h} {l} {mode}: Burn {:.4} s, ours {:.4} s, {:.1}x",
            seconds[0],
            seconds[1],
            seconds[0] / seconds[1]
        );
    }
}

/// What our call adds around the kernels at `(b, t, i, h)`: the
/// buffer-sharing remedy (Burn's tensors copied into our buffers and the
/// results back: input, weights, biases, output and states) and the
/// weight rebuild, each call in one submit.
/// Queued `N` times and waited for once, so the wait's own latency is
/// spread out; an empty submit's cost is taken off.
fn call_costs((b, t, i, h): (usize, usize, usize, usize), device: &Device, reps: usize) {
    const N: usize = 32;
    let gpu = wgpu_rnn_burn::gpu_for(device).expect("registered");
    let floats = b * t * i + 4 * h * (i + h) + 8 * h + b * t * h + 2 * b * h;
    let bytes = (floats * 4) as u64;
    let make = |usage| {
        gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let (from, to) = (
        make(wgpu::BufferUsages::COPY_SRC),
        make(wgpu::BufferUsages::COPY_DST),
    );
    let submits = |with_copy: bool| {
        time(reps, || {
            for _ in 0..N {
                let mut enc = gpu.device().create_command_encoder(&Default::default());
                if with_copy {
                    enc.copy_buffer_to_buffer(&from, 0, &to, 0, bytes);
                }
                gpu.queue().submit([enc.finish()]);
            }
            gpu.device()
                .poll(wgpu::PollType::wait_indefinitely())
                .expect("poll");
        }) / N as f64
    };
    let (copies, empty) = (submits(true), submits(false));
    // The weight rebuild each call records after the copies (our kernel
    // layouts from the parameters), for one LSTM layer of this shape.
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, i, h).expect("valid"));
    let stack =
        RnnStack::new(&gpu, &StackWeights::random(config, 0, 1.0).expect("valid")).expect("stack");
    let repack = time(reps, || {
        for _ in 0..N {
            let mut enc = gpu.device().create_command_encoder(&Default::default());
            stack.record_repack(&mut enc).expect("repack");
            gpu.queue().submit([enc.finish()]);
        }
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
    }) / N as f64;
    eprintln!(
        "copies {b} {t} {i} {h}: {bytes} bytes in and out, {:.3} ms per call; weight rebuild {:.3} ms per call",
        (copies - empty) * 1e3,
        (repack - empty) * 1e3,
    );
}

fn main() {
    let device = wgpu_rnn_burn::init().expect("a wgpu adapter");
    let reps = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let adapter = wgpu_rnn_burn::gpu_for(&device)
        .expect("registered")
        .info()
        .name
        .clone();
    eprintln!("adapter: {adapter}; Burn 0.22.1; {reps} timed runs after two warm-ups, medians");
    for &(b, t, i, h, l) in &CONFIGS {
        call_costs((b, t, i, h), &device, reps);
        let width = |k: usize| if k == 0 { i } else { h };
        let lstm = |d: &Device| LstmStack {
            layers: (0..l)
                .map(|k| LstmConfig::new(width(k), h, true).init(d))
                .collect(),
        };
        bench("lstm", lstm, (b, t, i, h, l), &device, reps);
        let gru = |d: &Device| GruStack {
            layers: (0..l)
                .map(|k| GruConfig::new(width(k), h, true).init(d))
                .collect(),
        };
        bench("gru", gru, (b, t, i, h, l), &device, reps);
    }
}
