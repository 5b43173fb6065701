//! Recognises the graphs `torch.onnx.export` writes for `nn.LSTM`,
//! `nn.GRU` and `nn.RNN` (any `num_layers`, `bidirectional`,
//! `batch_first`, with or without `(h0, c0)` inputs) as one module: the
//! recurrent nodes joined by the exporter's glue. A small symbolic
//! evaluator follows every value through the glue it knows (Constant,
//! Identity, Shape, Gather, Unsqueeze, Concat, Expand of zeros, Slice of a
//! state input, Transpose, Reshape, Squeeze); a node it cannot place is an
//! error naming that node.

use std::collections::HashMap;

use std::path::Path;

use super::file::{proto, single_node, ModelFile, OnnxModel, OnnxNode};
use super::OnnxOp;
use crate::config::StackConfig;
use crate::error::Result;
use crate::io::tensors::HostTensor;
use crate::weights::StackWeights;

/// A module an ONNX graph of several recurrent nodes and their glue
/// computes, with the graph names of its inputs and outputs (PyTorch's
/// layouts: `[T, B, I]` or batch-first `[B, T, I]` in, `[T, B, D*H]` or
/// `[B, T, D*H]` out, states `[L*D, B, H]`).
#[derive(Debug, Clone)]
pub struct OnnxStack {
    /// Every layer's weights, the direction and the layout.
    pub weights: StackWeights,
    /// The graph input of the sequence.
    pub input: String,
    /// The graph inputs of `h0` and `c0`, where the graph takes them
    /// (zeros otherwise).
    pub h0: Option<String>,
    /// See `h0`.
    pub c0: Option<String>,
    /// The graph outputs of the sequence output, `h_n` and `c_n`, where
    /// the graph has them.
    pub output: Option<String>,
    /// See `output`.
    pub h_n: Option<String>,
    /// See `output`.
    pub c_n: Option<String>,
    /// The graph's outputs, in order.
    pub outputs: Vec<String>,
    /// The default domain's opset the model imports.
    pub opset: i64,
}

/// What a `.onnx` graph runs as.
#[derive(Debug, Clone)]
pub enum OnnxGraph {
    /// One recurrent node ([`load`](super::load)).
    Node(Box<OnnxModel>),
    /// Recurrent nodes and the glue `torch.onnx.export` writes between
    /// them: one module in PyTorch's layouts.
    Stack(Box<OnnxStack>),
}

impl OnnxGraph {
    /// The module's weights.
    pub fn weights(&self) -> &StackWeights {
        match self {
            OnnxGraph::Node(m) => &m.node.weights,
            OnnxGraph::Stack(s) => &s.weights,
        }
    }
}

/// Reads a `.onnx` file whose graph is one recurrent node ([`load`](super::load)) or
/// a whole `nn.LSTM` / `nn.GRU` / `nn.RNN` as `torch.onnx.export` writes it
/// (several layers, bidirectional, batch-first, with or without state
/// inputs). Anything else is an error naming the first node it cannot
/// place; [`load_node`](super::load_node) reads one recurrent node out of any graph.
pub fn load_graph(path: &Path) -> Result<OnnxGraph> {
    graph_of(&ModelFile::read(path)?)
}

/// [`load_graph`] on a model's bytes (a browser's fetch, an embedded file);
/// `name` names it in errors. All its weights must be inside it: external
/// data is an error.
pub fn load_graph_bytes(name: &str, bytes: &[u8]) -> Result<OnnxGraph> {
    graph_of(&ModelFile::from_bytes(name.to_string(), None, bytes)?)
}

fn graph_of(file: &ModelFile) -> Result<OnnxGraph> {
    let graph = file.graph()?;
    match graph.node.as_slice() {
        [node] if OnnxOp::from_op_type(&node.op_type).is_some() => {
            Ok(OnnxGraph::Node(Box::new(single_node(file)?)))
        }
        _ => Ok(OnnxGraph::Stack(Box::new(recognise(file)?))),
    }
}

/// One axis of a value, as far as the evaluator knows it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dim {
    /// Axis 0 or 1 of the graph's sequence input.
    Input(u8),
    Known(i64),
    Unknown,
}

/// A state: `h` (Y_h) or `c` (Y_c).
#[derive(Debug, Clone, Copy, PartialEq)]
enum StateKind {
    H,
    C,
}

/// What the evaluator knows of a value.
#[derive(Debug, Clone)]
enum Value {
    /// An initializer or Constant.
    Const(HostTensor),
    /// A graph input other than the sequence.
    Input(String),
    /// `[axes[0], axes[1], width]`: the graph's sequence input after
    /// `layer` recurrent layers (0: the input itself).
    Sequence { layer: usize, axes: [Dim; 2] },
    /// `Y` of recurrent layer `layer`: `[T, D, B, H]`.
    Y { layer: usize },
    /// `Y` transposed to `[T, B, D, H]`.
    YByBatch { layer: usize },
    /// The final states of `layers`, concatenated along axis 0.
    States { kind: StateKind, layers: Vec<usize> },
    /// A 1-D shape tensor.
    Dims(Vec<Dim>),
    /// A scalar taken from a shape.
    Scalar(Dim),
    /// Zeros of this shape.
    Zeros(Vec<Dim>),
    /// Rows `rows` of graph input `input` along axis 0.
    StateRows {
        input: String,
        rows: std::ops::Range<i64>,
    },
}

/// Evaluates the graph of `file` as a recurrent module (see the module
/// documentation).
pub(super) fn recognise(file: &ModelFile) -> Result<OnnxStack> {
    let graph = file.graph()?;
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| !initializers.contains(n))
        .collect();
    let mut values: HashMap<String, Value> = HashMap::new();
    let mut sequence_input: Option<&str> = None;
    let mut nodes: Vec<OnnxNode> = vec![];
    let mut h0: Option<String> = None;
    let mut c0: Option<String> = None;
    // The sequence input's (time, batch) axes, from the first node's X.
    let mut time_batch: Option<[Dim; 2]> = None;

    for node in &graph.node {
        let place = |reason: String| {
            file.error(format!(
                "node {:?} ({}): {reason}; only a module of LSTM, GRU or RNN nodes joined by the glue torch.onnx.export writes runs as a whole (io::onnx::load_node reads one recurrent node)",
                node.name, node.op_type
            ))
        };
        // The value of input `i`: a value computed before, an
        // initializer, or a graph input (the first one a recurrent node
        // or the glue before it reads is the sequence).
        let mut arg = |i: usize| -> Result<Option<Value>> {
            let Some(name) = node.input.get(i).filter(|n| !n.is_empty()) else {
                return Ok(None);
            };
            if let Some(v) = values.get(name) {
                return Ok(Some(v.clone()));
            }
            if let Some(t) = file.stored(name)? {
                return Ok(Some(Value::Const(t)));
            }
            if inputs.contains(&name.as_str()) {
                return Ok(Some(match sequence_input {
                    None if node.op_type != "Slice" => {
                        sequence_input = Some(name);
                        Value::Sequence {
                            layer: 0,
                            axes: [Dim::Input(0), Dim::Input(1)],
                        }
                    }
                    Some(s) if s == name => Value::Sequence {
                        layer: 0,
                        axes: [Dim::Input(0), Dim::Input(1)],
                    },
                    _ => Value::Input(name.clone()),
                }));
            }
            Err(place(format!(
                "input {name:?} is computed by no node before it"
            )))
        };
        let out = match node.op_type.as_str() {
            "Constant" => Value::Const(file.constant(node).map_err(&place)?),
            "Identity" => arg(0)?.ok_or_else(|| place("no input".into()))?,
            "Shape" => match arg(0)? {
                Some(Value::Sequence { axes, .. }) => {
                    Value::Dims(vec![axes[0], axes[1], Dim::Unknown])
                }
                other => return Err(place(format!("the shape of {other:?}"))),
            },
            "Gather" => match (arg(0)?, arg(1)?, int_attr(node, "axis", 0)) {
                (Some(Value::Dims(dims)), Some(Value::Const(i)), 0) if i.shape.is_empty() => {
                    let k = i.values[0] as usize;
                    Value::Scalar(*dims.get(k).ok_or_else(|| place(format!("index {k}")))?)
                }
                _ => return Err(place("only a scalar index into a shape".into())),
            },
            "Unsqueeze" => {
                let axes = ints(node, "axes", arg(1)?);
                match (arg(0)?, axes.as_deref()) {
                    (Some(Value::Scalar(d)), Some([0])) => Value::Dims(vec![d]),
                    _ => return Err(place("only a shape scalar made 1-D".into())),
                }
            }
            "Concat" => {
                let args = (0..node.input.len())
                    .map(&mut arg)
                    .collect::<Result<Vec<_>>>()?;
                concat(args, int_attr(node, "axis", 0)).map_err(&place)?
            }
            "Expand" => match (arg(0)?, arg(1)?) {
                (Some(Value::Const(z)), Some(Value::Dims(dims)))
                    if z.values.iter().all(|&v| v == 0.0) =>
                {
                    Value::Zeros(dims)
                }
                _ => return Err(place("only zeros expanded to a state's shape".into())),
            },
            "Slice" => slice(file, node, arg(0)?, &mut arg).map_err(&place)?,
            "Transpose" => {
                let perm = ints(node, "perm", None).unwrap_or_default();
                match (arg(0)?, perm.as_slice()) {
                    (Some(Value::Sequence { layer, axes }), [1, 0, 2]) => Value::Sequence {
                        layer,
                        axes: [axes[1], axes[0]],
                    },
                    (Some(Value::Y { layer }), [0, 2, 1, 3]) => Value::YByBatch { layer },
                    (v, p) => return Err(place(format!("permutation {p:?} of {v:?}"))),
                }
            }
            "Reshape" => match (arg(0)?, arg(1)?) {
                (Some(Value::YByBatch { layer }), Some(Value::Const(shape)))
                    if shape.values.len() == 3
                        && shape.values[..2] == [0.0, 0.0]
                        && (shape.values[2] == -1.0
                            || shape.values[2] as usize == nodes[layer].width()) =>
                {
                    let t = time_batch.expect("set by the node that made Y");
                    Value::Sequence {
                        layer: layer + 1,
                        axes: t,
                    }
                }
                _ => return Err(place("only Y [T, B, D, H] reshaped to [T, B, D*H]".into())),
            },
            "Squeeze" => {
                let axes = ints(node, "axes", arg(1)?);
                match (arg(0)?, axes.as_deref()) {
                    (Some(Value::Y { layer }), Some([1])) if nodes[layer].directions() == 1 => {
                        Value::Sequence {
                            layer: layer + 1,
                            axes: time_batch.expect("set by the node that made Y"),
                        }
                    }
                    _ => return Err(place("only a one-direction Y squeezed to [T, B, H]".into())),
                }
            }
            "LSTM" | "GRU" | "RNN" => {
                let layer = nodes.len();
                let recurrent = file.node(node)?;
                let axes = match arg(0)? {
                    Some(Value::Sequence { layer: l, axes }) if l == layer => axes,
                    v => return Err(place(format!("X must be layer {layer}'s input, got {v:?}"))),
                };
                match time_batch {
                    None => time_batch = Some(axes),
                    Some(tb) if tb == axes => {}
                    Some(_) => return Err(place("X is not time-major".into())),
                }
                if recurrent.attributes.layout != 0 || recurrent.sequence_lens.is_some() {
                    return Err(place("layout 1 or sequence_lens inside a stack".into()));
                }
                let (d, h) = (recurrent.directions() as i64, recurrent.hidden() as i64);
                let batch = axes[1];
                for (slot, state, kind) in [(5, &mut h0, "initial_h"), (6, &mut c0, "initial_c")] {
                    match arg(slot)? {
                        None => {}
                        Some(Value::Zeros(dims)) if dims == [Dim::Known(d), batch, Dim::Known(h)] => {}
                        Some(Value::StateRows { input, rows })
                            if rows == (layer as i64 * d..(layer as i64 + 1) * d)
                                && state.as_ref().is_none_or(|s| *s == input)
                                && (layer == 0 || state.is_some()) =>
                        {
                            *state = Some(input);
                        }
                        v => {
                            return Err(place(format!(
                                "{kind} must be zeros [D, B, H] or rows {}..{} of a state input, got {v:?}",
                                layer as i64 * d,
                                (layer as i64 + 1) * d
                            )))
                        }
                    }
                }
                for (k, v) in [
                    (0, Value::Y { layer }),
                    (
                        1,
                        Value::States {
                            kind: StateKind::H,
                            layers: vec![layer],
                        },
                    ),
                    (
                        2,
                        Value::States {
                            kind: StateKind::C,
                            layers: vec![layer],
                        },
                    ),
                ] {
                    if let Some(name) = node.output.get(k).filter(|n| !n.is_empty()) {
                        values.insert(name.clone(), v);
                    }
                }
                nodes.push(recurrent);
                continue;
            }
            other => return Err(place(format!("{other} is not glue of a recurrent stack"))),
        };
        if node.output.len() != 1 {
            return Err(place(format!("{} outputs", node.output.len())));
        }
        values.insert(node.output[0].clone(), out);
    }

    let layers = nodes.len();
    let input = sequence_input
        .ok_or_else(|| file.error("the graph reads no sequence input"))?
        .to_string();
    let first = nodes
        .first()
        .ok_or_else(|| file.error("the graph has no LSTM, GRU or RNN node"))?;
    let input_axes = time_batch.expect("set with the first node");
    let batch_first = match input_axes {
        [Dim::Input(0), Dim::Input(1)] => false,
        [Dim::Input(1), Dim::Input(0)] => true,
        other => return Err(file.error(format!("the sequence's axes {other:?}"))),
    };
    let (mut output, mut h_n, mut c_n) = (None, None, None);
    let mut outputs = vec![];
    for v in &graph.output {
        let name = v.name.clone();
        let slot = match values.get(&name) {
            Some(Value::Sequence { layer, axes })
                if *layer == layers && *axes == [Dim::Input(0), Dim::Input(1)] =>
            {
                &mut output
            }
            Some(Value::States { kind, layers: l }) if l.iter().copied().eq(0..layers) => {
                match kind {
                    StateKind::H => &mut h_n,
                    StateKind::C => &mut c_n,
                }
            }
            other => {
                return Err(file.error(format!(
                    "graph output {name:?} is not the module's output, h_n or c_n (it is {other:?})"
                )))
            }
        };
        *slot = Some(name.clone());
        outputs.push(name);
    }
    if outputs.is_empty() {
        return Err(file.error("the graph has no outputs"));
    }

    // The module: layer 0's config, every node's weights per direction.
    let config = StackConfig::new(first.weights.config().layer)
        .with_layers(layers)
        .with_direction(first.weights.config().direction)
        .with_batch_first(batch_first);
    let mut weights = vec![];
    for (l, node) in nodes.iter().enumerate() {
        let c = node.weights.config();
        if c.direction != config.direction || c.layer.hidden_size != config.layer.hidden_size {
            return Err(file.error(format!(
                "node {:?} (layer {l}) differs from layer 0 in direction or hidden_size",
                node.name
            )));
        }
        weights.extend(node.weights.layers().iter().cloned());
    }
    let weights = StackWeights::new(config, weights)?;
    Ok(OnnxStack {
        weights,
        input,
        h0,
        c0,
        output,
        h_n,
        c_n,
        outputs,
        opset: file.opset,
    })
}

impl OnnxNode {
    fn directions(&self) -> usize {
        self.weights.config().directions()
    }

    fn hidden(&self) -> usize {
        self.weights.config().layer.hidden_size
    }

    /// `D*H`: the width of the sequence this node's Y becomes.
    fn width(&self) -> usize {
        self.directions() * self.hidden()
    }
}

fn int_attr(node: &proto::NodeProto, name: &str, default: i64) -> i64 {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map_or(default, |a| a.i)
}

/// A list of ints from attribute `name` (older opsets) or the constant
/// input `given` (newer ones).
fn ints(node: &proto::NodeProto, name: &str, given: Option<Value>) -> Option<Vec<i64>> {
    if let Some(a) = node.attribute.iter().find(|a| a.name == name) {
        return Some(a.ints.clone());
    }
    match given {
        Some(Value::Const(t)) => Some(t.values.iter().map(|&v| v as i64).collect()),
        _ => None,
    }
}

/// Concat along axis 0 of shape pieces, or of final states.
fn concat(args: Vec<Option<Value>>, axis: i64) -> std::result::Result<Value, String> {
    if axis != 0 {
        return Err(format!("axis {axis}"));
    }
    let mut dims = vec![];
    let mut states: Option<(StateKind, Vec<usize>)> = None;
    for a in args {
        match (a, &mut states) {
            (Some(Value::Dims(d)), None) => dims.extend(d),
            (Some(Value::Const(t)), None) if t.shape.len() == 1 => {
                dims.extend(t.values.iter().map(|&v| Dim::Known(v as i64)))
            }
            (Some(Value::States { kind, layers }), s) if dims.is_empty() => match s {
                None => *s = Some((kind, layers)),
                Some((k, l)) if *k == kind => l.extend(layers),
                Some(_) => return Err("h and c states concatenated together".into()),
            },
            (v, _) => return Err(format!("cannot concatenate {v:?}")),
        }
    }
    Ok(match states {
        Some((kind, layers)) => Value::States { kind, layers },
        None => Value::Dims(dims),
    })
}

/// Rows of a state input along axis 0 (`Slice` with inputs from opset 10,
/// attributes before).
fn slice(
    file: &ModelFile,
    node: &proto::NodeProto,
    data: Option<Value>,
    mut arg: impl FnMut(usize) -> Result<Option<Value>>,
) -> std::result::Result<Value, String> {
    let Some(Value::Input(input)) = data else {
        return Err(format!("only a state input is sliced, not {data:?}"));
    };
    let list = |name: &str, i: usize, arg: &mut dyn FnMut(usize) -> Result<Option<Value>>| {
        let given = if file.opset >= 10 {
            arg(i).map_err(|e| e.to_string())?
        } else {
            None
        };
        Ok::<_, String>(ints(node, name, given))
    };
    let starts = list("starts", 1, &mut arg)?;
    let ends = list("ends", 2, &mut arg)?;
    let axes = list("axes", 3, &mut arg)?.unwrap_or(vec![0]);
    let steps = list("steps", 4, &mut arg)?.unwrap_or(vec![1]);
    match (
        starts.as_deref(),
        ends.as_deref(),
        axes.as_slice(),
        steps.as_slice(),
    ) {
        (Some(&[s]), Some(&[e]), [0], [1]) if 0 <= s && s < e => {
            Ok(Value::StateRows { input, rows: s..e })
        }
        _ => Err("only rows along axis 0 of a state input".into()),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A torch.onnx.export of a 3-layer bidirectional LSTM with state
    /// inputs, edited by `edit`, recognised.
    fn recognised(edit: impl FnOnce(&mut proto::ModelProto)) -> Result<OnnxStack> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/onnx/torch_lstm_3layers_bidirectional_states.onnx");
        let mut model =
            proto::ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
        edit(&mut model);
        let file = ModelFile::from_bytes("edited".into(), None, &model.encode_to_vec())?;
        recognise(&file)
    }

    #[test]
    fn weights_in_constant_nodes_load_as_initializers_do() {
        let stored = recognised(|_| {}).unwrap();
        let constants = recognised(super::super::file::tests::initializers_as_constants).unwrap();
        assert_eq!(constants.weights, stored.weights);
        assert_eq!(
            (&constants.input, &constants.h0, &constants.c0),
            (&stored.input, &stored.h0, &stored.c0)
        );
    }

    #[test]
    fn bytes_load_as_the_file_does_and_refuse_external_data() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx");
        for name in [
            "torch_lstm_3layers_bidirectional_states.onnx",
            "lstm_forward_layout1.onnx",
        ] {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).unwrap();
            let from_file = load_graph(&path).unwrap();
            let from_bytes = load_graph_bytes(name, &bytes).unwrap();
            assert_eq!(from_file.weights(), from_bytes.weights(), "{name}");
        }
        let path = dir.join("lstm_forward_layout1.onnx");
        let mut model =
            proto::ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
        let w = &mut model.graph.as_mut().unwrap().initializer[0];
        w.raw_data.clear();
        w.float_data.clear();
        w.data_location = proto::tensor_proto::DataLocation::External as i32;
        w.external_data = vec![proto::StringStringEntryProto {
            key: "location".into(),
            value: "weights.bin".into(),
        }];
        let e = load_graph_bytes("m.onnx", &model.encode_to_vec())
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("given as bytes"), "{e}");
    }

    fn nodes(m: &mut proto::ModelProto) -> &mut Vec<proto::NodeProto> {
        &mut m.graph.as_mut().unwrap().node
    }

    fn error(r: Result<OnnxStack>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn the_export_is_one_module() {
        let stack = recognised(|_| {}).unwrap();
        let config = stack.weights.config();
        assert_eq!(config.num_layers, 3);
        assert_eq!(config.direction, crate::Direction::Bidirectional);
        assert!(!config.batch_first);
        assert_eq!(
            (
                stack.input.as_str(),
                stack.h0.as_deref(),
                stack.c0.as_deref()
            ),
            ("input", Some("h0"), Some("c0"))
        );
        assert_eq!(stack.outputs, ["output", "h_n", "c_n"]);
    }

    #[test]
    fn what_is_not_the_module_is_refused_by_node() {
        let find = |m: &mut proto::ModelProto, op: &str, k: usize| {
            nodes(m)
                .iter()
                .enumerate()
                .filter(|(_, n)| n.op_type == op)
                .nth(k)
                .map(|(i, _)| i)
                .unwrap()
        };
        // A permutation the exporter never writes.
        let mut name = String::new();
        let e = error(recognised(|m| {
            let i = find(m, "Transpose", 0);
            let n = &mut nodes(m)[i];
            name = n.name.clone();
            n.attribute[0].ints = vec![0, 1, 2, 3];
        }));
        assert!(
            e.contains(&format!("{name:?}")) && e.contains("permutation"),
            "{e}"
        );
        // Layer 1 fed the module's input instead of layer 0's output.
        let e = error(recognised(|m| {
            let l0 = find(m, "LSTM", 0);
            let x0 = nodes(m)[l0].input[0].clone();
            let i = find(m, "LSTM", 1);
            nodes(m)[i].input[0] = x0;
        }));
        assert!(e.contains("X must be layer 1's input"), "{e}");
        // Layer 2's states from rows of another layer.
        let e = error(recognised(|m| {
            let l0 = find(m, "LSTM", 0);
            let h = nodes(m)[l0].input[5].clone();
            let i = find(m, "LSTM", 2);
            nodes(m)[i].input[5] = h;
        }));
        assert!(e.contains("initial_h must be zeros"), "{e}");
        // An op that is no glue.
        let e = error(recognised(|m| {
            let i = find(m, "Reshape", 0);
            nodes(m)[i].op_type = "Flatten".into();
        }));
        assert!(e.contains("Flatten is not glue"), "{e}");
        // An output that is one layer's state, not the module's.
        let e = error(recognised(|m| {
            let l0 = find(m, "LSTM", 0);
            let y_h = nodes(m)[l0].output[1].clone();
            m.graph.as_mut().unwrap().output[1].name = y_h;
        }));
        assert!(e.contains("is not the module's output"), "{e}");
    }
    #[test]
    fn rewired_graphs_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        let mut refused = 0;
        for _ in 0..400 {
            let r = recognised(|m| {
                let names: Vec<String> = nodes(m)
                    .iter()
                    .flat_map(|n| n.input.iter().chain(&n.output).cloned())
                    .collect();
                for _ in 0..1 + next() % 3 {
                    let count = nodes(m).len();
                    let n = &mut nodes(m)[next() % count];
                    match next() % 4 {
                        0 if !n.input.is_empty() => {
                            let k = next() % n.input.len();
                            n.input[k] = names[next() % names.len()].clone();
                        }
                        1 => {
                            if let Some(a) = n.attribute.first_mut() {
                                a.i = next() as i64 % 5 - 2;
                                for v in a.ints.iter_mut() {
                                    *v = next() as i64 % 5 - 2;
                                }
                            }
                        }
                        2 => n.input.truncate(next() % (n.input.len() + 1)),
                        _ => {
                            let k = next() % count;
                            nodes(m).remove(k);
                        }
                    }
                }
            });
            refused += usize::from(r.is_err());
        }
        assert!(
            refused > 300,
            "only {refused} of 400 rewired graphs refused"
        );
    }
}
