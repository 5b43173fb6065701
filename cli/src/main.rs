//! The `wgpu-rnn` command line: `info` (adapters, features, limits) and
//! `bench` (validated timings of whole sequences).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wgpu_rnn::{describe_adapter, list_adapters};
use wgpu_rnn::{AdapterSelector, CellKind, Gpu};
use wgpu_rnn_cli::bench::{self, BenchConfig};

#[derive(Parser)]
#[command(
    name = "wgpu-rnn",
    version,
    about = "Recurrent layers on any GPU through wgpu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct AdapterArgs {
    /// Backend to use: vulkan, metal, dx12 or gl (default: $WGPU_RNN_BACKEND, else the best found).
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Substring of the adapter name (default: $WGPU_RNN_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
}

impl AdapterArgs {
    fn selector(&self) -> AdapterSelector {
        let env = AdapterSelector::from_env();
        AdapterSelector {
            backend: self.backend.clone().or(env.backend),
            name: self.adapter.clone().or(env.name),
            ..env
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List adapters and describe the one chosen (with --all: every adapter
    /// on every backend): features, key limits and the kernels that run.
    Info(InfoArgs),
    /// Validate against the f64 reference, then time whole sequences.
    /// Without --cell, runs the default table over every cell.
    Bench(BenchArgs),
    /// Run a PyTorch state_dict (or ONNX operator) model file on an input file.
    Run(RunArgs),
    /// Write a model file (PyTorch state_dict or ONNX operator weights, as
    /// safetensors) as an .onnx model: one node per layer.
    Export(ExportArgs),
    /// Train RNN, LSTM, peephole LSTM and GRU on the adding and copy tasks on
    /// the GPU: loss curves (CSV, SVG) and a table of who solved what.
    Demo(DemoArgs),
    /// Measure and draw the speed pictures on this adapter: tokens per
    /// second against batch, length and hidden size under the adapter's
    /// floor, a stream's step latencies, and ours beside the peers
    /// (CSV from benches/peers/pytorch_cpu.py --csv).
    Plots(PlotsArgs),
}

#[derive(Args)]
struct PlotsArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Where scaling.{csv,svg}, stream_latency.{csv,svg} and, per peers
    /// CSV NAME.csv, NAME.svg go.
    #[arg(long, default_value = "docs/plots")]
    out: std::path::PathBuf,
    /// A peers CSV of one run (header peer,config,shape,mode,ms; written
    /// by benches/peers/*.py and *.sh with --csv); repeat for more.
    #[arg(long)]
    peers: Vec<std::path::PathBuf>,
    /// Small sizes: every path in seconds, not the ranges.
    #[arg(long)]
    quick: bool,
}

#[derive(Args)]
struct InfoArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Describe every adapter on every backend (those --backend and
    /// --adapter allow), not only the one chosen.
    #[arg(long)]
    all: bool,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Cells to train: rnn (tanh), rnn-relu, lstm, lstm-peephole, gru, gru-reset-before.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rnn,lstm,lstm-peephole,gru"
    )]
    cells: Vec<String>,
    /// Tasks to run: adding, copy.
    #[arg(long, value_delimiter = ',', default_value = "adding,copy")]
    tasks: Vec<String>,
    /// Sequence lengths of the adding problem.
    #[arg(long, value_delimiter = ',', default_value = "10,50")]
    adding_lengths: Vec<usize>,
    /// Delays of the copy task (blank steps between the symbols and their recall).
    #[arg(long, value_delimiter = ',', default_value = "5,20")]
    copy_lengths: Vec<usize>,
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam steps per run (every cell and task gets the same budget).
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f32,
    /// Clip the global gradient norm to this.
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f32,
    /// Read the loss back every this many steps (one curve point).
    #[arg(long, default_value_t = 5)]
    log_every: usize,
    /// Seeds the weights and the data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where loss_curves.csv, loss_curves.svg, summary.md and (with adding
    /// runs) gradient_flow.csv and gradient_flow.svg go.
    #[arg(long, default_value = "demo-out")]
    out: std::path::PathBuf,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// The model: a PyTorch nn.LSTM / nn.GRU / nn.RNN state_dict saved with
    /// safetensors, or an .onnx file of one LSTM, GRU or RNN node (then the
    /// input file holds the graph's inputs by name, and the output file
    /// every graph output, as ONNX Runtime gives them).
    #[arg(long)]
    model: std::path::PathBuf,
    /// `input` [T, B, I] ([B, T, I] batch-first), optional `h0`, `c0`, `lengths`.
    #[arg(long)]
    input: std::path::PathBuf,
    /// Where to write `output`, `h_n` (and `c_n`) as F32 safetensors.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Also compute gradients: reads the optional `grad_output`, `grad_h_n`,
    /// `grad_c_n` and writes `grad_input`, `grad_h0`, `grad_c0` and
    /// `grad.<parameter name>` (PyTorch models only).
    #[arg(long)]
    backward: bool,
    /// Input and output are batch-major (overrides the model's metadata).
    #[arg(long)]
    batch_first: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// The model, as `run` reads it: safetensors, or an .onnx file of one
    /// node (written again in this exporter's form).
    #[arg(long)]
    model: std::path::PathBuf,
    /// Where to write the .onnx model.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Add the graph inputs initial_h [L*D, B, H] (and LSTM initial_c).
    #[arg(long)]
    initial_states: bool,
    /// Add the graph input sequence_lens (int32, one length per batch row).
    #[arg(long)]
    sequence_lens: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Mode {
    Infer,
    Train,
    /// Per-step latency of a stream (`Stream::step_host`) beside its
    /// alternatives; `--seq` and `--bidirectional` do not apply.
    Stream,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Precision {
    F32,
    F16,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Schedule {
    Layered,
    Wavefront,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// lstm, lstm-peephole, gru, gru-reset-before, rnn (= rnn-tanh), rnn-relu.
    #[arg(long)]
    cell: Option<String>,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 64)]
    seq: usize,
    #[arg(long, default_value_t = 128)]
    input: usize,
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long)]
    bidirectional: bool,
    #[arg(long, value_enum, default_value = "infer")]
    mode: Mode,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    /// How an inference forward of stacked layers orders their steps:
    /// layer after layer, or the layer wavefront (one direction, no
    /// projection, not gru-reset-before).
    #[arg(long, value_enum, default_value = "layered")]
    schedule: Schedule,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Timed steps of `--mode stream` (after at least 50 warm-up steps).
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    /// Print exactly one JSON line.
    #[arg(long)]
    json: bool,
    /// Per-kernel-family GPU times of one sequence from timestamp queries
    /// (gather, input GEMM, step kernels, scatter; with --mode train also
    /// backward steps, backward GEMMs, reductions).
    #[arg(long)]
    profile: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(a) => info(&a),
        Command::Bench(b) => run_bench(&b),
        Command::Run(r) => run_model(&r),
        Command::Export(e) => export_model(&e),
        Command::Demo(d) => run_demo(&d),
        Command::Plots(p) => run_plots(&p),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(args: &DemoArgs) -> Result<(), String> {
    use wgpu_rnn_cli::demo::{self, tasks::Task, DemoConfig};
    let cells = args
        .cells
        .iter()
        .map(|c| CellKind::parse(c).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tasks = Vec::new();
    for name in &args.tasks {
        let (task, lengths) = match name.as_str() {
            "adding" => (Task::Adding, &args.adding_lengths),
            "copy" => (Task::Copy, &args.copy_lengths),
            other => return Err(format!("unknown task {other:?}; known: adding, copy")),
        };
        tasks.extend(lengths.iter().map(|&t| (task, t)));
    }
    let config = DemoConfig {
        cells,
        tasks,
        hidden: args.hidden,
        batch: args.batch,
        steps: args.steps,
        log_every: args.log_every,
        lr: args.lr,
        max_grad_norm: args.max_grad_norm,
        seed: args.seed,
    }
    .validated()
    .map_err(|e| e.to_string())?;
    let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
    println!("adapter: {}", gpu.describe());
    println!(
        "{} runs of {} Adam steps (lr {}, clip {}), hidden {}, batch {}, seed {}",
        config.cells.len() * config.tasks.len(),
        config.steps,
        config.lr,
        config.max_grad_norm,
        config.hidden,
        config.batch,
        config.seed
    );
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps, {elapsed} (eta {eta}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let curves = demo::run_all(&gpu, &config, &bar).map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    println!("\n{}", demo::summary_table(&curves));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let caption = format!(
        "{} ({:?}), {cores} CPU cores; wgpu-rnn demo, {} Adam steps, hidden {}, batch {}, seed {}",
        gpu.info().name,
        gpu.info().backend,
        config.steps,
        config.hidden,
        config.batch,
        config.seed
    );
    for path in demo::write_outputs(&curves, &caption, &args.out).map_err(|e| e.to_string())? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn run_plots(args: &PlotsArgs) -> Result<(), String> {
    use wgpu_rnn_cli::plots::{self, Measured, Sweeps};
    // The peers first: a bad file costs nothing to find out.
    let mut peers = vec![];
    for path in &args.peers {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .ok_or_else(|| format!("{}: not a file name", path.display()))?;
        peers.push((stem, plots::read_peers(path).map_err(|e| e.to_string())?));
    }
    let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
    println!("adapter: {}", gpu.describe());
    let sweeps = if args.quick {
        Sweeps::quick()
    } else {
        Sweeps::full()
    };
    let floor = plots::measure_floor(&gpu, args.quick).map_err(|e| e.to_string())?;
    let steps: Vec<String> = floor
        .step_s
        .iter()
        .map(|(cell, s)| format!("{} {:.1}", cell.name(), s * 1e6))
        .collect();
    println!(
        "floor: GEMM {:.1} GFLOP/s; us per bare step: {}",
        floor.gemm_flops_per_s / 1e9,
        steps.join(", ")
    );
    let scaling = plots::scaling(&gpu, &sweeps, &floor, |p| {
        println!(
            "{:<10} {:<6} B={:<4} T={:<5} H={:<5} {:>12.0} tokens/s, {:.1} GFLOP/s",
            p.cell.name(),
            p.axis.name(),
            p.batch,
            p.seq,
            p.hidden,
            p.tokens_per_s,
            p.flops / p.median_s / 1e9
        )
    })
    .map_err(|e| e.to_string())?;
    let best = plots::best_flops_per_s(&floor, &scaling);
    println!(
        "floor's FLOP rate: {:.1} GFLOP/s (the best of the GEMM and the sweeps)",
        best / 1e9
    );
    let latencies =
        plots::stream_latencies(&gpu, sweeps.stream_steps).map_err(|e| e.to_string())?;
    let layered = Gpu::with_selector(&AdapterSelector {
        fused_stream: Some(false),
        ..args.adapter.selector()
    })
    .map_err(|e| e.to_string())?;
    let stream_paths =
        plots::stream_paths(&gpu, &layered, sweeps.stream_steps).map_err(|e| e.to_string())?;
    for p in &stream_paths {
        let r = &p.result;
        println!(
            "stream {}: step {:.0} us (layer by layer {:.0} us), chunk of 8 {:.0} us a step, \
             T=1 forward {:.0} us, floor {:.0} us",
            p.label,
            r.step.median_s * 1e6,
            p.layered_step.median_s * 1e6,
            r.chunk.median_s * 1e6,
            r.workaround.median_s * 1e6,
            r.floor.median_s * 1e6
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let caption = format!(
        "{} ({:?}), {cores} CPU cores; wgpu-rnn plots{}",
        gpu.info().name,
        gpu.info().backend,
        if args.quick { " --quick" } else { "" }
    );
    let measured = Measured {
        floor,
        scaling,
        latencies,
        stream_paths,
        peers,
        caption,
    };
    for path in plots::write_outputs(&measured, &args.out).map_err(|e| e.to_string())? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Whether `path` names an .onnx file (by its extension).
fn is_onnx_path(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Refuses an `out` that is one of the files the command reads: writing
/// it would destroy what the user had.
fn refuse_overwrite(out: &std::path::Path, read: &[&std::path::Path]) -> Result<(), String> {
    let Ok(target) = out.canonicalize() else {
        return Ok(()); // not there yet
    };
    match read
        .iter()
        .find(|p| p.canonicalize().is_ok_and(|p| p == target))
    {
        Some(p) => Err(format!(
            "{}: --out names an input of this command ({}); write elsewhere",
            out.display(),
            p.display()
        )),
        None => Ok(()),
    }
}

fn run_model(args: &RunArgs) -> Result<(), String> {
    use wgpu_rnn::io::tensors::TensorFile;
    use wgpu_rnn_cli::run::run_forward;
    refuse_overwrite(&args.out, &[&args.model, &args.input])?;
    let out = if is_onnx_path(&args.model) {
        if args.backward || args.batch_first {
            return Err(format!(
                "{}: --backward and --batch-first apply to safetensors models only (an .onnx node's layout attribute decides its layout)",
                args.model.display()
            ));
        }
        let graph = wgpu_rnn::io::onnx::load_graph(&args.model).map_err(|e| e.to_string())?;
        let input = TensorFile::read(&args.input).map_err(|e| e.to_string())?;
        let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
        wgpu_rnn_cli::run_onnx::run_graph(&gpu, &graph, &input).map_err(|e| e.to_string())?
    } else {
        let model = TensorFile::read(&args.model).map_err(|e| e.to_string())?;
        let input = TensorFile::read(&args.input).map_err(|e| e.to_string())?;
        let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
        let batch_first = args.batch_first.then_some(true);
        run_forward(&gpu, &model, &input, batch_first, args.backward).map_err(|e| e.to_string())?
    };
    // As PyTorch, the values are written anyway; one line says where.
    for (name, count) in wgpu_rnn_cli::run::non_finite_counts(&out) {
        eprintln!(
            "warning: output tensor {name:?} holds {count} non-finite values (NaN or infinity)"
        );
    }
    let bytes = out.to_bytes().map_err(|e| e.to_string())?;
    write_atomically(&args.out, &bytes)
}

fn export_model(args: &ExportArgs) -> Result<(), String> {
    use wgpu_rnn::io::{load_model, onnx, tensors::TensorFile};
    refuse_overwrite(&args.out, &[&args.model])?;
    let weights = if is_onnx_path(&args.model) {
        onnx::load_graph(&args.model)
            .map_err(|e| e.to_string())?
            .weights()
            .clone()
    } else {
        let model = TensorFile::read(&args.model).map_err(|e| e.to_string())?;
        load_model(&model).map_err(|e| e.to_string())?
    };
    let options = onnx::ExportOptions {
        initial_states: args.initial_states,
        sequence_lens: args.sequence_lens,
    };
    let bytes = onnx::to_onnx_bytes(&weights, options).map_err(|e| e.to_string())?;
    write_atomically(&args.out, &bytes)
}

/// Writes beside the target and renames, so a failure leaves no partial
/// file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

fn info(args: &InfoArgs) -> Result<(), String> {
    let sel = args.adapter.selector();
    if args.all {
        let gpus = Gpu::every_adapter(&sel).map_err(|e| e.to_string())?;
        if gpus.is_empty() {
            return Err("no adapter found on any backend".into());
        }
        for (i, gpu) in gpus.into_iter().enumerate() {
            if i > 0 {
                println!();
            }
            match gpu {
                Ok(gpu) => describe(&gpu),
                Err(e) => println!("{e}"),
            }
        }
        return Ok(());
    }
    println!("adapters:");
    for a in list_adapters() {
        println!("  {}", describe_adapter(&a));
    }
    let gpu = Gpu::with_selector(&sel).map_err(|e| e.to_string())?;
    println!("chosen:");
    describe(&gpu);
    Ok(())
}

/// The adapter, the features and limits that decide the kernels, and the
/// kernels that run.
fn describe(gpu: &Gpu) {
    println!("adapter: {}", gpu.describe());
    let caps = gpu.capabilities();
    println!(
        "features: shader_f16={} timestamp_query={} subgroup={} immediates={}",
        caps.shader_f16, caps.timestamp_query, caps.subgroup, caps.immediates
    );
    let info = gpu.info();
    let l = gpu.limits();
    println!(
        "limits: max_storage_buffer_binding_size={} max_buffer_size={} max_compute_workgroup_storage_size={} max_compute_invocations_per_workgroup={} max_compute_workgroups_per_dimension={} min_uniform_buffer_offset_alignment={} max_immediate_size={} subgroup_size={}..{}",
        l.max_storage_buffer_binding_size,
        l.max_buffer_size,
        l.max_compute_workgroup_storage_size,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroups_per_dimension,
        l.min_uniform_buffer_offset_alignment,
        l.max_immediate_size,
        info.subgroup_min_size,
        info.subgroup_max_size,
    );
    for line in gpu.tuning().to_string().lines() {
        println!("{line}");
    }
    println!(
        "f16 weights: {}; kernel profiles: {}",
        if caps.shader_f16 {
            "yes"
        } else {
            "no (SHADER_F16 missing)"
        },
        if caps.timestamp_query {
            "yes"
        } else {
            "no (TIMESTAMP_QUERY missing)"
        }
    );
}

fn run_bench(args: &BenchArgs) -> Result<(), String> {
    if args.mode == Mode::Stream {
        return run_stream_bench(args);
    }
    let precision = match args.precision {
        Precision::F32 => wgpu_rnn::Precision::F32,
        Precision::F16 => wgpu_rnn::Precision::F16,
    };
    let schedule = match args.schedule {
        Schedule::Layered => wgpu_rnn::Schedule::Layered,
        Schedule::Wavefront => wgpu_rnn::Schedule::Wavefront,
    };
    let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
    let cells: Vec<CellKind> = match &args.cell {
        Some(name) => vec![CellKind::parse(name).map_err(|e| e.to_string())?],
        None => CellKind::ALL.to_vec(),
    };
    if !args.json {
        println!("adapter: {}", gpu.describe());
        if precision == wgpu_rnn::Precision::F16 {
            println!("precision: recurrent weights in f16, f32 sums and states");
        }
        println!(
            "{:<18} {:>4} {:>5} {:>5} {:>5} {:>10} {:>10} {:>12} {:>8} {:>10}",
            "cell", "B", "T", "I", "H", "median ms", "min ms", "tokens/s", "GFLOP/s", "max |err|"
        );
    }
    // A progress bar on stderr for the table (not for one --json line).
    let progress = (!args.json && cells.len() > 1).then(|| {
        let bar = indicatif::ProgressBar::new(cells.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    for cell in cells {
        if let Some(bar) = &progress {
            bar.set_message(format!("validating and timing {}", cell.name()));
        }
        let cfg = BenchConfig {
            cell,
            batch: args.batch,
            seq: args.seq,
            input: args.input,
            hidden: args.hidden,
            layers: args.layers,
            bidirectional: args.bidirectional,
            warmup: args.warmup,
            reps: args.reps,
            profile: args.profile,
            train: args.mode == Mode::Train,
            precision,
            schedule,
        };
        let r = bench::run(&gpu, &cfg).map_err(|e| e.to_string())?;
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        let tokens = (cfg.batch * cfg.seq) as f64 / r.median_s;
        if args.json {
            let line = serde_json::json!({
                "cell": args.cell.clone().unwrap_or_else(|| cell.name().to_string()),
                "B": cfg.batch, "T": cfg.seq, "I": cfg.input, "H": cfg.hidden, "L": args.layers,
                "bidirectional": args.bidirectional, "mode": if cfg.train { "train" } else { "infer" }, "precision": precision.name(), "schedule": schedule.name(),
                "median_s": r.median_s, "min_s": r.min_s, "reps": r.reps,
                "tokens_per_s": tokens, "gflops": r.gflops(), "max_abs_err": r.max_abs_err,
                "device": gpu.describe(),
                "profile_s": r.profile.as_ref().map(|p| p.families.iter().map(|(f, s)| (f.to_string(), serde_json::json!(s))).collect::<serde_json::Map<_, _>>()),
            });
            println!("{line}");
        } else {
            let line = format!(
                "{:<18} {:>4} {:>5} {:>5} {:>5} {:>10.3} {:>10.3} {:>12.0} {:>8.2} {:>10.2e}",
                cell.name(),
                cfg.batch,
                cfg.seq,
                cfg.input,
                cfg.hidden,
                r.median_s * 1e3,
                r.min_s * 1e3,
                tokens,
                r.gflops(),
                r.max_abs_err
            );
            // `suspend` clears the bar around the print (and still prints
            // when the bar is hidden because stderr is not a terminal).
            let mut text = line;
            if let Some(p) = &r.profile {
                for (family, seconds) in &p.families {
                    let share = 100.0 * seconds / p.total().max(f64::MIN_POSITIVE);
                    text.push_str(&format!(
                        "\n    {family:<22} {:>10.3} ms {share:>5.1}%",
                        seconds * 1e3
                    ));
                }
            }
            match &progress {
                Some(bar) => bar.suspend(|| println!("{text}")),
                None => println!("{text}"),
            }
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if !args.json {
        println!("GFLOP/s counts 2*G*H*(I+H) FLOPs per token, layer and direction (input GEMM + recurrent products), 3x that with --mode train; every row was checked against the f64 reference before timing (training: every gradient of a 2-row step).");
    }
    Ok(())
}

fn run_stream_bench(args: &BenchArgs) -> Result<(), String> {
    use wgpu_rnn_cli::stream_bench::{self, StreamConfig, CHUNK};
    if args.bidirectional {
        return Err("--mode stream runs forward stacks only (no --bidirectional)".into());
    }
    let gpu = Gpu::with_selector(&args.adapter.selector()).map_err(|e| e.to_string())?;
    let name = args.cell.clone().unwrap_or_else(|| "lstm".into());
    let cell = CellKind::parse(&name).map_err(|e| e.to_string())?;
    let cfg = StreamConfig {
        cell,
        batch: args.batch,
        input: args.input,
        hidden: args.hidden,
        layers: args.layers,
        steps: args.steps,
        warmup: args.warmup.max(50),
    };
    let r = stream_bench::run(&gpu, &cfg).map_err(|e| e.to_string())?;
    if args.json {
        let line = serde_json::json!({
            "cell": name, "B": cfg.batch, "I": cfg.input, "H": cfg.hidden, "L": cfg.layers,
            "mode": "stream", "steps": cfg.steps,
            "step_median_s": r.step.median_s, "step_p99_s": r.step.p99_s,
            "chunk8_median_s": r.chunk.median_s, "chunk8_p99_s": r.chunk.p99_s,
            "workaround_median_s": r.workaround.median_s, "workaround_p99_s": r.workaround.p99_s,
            "floor_median_s": r.floor.median_s, "floor_p99_s": r.floor.p99_s,
            "kernels_s": r.kernels_s, "max_abs_err": r.max_abs_err,
            "device": gpu.describe(),
        });
        println!("{line}");
        return Ok(());
    }
    println!("adapter: {}", gpu.describe());
    println!(
        "{} B={} I={} H={} L={}: {} steps per measurement, checked against the f64 reference (max |err| {:.2e})",
        cell.name(), cfg.batch, cfg.input, cfg.hidden, cfg.layers, cfg.steps, r.max_abs_err
    );
    println!("{:<44} {:>10} {:>10}", "per step", "median us", "p99 us");
    let rows = [
        (
            "(a) Stream::step_host (write, submit, wait, read h)",
            r.step,
        ),
        (
            &*format!("(b) Stream::steps_host of {CHUNK}, per step"),
            r.chunk,
        ),
        ("(c) forward T=1, h_n fed back, read back", r.workaround),
        ("(d) floor: write, 1 dispatch, submit, wait, read", r.floor),
    ];
    for (what, l) in rows {
        println!(
            "{what:<44} {:>10.1} {:>10.1}",
            l.median_s * 1e6,
            l.p99_s * 1e6
        );
    }
    if let Some(k) = r.kernels_s {
        println!(
            "one step's kernels on the GPU (timestamps, T=1 forward): {:.1} us",
            k * 1e6
        );
    }
    println!(
        "(c)/(a) = {:.2}, (b)/(a) = {:.2}, (a)/((d) + kernels) = {}",
        r.workaround.median_s / r.step.median_s,
        r.chunk.median_s / r.step.median_s,
        r.kernels_s
            .map(|k| format!("{:.2}", r.step.median_s / (r.floor.median_s + k)))
            .unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}
