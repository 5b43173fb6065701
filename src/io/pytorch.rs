//! PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` `state_dict()`s saved with
//! safetensors, unchanged: `weight_ih_l{k}{sfx}` `[G*H, I or D*Ho]`,
//! `weight_hh_l{k}{sfx}` `[G*H, Ho]`, `bias_ih_l{k}{sfx}`, `bias_hh_l{k}{sfx}`
//! `[G*H]`, `weight_hr_l{k}{sfx}` `[Ho, H]`, and our peephole extension
//! `weight_peephole_l{k}{sfx}` `[3, H]` (rows p_i, p_f, p_o); `sfx` is `""` or
//! `"_reverse"`. The cell, sizes, layers and directions are inferred from the
//! names and shapes; `__metadata__` may set `nonlinearity`, `gru_reset`,
//! `direction` and `batch_first`.
//!
//! ```
//! use wgpu_rnn::io::{pytorch::load_state_dict, tensors::TensorFile};
//! use wgpu_rnn::{Gpu, RnnStack};
//! // torch: save_file(lstm.state_dict(), "lstm.safetensors")
//! let file = TensorFile::read("tests/data/golden/torch_lstm_basic.model.safetensors".as_ref())?;
//! let model = load_state_dict(&file)?;
//! let config = model.weights.config();
//! let (i, h) = (config.layer.input_size, config.layer.hidden_size);
//! let lstm = RnnStack::new(&Gpu::new()?, &model.weights)?;
//! let out = lstm.forward_host(&vec![0.5; 4 * 2 * i], 4, 2, None, None, None)?;
//! assert_eq!(out.h_n.len(), config.state_slots() * 2 * h); // [L*D, B, H]
//! # Ok::<(), wgpu_rnn::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::config::{CellKind, GruReset, Nonlinearity, RnnConfig};
use crate::config::{Direction, StackConfig};
use crate::error::{Error, Result};
use crate::io::tensors::{HostTensor, TensorFile};
use crate::weights::{RnnWeights, StackWeights};

const KINDS: [&str; 6] = [
    "weight_ih",
    "weight_hh",
    "bias_ih",
    "bias_hh",
    "weight_hr",
    "weight_peephole",
];

/// `(kind, layer, reverse)` of a parameter name, or `None` if unknown.
fn parse_name(name: &str) -> Option<(&'static str, usize, bool)> {
    for kind in KINDS {
        let Some(rest) = name.strip_prefix(kind).and_then(|r| r.strip_prefix("_l")) else {
            continue;
        };
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let (layer, sfx) = rest.split_at(digits);
        let layer = layer.parse().ok()?;
        return match sfx {
            "" => Some((kind, layer, false)),
            "_reverse" => Some((kind, layer, true)),
            _ => None,
        };
    }
    None
}

/// The parameter name PyTorch gives `kind` of layer `l`, direction `d`.
pub fn param_name(kind: &str, layer: usize, reverse_suffix: bool) -> String {
    format!(
        "{kind}_l{layer}{}",
        if reverse_suffix { "_reverse" } else { "" }
    )
}

fn meta<'a>(file: &'a TensorFile, key: &str) -> Option<&'a str> {
    file.metadata.get(key).map(String::as_str)
}

fn bad_meta(key: &str, value: &str, expected: &str) -> Error {
    Error::config(
        format!("metadata {key}"),
        format!("{value:?}, expected {expected}"),
    )
}

/// A model read from a state_dict file.
#[derive(Debug, Clone, PartialEq)]
pub struct PyTorchModel {
    /// The module's config and every layer's weights.
    pub weights: StackWeights,
    /// Every parameter tensor name in the file, in file order.
    pub parameter_names: Vec<String>,
}

/// The tensors of a state_dict by `(layer, reverse, kind)`, with their names.
type Params<'f> = BTreeMap<(usize, bool, &'static str), (&'f str, &'f HostTensor)>;

/// The module a state_dict describes, from its tensors' names and shapes
/// and its metadata alone: no value is read or copied (so a model too big
/// for the device can be refused before its weights are converted).
pub fn state_dict_config(file: &TensorFile) -> Result<StackConfig> {
    infer(file).map(|(config, _)| config)
}

fn infer(file: &TensorFile) -> Result<(StackConfig, Params<'_>)> {
    let mut params: Params<'_> = BTreeMap::new();
    for (name, t) in &file.tensors {
        let (kind, layer, rev) = parse_name(name).ok_or_else(|| {
            Error::tensor(name, "unknown name: expected weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, weight_hr_l{k} or weight_peephole_l{k}, optionally with _reverse")
        })?;
        params.insert((layer, rev, kind), (name.as_str(), t));
    }
    let get = |layer: usize, rev: bool, kind: &str| params.get(&(layer, rev, kind)).copied();
    let (_, w_hh0) =
        get(0, false, "weight_hh").ok_or_else(|| Error::tensor("weight_hh_l0", "missing"))?;
    let (_, w_ih0) =
        get(0, false, "weight_ih").ok_or_else(|| Error::tensor("weight_ih_l0", "missing"))?;
    for (name, t) in [("weight_hh_l0", w_hh0), ("weight_ih_l0", w_ih0)] {
        if t.shape.len() != 2 {
            return Err(Error::tensor(
                name,
                format!("expected 2 dimensions, got shape {:?}", t.shape),
            ));
        }
    }
    let (rows, ho, input_size) = (w_hh0.shape[0], w_hh0.shape[1], w_ih0.shape[1]);
    let hidden = match get(0, false, "weight_hr") {
        Some((_, hr)) => *hr
            .shape
            .get(1)
            .ok_or_else(|| Error::shape("weight_hr_l0", &[ho, 0], &hr.shape))?,
        None => ho,
    };
    if hidden == 0 || rows % hidden != 0 {
        return Err(Error::tensor(
            "weight_hh_l0",
            format!("{rows} rows is not a multiple of the hidden size {hidden}"),
        ));
    }
    let has_peephole = get(0, false, "weight_peephole").is_some();
    let nonlinearity = meta(file, "nonlinearity");
    let gru_reset = meta(file, "gru_reset");
    let cell = match rows / hidden {
        4 if has_peephole => CellKind::PeepholeLstm,
        4 => CellKind::Lstm,
        3 => CellKind::Gru(match gru_reset {
            None | Some("after") => GruReset::After,
            Some("before") => GruReset::Before,
            Some(v) => return Err(bad_meta("gru_reset", v, "after or before")),
        }),
        1 => CellKind::Rnn(match nonlinearity {
            None | Some("tanh") => Nonlinearity::Tanh,
            Some("relu") => Nonlinearity::Relu,
            Some(v) => return Err(bad_meta("nonlinearity", v, "tanh or relu")),
        }),
        g => {
            return Err(Error::tensor(
                "weight_hh_l0",
                format!("{rows} rows = {g} x hidden size {hidden}: expected 4 (LSTM), 3 (GRU) or 1 (RNN) gate blocks"),
            ))
        }
    };
    if nonlinearity.is_some() && !matches!(cell, CellKind::Rnn(_)) {
        return Err(Error::config(
            "metadata nonlinearity",
            format!("set, but the weights are a {}", cell.name()),
        ));
    }
    if gru_reset.is_some() && !matches!(cell, CellKind::Gru(_)) {
        return Err(Error::config(
            "metadata gru_reset",
            format!("set, but the weights are a {}", cell.name()),
        ));
    }
    let has_reverse = params.keys().any(|&(_, rev, _)| rev);
    let direction = match (meta(file, "direction"), has_reverse) {
        (None, false) | (Some("forward"), false) => Direction::Forward,
        (None, true) | (Some("bidirectional"), true) => Direction::Bidirectional,
        (Some("reverse"), false) => Direction::Reverse,
        (Some(v @ ("forward" | "reverse")), true) => {
            return Err(Error::config(
                "metadata direction",
                format!("{v:?}, but the file has _reverse tensors"),
            ))
        }
        (Some("bidirectional"), false) => {
            return Err(Error::config(
                "metadata direction",
                "\"bidirectional\", but the file has no _reverse tensors",
            ))
        }
        (Some(v), _) => {
            return Err(bad_meta(
                "direction",
                v,
                "forward, reverse or bidirectional",
            ))
        }
    };
    let batch_first = match meta(file, "batch_first") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(bad_meta("batch_first", v, "true or false")),
    };
    // Every layer has at least two tensors: a larger index names a layer
    // the file cannot hold (and must not size a loop).
    let top = params.keys().map(|&(l, _, _)| l).max().unwrap_or(0);
    if top >= params.len() {
        let name = params
            .iter()
            .find(|(&(l, _, _), _)| l == top)
            .map_or("", |(_, &(name, _))| name);
        return Err(Error::tensor(
            name,
            format!(
                "layer index {top}, but the file has only {} recurrent tensors",
                params.len()
            ),
        ));
    }
    let num_layers = top + 1;
    let bias = get(0, false, "bias_ih").is_some();
    let mut layer0 = RnnConfig::new(cell, input_size, hidden)?.with_bias(bias);
    if get(0, false, "weight_hr").is_some() {
        layer0 = layer0.with_projection(ho)?;
    }
    let config = StackConfig::new(layer0)
        .with_layers(num_layers)
        .with_direction(direction)
        .with_batch_first(batch_first);
    Ok((config, params))
}

/// Infers the module from `file` and loads its weights.
pub fn load_state_dict(file: &TensorFile) -> Result<PyTorchModel> {
    let (config, params) = infer(file)?;
    let get = |layer: usize, rev: bool, kind: &str| params.get(&(layer, rev, kind)).copied();
    let (num_layers, direction, cell) = (config.num_layers, config.direction, config.layer.cell);

    let mut layers = Vec::new();
    let mut used = 0;
    for l in 0..num_layers {
        for d in 0..config.directions() {
            let lc = config.slot_config(l, d);
            let rev = direction == Direction::Bidirectional && d == 1;
            let mut take =
                |kind: &str, shape: &[usize], wanted: bool| -> Result<Option<Vec<f32>>> {
                    let name = param_name(kind, l, rev);
                    match (get(l, rev, kind), wanted) {
                        (Some((_, t)), true) => {
                            used += 1;
                            t.expect_shape(&name, shape)?;
                            Ok(Some(t.to_f32(&name)?))
                        }
                        (None, true) => Err(Error::tensor(
                            name,
                            format!("missing (expected shape {shape:?})"),
                        )),
                        (Some(_), false) => Err(Error::tensor(
                            name,
                            "not expected for this model (it differs from layer 0)",
                        )),
                        (None, false) => Ok(None),
                    }
                };
            let rows = lc.gate_rows();
            let proj = lc.proj_size.is_some();
            let w_ih = take("weight_ih", &[rows, lc.input_size], true)?.unwrap_or_default();
            let w_hh = take("weight_hh", &[rows, lc.output_size()], true)?.unwrap_or_default();
            let b_ih = take("bias_ih", &[rows], lc.bias)?;
            let b_hh = take("bias_hh", &[rows], lc.bias)?;
            let peephole = take(
                "weight_peephole",
                &[3, lc.hidden_size],
                cell == CellKind::PeepholeLstm,
            )?;
            let w_hr = take("weight_hr", &[lc.output_size(), lc.hidden_size], proj)?;
            layers.push(match w_hr {
                Some(w_hr) => {
                    RnnWeights::with_projection_weights(lc, w_ih, w_hh, b_ih, b_hh, peephole, w_hr)?
                }
                None => RnnWeights::new(lc, w_ih, w_hh, b_ih, b_hh, peephole)?,
            });
        }
    }
    if used != params.len() {
        // A tensor for a layer or direction the module does not have.
        let (&(l, rev, kind), _) = params
            .iter()
            .find(|(&(l, rev, _), _)| {
                l >= num_layers || (rev && direction != Direction::Bidirectional)
            })
            .unwrap_or_else(|| params.iter().next().expect("non-empty"));
        return Err(Error::tensor(
            param_name(kind, l, rev),
            "does not belong to the inferred module",
        ));
    }
    Ok(PyTorchModel {
        weights: StackWeights::new(config, layers)?,
        parameter_names: file.tensors.keys().cloned().collect(),
    })
}

/// Writes `weights` the way PyTorch names them (plus the metadata this crate
/// reads), e.g. to make model files for tests.
pub fn to_state_dict(weights: &StackWeights) -> TensorFile {
    let cfg = weights.config();
    let mut file = TensorFile::default();
    for l in 0..cfg.num_layers {
        for d in 0..cfg.directions() {
            let w = weights.layer(l, d);
            let lc = w.config();
            let rev = cfg.direction == Direction::Bidirectional && d == 1;
            let mut put = |kind: &str, shape: &[usize], data: Option<&[f32]>| {
                if let Some(data) = data {
                    file.tensors
                        .insert(param_name(kind, l, rev), HostTensor::f32(shape, data));
                }
            };
            let rows = lc.gate_rows();
            put("weight_ih", &[rows, lc.input_size], Some(w.weight_ih()));
            put("weight_hh", &[rows, lc.output_size()], Some(w.weight_hh()));
            put("bias_ih", &[rows], w.bias_ih());
            put("bias_hh", &[rows], w.bias_hh());
            put(
                "weight_hr",
                &[lc.output_size(), lc.hidden_size],
                w.weight_hr(),
            );
            put("weight_peephole", &[3, lc.hidden_size], w.peephole());
        }
    }
    let m = &mut file.metadata;
    match cfg.layer.cell {
        CellKind::Gru(GruReset::Before) => {
            m.insert("gru_reset".into(), "before".into());
        }
        CellKind::Rnn(Nonlinearity::Relu) => {
            m.insert("nonlinearity".into(), "relu".into());
        }
        _ => {}
    }
    m.insert("direction".into(), cfg.direction.name().into());
    m.insert("batch_first".into(), cfg.batch_first.to_string());
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dict_round_trips_every_cell_and_option() {
        for cell in CellKind::ALL {
            for (layers, direction, proj, bias) in [
                (1, Direction::Forward, false, true),
                (2, Direction::Bidirectional, true, true),
                (3, Direction::Reverse, false, false),
            ] {
                let mut layer = RnnConfig::new(cell, 3, 5).unwrap().with_bias(bias);
                if proj && cell.has_cell_state() {
                    layer = layer.with_projection(2).unwrap();
                }
                let config = StackConfig::new(layer)
                    .with_layers(layers)
                    .with_direction(direction)
                    .with_batch_first(layers == 2);
                let weights = StackWeights::random(config, 1, 1.0).unwrap();
                let file = to_state_dict(&weights);
                let bytes = file.to_bytes().unwrap();
                let back =
                    load_state_dict(&TensorFile::from_bytes("mem", &bytes).unwrap()).unwrap();
                assert_eq!(back.weights, weights, "{} {config:?}", cell.name());
                assert_eq!(back.parameter_names.len(), file.tensors.len());
            }
        }
    }

    #[test]
    fn names_parse_strictly() {
        assert_eq!(parse_name("weight_ih_l0"), Some(("weight_ih", 0, false)));
        assert_eq!(
            parse_name("bias_hh_l12_reverse"),
            Some(("bias_hh", 12, true))
        );
        assert_eq!(
            parse_name("weight_peephole_l1"),
            Some(("weight_peephole", 1, false))
        );
        for bad in [
            "weight_ih_l",
            "weight_ih_lx",
            "weight_ih_l0_rev",
            "weight_ih0",
            "lstm.weight_ih_l0",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
