//! What a recurrent layer is: the cell, its sizes and options. Validated once,
//! on construction, so every later stage can trust it.

use crate::cell_options::{Activation, CellOptions};
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
    /// `tanh`.
    Tanh,
    /// `max(0, x)`.
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
    /// The recurrent cell.
    pub cell: CellKind,
    /// `I`: values per step of the input.
    pub input_size: usize,
    /// `H`: units of the hidden (and cell) state.
    pub hidden_size: usize,
    /// Whether `bias_ih` and `bias_hh` exist (PyTorch's `bias=True`).
    pub bias: bool,
    /// LSTM projection size `Ho` (PyTorch's `proj_size`): `h = W_hr (o*tanh(c))`.
    pub proj_size: Option<usize>,
    /// ONNX's options (other functions, clip, input_forget); none by
    /// default.
    pub options: CellOptions,
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
            options: CellOptions::default(),
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
        self.check_options()?;
        Ok(self)
    }

    /// [`CellOptions::validated`], a function only in a slot the cell has,
    /// and `input_forget` only for an LSTM.
    fn check_options(&self) -> Result<()> {
        let options = self.options.validated()?;
        let slots = self.function_slots();
        for a in [Some(options.activations), options.reverse]
            .into_iter()
            .flatten()
        {
            let given = [a.f, a.g, a.h];
            if let Some(k) = (slots..3).find(|&k| given[k].is_some()) {
                return Err(Error::config(
                    format!("activation {}", ["f", "g", "h"][k]),
                    format!("a {} has {slots} activation function(s)", self.cell.name()),
                ));
            }
        }
        if options.input_forget && !self.cell.has_cell_state() {
            return Err(Error::config(
                "input_forget",
                format!("only an LSTM has a forget gate, not a {}", self.cell.name()),
            ));
        }
        Ok(())
    }

    /// How many of the functions f, g, h the cell has: LSTM 3, GRU 2,
    /// RNN 1.
    pub fn function_slots(&self) -> usize {
        match self.cell {
            CellKind::Lstm | CellKind::PeepholeLstm => 3,
            CellKind::Gru(_) => 2,
            CellKind::Rnn(_) => 1,
        }
    }

    /// The functions of direction `d` with every slot filled: `[f, g, h]`,
    /// the cell's own where none is set (an RNN's `f` is its
    /// nonlinearity; slots a cell lacks hold an LSTM's own, never read).
    pub fn functions(&self, d: usize) -> [Activation; 3] {
        let a = self.options.activations_of(d);
        let own_f = match self.cell {
            CellKind::Rnn(Nonlinearity::Tanh) => Activation::Tanh,
            CellKind::Rnn(Nonlinearity::Relu) => Activation::Relu,
            _ => Activation::Sigmoid,
        };
        [
            a.f.unwrap_or(own_f),
            a.g.unwrap_or(Activation::Tanh),
            a.h.unwrap_or(Activation::Tanh),
        ]
    }

    /// Whether training saves pre-activations in direction `d` (a
    /// function of `f` or `g` other than the cell's own, or a clip): the
    /// backward computes derivatives and the clip mask from them.
    pub fn saves_pre_activations(&self, d: usize) -> bool {
        let plain = RnnConfig {
            options: CellOptions::default(),
            ..*self
        }
        .functions(d);
        let own = self.functions(d);
        self.options.clip.is_some() || own[0] != plain[0] || own[1] != plain[1]
    }

    /// The same config with ONNX's cell options (see [`CellOptions`]).
    pub fn with_options(mut self, options: CellOptions) -> Result<Self> {
        self.options = options;
        self.validated()
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
    /// Full-precision recurrent weights; every adapter.
    #[default]
    F32,
    /// Half the bytes per step; needs the adapter's `SHADER_F16`. The layer
    /// holds its recurrent weights rounded to f16 (see
    /// [`crate::RnnWeights::rounded_for`]) and is for inference: training
    /// refuses it.
    F16,
}

impl Precision {
    /// A short stable name: `f32` or `f16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

/// Which way(s) each layer runs over the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the first step to each row's last valid step.
    Forward,
    /// From each row's last valid step to the first (ONNX `reverse`).
    Reverse,
    /// Forward and reverse; outputs concatenated `[forward | reverse]`.
    Bidirectional,
}

impl Direction {
    /// `D`: 1, or 2 for bidirectional.
    pub fn count(self) -> usize {
        match self {
            Direction::Bidirectional => 2,
            _ => 1,
        }
    }

    /// Whether direction index `d` (0 or 1) runs backwards in time.
    pub fn is_reverse(self, d: usize) -> bool {
        self == Direction::Reverse || (self == Direction::Bidirectional && d == 1)
    }

    /// A short stable name, used by the CLI and in test output.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Reverse => "reverse",
            Direction::Bidirectional => "bidirectional",
        }
    }

    /// The direction [`Direction::name`] names (ONNX's `direction`
    /// attribute uses the same words).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Forward, Self::Reverse, Self::Bidirectional]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

/// A whole recurrent module: `layer` describes layer 0 (its `input_size` is
/// the module's); deeper layers read `D*Ho` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StackConfig {
    /// Layer 0's config; deeper layers differ only in `input_size`.
    pub layer: RnnConfig,
    /// `L`: the number of stacked layers.
    pub num_layers: usize,
    /// Which way(s) each layer runs.
    pub direction: Direction,
    /// Input and output are `[B, T, ...]` instead of `[T, B, ...]` (states
    /// never are).
    pub batch_first: bool,
}

impl StackConfig {
    /// One forward, time-major layer.
    pub fn new(layer: RnnConfig) -> Self {
        Self {
            layer,
            num_layers: 1,
            direction: Direction::Forward,
            batch_first: false,
        }
    }
    /// The same config with `num_layers` stacked layers.
    pub fn with_layers(mut self, num_layers: usize) -> Self {
        self.num_layers = num_layers;
        self
    }
    /// The same config running in `direction`.
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }
    /// The same config with batch-major (`true`) or time-major sequences.
    pub fn with_batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Checks the layer config and that there is at least one layer.
    pub fn validated(self) -> Result<Self> {
        self.layer.validated()?;
        if self.num_layers == 0 {
            return Err(Error::ZeroSize {
                what: "num_layers".into(),
            });
        }
        Ok(self)
    }

    /// `D`.
    pub fn directions(&self) -> usize {
        self.direction.count()
    }

    /// The config of layer `l` (any direction).
    pub fn layer_config(&self, l: usize) -> RnnConfig {
        let input_size = if l == 0 {
            self.layer.input_size
        } else {
            self.output_size()
        };
        RnnConfig {
            input_size,
            ..self.layer
        }
    }

    /// The config of layer `l`, direction `d`: [`StackConfig::layer_config`]
    /// with the functions of that direction (see [`CellOptions::reverse`])
    /// as its only ones. What that layer-direction's weights carry.
    pub fn slot_config(&self, l: usize, d: usize) -> RnnConfig {
        let mut config = self.layer_config(l);
        config.options.activations = config.options.activations_of(d);
        config.options.reverse = None;
        config
    }

    /// `D*Ho`: the last axis of the output.
    pub fn output_size(&self) -> usize {
        self.directions() * self.layer.output_size()
    }

    /// The shape of a sequence tensor with `width` values per step and row:
    /// `[T, B, width]`, or `[B, T, width]` batch-first.
    pub fn sequence_shape(&self, seq: usize, batch: usize, width: usize) -> [usize; 3] {
        if self.batch_first {
            [batch, seq, width]
        } else {
            [seq, batch, width]
        }
    }

    /// `L*D`: the first axis of `h0`, `h_n`, `c0`, `c_n`.
    pub fn state_slots(&self) -> usize {
        self.num_layers * self.directions()
    }
}

/// Checks `lengths` (one per batch row, each in `1..=seq`).
pub fn validate_lengths(lengths: &[usize], seq: usize, batch: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(Error::shape("lengths", &[batch], &[lengths.len()]));
    }
    match lengths.iter().position(|&l| l == 0 || l > seq) {
        None => Ok(()),
        Some(index) => Err(Error::Length {
            index,
            value: lengths[index] as i64,
            seq,
        }),
    }
}

/// How a forward orders the steps of stacked layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Schedule {
    /// Layer after layer: each layer's input projection over the whole
    /// sequence (one GEMM), then its `T` steps. Every configuration.
    #[default]
    Layered,
    /// The layer wavefront (see the module docs): for inference forwards
    /// of stacks of one direction (forward or reverse) without projection,
    /// any cell but the reset-before GRU. Training forwards run layered. On
    /// CPU adapters it is slower than `Layered` (BENCHMARKS.md, "Layer
    /// wavefront"); it is for GPUs with small `B * H`.
    Wavefront,
}

impl Schedule {
    /// A short stable name: `layered` or `wavefront`.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Layered => "layered",
            Schedule::Wavefront => "wavefront",
        }
    }

    /// Whether a stack of `config` can run this schedule.
    pub(crate) fn check(self, config: &StackConfig) -> Result<()> {
        if self == Schedule::Layered {
            return Ok(());
        }
        let refuse = |why: &str| {
            Err(Error::config(
                "schedule wavefront",
                format!("{why}; use Schedule::Layered"),
            ))
        };
        if config.direction == Direction::Bidirectional {
            return refuse("a bidirectional layer reads both directions of the one below at every step, so layers cannot overlap");
        }
        if config.layer.proj_size.is_some() {
            return refuse("the wavefront has no projection step");
        }
        if config.layer.cell == CellKind::Gru(GruReset::Before) {
            return refuse("the reset-before GRU needs two dependent dispatches per step");
        }
        Ok(())
    }
}

#[cfg(test)]
mod options_tests {
    use super::*;
    use crate::cell_options::Activations;

    #[test]
    fn options_are_checked_against_the_cell() {
        let gru = CellKind::Gru(GruReset::After);
        let with_h = CellOptions {
            activations: Activations {
                h: Some(Activation::Relu),
                ..Default::default()
            },
            ..Default::default()
        };
        let config = |cell| RnnConfig::new(cell, 2, 3).unwrap();
        assert!(config(gru).with_options(with_h).is_err());
        assert!(config(CellKind::Lstm).with_options(with_h).is_ok());
        for clip in [0.0, -1.0, f32::INFINITY, f32::NAN] {
            let o = CellOptions {
                clip: Some(clip),
                ..Default::default()
            };
            assert!(config(CellKind::Lstm).with_options(o).is_err(), "{clip}");
        }
        let forget = CellOptions {
            input_forget: true,
            ..Default::default()
        };
        assert!(config(gru).with_options(forget).is_err());
        // The cell's own function set explicitly is still the plain cell.
        let own = CellOptions {
            activations: Activations {
                f: Some(Activation::Sigmoid),
                ..Default::default()
            },
            ..Default::default()
        };
        let lstm = config(CellKind::Lstm);
        assert!(!lstm.with_options(own).unwrap().saves_pre_activations(0));
        assert!(!lstm.with_options(with_h).unwrap().saves_pre_activations(0));
        let relu = config(CellKind::Rnn(Nonlinearity::Relu));
        assert_eq!(relu.functions(0)[0], Activation::Relu);
    }
}
