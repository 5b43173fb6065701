//! The kernels' activation functions, measured in ulp against f64. Single
//! unit layers with unit input weights and no recurrence expose them
//! directly: an RNN-tanh's output is `tanh(x)`, an LSTM's `c_n` from `c0 = 0`
//! with `g` pinned to 1 is `σ(x)`. The sweep covers tiny, moderate and
//! saturating inputs, where built-in implementations go wrong (cancellation
//! near 0, inf/inf beyond |x| ~ 44).

mod common;

use common::gpu;
use wgpu_rnn::{CellKind, Nonlinearity, Rnn, RnnConfig, RnnWeights};

fn sweep() -> Vec<f32> {
    let mut xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 0.003).collect();
    for e in -30..=4 {
        let v = 10f32.powi(e);
        xs.extend([v, -v, 1.7 * v, -1.7 * v]);
    }
    xs.extend([
        0.0, 0.29999, 0.3, 0.30001, 9.99, 10.0, 10.01, 50.0, -50.0, 1e4, -1e4, 3e38, -3e38,
    ]);
    xs
}

/// Distance in units of the f32 spacing at the reference value.
fn ulps(reference: f64, got: f32) -> f64 {
    let r = reference as f32;
    if r == got {
        return 0.0;
    }
    let spacing = f64::from(f32::from_bits(r.abs().to_bits() + 1) - r.abs())
        .max(f64::from(f32::MIN_POSITIVE));
    (reference - f64::from(got)).abs() / spacing
}

fn run_batch(weights: &RnnWeights, xs: &[f32]) -> wgpu_rnn::HostOutput {
    // T = 1, one batch row per value.
    let layer = Rnn::new(gpu(), weights).unwrap();
    layer.forward_host(xs, 1, xs.len(), None, None).unwrap()
}

#[test]
fn tanh_is_within_4_ulp_and_exact_when_saturated() {
    let config = RnnConfig::new(CellKind::Rnn(Nonlinearity::Tanh), 1, 1)
        .unwrap()
        .with_bias(false);
    let weights = RnnWeights::new(config, vec![1.0], vec![0.0], None, None, None).unwrap();
    let xs = sweep();
    let out = run_batch(&weights, &xs).output;
    let mut worst = (0.0, 0.0f32);
    for (&x, &got) in xs.iter().zip(&out) {
        let want = f64::from(x).tanh();
        let u = ulps(want, got);
        assert!(
            u <= 4.0,
            "tanh({x:e}) = {got:e}, want {want:e} ({u:.1} ulp)"
        );
        if x.abs() > 10.0 {
            assert_eq!(got, x.signum(), "tanh({x:e}) must be exactly ±1");
        }
        if u > worst.0 {
            worst = (u, x);
        }
    }
    eprintln!("tanh: worst {:.2} ulp at x = {:e}", worst.0, worst.1);
}

#[test]
fn sigmoid_is_within_the_exp_bound_and_exact_when_saturated() {
    // LSTM gates i, f, g, o: i sees x; g is pinned to tanh(20) = 1 by its
    // bias; f and o see nothing. From c0 = 0: c_n = σ(x) * 1 exactly.
    let config = RnnConfig::new(CellKind::Lstm, 1, 1).unwrap();
    let weights = RnnWeights::new(
        config,
        vec![1.0, 0.0, 0.0, 0.0],
        vec![0.0; 4],
        Some(vec![0.0, 0.0, 20.0, 0.0]),
        Some(vec![0.0; 4]),
        None,
    )
    .unwrap();
    let xs: Vec<f32> = sweep()
        .into_iter()
        .filter(|x| x.abs() < 80.0 || x.abs() > 1e3)
        .collect();
    let c_n = run_batch(&weights, &xs).c_n.unwrap();
    let mut worst = (0.0, 0.0f32);
    for (&x, &got) in xs.iter().zip(&c_n) {
        let x64 = f64::from(x);
        let want = if x64 >= 0.0 {
            1.0 / (1.0 + (-x64).exp())
        } else {
            x64.exp() / (1.0 + x64.exp())
        };
        let u = ulps(want, got);
        // For x < 0 the result is e^x/(1+e^x): WGSL allows exp an error of
        // 3 + 2|x| ulp (argument reduction through exp2 in f32), and lavapipe
        // uses it; sigmoid adds at most 2 more.
        let allowed = if x < 0.0 {
            5.0 + 2.0 * f64::from(x.abs())
        } else {
            4.0
        };
        assert!(
            u <= allowed,
            "sigmoid({x:e}) = {got:e}, want {want:e} ({u:.1} ulp, allowed {allowed})"
        );
        if x >= 1e3 {
            assert_eq!(got, 1.0, "sigmoid({x:e}) must be exactly 1");
        }
        if x <= -1e3 {
            assert_eq!(got, 0.0, "sigmoid({x:e}) must be exactly 0");
        }
        if u > worst.0 {
            worst = (u, x);
        }
    }
    eprintln!("sigmoid: worst {:.2} ulp at x = {:e}", worst.0, worst.1);
}
