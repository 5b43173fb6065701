//! Writing a module as an `.onnx` model: one `LSTM`, `GRU` or `RNN` node
//! per layer (both directions in one node), joined by `Transpose` and
//! `Reshape`, with `Concat` gathering the final states. ONNX Runtime runs
//! only `layout` 0, so a batch-first module transposes its input and output
//! around the nodes instead of setting `layout`.

use std::path::Path;

use prost::Message;

use super::file::proto::{self, attribute_proto::AttributeType, tensor_proto::DataType};
use super::{onnx_gate_order, OnnxOp};
use crate::cell_options::{Activation, Activations};
use crate::config::{CellKind, GruReset, RnnConfig};
use crate::error::{Error, Result};
use crate::weights::StackWeights;

/// The opset the exported models import (the `LSTM`, `GRU` and `RNN` of
/// opset 14 are those of every later opset up to 22 but for types).
pub const EXPORT_OPSET: i64 = 14;

/// The graph's interface, for the exported model's users.
///
/// Inputs: `X` `[T, B, I]` (batch-first `[B, T, I]`), and with
/// [`ExportOptions::initial_states`] `initial_h` `[L*D, B, H]` (and LSTM
/// `initial_c`), with [`ExportOptions::sequence_lens`] `sequence_lens`
/// `[B]` int32. Outputs: `Y` `[T, D, B, H]` (batch-first `[B, T, D, H]`),
/// `Y_h` `[L*D, B, H]`, LSTM `Y_c` `[L*D, B, H]` (PyTorch's `h_n`/`c_n`
/// order: layer-major, then direction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Add the graph inputs `initial_h` (and `initial_c`).
    pub initial_states: bool,
    /// Add the graph input `sequence_lens`.
    pub sequence_lens: bool,
}

/// Writes `weights` as an `.onnx` file (see [`to_onnx_bytes`]).
pub fn save(weights: &StackWeights, options: ExportOptions, path: &Path) -> Result<()> {
    let bytes = to_onnx_bytes(weights, options)?;
    std::fs::write(path, bytes).map_err(|e| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The module as an ONNX model's bytes. A projected LSTM has no ONNX form:
/// an [`Error::Config`].
pub fn to_onnx_bytes(weights: &StackWeights, options: ExportOptions) -> Result<Vec<u8>> {
    Ok(Exporter::new(weights, options)?.model().encode_to_vec())
}

/// The `activations` (always for an RNN, whose function it names; for
/// LSTM and GRU where a function is not the cell's own), with the alphas
/// and betas they take in order, `clip` and `input_forget` of a layer
/// with `dirs` directions.
fn option_attributes(layer: &RnnConfig, dirs: usize) -> Vec<proto::AttributeProto> {
    let options = &layer.options;
    let slots = layer.function_slots();
    let mut attributes = vec![];
    let plain = options.activations == Activations::default() && options.reverse.is_none();
    if !plain || matches!(layer.cell, CellKind::Rnn(_)) {
        let functions: Vec<Activation> = (0..dirs)
            .flat_map(|d| layer.functions(d).into_iter().take(slots))
            .collect();
        let (mut alphas, mut betas) = (vec![], vec![]);
        for f in &functions {
            let (na, nb) = Activation::parameter_count(f.name()).unwrap_or_default();
            let (alpha, beta) = f.parameters();
            alphas.extend((na > 0).then_some(alpha));
            betas.extend((nb > 0).then_some(beta));
        }
        attributes.push(proto::AttributeProto {
            name: "activations".into(),
            r#type: AttributeType::Strings as i32,
            strings: functions
                .iter()
                .map(|f| f.name().as_bytes().to_vec())
                .collect(),
            ..Default::default()
        });
        for (name, floats) in [("activation_alpha", alphas), ("activation_beta", betas)] {
            if !floats.is_empty() {
                attributes.push(proto::AttributeProto {
                    name: name.into(),
                    r#type: AttributeType::Floats as i32,
                    floats,
                    ..Default::default()
                });
            }
        }
    }
    if let Some(clip) = options.clip {
        attributes.push(proto::AttributeProto {
            name: "clip".into(),
            r#type: AttributeType::Float as i32,
            f: clip,
            ..Default::default()
        });
    }
    if options.input_forget {
        attributes.push(int_attr("input_forget", 1));
    }
    attributes
}

fn int_attr(name: &str, i: i64) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn ints_attr(name: &str, ints: &[i64]) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn string_attr(name: &str, s: &str) -> proto::AttributeProto {
    proto::AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[usize], values: Vec<f32>) -> proto::TensorProto {
    proto::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn int64s(name: &str, values: &[i64]) -> proto::TensorProto {
    proto::TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> proto::NodeProto {
    proto::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn value(name: &str, elem: DataType, dims: &[&str]) -> proto::ValueInfoProto {
    use proto::tensor_shape_proto::{dimension::Value, Dimension};
    let shape = proto::TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                value: Some(match d.parse::<i64>() {
                    Ok(n) => Value::DimValue(n),
                    Err(_) => Value::DimParam(d.to_string()),
                }),
                ..Default::default()
            })
            .collect(),
    };
    proto::ValueInfoProto {
        name: name.into(),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::TensorType(
                proto::type_proto::Tensor {
                    elem_type: elem as i32,
                    shape: Some(shape),
                },
            )),
            ..Default::default()
        }),
        ..Default::default()
    }
}

struct Exporter<'a> {
    weights: &'a StackWeights,
    options: ExportOptions,
    op: OnnxOp,
    nodes: Vec<proto::NodeProto>,
    initializers: Vec<proto::TensorProto>,
}

impl<'a> Exporter<'a> {
    fn new(weights: &'a StackWeights, options: ExportOptions) -> Result<Self> {
        let layer = weights.config().layer;
        if layer.proj_size.is_some() {
            return Err(Error::config(
                "ONNX export",
                "an LSTM with a projection (proj_size) has no ONNX operator",
            ));
        }
        let op = match layer.cell {
            CellKind::Lstm | CellKind::PeepholeLstm => OnnxOp::Lstm,
            CellKind::Gru(_) => OnnxOp::Gru,
            CellKind::Rnn(_) => OnnxOp::Rnn,
        };
        Ok(Self {
            weights,
            options,
            op,
            nodes: Vec::new(),
            initializers: Vec::new(),
        })
    }

    /// `W`, `R`, `B` and `P` of layer `l` (both directions), in ONNX's gate
    /// order, as initializers; returns their names (`""` for absent).
    fn layer_weights(&mut self, l: usize) -> [String; 4] {
        let config = self.weights.config();
        let dirs = config.directions();
        let layer = config.layer_config(l);
        let (h, input) = (layer.hidden_size, layer.input_size);
        let order = onnx_gate_order(self.op);
        let g = order.len();
        // Our block k comes from ONNX block order[k]: ONNX block order[k]
        // gets our block k.
        let to_onnx = |ours: &[f32], width: usize| {
            let mut out = vec![0.0; ours.len()];
            for (k, &src) in order.iter().enumerate() {
                out[src * h * width..][..h * width]
                    .copy_from_slice(&ours[k * h * width..][..h * width]);
            }
            out
        };
        let (mut w, mut r, mut b, mut p) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for d in 0..dirs {
            let lw = self.weights.layer(l, d);
            w.extend(to_onnx(lw.weight_ih(), input));
            r.extend(to_onnx(lw.weight_hh(), h));
            if let (Some(bi), Some(bh)) = (lw.bias_ih(), lw.bias_hh()) {
                b.extend(to_onnx(bi, 1));
                b.extend(to_onnx(bh, 1));
            }
            if let Some(peep) = lw.peephole() {
                // Ours (p_i, p_f, p_o); ONNX P is [Pi, Po, Pf].
                p.extend_from_slice(&peep[..h]);
                p.extend_from_slice(&peep[2 * h..3 * h]);
                p.extend_from_slice(&peep[h..2 * h]);
            }
        }
        let name = |t: &str| format!("{t}_l{l}");
        self.initializers
            .push(floats(&name("W"), &[dirs, g * h, input], w));
        self.initializers
            .push(floats(&name("R"), &[dirs, g * h, h], r));
        let b_name = if b.is_empty() {
            String::new()
        } else {
            self.initializers
                .push(floats(&name("B"), &[dirs, 2 * g * h], b));
            name("B")
        };
        let p_name = if p.is_empty() {
            String::new()
        } else {
            self.initializers
                .push(floats(&name("P"), &[dirs, 3 * h], p));
            name("P")
        };
        [name("W"), name("R"), b_name, p_name]
    }

    /// Rows `[l*D, (l+1)*D)` of a `[L*D, B, H]` state input.
    fn state_slice(&mut self, input: &str, l: usize) -> String {
        if self.weights.config().num_layers == 1 {
            return input.to_string();
        }
        let dirs = self.weights.config().directions() as i64;
        let out = format!("{input}_l{l}");
        let (starts, ends, axes) = (
            format!("{out}_starts"),
            format!("{out}_ends"),
            format!("{out}_axes"),
        );
        self.initializers.push(int64s(&starts, &[l as i64 * dirs]));
        self.initializers
            .push(int64s(&ends, &[(l as i64 + 1) * dirs]));
        self.initializers.push(int64s(&axes, &[0]));
        self.nodes.push(node(
            "Slice",
            &format!("slice_{out}"),
            &[input, &starts, &ends, &axes],
            &[&out],
        ));
        out
    }

    fn model(mut self) -> proto::ModelProto {
        let config = *self.weights.config();
        let layer = config.layer;
        let dirs = config.directions();
        let lstm = self.op == OnnxOp::Lstm;
        let width = layer.input_size.to_string();
        let x_dims = if config.batch_first {
            ["B", "T", width.as_str()]
        } else {
            ["T", "B", width.as_str()]
        };
        let mut inputs = vec![value("X", DataType::Float, &x_dims)];
        let state_dims = ["LD", "B", "H"];
        if self.options.initial_states {
            inputs.push(value("initial_h", DataType::Float, &state_dims));
            if lstm {
                inputs.push(value("initial_c", DataType::Float, &state_dims));
            }
        }
        if self.options.sequence_lens {
            inputs.push(value("sequence_lens", DataType::Int32, &["B"]));
        }
        let mut x = "X".to_string();
        if config.batch_first {
            let mut t = node("Transpose", "batch_to_time", &["X"], &["X_time_major"]);
            t.attribute.push(ints_attr("perm", &[1, 0, 2]));
            self.nodes.push(t);
            x = "X_time_major".into();
        }
        // One layer: the node's outputs are the graph's (but for a
        // batch-first Y), no glue.
        let single = config.num_layers == 1;
        let reshape_to = "shape_t_b_dh";
        if !single {
            self.initializers.push(int64s(reshape_to, &[0, 0, -1]));
        }
        let (mut y_h, mut y_c) = (Vec::new(), Vec::new());
        let mut y = String::new();
        for l in 0..config.num_layers {
            let [w, r, b, p] = self.layer_weights(l);
            let (h0, c0) = if self.options.initial_states {
                let h0 = self.state_slice("initial_h", l);
                let c0 = if lstm {
                    self.state_slice("initial_c", l)
                } else {
                    String::new()
                };
                (h0, c0)
            } else {
                (String::new(), String::new())
            };
            let lens = if self.options.sequence_lens {
                "sequence_lens".to_string()
            } else {
                String::new()
            };
            let mut ins = vec![x.clone(), w, r, b, lens, h0];
            if lstm {
                ins.push(c0);
                ins.push(p);
            }
            while ins.last().is_some_and(String::is_empty) {
                ins.pop();
            }
            let (yl, hl, cl) = match (single, config.batch_first) {
                (true, false) => ("Y".into(), "Y_h".into(), "Y_c".into()),
                (true, true) => ("Y_l0".into(), "Y_h".into(), "Y_c".into()),
                _ => (format!("Y_l{l}"), format!("Y_h_l{l}"), format!("Y_c_l{l}")),
            };
            let mut outs = vec![yl.as_str(), hl.as_str()];
            if lstm {
                outs.push(cl.as_str());
            }
            let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
            let mut n = node(self.op.name(), &format!("layer{l}"), &ins, &outs);
            n.attribute
                .push(int_attr("hidden_size", layer.hidden_size as i64));
            n.attribute
                .push(string_attr("direction", config.direction.name()));
            if let CellKind::Gru(reset) = layer.cell {
                n.attribute.push(int_attr(
                    "linear_before_reset",
                    i64::from(reset == GruReset::After),
                ));
            }
            n.attribute.extend(option_attributes(&layer, dirs));
            self.nodes.push(n);
            y_h.push(hl);
            y_c.push(cl);
            y = yl.clone();
            if l + 1 < config.num_layers {
                // [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]: the next layer's X.
                let tbdh = format!("{yl}_tbdh");
                let mut t = node("Transpose", &format!("to_tbdh_l{l}"), &[&yl], &[&tbdh]);
                t.attribute.push(ints_attr("perm", &[0, 2, 1, 3]));
                self.nodes.push(t);
                x = format!("X_l{}", l + 1);
                self.nodes.push(node(
                    "Reshape",
                    &format!("to_x_l{}", l + 1),
                    &[&tbdh, reshape_to],
                    &[&x],
                ));
            }
        }
        let mut outputs = Vec::new();
        if config.batch_first {
            let mut t = node("Transpose", "time_to_batch", &[&y], &["Y"]);
            t.attribute.push(ints_attr("perm", &[2, 0, 1, 3]));
            self.nodes.push(t);
            outputs.push(value(
                "Y",
                DataType::Float,
                &["B", "T", &dirs.to_string(), "H"],
            ));
        } else {
            if y != "Y" {
                self.nodes.push(node("Identity", "y", &[&y], &["Y"]));
            }
            outputs.push(value(
                "Y",
                DataType::Float,
                &["T", &dirs.to_string(), "B", "H"],
            ));
        }
        let gather = |name: &str, parts: &[String]| {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let mut c = node("Concat", &format!("concat_{name}"), &refs, &[name]);
            c.attribute.push(int_attr("axis", 0));
            c
        };
        if !single {
            self.nodes.push(gather("Y_h", &y_h));
            if lstm {
                self.nodes.push(gather("Y_c", &y_c));
            }
        }
        outputs.push(value("Y_h", DataType::Float, &state_dims));
        if lstm {
            outputs.push(value("Y_c", DataType::Float, &state_dims));
        }
        proto::ModelProto {
            ir_version: 8,
            producer_name: "wgpu-rnn".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import: vec![proto::OperatorSetIdProto {
                domain: String::new(),
                version: EXPORT_OPSET,
            }],
            graph: Some(proto::GraphProto {
                name: format!("wgpu_rnn_{}", layer.cell.name().replace('-', "_")),
                node: self.nodes,
                initializer: self.initializers,
                input: inputs,
                output: outputs,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
