//! The CPU twin: an f64 forward pass of every cell and module option with
//! plain loops. It is the truth the GPU kernels are tested against, so it
//! favours obviousness over speed.

pub mod cells;

use crate::config::CellKind;
use crate::error::{Error, Result};
use crate::stack::{validate_lengths, StackConfig, StackWeights};
use crate::weights::RnnWeights;
use cells::CellWeights;

/// The result of [`forward`] / [`forward_stack`], row-major f64.
#[derive(Debug, Clone)]
pub struct ReferenceOutput {
    /// `[T, B, D*Ho]` (`[B, T, D*Ho]` batch-first), zero past each length.
    pub output: Vec<f64>,
    /// `[L*D, B, Ho]`
    pub h_n: Vec<f64>,
    /// `[L*D, B, H]`, LSTM only.
    pub c_n: Option<Vec<f64>>,
    /// Largest `Σ|w·v|` over every pre-activation dot product: the scale of
    /// f32 rounding errors (see [`crate::check::Tolerance::recurrent`]).
    pub preactivation_scale: f64,
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn cell_weights(w: &RnnWeights) -> CellWeights {
    let cfg = w.config();
    let rows = cfg.gate_rows();
    let zeros = vec![0.0; rows];
    CellWeights {
        scale: Default::default(),
        hidden: cfg.hidden_size,
        input: cfg.input_size,
        w_ih: to_f64(w.weight_ih()),
        w_hh: to_f64(w.weight_hh()),
        b_ih: w.bias_ih().map(to_f64).unwrap_or_else(|| zeros.clone()),
        b_hh: w.bias_hh().map(to_f64).unwrap_or(zeros),
        peephole: w.peephole().map(to_f64).unwrap_or_default(),
        w_hr: w.weight_hr().map(to_f64).unwrap_or_default(),
    }
}

/// One step of `cell` for one row: `(h', c')`.
fn step(cell: CellKind, w: &CellWeights, x: &[f64], h: &[f64], c: &[f64]) -> (Vec<f64>, Vec<f64>) {
    match cell {
        CellKind::Lstm | CellKind::PeepholeLstm => {
            let (m, c_new) = cells::lstm(w, x, h, c, cell == CellKind::PeepholeLstm);
            (w.project(m), c_new)
        }
        CellKind::Gru(reset) => (cells::gru(w, x, h, reset), c.to_vec()),
        CellKind::Rnn(act) => (cells::rnn(w, x, h, act), c.to_vec()),
    }
}

/// Runs one layer over `input` `[T, B, I]` from `h0`/`c0` `[1, B, Ho]` /
/// `[1, B, H]` (zeros when `None`).
pub fn forward(
    weights: &RnnWeights,
    input: &[f32],
    seq_len: usize,
    batch: usize,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
) -> Result<ReferenceOutput> {
    let config = StackConfig::new(*weights.config());
    let stack = StackWeights::new(config, vec![weights.clone()])?;
    forward_stack(&stack, input, seq_len, batch, h0, c0, None)
}

/// Runs a whole module over `input` `[T, B, I]` (`[B, T, I]` batch-first)
/// from `h0` `[L*D, B, Ho]` / `c0` `[L*D, B, H]`, rows limited to
/// `lengths[b]` steps (all `T` when `None`).
pub fn forward_stack(
    weights: &StackWeights,
    input: &[f32],
    seq: usize,
    batch: usize,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    lengths: Option<&[usize]>,
) -> Result<ReferenceOutput> {
    let cfg = *weights.config();
    let layer0 = cfg.layer;
    let (h_size, ho, dirs) = (layer0.hidden_size, layer0.output_size(), cfg.directions());
    let slots = cfg.state_slots();
    if input.len() != seq * batch * layer0.input_size {
        return Err(Error::shape(
            "input",
            &[seq, batch, layer0.input_size],
            &[input.len()],
        ));
    }
    for (what, s, width) in [("h0", h0, ho), ("c0", c0, h_size)] {
        if let Some(s) = s {
            if s.len() != slots * batch * width {
                return Err(Error::shape(what, &[slots, batch, width], &[s.len()]));
            }
        }
    }
    let lengths: Vec<usize> = match lengths {
        Some(l) => {
            validate_lengths(l, seq, batch)?;
            l.to_vec()
        }
        None => vec![seq; batch],
    };
    // Work time-major: x[t][b] is a vector.
    let at = |t: usize, b: usize| {
        if cfg.batch_first {
            b * seq + t
        } else {
            t * batch + b
        }
    };
    let mut layer_in: Vec<Vec<f64>> = (0..seq * batch)
        .map(|n| {
            let (t, b) = (n / batch, n % batch);
            to_f64(&input[at(t, b) * layer0.input_size..][..layer0.input_size])
        })
        .collect();
    let mut h_n = vec![0.0; slots * batch * ho];
    let mut c_n = vec![0.0; slots * batch * h_size];
    let mut scale: f64 = 0.0;
    for l in 0..cfg.num_layers {
        let mut layer_out = vec![vec![0.0; dirs * ho]; seq * batch];
        for d in 0..dirs {
            let slot = l * dirs + d;
            let w = cell_weights(weights.layer(l, d));
            for (b, &len) in lengths.iter().enumerate() {
                let state = |s: Option<&[f32]>, width: usize| {
                    s.map(|s| to_f64(&s[(slot * batch + b) * width..][..width]))
                        .unwrap_or(vec![0.0; width])
                };
                let (mut h, mut c) = (state(h0, ho), state(c0, h_size));
                let times: Vec<usize> = if cfg.direction.is_reverse(d) {
                    (0..len).rev().collect()
                } else {
                    (0..len).collect()
                };
                for t in times {
                    (h, c) = step(layer0.cell, &w, &layer_in[t * batch + b], &h, &c);
                    layer_out[t * batch + b][d * ho..(d + 1) * ho].copy_from_slice(&h);
                }
                h_n[(slot * batch + b) * ho..][..ho].copy_from_slice(&h);
                c_n[(slot * batch + b) * h_size..][..h_size].copy_from_slice(&c);
            }
            scale = scale.max(w.scale.get());
        }
        layer_in = layer_out;
    }
    let width = cfg.output_size();
    let mut output = vec![0.0; seq * batch * width];
    for t in 0..seq {
        for b in 0..batch {
            output[at(t, b) * width..][..width].copy_from_slice(&layer_in[t * batch + b]);
        }
    }
    Ok(ReferenceOutput {
        output,
        h_n,
        c_n: layer0.cell.has_cell_state().then_some(c_n),
        preactivation_scale: scale,
    })
}
