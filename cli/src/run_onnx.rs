//! `wgpu-rnn run` on an `.onnx` model, as an ONNX Runtime session runs it:
//! input tensors named after the graph's inputs, every graph output written
//! under its graph name, in the operator's shapes and layout.

use wgpu_rnn::io::onnx::{OnnxGraph, OnnxModel, OnnxStack, Operand};
use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
use wgpu_rnn::{Gpu, Result, RnnStack};

/// `[a, b, rest]` -> `[b, a, rest]` (element blocks of `rest`).
fn swap_outer(values: &[f32], a: usize, b: usize, rest: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for i in 0..a {
        for j in 0..b {
            let src = &values[(i * b + j) * rest..][..rest];
            out[(j * a + i) * rest..][..rest].copy_from_slice(src);
        }
    }
    out
}

/// A tensor's shape and values.
type Shaped = (Vec<usize>, Vec<f32>);

/// Runs the model's node on `input`; returns every graph output.
pub fn run_onnx(gpu: &Gpu, model: &OnnxModel, input: &TensorFile) -> Result<TensorFile> {
    let node = &model.node;
    let attrs = &node.attributes;
    let cfg = *node.weights.config();
    let batch_first = attrs.layout == 1;
    // Every input tensor must be a graph input the node reads.
    let runtime = |o: &Option<Operand>| match o {
        Some(Operand::Input(name)) => Some(name.clone()),
        _ => None,
    };
    let accepted: Vec<String> = [
        Some(node.x.clone()),
        runtime(&node.sequence_lens),
        runtime(&node.initial_h),
        runtime(&node.initial_c),
    ]
    .into_iter()
    .flatten()
    .chain(model.inputs.iter().cloned())
    .collect();
    if let Some(name) = input.tensors.keys().find(|n| !accepted.contains(n)) {
        return Err(crate::tensor_error(
            name,
            format!("not an input of the graph's node; its inputs: {accepted:?}"),
        ));
    }
    check_required(&model.inputs, input)?;
    // A bound operand: from the input file or the model's constant.
    let operand = |o: &Option<Operand>| -> Option<HostTensor> {
        match o {
            Some(Operand::Input(name)) => input.get(name).cloned(),
            Some(Operand::Constant(t)) => Some(t.clone()),
            None => None,
        }
    };
    let x = input
        .get(&node.x)
        .ok_or_else(|| crate::tensor_error(&node.x, "missing (input X of the node)"))?;
    let (dirs, h, i) = (cfg.directions(), attrs.hidden_size, cfg.layer.input_size);
    let &[a, b, _] = x.shape.as_slice() else {
        let want = if batch_first {
            "[B, T, I]"
        } else {
            "[T, B, I]"
        };
        return Err(crate::tensor_error(
            &node.x,
            format!("shape {:?}, expected {want}", x.shape),
        ));
    };
    x.expect_shape(&node.x, &[a, b, i])?;
    let (seq, batch) = if batch_first { (b, a) } else { (a, b) };
    // initial_h / initial_c: [D, B, H], or [B, D, H] with layout 1.
    let state = |o: &Option<Operand>, role: &str| -> Result<Option<Vec<f32>>> {
        let Some(t) = operand(o) else {
            return Ok(None);
        };
        let label = match o {
            Some(Operand::Input(n)) => n.clone(),
            _ => role.to_string(),
        };
        let shape = if batch_first {
            [batch, dirs, h]
        } else {
            [dirs, batch, h]
        };
        t.expect_shape(&label, &shape)?;
        let v = t.to_f32(&label)?;
        Ok(Some(if batch_first {
            swap_outer(&v, batch, dirs, h)
        } else {
            v
        }))
    };
    let h0 = state(&node.initial_h, "initial_h")?;
    let c0 = state(&node.initial_c, "initial_c")?;
    let lengths = operand(&node.sequence_lens)
        .map(|t| crate::run::lengths_of(&t, seq, batch))
        .transpose()?;
    let x = x.to_f32(&node.x)?;

    gpu.check_config(&cfg)?;
    let stack = RnnStack::new(gpu, &node.weights)?;
    let out = stack.forward_host(
        &x,
        seq,
        batch,
        h0.as_deref(),
        c0.as_deref(),
        lengths.as_deref(),
    )?;
    // Our output is [T, B, D*H] (batch-first: [B, T, D*H]); ONNX's Y is
    // [T, D, B, H] (layout 1: [B, T, D, H], the same memory as ours).
    let (y_shape, y) = if batch_first {
        (vec![batch, seq, dirs, h], out.output)
    } else {
        let mut y = Vec::with_capacity(out.output.len());
        for t in 0..seq {
            let step = &out.output[t * batch * dirs * h..][..batch * dirs * h];
            y.extend(swap_outer(step, batch, dirs, h));
        }
        (vec![seq, dirs, batch, h], y)
    };
    let final_state = |v: &[f32]| {
        if batch_first {
            (vec![batch, dirs, h], swap_outer(v, dirs, batch, h))
        } else {
            (vec![dirs, batch, h], v.to_vec())
        }
    };
    let mut produced: Vec<(Option<&String>, Shaped)> = vec![
        (node.y.as_ref(), (y_shape, y)),
        (node.y_h.as_ref(), final_state(&out.h_n)),
    ];
    if let Some(c_n) = &out.c_n {
        produced.push((node.y_c.as_ref(), final_state(c_n)));
    }
    output_file(&model.outputs, &produced)
}

/// Every graph input without an initializer is required, as in an ONNX
/// Runtime session, which refuses a feed that lacks any of them rather
/// than reading zeros: the error names them all, the first as its tensor.
fn check_required(required: &[String], input: &TensorFile) -> Result<()> {
    let missing: Vec<&String> = required.iter().filter(|n| input.get(n).is_none()).collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => {
            let given: Vec<&String> = input.tensors.keys().collect();
            Err(crate::tensor_error(
                *first,
                format!(
                    "required inputs {missing:?} are missing from the input file (it has \
                     {given:?}); the graph takes them as inputs, with no initializer to \
                     fall back on"
                ),
            ))
        }
    }
}

/// The graph's outputs, in order, from what the run `produced` (each under
/// the graph name it was bound to, if any).
fn output_file(outputs: &[String], produced: &[(Option<&String>, Shaped)]) -> Result<TensorFile> {
    let mut file = TensorFile::default();
    for name in outputs {
        let (shape, values) = produced
            .iter()
            .find(|(n, _)| *n == Some(name))
            .map(|(_, v)| v)
            .ok_or_else(|| crate::tensor_error(name, "not produced by the model"))?;
        file.tensors
            .insert(name.clone(), HostTensor::f32(shape, values));
    }
    Ok(file)
}

/// Runs a loaded graph on `input`: one node ([`run_onnx`]) or a stack
/// ([`run_onnx_stack`]).
pub fn run_graph(gpu: &Gpu, graph: &OnnxGraph, input: &TensorFile) -> Result<TensorFile> {
    match graph {
        OnnxGraph::Node(model) => run_onnx(gpu, model, input),
        OnnxGraph::Stack(stack) => run_onnx_stack(gpu, stack, input),
    }
}

/// Runs a `torch.onnx.export` stack on `input` as ONNX Runtime would: the
/// sequence (and the state inputs, where the graph takes them) under the
/// graph's input names, every graph output under its
/// name, in PyTorch's layouts.
pub fn run_onnx_stack(gpu: &Gpu, stack: &OnnxStack, input: &TensorFile) -> Result<TensorFile> {
    let cfg = *stack.weights.config();
    let accepted: Vec<&String> = [Some(&stack.input), stack.h0.as_ref(), stack.c0.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    if let Some(name) = input.tensors.keys().find(|n| !accepted.contains(n)) {
        return Err(crate::tensor_error(
            name,
            format!("not an input of the graph; its inputs: {accepted:?}"),
        ));
    }
    let required: Vec<String> = accepted.into_iter().cloned().collect();
    check_required(&required, input)?;
    let name = &stack.input;
    let x = input
        .get(name)
        .ok_or_else(|| crate::tensor_error(name, "missing (the sequence input)"))?;
    let (seq, batch) = crate::run::sequence_dims(x, name, &cfg)?;
    let (slots, h) = (cfg.state_slots(), cfg.layer.hidden_size);
    let state = |name: &Option<String>| -> Result<Option<Vec<f32>>> {
        let Some(t) = name.as_ref().and_then(|n| input.get(n).map(|t| (n, t))) else {
            return Ok(None);
        };
        t.1.expect_shape(t.0, &[slots, batch, h])?;
        t.1.to_f32(t.0).map(Some)
    };
    let (h0, c0) = (state(&stack.h0)?, state(&stack.c0)?);
    let x = x.to_f32(name)?;
    gpu.check_config(&cfg)?;
    let out = RnnStack::new(gpu, &stack.weights)?.forward_host(
        &x,
        seq,
        batch,
        h0.as_deref(),
        c0.as_deref(),
        None,
    )?;
    let mut produced: Vec<(Option<&String>, Shaped)> = vec![
        (
            stack.output.as_ref(),
            (
                cfg.sequence_shape(seq, batch, cfg.output_size()).to_vec(),
                out.output,
            ),
        ),
        (stack.h_n.as_ref(), (vec![slots, batch, h], out.h_n)),
    ];
    if let Some(c_n) = out.c_n {
        produced.push((stack.c_n.as_ref(), (vec![slots, batch, h], c_n)));
    }
    output_file(&stack.outputs, &produced)
}

#[cfg(test)]
mod tests {
    use super::swap_outer;

    #[test]
    fn swap_outer_transposes_blocks() {
        // [2, 3, 2] -> [3, 2, 2]
        let v: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let s = swap_outer(&v, 2, 3, 2);
        assert_eq!(s, [0., 1., 6., 7., 2., 3., 8., 9., 4., 5., 10., 11.]);
        assert_eq!(swap_outer(&s, 3, 2, 2), v);
    }
}
