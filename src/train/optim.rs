//! Optimizers on the device: SGD with momentum and Adam, with optional
//! clipping by the global gradient norm. A step is one submit: the norm
//! (when clipping), every parameter's update in place, and the recurrent
//! layers' repacking. Nothing is read back.

use crate::cells::Layer;
use crate::error::{Error, Result};
use crate::gpu::recorder::{submit, IntoEncoder, Recorder, Submit};
use crate::gpu::tensor::{storage_buffer, GpuTensor};
use crate::gpu::Gpu;
use crate::kernels::dispatch::Dispatch;
use crate::kernels::optimizer::{update, OptimizerStep, UpdateBuffers};
use crate::kernels::sum::{finish_sum, partial_count, partial_sums, Finish};
use crate::model::{RnnStack, StackGrads};
use crate::train::linear::{Linear, LinearGrads};

/// The update rule, with PyTorch's defaults in [`OptimizerConfig::sgd`] and
/// [`OptimizerConfig::adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// `buf = momentum*buf + g; p -= lr*buf` (or `lr*(g + momentum*buf)`
    /// with Nesterov).
    Sgd {
        /// Momentum factor in `[0, 1)`; 0 is plain SGD.
        momentum: f32,
        /// Whether to use Nesterov momentum.
        nesterov: bool,
    },
    /// Adam (Kingma & Ba) with bias-corrected moments, PyTorch's form.
    Adam {
        /// Decay of the first moment, in `[0, 1)`.
        beta1: f32,
        /// Decay of the second moment, in `[0, 1)`.
        beta2: f32,
        /// Added to the second moment's root in the denominator.
        eps: f32,
    },
}

/// An optimizer's update rule and hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Learning rate.
    pub lr: f32,
    /// L2 penalty added to the gradient: `g + weight_decay * p`.
    pub weight_decay: f32,
    /// Scale the gradients by `min(1, max/(norm + 1e-6))` first, `norm` over
    /// every registered gradient (PyTorch's `clip_grad_norm_`).
    pub max_grad_norm: Option<f32>,
}

impl OptimizerConfig {
    /// SGD with `momentum` (0 for none), no Nesterov, no weight decay.
    pub fn sgd(lr: f32, momentum: f32) -> Self {
        Self {
            kind: OptimizerKind::Sgd {
                momentum,
                nesterov: false,
            },
            lr,
            weight_decay: 0.0,
            max_grad_norm: None,
        }
    }

    /// Adam with betas (0.9, 0.999) and eps 1e-8.
    pub fn adam(lr: f32) -> Self {
        Self {
            kind: OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            lr,
            weight_decay: 0.0,
            max_grad_norm: None,
        }
    }

    /// The same config clipping the global gradient norm to `max_norm`.
    pub fn with_max_grad_norm(mut self, max_norm: f32) -> Self {
        self.max_grad_norm = Some(max_norm);
        self
    }

    /// Checks that every hyper-parameter is finite and in range.
    pub fn validated(self) -> Result<Self> {
        let bad = |what: &str, v: f32, range: &str| {
            Err(Error::config(
                format!("optimizer {what}"),
                format!("{v} is not {range}"),
            ))
        };
        let in_unit = |v: f32| (0.0..1.0).contains(&v);
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr, "finite and positive");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay, "finite and >= 0");
        }
        if let Some(m) = self.max_grad_norm {
            if !(m.is_finite() && m > 0.0) {
                return bad("max_grad_norm", m, "finite and positive");
            }
        }
        match self.kind {
            OptimizerKind::Sgd { momentum, .. } if !in_unit(momentum) => {
                bad("momentum", momentum, "in [0, 1)")
            }
            OptimizerKind::Adam { beta1, .. } if !in_unit(beta1) => {
                bad("beta1", beta1, "in [0, 1)")
            }
            OptimizerKind::Adam { beta2, .. } if !in_unit(beta2) => {
                bad("beta2", beta2, "in [0, 1)")
            }
            OptimizerKind::Adam { eps, .. } if !(eps.is_finite() && eps > 0.0) => {
                bad("eps", eps, "finite and positive")
            }
            _ => Ok(self),
        }
    }

    /// The step-dependent values of step `t` (1-based).
    fn step_values(&self, t: u64) -> OptimizerStep {
        let mut s = OptimizerStep {
            lr: self.lr,
            weight_decay: self.weight_decay,
            bias_correction1: 1.0,
            bias_correction2_sqrt: 1.0,
            ..Default::default()
        };
        match self.kind {
            OptimizerKind::Sgd { momentum, .. } => s.momentum = momentum,
            OptimizerKind::Adam { beta1, beta2, eps } => {
                let power = |b: f32| f64::from(b).powf(t as f64);
                s.momentum = beta1;
                s.beta2 = beta2;
                s.eps = eps;
                s.bias_correction1 = (1.0 - power(beta1)) as f32;
                s.bias_correction2_sqrt = (1.0 - power(beta2)).sqrt() as f32;
            }
        }
        s
    }
}

/// One registered parameter with its gradient and state.
struct Slot {
    /// The name it was registered under.
    what: String,
    param: GpuTensor,
    grad: GpuTensor,
    /// SGD: momentum buffer; Adam: first moment.
    m: wgpu::Buffer,
    /// Adam: second moment.
    v: Option<wgpu::Buffer>,
}

/// Steps whose values one table of [`Optimizer::record_step`] holds
/// (32 bytes each).
const STEP_TABLE_LEN: u64 = 1024;

/// An optimizer over a fixed set of (parameter, gradient) pairs, updating in
/// place on the device.
pub struct Optimizer {
    gpu: Gpu,
    config: OptimizerConfig,
    slots: Vec<Slot>,
    /// Recurrent layers whose kernel layouts follow their parameters.
    layers: Vec<Layer>,
    steps: u64,
    step_uniform: wgpu::Buffer,
    /// The step values of [`STEP_TABLE_LEN`] steps from the first, which
    /// [`Optimizer::record_step`] copies from: made once per so many
    /// steps, not per step, and never written (an encoder may hold many
    /// steps' copies before it is submitted).
    step_table: Option<(u64, wgpu::Buffer)>,
    /// `(norm, coefficient)` of the last clipped step; `(0, 1)` unclipped.
    clip: GpuTensor,
    placeholder: wgpu::Buffer,
    /// Built on the first step after the last registration.
    dispatches: Option<Vec<Dispatch>>,
}

impl Optimizer {
    /// An optimizer with no parameters registered yet.
    pub fn new(gpu: &Gpu, config: OptimizerConfig) -> Result<Self> {
        let config = config.validated()?;
        let step_uniform = gpu.create_buffer(&wgpu::BufferDescriptor {
            label: Some("optimizer step"),
            size: size_of::<OptimizerStep>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Self {
            gpu: gpu.clone(),
            config,
            slots: Vec::new(),
            layers: Vec::new(),
            steps: 0,
            step_uniform,
            step_table: None,
            clip: GpuTensor::from_slice(
                gpu,
                "gradient norm and clip coefficient",
                &[0.0, 1.0],
                &[2],
            )?,
            placeholder: storage_buffer(gpu, "unused second moment", 1)?,
            dispatches: None,
        })
    }

    /// The update rule and hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Registers `param`, updated from `grad` (same shape and device).
    pub fn add(&mut self, what: &str, param: &GpuTensor, grad: &GpuTensor) -> Result<()> {
        self.check_new(&[(what, param, grad)])?;
        self.push(what, param, grad)
    }

    /// Checks pairs about to be registered, before any is: on the device,
    /// of one shape, bindable, not empty, and none registered already (or
    /// twice among them).
    fn check_new(&self, pairs: &[(&str, &GpuTensor, &GpuTensor)]) -> Result<()> {
        let same =
            |a: &GpuTensor, b: &GpuTensor| a.buffer() == b.buffer() && a.offset() == b.offset();
        for (n, &(what, param, grad)) in pairs.iter().enumerate() {
            param.check_device(&self.gpu, what, "optimizer")?;
            grad.check(
                &self.gpu,
                &format!("gradient of {what}"),
                "optimizer",
                param.shape(),
            )?;
            if param.is_empty() {
                return Err(Error::ZeroSize {
                    what: format!("parameter {what}"),
                });
            }
            // PyTorch refuses this too: it would be updated twice per step.
            let earlier = self
                .slots
                .iter()
                .map(|s| (s.what.as_str(), &s.param, &s.grad))
                .chain(pairs[..n].iter().map(|&(w, p, g)| (w, p, g)));
            if same(param, grad) {
                return Err(Error::config(what, "is its own gradient"));
            }
            // The update kernel writes the parameter and reads the gradient.
            param.check_apart_from(what, grad, "its gradient")?;
            for (first, p, g) in earlier {
                if same(p, param) {
                    return Err(Error::config(
                        what,
                        format!("is registered twice in the optimizer (first as {first})"),
                    ));
                }
                if same(g, grad) {
                    return Err(Error::config(
                        format!("gradient of {what}"),
                        format!("is already the gradient of {first}"),
                    ));
                }
                if same(g, param) || same(p, grad) {
                    return Err(Error::config(
                        what,
                        format!("shares its buffer with {first} or its gradient"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Registers a checked pair.
    fn push(&mut self, what: &str, param: &GpuTensor, grad: &GpuTensor) -> Result<()> {
        let adam = matches!(self.config.kind, OptimizerKind::Adam { .. });
        let n = param.len();
        self.slots.push(Slot {
            what: what.to_string(),
            param: param.clone(),
            grad: grad.clone(),
            m: storage_buffer(&self.gpu, &format!("{what} first moment"), n)?,
            v: adam
                .then(|| storage_buffer(&self.gpu, &format!("{what} second moment"), n))
                .transpose()?,
        });
        self.dispatches = None;
        Ok(())
    }

    /// Registers every parameter of `stack` with its gradient in `grads`;
    /// each step also rebuilds the layers' kernel layouts.
    pub fn add_stack(&mut self, stack: &RnnStack, grads: &StackGrads) -> Result<()> {
        if grads.layers().len() != stack.device.layers.len() {
            return Err(Error::config(
                "stack gradients",
                format!(
                    "{} layer-directions for a stack of {}",
                    grads.layers().len(),
                    stack.device.layers.len()
                ),
            ));
        }
        let mut pairs = Vec::new();
        for (slot, (layer, g)) in stack.device.layers.iter().zip(grads.layers()).enumerate() {
            let params = layer.parameters().named();
            let grads = g.named();
            if params.len() != grads.len() {
                return Err(Error::config(
                    format!("gradients of layer-direction {slot}"),
                    "do not match the layer's parameters",
                ));
            }
            for ((kind, p), (_, g)) in params.into_iter().zip(grads) {
                pairs.push((format!("{kind}[{slot}]"), p, g));
            }
        }
        // All checked before any is registered: a refusal changes nothing.
        let named: Vec<_> = pairs.iter().map(|(w, p, g)| (w.as_str(), *p, *g)).collect();
        self.check_new(&named)?;
        for (what, p, g) in named {
            self.push(what, p, g)?;
        }
        self.layers.extend(stack.device.layers.iter().cloned());
        Ok(())
    }

    /// Registers a dense layer's weight and bias.
    pub fn add_linear(&mut self, linear: &Linear, grads: &LinearGrads) -> Result<()> {
        let pairs = [
            ("linear weight", linear.weight(), &grads.weight),
            ("linear bias", linear.bias(), &grads.bias),
        ];
        self.check_new(&pairs)?;
        for (what, p, g) in pairs {
            self.push(what, p, g)?;
        }
        Ok(())
    }

    fn build(&self) -> Result<Vec<Dispatch>> {
        let gpu = &self.gpu;
        let mut out = Vec::new();
        if let Some(max_norm) = self.config.max_grad_norm {
            let total: usize = self.slots.iter().map(|s| partial_count(s.grad.len())).sum();
            let partials = storage_buffer(gpu, "gradient norm partials", total)?;
            let mut offset = 0;
            for s in &self.slots {
                out.push(partial_sums(
                    gpu,
                    (&s.grad).into(),
                    s.grad.len(),
                    true,
                    &partials,
                    offset,
                )?);
                offset += partial_count(s.grad.len());
            }
            let finish = Finish::ClipCoefficient { max_norm };
            out.push(finish_sum(
                gpu,
                &partials,
                total,
                finish,
                self.clip.buffer(),
            )?);
        }
        let (adam, nesterov) = match self.config.kind {
            OptimizerKind::Sgd { nesterov, .. } => (false, nesterov),
            OptimizerKind::Adam { .. } => (true, false),
        };
        for s in &self.slots {
            let buffers = UpdateBuffers {
                step: (&self.step_uniform).into(),
                param: (&s.param).into(),
                grad: (&s.grad).into(),
                m: (&s.m).into(),
                v: s.v.as_ref().unwrap_or(&self.placeholder).into(),
                clip: (&self.clip).into(),
            };
            out.push(update(gpu, s.param.len(), adam, nesterov, buffers)?);
        }
        Ok(out)
    }

    /// One step over every registered parameter from its current gradient.
    pub fn step(&mut self) -> Result<()> {
        let step = self.prepare_step()?;
        let values = self.config.step_values(step);
        self.gpu
            .queue()
            .write_buffer(&self.step_uniform, 0, bytemuck::bytes_of(&values));
        let done = submit(&self.gpu, "optimizer step", |rec| self.record(rec));
        self.finish_step(step, done)
    }

    /// Every registered parameter was written in place: tapes of earlier
    /// forwards are stale.
    fn bump_versions(&self) {
        self.slots.iter().for_each(|s| s.param.bump());
    }

    /// [`Optimizer::step`] recorded into the app's `encoder` (nothing
    /// submitted or waited for); it counts as taken. The step's values
    /// (Adam's bias corrections) are copied in by the recording from a
    /// small buffer made for it, so several steps may share one encoder.
    pub fn record_step(&mut self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let step = self.prepare_step()?;
        let first = match &self.step_table {
            Some((first, _)) if (*first..first + STEP_TABLE_LEN).contains(&step) => *first,
            _ => {
                let values: Vec<OptimizerStep> = (step..step + STEP_TABLE_LEN)
                    .map(|t| self.config.step_values(t))
                    .collect();
                let table = self
                    .gpu
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("optimizer step values"),
                        contents: bytemuck::cast_slice(&values),
                        usage: wgpu::BufferUsages::COPY_SRC,
                    });
                self.step_table = Some((step, table));
                step
            }
        };
        let table = &self.step_table.as_ref().expect("made above").1;
        let size = size_of::<OptimizerStep>() as u64;
        encoder.copy_buffer_to_buffer(table, (step - first) * size, &self.step_uniform, 0, size);
        let done =
            IntoEncoder(encoder).submit(&self.gpu, "optimizer step", &|rec| self.record(rec));
        self.finish_step(step, done)
    }

    /// After a step was submitted or recorded: the parameters may have been
    /// written whatever `done` says (tapes of earlier forwards are stale
    /// either way); the step counts once it went through.
    fn finish_step(&mut self, step: u64, done: Result<()>) -> Result<()> {
        self.bump_versions();
        done?;
        self.steps = step;
        Ok(())
    }

    /// Checks there is something to update, builds the dispatches after a
    /// registration; the number the next step will have.
    fn prepare_step(&mut self) -> Result<u64> {
        if self.slots.is_empty() {
            return Err(Error::config("optimizer", "no parameters registered"));
        }
        if self.dispatches.is_none() {
            self.dispatches = Some(self.build()?);
        }
        Ok(self.steps + 1)
    }

    /// Records one step: the clipping norm, every update, then the layers'
    /// repacks, which read the updated parameters.
    fn record(&self, rec: &mut Recorder<'_>) {
        rec.run("optimizer", |pass| {
            self.dispatches
                .iter()
                .flatten()
                .for_each(|d| d.record(pass))
        });
        rec.run("weight rebuild", |pass| {
            self.layers
                .iter()
                .flat_map(Layer::repack_dispatches)
                .for_each(|d| d.record(pass))
        });
    }

    /// `(norm, coefficient)` of the last step's gradients when clipping:
    /// the global norm before clipping and the factor applied.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn last_clip(&self) -> Result<(f32, f32)> {
        pollster::block_on(self.last_clip_async())
    }

    /// [`Optimizer::last_clip`] without blocking the thread.
    pub async fn last_clip_async(&self) -> Result<(f32, f32)> {
        let v = self.clip.to_vec_async().await?;
        Ok((v[0], v[1]))
    }
}
