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
pub fn uniform<const D: usize>(dims: [usize; D], scale: f32, seed: u64, device: &Device) -> Tensor<D> {
    let n: usize = dims.iter().product();
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, dims), device)
}

pub fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), device)
}

pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

/// Largest `|a - b| / (atol + rtol*|b|)`; a failure above 1 names `what`.
pub fn assert_close<const D: usize>(what: &str, ours: &Tensor<D>, burn: &Tensor<D>, atol: f32, rtol: f32) -> f32 {
    assert_eq!(ours.dims(), burn.dims(), "{what}: shapes");
    let (a, b) = (values(ours), values(burn));
    let mut worst = (0.0f32, 0usize, 0.0f32);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.is_finite(), "{what}[{i}] = {x}");
        let diff = (x - y).abs();
        let ratio = diff / (atol + rtol * y.abs());
        if ratio > worst.0 {
            worst = (ratio, i, diff);
        }
    }
    assert!(
        worst.0 <= 1.0,
        "{what}: element {} is {} (ours) against {} (Burn), off by {:e} (atol {atol:e}, rtol {rtol:e})",
        worst.1, a[worst.1], b[worst.1], worst.2
    );
    worst.2
}

/// Every parameter of a gate with its name, for gradient comparisons.
pub fn gate_params(name: &str, g: &GateController) -> Vec<(String, ParamRef)> {
    let mut out = Vec::new();
    for (kind, l) in [("input", &g.input_transform), ("hidden", &g.hidden_transform)] {
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
    ours: &[(String, ParamRef)],
    ours_grads: &Gradients,
    burn: &[(String, ParamRef)],
    burn_grads: &Gradients,
    (atol, rtol): (f32, f32),
) -> f32 {
    assert_eq!(ours.len(), burn.len());
    let mut worst = 0.0f32;
    for ((name, a), (_, b)) in ours.iter().zip(burn) {
        worst = worst.max(match (a, b) {
            (ParamRef::W(a), ParamRef::W(b)) => assert_close(
                &format!("d {name}"),
                &a.grad(ours_grads).unwrap_or_else(|| panic!("no gradient for {name}")),
                &b.grad(burn_grads).expect("Burn's gradient"),
                atol,
                rtol,
            ),
            (ParamRef::B(a), ParamRef::B(b)) => assert_close(
                &format!("d {name}"),
                &a.grad(ours_grads).unwrap_or_else(|| panic!("no gradient for {name}")),
                &b.grad(burn_grads).expect("Burn's gradient"),
                atol,
                rtol,
            ),
            _ => unreachable!("same modules"),
        });
    }
    worst
}
