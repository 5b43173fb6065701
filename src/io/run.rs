//! The `wgpu-rnn run` pipeline: a model file and an input file in, the
//! output tensors out. Every check happens before any GPU work, and every
//! failure names the tensor, the expected and the actual value.

use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::io::tensors::{HostTensor, TensorFile};
use crate::io::{onnx, pytorch};
use crate::stack::{RnnStack, StackWeights};

/// Input tensor names `run` understands; the `grad_*` cotangents are read by
/// `--backward` only.
const INPUT_NAMES: [&str; 7] = [
    "input",
    "h0",
    "c0",
    "lengths",
    "grad_output",
    "grad_h_n",
    "grad_c_n",
];

/// Loads a model file: an ONNX operator (`W`/`R` tensors with an `op`
/// metadata key) or a PyTorch state_dict.
pub fn load_model(file: &TensorFile) -> Result<StackWeights> {
    if file.metadata.contains_key("op") || file.get("W").is_some() {
        onnx::load_onnx_file(file)
    } else {
        pytorch::load_state_dict(file).map(|m| m.weights)
    }
}

fn lengths_of(t: &HostTensor, seq: usize, batch: usize) -> Result<Vec<usize>> {
    if !matches!(t.dtype, safetensors::Dtype::I32 | safetensors::Dtype::I64) {
        return Err(Error::tensor(
            "lengths",
            format!("dtype {:?}, expected I32 or I64", t.dtype),
        ));
    }
    t.expect_shape("lengths", &[batch])?;
    if let Some(index) = t.values.iter().position(|&v| v < 1.0 || v > seq as f64) {
        return Err(Error::Length {
            index,
            value: t.values[index] as i64,
            seq,
        });
    }
    Ok(t.values.iter().map(|&v| v as usize).collect())
}

/// Runs the model of `model` on `input`; `batch_first` overrides the model's
/// metadata when `Some`. Returns `output`, `h_n` and (LSTM) `c_n`, all F32.
pub fn run_forward(
    gpu: &Gpu,
    model: &TensorFile,
    input: &TensorFile,
    batch_first: Option<bool>,
    backward: bool,
) -> Result<TensorFile> {
    if backward {
        return Err(Error::config(
            "--backward",
            "the backward pass is not implemented yet (it arrives with the training issue)",
        ));
    }
    let mut weights = load_model(model)?;
    if let Some(bf) = batch_first {
        let config = weights.config().with_batch_first(bf);
        weights = StackWeights::new(config, weights.layers().to_vec())?;
    }
    let cfg = *weights.config();
    if let Some(name) = input
        .tensors
        .keys()
        .find(|n| !INPUT_NAMES.contains(&n.as_str()))
    {
        return Err(Error::tensor(
            name,
            format!("unknown input tensor; expected some of {INPUT_NAMES:?}"),
        ));
    }
    let x = input
        .get("input")
        .ok_or_else(|| Error::tensor("input", "missing"))?;
    let &[a, b, _] = x.shape.as_slice() else {
        let want = if cfg.batch_first {
            "[B, T, I]"
        } else {
            "[T, B, I]"
        };
        return Err(Error::tensor(
            "input",
            format!("shape {:?}, expected {want}", x.shape),
        ));
    };
    let (seq, batch) = if cfg.batch_first { (b, a) } else { (a, b) };
    x.expect_shape("input", &[a, b, cfg.layer.input_size])?;
    let (slots, h, ho) = (
        cfg.state_slots(),
        cfg.layer.hidden_size,
        cfg.layer.output_size(),
    );
    let state = |name: &str, width: usize| -> Result<Option<Vec<f32>>> {
        input
            .get(name)
            .map(|t| {
                t.expect_shape(name, &[slots, batch, width])?;
                t.to_f32(name)
            })
            .transpose()
    };
    let h0 = state("h0", ho)?;
    let c0 = state("c0", h)?;
    if c0.is_some() && !cfg.layer.cell.has_cell_state() {
        return Err(Error::tensor(
            "c0",
            format!("given, but a {} has no cell state", cfg.layer.cell.name()),
        ));
    }
    let lengths = input
        .get("lengths")
        .map(|t| lengths_of(t, seq, batch))
        .transpose()?;
    let x = x.to_f32("input")?;

    let stack = RnnStack::new(gpu, &weights)?;
    let out = stack.forward_host(
        &x,
        seq,
        batch,
        h0.as_deref(),
        c0.as_deref(),
        lengths.as_deref(),
    )?;
    let mut file = TensorFile::default();
    let out_shape = if cfg.batch_first {
        [batch, seq, cfg.output_size()]
    } else {
        [seq, batch, cfg.output_size()]
    };
    file.tensors
        .insert("output".into(), HostTensor::f32(&out_shape, &out.output));
    file.tensors
        .insert("h_n".into(), HostTensor::f32(&[slots, batch, ho], &out.h_n));
    if let Some(c_n) = &out.c_n {
        file.tensors
            .insert("c_n".into(), HostTensor::f32(&[slots, batch, h], c_n));
    }
    Ok(file)
}
