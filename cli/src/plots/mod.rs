//! `wgpu-rnn plots`: the speed pictures, measured on the adapter at hand
//! in one run. How cost grows (tokens per second against batch, sequence
//! length and hidden size, per cell, under the adapter's floor), the
//! latency of a stream's steps, and ours beside the peers that
//! `benches/peers/` measured (their CSV). Every timing is a `bench` run:
//! validated against the f64 reference first.

pub mod draw;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bench::{self, BenchConfig};
use crate::stream_bench::{self, Latency, StreamConfig, StreamResult};
use wgpu_rnn::train::Linear;
use wgpu_rnn::{wgpu, CellKind, Gpu, GpuTensor, GruReset, Nonlinearity, Precision, Schedule};
use wgpu_rnn::{Error, Result, RnnConfig, RnnStack, StackConfig, StackWeights};

/// The cells drawn: PyTorch's three.
pub const CELLS: [CellKind; 3] = [
    CellKind::Lstm,
    CellKind::Gru(GruReset::After),
    CellKind::Rnn(Nonlinearity::Tanh),
];

/// The quantity a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Batch,
    Seq,
    Hidden,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Batch, Axis::Seq, Axis::Hidden];

    pub fn name(self) -> &'static str {
        match self {
            Axis::Batch => "batch",
            Axis::Seq => "seq",
            Axis::Hidden => "hidden",
        }
    }
}

/// The sweeps: the values of each axis and the fixed sizes around them.
#[derive(Debug, Clone)]
pub struct Sweeps {
    pub batch: Vec<usize>,
    pub seq: Vec<usize>,
    pub hidden: Vec<usize>,
    /// `(batch, seq, hidden)` where an axis does not vary (input = hidden).
    pub base: (usize, usize, usize),
    pub reps: usize,
    /// Stream steps timed per cell.
    pub stream_steps: usize,
}

impl Sweeps {
    /// The ranges: batch 1-256, length 16-4096, hidden 32-1024.
    pub fn full() -> Self {
        Self {
            batch: vec![1, 4, 16, 64, 256],
            seq: vec![16, 64, 256, 1024, 4096],
            hidden: vec![32, 64, 128, 256, 512, 1024],
            base: (16, 64, 128),
            reps: 3,
            stream_steps: 400,
        }
    }

    /// Small sizes that exercise every path in seconds (tests).
    pub fn quick() -> Self {
        Self {
            batch: vec![1, 3],
            seq: vec![2, 5],
            hidden: vec![3, 8],
            base: (2, 4, 4),
            reps: 1,
            stream_steps: 12,
        }
    }

    fn values(&self, axis: Axis) -> &[usize] {
        match axis {
            Axis::Batch => &self.batch,
            Axis::Seq => &self.seq,
            Axis::Hidden => &self.hidden,
        }
    }
}

/// What bounds a one-layer forward here, from this run's measurements: no
/// forward does its arithmetic faster than the best FLOP rate measured (a
/// GEMM, or any point of the sweeps), nor runs its `T` dependent steps
/// faster than its cell's steps do with nothing else to compute. The floor
/// is the larger of the two (a GPU overlaps them; lavapipe, one dispatch at
/// a time, adds them, so there the floor is optimistic).
#[derive(Debug, Clone, PartialEq)]
pub struct Floor {
    /// FLOP/s of a 2048 x 512 x 2048 GEMM (`Linear::forward`); the best
    /// rate of the sweeps raises it where they did better.
    pub gemm_flops_per_s: f64,
    /// Seconds per step of each cell with one unit and one row over 1024
    /// steps, on the kernels the tuning picks for it: a dependent dispatch
    /// and its cell update, or a persistent kernel's step where one runs
    /// the whole sequence (the LSTM's at small batches on GPUs), which a
    /// dispatch per step would overstate.
    pub step_s: Vec<(CellKind, f64)>,
}

impl Floor {
    /// Seconds of `cell`'s bare step.
    pub fn step_s(&self, cell: CellKind) -> f64 {
        self.step_s
            .iter()
            .find(|(c, _)| *c == cell)
            .map_or(0.0, |&(_, s)| s)
    }

    /// Tokens per second no one-layer forward of `cell` of `flops` over
    /// `seq` steps of `batch` rows can beat here, at `flops_per_s`.
    pub fn tokens_per_s(
        &self,
        cell: CellKind,
        flops_per_s: f64,
        flops: f64,
        batch: usize,
        seq: usize,
    ) -> f64 {
        (batch * seq) as f64 / (flops / flops_per_s).max(seq as f64 * self.step_s(cell))
    }
}

/// One point of a sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalingPoint {
    pub cell: CellKind,
    pub axis: Axis,
    pub batch: usize,
    pub seq: usize,
    pub hidden: usize,
    pub median_s: f64,
    /// FLOPs of the sequence ([`bench::forward_flops`]).
    pub flops: f64,
    pub tokens_per_s: f64,
    pub floor_tokens_per_s: f64,
}

/// Measures the floor (see [`Floor`]).
pub fn measure_floor(gpu: &Gpu, quick: bool) -> Result<Floor> {
    let (m, k, n) = if quick {
        (64, 32, 64)
    } else {
        (2048, 512, 2048)
    };
    let linear = Linear::random(gpu, (k, n), 0)?;
    let x = GpuTensor::from_slice(gpu, "floor x", &vec![0.5; m * k], &[m, k])?;
    let mut best = f64::INFINITY;
    for _ in 0..4 {
        let start = Instant::now();
        let y = linear.forward(&x)?;
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Wgpu {
                during: "waiting for the floor's GEMM".into(),
                message: e.to_string(),
            })?;
        best = best.min(start.elapsed().as_secs_f64());
        drop(y);
    }
    let gemm_flops_per_s = (2 * m * k * n) as f64 / best;
    let seq = if quick { 16 } else { 1024 };
    let mut step_s = Vec::with_capacity(CELLS.len());
    for cell in CELLS {
        let steps = bench::run(gpu, &bench_config(cell, 1, seq, 1, 3))?;
        step_s.push((cell, steps.min_s / seq as f64));
    }
    Ok(Floor {
        gemm_flops_per_s,
        step_s,
    })
}

fn bench_config(
    cell: CellKind,
    batch: usize,
    seq: usize,
    hidden: usize,
    reps: usize,
) -> BenchConfig {
    BenchConfig {
        cell,
        batch,
        seq,
        input: hidden,
        hidden,
        layers: 1,
        bidirectional: false,
        warmup: 1,
        reps,
        profile: false,
        train: false,
        precision: Precision::F32,
        schedule: Schedule::Layered,
    }
}

/// Every sweep for every cell, inference, one layer; `progress` hears of
/// each point as it is measured.
pub fn scaling(
    gpu: &Gpu,
    sweeps: &Sweeps,
    floor: &Floor,
    mut progress: impl FnMut(&ScalingPoint),
) -> Result<Vec<ScalingPoint>> {
    let mut points = vec![];
    for cell in CELLS {
        for axis in Axis::ALL {
            for &v in sweeps.values(axis) {
                let (mut batch, mut seq, mut hidden) = sweeps.base;
                match axis {
                    Axis::Batch => batch = v,
                    Axis::Seq => seq = v,
                    Axis::Hidden => hidden = v,
                }
                let cfg = bench_config(cell, batch, seq, hidden, sweeps.reps);
                let result = bench::run(gpu, &cfg)?;
                let point = ScalingPoint {
                    cell,
                    axis,
                    batch,
                    seq,
                    hidden,
                    median_s: result.median_s,
                    flops: result.flops,
                    tokens_per_s: (batch * seq) as f64 / result.median_s,
                    floor_tokens_per_s: f64::NAN,
                };
                progress(&point);
                points.push(point);
            }
        }
    }
    let best = best_flops_per_s(floor, &points);
    for p in &mut points {
        p.floor_tokens_per_s = floor.tokens_per_s(p.cell, best, p.flops, p.batch, p.seq);
    }
    Ok(points)
}

/// The best FLOP rate of the run, the floor's GEMM's or a sweep point's:
/// it bounds them all.
pub fn best_flops_per_s(floor: &Floor, points: &[ScalingPoint]) -> f64 {
    points
        .iter()
        .map(|p| p.flops / p.median_s)
        .fold(floor.gemm_flops_per_s, f64::max)
}

/// Per-step latencies (seconds) of a one-row stream of each cell, I = H =
/// 64: one step written, run, waited for and read back, as an app's frame
/// loop does (`bench --mode stream`'s measurement (a)).
pub fn stream_latencies(gpu: &Gpu, steps: usize) -> Result<Vec<(CellKind, Vec<f64>)>> {
    let (i, h) = (64, 64);
    let mut out = vec![];
    for cell in CELLS {
        let config = StackConfig::new(RnnConfig::new(cell, i, h)?);
        let stack = RnnStack::new(gpu, &StackWeights::random(config, 5, 1.0)?)?;
        let mut stream = stack.stream(1)?;
        let frame: Vec<f32> = (0..i).map(|k| (k as f32 * 0.1).sin()).collect();
        for _ in 0..steps.min(16) {
            stream.step_host(&frame)?;
        }
        let mut samples = Vec::with_capacity(steps);
        for _ in 0..steps {
            let start = Instant::now();
            stream.step_host(&frame)?;
            samples.push(start.elapsed().as_secs_f64());
        }
        out.push((cell, samples));
    }
    Ok(out)
}

/// `bench --mode stream`'s measurements (a) to (d) of one configuration,
/// and (a) again on the layer-by-layer passes.
#[derive(Debug, Clone)]
pub struct StreamPath {
    /// `cell L=layers, fused|layered`.
    pub label: String,
    pub config: StreamConfig,
    pub result: StreamResult,
    /// (a) with the fused step off.
    pub layered_step: Latency,
}

/// (a) to (d) of a one-row stream, I = H = 64, for the LSTM and the GRU
/// with one and two layers, `steps` timed steps each (validated against
/// the reference first, as `bench --mode stream` does); (a) also on
/// `layered`, a device of the same adapter with the fused step off.
pub fn stream_paths(gpu: &Gpu, layered: &Gpu, steps: usize) -> Result<Vec<StreamPath>> {
    let mut out = vec![];
    for cell in [CellKind::Lstm, CellKind::Gru(GruReset::After)] {
        for layers in [1, 2] {
            let config = StreamConfig {
                cell,
                batch: 1,
                input: 64,
                hidden: 64,
                layers,
                steps,
                warmup: steps.min(16),
            };
            let stack_config = StackConfig::new(RnnConfig::new(cell, 64, 64)?).with_layers(layers);
            let weights = StackWeights::random(stack_config, 1, 1.0)?;
            let fused = RnnStack::new(gpu, &weights)?.stream(1)?.is_fused(1);
            out.push(StreamPath {
                label: format!(
                    "{} L={layers}, {}",
                    cell.name(),
                    if fused { "fused" } else { "layered" }
                ),
                config,
                result: stream_bench::run(gpu, &config)?,
                layered_step: stream_bench::run(layered, &config)?.step,
            });
        }
    }
    Ok(out)
}

/// The stream paths as CSV, one row per configuration (seconds).
pub fn stream_paths_csv(paths: &[StreamPath]) -> String {
    let mut out =
        String::from("cell,batch,input,hidden,layers,path,step_s,chunk8_s,workaround_s,floor_s\n");
    for p in paths {
        let (c, r) = (&p.config, &p.result);
        let path = p.label.rsplit(", ").next().unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{path},{:e},{:e},{:e},{:e},{:e}\n",
            c.cell.name(),
            c.batch,
            c.input,
            c.hidden,
            c.layers,
            r.step.median_s,
            r.chunk.median_s,
            r.workaround.median_s,
            r.floor.median_s,
            p.layered_step.median_s
        ));
    }
    out
}

/// One timing of a peer's CSV (`benches/peers/pytorch_cpu.py --csv`):
/// who, which configuration and mode, and the median in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerTiming {
    pub peer: String,
    pub config: String,
    /// `cell B T I H L`.
    pub shape: String,
    pub mode: String,
    pub ms: f64,
}

/// Reads a peers CSV with the header `peer,config,shape,mode,ms`.
pub fn read_peers(path: &Path) -> Result<Vec<PeerTiming>> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("peer,config,shape,mode,ms") {
        return Err(file_error(
            path,
            "the header is not peer,config,shape,mode,ms",
        ));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = || file_error(path, format!("line {}: {line:?}", n + 2));
            let [peer, config, shape, mode, ms] = fields.as_slice() else {
                return Err(bad());
            };
            let ms: f64 = ms.parse().map_err(|_| bad())?;
            if !(ms.is_finite() && ms > 0.0) {
                return Err(bad());
            }
            Ok(PeerTiming {
                peer: peer.to_string(),
                config: config.to_string(),
                shape: shape.to_string(),
                mode: mode.to_string(),
                ms,
            })
        })
        .collect()
}

fn file_error(path: &Path, reason: impl ToString) -> Error {
    Error::File {
        file: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The scaling points as CSV.
pub fn scaling_csv(points: &[ScalingPoint]) -> String {
    let mut out =
        String::from("cell,axis,batch,seq,hidden,median_s,tokens_per_s,floor_tokens_per_s\n");
    for p in points {
        out.push_str(&format!(
            "{},{},{},{},{},{:e},{:e},{:e}\n",
            p.cell.name(),
            p.axis.name(),
            p.batch,
            p.seq,
            p.hidden,
            p.median_s,
            p.tokens_per_s,
            p.floor_tokens_per_s
        ));
    }
    out
}

/// The stream latencies as CSV, one row per step.
pub fn latency_csv(latencies: &[(CellKind, Vec<f64>)]) -> String {
    let mut out = String::from("cell,step,latency_s\n");
    for (cell, samples) in latencies {
        for (k, s) in samples.iter().enumerate() {
            out.push_str(&format!("{},{k},{s:e}\n", cell.name()));
        }
    }
    out
}

/// Everything `plots` measures and draws.
pub struct Measured {
    pub floor: Floor,
    pub scaling: Vec<ScalingPoint>,
    pub latencies: Vec<(CellKind, Vec<f64>)>,
    pub stream_paths: Vec<StreamPath>,
    /// Per peers CSV (one run of a peer script), its file stem and rows.
    pub peers: Vec<(String, Vec<PeerTiming>)>,
    /// "adapter, machine, command" for the captions.
    pub caption: String,
}

/// Writes the CSVs and SVGs of `measured` into `dir` (a peers CSV
/// `NAME.csv` is drawn as `NAME.svg`); returns their paths.
pub fn write_outputs(measured: &Measured, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let mut written = vec![];
    let mut text = |name: &str, body: String| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| file_error(&path, e))?;
        written.push(path);
        Ok(())
    };
    text("scaling.csv", scaling_csv(&measured.scaling))?;
    text("stream_latency.csv", latency_csv(&measured.latencies))?;
    text("stream_paths.csv", stream_paths_csv(&measured.stream_paths))?;
    let svg = dir.join("scaling.svg");
    draw::scaling(&measured.scaling, &measured.caption, &svg)?;
    written.push(svg);
    let svg = dir.join("stream_latency.svg");
    draw::latencies(&measured.latencies, &measured.caption, &svg)?;
    written.push(svg);
    let svg = dir.join("stream_paths.svg");
    draw::stream_paths(&measured.stream_paths, &measured.caption, &svg)?;
    written.push(svg);
    for (stem, timings) in &measured.peers {
        let svg = dir.join(format!("{stem}.svg"));
        draw::peers(timings, &measured.caption, &svg)?;
        written.push(svg);
    }
    Ok(written)
}
