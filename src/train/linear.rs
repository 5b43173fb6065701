//! `Linear`: a dense layer `y = x Wᵀ + b` on the device (PyTorch's
//! `nn.Linear`), forward and backward, built on the GEMM and the column sums.
//! The output head of a recurrent model.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{element_count, Error, Result};
use crate::gpu::recorder::{IntoEncoder, Plain, Submit};
use crate::gpu::tensor::{checked_bytes, storage_buffer, GpuTensor};
use crate::gpu::Gpu;
use crate::kernels::dispatch::record_all;
use crate::kernels::gemm::{gemm, GemmLayout, GemmParams};
use crate::kernels::reduce::{column_sums, Columns};
use crate::pass::GradMode;

/// A dense layer with `weight` `[O, I]` and `bias` `[O]`.
#[derive(Debug, Clone)]
pub struct Linear {
    gpu: Gpu,
    in_features: usize,
    out_features: usize,
    weight: GpuTensor,
    bias: GpuTensor,
    /// `[I]` zeros: the bias operand of the gradient GEMMs.
    zeros: wgpu::Buffer,
}

/// Gradients of a [`Linear`]'s parameters.
#[derive(Debug, Clone)]
pub struct LinearGrads {
    /// `[O, I]`
    pub weight: GpuTensor,
    /// `[O]`
    pub bias: GpuTensor,
}

impl LinearGrads {
    /// Zero gradients shaped like `linear`'s parameters.
    pub fn zeros(linear: &Linear) -> Result<Self> {
        let (i, o) = (linear.in_features, linear.out_features);
        Ok(Self {
            weight: GpuTensor::zeros(&linear.gpu, "grad linear weight", &[o, i])?,
            bias: GpuTensor::zeros(&linear.gpu, "grad linear bias", &[o])?,
        })
    }
}

impl Linear {
    /// Uploads `weight` `[O, I]` and `bias` `[O]`.
    pub fn new(
        gpu: &Gpu,
        (in_features, out_features): (usize, usize),
        weight: &[f32],
        bias: &[f32],
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::ZeroSize {
                what: format!("linear layer {in_features} -> {out_features}"),
            });
        }
        Ok(Self {
            gpu: gpu.clone(),
            in_features,
            out_features,
            weight: GpuTensor::from_slice(
                gpu,
                "linear weight",
                weight,
                &[out_features, in_features],
            )?,
            bias: GpuTensor::from_slice(gpu, "linear bias", bias, &[out_features])?,
            zeros: storage_buffer(gpu, "zero bias", in_features)?,
        })
    }

    /// PyTorch's default initialisation: every parameter uniform in
    /// `±1/sqrt(I)`, from a seeded generator.
    pub fn random(
        gpu: &Gpu,
        (in_features, out_features): (usize, usize),
        seed: u64,
    ) -> Result<Self> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let k = 1.0 / (in_features.max(1) as f32).sqrt();
        let mut fill =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-k..=k)).collect() };
        // Refused before the host fills it.
        let n = element_count("linear weight", &[out_features, in_features])?;
        checked_bytes(gpu, "linear weight", n)?;
        let weight = fill(n);
        let bias = fill(out_features);
        Self::new(gpu, (in_features, out_features), &weight, &bias)
    }

    /// `I`: values per input row.
    pub fn in_features(&self) -> usize {
        self.in_features
    }
    /// `O`: values per output row.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
    /// `[O, I]`
    pub fn weight(&self) -> &GpuTensor {
        &self.weight
    }
    /// `[O]`
    pub fn bias(&self) -> &GpuTensor {
        &self.bias
    }

    /// Rows of `x` `[.., I]` (every leading axis flattened).
    fn rows_of(&self, what: &str, x: &GpuTensor) -> Result<usize> {
        x.check_device(&self.gpu, what, "layer")?;
        match x.shape().split_last() {
            Some((&last, lead)) if last == self.in_features => match lead.iter().product() {
                0 => Err(Error::ZeroSize {
                    what: format!("{what} rows {:?}", x.shape()),
                }),
                rows => Ok(rows),
            },
            _ => {
                let mut want = x.shape().to_vec();
                *want.last_mut().unwrap_or(&mut 0) = self.in_features;
                Err(Error::shape(what, &want, x.shape()))
            }
        }
    }

    /// `y = x Wᵀ + b` for `x` `[.., I]`: `[.., O]`. One submit.
    pub fn forward(&self, x: &GpuTensor) -> Result<GpuTensor> {
        self.forward_as(x, Plain)
    }

    /// [`Linear::forward`] recorded into the app's `encoder` (nothing
    /// submitted or waited for).
    pub fn record_forward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        x: &GpuTensor,
    ) -> Result<GpuTensor> {
        self.forward_as(x, IntoEncoder(encoder))
    }

    fn forward_as<S: Submit>(&self, x: &GpuTensor, how: S) -> Result<GpuTensor> {
        let rows = self.rows_of("linear input", x)?;
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("rows_of checked the shape") = self.out_features;
        let y = GpuTensor::zeros(&self.gpu, "linear output", &shape)?;
        let params = GemmParams::new(rows, self.out_features, self.in_features);
        let product = gemm(
            &self.gpu,
            params,
            GemmLayout::default(),
            x,
            &self.weight,
            &self.bias,
            &y,
        )?;
        record_all(&self.gpu, "linear forward", "linear", &[product], how)?;
        Ok(y)
    }

    /// The backward of [`Linear::forward`] at input `x` for the cotangent
    /// `grad_y` `[.., O]`: writes (or adds, per `mode`) `dW = dyᵀ x` and
    /// `db = Σ dy` into `grads` and returns `dx = dy W`. One submit.
    pub fn backward(
        &self,
        x: &GpuTensor,
        grad_y: &GpuTensor,
        grads: &LinearGrads,
        mode: GradMode,
    ) -> Result<GpuTensor> {
        self.backward_as(x, grad_y, grads, mode, Plain)
    }

    /// [`Linear::backward`] recorded into the app's `encoder`.
    pub fn record_backward(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        x: &GpuTensor,
        grad_y: &GpuTensor,
        grads: &LinearGrads,
        mode: GradMode,
    ) -> Result<GpuTensor> {
        self.backward_as(x, grad_y, grads, mode, IntoEncoder(encoder))
    }

    fn backward_as<S: Submit>(
        &self,
        x: &GpuTensor,
        grad_y: &GpuTensor,
        grads: &LinearGrads,
        mode: GradMode,
        how: S,
    ) -> Result<GpuTensor> {
        let (i, o) = (self.in_features, self.out_features);
        let rows = self.rows_of("linear input", x)?;
        let mut y_shape = x.shape().to_vec();
        *y_shape.last_mut().expect("rows_of checked the shape") = o;
        let check =
            |what: &str, t: &GpuTensor, shape: &[usize]| t.check(&self.gpu, what, "layer", shape);
        check("linear grad_y", grad_y, &y_shape)?;
        check("grad linear weight", &grads.weight, &[o, i])?;
        check("grad linear bias", &grads.bias, &[o])?;
        // The products write the gradients and read x and grad_y.
        for (written, w) in [
            ("grad linear weight", &grads.weight),
            ("grad linear bias", &grads.bias),
        ] {
            w.check_apart_from(written, x, "the linear input")?;
            w.check_apart_from(written, grad_y, "the linear grad_y")?;
        }
        let accumulate = mode == GradMode::Accumulate;
        let grad_x = GpuTensor::zeros(&self.gpu, "linear grad_x", x.shape())?;
        let dispatches = [
            // dW [O, I] = dyᵀ [O, N] · x [N, I]: both operands stored transposed.
            gemm(
                &self.gpu,
                GemmParams::new(o, i, rows),
                GemmLayout {
                    trans_a: true,
                    trans_b: true,
                    accumulate,
                },
                grad_y,
                x,
                &self.zeros,
                &grads.weight,
            )?,
            column_sums(
                &self.gpu,
                (rows, o),
                Columns::dense(grad_y, o),
                None,
                accumulate,
                &grads.bias,
                0,
            )?,
            // dx [N, I] = dy [N, O] · W [O, I].
            gemm(
                &self.gpu,
                GemmParams::new(rows, i, o),
                GemmLayout {
                    trans_b: true,
                    ..Default::default()
                },
                grad_y,
                &self.weight,
                &self.zeros,
                &grad_x,
            )?,
        ];
        record_all(&self.gpu, "linear backward", "linear", &dispatches, how)?;
        Ok(grad_x)
    }

    /// Host copies of `(weight, bias)`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_host(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        pollster::block_on(self.to_host_async())
    }

    /// [`Linear::to_host`] without blocking the thread.
    pub async fn to_host_async(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((
            self.weight.to_vec_async().await?,
            self.bias.to_vec_async().await?,
        ))
    }
}
