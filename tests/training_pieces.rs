//! The training loop's pieces against their f64 twins: repacking after an
//! in-place weight update, the dense layer, the losses (twins checked by
//! finite differences), gradient clipping, SGD and Adam; and bad calls.

mod common;

use common::{gpu, random_vec};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use wgpu_rnn::reference::training as twin;
use wgpu_rnn::train::GradMode;
use wgpu_rnn::train::{cross_entropy_loss, mse_loss, ClassTargets, IGNORE_INDEX};
use wgpu_rnn::train::{Linear, LinearGrads};
use wgpu_rnn::train::{Optimizer, OptimizerConfig, OptimizerKind};
use wgpu_rnn::{CellKind, Error, GpuTensor, Rnn, RnnConfig, RnnWeights};

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// max |got - want| / max(1, max |want|).
fn error(want: &[f64], got: &[f32]) -> f64 {
    assert_eq!(want.len(), got.len());
    let scale = want.iter().fold(1.0f64, |m, w| m.max(w.abs()));
    want.iter()
        .zip(got)
        .map(|(w, &g)| {
            let d = (w - f64::from(g)).abs();
            if d.is_nan() {
                f64::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f64::max)
        / scale
}

fn tensor(data: &[f32], shape: &[usize]) -> GpuTensor {
    GpuTensor::from_slice(gpu(), "test", data, shape).unwrap()
}

#[test]
fn weights_written_in_place_take_effect_after_repack() {
    let mut rng = SmallRng::seed_from_u64(3);
    let configs = CellKind::ALL
        .iter()
        .map(|&c| RnnConfig::new(c, 3, 5).unwrap())
        .chain([
            RnnConfig::new(CellKind::Lstm, 3, 5)
                .unwrap()
                .with_projection(2)
                .unwrap(),
            RnnConfig::new(CellKind::Gru(wgpu_rnn::GruReset::After), 3, 5)
                .unwrap()
                .with_bias(false),
        ]);
    for config in configs {
        let layer = Rnn::new(gpu(), &RnnWeights::random(config, 1, 1.0).unwrap()).unwrap();
        let fresh = RnnWeights::random(config, 2, 1.0).unwrap();
        let wanted = Rnn::new(gpu(), &fresh).unwrap();
        // Overwrite every parameter of `layer` with `fresh`'s, then repack.
        for ((_, p), (_, q)) in layer
            .parameters()
            .named()
            .into_iter()
            .zip(wanted.parameters().named())
        {
            p.write(&q.to_vec().unwrap()).unwrap();
        }
        let (seq, batch) = (4, 2);
        let x = random_vec(&mut rng, seq * batch * 3, 1.0);
        let stale = layer.forward_host(&x, seq, batch, None, None).unwrap();
        layer.repack().unwrap();
        let got = layer.forward_host(&x, seq, batch, None, None).unwrap();
        let want = wanted.forward_host(&x, seq, batch, None, None).unwrap();
        assert_eq!(
            got, want,
            "{config:?}: repacked layer differs from a fresh upload"
        );
        assert_ne!(
            stale, want,
            "{config:?}: the forward reads the packed copies"
        );
        assert_eq!(
            layer.to_weights().unwrap(),
            fresh,
            "{config:?}: parameters read back"
        );
    }
}

#[test]
fn linear_matches_the_twin_and_its_gradients_finite_differences() {
    let mut rng = SmallRng::seed_from_u64(5);
    for (rows, i, o, scale) in [
        (1, 1, 1, 1.0),
        (3, 67, 3, 1.0),
        (67, 3, 67, 1.0),
        (5, 7, 3, 1e4),
    ] {
        let linear = Linear::random(gpu(), (i, o), 9).unwrap();
        let (w, b) = linear.to_host().unwrap();
        let x = random_vec(&mut rng, rows * i, scale);
        let dy = random_vec(&mut rng, rows * o, 1.0);
        let xt = tensor(&x, &[rows, i]);
        let y = linear.forward(&xt).unwrap().to_vec().unwrap();
        let (x64, w64, b64, dy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&dy));
        let want_y = twin::linear_forward(&x64, &w64, &b64, (i, o));
        let bound = 4.0 * f64::from(f32::EPSILON) * (i as f64).sqrt() * f64::from(scale).max(1.0);
        assert!(
            error(&want_y, &y) < bound,
            "forward {rows}x{i}->{o}: {}",
            error(&want_y, &y)
        );

        let grads = LinearGrads::zeros(&linear).unwrap();
        let dx = linear
            .backward(&xt, &tensor(&dy, &[rows, o]), &grads, GradMode::Overwrite)
            .unwrap();
        let (want_dx, want_dw, want_db) = twin::linear_backward(&x64, &w64, &dy64, (i, o));
        let rows_bound =
            4.0 * f64::from(f32::EPSILON) * (rows as f64).sqrt() * f64::from(scale).max(1.0);
        assert!(
            error(&want_dx, &dx.to_vec().unwrap()) < bound,
            "dx {rows}x{i}->{o}"
        );
        assert!(
            error(&want_dw, &grads.weight.to_vec().unwrap()) < rows_bound,
            "dW {rows}x{i}->{o}"
        );
        assert!(
            error(&want_db, &grads.bias.to_vec().unwrap()) < rows_bound,
            "db {rows}x{i}->{o}"
        );

        // The twin's gradients against central differences of <dy, y>.
        let objective = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
            twin::linear_forward(x, w, b, (i, o))
                .iter()
                .zip(&dy64)
                .map(|(y, g)| y * g)
                .sum()
        };
        let h = 1e-6;
        let fd = |v: &[f64], k: usize, f: &dyn Fn(&[f64]) -> f64| {
            let (mut plus, mut minus) = (v.to_vec(), v.to_vec());
            plus[k] += h;
            minus[k] -= h;
            (f(&plus) - f(&minus)) / (2.0 * h)
        };
        for k in [0, x64.len() / 2, x64.len() - 1] {
            let d = fd(&x64, k, &|x| objective(x, &w64, &b64));
            assert!(
                (d - want_dx[k]).abs() < 1e-6 * (1.0 + d.abs()),
                "FD dx[{k}]"
            );
        }
        for k in [0, w64.len() - 1] {
            let d = fd(&w64, k, &|w| objective(&x64, w, &b64));
            assert!(
                (d - want_dw[k]).abs() < 1e-6 * (1.0 + d.abs()),
                "FD dW[{k}]"
            );
        }
        let d = fd(&b64, o - 1, &|b| objective(&x64, &w64, b));
        assert!((d - want_db[o - 1]).abs() < 1e-6 * (1.0 + d.abs()), "FD db");

        // Accumulate adds a second, identical gradient.
        linear
            .backward(&xt, &tensor(&dy, &[rows, o]), &grads, GradMode::Accumulate)
            .unwrap();
        let twice: Vec<f64> = want_db.iter().map(|v| 2.0 * v).collect();
        assert!(error(&twice, &grads.bias.to_vec().unwrap()) < 2.0 * rows_bound);
    }
}

/// Central differences of `f` at every coordinate of `v` against `grad`.
fn check_fd(what: &str, v: &[f64], grad: &[f64], f: impl Fn(&[f64]) -> f64) {
    let h = 1e-6;
    for k in 0..v.len() {
        let (mut plus, mut minus) = (v.to_vec(), v.to_vec());
        plus[k] += h;
        minus[k] -= h;
        let d = (f(&plus) - f(&minus)) / (2.0 * h);
        assert!(
            (d - grad[k]).abs() < 1e-6 * (1.0 + d.abs()),
            "{what}: FD {d} vs {}",
            grad[k]
        );
    }
}

#[test]
fn losses_match_the_twin_and_finite_differences() {
    let mut rng = SmallRng::seed_from_u64(7);
    for (n, scale) in [(1, 1.0), (3, 1.0), (67, 1.0), (1000, 1e4)] {
        let pred = random_vec(&mut rng, n, scale);
        let target = random_vec(&mut rng, n, scale);
        let loss = mse_loss(&tensor(&pred, &[n]), &tensor(&target, &[n])).unwrap();
        let (want, want_grad) = twin::mse(&f64s(&pred), &f64s(&target));
        let got = f64::from(loss.value_host().unwrap());
        assert!(
            (got - want).abs() < 1e-5 * want.max(1e-30),
            "MSE n={n}: {got} vs {want}"
        );
        assert!(
            error(&want_grad, &loss.grad.to_vec().unwrap()) < 1e-6,
            "MSE grad n={n}"
        );
        if n <= 67 {
            check_fd("MSE", &f64s(&pred), &want_grad, |p| {
                twin::mse(p, &f64s(&target)).0
            });
        }
    }
    for (rows, classes, scale) in [
        (1, 1, 1.0),
        (3, 3, 1.0),
        (67, 5, 1.0),
        (9, 67, 1.0),
        (6, 4, 1e4),
    ] {
        let logits = random_vec(&mut rng, rows * classes, scale);
        // Every third row ignored (but not all).
        let targets: Vec<u32> = (0..rows)
            .map(|r| {
                if r % 3 == 2 {
                    IGNORE_INDEX
                } else {
                    ((r * 7) % classes) as u32
                }
            })
            .collect();
        let t = ClassTargets::from_slice(gpu(), &targets, classes).unwrap();
        let loss = cross_entropy_loss(&tensor(&logits, &[rows, classes]), &t).unwrap();
        let (want, want_grad) =
            twin::cross_entropy(&f64s(&logits), &targets, classes, IGNORE_INDEX);
        let got = f64::from(loss.value_host().unwrap());
        let tol = 1e-5 * f64::from(scale) * (classes as f64).ln().max(1.0);
        assert!(
            (got - want).abs() <= tol.max(1e-6 * want.abs()),
            "CE {rows}x{classes}: {got} vs {want}"
        );
        assert!(
            error(&want_grad, &loss.grad.to_vec().unwrap()) < 1e-6,
            "CE grad {rows}x{classes}"
        );
        if scale == 1.0 {
            check_fd("CE", &f64s(&logits), &want_grad, |l| {
                twin::cross_entropy(l, &targets, classes, IGNORE_INDEX).0
            });
        }
    }
}

/// Runs `steps` optimizer steps on random tensors of awkward sizes, new
/// gradients each step, against the twin.
fn check_optimizer(config: OptimizerConfig, grad_scale: f32) -> f64 {
    let mut rng = SmallRng::seed_from_u64(11);
    let sizes = [1usize, 3, 67, 1000];
    let mut opt = Optimizer::new(gpu(), config).unwrap();
    let mut params64 = Vec::new();
    let mut tensors = Vec::new();
    for &n in &sizes {
        let p = random_vec(&mut rng, n, 1.0);
        let (pt, gt) = (tensor(&p, &[n]), tensor(&vec![0.0; n], &[n]));
        opt.add("p", &pt, &gt).unwrap();
        params64.push(f64s(&p));
        tensors.push((pt, gt));
    }
    let mut m: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut v = m.clone();
    let mut worst = 0.0f64;
    for t in 1..=5u64 {
        let grads: Vec<Vec<f32>> = sizes
            .iter()
            .map(|&n| random_vec(&mut rng, n, grad_scale))
            .collect();
        for ((_, gt), g) in tensors.iter().zip(&grads) {
            gt.write(g).unwrap();
        }
        opt.step().unwrap();
        let mut g64: Vec<Vec<f64>> = grads.iter().map(|g| f64s(g)).collect();
        if let Some(max) = config.max_grad_norm {
            let (norm, coef) = twin::clip_coefficient(&g64, f64::from(max));
            let (got_norm, got_coef) = opt.last_clip().unwrap();
            assert!(
                (f64::from(got_norm) - norm).abs() < 1e-5 * norm,
                "norm {got_norm} vs {norm}"
            );
            assert!(
                (f64::from(got_coef) - coef).abs() < 1e-5,
                "coefficient {got_coef} vs {coef}"
            );
            g64.iter_mut().flatten().for_each(|g| *g *= coef);
        }
        let wd = f64::from(config.weight_decay);
        for k in 0..sizes.len() {
            match config.kind {
                OptimizerKind::Sgd { momentum, nesterov } => twin::sgd_step(
                    &mut params64[k],
                    &g64[k],
                    &mut m[k],
                    (f64::from(config.lr), f64::from(momentum), wd, nesterov),
                ),
                OptimizerKind::Adam { beta1, beta2, eps } => {
                    let a = twin::Adam {
                        lr: f64::from(config.lr),
                        beta1: f64::from(beta1),
                        beta2: f64::from(beta2),
                        eps: f64::from(eps),
                        weight_decay: wd,
                    };
                    twin::adam_step(&mut params64[k], &g64[k], (&mut m[k], &mut v[k]), a, t)
                }
            }
            worst = worst.max(error(&params64[k], &tensors[k].0.to_vec().unwrap()));
        }
    }
    worst
}

#[test]
fn optimizers_match_the_twin() {
    let sgd = OptimizerConfig::sgd(0.1, 0.9);
    let nesterov = OptimizerConfig {
        kind: OptimizerKind::Sgd {
            momentum: 0.5,
            nesterov: true,
        },
        weight_decay: 0.01,
        ..sgd
    };
    let adam = OptimizerConfig::adam(0.01);
    let cases = [
        ("sgd", sgd, 1.0),
        ("sgd momentum 0", OptimizerConfig::sgd(0.1, 0.0), 1.0),
        ("sgd nesterov + weight decay", nesterov, 1.0),
        ("adam", adam, 1.0),
        (
            "adam, weight decay",
            OptimizerConfig {
                weight_decay: 0.1,
                ..adam
            },
            1.0,
        ),
        ("adam, tiny gradients", adam, 1e-6),
        ("adam, clipped", adam.with_max_grad_norm(1.0), 1e4),
        ("sgd, clip not reached", sgd.with_max_grad_norm(1e6), 1.0),
    ];
    for (name, config, grad_scale) in cases {
        let worst = check_optimizer(config, grad_scale);
        println!("{name}: worst parameter error {worst:.2e}");
        assert!(worst < 1e-5, "{name}: {worst:.2e}");
    }
}

#[test]
fn bad_training_calls_are_refused() {
    #[track_caller]
    fn err<T>(r: Result<T, Error>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
    let g = gpu();
    let a = tensor(&[1.0, 2.0, 3.0], &[3]);
    let b = tensor(&[1.0, 2.0], &[2]);
    assert!(err(mse_loss(&a, &b)).contains("MSE target"));
    assert!(err(ClassTargets::from_slice(g, &[0, 3], 3)).contains("not below"));
    assert!(err(ClassTargets::from_slice(g, &[IGNORE_INDEX], 3)).contains("undefined"));
    let t = ClassTargets::from_slice(g, &[0, 1], 3).unwrap();
    assert!(err(cross_entropy_loss(&tensor(&[0.0; 4], &[2, 2]), &t)).contains("logits"));
    let linear = Linear::random(g, (3, 2), 1).unwrap();
    assert!(err(linear.forward(&b)).contains("linear input"));
    assert!(err(Linear::new(g, (2, 1), &[0.0, f32::NAN], &[0.0])).contains("NaN"));
    let grads = LinearGrads::zeros(&linear).unwrap();
    assert!(err(linear.backward(&a, &a, &grads, GradMode::Overwrite)).contains("grad_y"));
    for bad in [
        OptimizerConfig::sgd(f32::NAN, 0.0),
        OptimizerConfig::sgd(0.1, 1.0),
        OptimizerConfig::adam(-1.0),
        OptimizerConfig::adam(0.1).with_max_grad_norm(0.0),
    ] {
        assert!(err(Optimizer::new(g, bad)).contains("optimizer"), "{bad:?}");
    }
    let mut opt = Optimizer::new(g, OptimizerConfig::adam(0.1)).unwrap();
    assert!(err(opt.step()).contains("no parameters"));
    assert!(err(opt.add("p", &a, &b)).contains("gradient of p"));
    assert!(err(GpuTensor::zeros(g, "t", &[2]).unwrap().write(&[1.0])).contains("tensor write"));
}

/// Parameters written by copies recorded in the app's encoder (how
/// another framework's tensors reach a stack) take effect through
/// `record_repack` in the same encoder, and earlier tapes become stale.
#[test]
fn parameters_copied_in_an_encoder_take_effect_through_record_repack() {
    use wgpu_rnn::{RnnStack, StackConfig, StackWeights};
    let mut rng = SmallRng::seed_from_u64(4);
    for cell in CellKind::ALL {
        let config = StackConfig::new(RnnConfig::new(cell, 3, 5).unwrap());
        let stack = RnnStack::new(gpu(), &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
        let wanted = RnnStack::new(gpu(), &StackWeights::random(config, 2, 1.0).unwrap()).unwrap();
        let (seq, batch) = (4, 2);
        let x = tensor(
            &random_vec(&mut rng, seq * batch * 3, 1.0),
            &[seq, batch, 3],
        );
        let (_, tape) = stack
            .forward_train(&x, None, None, None, Default::default())
            .unwrap();
        let mut encoder = gpu().device().create_command_encoder(&Default::default());
        let (to, from) = (
            stack.parameters(0, 0).unwrap(),
            wanted.parameters(0, 0).unwrap(),
        );
        for ((_, p), (_, q)) in to.named().into_iter().zip(from.named()) {
            encoder.copy_buffer_to_buffer(
                q.buffer(),
                q.offset(),
                p.buffer(),
                p.offset(),
                q.byte_len(),
            );
        }
        stack.record_repack(&mut encoder).unwrap();
        gpu().queue().submit([encoder.finish()]);
        let got = stack.forward(&x, None, None, None).unwrap();
        let want = wanted.forward(&x, None, None, None).unwrap();
        assert_eq!(
            got.output.to_vec().unwrap(),
            want.output.to_vec().unwrap(),
            "{cell:?}: copied and repacked differs from a fresh upload"
        );
        let grads = wgpu_rnn::train::StackGrads::zeros(&stack).unwrap();
        let seeds = wgpu_rnn::train::Seeds {
            output: Some(&got.output),
            ..Default::default()
        };
        assert!(
            stack
                .backward(&tape, seeds, &grads, GradMode::Overwrite)
                .is_err(),
            "{cell:?}: a tape from before the write is stale"
        );
    }
}
