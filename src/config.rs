//! What a recurrent layer is: the cell, its sizes and options. Validated once,
//! on construction, so every later stage can trust it.

use crate::error::{Error, Result};

/// Where the GRU reset gate acts on the previous hidden state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GruReset {
    /// PyTorch, cuDNN, ONNX `linear_before_reset=1`:
    /// `n = tanh(W_in x + b_in + r*(W_hn h + b_hn))`.
    After,
    /// Cho et al. 2014, the seed, ONNX `linear_before_reset=0`:
    /// `n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)`.
    Before,
}

/// The nonlinearity of a plain (Elman) RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nonlinearity {
    Tanh,
    Relu,
}

/// The recurrent cell. Gate order is PyTorch's everywhere in this crate:
/// LSTM i, f, g, o; GRU r, z, n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// `c' = f*c + i*g`, `h' = o*tanh(c')`.
    Lstm,
    /// LSTM whose input and forget gates also see `c_{t-1}` (`p_i*c`, `p_f*c`)
    /// and whose output gate sees the new cell state (`p_o*c'`).
    PeepholeLstm,
    /// GRU with PyTorch's z convention `h' = (1-z)*n + z*h`.
    Gru(GruReset),
    /// `h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn(Nonlinearity),
}

impl CellKind {
    /// Every cell variant, for tests and tables.
    pub const ALL: [CellKind; 6] = [
        CellKind::Lstm,
        CellKind::PeepholeLstm,
        CellKind::Gru(GruReset::After),
        CellKind::Gru(GruReset::Before),
        CellKind::Rnn(Nonlinearity::Tanh),
        CellKind::Rnn(Nonlinearity::Relu),
    ];

    /// Number of gate blocks `G` in `weight_ih` / `weight_hh` (`[G*H, ...]`).
    pub fn gates(self) -> usize {
        match self {
            CellKind::Lstm | CellKind::PeepholeLstm => 4,
            CellKind::Gru(_) => 3,
            CellKind::Rnn(_) => 1,
        }
    }

    /// Whether the cell carries a cell state `c` besides `h`.
    pub fn has_cell_state(self) -> bool {
        matches!(self, CellKind::Lstm | CellKind::PeepholeLstm)
    }

    /// A short stable name, used by the CLI and in test output.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::PeepholeLstm => "lstm-peephole",
            CellKind::Gru(GruReset::After) => "gru",
            CellKind::Gru(GruReset::Before) => "gru-reset-before",
            CellKind::Rnn(Nonlinearity::Tanh) => "rnn-tanh",
            CellKind::Rnn(Nonlinearity::Relu) => "rnn-relu",
        }
    }

    /// Parses the names printed by [`CellKind::name`] plus the short `rnn`.
    pub fn parse(name: &str) -> Result<Self> {
        if name == "rnn" {
            return Ok(CellKind::Rnn(Nonlinearity::Tanh));
        }
        CellKind::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = CellKind::ALL.iter().map(|c| c.name()).collect();
                Error::config("cell", format!("unknown cell {name:?}; known: {known:?}"))
            })
    }
}

/// One recurrent layer's shape and options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RnnConfig {
    pub cell: CellKind,
    pub input_size: usize,
    pub hidden_size: usize,
    /// Whether `bias_ih` and `bias_hh` exist (PyTorch's `bias=True`).
    pub bias: bool,
    /// LSTM projection size `Ho` (PyTorch's `proj_size`): `h = W_hr (o*tanh(c))`.
    pub proj_size: Option<usize>,
}

/// Sizes are kept below this so every element index fits the shaders' `u32`.
const MAX_DIM: usize = 1 << 24;

impl RnnConfig {
    /// A validated config with biases on (PyTorch's default).
    pub fn new(cell: CellKind, input_size: usize, hidden_size: usize) -> Result<Self> {
        Self {
            cell,
            input_size,
            hidden_size,
            bias: true,
            proj_size: None,
        }
        .validated()
    }

    /// The same config with an LSTM output projection to `proj_size` units.
    pub fn with_projection(mut self, proj_size: usize) -> Result<Self> {
        self.proj_size = Some(proj_size);
        self.validated()
    }

    /// The same config with biases switched on or off.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Checks the sizes; every constructor of the crate goes through this.
    pub fn validated(self) -> Result<Self> {
        for (what, v) in [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
        ] {
            if v == 0 {
                return Err(Error::ZeroSize { what: what.into() });
            }
            if v > MAX_DIM {
                return Err(Error::config(
                    what,
                    format!("{v} is over the supported maximum {MAX_DIM}"),
                ));
            }
        }
        if let Some(p) = self.proj_size {
            if !self.cell.has_cell_state() {
                return Err(Error::config(
                    "proj_size",
                    format!("only LSTMs have a projection, not a {}", self.cell.name()),
                ));
            }
            if p == 0 || p >= self.hidden_size {
                return Err(Error::config(
                    "proj_size",
                    format!("must be in 1..hidden_size ({}), got {p}", self.hidden_size),
                ));
            }
        }
        Ok(self)
    }

    /// `Ho`: the size of `h` (the projection size, else the hidden size).
    pub fn output_size(&self) -> usize {
        self.proj_size.unwrap_or(self.hidden_size)
    }

    /// `G`, the number of gate blocks.
    pub fn gates(&self) -> usize {
        self.cell.gates()
    }

    /// Rows of `weight_ih` and `weight_hh`: `G*H`.
    pub fn gate_rows(&self) -> usize {
        self.gates() * self.hidden_size
    }
}

/// How the forward step kernels store a layer's recurrent weights
/// (`weight_hh`, and `weight_hr` of a projected LSTM): the matrices every
/// time step reads again. Sums, states and activations are f32 either way;
/// the input projection is one large GEMM per sequence and stays f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    #[default]
    F32,
    /// Half the bytes per step; needs the adapter's `SHADER_F16`. The layer
    /// holds its recurrent weights rounded to f16 (see
    /// [`crate::RnnWeights::rounded_for`]) and is for inference: training
    /// refuses it.
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}
