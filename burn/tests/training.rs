//! Our layers inside Burn graphs: inputs that share buffers with other
//! tensors, two layers of one shape in one graph, and a whole training
//! loop with Burn's Adam against the same loop on Burn's own layers.

mod common;

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Tensor;
use common::*;
use wgpu_rnn_burn::Accelerated;

/// Inputs that are views: a slice at an offset into a larger tensor's
/// buffer, a strided slice, and the lazily fused result of earlier ops.
#[test]
fn inputs_sharing_buffers_match_burn() {
    let dev = device().autodiff();
    let lstm = seeded(LstmConfig::new(3, 5, true).init(&dev), 60);
    type View = fn(Tensor<3>) -> Tensor<3>;
    let views: [(&str, View); 3] = [
        ("rows 1..3 (an offset view)", |big| big.slice([1..3, 0..6])),
        ("steps 2..5 (strided)", |big| big.slice([0..4, 2..5])),
        ("2*x + 1 (fused, pending)", |big| big * 2.0 + 1.0),
    ];
    for (what, view) in views {
        // Each graph has its own leaf: Burn's backward consumes its graph.
        let big = uniform([4, 6, 3], 1.0, 61, &dev).require_grad();
        // And each its own view (a node of one graph only).
        let x = view(big.clone());
        assert_eq!(lstm.fallback_reason(&x), None);
        let (y, s) = lstm.forward_accelerated(x, None);
        let (yb, sb) = lstm.forward(view(big.clone()), None);
        assert_close(&format!("{what}: y"), &y, &yb, TOL);
        assert_close(&format!("{what}: c_n"), &s.cell, &sb.cell, TOL);
        let g = (y * 3.0).sum().backward();
        let gb = (yb * 3.0).sum().backward();
        assert_leaf_grad(&format!("{what}: d big"), &big, (&g, &gb));
    }
}

/// Two layers of one shape in one graph: each keeps its own weights for
/// its backward (they are lent different engines), and the second reads
/// the first's output, a tensor our operation made.
#[test]
fn stacked_layers_of_one_shape_keep_their_own_weights() {
    let dev = device().autodiff();
    let first = seeded(LstmConfig::new(6, 6, true).init(&dev), 70);
    let second = seeded(LstmConfig::new(6, 6, true).init(&dev), 71);
    let x = uniform([2, 5, 6], 1.0, 72, &dev).require_grad();
    let (y1, _) = first.forward_accelerated(x.clone(), None);
    let (y, _) = second.forward_accelerated(y1, None);
    let (yb1, _) = first.forward(x.clone(), None);
    let (yb, _) = second.forward(yb1, None);
    assert_close("y", &y, &yb, TOL);
    let g = (y * 3.0).sum().backward();
    let gb = (yb * 3.0).sum().backward();
    assert_leaf_grad("dx", &x, (&g, &gb));
    for (n, m) in [("first", &first), ("second", &second)] {
        let params = gate_params(n, &m.input_gate);
        assert_param_grads(n, &params, &g, &params, &gb, TOL);
    }
}

#[derive(Module, Debug)]
struct Model {
    lstm: Lstm,
    head: Linear,
}

impl Model {
    /// The last step's hidden state through the head.
    fn forward(&self, x: Tensor<3>, ours: bool) -> Tensor<2> {
        let (_, state) = match ours {
            true => self.lstm.forward_accelerated(x, None),
            false => self.lstm.forward(x, None),
        };
        self.head.forward(state.hidden)
    }
}

/// 50 steps of Burn's Adam on MSE (predict each sequence's mean and its
/// last value) from the same weights, with our layer and with Burn's: the
/// losses agree to float32 rounding accumulated over the steps, and both
/// learn.
#[test]
fn fifty_adam_steps_follow_burns_losses() {
    let dev = device().autodiff();
    let init = Model {
        lstm: LstmConfig::new(2, 16, true).init(&dev),
        head: LinearConfig::new(16, 2).init(&dev),
    };
    let init = seeded(init, 80);
    let x = uniform([8, 6, 2], 1.0, 81, &dev);
    let target = Tensor::cat(
        vec![
            x.clone()
                .slice([0..8, 0..6, 0..1])
                .mean_dim(1)
                .reshape([8, 1]),
            x.clone().slice([0..8, 5..6, 1..2]).reshape([8, 1]),
        ],
        1,
    );
    let train = |ours: bool| {
        let mut model = init.clone();
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..50 {
            let loss = MseLoss::new().forward(
                model.forward(x.clone(), ours),
                target.clone(),
                Reduction::Mean,
            );
            losses.push(values(&loss)[0]);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        losses
    };
    let (ours, burn) = (train(true), train(false));
    for (step, (a, b)) in ours.iter().zip(&burn).enumerate() {
        // Rounding differences grow with each update: 1e-5 at the start,
        // up to 1e-3 relative by step 50.
        let tol = 1e-5 + 2e-5 * step as f32;
        assert!(
            (a - b).abs() <= tol * b.abs().max(1e-2),
            "step {step}: loss {a} (ours) against {b} (Burn)"
        );
    }
    assert!(
        ours[49] < 0.5 * ours[0],
        "learned: {} -> {}",
        ours[0],
        ours[49]
    );
    if std::env::var_os("REPORT_ERRORS").is_some() {
        eprintln!("losses ours {ours:?}\nlosses burn {burn:?}");
    }
}
