//! ONNX `LSTM` / `GRU` / `RNN` operator weights: `W` `[D, G*H, I]`, `R`
//! `[D, G*H, H]`, optional `B` `[D, 2*G*H]` (W biases then R biases) and, for
//! LSTM, `P` `[D, 3*H]` (peepholes in the order i, o, f). Gate blocks are
//! reordered at load time (LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n);
//! `linear_before_reset` 1/0 becomes the reset-after/before GRU. Output
//! layout follows PyTorch: `[T, B, D*H]`, not ONNX's `[T, D, B, H]`.
//!
//! [`load`] and [`load_node`] read these from `.onnx` files; the
//! safetensors form (weights under their ONNX names, attributes as
//! metadata) is [`load_onnx_file`]; [`save`] writes a module as `.onnx`.
//! [`load_graph`] reads either one node or a whole `torch.onnx.export`
//! stack:
//!
//! ```
//! use wgpu_rnn::io::onnx::{load_graph, OnnxGraph};
//! use wgpu_rnn::{Gpu, RnnStack};
//! let path = "tests/data/onnx/torch_gru_2layers_batch_first_states.onnx";
//! let graph = load_graph(path.as_ref())?;
//! let OnnxGraph::Stack(stack) = &graph else { unreachable!("a torch export") };
//! assert_eq!((stack.input.as_str(), stack.h0.as_deref()), ("input", Some("h0")));
//! let gru = RnnStack::new(&Gpu::new()?, graph.weights())?; // batch-first: [B, T, I]
//! let out = gru.forward_host(&[0.5; 3 * 5 * 2], 5, 3, None, None, None)?;
//! assert_eq!(out.output.len(), 3 * 5 * 4);
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```

mod export;
mod file;
mod stack;

pub use export::{save, to_onnx_bytes, ExportOptions, EXPORT_OPSET};
pub use file::{load, load_node, OnnxModel, OnnxNode, Operand, MIN_OPSET};
pub use stack::{load_graph, load_graph_bytes, OnnxGraph, OnnxStack};

use crate::cell_options::CellOptions;
use crate::config::{CellKind, GruReset, Nonlinearity, RnnConfig};
use crate::config::{Direction, StackConfig};
use crate::error::{Error, Result};
use crate::io::tensors::{HostTensor, TensorFile};
use crate::weights::{RnnWeights, StackWeights};

/// Which ONNX operator the weights belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnnxOp {
    /// `LSTM`: gates i, o, f, c; optional peepholes `P`.
    Lstm,
    /// `GRU`: gates z, r, h.
    Gru,
    /// `RNN`: one gate.
    Rnn,
}

/// The operator attributes this crate supports.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxAttributes {
    /// `H`: the `hidden_size` attribute.
    pub hidden_size: usize,
    /// The `direction` attribute (`forward`, `reverse`, `bidirectional`).
    pub direction: Direction,
    /// GRU only.
    pub linear_before_reset: bool,
    /// RNN only: `Tanh` (default) or `Relu`, the cell's own function.
    pub activation: Nonlinearity,
    /// 0: `X` is `[T, B, I]`; 1: `[B, T, I]`.
    pub layout: u8,
    /// `activations` other than the cell's own (with their alpha/beta,
    /// per direction), `clip`, `input_forget`.
    pub options: CellOptions,
}

/// Block `k` of our gate order comes from ONNX block `ORDER[k]`.
fn onnx_gate_order(op: OnnxOp) -> &'static [usize] {
    match op {
        OnnxOp::Lstm => &[0, 2, 3, 1], // i, f, g(=c), o  from  i, o, f, c
        OnnxOp::Gru => &[1, 0, 2],     // r, z, n(=h)     from  z, r, h
        OnnxOp::Rnn => &[0],
    }
}

/// Rows `[G*H, width]` of direction `d` of `t` (`[D, G*H, width]`), gate
/// blocks reordered.
fn reorder(t: &[f32], d: usize, order: &[usize], h: usize, width: usize) -> Vec<f32> {
    let g = order.len();
    let base = d * g * h * width;
    order
        .iter()
        .flat_map(|&src| t[base + src * h * width..][..h * width].iter().copied())
        .collect()
}

/// The module ONNX operator weights describe, from `W`'s shape and the
/// attributes alone (no value read).
fn onnx_config(
    op: OnnxOp,
    w: &HostTensor,
    has_b: bool,
    has_p: bool,
    attrs: &OnnxAttributes,
) -> Result<StackConfig> {
    let &[_, _, input_size] = w.shape.as_slice() else {
        return Err(Error::tensor(
            "W",
            format!(
                "shape {:?}: expected [num_directions, gates * hidden_size, input_size]",
                w.shape
            ),
        ));
    };
    let cell = match op {
        OnnxOp::Lstm if has_p => CellKind::PeepholeLstm,
        OnnxOp::Lstm => CellKind::Lstm,
        OnnxOp::Gru => CellKind::Gru(if attrs.linear_before_reset {
            GruReset::After
        } else {
            GruReset::Before
        }),
        OnnxOp::Rnn => CellKind::Rnn(attrs.activation),
    };
    if has_p && op != OnnxOp::Lstm {
        return Err(Error::tensor("P", "only the LSTM operator has peepholes"));
    }
    // Bounds hidden_size and input_size (they come from a file) before
    // any arithmetic on them.
    let layer = RnnConfig::new(cell, input_size, attrs.hidden_size)?
        .with_bias(has_b)
        .with_options(attrs.options)?;
    Ok(StackConfig::new(layer)
        .with_direction(attrs.direction)
        .with_batch_first(attrs.layout == 1))
}

/// Converts ONNX operator weights into a one-layer module.
pub fn from_onnx(
    op: OnnxOp,
    w: &HostTensor,
    r: &HostTensor,
    b: Option<&HostTensor>,
    p: Option<&HostTensor>,
    attrs: &OnnxAttributes,
) -> Result<StackWeights> {
    let config = onnx_config(op, w, b.is_some(), p.is_some(), attrs)?;
    let input_size = config.layer.input_size;
    let h = attrs.hidden_size;
    let order = onnx_gate_order(op);
    let g = order.len();
    let dirs = attrs.direction.count();
    w.expect_shape("W", &[dirs, g * h, input_size])?;
    r.expect_shape("R", &[dirs, g * h, h])?;
    let (w, r) = (w.to_f32("W")?, r.to_f32("R")?);
    let b = b
        .map(|b| {
            b.expect_shape("B", &[dirs, 2 * g * h])?;
            b.to_f32("B")
        })
        .transpose()?;
    let p = p
        .map(|p| {
            p.expect_shape("P", &[dirs, 3 * h])?;
            p.to_f32("P")
        })
        .transpose()?;
    let layers = (0..dirs)
        .map(|d| {
            // B holds [Wb (G*H) | Rb (G*H)] per direction: treat it as
            // [2*D, G*H, 1] so `reorder` applies to each half.
            let bias = |half: usize| b.as_ref().map(|b| reorder(b, 2 * d + half, order, h, 1));
            let peephole = p.as_ref().filter(|_| op == OnnxOp::Lstm).map(|p| {
                let p = &p[d * 3 * h..][..3 * h];
                // ONNX P is [Pi, Po, Pf]; ours is (p_i, p_f, p_o).
                [&p[..h], &p[2 * h..], &p[h..2 * h]].concat()
            });
            RnnWeights::new(
                config.slot_config(0, d),
                reorder(&w, d, order, h, input_size),
                reorder(&r, d, order, h, h),
                bias(0),
                bias(1),
                peephole,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    StackWeights::new(config, layers)
}

fn parse_attributes(file: &TensorFile) -> Result<(OnnxOp, OnnxAttributes)> {
    let meta = |k: &str| file.metadata.get(k).map(String::as_str);
    let op = match meta("op") {
        Some("LSTM") => OnnxOp::Lstm,
        Some("GRU") => OnnxOp::Gru,
        Some("RNN") => OnnxOp::Rnn,
        other => {
            return Err(Error::config(
                "metadata op",
                format!("{other:?}, expected LSTM, GRU or RNN"),
            ))
        }
    };
    let hidden_size = meta("hidden_size")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::config("metadata hidden_size", "missing or not a number"))?;
    let direction = meta("direction").unwrap_or("forward");
    let direction = Direction::from_name(direction)
        .ok_or_else(|| Error::config("metadata direction", format!("{direction:?}")))?;
    let activation = match meta("activations").unwrap_or("Tanh") {
        "Tanh" => Nonlinearity::Tanh,
        "Relu" => Nonlinearity::Relu,
        v => {
            return Err(Error::config(
                "metadata activations",
                format!("{v:?}: only Tanh and Relu are supported"),
            ))
        }
    };
    // The options have no metadata spelling here: they load from .onnx
    // files (io::onnx::load), never silently dropped.
    for key in [
        "clip",
        "input_forget",
        "activation_alpha",
        "activation_beta",
    ] {
        if meta(key).is_some() {
            return Err(Error::config(
                format!("metadata {key}"),
                "ONNX's cell options load from .onnx files, not from safetensors metadata",
            ));
        }
    }
    let attrs = OnnxAttributes {
        hidden_size,
        direction,
        linear_before_reset: meta("linear_before_reset") == Some("1"),
        activation,
        layout: u8::from(meta("layout") == Some("1")),
        options: CellOptions::default(),
    };
    Ok((op, attrs))
}

/// The module an ONNX operator weight file describes, from its metadata
/// and `W`'s shape alone (no value read or copied).
pub fn onnx_file_config(file: &TensorFile) -> Result<StackConfig> {
    let (op, attrs) = parse_attributes(file)?;
    let w = file.get("W").ok_or_else(|| Error::tensor("W", "missing"))?;
    onnx_config(
        op,
        w,
        file.get("B").is_some(),
        file.get("P").is_some(),
        &attrs,
    )
}

/// Reads an ONNX operator stored as a safetensors file: tensors `W`, `R`,
/// optional `B`, `P`; metadata `op` (`LSTM`, `GRU`, `RNN`), `hidden_size`,
/// `direction` (`forward`, `reverse`, `bidirectional`), `linear_before_reset`
/// (0/1), `activations` (RNN: `Tanh` or `Relu`), `layout` (0/1).
pub fn load_onnx_file(file: &TensorFile) -> Result<StackWeights> {
    let (op, attrs) = parse_attributes(file)?;
    let need = |n: &str| file.get(n).ok_or_else(|| Error::tensor(n, "missing"));
    from_onnx(
        op,
        need("W")?,
        need("R")?,
        file.get("B"),
        file.get("P"),
        &attrs,
    )
}
