#!/usr/bin/env python3
"""Writes the golden test data in tests/data/golden/ (checked in; the Rust tests
need no Python).

    pip install -r scripts/requirements.txt
    python3 scripts/make_golden.py

Each case NAME has three safetensors files:
  NAME.model.safetensors     a PyTorch state_dict (plus metadata), or an ONNX
                             operator's W, R, B, P with its attributes as metadata
  NAME.input.safetensors     input, optional h0, c0, lengths (the `run` contract)
  NAME.expected.safetensors  output, h_n, c_n in the `run` layout; metadata
                             `source` says who computed them:
      torch-f64    PyTorch in float64 (the truth); torch_f32_* hold PyTorch's
                   own float32 result for reporting. PyTorch cases also hold
                   the cotangents grad_output, grad_h_n, grad_c_n (in the
                   input file, random, also at padded steps) and autograd's
                   float64 vector-Jacobian products grad_input, grad_h0,
                   grad_c0 (for the zero state when none was given) and
                   grad.<parameter name> (in the expected file)
      onnxruntime  ONNX Runtime (float32), for cells PyTorch lacks (peephole
                   LSTM, reset-before GRU) and for ONNX semantics
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "golden")
torch.backends.cudnn.enabled = False


def save(name, kind, tensors, metadata=None):
    path = os.path.join(OUT, f"{name}.{kind}.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path, metadata=metadata)


def lengths_tensor(lengths):
    return np.array(lengths, dtype=np.int64)


def torch_case(name, cell, I, H, L=1, T=7, B=3, bidirectional=False, proj=0, bias=True,
               batch_first=False, lengths=None, states=False, normal=False, nonlinearity="tanh",
               reverse=False, seed=0):
    """A PyTorch module run in float64 (truth) and float32 (report)."""
    g = torch.Generator().manual_seed(seed)
    kw = dict(num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if cell == "lstm":
        m = torch.nn.LSTM(I, H, proj_size=proj, **kw)
    elif cell == "gru":
        m = torch.nn.GRU(I, H, **kw)
    else:
        m = torch.nn.RNN(I, H, nonlinearity=nonlinearity, **kw)
    with torch.no_grad():
        for p in m.parameters():
            if normal:  # large weights: N(0, 1)
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                k = 1.0 / H ** 0.5
                p.copy_(torch.rand(p.shape, generator=g) * 2 * k - k)
    D = 2 if bidirectional else 1
    Ho = proj or H
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape, generator=g)
    if lengths is not None:
        # Garbage at padded steps: it must not influence anything.
        for b, n in enumerate(lengths):
            if batch_first:
                x[b, n:] = 1e3
            else:
                x[n:, b] = 1e3
    h0 = torch.randn(L * D, B, Ho, generator=g) if states else None
    c0 = torch.randn(L * D, B, H, generator=g) if states and cell == "lstm" else None

    def run(dtype):
        mm = m.to(dtype)
        hh = h0.to(dtype) if h0 is not None else None
        cc = c0.to(dtype) if c0 is not None else None
        return run_with(mm, x.to(dtype), hh, cc)

    def run_with(mm, xx, hh, cc):
        args = []
        if hh is not None:
            args = [(hh, cc if cc is not None else torch.zeros(L * D, B, H, dtype=hh.dtype))] if cell == "lstm" else [hh]
        if reverse:
            # ONNX-style direction=reverse: the weights run from each row's
            # last valid step to the first. Reverse each row's valid part,
            # run forward, reverse back.
            xr = xx.clone()
            n_of = lengths or [T] * B
            for b, n in enumerate(n_of):
                sl = (b, slice(0, n)) if batch_first else (slice(0, n), b)
                idx = torch.arange(n - 1, -1, -1)
                xr[sl] = xx[sl][idx]
            xx = xr
        if lengths is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                xx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            y, st = mm(packed, *args)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=batch_first, total_length=T)
        else:
            y, st = mm(xx, *args)
        if reverse:
            yr = y.clone()
            for b, n in enumerate(lengths or [T] * B):
                sl = (b, slice(0, n)) if batch_first else (slice(0, n), b)
                yr[sl] = y[sl][torch.arange(n - 1, -1, -1)]
            y = yr
        h_n, c_n = st if cell == "lstm" else (st, None)
        return y, h_n, c_n

    with torch.no_grad():
        y32, h32, c32 = run(torch.float32)
    # float64 with autograd: the truth for outputs and gradients.
    m.to(torch.float64)
    x64 = x.to(torch.float64).requires_grad_(True)
    hz = (h0 if h0 is not None else torch.zeros(L * D, B, Ho)).to(torch.float64).requires_grad_(True)
    cz = (c0 if c0 is not None else torch.zeros(L * D, B, H)).to(torch.float64).requires_grad_(True)
    y64, h64, c64 = run_with(m, x64, hz, cz)
    g_out = torch.randn(y64.shape, generator=g, dtype=torch.float64)
    g_h = torch.randn(h64.shape, generator=g, dtype=torch.float64)
    g_c = torch.randn(c64.shape, generator=g, dtype=torch.float64) if c64 is not None else None
    loss = (y64 * g_out).sum() + (h64 * g_h).sum() + ((c64 * g_c).sum() if c64 is not None else 0.0)
    params = dict(m.named_parameters())
    wanted = [x64, hz] + ([cz] if cell == "lstm" else []) + list(params.values())
    grads = torch.autograd.grad(loss, wanted)
    grad_input, grad_h0 = grads[0], grads[1]
    grad_c0 = grads[2] if cell == "lstm" else None
    grad_params = dict(zip(params.keys(), grads[3 if cell == "lstm" else 2:]))
    y64, h64 = y64.detach(), h64.detach()
    c64 = c64.detach() if c64 is not None else None

    meta = {"format": "pt"}
    if cell == "rnn":
        meta["nonlinearity"] = nonlinearity
    if batch_first:
        meta["batch_first"] = "true"
    if reverse:
        meta["direction"] = "reverse"
    # Exactly as a user exports a checkpoint (plus our optional metadata).
    m.to(torch.float32)
    save_torch_file(m.state_dict(), os.path.join(OUT, f"{name}.model.safetensors"), metadata=meta)
    inp = {"input": x.numpy()}
    if h0 is not None:
        inp["h0"] = h0.numpy()
    if c0 is not None:
        inp["c0"] = c0.numpy()
    if lengths is not None:
        inp["lengths"] = lengths_tensor(lengths)
    inp["grad_output"] = g_out.numpy()
    inp["grad_h_n"] = g_h.numpy()
    if g_c is not None:
        inp["grad_c_n"] = g_c.numpy()
    save(name, "input", inp)
    exp = {"output": y64.numpy(), "h_n": h64.numpy(),
           "torch_f32_output": y32.numpy(), "torch_f32_h_n": h32.numpy(),
           "grad_input": grad_input.numpy(), "grad_h0": grad_h0.numpy()}
    if c64 is not None:
        exp["c_n"] = c64.numpy()
        exp["torch_f32_c_n"] = c32.numpy()
        exp["grad_c0"] = grad_c0.numpy()
    for k, v in grad_params.items():
        exp[f"grad.{k}"] = v.numpy()
    save(name, "expected", exp, {"source": "torch-f64"})


def onnx_case(name, op, I, H, T=7, B=3, direction="forward", lengths=None, states=False,
              peephole=False, lbr=0, activation="Tanh", layout=0, bias=True, seed=0, scale=None):
    """An ONNX operator run by ONNX Runtime (float32)."""
    rng = np.random.default_rng(seed)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    D = 2 if direction == "bidirectional" else 1
    k = scale if scale is not None else 1.0 / H ** 0.5
    u = lambda *s: rng.uniform(-k, k, size=s).astype(np.float32)
    W, R = u(D, G * H, I), u(D, G * H, H)
    B_ = u(D, 2 * G * H) if bias else None
    P = u(D, 3 * H) if peephole else None
    xs = (B, T, I) if layout else (T, B, I)
    X = rng.standard_normal(xs).astype(np.float32)
    if lengths is not None:
        for b, n in enumerate(lengths):
            if layout:
                X[b, n:] = 1e3
            else:
                X[n:, b] = 1e3
    h0 = rng.standard_normal((D, B, H)).astype(np.float32) if states else None
    c0 = rng.standard_normal((D, B, H)).astype(np.float32) if states and op == "LSTM" else None

    names = ["X", "W", "R", "B", "sequence_lens", "initial_h"] + (["initial_c", "P"] if op == "LSTM" else [])
    feeds = {"X": X, "W": W, "R": R, "B": B_,
             "sequence_lens": np.array(lengths if lengths else [T] * B, dtype=np.int32),
             "initial_h": None if h0 is None else (h0.transpose(1, 0, 2).copy() if layout else h0),
             "initial_c": None if c0 is None else (c0.transpose(1, 0, 2).copy() if layout else c0),
             "P": P}
    inputs = [n if feeds.get(n) is not None else "" for n in names]
    while inputs and inputs[-1] == "":
        inputs.pop()
    attrs = {"hidden_size": H, "direction": direction, "layout": layout}
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    if op == "RNN":
        attrs["activations"] = [activation] * D
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, inputs, outs, **attrs)
    vi = lambda n, a: helper.make_tensor_value_info(n, TensorProto.INT32 if a.dtype == np.int32 else TensorProto.FLOAT, a.shape)
    graph = helper.make_graph([node], name, [vi(n, feeds[n]) for n in inputs if n],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * (4 if o == "Y" else 3))
                               for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    res = sess.run(None, {n: feeds[n] for n in inputs if n})
    Y, Y_h = res[0], res[1]
    # ONNX Y is [T, D, B, H] (layout 1: [B, T, D, H]); ours [T, B, D*H] / [B, T, D*H].
    if layout:
        out = Y.reshape(B, T, D * H)
        Y_h = Y_h.transpose(1, 0, 2)
    else:
        out = Y.transpose(0, 2, 1, 3).reshape(T, B, D * H)
    exp = {"output": out, "h_n": Y_h}
    if op == "LSTM":
        Y_c = res[2].transpose(1, 0, 2) if layout else res[2]
        exp["c_n"] = Y_c
    meta = {"op": op, "hidden_size": str(H), "direction": direction, "layout": str(layout)}
    if op == "GRU":
        meta["linear_before_reset"] = str(lbr)
    if op == "RNN":
        meta["activations"] = activation
    model_t = {"W": W, "R": R}
    if B_ is not None:
        model_t["B"] = B_
    if P is not None:
        model_t["P"] = P
    save(name, "model", model_t, meta)
    inp = {"input": X}
    if h0 is not None:
        inp["h0"] = h0
    if c0 is not None:
        inp["c0"] = c0
    if lengths is not None:
        inp["lengths"] = lengths_tensor(lengths)
    save(name, "input", inp)
    save(name, "expected", {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in exp.items()},
         {"source": "onnxruntime"})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT, f))
    # PyTorch: LSTM (with projection), GRU (reset after), RNN tanh/relu.
    torch_case("torch_lstm_basic", "lstm", 5, 7, states=True, seed=1)
    torch_case("torch_lstm_bi_varlen_proj_2layers", "lstm", 4, 6, L=2, T=9, B=4, bidirectional=True,
               proj=3, lengths=[5, 9, 2, 7], states=True, seed=2)
    torch_case("torch_lstm_batch_first_h0", "lstm", 3, 5, T=6, B=2, batch_first=True, states=True, seed=3)
    torch_case("torch_lstm_no_bias_3layers_normal", "lstm", 2, 4, L=3, T=8, B=2, bias=False, normal=True, seed=4)
    torch_case("torch_lstm_long_normal", "lstm", 3, 8, T=220, B=2, normal=True, seed=5)
    torch_case("torch_lstm_reverse_varlen", "lstm", 3, 5, T=8, B=3, lengths=[8, 3, 5], reverse=True, states=True, seed=6)
    torch_case("torch_lstm_2layers_reverse_varlen_h0", "lstm", 3, 5, L=2, T=8, B=3, lengths=[8, 3, 6],
               reverse=True, states=True, seed=8)
    torch_case("torch_lstm_bi_varlen_batch_first_proj", "lstm", 3, 7, T=7, B=3, bidirectional=True, proj=2,
               batch_first=True, lengths=[2, 7, 4], states=True, seed=7)
    torch_case("torch_gru_basic", "gru", 5, 7, states=True, seed=11)
    torch_case("torch_gru_bi_varlen_2layers", "gru", 3, 5, L=2, T=9, B=4, bidirectional=True,
               lengths=[9, 1, 4, 6], states=True, seed=12)
    torch_case("torch_gru_batch_first_h0_normal", "gru", 4, 6, T=6, B=3, batch_first=True, states=True, normal=True, seed=13)
    torch_case("torch_gru_long", "gru", 2, 9, T=250, B=2, seed=14)
    torch_case("torch_gru_reverse_varlen_batch_first", "gru", 3, 4, T=7, B=3, lengths=[7, 2, 5], reverse=True,
               batch_first=True, seed=15)
    # One-direction stacks of each cell (the layer wavefront runs these).
    torch_case("torch_gru_3layers_varlen_h0", "gru", 4, 6, L=3, T=9, B=3, lengths=[9, 4, 7], states=True, seed=16)
    torch_case("torch_gru_2layers_batch_first_normal", "gru", 3, 5, L=2, T=7, B=2, batch_first=True, normal=True,
               seed=17)
    torch_case("torch_rnn_tanh_bi_varlen_2layers", "rnn", 3, 6, L=2, T=8, B=3, bidirectional=True,
               lengths=[8, 5, 1], states=True, seed=21)
    torch_case("torch_rnn_relu_batch_first", "rnn", 4, 5, T=6, B=2, batch_first=True, nonlinearity="relu", seed=22)
    torch_case("torch_rnn_tanh_long_normal", "rnn", 2, 6, T=200, B=2, normal=True, seed=23)
    torch_case("torch_rnn_relu_2layers_h0", "rnn", 3, 5, L=2, T=8, B=2, nonlinearity="relu", states=True, seed=24)
    torch_case("torch_rnn_tanh_3layers_reverse_varlen", "rnn", 2, 4, L=3, T=7, B=3, lengths=[7, 2, 5], reverse=True,
               seed=25)
    # ONNX Runtime: peephole LSTM, reset-before GRU (lbr=0), lbr=1, RNN.
    onnx_case("onnx_lstm_peephole_bi_varlen", "LSTM", 4, 5, T=8, B=3, direction="bidirectional",
              lengths=[8, 3, 6], states=True, peephole=True, seed=31)
    # (ONNX Runtime's CPU kernels refuse layout=1, so no batch-major ONNX case.)
    onnx_case("onnx_lstm_peephole_reverse", "LSTM", 3, 6, T=6, B=2, direction="reverse",
              peephole=True, states=True, seed=32)
    onnx_case("onnx_lstm_peephole_long", "LSTM", 2, 5, T=210, B=2, peephole=True, seed=33, scale=1.0)
    onnx_case("onnx_gru_lbr0_reverse_varlen", "GRU", 4, 6, T=8, B=3, direction="reverse",
              lengths=[4, 8, 1], states=True, lbr=0, seed=34)
    onnx_case("onnx_gru_lbr0_bi_normal", "GRU", 3, 5, T=7, B=2, direction="bidirectional", lbr=0, seed=35, scale=1.0)
    onnx_case("onnx_gru_lbr0_long", "GRU", 2, 7, T=230, B=2, lbr=0, seed=36)
    onnx_case("onnx_gru_lbr1_varlen_states", "GRU", 5, 4, T=6, B=3, lengths=[6, 2, 4], states=True, lbr=1, seed=37)
    onnx_case("onnx_rnn_relu_bi", "RNN", 3, 4, T=6, B=2, direction="bidirectional", activation="Relu", seed=38)
    onnx_case("onnx_rnn_tanh_no_bias_reverse", "RNN", 3, 5, T=7, B=2, direction="reverse", bias=False, seed=39)
    print(json.dumps(sorted(os.listdir(OUT))))


if __name__ == "__main__":
    main()
