//! One time step of every cell for one batch row, in f64, written from the
//! equations (PyTorch's gate order), not from the shaders.

use crate::cell_options::Activation;
use crate::config::GruReset;

pub use crate::cell_options::sigmoid;

/// Weights of one layer converted to f64, rows of `[G*H, K]` matrices.
#[derive(Debug, Clone)]
pub struct CellWeights {
    /// Largest `Σ|w·v|` of any dot product evaluated so far: the scale of
    /// the f32 rounding error the GPU may make (see `check::Tolerance`).
    pub scale: std::cell::Cell<f64>,
    /// `H`: hidden units.
    pub hidden: usize,
    /// `I`: input values per step.
    pub input: usize,
    /// `[G*H, I]`
    pub w_ih: Vec<f64>,
    /// `[G*H, Ho]`
    pub w_hh: Vec<f64>,
    /// `[G*H]`; zeros for a layer without biases.
    pub b_ih: Vec<f64>,
    /// `[G*H]`; zeros for a layer without biases.
    pub b_hh: Vec<f64>,
    /// `[3, H]` rows (p_i, p_f, p_o), empty without peepholes.
    pub peephole: Vec<f64>,
    /// `[Ho, H]` projection, empty without one.
    pub w_hr: Vec<f64>,
    /// The functions f (gates), g (candidate), h (LSTM output of `c`).
    pub functions: [Activation; 3],
    /// Pre-activations of f and g are clipped to `[-clip, clip]`.
    pub clip: Option<f64>,
    /// LSTM: `f = 1 - i`.
    pub input_forget: bool,
}

impl CellWeights {
    /// f (`k` = 0) or g (`k` = 1) at pre-activation `x`, clipped first.
    pub fn act(&self, k: usize, x: f64) -> f64 {
        let x = match self.clip {
            Some(c) => x.clamp(-c, c),
            None => x,
        };
        self.functions[k].eval(x)
    }

    /// The derivative of [`CellWeights::act`]: 0 where the clip bites (at
    /// `|x| >= clip`, as the shaders decide from the clipped value).
    pub fn act_grad(&self, k: usize, x: f64) -> f64 {
        match self.clip {
            Some(c) if x.abs() >= c => 0.0,
            _ => self.functions[k].derivative(x),
        }
    }

    /// The LSTM's output function h of the cell state.
    pub fn out(&self, c: f64) -> f64 {
        self.functions[2].eval(c)
    }

    /// `W_ih[row] · x + b_ih[row]`.
    pub fn input_part(&self, row: usize, x: &[f64]) -> f64 {
        self.dot(
            &self.w_ih[row * self.input..(row + 1) * self.input],
            x,
            self.b_ih[row],
        )
    }

    /// `W_hh[row] · h + b_hh[row]` (`h` has `Ho` values).
    pub fn hidden_part(&self, row: usize, h: &[f64]) -> f64 {
        let k = h.len();
        self.dot(&self.w_hh[row * k..(row + 1) * k], h, self.b_hh[row])
    }

    /// `W_hr · m` when the layer has a projection, else `m`.
    pub fn project(&self, m: Vec<f64>) -> Vec<f64> {
        if self.w_hr.is_empty() {
            return m;
        }
        self.w_hr
            .chunks_exact(self.hidden)
            .map(|row| self.dot(row, &m, 0.0))
            .collect()
    }

    fn dot(&self, w: &[f64], v: &[f64], bias: f64) -> f64 {
        let mut sum = bias;
        let mut magnitude = bias.abs();
        for (a, b) in w.iter().zip(v) {
            sum += a * b;
            magnitude += (a * b).abs();
        }
        self.scale.set(self.scale.get().max(magnitude));
        sum
    }
}

/// LSTM, optionally with peepholes; returns `(o*h(c'), c')` (the caller
/// applies a projection, if any).
pub fn lstm(
    w: &CellWeights,
    x: &[f64],
    h: &[f64],
    c: &[f64],
    peephole: bool,
) -> (Vec<f64>, Vec<f64>) {
    let n = w.hidden;
    let pre =
        |gate: usize, j: usize| w.input_part(gate * n + j, x) + w.hidden_part(gate * n + j, h);
    let mut h_new = vec![0.0; n];
    let mut c_new = vec![0.0; n];
    for j in 0..n {
        let (p_i, p_f, p_o) = if peephole {
            (w.peephole[j], w.peephole[n + j], w.peephole[2 * n + j])
        } else {
            (0.0, 0.0, 0.0)
        };
        let i = w.act(0, pre(0, j) + p_i * c[j]);
        let f = if w.input_forget {
            1.0 - i
        } else {
            w.act(0, pre(1, j) + p_f * c[j])
        };
        let g = w.act(1, pre(2, j));
        c_new[j] = f * c[j] + i * g;
        let o = w.act(0, pre(3, j) + p_o * c_new[j]);
        h_new[j] = o * w.out(c_new[j]);
    }
    (h_new, c_new)
}

/// GRU in PyTorch's z convention, `h' = (1-z)*n + z*h`.
pub fn gru(w: &CellWeights, x: &[f64], h: &[f64], reset: GruReset) -> Vec<f64> {
    let n = w.hidden;
    let r: Vec<f64> = (0..n)
        .map(|j| w.act(0, w.input_part(j, x) + w.hidden_part(j, h)))
        .collect();
    let z: Vec<f64> = (0..n)
        .map(|j| w.act(0, w.input_part(n + j, x) + w.hidden_part(n + j, h)))
        .collect();
    let rh: Vec<f64> = r.iter().zip(h).map(|(r, h)| r * h).collect();
    (0..n)
        .map(|j| {
            let row = 2 * n + j;
            let cand = w.act(
                1,
                match reset {
                    GruReset::After => w.input_part(row, x) + r[j] * w.hidden_part(row, h),
                    GruReset::Before => w.input_part(row, x) + w.hidden_part(row, &rh),
                },
            );
            (1.0 - z[j]) * cand + z[j] * h[j]
        })
        .collect()
}

/// Elman RNN (its function is `f`: tanh, relu or an ONNX one).
pub fn rnn(w: &CellWeights, x: &[f64], h: &[f64]) -> Vec<f64> {
    (0..w.hidden)
        .map(|j| w.act(0, w.input_part(j, x) + w.hidden_part(j, h)))
        .collect()
}
