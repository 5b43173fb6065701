//! The CPU twin: an f64 forward pass of every cell and module option with
//! plain loops. It is the truth the GPU kernels are tested against, so it
//! favours obviousness over speed.

pub mod backward;
pub mod cells;
pub mod check;
pub mod training;

use crate::config::CellKind;
use crate::config::{validate_lengths, StackConfig};
use crate::error::{Error, Result};
use crate::weights::{RnnWeights, StackWeights};
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
    /// f32 rounding errors (see [`crate::reference::check::Tolerance::recurrent`]).
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
        functions: cfg.functions(0),
        clip: cfg.options.clip.map(f64::from),
        input_forget: cfg.options.input_forget,
    }
}

/// One step of `cell` for one row: `(h', c')`.
pub fn cell_step(
    cell: CellKind,
    w: &CellWeights,
    x: &[f64],
    h: &[f64],
    c: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    match cell {
        CellKind::Lstm | CellKind::PeepholeLstm => {
            let (m, c_new) = cells::lstm(w, x, h, c, cell == CellKind::PeepholeLstm);
            (w.project(m), c_new)
        }
        CellKind::Gru(reset) => (cells::gru(w, x, h, reset), c.to_vec()),
        CellKind::Rnn(_) => (cells::rnn(w, x, h), c.to_vec()),
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

/// A module's parameters and inputs in f64, the state vectors time-major:
/// what the forward and backward references compute on (and what the
/// finite-difference tests perturb).
#[derive(Debug, Clone)]
pub struct Problem {
    /// The module's shape and options.
    pub config: StackConfig,
    /// One per layer and direction, index `l*D + d`.
    pub weights: Vec<CellWeights>,
    /// `T`: the sequence length.
    pub seq: usize,
    /// `B`: the batch size.
    pub batch: usize,
    /// `input[t*B + b]`: the input vector of row b at time t.
    pub input: Vec<Vec<f64>>,
    /// `[L*D, B, Ho]` (zeros when not given).
    pub h0: Vec<f64>,
    /// `[L*D, B, H]` (zeros when not given).
    pub c0: Vec<f64>,
    /// One per batch row, each in `1..=T`.
    pub lengths: Vec<usize>,
    /// Training dropout: for each layer but the last, the factor (0 or
    /// `1/(1-p)`) of every element of its time-major output `[T, B, D*Ho]`;
    /// empty for none.
    pub dropout: Vec<Vec<f64>>,
}

impl Problem {
    /// Checks shapes and converts everything to f64. `input` is `[T, B, I]`
    /// (`[B, T, I]` batch-first).
    pub fn new(
        weights: &StackWeights,
        input: &[f32],
        seq: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
        lengths: Option<&[usize]>,
    ) -> Result<Self> {
        let cfg = *weights.config();
        let layer0 = cfg.layer;
        let (h_size, ho) = (layer0.hidden_size, layer0.output_size());
        let slots = cfg.state_slots();
        if input.len() != seq * batch * layer0.input_size {
            return Err(Error::shape(
                "input",
                &[seq, batch, layer0.input_size],
                &[input.len()],
            ));
        }
        let state = |what: &str, s: Option<&[f32]>, width: usize| -> Result<Vec<f64>> {
            match s {
                Some(s) if s.len() != slots * batch * width => {
                    Err(Error::shape(what, &[slots, batch, width], &[s.len()]))
                }
                Some(s) => Ok(to_f64(s)),
                None => Ok(vec![0.0; slots * batch * width]),
            }
        };
        let lengths = match lengths {
            Some(l) => {
                validate_lengths(l, seq, batch)?;
                l.to_vec()
            }
            None => vec![seq; batch],
        };
        let i = layer0.input_size;
        let input = (0..seq * batch)
            .map(|n| to_f64(&input[user_index(&cfg, seq, batch, n / batch, n % batch) * i..][..i]))
            .collect();
        Ok(Self {
            config: cfg,
            weights: weights.layers().iter().map(cell_weights).collect(),
            seq,
            batch,
            input,
            h0: state("h0", h0, ho)?,
            c0: state("c0", c0, h_size)?,
            lengths,
            dropout: vec![],
        })
    }

    /// The times row `b` visits in direction `d`, in processing order.
    pub fn times(&self, d: usize, b: usize) -> Vec<usize> {
        let len = self.lengths[b];
        if self.config.direction.is_reverse(d) {
            (0..len).rev().collect()
        } else {
            (0..len).collect()
        }
    }
}

/// Row index of `(t, b)` in a user-layout tensor (time- or batch-major).
pub fn user_index(cfg: &StackConfig, seq: usize, batch: usize, t: usize, b: usize) -> usize {
    if cfg.batch_first {
        b * seq + t
    } else {
        t * batch + b
    }
}

/// Runs the f64 forward pass of `p`. Also returns every layer's input
/// (time-major), which the backward pass needs.
pub fn run(p: &Problem) -> (ReferenceOutput, Vec<Vec<Vec<f64>>>) {
    let cfg = p.config;
    let layer0 = cfg.layer;
    let (h_size, ho, dirs, batch) = (
        layer0.hidden_size,
        layer0.output_size(),
        cfg.directions(),
        p.batch,
    );
    let slots = cfg.state_slots();
    let mut layer_inputs = vec![p.input.clone()];
    let mut h_n = vec![0.0; slots * batch * ho];
    let mut c_n = vec![0.0; slots * batch * h_size];
    let mut scale: f64 = 0.0;
    for l in 0..cfg.num_layers {
        let layer_in = layer_inputs.last().expect("layer 0 input");
        let mut layer_out = vec![vec![0.0; dirs * ho]; p.seq * batch];
        for d in 0..dirs {
            let slot = l * dirs + d;
            let w = &p.weights[slot];
            for b in 0..batch {
                let mut h = p.h0[(slot * batch + b) * ho..][..ho].to_vec();
                let mut c = p.c0[(slot * batch + b) * h_size..][..h_size].to_vec();
                for t in p.times(d, b) {
                    (h, c) = cell_step(cfg.layer.cell, w, &layer_in[t * batch + b], &h, &c);
                    layer_out[t * batch + b][d * ho..(d + 1) * ho].copy_from_slice(&h);
                }
                h_n[(slot * batch + b) * ho..][..ho].copy_from_slice(&h);
                c_n[(slot * batch + b) * h_size..][..h_size].copy_from_slice(&c);
            }
            scale = scale.max(w.scale.get());
        }
        if let Some(mask) = p.dropout.get(l) {
            let width = dirs * ho;
            for (n, row) in layer_out.iter_mut().enumerate() {
                for (v, f) in row.iter_mut().zip(&mask[n * width..]) {
                    *v *= f;
                }
            }
        }
        layer_inputs.push(layer_out);
    }
    let top = layer_inputs.pop().expect("top layer output");
    let width = cfg.output_size();
    let mut output = vec![0.0; p.seq * batch * width];
    for t in 0..p.seq {
        for b in 0..batch {
            output[user_index(&cfg, p.seq, batch, t, b) * width..][..width]
                .copy_from_slice(&top[t * batch + b]);
        }
    }
    let out = ReferenceOutput {
        output,
        h_n,
        c_n: layer0.cell.has_cell_state().then_some(c_n),
        preactivation_scale: scale,
    };
    (out, layer_inputs)
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
    let problem = Problem::new(weights, input, seq, batch, h0, c0, lengths)?;
    Ok(run(&problem).0)
}
