//! The CPU twin: an f64 forward pass of every cell with plain loops. It is the
//! truth the GPU kernels are tested against, so it favours obviousness over
//! speed.

pub mod cells;

use crate::config::CellKind;
use crate::error::{Error, Result};
use crate::weights::RnnWeights;
use cells::CellWeights;

/// The result of [`forward`], row-major f64.
#[derive(Debug, Clone)]
pub struct ReferenceOutput {
    /// `[T, B, H]`
    pub output: Vec<f64>,
    /// `[1, B, H]`
    pub h_n: Vec<f64>,
    /// `[1, B, H]`, LSTM only.
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
    }
}

/// Runs one layer over `input` `[T, B, I]` from `h0`/`c0` `[1, B, H]` (zeros
/// when `None`).
pub fn forward(
    weights: &RnnWeights,
    input: &[f32],
    seq_len: usize,
    batch: usize,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
) -> Result<ReferenceOutput> {
    let cfg = weights.config();
    let (i_size, h_size) = (cfg.input_size, cfg.hidden_size);
    if input.len() != seq_len * batch * i_size {
        return Err(Error::shape(
            "input",
            &[seq_len, batch, i_size],
            &[input.len()],
        ));
    }
    for (what, s) in [("h0", h0), ("c0", c0)] {
        if let Some(s) = s {
            if s.len() != batch * h_size {
                return Err(Error::shape(what, &[1, batch, h_size], &[s.len()]));
            }
        }
    }
    let w = cell_weights(weights);
    let mut output = vec![0.0; seq_len * batch * h_size];
    let mut h_n = vec![0.0; batch * h_size];
    let mut c_n = vec![0.0; batch * h_size];
    for b in 0..batch {
        let row = b * h_size..(b + 1) * h_size;
        let mut h = h0
            .map(|s| to_f64(&s[row.clone()]))
            .unwrap_or(vec![0.0; h_size]);
        let mut c = c0
            .map(|s| to_f64(&s[row.clone()]))
            .unwrap_or(vec![0.0; h_size]);
        for t in 0..seq_len {
            let start = (t * batch + b) * i_size;
            let x = to_f64(&input[start..start + i_size]);
            h = match cfg.cell {
                CellKind::Lstm | CellKind::PeepholeLstm => {
                    let peephole = cfg.cell == CellKind::PeepholeLstm;
                    let (h_new, c_new) = cells::lstm(&w, &x, &h, &c, peephole);
                    c = c_new;
                    h_new
                }
                CellKind::Gru(reset) => cells::gru(&w, &x, &h, reset),
                CellKind::Rnn(act) => cells::rnn(&w, &x, &h, act),
            };
            let out = (t * batch + b) * h_size;
            output[out..out + h_size].copy_from_slice(&h);
        }
        h_n[row.clone()].copy_from_slice(&h);
        c_n[row].copy_from_slice(&c);
    }
    Ok(ReferenceOutput {
        output,
        h_n,
        c_n: cfg.cell.has_cell_state().then_some(c_n),
        preactivation_scale: w.scale.get(),
    })
}
