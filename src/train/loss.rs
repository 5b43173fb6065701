//! Losses on the device: mean squared error and softmax cross-entropy. Each
//! returns its mean and its gradient with respect to the prediction, from
//! one submit; only the scalar, when the caller reads it, leaves the GPU.

use crate::error::{Error, Result};
use crate::gpu::recorder::{IntoEncoder, Plain, Submit};
use crate::gpu::tensor::{storage_buffer, storage_buffer_of, GpuTensor};
use crate::gpu::Gpu;
use crate::kernels::dispatch::{record_all, Dispatch};
use crate::kernels::loss::loss_terms;
use crate::kernels::sum::{finish_sum, partial_count, partial_sums, Finish};
use crate::kernels::Kernel;

/// A class target that counts for nothing (PyTorch's `ignore_index`).
pub const IGNORE_INDEX: u32 = u32::MAX;

/// A loss's mean over the counted elements and its gradient.
#[derive(Debug, Clone)]
pub struct Loss {
    /// `[1]`
    pub value: GpuTensor,
    /// Shaped like the prediction.
    pub grad: GpuTensor,
}

impl Loss {
    /// Reads the mean back (the one value a training loop shows).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn value_host(&self) -> Result<f32> {
        pollster::block_on(self.value_host_async())
    }

    /// [`Loss::value_host`] without blocking the thread.
    pub async fn value_host_async(&self) -> Result<f32> {
        Ok(self.value.to_vec_async().await?[0])
    }
}

/// Class indices `[N]` on the device for [`cross_entropy_loss`].
#[derive(Debug)]
pub struct ClassTargets {
    gpu: Gpu,
    buffer: wgpu::Buffer,
    len: usize,
    classes: usize,
    counted: usize,
}

impl ClassTargets {
    /// Uploads `targets`, each below `classes` or [`IGNORE_INDEX`]; at least
    /// one must count (a mean over nothing is undefined).
    pub fn from_slice(gpu: &Gpu, targets: &[u32], classes: usize) -> Result<Self> {
        if let Some((i, t)) = targets
            .iter()
            .enumerate()
            .find(|(_, &t)| t != IGNORE_INDEX && t as usize >= classes)
        {
            return Err(Error::config(
                format!("class target {i}"),
                format!("{t} is not below the {classes} classes (nor IGNORE_INDEX)"),
            ));
        }
        let counted = targets.iter().filter(|&&t| t != IGNORE_INDEX).count();
        if counted == 0 {
            return Err(Error::config(
                "class targets",
                "every target is IGNORE_INDEX: the mean loss is undefined",
            ));
        }
        Ok(Self {
            gpu: gpu.clone(),
            buffer: storage_buffer_of(gpu, "class targets", targets)?,
            len: targets.len(),
            classes,
            counted,
        })
    }

    /// `N`: the number of targets, ignored ones included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Targets that are not [`IGNORE_INDEX`]: the mean's denominator.
    pub fn counted(&self) -> usize {
        self.counted
    }
}

/// `mean((pred - target)²)` over every element (PyTorch's `mse_loss` with
/// `reduction="mean"`); `pred` and `target` have one shape.
pub fn mse_loss(pred: &GpuTensor, target: &GpuTensor) -> Result<Loss> {
    mse_loss_as(pred, target, Plain)
}

/// [`mse_loss`] recorded into the app's `encoder` (nothing submitted or
/// waited for).
pub fn record_mse_loss(
    encoder: &mut wgpu::CommandEncoder,
    pred: &GpuTensor,
    target: &GpuTensor,
) -> Result<Loss> {
    mse_loss_as(pred, target, IntoEncoder(encoder))
}

fn mse_loss_as<S: Submit>(pred: &GpuTensor, target: &GpuTensor, how: S) -> Result<Loss> {
    let gpu = pred.gpu();
    target.check(gpu, "MSE target", "prediction", pred.shape())?;
    let n = pred.len();
    if n == 0 {
        return Err(Error::ZeroSize {
            what: format!("MSE prediction {:?}", pred.shape()),
        });
    }
    let grad = GpuTensor::zeros(gpu, "MSE gradient", pred.shape())?;
    let squared = storage_buffer(gpu, "squared errors", n)?;
    let scale = 1.0 / n as f32;
    let terms = loss_terms(
        gpu,
        Kernel::MseLoss,
        (n, 1),
        scale,
        [
            ("pred", pred.into()),
            ("target_values", target.into()),
            ("grad", (&grad).into()),
            ("squared", (&squared).into()),
        ],
    )?;
    mean_of_terms(gpu, terms, &squared, n, scale, grad, how)
}

/// Softmax cross-entropy of `logits` `[.., C]` against one class per row
/// (PyTorch's `cross_entropy` with `reduction="mean"` and `ignore_index`):
/// the mean over the rows whose target counts.
pub fn cross_entropy_loss(logits: &GpuTensor, targets: &ClassTargets) -> Result<Loss> {
    cross_entropy_loss_as(logits, targets, Plain)
}

/// [`cross_entropy_loss`] recorded into the app's `encoder`.
pub fn record_cross_entropy_loss(
    encoder: &mut wgpu::CommandEncoder,
    logits: &GpuTensor,
    targets: &ClassTargets,
) -> Result<Loss> {
    cross_entropy_loss_as(logits, targets, IntoEncoder(encoder))
}

fn cross_entropy_loss_as<S: Submit>(
    logits: &GpuTensor,
    targets: &ClassTargets,
    how: S,
) -> Result<Loss> {
    let gpu = logits.gpu();
    if !targets.gpu.same_device(gpu) {
        return Err(Error::config(
            "class targets",
            "live on another device than the logits",
        ));
    }
    if logits.is_empty() {
        return Err(Error::ZeroSize {
            what: format!("logits {:?}", logits.shape()),
        });
    }
    let classes = *logits.shape().last().unwrap_or(&0);
    let rows = logits.len() / classes.max(1);
    if classes != targets.classes || rows != targets.len {
        return Err(Error::shape(
            "logits",
            &[targets.len, targets.classes],
            logits.shape(),
        ));
    }
    let grad = GpuTensor::zeros(gpu, "cross-entropy gradient", logits.shape())?;
    let row_loss = storage_buffer(gpu, "row losses", rows)?;
    let scale = 1.0 / targets.counted as f32;
    let terms = loss_terms(
        gpu,
        Kernel::CrossEntropy,
        (rows, classes),
        scale,
        [
            ("logits", logits.into()),
            ("targets", (&targets.buffer).into()),
            ("grad", (&grad).into()),
            ("row_loss", (&row_loss).into()),
        ],
    )?;
    mean_of_terms(gpu, terms, &row_loss, rows, scale, grad, how)
}

/// Runs `terms` (which fills `terms_buffer` and the gradient), then reduces
/// the `len` terms to `scale * sum`: one submit.
fn mean_of_terms<S: Submit>(
    gpu: &Gpu,
    terms: Dispatch,
    terms_buffer: &wgpu::Buffer,
    len: usize,
    scale: f32,
    grad: GpuTensor,
    how: S,
) -> Result<Loss> {
    let value = GpuTensor::zeros(gpu, "loss", &[1])?;
    let partials = storage_buffer(gpu, "loss partial sums", partial_count(len))?;
    let dispatches = [
        terms,
        partial_sums(gpu, terms_buffer.into(), len, false, &partials, 0)?,
        finish_sum(
            gpu,
            &partials,
            partial_count(len),
            Finish::Scaled(scale),
            value.buffer(),
        )?,
    ];
    record_all(gpu, "loss", "loss", &dispatches, how)?;
    Ok(Loss { value, grad })
}
