//! `burn-peer`: times Burn's stock LSTM / GRU layers on a wgpu adapter.
//!
//! Takes the subset of `wgpu-rnn bench` flags that matters and prints exactly one JSON
//! line on stdout, so a script can put both numbers side by side. The adapter name
//! also goes to stderr.

use std::time::{Duration, Instant};

use burn::nn::{Gru, GruConfig, Lstm, LstmConfig};
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use burn_peer::uniform_values;
use clap::{Parser, ValueEnum};
use serde::Serialize;

/// Burn release this binary is built against (kept in step with Cargo.toml).
const BURN_VERSION: &str = "0.22.1";

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Cell {
    Lstm,
    Gru,
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// One forward pass over the whole sequence.
    Infer,
    /// Forward, `sum()` of the last layer's output, then backward.
    Train,
}

#[derive(Parser, Debug)]
#[command(about = "Time Burn's LSTM/GRU layers on a wgpu adapter")]
struct Args {
    #[arg(long, value_enum)]
    cell: Cell,
    #[arg(long)]
    batch: usize,
    #[arg(long)]
    seq: usize,
    #[arg(long)]
    input: usize,
    #[arg(long)]
    hidden: usize,
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long, value_enum, default_value_t = Mode::Infer)]
    mode: Mode,
    /// Untimed iterations before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed iterations.
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

/// The one JSON line on stdout; fields in this order, keys as `wgpu-rnn bench --json` names them.
#[derive(Serialize)]
struct Report {
    peer: &'static str,
    burn_version: &'static str,
    cell: Cell,
    #[serde(rename = "B")]
    batch: usize,
    #[serde(rename = "T")]
    seq: usize,
    #[serde(rename = "I")]
    input: usize,
    #[serde(rename = "H")]
    hidden: usize,
    #[serde(rename = "L")]
    layers: usize,
    mode: Mode,
    median_s: f64,
    min_s: f64,
    reps: usize,
    device: String,
}

/// `layers` stacked recurrent layers of one kind: layer 0 maps I -> H, the rest H -> H.
enum Stack {
    Lstm(Vec<Lstm>),
    Gru(Vec<Gru>),
}

impl Stack {
    fn new(cell: Cell, input: usize, hidden: usize, layers: usize, device: &Device) -> Self {
        let d_in = |l: usize| if l == 0 { input } else { hidden };
        match cell {
            Cell::Lstm => Stack::Lstm(
                (0..layers)
                    .map(|l| LstmConfig::new(d_in(l), hidden, true).init(device))
                    .collect(),
            ),
            Cell::Gru => Stack::Gru(
                (0..layers)
                    .map(|l| GruConfig::new(d_in(l), hidden, true).init(device))
                    .collect(),
            ),
        }
    }

    /// Runs all layers over `x` ([B, T, I], batch-first) from zero initial state and
    /// returns the last layer's output sequence, [B, T, H].
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Stack::Lstm(layers) => layers.iter().fold(x, |h, layer| layer.forward(h, None).0),
            Stack::Gru(layers) => layers.iter().fold(x, |h, layer| layer.forward(h, None)),
        }
    }
}

/// One timed unit of work, ending with a device sync so the GPU work is finished.
fn run_once(stack: &Stack, x: &Tensor<3>, mode: Mode, device: &Device) -> Duration {
    let start = Instant::now();
    match mode {
        Mode::Infer => {
            let y = stack.forward(x.clone());
            device.sync().expect("device sync failed");
            drop(y);
        }
        Mode::Train => {
            let loss = stack.forward(x.clone()).sum();
            // Gradients of every parameter and of the input (it was marked `require_grad`).
            let grads = loss.backward();
            device.sync().expect("device sync failed");
            drop(grads);
        }
    }
    start.elapsed()
}

fn main() {
    let args = Args::parse();
    assert!(
        args.layers >= 1 && args.reps >= 1,
        "--layers and --reps must be >= 1"
    );

    // Burn's wgpu device on the default adapter; autodiff is a property of the device.
    let base = Device::wgpu(DeviceKind::DefaultDevice);
    let device = match args.mode {
        Mode::Infer => base,
        Mode::Train => base.autodiff(),
    };
    device.seed(0); // deterministic weight init

    let device_name = match device.identity() {
        Some(id) => id.name,
        None => format!("{device:?}"),
    };
    eprintln!("burn-peer: burn {BURN_VERSION}, device: {device_name} ({device:?})");

    let stack = Stack::new(args.cell, args.input, args.hidden, args.layers, &device);

    // Input [B, T, I] in [-1, 1), uploaded once before timing.
    let shape = [args.batch, args.seq, args.input];
    let data = TensorData::new(uniform_values(shape.iter().product(), 42), shape);
    let mut x = Tensor::<3>::from_data(data, &device);
    if let Mode::Train = args.mode {
        x = x.require_grad();
    }
    device.sync().expect("device sync failed");

    for _ in 0..args.warmup {
        run_once(&stack, &x, args.mode, &device);
    }
    let mut times: Vec<f64> = (0..args.reps)
        .map(|_| run_once(&stack, &x, args.mode, &device).as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);

    // Same convention as `wgpu-rnn bench`: the upper median for an even count.
    let median = times[times.len() / 2];

    let report = Report {
        peer: "burn",
        burn_version: BURN_VERSION,
        cell: args.cell,
        batch: args.batch,
        seq: args.seq,
        input: args.input,
        hidden: args.hidden,
        layers: args.layers,
        mode: args.mode,
        median_s: median,
        min_s: times[0],
        reps: args.reps,
        device: device_name,
    };
    let line = serde_json::to_string(&report).expect("report serializes");
    println!("{line}");
}
