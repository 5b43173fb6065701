//! Timing whole sequences, after checking the result against the reference:
//! the engine behind `wgpu-rnn bench`.

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use wgpu_rnn::reference;
use wgpu_rnn::reference::check::{compare, Tolerance};
use wgpu_rnn::train::{GradMode, HostSeeds, Seeds, StackGrads, TrainOptions};
use wgpu_rnn::Gpu;
use wgpu_rnn::GpuTensor;
use wgpu_rnn::KernelProfile;
use wgpu_rnn::Schedule;
use wgpu_rnn::{CellKind, Precision, RnnConfig};
use wgpu_rnn::{Direction, RnnStack, StackConfig, StackWeights};
use wgpu_rnn::{Error, Result};

/// One benchmark configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchConfig {
    pub cell: CellKind,
    pub batch: usize,
    pub seq: usize,
    pub input: usize,
    pub hidden: usize,
    pub layers: usize,
    pub bidirectional: bool,
    pub warmup: usize,
    pub reps: usize,
    /// Also time each kernel family with timestamp queries (inference).
    pub profile: bool,
    /// Time a training step (forward keeping the tape, then backward)
    /// instead of an inference forward.
    pub train: bool,
    /// How the layers store their recurrent weights (f16: inference only).
    pub precision: Precision,
    /// How an inference forward orders the layers' steps.
    pub schedule: Schedule,
}

/// What a benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub median_s: f64,
    pub min_s: f64,
    pub reps: usize,
    /// Worst |GPU - reference| over the validated batch rows.
    pub max_abs_err: f64,
    /// FLOPs of one sequence (see [`forward_flops`]; 3x that for training).
    pub flops: f64,
    /// GPU time per kernel family of one profiled sequence (`profile`).
    pub profile: Option<KernelProfile>,
}

impl BenchResult {
    pub fn gflops(&self) -> f64 {
        self.flops / self.median_s / 1e9
    }
}

/// Forward FLOPs of a module over a sequence: the input GEMM and the
/// recurrent products, `2*G*H*(I_l+H)` per token, layer and direction; the
/// pointwise work is ignored (it is O(G*H) per token, not O(G*H*(I+H))).
pub fn forward_flops(config: &StackConfig, batch: usize, seq: usize) -> f64 {
    let tokens = (batch * seq) as f64;
    (0..config.num_layers)
        .map(|l| {
            let c = config.layer_config(l);
            let per_token = 2 * c.gate_rows() * (c.input_size + c.output_size())
                + c.proj_size.map_or(0, |p| 2 * p * c.hidden_size);
            (config.directions() * per_token) as f64 * tokens
        })
        .sum()
}

/// Training FLOPs: the forward's, plus twice that for the backward (the
/// state and input gradients, and the weight gradients, each one product
/// of the forward's size).
pub fn train_flops(config: &StackConfig, batch: usize, seq: usize) -> f64 {
    3.0 * forward_flops(config, batch, seq)
}

/// Batch rows checked against the f64 reference before timing: the
/// reference is plain loops, so large batches are validated on a sample.
const VALIDATED_ROWS: usize = 2;

/// Validates one forward pass against the reference, then times `reps`
/// whole sequences (each submitted and waited for).
pub fn run(gpu: &Gpu, cfg: &BenchConfig) -> Result<BenchResult> {
    let direction = if cfg.bidirectional {
        Direction::Bidirectional
    } else {
        Direction::Forward
    };
    let config = StackConfig::new(RnnConfig::new(cfg.cell, cfg.input, cfg.hidden)?)
        .with_layers(cfg.layers)
        .with_direction(direction);
    if cfg.batch == 0 || cfg.seq == 0 || cfg.reps == 0 {
        return Err(Error::ZeroSize {
            what: "batch, seq and reps".into(),
        });
    }
    if cfg.train && cfg.precision != Precision::F32 {
        return Err(crate::config_error(
            "bench precision",
            "f16 layers are for inference: time f16 with --mode infer",
        ));
    }
    // The reference runs on the weights the layers hold (rounded for f16),
    // so an f16 run is held to the same tolerance as an f32 one.
    let weights = StackWeights::random(config, 42, 1.0)?.rounded_for(cfg.precision)?;
    let layer =
        RnnStack::with_precision(gpu, &weights, cfg.precision)?.with_schedule(cfg.schedule)?;
    let width = config.output_size();
    let mut rng = SmallRng::seed_from_u64(7);
    let x: Vec<f32> = (0..cfg.seq * cfg.batch * cfg.input)
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect();
    let input = GpuTensor::from_slice(gpu, "input", &x, &[cfg.seq, cfg.batch, cfg.input])?;

    let got = layer.forward(&input, None, None, None)?.output.to_vec()?;
    let rows = cfg.batch.min(VALIDATED_ROWS);
    let gather = |data: &[f32], width: usize| -> Vec<f32> {
        (0..cfg.seq)
            .flat_map(|t| {
                data[t * cfg.batch * width..][..rows * width]
                    .iter()
                    .copied()
            })
            .collect()
    };
    let truth = reference::forward_stack(
        &weights,
        &gather(&x, cfg.input),
        cfg.seq,
        rows,
        None,
        None,
        None,
    )?;
    let tol = Tolerance::stack(&config, cfg.seq, truth.preactivation_scale);
    let agreement = compare(
        &format!("{} output (rows 0..{rows})", cfg.cell.name()),
        &truth.output,
        &gather(&got, width),
        &[cfg.seq, rows, width],
        tol,
    )
    .map_err(|m| Error::Config {
        what: "bench validation".into(),
        reason: format!("the GPU result is wrong, refusing to time it: {m}"),
    })?;

    if cfg.train {
        validate_training(&layer, &weights, &gather(&x, cfg.input), cfg.seq, rows)?;
    }
    // Training: gradient buffers and a random output cotangent, made once.
    let training = if cfg.train {
        let g_out: Vec<f32> = (0..cfg.seq * cfg.batch * width)
            .map(|_| rng.random_range(-1.0..=1.0))
            .collect();
        let shape = [cfg.seq, cfg.batch, width];
        Some((
            StackGrads::zeros(&layer)?,
            GpuTensor::from_slice(gpu, "grad_output", &g_out, &shape)?,
        ))
    } else {
        None
    };
    let mut times = Vec::with_capacity(cfg.reps);
    for rep in 0..cfg.warmup + cfg.reps {
        let start = Instant::now();
        let out = match &training {
            Some((grads, g_out)) => {
                let (out, tape) =
                    layer.forward_train(&input, None, None, None, TrainOptions::default())?;
                let seeds = Seeds {
                    output: Some(g_out),
                    ..Default::default()
                };
                layer.backward(&tape, seeds, grads, GradMode::Overwrite)?;
                out
            }
            None => layer.forward(&input, None, None, None)?,
        };
        gpu.device()
            .poll(wgpu_rnn::wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Wgpu {
                during: "waiting for the benchmark".into(),
                message: e.to_string(),
            })?;
        let elapsed = start.elapsed().as_secs_f64();
        drop(out);
        if rep >= cfg.warmup {
            times.push(elapsed);
        }
    }
    times.sort_by(f64::total_cmp);
    let profile = match (&training, cfg.profile) {
        (_, false) => None,
        (None, true) => Some(layer.forward_profiled(&input, None, None, None)?.1),
        (Some((grads, g_out)), true) => {
            let (_, tape, forward) =
                layer.forward_train_profiled(&input, None, None, None, TrainOptions::default())?;
            let seeds = Seeds {
                output: Some(g_out),
                ..Default::default()
            };
            let (_, backward) =
                layer.backward_profiled(&tape, seeds, grads, GradMode::Overwrite)?;
            Some(forward.then(&backward))
        }
    };
    Ok(BenchResult {
        median_s: times[times.len() / 2],
        min_s: times[0],
        reps: times.len(),
        max_abs_err: agreement.max_abs_err,
        flops: if cfg.train {
            train_flops(&config, cfg.batch, cfg.seq)
        } else {
            forward_flops(&config, cfg.batch, cfg.seq)
        },
        profile,
    })
}

/// Runs a training step of `weights` on `rows` batch rows (`x` `[T, rows,
/// I]`) and checks every gradient against the f64 reference backward
/// within [`wgpu_rnn::reference::check::gradient_bound`].
fn validate_training(
    gpu_stack: &RnnStack,
    weights: &StackWeights,
    x: &[f32],
    seq: usize,
    rows: usize,
) -> Result<()> {
    use wgpu_rnn::reference::backward::{backward, Cotangents};
    use wgpu_rnn::reference::check::{gradient_bound, relative_gradient_error};
    let config = *weights.config();
    let width = config.output_size();
    let g_out: Vec<f32> = (0..seq * rows * width)
        .map(|n| ((n % 7) as f32 - 3.0) / 3.0)
        .collect();
    let seeds = HostSeeds {
        output: Some(&g_out),
        ..Default::default()
    };
    let (_, got) = gpu_stack.train_step_host(
        x,
        seq,
        rows,
        None,
        None,
        None,
        seeds,
        TrainOptions::default(),
    )?;
    let problem = reference::Problem::new(weights, x, seq, rows, None, None, None)?;
    let slots = config.state_slots();
    let cot = Cotangents {
        output: g_out.iter().map(|&v| f64::from(v)).collect(),
        h_n: vec![0.0; slots * rows * config.layer.output_size()],
        c_n: vec![0.0; slots * rows * config.layer.hidden_size],
    };
    let want = backward(&problem, &cot);
    let bound = gradient_bound(&config, seq);
    let mut pairs: Vec<(String, &[f64], &[f32])> = vec![
        ("grad_input".into(), &want.input, &got.input),
        ("grad_h0".into(), &want.h0, &got.h0),
    ];
    if let Some(c0) = &got.c0 {
        pairs.push(("grad_c0".into(), &want.c0, c0));
    }
    for (slot, (w, g)) in want.params.iter().zip(&got.params).enumerate() {
        let optional = [
            ("bias_ih", &w.b_ih, &g.bias_ih),
            ("bias_hh", &w.b_hh, &g.bias_hh),
            ("peephole", &w.peephole, &g.peephole),
            ("weight_hr", &w.w_hr, &g.weight_hr),
        ];
        pairs.push((format!("weight_ih[{slot}]"), &w.w_ih, &g.weight_ih));
        pairs.push((format!("weight_hh[{slot}]"), &w.w_hh, &g.weight_hh));
        for (name, w, g) in optional {
            if let Some(g) = g {
                pairs.push((format!("{name}[{slot}]"), w, g));
            }
        }
    }
    for (name, w, g) in pairs {
        let err = relative_gradient_error(w, g.iter().map(|&v| f64::from(v)));
        if err > bound {
            return Err(Error::Config {
                what: "bench validation".into(),
                reason: format!(
                    "the GPU gradient {name} is off by {err:.3e} of its scale (bound {bound:.3e}), refusing to time it"
                ),
            });
        }
    }
    Ok(())
}
