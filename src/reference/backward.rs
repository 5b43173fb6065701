//! The f64 backward pass (BPTT) of every cell and module option: the
//! vector-Jacobian product of
//! `loss = Σ output·grad_output + Σ h_n·grad_h_n + Σ c_n·grad_c_n`
//! with respect to the input, `h0`, `c0` and every parameter. Gate values
//! are recomputed from the saved step inputs (`x`, `h_{t-1}`, `c_{t-1}`) with
//! the forward formulas; checked against central finite differences of
//! [`super::run`] in the tests below.

use super::cells::CellWeights;
use super::{cell_step, run, user_index, Problem};
use crate::config::{CellKind, GruReset};

/// Cotangents of the three outputs, in the forward's layouts; zeros where a
/// caller has none.
#[derive(Debug, Clone)]
pub struct Cotangents {
    /// `[T, B, D*Ho]` (`[B, T, D*Ho]` batch-first).
    pub output: Vec<f64>,
    /// `[L*D, B, Ho]`
    pub h_n: Vec<f64>,
    /// `[L*D, B, H]` (ignored for cells without a cell state).
    pub c_n: Vec<f64>,
}

/// Gradients of one layer-direction's parameters, shaped like
/// [`CellWeights`] (bias and peephole gradients are computed even where the
/// layer has none; callers drop them).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGrads {
    /// `[G*H, I]`
    pub w_ih: Vec<f64>,
    /// `[G*H, Ho]`
    pub w_hh: Vec<f64>,
    /// `[G*H]`
    pub b_ih: Vec<f64>,
    /// `[G*H]`
    pub b_hh: Vec<f64>,
    /// `[3, H]` rows (p_i, p_f, p_o), empty without peepholes.
    pub peephole: Vec<f64>,
    /// `[Ho, H]`, empty without a projection.
    pub w_hr: Vec<f64>,
}

impl ParamGrads {
    fn zeros_like(w: &CellWeights) -> Self {
        Self {
            w_ih: vec![0.0; w.w_ih.len()],
            w_hh: vec![0.0; w.w_hh.len()],
            b_ih: vec![0.0; w.b_ih.len()],
            b_hh: vec![0.0; w.b_hh.len()],
            peephole: vec![0.0; w.peephole.len()],
            w_hr: vec![0.0; w.w_hr.len()],
        }
    }
}

/// Everything [`backward`] returns.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// Same layout as the input.
    pub input: Vec<f64>,
    /// `[L*D, B, Ho]`
    pub h0: Vec<f64>,
    /// `[L*D, B, H]`
    pub c0: Vec<f64>,
    /// One per layer and direction, index `l*D + d`.
    pub params: Vec<ParamGrads>,
}

/// The scalar whose gradient [`backward`] computes.
pub fn loss(p: &Problem, cot: &Cotangents) -> f64 {
    let (out, _) = run(p);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    dot(&out.output, &cot.output)
        + dot(&out.h_n, &cot.h_n)
        + out.c_n.map_or(0.0, |c| dot(&c, &cot.c_n))
}

/// `dW += da ⊗ v`, `db += da` for rows of width `v.len()`.
fn accumulate(dw: &mut [f64], db: &mut [f64], da: &[f64], v: &[f64]) {
    for (r, &a) in da.iter().enumerate() {
        db[r] += a;
        for (k, &x) in v.iter().enumerate() {
            dw[r * v.len() + k] += a * x;
        }
    }
}

/// `Wᵀ da` for `W` `[da.len(), width]`.
fn transpose_times(w: &[f64], da: &[f64], width: usize) -> Vec<f64> {
    let mut out = vec![0.0; width];
    for (r, &a) in da.iter().enumerate() {
        for (k, o) in out.iter_mut().enumerate() {
            *o += w[r * width + k] * a;
        }
    }
    out
}

fn lstm_backward(
    w: &CellWeights,
    g: &mut ParamGrads,
    (x, h, c_prev): (&[f64], &[f64], &[f64]),
    dh: &[f64],
    dc_next: &[f64],
    peephole: bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = w.hidden;
    let pre =
        |gate: usize, j: usize| w.input_part(gate * n + j, x) + w.hidden_part(gate * n + j, h);
    let p = |row: usize, j: usize| {
        if peephole {
            w.peephole[row * n + j]
        } else {
            0.0
        }
    };
    // Recompute the step.
    let (mut i, mut f, mut gg, mut o, mut c, mut m) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    // The pre-activations i, f, g, o of each unit.
    let mut a = vec![[0.0; 4]; n];
    for j in 0..n {
        a[j][0] = pre(0, j) + p(0, j) * c_prev[j];
        a[j][1] = pre(1, j) + p(1, j) * c_prev[j];
        a[j][2] = pre(2, j);
        i[j] = w.act(0, a[j][0]);
        f[j] = if w.input_forget {
            1.0 - i[j]
        } else {
            w.act(0, a[j][1])
        };
        gg[j] = w.act(1, a[j][2]);
        c[j] = f[j] * c_prev[j] + i[j] * gg[j];
        a[j][3] = pre(3, j) + p(2, j) * c[j];
        o[j] = w.act(0, a[j][3]);
        m[j] = o[j] * w.out(c[j]);
    }
    // h = W_hr m (or m).
    let dm = if w.w_hr.is_empty() {
        dh.to_vec()
    } else {
        let mut unused = vec![0.0; dh.len()];
        accumulate(&mut g.w_hr, &mut unused, dh, &m);
        transpose_times(&w.w_hr, dh, n)
    };
    let mut da = vec![0.0; 4 * n];
    let mut dc_prev = vec![0.0; n];
    for j in 0..n {
        let da_o = dm[j] * w.out(c[j]) * w.act_grad(0, a[j][3]);
        let dh_dc = w.functions[2].derivative(c[j]);
        let dc = dc_next[j] + dm[j] * o[j] * dh_dc + da_o * p(2, j);
        // With input_forget, c' = (1-i) c + i g.
        let (di, da_f) = if w.input_forget {
            (gg[j] - c_prev[j], 0.0)
        } else {
            (gg[j], dc * c_prev[j] * w.act_grad(0, a[j][1]))
        };
        let da_i = dc * di * w.act_grad(0, a[j][0]);
        let da_g = dc * i[j] * w.act_grad(1, a[j][2]);
        if peephole {
            g.peephole[j] += da_i * c_prev[j];
            g.peephole[n + j] += da_f * c_prev[j];
            g.peephole[2 * n + j] += da_o * c[j];
        }
        dc_prev[j] = dc * f[j] + da_i * p(0, j) + da_f * p(1, j);
        da[j] = da_i;
        da[n + j] = da_f;
        da[2 * n + j] = da_g;
        da[3 * n + j] = da_o;
    }
    accumulate(&mut g.w_ih, &mut g.b_ih, &da, x);
    accumulate(&mut g.w_hh, &mut g.b_hh, &da, h);
    (
        transpose_times(&w.w_ih, &da, w.input),
        transpose_times(&w.w_hh, &da, h.len()),
        dc_prev,
    )
}

fn gru_backward(
    w: &CellWeights,
    g: &mut ParamGrads,
    (x, h): (&[f64], &[f64]),
    dh: &[f64],
    reset: GruReset,
) -> (Vec<f64>, Vec<f64>) {
    let n = w.hidden;
    let a_r: Vec<f64> = (0..n)
        .map(|j| w.input_part(j, x) + w.hidden_part(j, h))
        .collect();
    let a_z: Vec<f64> = (0..n)
        .map(|j| w.input_part(n + j, x) + w.hidden_part(n + j, h))
        .collect();
    let r: Vec<f64> = a_r.iter().map(|&a| w.act(0, a)).collect();
    let z: Vec<f64> = a_z.iter().map(|&a| w.act(0, a)).collect();
    let rh: Vec<f64> = r.iter().zip(h).map(|(r, h)| r * h).collect();
    // W_hn h + b_hn (reset after) or W_hn (r*h) + b_hn (reset before).
    let hn: Vec<f64> = (0..n)
        .map(|j| w.hidden_part(2 * n + j, if reset == GruReset::After { h } else { &rh }))
        .collect();
    let a_n: Vec<f64> = (0..n)
        .map(|j| {
            let xn = w.input_part(2 * n + j, x);
            match reset {
                GruReset::After => xn + r[j] * hn[j],
                GruReset::Before => xn + hn[j],
            }
        })
        .collect();
    let cand: Vec<f64> = a_n.iter().map(|&a| w.act(1, a)).collect();
    let mut dh_prev: Vec<f64> = (0..n).map(|j| dh[j] * z[j]).collect();
    let mut da_in = vec![0.0; 3 * n]; // input-side pre-activations r, z, n
    let mut da_hid = vec![0.0; 3 * n]; // hidden-side products r, z, n
    for j in 0..n {
        let dz = dh[j] * (h[j] - cand[j]);
        let da_n = dh[j] * (1.0 - z[j]) * w.act_grad(1, a_n[j]);
        da_in[n + j] = dz * w.act_grad(0, a_z[j]);
        da_in[2 * n + j] = da_n;
        match reset {
            GruReset::After => {
                da_in[j] = da_n * hn[j] * w.act_grad(0, a_r[j]);
                da_hid[2 * n + j] = da_n * r[j];
            }
            GruReset::Before => da_hid[2 * n + j] = da_n,
        }
    }
    if reset == GruReset::Before {
        // n's hidden product reads r*h: route its gradient to r and h.
        let drh = transpose_times(&w.w_hh[2 * n * n..], &da_hid[2 * n..], n);
        for j in 0..n {
            da_in[j] = drh[j] * h[j] * w.act_grad(0, a_r[j]);
            dh_prev[j] += drh[j] * r[j];
        }
    }
    da_hid[..2 * n].copy_from_slice(&da_in[..2 * n]);
    accumulate(&mut g.w_ih, &mut g.b_ih, &da_in, x);
    // Rows r, z multiply h; row n multiplies h (after) or r*h (before).
    let (gw_rz, gw_n) = g.w_hh.split_at_mut(2 * n * n);
    let (gb_rz, gb_n) = g.b_hh.split_at_mut(2 * n);
    accumulate(gw_rz, gb_rz, &da_hid[..2 * n], h);
    accumulate(
        gw_n,
        gb_n,
        &da_hid[2 * n..],
        if reset == GruReset::After { h } else { &rh },
    );
    let through_hidden = match reset {
        GruReset::After => transpose_times(&w.w_hh, &da_hid, n),
        GruReset::Before => transpose_times(&w.w_hh[..2 * n * n], &da_hid[..2 * n], n),
    };
    for j in 0..n {
        dh_prev[j] += through_hidden[j];
    }
    (transpose_times(&w.w_ih, &da_in, w.input), dh_prev)
}

fn rnn_backward(
    w: &CellWeights,
    g: &mut ParamGrads,
    (x, h): (&[f64], &[f64]),
    dh: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let da: Vec<f64> = (0..w.hidden)
        .map(|j| dh[j] * w.act_grad(0, w.input_part(j, x) + w.hidden_part(j, h)))
        .collect();
    accumulate(&mut g.w_ih, &mut g.b_ih, &da, x);
    accumulate(&mut g.w_hh, &mut g.b_hh, &da, h);
    (
        transpose_times(&w.w_ih, &da, w.input),
        transpose_times(&w.w_hh, &da, h.len()),
    )
}

/// The gradients of [`loss`] with respect to every input and parameter.
pub fn backward(p: &Problem, cot: &Cotangents) -> Gradients {
    let cfg = p.config;
    let cell = cfg.layer.cell;
    let (h_size, ho, dirs, batch, seq) = (
        cfg.layer.hidden_size,
        cfg.layer.output_size(),
        cfg.directions(),
        p.batch,
        p.seq,
    );
    let (_, layer_inputs) = run(p);
    let mut params: Vec<ParamGrads> = p.weights.iter().map(ParamGrads::zeros_like).collect();
    let mut dh0 = vec![0.0; cot.h_n.len()];
    let mut dc0 = vec![0.0; cfg.state_slots() * batch * h_size];
    // Gradient w.r.t. the current layer's output, time-major.
    let width = cfg.output_size();
    let mut d_out: Vec<Vec<f64>> = (0..seq * batch)
        .map(|n| {
            let (t, b) = (n / batch, n % batch);
            cot.output[user_index(&cfg, seq, batch, t, b) * width..][..width].to_vec()
        })
        .collect();
    for l in (0..cfg.num_layers).rev() {
        let layer_in = &layer_inputs[l];
        let in_width = layer_in[0].len();
        let mut d_in = vec![vec![0.0; in_width]; seq * batch];
        for d in 0..dirs {
            let slot = l * dirs + d;
            let w = &p.weights[slot];
            for b in 0..batch {
                // Replay the forward to collect each step's (x, h_prev, c_prev).
                let mut h = p.h0[(slot * batch + b) * ho..][..ho].to_vec();
                let mut c = p.c0[(slot * batch + b) * h_size..][..h_size].to_vec();
                let mut tape = Vec::new();
                for t in p.times(d, b) {
                    let x = &layer_in[t * batch + b];
                    let (h_new, c_new) = cell_step(cell, w, x, &h, &c);
                    tape.push((t, h, c));
                    (h, c) = (h_new, c_new);
                }
                let mut dh = cot.h_n[(slot * batch + b) * ho..][..ho].to_vec();
                let mut dc = if cell.has_cell_state() {
                    cot.c_n[(slot * batch + b) * h_size..][..h_size].to_vec()
                } else {
                    vec![0.0; h_size]
                };
                for (t, h_prev, c_prev) in tape.into_iter().rev() {
                    for (acc, g) in dh
                        .iter_mut()
                        .zip(&d_out[t * batch + b][d * ho..(d + 1) * ho])
                    {
                        *acc += g;
                    }
                    let x = &layer_in[t * batch + b];
                    let g = &mut params[slot];
                    let (dx, dh_prev, dc_prev) = match cell {
                        CellKind::Lstm | CellKind::PeepholeLstm => lstm_backward(
                            w,
                            g,
                            (x, &h_prev, &c_prev),
                            &dh,
                            &dc,
                            cell == CellKind::PeepholeLstm,
                        ),
                        CellKind::Gru(reset) => {
                            let (dx, dhp) = gru_backward(w, g, (x, &h_prev), &dh, reset);
                            (dx, dhp, dc.clone())
                        }
                        CellKind::Rnn(_) => {
                            let (dx, dhp) = rnn_backward(w, g, (x, &h_prev), &dh);
                            (dx, dhp, dc.clone())
                        }
                    };
                    for (acc, v) in d_in[t * batch + b].iter_mut().zip(&dx) {
                        *acc += v;
                    }
                    (dh, dc) = (dh_prev, dc_prev);
                }
                dh0[(slot * batch + b) * ho..][..ho].copy_from_slice(&dh);
                dc0[(slot * batch + b) * h_size..][..h_size].copy_from_slice(&dc);
            }
        }
        // Layer l's input was layer l-1's output after dropout.
        if let Some(mask) = l.checked_sub(1).and_then(|below| p.dropout.get(below)) {
            for (n, row) in d_in.iter_mut().enumerate() {
                for (v, f) in row.iter_mut().zip(&mask[n * in_width..]) {
                    *v *= f;
                }
            }
        }
        d_out = d_in;
    }
    let i = cfg.layer.input_size;
    let mut input = vec![0.0; seq * batch * i];
    for t in 0..seq {
        for b in 0..batch {
            input[user_index(&cfg, seq, batch, t, b) * i..][..i]
                .copy_from_slice(&d_out[t * batch + b]);
        }
    }
    Gradients {
        input,
        h0: dh0,
        c0: dc0,
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell_options::{Activation, Activations, CellOptions};
    use crate::config::{Direction, Nonlinearity, RnnConfig, StackConfig};
    use crate::weights::StackWeights;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Picks one parameter tensor out of a layer's weights.
    type Field = fn(&mut CellWeights) -> &mut Vec<f64>;

    fn randoms(rng: &mut SmallRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// Fourth-order central differences (step 1e-3) against the analytic
    /// gradient for every parameter, input element and initial state.
    /// Passing means `|fd - analytic| <= 1e-6*|analytic| + 1e-10`: the
    /// stencil's truncation error is O(δ⁴) ~ 1e-12 and its cancellation
    /// error ~ 1e-16*|loss|/δ ~ 1e-12.
    fn check(
        config: StackConfig,
        seq: usize,
        batch: usize,
        lengths: Option<Vec<usize>>,
        seed: u64,
    ) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let weights = StackWeights::random(config, seed, 1.5).unwrap();
        let (slots, h, ho) = (
            config.state_slots(),
            config.layer.hidden_size,
            config.layer.output_size(),
        );
        let x: Vec<f32> = (0..seq * batch * config.layer.input_size)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let h0: Vec<f32> = (0..slots * batch * ho)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let c0: Vec<f32> = (0..slots * batch * h)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let problem = Problem::new(
            &weights,
            &x,
            seq,
            batch,
            Some(&h0),
            Some(&c0),
            lengths.as_deref(),
        )
        .unwrap();
        let cot = Cotangents {
            output: randoms(&mut rng, seq * batch * config.output_size()),
            h_n: randoms(&mut rng, slots * batch * ho),
            c_n: randoms(&mut rng, slots * batch * h),
        };
        let grads = backward(&problem, &cot);
        // A clip or a function with a kink (ONNX's options) makes the loss
        // piecewise smooth: there a smaller step straddles fewer kinks, and
        // a stencil that straddles one anyway is skipped, recognised by its
        // two central differences (steps δ and 2δ) disagreeing by more than
        // could move the estimate past the tolerance (their smooth
        // disagreement is δ³f'''/2).
        let kinked = !config.layer.options.is_plain();
        let delta = if kinked { 1e-4 } else { 1e-3 };
        let mut worst: f64 = 0.0;
        let mut checked = 0;
        let mut straddled = 0;
        let mut check_one = |what: String, analytic: f64, perturb: &dyn Fn(&mut Problem, f64)| {
            let at = |step: f64| {
                let mut q = problem.clone();
                perturb(&mut q, step);
                loss(&q, &cot)
            };
            let (near, far) = (at(delta) - at(-delta), at(2.0 * delta) - at(-2.0 * delta));
            let tolerance = 1e-6 * analytic.abs() + 1e-10;
            if kinked && (near / 2.0 - far / 4.0).abs() > 6.0 * delta * tolerance {
                straddled += 1;
                return;
            }
            let fd = (8.0 * near - far) / (12.0 * delta);
            let err = (fd - analytic).abs();
            assert!(
                err <= tolerance,
                "{config:?} {what}: finite difference {fd:e}, analytic {analytic:e}"
            );
            if analytic.abs() > 1e-4 {
                worst = worst.max(err / analytic.abs());
            }
            checked += 1;
        };
        let cell = config.layer.cell;
        for (slot, g) in grads.params.iter().enumerate() {
            let mut tensors: Vec<(&str, &Vec<f64>, Field)> = vec![
                ("weight_ih", &g.w_ih, |w| &mut w.w_ih),
                ("weight_hh", &g.w_hh, |w| &mut w.w_hh),
                ("weight_hr", &g.w_hr, |w| &mut w.w_hr),
            ];
            if config.layer.bias {
                tensors.push(("bias_ih", &g.b_ih, |w| &mut w.b_ih));
                tensors.push(("bias_hh", &g.b_hh, |w| &mut w.b_hh));
            }
            if cell == CellKind::PeepholeLstm {
                tensors.push(("peephole", &g.peephole, |w| &mut w.peephole));
            }
            for (name, grad, field) in tensors {
                for (k, &an) in grad.iter().enumerate() {
                    check_one(format!("slot {slot} {name}[{k}]"), an, &|p, d| {
                        field(&mut p.weights[slot])[k] += d
                    });
                }
            }
        }
        let i = config.layer.input_size;
        for t in 0..seq {
            for b in 0..batch {
                for k in 0..i {
                    let an = grads.input[user_index(&config, seq, batch, t, b) * i + k];
                    check_one(format!("input[t={t}, b={b}, {k}]"), an, &|p, d| {
                        p.input[t * batch + b][k] += d
                    });
                }
            }
        }
        for (k, &an) in grads.h0.iter().enumerate() {
            check_one(format!("h0[{k}]"), an, &|p, d| p.h0[k] += d);
        }
        if cell.has_cell_state() {
            for (k, &an) in grads.c0.iter().enumerate() {
                check_one(format!("c0[{k}]"), an, &|p, d| p.c0[k] += d);
            }
        }
        // Few stencils may straddle a kink, or the check checks nothing.
        assert!(
            straddled * 20 <= checked,
            "{config:?}: {straddled} of {} stencils straddle a kink",
            checked + straddled
        );
        eprintln!(
            "{} {:?}: {checked} gradients ({straddled} skipped at kinks), worst relative error {worst:.2e}",
            cell.name(),
            config
        );
    }

    fn all_options(cell: CellKind) {
        let layer = |proj: bool| {
            let c = RnnConfig::new(cell, 2, 3).unwrap();
            if proj && cell.has_cell_state() {
                c.with_projection(2).unwrap()
            } else {
                c
            }
        };
        // Two layers, bidirectional, variable lengths, projection.
        check(
            StackConfig::new(layer(true))
                .with_layers(2)
                .with_direction(Direction::Bidirectional),
            4,
            3,
            Some(vec![2, 4, 1]),
            1,
        );
        // Reverse, batch-first, no bias, variable lengths.
        check(
            StackConfig::new(layer(false).with_bias(false))
                .with_direction(Direction::Reverse)
                .with_batch_first(true),
            5,
            2,
            Some(vec![5, 3]),
            2,
        );
        // Forward, batch-first, projection, three layers.
        check(
            StackConfig::new(layer(true))
                .with_layers(3)
                .with_batch_first(true),
            3,
            2,
            None,
            3,
        );
    }

    #[test]
    fn lstm_backward_matches_finite_differences() {
        all_options(CellKind::Lstm);
    }

    #[test]
    fn peephole_lstm_backward_matches_finite_differences() {
        all_options(CellKind::PeepholeLstm);
    }

    #[test]
    fn gru_reset_after_backward_matches_finite_differences() {
        all_options(CellKind::Gru(GruReset::After));
    }

    #[test]
    fn gru_reset_before_backward_matches_finite_differences() {
        all_options(CellKind::Gru(GruReset::Before));
    }

    #[test]
    fn rnn_tanh_backward_matches_finite_differences() {
        all_options(CellKind::Rnn(Nonlinearity::Tanh));
    }

    #[test]
    fn rnn_relu_backward_matches_finite_differences() {
        all_options(CellKind::Rnn(Nonlinearity::Relu));
    }

    /// ONNX's options: every function at least once (with non-default
    /// alpha/beta), per-direction functions, a clip that bites (the
    /// pre-activations spread over about ±2) and input_forget.
    fn with_options(cell: CellKind, options: CellOptions, seed: u64) {
        let layer = RnnConfig::new(cell, 2, 3)
            .unwrap()
            .with_options(options)
            .unwrap();
        if options.clip.is_some() {
            // The clip bites: the module without it computes otherwise.
            let unclipped = CellOptions {
                clip: None,
                ..options
            };
            let run = |options| {
                let config = StackConfig::new(layer.with_options(options).unwrap())
                    .with_direction(Direction::Bidirectional);
                let weights = StackWeights::random(config, seed, 1.5).unwrap();
                let x: Vec<f32> = (0..8).map(|k| (k as f32 * 0.7).sin()).collect();
                crate::reference::forward_stack(&weights, &x, 4, 1, None, None, None)
                    .unwrap()
                    .output
            };
            let (a, b) = (run(options), run(unclipped));
            let moved = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                moved > 1e-2,
                "{options:?}: the clip never bites ({moved:e})"
            );
        }
        check(
            StackConfig::new(layer)
                .with_layers(2)
                .with_direction(Direction::Bidirectional),
            4,
            3,
            Some(vec![2, 4, 1]),
            seed,
        );
    }

    fn functions(f: Activation, g: Activation, h: Activation) -> Activations {
        Activations {
            f: Some(f),
            g: Some(g),
            h: Some(h),
        }
    }

    #[test]
    fn onnx_options_backward_matches_finite_differences() {
        use Activation::*;
        let lstm_options = CellOptions {
            activations: functions(
                HardSigmoid {
                    alpha: 0.3,
                    beta: 0.45,
                },
                Softsign,
                ScaledTanh {
                    alpha: 1.5,
                    beta: 0.6,
                },
            ),
            reverse: Some(functions(
                Softplus,
                Elu { alpha: 0.8 },
                Affine {
                    alpha: 0.7,
                    beta: -0.3,
                },
            )),
            clip: Some(0.9),
            input_forget: false,
        };
        with_options(CellKind::Lstm, lstm_options, 11);
        let coupled = CellOptions {
            input_forget: true,
            clip: Some(1.1),
            ..CellOptions::default()
        };
        with_options(CellKind::Lstm, coupled, 12);
        with_options(CellKind::PeepholeLstm, coupled, 13);
        for reset in [GruReset::After, GruReset::Before] {
            let gru = CellOptions {
                activations: Activations {
                    f: Some(Sigmoid),
                    g: Some(LeakyRelu { alpha: 0.1 }),
                    h: None,
                },
                reverse: Some(Activations {
                    f: Some(Softsign),
                    g: Some(Tanh),
                    h: None,
                }),
                clip: Some(0.8),
                input_forget: false,
            };
            with_options(CellKind::Gru(reset), gru, 14);
        }
        for (f, seed) in [
            (ThresholdedRelu { alpha: 0.4 }, 15),
            (Relu, 16),
            (Elu { alpha: 1.3 }, 17),
        ] {
            let rnn = CellOptions {
                activations: Activations {
                    f: Some(f),
                    ..Activations::default()
                },
                clip: Some(1.2),
                ..CellOptions::default()
            };
            with_options(CellKind::Rnn(Nonlinearity::Tanh), rnn, seed);
        }
    }
}
