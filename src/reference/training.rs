//! f64 twins of the training-loop kernels: the dense layer, the losses, the
//! clip coefficient and the optimizer updates. Row-major slices throughout.

/// `y[n, o] = Σ_i x[n, i] w[o, i] + b[o]`.
pub fn linear_forward(x: &[f64], w: &[f64], b: &[f64], (i, o): (usize, usize)) -> Vec<f64> {
    let rows = x.len() / i;
    let mut y = vec![0.0; rows * o];
    for n in 0..rows {
        for k in 0..o {
            let dot: f64 = (0..i).map(|j| x[n * i + j] * w[k * i + j]).sum();
            y[n * o + k] = dot + b[k];
        }
    }
    y
}

/// `(dx, dW, db)` of [`linear_forward`] for the cotangent `dy`.
pub fn linear_backward(
    x: &[f64],
    w: &[f64],
    dy: &[f64],
    (i, o): (usize, usize),
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let rows = x.len() / i;
    let (mut dx, mut dw, mut db) = (vec![0.0; rows * i], vec![0.0; o * i], vec![0.0; o]);
    for n in 0..rows {
        for k in 0..o {
            let g = dy[n * o + k];
            db[k] += g;
            for j in 0..i {
                dw[k * i + j] += g * x[n * i + j];
                dx[n * i + j] += g * w[k * i + j];
            }
        }
    }
    (dx, dw, db)
}

/// Mean squared error and its gradient.
pub fn mse(pred: &[f64], target: &[f64]) -> (f64, Vec<f64>) {
    let n = pred.len() as f64;
    let d: Vec<f64> = pred.iter().zip(target).map(|(p, t)| p - t).collect();
    let value = d.iter().map(|d| d * d).sum::<f64>() / n;
    (value, d.iter().map(|d| 2.0 * d / n).collect())
}

/// Mean softmax cross-entropy over the rows whose target is not `ignore`,
/// and its gradient.
pub fn cross_entropy(
    logits: &[f64],
    targets: &[u32],
    classes: usize,
    ignore: u32,
) -> (f64, Vec<f64>) {
    let counted = targets.iter().filter(|&&t| t != ignore).count() as f64;
    let mut grad = vec![0.0; logits.len()];
    let mut total = 0.0;
    for (r, &t) in targets.iter().enumerate() {
        if t == ignore {
            continue;
        }
        let row = &logits[r * classes..(r + 1) * classes];
        let top = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|l| (l - top).exp()).sum();
        total += top + sum.ln() - row[t as usize];
        for c in 0..classes {
            let onehot = if c == t as usize { 1.0 } else { 0.0 };
            grad[r * classes + c] = ((row[c] - top).exp() / sum - onehot) / counted;
        }
    }
    (total / counted, grad)
}

/// `(norm, min(1, max_norm / (norm + 1e-6)))` over all gradients.
pub fn clip_coefficient(grads: &[Vec<f64>], max_norm: f64) -> (f64, f64) {
    let norm = grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
    (norm, (max_norm / (norm + 1e-6)).min(1.0))
}

/// One SGD step (dampening 0) on `p` with momentum buffer `buf`.
pub fn sgd_step(
    p: &mut [f64],
    g: &[f64],
    buf: &mut [f64],
    (lr, momentum, wd, nesterov): (f64, f64, f64, bool),
) {
    for n in 0..p.len() {
        let g = g[n] + wd * p[n];
        buf[n] = momentum * buf[n] + g;
        let step = if nesterov {
            g + momentum * buf[n]
        } else {
            buf[n]
        };
        p[n] -= lr * step;
    }
}

/// Hyper-parameters of [`adam_step`].
#[derive(Debug, Clone, Copy)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the second moment's root in the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient: `g + weight_decay * p`.
    pub weight_decay: f64,
}

/// Step `t` (1-based) of Adam on `p` with moments `m`, `v` (PyTorch's form).
pub fn adam_step(p: &mut [f64], g: &[f64], (m, v): (&mut [f64], &mut [f64]), a: Adam, t: u64) {
    let bc1 = 1.0 - a.beta1.powf(t as f64);
    let bc2_sqrt = (1.0 - a.beta2.powf(t as f64)).sqrt();
    for n in 0..p.len() {
        let g = g[n] + a.weight_decay * p[n];
        m[n] = a.beta1 * m[n] + (1.0 - a.beta1) * g;
        v[n] = a.beta2 * v[n] + (1.0 - a.beta2) * g * g;
        p[n] -= a.lr / bc1 * m[n] / (v[n].sqrt() / bc2_sqrt + a.eps);
    }
}
