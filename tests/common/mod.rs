//! Shared by the GPU tests: one device per test binary, random data, and the
//! GPU-vs-reference check. A missing adapter fails the test loudly: these
//! tests never skip.
#![allow(dead_code)]

pub mod gradients;
pub mod options;
pub mod training;

use std::sync::OnceLock;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use wgpu_rnn::reference::check::{compare, Agreement, Tolerance};
use wgpu_rnn::{reference, Gpu, Precision, Rnn, RnnWeights};

/// A device of the default adapter with some [`wgpu_rnn::AdapterSelector`]
/// fields set (the rest from the environment), made once per test binary.
macro_rules! device {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $value:expr,)* }) => {
        $(#[$doc])*
        pub fn $name() -> &'static Gpu {
            static GPU: OnceLock<Gpu> = OnceLock::new();
            GPU.get_or_init(|| {
                let sel = wgpu_rnn::AdapterSelector {
                    $($field: $value,)*
                    ..wgpu_rnn::AdapterSelector::from_env()
                };
                let gpu = Gpu::with_selector(&sel)
                    .unwrap_or_else(|e| panic!("GPU tests need a wgpu adapter: {e}"));
                announce(stringify!($name), &gpu);
                gpu
            })
        }
    };
}

pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::new().unwrap_or_else(|e| {
            panic!("GPU tests need a wgpu adapter and must not be skipped: {e}")
        });
        announce("gpu", &gpu);
        gpu
    })
}

/// Whether `gpu` runs f16 weights. Where the device lacks `SHADER_F16` it
/// checks the refusal instead (an f16 layer is an [`wgpu_rnn::Error::Config`]
/// naming the feature), says so on stderr, and returns false: the caller's
/// f16 checks have nothing to run there.
pub fn f16_runs(gpu: &Gpu, test: &str) -> bool {
    use std::io::Write;
    if gpu.capabilities().shader_f16 {
        return true;
    }
    let config = wgpu_rnn::RnnConfig::new(wgpu_rnn::CellKind::Lstm, 2, 3).unwrap();
    let weights = RnnWeights::random(config, 1, 1.0).unwrap();
    match Rnn::with_precision(gpu, &weights, Precision::F16) {
        Err(wgpu_rnn::Error::Config { reason, .. }) if reason.contains("SHADER_F16") => {}
        Err(e) => panic!("f16 without SHADER_F16: wrong error: {e}"),
        Ok(_) => panic!("an f16 layer was made on a device without SHADER_F16"),
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "[{}] {test}: no SHADER_F16 on {}: checked that f16 layers are refused",
        env!("CARGO_CRATE_NAME"),
        gpu.describe()
    );
    false
}

/// One line per device a test binary makes: the adapter and the kernel
/// paths it runs, so a run on another driver says what it tested. Written
/// to stderr directly, past the harness's output capture.
pub fn announce(device: &str, gpu: &Gpu) {
    use std::io::Write;
    let caps = gpu.capabilities();
    let paths = gpu.tuning().to_string().replace('\n', "; ");
    let _ = writeln!(
        std::io::stderr().lock(),
        "[{}] {device}: {} | f16={} subgroup={} | {paths}",
        env!("CARGO_CRATE_NAME"),
        gpu.describe(),
        caps.shader_f16,
        caps.subgroup,
    );
}

device! {
    /// A second device with the step kernels' workgroup tiles forced on, so the
    /// GPU code path is tested on CPU adapters too (they default to direct
    /// reads), and one dispatch per step (small LSTMs default to the persistent
    /// kernel there), streams layer by layer (small ones default to the
    /// fused step).
    tiled_gpu {
        step_tiles: Some(true),
        persistent: Some(false),
        fused_stream: Some(false),
    }
}

device! {
    /// A device whose streams run the fused step (one dispatch per call for
    /// the whole stack) for every batch and number of steps (CPU adapters
    /// take it for single steps of one row only).
    fused_gpu {
        fused_stream: Some(true),
    }
}

device! {
    /// The fused stream step with the subgroup kernels off: its weights read
    /// from a storage buffer, as GPUs run it (`fused_gpu` fetches them as
    /// texels on CPU adapters with 8-lane subgroups).
    fused_plain_gpu {
        fused_stream: Some(true),
        subgroup_kernels: Some(false),
    }
}

device! {
    /// A device with the persistent LSTM kernel forced on (CPU adapters default
    /// to one dispatch per step), so that path is tested here too; streams
    /// layer by layer, so theirs run it.
    persistent_gpu {
        persistent: Some(true),
        fused_stream: Some(false),
    }
}

device! {
    /// The persistent LSTM kernel forced on with the subgroup kernels off: the
    /// kernel reading its weights from a storage buffer, as GPUs run it
    /// (`persistent_gpu` reads them as texels on CPU adapters with 8-lane
    /// subgroups).
    persistent_plain_gpu {
        persistent: Some(true),
        subgroup_kernels: Some(false),
    }
}

device! {
    /// One dispatch per step with the default kernels: on CPU adapters with
    /// 8-lane subgroups, `lstm_step_subgroup` (small LSTMs would otherwise run
    /// the persistent kernel).
    per_step_gpu {
        persistent: Some(false),
    }
}

device! {
    /// One dispatch per step with the subgroup kernels off: what CPU adapters
    /// without 8-lane subgroups run (`lstm_step` with direct reads, `gemm_dot8`).
    plain_gpu {
        persistent: Some(false),
        subgroup_kernels: Some(false),
    }
}

pub fn random_vec(rng: &mut SmallRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..=scale)).collect()
}

/// One GPU-vs-reference case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub seq: usize,
    pub batch: usize,
    pub input_scale: f32,
    pub with_h0: bool,
    pub with_c0: bool,
    pub seed: u64,
}

impl Case {
    pub fn new(seq: usize, batch: usize) -> Self {
        Case {
            seq,
            batch,
            input_scale: 1.0,
            with_h0: false,
            with_c0: false,
            seed: 1,
        }
    }
}

/// Runs `weights` on the GPU and in the reference and compares output, h_n
/// and c_n with [`Tolerance::recurrent`]. Returns the worst agreement.
pub fn check_against_reference(weights: &RnnWeights, case: Case) -> Agreement {
    check_against_reference_on(gpu(), weights, case)
}

/// [`check_against_reference`] on a given device.
pub fn check_against_reference_on(gpu: &Gpu, weights: &RnnWeights, case: Case) -> Agreement {
    check_against_reference_at(gpu, weights, case, Precision::F32)
}

/// [`check_against_reference_on`] with a layer of `precision`, against the
/// reference on the weights that layer holds (`rounded_for(precision)`).
pub fn check_against_reference_at(
    gpu: &Gpu,
    weights: &RnnWeights,
    case: Case,
    precision: Precision,
) -> Agreement {
    let weights = &weights
        .clone()
        .rounded_for(precision)
        .expect("weights in range");
    let cfg = *weights.config();
    let (t, b, h) = (case.seq, case.batch, cfg.hidden_size);
    let mut rng = SmallRng::seed_from_u64(case.seed);
    let input = random_vec(&mut rng, t * b * cfg.input_size, case.input_scale);
    let h0 = case.with_h0.then(|| random_vec(&mut rng, b * h, 1.0));
    let c0 = (case.with_c0 && cfg.cell.has_cell_state()).then(|| random_vec(&mut rng, b * h, 1.0));

    let layer = Rnn::with_precision(gpu, weights, precision).expect("upload weights");
    let got = layer
        .forward_host(&input, t, b, h0.as_deref(), c0.as_deref())
        .expect("GPU forward");
    let want = reference::forward(weights, &input, t, b, h0.as_deref(), c0.as_deref())
        .expect("reference forward");

    let tol = Tolerance::recurrent(cfg.input_size + h, t, want.preactivation_scale);
    let label = format!(
        "{} {} {:?} I={} H={}",
        cfg.cell.name(),
        precision.name(),
        case,
        cfg.input_size,
        h
    );
    let mut worst = vec![];
    let mut check = |what: &str, r: &[f64], g: &[f32], dims: &[usize]| match compare(
        &format!("{label} {what}"),
        r,
        g,
        dims,
        tol,
    ) {
        Ok(a) => worst.push(a),
        Err(m) => panic!("{m}"),
    };
    check("output", &want.output, &got.output, &[t, b, h]);
    check("h_n", &want.h_n, &got.h_n, &[1, b, h]);
    match (&want.c_n, &got.c_n) {
        (Some(r), Some(g)) => check("c_n", r, g, &[1, b, h]),
        (None, None) => {}
        _ => panic!("{label}: c_n present on one side only"),
    }
    let a = worst
        .into_iter()
        .max_by(|a, b| a.worst_ratio.total_cmp(&b.worst_ratio))
        .unwrap();
    eprintln!(
        "{label}: max |err| {:.3e}, worst err/tol {:.3e} (atol {:.3e}, scale {:.3e})",
        a.max_abs_err, a.worst_ratio, tol.atol, want.preactivation_scale
    );
    a
}

/// One whole-module case: GPU vs the f64 reference on random data.
#[derive(Debug, Clone)]
pub struct StackCase {
    pub seq: usize,
    pub batch: usize,
    pub lengths: Option<Vec<usize>>,
    pub with_h0: bool,
    pub with_c0: bool,
    pub seed: u64,
}

/// Runs `weights` on the GPU and in the reference and compares output, h_n
/// and c_n with [`Tolerance::recurrent`] (k counts the widest layer input).
pub fn check_stack(weights: &wgpu_rnn::StackWeights, case: &StackCase) -> Agreement {
    check_stack_on(gpu(), weights, case)
}

/// [`check_stack`] on a given device.
pub fn check_stack_on(gpu: &Gpu, weights: &wgpu_rnn::StackWeights, case: &StackCase) -> Agreement {
    check_stack_at(gpu, weights, case, Precision::F32)
}

/// [`check_stack_on`] with layers of `precision` (see
/// [`check_against_reference_at`]).
pub fn check_stack_at(
    gpu: &Gpu,
    weights: &wgpu_rnn::StackWeights,
    case: &StackCase,
    precision: Precision,
) -> Agreement {
    check_stack_scheduled(gpu, weights, case, precision, wgpu_rnn::Schedule::Layered)
}

/// [`check_stack_at`] with the stack running its forward in `schedule`.
pub fn check_stack_scheduled(
    gpu: &Gpu,
    weights: &wgpu_rnn::StackWeights,
    case: &StackCase,
    precision: Precision,
    schedule: wgpu_rnn::Schedule,
) -> Agreement {
    let weights = &weights
        .clone()
        .rounded_for(precision)
        .expect("weights in range");
    let cfg = *weights.config();
    let (t, b) = (case.seq, case.batch);
    let (h, ho, slots) = (
        cfg.layer.hidden_size,
        cfg.layer.output_size(),
        cfg.state_slots(),
    );
    let mut rng = SmallRng::seed_from_u64(case.seed);
    let input = random_vec(&mut rng, t * b * cfg.layer.input_size, 1.0);
    let h0 = case
        .with_h0
        .then(|| random_vec(&mut rng, slots * b * ho, 1.0));
    let c0 = (case.with_c0 && cfg.layer.cell.has_cell_state())
        .then(|| random_vec(&mut rng, slots * b * h, 1.0));
    let lengths = case.lengths.as_deref();

    let stack = wgpu_rnn::RnnStack::with_precision(gpu, weights, precision)
        .expect("upload weights")
        .with_schedule(schedule)
        .expect("a schedule the stack can run");
    let got = stack
        .forward_host(&input, t, b, h0.as_deref(), c0.as_deref(), lengths)
        .expect("GPU forward");
    let want =
        reference::forward_stack(weights, &input, t, b, h0.as_deref(), c0.as_deref(), lengths)
            .expect("reference");

    let tol = Tolerance::stack(&cfg, t, want.preactivation_scale);
    let label = format!(
        "{} {} {} {:?} {case:?} tiles={}",
        cfg.layer.cell.name(),
        precision.name(),
        schedule.name(),
        cfg,
        gpu.tuning().step_tiles()
    );
    let out_dims = if cfg.batch_first {
        [b, t, cfg.output_size()]
    } else {
        [t, b, cfg.output_size()]
    };
    let mut results = vec![
        compare(
            &format!("{label} output"),
            &want.output,
            &got.output,
            &out_dims,
            tol,
        ),
        compare(
            &format!("{label} h_n"),
            &want.h_n,
            &got.h_n,
            &[slots, b, ho],
            tol,
        ),
    ];
    match (&want.c_n, &got.c_n) {
        (Some(r), Some(g)) => {
            results.push(compare(&format!("{label} c_n"), r, g, &[slots, b, h], tol))
        }
        (None, None) => {}
        _ => panic!("{label}: c_n present on one side only"),
    }
    let mut worst: Option<Agreement> = None;
    for r in results {
        let a = r.unwrap_or_else(|m| panic!("{m}"));
        if worst.is_none_or(|w| a.worst_ratio > w.worst_ratio) {
            worst = Some(a);
        }
    }
    let a = worst.unwrap();
    eprintln!(
        "{label}: max |err| {:.3e}, err/tol {:.3e}",
        a.max_abs_err, a.worst_ratio
    );
    a
}

device! {
    /// [`per_step_gpu`] with the subgroup step kernels reading their row
    /// operand as texels at any length (by default only long rows do, so small
    /// tests would never run that path).
    row_texels_gpu {
        persistent: Some(false),
        row_texels: Some(true),
    }
}

device! {
    /// The default device with the per-step params as uniforms at dynamic
    /// offsets instead of immediates.
    uniform_params_gpu {
        immediates: Some(false),
    }
}
