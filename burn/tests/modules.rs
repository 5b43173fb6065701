//! Burn's own modules against the same modules on our kernels: outputs,
//! final states and every gradient (input, initial states, each
//! parameter), Burn's autodiff being the reference. Sizes 1, 3 and 67,
//! with and without states, batch-first and not, saturating inputs.

mod common;

use burn::nn::activation::ActivationConfig;
use burn::nn::{
    BiGruConfig, BiLstmConfig, BiRnnConfig, GruConfig, HardSigmoidConfig, LeakyReluConfig,
    LstmConfig, LstmState, RnnConfig, RnnState,
};
use burn::tensor::{Device, Tensor};
use common::*;
use wgpu_rnn_burn::Accelerated;

/// A fixed weighting of an output, so every element's gradient differs.
fn weighted<const D: usize>(t: Tensor<D>, seed: u64) -> Tensor<1> {
    let w = uniform(t.dims(), 1.0, seed, &t.device());
    (t * w).sum()
}

struct Case {
    input: usize,
    hidden: usize,
    batch: usize,
    seq: usize,
    batch_first: bool,
    states: bool,
    scale: f32,
}

const CASES: [Case; 4] = [
    Case {
        input: 1,
        hidden: 1,
        batch: 1,
        seq: 1,
        batch_first: true,
        states: false,
        scale: 1.0,
    },
    Case {
        input: 3,
        hidden: 67,
        batch: 2,
        seq: 5,
        batch_first: false,
        states: true,
        scale: 1.0,
    },
    Case {
        input: 67,
        hidden: 3,
        batch: 3,
        seq: 4,
        batch_first: true,
        states: true,
        scale: 1.0,
    },
    // Saturating: every gate at 0 or 1, tanh at ±1.
    Case {
        input: 3,
        hidden: 5,
        batch: 2,
        seq: 3,
        batch_first: true,
        states: true,
        scale: 1e4,
    },
];

impl Case {
    fn input(&self, device: &Device, seed: u64) -> Tensor<3> {
        let dims = match self.batch_first {
            true => [self.batch, self.seq, self.input],
            false => [self.seq, self.batch, self.input],
        };
        uniform(dims, self.scale, seed, device).require_grad()
    }

    fn state(&self, device: &Device, seed: u64) -> Option<Tensor<2>> {
        self.states
            .then(|| uniform([self.batch, self.hidden], 1.0, seed, device).require_grad())
    }
}

fn check_lstm(lstm: &burn::nn::Lstm, case: &Case, what: &str) {
    let dev = device().autodiff();
    let x = case.input(&dev, 1);
    let (h0, c0) = (case.state(&dev, 2), case.state(&dev, 3));
    let state = h0
        .clone()
        .zip(c0.clone())
        .map(|(h, c)| LstmState::new(c, h));
    assert_eq!(lstm.fallback_reason(&x), None, "{what}");
    let (y, s) = lstm.forward_accelerated(x.clone(), state.clone());
    let (yb, sb) = lstm.forward(x.clone(), state);
    assert_close(&format!("{what} y"), &y, &yb, TOL);
    assert_close(&format!("{what} h_n"), &s.hidden, &sb.hidden, TOL);
    assert_close(&format!("{what} c_n"), &s.cell, &sb.cell, TOL);
    let loss = |y, s: LstmState<2>| weighted(y, 4) + weighted(s.hidden, 5) + weighted(s.cell, 6);
    let (g, gb) = (loss(y, s).backward(), loss(yb, sb).backward());
    assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
    for (name, t) in [("dh0", &h0), ("dc0", &c0)] {
        if let Some(t) = t {
            assert_leaf_grad(&format!("{what} {name}"), t, (&g, &gb));
        }
    }
    let params: Vec<_> = [
        ("i", Some(&lstm.input_gate)),
        ("f", lstm.forget_gate.as_ref()),
        ("g", Some(&lstm.cell_gate)),
        ("o", Some(&lstm.output_gate)),
    ]
    .into_iter()
    .filter_map(|(n, g)| g.map(|g| gate_params(n, g)))
    .flatten()
    .collect();
    assert_param_grads(what, &params, &g, &params, &gb, TOL);
}

#[test]
fn lstm_outputs_and_every_gradient_match_burn() {
    let dev = device().autodiff();
    for (k, case) in CASES.iter().enumerate() {
        let lstm = LstmConfig::new(case.input, case.hidden, true)
            .with_batch_first(case.batch_first)
            .init(&dev);
        let lstm = seeded(lstm, k as u64);
        check_lstm(&lstm, case, &format!("case {k}"));
    }
}

#[test]
fn lstm_options_match_burn() {
    let dev = device().autodiff();
    let case = &CASES[1];
    let base = || LstmConfig::new(case.input, case.hidden, true).with_batch_first(case.batch_first);
    check_lstm(
        &seeded(base().with_reverse(true).init(&dev), 1),
        case,
        "reverse",
    );
    check_lstm(
        &seeded(base().with_input_forget(true).init(&dev), 2),
        case,
        "input_forget",
    );
    check_lstm(
        &seeded(LstmConfig::new(3, 5, false).init(&dev), 3),
        &CASES[3],
        "no bias",
    );
    let functions = base()
        .with_gate_activation(ActivationConfig::HardSigmoid(HardSigmoidConfig::new()))
        .with_cell_activation(ActivationConfig::Softsign)
        .with_hidden_activation(ActivationConfig::LeakyRelu(LeakyReluConfig::new()));
    check_lstm(&seeded(functions.init(&dev), 4), case, "activations");
}

#[test]
fn bilstm_matches_burn() {
    let dev = device().autodiff();
    for (k, case) in CASES[..3].iter().enumerate() {
        let what = format!("bilstm case {k}");
        let m = BiLstmConfig::new(case.input, case.hidden, true)
            .with_batch_first(case.batch_first)
            .init(&dev);
        let m = seeded(m, 10 + k as u64);
        let x = case.input(&dev, 11);
        let state = case.states.then(|| {
            let s = |seed| uniform([2, case.batch, case.hidden], 1.0, seed, &dev).require_grad();
            LstmState::new(s(12), s(13))
        });
        assert_eq!(m.fallback_reason(&x), None);
        let (y, s) = m.forward_accelerated(x.clone(), state.clone());
        let (yb, sb) = m.forward(x.clone(), state.clone());
        assert_close(&format!("{what} y"), &y, &yb, TOL);
        assert_close(&format!("{what} h_n"), &s.hidden, &sb.hidden, TOL);
        assert_close(&format!("{what} c_n"), &s.cell, &sb.cell, TOL);
        let loss =
            |y, s: LstmState<3>| weighted(y, 14) + weighted(s.hidden, 15) + weighted(s.cell, 16);
        let (g, gb) = (loss(y, s).backward(), loss(yb, sb).backward());
        assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
        if let Some(s) = &state {
            for (n, t) in [("dh0", &s.hidden), ("dc0", &s.cell)] {
                assert_leaf_grad(&format!("{what} {n}"), t, (&g, &gb));
            }
        }
        let params: Vec<_> = [&m.forward, &m.reverse]
            .into_iter()
            .flat_map(|l| {
                [
                    &l.input_gate,
                    l.forget_gate.as_ref().unwrap(),
                    &l.cell_gate,
                    &l.output_gate,
                ]
                .into_iter()
                .enumerate()
                .flat_map(|(i, g)| gate_params(&i.to_string(), g))
            })
            .collect();
        assert_param_grads(&what, &params, &g, &params, &gb, TOL);
    }
}

#[test]
fn gru_both_resets_match_burn() {
    let dev = device().autodiff();
    for reset_after in [true, false] {
        for (k, case) in CASES.iter().enumerate() {
            let what = format!("gru reset_after={reset_after} case {k}");
            let gru = GruConfig::new(case.input, case.hidden, true)
                .with_reset_after(reset_after)
                .init(&dev);
            let gru = seeded(gru, 20 + k as u64);
            // Burn's GRU is always batch-first.
            let case = Case {
                batch_first: true,
                ..*case
            };
            let x = case.input(&dev, 21);
            let h0 = case.state(&dev, 22);
            assert_eq!(gru.fallback_reason(&x), None);
            let y = gru.forward_accelerated(x.clone(), h0.clone());
            let yb = gru.forward(x.clone(), h0.clone());
            assert_close(&format!("{what} y"), &y, &yb, TOL);
            let (g, gb) = (weighted(y, 23).backward(), weighted(yb, 23).backward());
            assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
            if let Some(h0) = &h0 {
                assert_leaf_grad(&format!("{what} dh0"), h0, (&g, &gb));
            }
            let params: Vec<_> = [
                ("r", &gru.reset_gate),
                ("z", &gru.update_gate),
                ("n", &gru.new_gate),
            ]
            .into_iter()
            .flat_map(|(n, g)| gate_params(n, g))
            .collect();
            assert_param_grads(&what, &params, &g, &params, &gb, TOL);
        }
    }
}

#[test]
fn rnn_matches_burn() {
    let dev = device().autodiff();
    for (relu, reverse) in [(false, false), (true, true)] {
        for (k, case) in CASES.iter().enumerate() {
            let what = format!("rnn relu={relu} reverse={reverse} case {k}");
            let mut config = RnnConfig::new(case.input, case.hidden, true)
                .with_batch_first(case.batch_first)
                .with_reverse(reverse);
            if relu {
                config = config.with_hidden_activation(ActivationConfig::Relu);
            }
            let rnn = seeded(config.init(&dev), 30 + k as u64);
            let x = case.input(&dev, 31);
            let h0 = case.state(&dev, 32);
            assert_eq!(rnn.fallback_reason(&x), None);
            let (y, s) = rnn.forward_accelerated(x.clone(), h0.clone().map(RnnState::new));
            let (yb, sb) = rnn.forward(x.clone(), h0.clone().map(RnnState::new));
            assert_close(&format!("{what} y"), &y, &yb, TOL);
            assert_close(&format!("{what} h_n"), &s.hidden, &sb.hidden, TOL);
            let g = (weighted(y, 33) + weighted(s.hidden, 34)).backward();
            let gb = (weighted(yb, 33) + weighted(sb.hidden, 34)).backward();
            assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
            if let Some(h0) = &h0 {
                assert_leaf_grad(&format!("{what} dh0"), h0, (&g, &gb));
            }
            let params = gate_params("gate", &rnn.gate);
            assert_param_grads(&what, &params, &g, &params, &gb, TOL);
        }
    }
}

/// Inference on a device without autodiff: the extension's plain path.
#[test]
fn inference_without_autodiff_matches_burn() {
    let dev = device();
    let case = &CASES[2];
    let lstm = LstmConfig::new(case.input, case.hidden, true).init(&dev);
    let x = uniform([case.batch, case.seq, case.input], 1.0, 41, &dev);
    assert_eq!(lstm.fallback_reason(&x), None);
    let (y, s) = lstm.forward_accelerated(x.clone(), None);
    let (yb, sb) = lstm.forward(x, None);
    assert_close("y", &y, &yb, TOL);
    assert_close("c_n", &s.cell, &sb.cell, TOL);
    let gru = GruConfig::new(case.input, case.hidden, true).init(&dev);
    let x = uniform([case.batch, case.seq, case.input], 1.0, 42, &dev);
    assert_close(
        "gru y",
        &gru.forward_accelerated(x.clone(), None),
        &gru.forward(x, None),
        TOL,
    );
}

/// Options our kernels compute differently from Burn take Burn's forward
/// (the same values), and say why.
#[test]
fn unsupported_options_fall_back_to_burn() {
    let dev = device().autodiff();
    let x = uniform([2, 3, 4], 1.0, 51, &dev);
    let clipped = LstmConfig::new(4, 5, true).with_clip(Some(0.5)).init(&dev);
    let reason = clipped
        .fallback_reason(&x)
        .expect("Burn's clip is not ours");
    assert!(reason.contains("clip"), "{reason}");
    let (y, _) = clipped.forward_accelerated(x.clone(), None);
    assert_close("clipped y", &y, &clipped.forward(x.clone(), None).0, 0.0);
    let gelu = GruConfig::new(4, 5, true)
        .with_hidden_activation(ActivationConfig::Gelu)
        .init(&dev);
    assert!(gelu
        .fallback_reason(&x)
        .expect("no GELU kernel")
        .contains("Gelu"));
    assert_close(
        "gelu y",
        &gelu.forward_accelerated(x.clone(), None),
        &gelu.forward(x.clone(), None),
        0.0,
    );
    let wrong = LstmConfig::new(3, 5, true).init(&dev);
    assert!(wrong
        .fallback_reason(&x)
        .expect("4 features into 3")
        .contains("features"));
}

/// BiGru and BiRnn: both directions, `[2, B, H]` states, both layouts.
#[test]
fn bigru_and_birnn_match_burn() {
    let dev = device().autodiff();
    for (k, case) in CASES[..3].iter().enumerate() {
        let x = case.input(&dev, 91);
        let h0 = case
            .states
            .then(|| uniform([2, case.batch, case.hidden], 1.0, 92, &dev).require_grad());
        let what = format!("bigru case {k}");
        let m = BiGruConfig::new(case.input, case.hidden, true)
            .with_batch_first(case.batch_first)
            .with_reset_after(k != 1)
            .init(&dev);
        let m = seeded(m, 90 + k as u64);
        assert_eq!(m.fallback_reason(&x), None);
        let (y, h) = m.forward_accelerated(x.clone(), h0.clone());
        let (yb, hb) = m.forward(x.clone(), h0.clone());
        assert_close(&format!("{what} y"), &y, &yb, TOL);
        assert_close(&format!("{what} h_n"), &h, &hb, TOL);
        let g = (weighted(y, 93) + weighted(h, 94)).backward();
        let gb = (weighted(yb, 93) + weighted(hb, 94)).backward();
        assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
        if let Some(h0) = &h0 {
            assert_leaf_grad(&format!("{what} dh0"), h0, (&g, &gb));
        }
        let params: Vec<_> = [&m.forward, &m.reverse]
            .into_iter()
            .flat_map(|l| [&l.reset_gate, &l.update_gate, &l.new_gate])
            .enumerate()
            .flat_map(|(i, g)| gate_params(&i.to_string(), g))
            .collect();
        assert_param_grads(&what, &params, &g, &params, &gb, TOL);

        let what = format!("birnn case {k}");
        let m = BiRnnConfig::new(case.input, case.hidden, true)
            .with_batch_first(case.batch_first)
            .init(&dev);
        let m = seeded(m, 95 + k as u64);
        let x = case.input(&dev, 96);
        let state = h0.as_ref().map(|h| RnnState::new(h.clone()));
        assert_eq!(m.fallback_reason(&x), None);
        let (y, s) = m.forward_accelerated(x.clone(), state);
        let (yb, sb) = m.forward(x.clone(), h0.clone().map(RnnState::new));
        assert_close(&format!("{what} y"), &y, &yb, TOL);
        assert_close(&format!("{what} h_n"), &s.hidden, &sb.hidden, TOL);
        let g = (weighted(y, 97) + weighted(s.hidden, 98)).backward();
        let gb = (weighted(yb, 97) + weighted(sb.hidden, 98)).backward();
        assert_leaf_grad(&format!("{what} dx"), &x, (&g, &gb));
        let params: Vec<_> = [("f", &m.forward.gate), ("r", &m.reverse.gate)]
            .into_iter()
            .flat_map(|(n, g)| gate_params(n, g))
            .collect();
        assert_param_grads(&what, &params, &g, &params, &gb, TOL);
    }
}
