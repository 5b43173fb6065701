//! Gradients against the f64 reference's, shared by the native backward
//! tests (`training.rs`) and the browser suite (`web/tests/check`, which
//! includes this file by path): plain host code, nothing that waits.

use wgpu_rnn::reference::backward::Gradients;
use wgpu_rnn::reference::check::relative_gradient_error;
use wgpu_rnn::train::{HostGradients, TrainOptions};
use wgpu_rnn::StackConfig;

/// [`relative_gradient_error`], after checking every gradient is finite.
pub fn relative_error(name: &str, want: &[f64], got: &[f32]) -> f64 {
    assert_eq!(want.len(), got.len(), "{name}: length");
    if let Some(g) = got.iter().find(|g| !g.is_finite()) {
        panic!("{name}: non-finite gradient {g}");
    }
    relative_gradient_error(want, got.iter().map(|&g| f64::from(g)))
}

/// The worst [`relative_error`] over every gradient: the input's, the
/// states' and each slot's parameters (`BACKWARD_DETAIL` prints each).
pub fn worst_gradient_error(
    label: &str,
    config: &StackConfig,
    want: &Gradients,
    got: &HostGradients,
) -> f64 {
    let mut worst: f64 = 0.0;
    let mut cmp = |name: &str, w: &[f64], g: &[f32]| {
        let e = relative_error(&format!("{label} {name}"), w, g);
        if std::env::var_os("BACKWARD_DETAIL").is_some() {
            eprintln!("  {name}: {e:.3e}");
        }
        worst = worst.max(e);
    };
    cmp("grad_input", &want.input, &got.input);
    cmp("grad_h0", &want.h0, &got.h0);
    if let Some(c0) = &got.c0 {
        cmp("grad_c0", &want.c0, c0);
    }
    for (slot, (w, g)) in want.params.iter().zip(&got.params).enumerate() {
        let at = |n: &str| format!("{n} slot {slot}");
        cmp(&at("weight_ih"), &w.w_ih, &g.weight_ih);
        cmp(&at("weight_hh"), &w.w_hh, &g.weight_hh);
        assert_eq!(g.bias_ih.is_some(), config.layer.bias);
        if let (Some(bi), Some(bh)) = (&g.bias_ih, &g.bias_hh) {
            cmp(&at("bias_ih"), &w.b_ih, bi);
            cmp(&at("bias_hh"), &w.b_hh, bh);
        }
        if let Some(p) = &g.peephole {
            cmp(&at("peephole"), &w.peephole, p);
        }
        if let Some(p) = &g.weight_hr {
            cmp(&at("weight_hr"), &w.w_hr, p);
        }
    }
    worst
}

/// The dropout masks a training forward with `options` applies between
/// layers, as the reference's `Problem::dropout` takes them (one factor per
/// output element of each layer but the last).
pub fn reference_dropout(
    config: &StackConfig,
    options: TrainOptions,
    seq: usize,
    batch: usize,
) -> Vec<Vec<f64>> {
    (0..config.num_layers.saturating_sub(1))
        .filter_map(|l| options.mask(l, config.num_layers))
        .map(|mask| {
            (0..seq * batch * config.output_size())
                .map(|n| f64::from(mask.factor(n)))
                .collect()
        })
        .collect()
}
