//! Shared by the tests: one shared device, seeded data, and comparisons
//! that name what differs.
#![allow(dead_code)]

use std::sync::OnceLock;

use burn::nn::GateController;
use burn::tensor::Gradients;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// The device Burn and our kernels share (lavapipe on CI). Fails loudly,
/// never skips, when there is no adapter.
pub fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            wgpu_rnn_burn::init().expect("a wgpu adapter (lavapipe on CI): wgpu_rnn_burn::init")
        })
        .clone()
}

/// Values in `[-scale, scale]` from a fixed seed.
pub fn uniform<const D: usize>(
    dims: [usize; D],
    scale: f32,
    seed: u64,
    device: &Device,
) -> Tensor<D> {
    let n: usize = dims.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, dims), device)
}

pub fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), device)
}

pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

/// Asserts `|ours - burn| <= tol * max(1, max |burn|)` elementwise (both
/// sides round in f32, in other orders; the error of a sum scales with
/// its largest terms, so with the tensor's magnitude); names `what` and the
/// worst element on failure. Returns the largest difference.
pub fn assert_close<const D: usize>(
    what: &str,
    ours: &Tensor<D>,
    burn: &Tensor<D>,
    tol: f32,
) -> f32 {
    assert_eq!(ours.dims(), burn.dims(), "{what}: shapes");
    let (a, b) = (values(ours), values(burn));
    let magnitude = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    let mut worst = (0.0f32, 0usize);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.is_finite(), "{what}[{i}] = {x}");
        let diff = (x - y).abs();
        if diff > worst.0 || diff.is_nan() {
            worst = (diff, i);
        }
    }
    if std::env::var_os("REPORT_ERRORS").is_some() {
        eprintln!("ERR {what}: {:e} of {magnitude:e}", worst.0);
    }
    assert!(
        worst.0 <= tol * magnitude,
        "{what}: element {} is {} (ours) against {} (Burn), off by {:e}, more than {tol:e} of {magnitude:e}",
        worst.1, a[worst.1], b[worst.1], worst.0
    );
    worst.0
}

/// Of the largest magnitude (see `assert_close`): float32 rounding of a
/// few steps, measured at most 1.2e-7 here; a wrong term is off by O(1).
pub const TOL: f32 = 1e-5;

/// Asserts a leaf's gradient under our graph (`ours`) matches Burn's.
pub fn assert_leaf_grad<const D: usize>(
    what: &str,
    leaf: &Tensor<D>,
    (ours, burn): (&Gradients, &Gradients),
) -> f32 {
    let grad = |g| {
        leaf.grad(g)
            .unwrap_or_else(|| panic!("{what}: no gradient"))
    };
    assert_close(what, &grad(ours), &grad(burn), TOL)
}

/// Every parameter of a gate with its name, for gradient comparisons.
pub fn gate_params(name: &str, g: &GateController) -> Vec<(String, ParamRef)> {
    let mut out = Vec::new();
    for (kind, l) in [
        ("input", &g.input_transform),
        ("hidden", &g.hidden_transform),
    ] {
        out.push((format!("{name}.{kind}.weight"), ParamRef::W(l.weight.val())));
        if let Some(b) = &l.bias {
            out.push((format!("{name}.{kind}.bias"), ParamRef::B(b.val())));
        }
    }
    out
}

pub enum ParamRef {
    W(Tensor<2>),
    B(Tensor<1>),
}

/// Compares the gradients of two modules' matching parameters; returns the
/// largest absolute difference.
pub fn assert_param_grads(
    what: &str,
    ours: &[(String, ParamRef)],
    ours_grads: &Gradients,
    burn: &[(String, ParamRef)],
    burn_grads: &Gradients,
    tol: f32,
) -> f32 {
    assert_eq!(ours.len(), burn.len());
    let mut worst = 0.0f32;
    for ((name, a), (_, b)) in ours.iter().zip(burn) {
        worst = worst.max(match (a, b) {
            (ParamRef::W(a), ParamRef::W(b)) => assert_close(
                &format!("{what} d {name}"),
                &a.grad(ours_grads)
                    .unwrap_or_else(|| panic!("no gradient for {name}")),
                &b.grad(burn_grads).expect("Burn's gradient"),
                tol,
            ),
            (ParamRef::B(a), ParamRef::B(b)) => assert_close(
                &format!("{what} d {name}"),
                &a.grad(ours_grads)
                    .unwrap_or_else(|| panic!("no gradient for {name}")),
                &b.grad(burn_grads).expect("Burn's gradient"),
                tol,
            ),
            _ => unreachable!("same modules"),
        });
    }
    worst
}

/// Replaces every parameter with seeded values of about Burn's initial
/// scale (`1/sqrt(fan)`), so a test sees the same weights on every run.
pub struct Seeded(pub u64);

impl burn::module::ModuleMapper for Seeded {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        self.0 += 1;
        let seed = self.0;
        param.map(|t| {
            let dims = t.dims();
            let scale = 1.0 / (dims[0] as f32).sqrt().max(1.0);
            let tracked = t.is_require_grad();
            uniform(dims, scale, seed, &t.device()).set_require_grad(tracked)
        })
    }
}

/// `module` with seeded parameters.
pub fn seeded<M: burn::module::Module>(module: M, seed: u64) -> M {
    module.map(&mut Seeded(seed * 1000))
}
