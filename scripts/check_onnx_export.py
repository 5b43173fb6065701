#!/usr/bin/env python3
"""Exports golden models with `wgpu-rnn export`, checks the files with
onnx.checker (full check) and runs them in ONNX Runtime on the golden
inputs; writes tests/data/onnx_export/NAME.onnx and NAME.ort.safetensors
(ONNX Runtime's Y, Y_h, Y_c); and does the same for .onnx files with the
cell options (options_NAME). `cli/tests/onnx_export.rs` then checks that
our exporter still writes these exact bytes, that our own run matches
ONNX Runtime's, and that our loader reads each node back to the same
weights.

    cargo build --release -p wgpu-rnn-cli
    pip install -r scripts/requirements.txt
    python3 scripts/check_onnx_export.py
"""
import os
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

ROOT = os.path.join(os.path.dirname(__file__), "..")
GOLDEN = os.path.join(ROOT, "tests", "data", "golden")
OUT = os.path.join(ROOT, "tests", "data", "onnx_export")
CLI = os.path.join(ROOT, "target", "release", "wgpu-rnn")

# Every cell ONNX expresses, multi-layer, bidirectional, reverse, batch-first,
# ragged lengths, states, no bias.
CASES = [
    "torch_lstm_2layers_reverse_varlen_h0",
    "torch_lstm_no_bias_3layers_normal",
    "torch_gru_2layers_batch_first_normal",
    "torch_gru_bi_varlen_2layers",
    "torch_rnn_tanh_bi_varlen_2layers",
    "torch_rnn_relu_batch_first",
    "onnx_lstm_peephole_bi_varlen",
    "onnx_gru_lbr0_reverse_varlen",
]

# .onnx files of tests/data/onnx with ONNX's cell options (activations with
# alpha/beta per direction, clip, input_forget), exported again: written as
# options_NAME.onnx, run on that case's inputs.
ONNX_DATA = os.path.join(ROOT, "tests", "data", "onnx")
OPTION_CASES = [
    "lstm_activations_clip_bidirectional",
    "lstm_input_forget_clip_peephole",
    "gru_lbr0_relu_softplus_reverse",
    "rnn_elu_softplus_clip_bidirectional",
    "rnn_affine_opset7",
]


def export_options_case(name):
    path = os.path.join(OUT, f"options_{name}.onnx")
    subprocess.run([CLI, "export", "--model", os.path.join(ONNX_DATA, f"{name}.onnx"), "--out", path,
                    "--initial-states", "--sequence-lens"], check=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    inp = load_file(os.path.join(ONNX_DATA, f"{name}.input.safetensors"))
    x = inp["X"]
    T, B = x.shape[0], x.shape[1]
    node = next(n for n in m.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))
    hidden = next(a.i for a in node.attribute if a.name == "hidden_size")
    D = 2 if any(a.name == "direction" and a.s == b"bidirectional" for a in node.attribute) else 1
    graph_inputs = {i.name for i in m.graph.input}
    zeros = np.zeros((D, B, hidden), np.float32)
    feeds = {"X": x,
             "initial_h": inp.get("initial_h", zeros),
             "sequence_lens": inp.get("sequence_lens", np.full(B, T)).astype(np.int32)}
    if "initial_c" in graph_inputs:
        feeds["initial_c"] = inp.get("initial_c", zeros)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    res = dict(zip(names, sess.run(names, feeds)))
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in res.items()},
              os.path.join(OUT, f"options_{name}.ort.safetensors"), {"source": f"onnxruntime {ort.__version__}"})
    attrs = sorted(a.name for a in node.attribute)
    print(f"options_{name}: checker ok, attributes {attrs}, ORT outputs {sorted(res)}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    for name in CASES:
        model = os.path.join(GOLDEN, f"{name}.model.safetensors")
        path = os.path.join(OUT, f"{name}.onnx")
        subprocess.run([CLI, "export", "--model", model, "--out", path,
                        "--initial-states", "--sequence-lens"], check=True)
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        inp = load_file(os.path.join(GOLDEN, f"{name}.input.safetensors"))
        x = inp["input"].astype(np.float32)
        graph_inputs = {i.name for i in m.graph.input}
        batch_first = any(n.op_type == "Transpose" and n.name == "batch_to_time" for n in m.graph.node)
        B = x.shape[0] if batch_first else x.shape[1]
        T = x.shape[1] if batch_first else x.shape[0]
        recurrent = [n for n in m.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
        hidden = next(a.i for a in recurrent[0].attribute if a.name == "hidden_size")
        D = 2 if any(a.name == "direction" and a.s == b"bidirectional" for a in recurrent[0].attribute) else 1
        slots = len(recurrent) * D
        feeds = {"X": x,
                 "initial_h": inp.get("h0", np.zeros((slots, B, hidden), np.float32)).astype(np.float32),
                 "sequence_lens": inp.get("lengths", np.full(B, T, np.int64)).astype(np.int32)}
        if "initial_c" in graph_inputs:
            feeds["initial_c"] = inp.get("c0", np.zeros((slots, B, hidden), np.float32)).astype(np.float32)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        res = dict(zip(names, sess.run(names, feeds)))
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in res.items()},
                  os.path.join(OUT, f"{name}.ort.safetensors"), {"source": f"onnxruntime {ort.__version__}"})
        print(f"{name}: {len(recurrent)} node(s), checker ok, ORT outputs {sorted(res)}")
    for name in OPTION_CASES:
        export_options_case(name)


if __name__ == "__main__":
    main()
