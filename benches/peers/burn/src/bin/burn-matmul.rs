//! Times Burn's matmul `[M, K] x [K, N]` (f32) on the default wgpu adapter,
//! for the throughput issue's GEMM target: the best rate Burn's matmul
//! shows here, beside ours. Prints one JSON line:
//! `{"peer":"burn","op":"matmul","M":..,"N":..,"K":..,"median_s":..,"min_s":..,"gflops":..,"reps":..,"device":..}`
//! (GFLOP/s from the median, 2*M*N*K FLOPs).

use std::time::Instant;

use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use burn_peer::uniform_values;
use clap::Parser;
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(about = "Time Burn's matmul on a wgpu adapter")]
struct Args {
    #[arg(long, default_value_t = 1024)]
    m: usize,
    #[arg(long, default_value_t = 1024)]
    n: usize,
    #[arg(long, default_value_t = 256)]
    k: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

#[derive(Serialize)]
struct Report {
    peer: &'static str,
    op: &'static str,
    #[serde(rename = "M")]
    m: usize,
    #[serde(rename = "N")]
    n: usize,
    #[serde(rename = "K")]
    k: usize,
    median_s: f64,
    min_s: f64,
    gflops: f64,
    reps: usize,
    device: String,
}

fn main() {
    let args = Args::parse();
    assert!(args.reps >= 1, "--reps must be >= 1");
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let device_name = device
        .identity()
        .map(|id| id.name)
        .unwrap_or_else(|| format!("{device:?}"));
    let a = Tensor::<2>::from_data(
        TensorData::new(uniform_values(args.m * args.k, 1), [args.m, args.k]),
        &device,
    );
    let b = Tensor::<2>::from_data(
        TensorData::new(uniform_values(args.k * args.n, 2), [args.k, args.n]),
        &device,
    );
    device.sync().expect("device sync failed");
    // The untimed runs let Burn compile and autotune its matmul.
    let run = || {
        let start = Instant::now();
        let c = a.clone().matmul(b.clone());
        device.sync().expect("device sync failed");
        drop(c);
        start.elapsed().as_secs_f64()
    };
    for _ in 0..args.warmup {
        run();
    }
    let mut times: Vec<f64> = (0..args.reps).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let flops = 2.0 * (args.m * args.n * args.k) as f64;
    let report = Report {
        peer: "burn",
        op: "matmul",
        m: args.m,
        n: args.n,
        k: args.k,
        median_s: median,
        min_s: times[0],
        gflops: flops / median / 1e9,
        reps: args.reps,
        device: device_name,
    };
    println!(
        "{}",
        serde_json::to_string(&report).expect("report serializes")
    );
}
