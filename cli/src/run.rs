//! The `wgpu-rnn run` pipeline: a model file and an input file in, the
//! output tensors out. Every check happens before any GPU work, and every
//! failure names the tensor, the expected and the actual value.

use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
use wgpu_rnn::io::{load_model, model_config, pytorch};
use wgpu_rnn::train::{HostGradients, HostSeeds, TrainOptions};
use wgpu_rnn::{Direction, Error, Gpu, Result, RnnStack, StackConfig, StackWeights};

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

pub(crate) fn lengths_of(t: &HostTensor, seq: usize, batch: usize) -> Result<Vec<usize>> {
    if !matches!(t.dtype, safetensors::Dtype::I32 | safetensors::Dtype::I64) {
        return Err(crate::tensor_error(
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
/// metadata when `Some`. Returns `output`, `h_n` and (LSTM) `c_n`, all F32;
/// with `backward` also the gradients of the `run` contract (see
/// `write_gradients`) for the cotangents `grad_output`, `grad_h_n`,
/// `grad_c_n` in `input` (zeros when absent).
pub fn run_forward(
    gpu: &Gpu,
    model: &TensorFile,
    input: &TensorFile,
    batch_first: Option<bool>,
    backward: bool,
) -> Result<TensorFile> {
    let is_onnx = wgpu_rnn::io::is_onnx_operator(model);
    if backward && is_onnx {
        return Err(crate::config_error(
            "--backward",
            "gradients are written under PyTorch state_dict names; give a PyTorch model file (ONNX W/R/B gradients are not produced)",
        ));
    }
    // A model over the device's limits is refused from its shapes, before
    // any weight is converted.
    gpu.check_config(&model_config(model)?)?;
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
        return Err(crate::tensor_error(
            name,
            format!("unknown input tensor; expected some of {INPUT_NAMES:?}"),
        ));
    }
    let x = input
        .get("input")
        .ok_or_else(|| crate::tensor_error("input", "missing"))?;
    let (seq, batch) = sequence_dims(x, "input", &cfg)?;
    let x_shape = cfg.sequence_shape(seq, batch, cfg.layer.input_size);
    let (slots, h, ho) = (
        cfg.state_slots(),
        cfg.layer.hidden_size,
        cfg.layer.output_size(),
    );
    // An optional input tensor of `shape`, as f32.
    let optional = |name: &str, shape: &[usize]| -> Result<Option<Vec<f32>>> {
        input
            .get(name)
            .map(|t| {
                t.expect_shape(name, shape)?;
                t.to_f32(name)
            })
            .transpose()
    };
    // c0 and grad_c_n: only for cells with a cell state.
    let cell_state = |name: &str| -> Result<Option<Vec<f32>>> {
        let t = optional(name, &[slots, batch, h])?;
        if t.is_some() && !cfg.layer.cell.has_cell_state() {
            return Err(crate::tensor_error(
                name,
                format!("given, but a {} has no cell state", cfg.layer.cell.name()),
            ));
        }
        Ok(t)
    };
    let h0 = optional("h0", &[slots, batch, ho])?;
    let c0 = cell_state("c0")?;
    let lengths = input
        .get("lengths")
        .map(|t| lengths_of(t, seq, batch))
        .transpose()?;
    let x = x.to_f32("input")?;
    let out_shape = cfg.sequence_shape(seq, batch, cfg.output_size());

    let stack = RnnStack::new(gpu, &weights)?;
    let mut file = TensorFile::default();
    let out = if backward {
        let g_out = optional("grad_output", &out_shape)?;
        let g_h = optional("grad_h_n", &[slots, batch, ho])?;
        let g_c = cell_state("grad_c_n")?;
        let seeds = HostSeeds {
            output: g_out.as_deref(),
            h_n: g_h.as_deref(),
            c_n: g_c.as_deref(),
        };
        let (out, grads) = stack.train_step_host(
            &x,
            seq,
            batch,
            h0.as_deref(),
            c0.as_deref(),
            lengths.as_deref(),
            seeds,
            TrainOptions::default(),
        )?;
        write_gradients(&mut file, &weights, &grads, x_shape);
        out
    } else {
        stack.forward_host(
            &x,
            seq,
            batch,
            h0.as_deref(),
            c0.as_deref(),
            lengths.as_deref(),
        )?
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

/// Adds `grad_input`, `grad_h0`, `grad_c0` (LSTM) and `grad.<name>` for
/// every parameter of `weights`, under its PyTorch name and shape.
/// `(seq, batch)` of the sequence input `name`, which must be `[T, B, I]`
/// (`[B, T, I]` batch-first) with `cfg`'s input size.
pub(crate) fn sequence_dims(
    x: &HostTensor,
    name: &str,
    cfg: &StackConfig,
) -> Result<(usize, usize)> {
    let &[a, b, _] = x.shape.as_slice() else {
        let want = if cfg.batch_first {
            "[B, T, I]"
        } else {
            "[T, B, I]"
        };
        return Err(crate::tensor_error(
            name,
            format!("shape {:?}, expected {want}", x.shape),
        ));
    };
    x.expect_shape(name, &[a, b, cfg.layer.input_size])?;
    Ok(if cfg.batch_first { (b, a) } else { (a, b) })
}

fn write_gradients(
    file: &mut TensorFile,
    weights: &StackWeights,
    grads: &HostGradients,
    input_shape: [usize; 3],
) {
    let cfg = weights.config();
    let (slots, h, ho) = (
        cfg.state_slots(),
        cfg.layer.hidden_size,
        cfg.layer.output_size(),
    );
    let batch = grads.h0.len() / (slots * ho);
    let mut put = |name: String, shape: &[usize], data: &[f32]| {
        file.tensors.insert(name, HostTensor::f32(shape, data));
    };
    put("grad_input".into(), &input_shape, &grads.input);
    put("grad_h0".into(), &[slots, batch, ho], &grads.h0);
    if let Some(c0) = &grads.c0 {
        put("grad_c0".into(), &[slots, batch, h], c0);
    }
    for l in 0..cfg.num_layers {
        for d in 0..cfg.directions() {
            let g = &grads.params[l * cfg.directions() + d];
            let lc = weights.layer(l, d).config();
            let rev = cfg.direction == Direction::Bidirectional && d == 1;
            let rows = lc.gate_rows();
            let name = |kind: &str| format!("grad.{}", pytorch::param_name(kind, l, rev));
            put(name("weight_ih"), &[rows, lc.input_size], &g.weight_ih);
            put(name("weight_hh"), &[rows, ho], &g.weight_hh);
            if let Some(b) = &g.bias_ih {
                put(name("bias_ih"), &[rows], b);
            }
            if let Some(b) = &g.bias_hh {
                put(name("bias_hh"), &[rows], b);
            }
            if let Some(p) = &g.weight_hr {
                put(name("weight_hr"), &[ho, h], p);
            }
            if let Some(p) = &g.peephole {
                put(name("weight_peephole"), &[3, h], p);
            }
        }
    }
}

/// The tensors of `file` that hold NaN or infinite values, with how many.
pub fn non_finite_counts(file: &TensorFile) -> Vec<(String, usize)> {
    file.tensors
        .iter()
        .filter_map(|(name, t)| {
            let count = t.values.iter().filter(|v| !v.is_finite()).count();
            (count > 0).then(|| (name.clone(), count))
        })
        .collect()
}

#[cfg(test)]
mod non_finite_tests {
    use super::*;
    use wgpu_rnn::io::tensors::HostTensor;

    #[test]
    fn non_finite_outputs_are_counted_per_tensor() {
        let mut file = TensorFile::default();
        file.tensors.insert(
            "output".into(),
            HostTensor::f32(&[3], &[1.0, f32::NAN, f32::INFINITY]),
        );
        file.tensors
            .insert("h_n".into(), HostTensor::f32(&[1], &[0.5]));
        assert_eq!(non_finite_counts(&file), vec![("output".to_string(), 2)]);
    }
}
