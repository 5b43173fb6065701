//! `wgpu-rnn demo`: why gates matter. A vanilla RNN, an LSTM, a peephole
//! LSTM and a GRU of one size, trained the same way on the adding problem
//! and the copy task at a short and a long length, entirely on the GPU. The
//! loss curves go to a CSV and a picture, and a table says which cell solved
//! what. On the adding runs the gradient flow (the norm of d(loss)/d(x_t)
//! against t, before and after training) goes to a CSV and a picture: the
//! vanishing gradient the gates were invented to fix, measured by the
//! backward pass.

pub mod plot;
pub use wgpu_rnn_tasks::{tasks, trainer};

use std::time::Instant;

use rand::SeedableRng;
use wgpu_rnn_tasks::TaskRng;

use tasks::Task;
use trainer::{Setup, Trainer};
use wgpu_rnn::train::OptimizerConfig;
use wgpu_rnn::Gpu;
use wgpu_rnn::{CellKind, GruReset, Nonlinearity};
use wgpu_rnn::{Error, Result};

/// The cells the demo compares.
pub const CELLS: [CellKind; 4] = [
    CellKind::Rnn(Nonlinearity::Tanh),
    CellKind::Lstm,
    CellKind::PeepholeLstm,
    CellKind::Gru(GruReset::After),
];

/// Every run of the demo: each cell on each (task, length).
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub cells: Vec<CellKind>,
    /// `(task, t)` pairs, in order.
    pub tasks: Vec<(Task, usize)>,
    pub hidden: usize,
    pub batch: usize,
    /// Optimizer steps per run.
    pub steps: usize,
    /// Read the loss back every this many steps (a point on the curve).
    pub log_every: usize,
    pub lr: f32,
    pub max_grad_norm: f32,
    pub seed: u64,
}

impl DemoConfig {
    pub fn validated(self) -> Result<Self> {
        let positive = [
            ("hidden", self.hidden),
            ("batch", self.batch),
            ("steps", self.steps),
            ("log_every", self.log_every),
        ];
        if let Some((what, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(crate::config_error(
                format!("demo {what}"),
                "must be positive",
            ));
        }
        if let Some((task, t)) = self.tasks.iter().find(|(_, t)| *t < 2) {
            return Err(crate::config_error(
                format!("demo {} length", task.name()),
                format!("{t} is below 2"),
            ));
        }
        if self.cells.is_empty() || self.tasks.is_empty() {
            return Err(crate::config_error("demo", "no cells or no tasks to run"));
        }
        self.optimizer().validated()?;
        Ok(self)
    }

    pub fn optimizer(&self) -> OptimizerConfig {
        OptimizerConfig::adam(self.lr).with_max_grad_norm(self.max_grad_norm)
    }

    /// Every run in order.
    pub fn setups(&self) -> Vec<Setup> {
        let mut out = Vec::new();
        for &(task, t) in &self.tasks {
            for &cell in &self.cells {
                out.push(Setup {
                    cell,
                    task,
                    t,
                    hidden: self.hidden,
                    batch: self.batch,
                    optimizer: self.optimizer(),
                    seed: self.seed,
                });
            }
        }
        out
    }
}

/// The loss curve of one run.
#[derive(Debug, Clone)]
pub struct Curve {
    pub setup: Setup,
    /// `(step, loss)`, step counted from 1.
    pub points: Vec<(usize, f32)>,
    pub wall_s: f64,
    /// Adding runs: how the gradient reaches each input step.
    pub gradient_flow: Option<GradientFlow>,
}

/// Per time step, the batch mean of |d(loss)/d(x_t)| on one fixed batch
/// ([`Trainer::input_gradient_norms`]), before the first step and after the
/// last: whether the first marker's gradient survives the trip back.
#[derive(Debug, Clone)]
pub struct GradientFlow {
    pub init: Vec<f64>,
    pub trained: Vec<f64>,
}

/// Seeds the gradient-flow batch apart from the training batches.
const PROBE_SEED: u64 = 0x9_0b5e;

/// Points averaged for the final loss and the solved test: single batches
/// are noisy.
const SMOOTHING: usize = 5;

impl Curve {
    fn smoothed(&self) -> Vec<(usize, f64)> {
        (0..self.points.len())
            .map(|i| {
                let window = &self.points[i.saturating_sub(SMOOTHING - 1)..=i];
                let mean = window.iter().map(|p| f64::from(p.1)).sum::<f64>() / window.len() as f64;
                (self.points[i].0, mean)
            })
            .collect()
    }

    /// The mean loss of the last few points.
    pub fn final_loss(&self) -> f64 {
        self.smoothed().last().map_or(f64::NAN, |p| p.1)
    }

    /// The first step at which the smoothed loss is below the task's
    /// threshold, if any.
    pub fn steps_to_solve(&self) -> Option<usize> {
        let below = self.setup.task.solved_below();
        self.smoothed()
            .into_iter()
            .find(|&(_, l)| l < below)
            .map(|(s, _)| s)
    }
}

/// A cell's name in tables and files: [`CellKind::name`], `rnn` for the
/// tanh RNN.
pub fn cell_name(cell: CellKind) -> &'static str {
    match cell {
        CellKind::Rnn(Nonlinearity::Tanh) => "rnn",
        other => other.name(),
    }
}

/// Runs one setup for `steps`, calling `progress(step, last loss)` after
/// each step. A non-finite loss stops the run with an error.
pub fn train_run(
    gpu: &Gpu,
    setup: Setup,
    steps: usize,
    log_every: usize,
    data_seed: u64,
    mut progress: impl FnMut(usize, Option<f32>),
) -> Result<Curve> {
    let start = Instant::now();
    let mut trainer = Trainer::new(gpu, setup)?;
    let mut rng = TaskRng::seed_from_u64(data_seed);
    // The probe updates nothing: training runs as it would without it.
    let probe = (setup.task == Task::Adding).then(|| {
        let mut probe_rng = TaskRng::seed_from_u64(data_seed ^ PROBE_SEED);
        setup.task.batch(setup.t, setup.batch, &mut probe_rng)
    });
    let init = probe
        .as_ref()
        .map(|b| trainer.input_gradient_norms(b))
        .transpose()?;
    let mut points = Vec::new();
    for step in 1..=steps {
        let read = step % log_every == 0 || step == steps;
        let loss = trainer.step(&mut rng, read)?;
        if let Some(l) = loss {
            if !l.is_finite() {
                return Err(crate::config_error(
                    format!(
                        "{} on {} T={}",
                        cell_name(setup.cell),
                        setup.task.name(),
                        setup.t
                    ),
                    format!("the loss is {l} at step {step}: training diverged"),
                ));
            }
            points.push((step, l));
        }
        progress(step, loss);
    }
    let wall_s = start.elapsed().as_secs_f64();
    let gradient_flow = match (probe, init) {
        (Some(batch), Some(init)) => Some(GradientFlow {
            init,
            trained: trainer.input_gradient_norms(&batch)?,
        }),
        _ => None,
    };
    Ok(Curve {
        setup,
        points,
        wall_s,
        gradient_flow,
    })
}

/// The curves as CSV: `cell,task,T,step,loss`.
pub fn to_csv(curves: &[Curve]) -> String {
    let mut out = String::from("cell,task,T,step,loss\n");
    for c in curves {
        for &(step, loss) in &c.points {
            out.push_str(&format!(
                "{},{},{},{step},{loss}\n",
                cell_name(c.setup.cell),
                c.setup.task.name(),
                c.setup.t
            ));
        }
    }
    out
}

/// The gradient flows as CSV: `cell,task,T,when,t,norm` (`when`: `init`
/// or `trained`; `t` from 0, the first input step).
pub fn gradient_flow_csv(curves: &[Curve]) -> String {
    let mut out = String::from("cell,task,T,when,t,norm\n");
    for c in curves {
        let Some(flow) = &c.gradient_flow else {
            continue;
        };
        for (when, norms) in [("init", &flow.init), ("trained", &flow.trained)] {
            for (t, norm) in norms.iter().enumerate() {
                out.push_str(&format!(
                    "{},{},{},{when},{t},{norm:e}\n",
                    cell_name(c.setup.cell),
                    c.setup.task.name(),
                    c.setup.t
                ));
            }
        }
    }
    out
}

/// The final table (Markdown), one row per run.
pub fn summary_table(curves: &[Curve]) -> String {
    let mut out = format!(
        "| {:<13} | {:<6} | {:>4} | {:>10} | {:>6} | {:>14} | {:>6} |\n{}\n",
        "cell",
        "task",
        "T",
        "final loss",
        "chance",
        "steps to solve",
        "wall s",
        "|---|---|---:|---:|---:|---:|---:|"
    );
    for c in curves {
        let solved = c
            .steps_to_solve()
            .map_or_else(|| "not solved".to_string(), |s| s.to_string());
        out.push_str(&format!(
            "| {:<13} | {:<6} | {:>4} | {:>10.4} | {:>6.3} | {:>14} | {:>6.1} |\n",
            cell_name(c.setup.cell),
            c.setup.task.name(),
            c.setup.t,
            c.final_loss(),
            c.setup.task.chance_loss(),
            solved,
            c.wall_s
        ));
    }
    out
}

/// Every run of `config` in order, with `bar` counting steps and showing
/// the current loss.
pub fn run_all(gpu: &Gpu, config: &DemoConfig, bar: &indicatif::ProgressBar) -> Result<Vec<Curve>> {
    let setups = config.setups();
    bar.set_length((setups.len() * config.steps) as u64);
    let mut curves = Vec::new();
    for (i, setup) in setups.into_iter().enumerate() {
        let label = format!(
            "{} {} T={}",
            cell_name(setup.cell),
            setup.task.name(),
            setup.t
        );
        bar.set_message(label.clone());
        let data_seed = setup.task.data_seed(config.seed, setup.t);
        let curve = train_run(
            gpu,
            setup,
            config.steps,
            config.log_every,
            data_seed,
            |_, loss| {
                bar.inc(1);
                if let Some(l) = loss {
                    bar.set_message(format!("{label} loss {l:.4}"));
                }
            },
        )?;
        let line = format!(
            "[{}/{}] {label}: final loss {:.4} ({}), {:.1} s",
            i + 1,
            config.cells.len() * config.tasks.len(),
            curve.final_loss(),
            curve.steps_to_solve().map_or_else(
                || "not solved".to_string(),
                |s| format!("solved at step {s}")
            ),
            curve.wall_s
        );
        // A hidden bar (output not a terminal) drops its println.
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
        curves.push(curve);
    }
    Ok(curves)
}

/// Writes `loss_curves.csv`, `loss_curves.svg`, `summary.md` and, with
/// adding runs, `gradient_flow.csv` and `gradient_flow.svg` into `dir`, the
/// pictures under `caption`; returns their paths.
pub fn write_outputs(
    curves: &[Curve],
    caption: &str,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>> {
    let file_error = |path: &std::path::Path, e: std::io::Error| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let csv = dir.join("loss_curves.csv");
    std::fs::write(&csv, to_csv(curves)).map_err(|e| file_error(&csv, e))?;
    let svg = dir.join("loss_curves.svg");
    plot::write_svg(curves, caption, &svg)?;
    let md = dir.join("summary.md");
    std::fs::write(&md, summary_table(curves)).map_err(|e| file_error(&md, e))?;
    let mut written = vec![csv, svg, md];
    if curves.iter().any(|c| c.gradient_flow.is_some()) {
        let csv = dir.join("gradient_flow.csv");
        std::fs::write(&csv, gradient_flow_csv(curves)).map_err(|e| file_error(&csv, e))?;
        let svg = dir.join("gradient_flow.svg");
        plot::write_gradient_svg(curves, caption, &svg)?;
        written.extend([csv, svg]);
    }
    Ok(written)
}
