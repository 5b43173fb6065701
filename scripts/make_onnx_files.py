#!/usr/bin/env python3
"""Writes tests/data/onnx: small .onnx models of one LSTM, GRU or RNN node,
their inputs, and ONNX Runtime's outputs, for `cli/tests/onnx_files.rs`.

Per case NAME:
  NAME.onnx                 the model (weights as initializers)
  NAME.input.safetensors    tensors named after the graph's inputs
  NAME.expected.safetensors every graph output, as ONNX Runtime computes it
                            (float32), under its graph name

The weights travel in every storage the loader reads: raw_data, the typed
fields (float_data, double_data, int32_data for float16), and external data
files. ONNX Runtime runs a node in one type, so a case whose weights are
stored as float16 or double is run by ONNX Runtime as the float32 model of
the same (exactly representable) values, then written in that storage.
ONNX Runtime refuses `layout` 1 ("batchwise recurrent operations"): such a
case is run there as its layout-0 twin on the transposed inputs, and the
outputs transposed back (layout 1 is defined as exactly that).

    pip install -r scripts/requirements.txt
    python3 scripts/make_onnx_files.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx")
NEWEST = 22  # the newest opset that changed LSTM, GRU or RNN


def initializer(name, a, storage):
    """A TensorProto of `a` stored as `storage`: raw, typed, float16, double."""
    if storage == "raw":
        return numpy_helper.from_array(a.astype(np.float32), name)
    if storage == "typed":
        return helper.make_tensor(name, TensorProto.FLOAT, a.shape, a.astype(np.float32).ravel().tolist())
    if storage == "float16":
        bits = a.astype(np.float16).view(np.uint16).astype(np.int32).ravel().tolist()
        t = TensorProto(name=name, data_type=TensorProto.FLOAT16, dims=a.shape)
        t.int32_data.extend(bits)
        return t
    if storage == "double":
        return helper.make_tensor(name, TensorProto.DOUBLE, a.shape, a.astype(np.float64).ravel().tolist())
    raise ValueError(storage)


def case(name, op, I, H, T, B, direction="forward", layout=0, lengths=None, h0=False, c0=False,
         peephole=False, bias=True, lbr=0, activations=None, alpha=None, beta=None, clip=None,
         input_forget=False, x_scale=1.0, opset=NEWEST, storage="raw", external=False, outputs=None,
         state_inputs_as_constants=False, seed=0, extra_node=False):
    rng = np.random.default_rng(seed)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    D = 2 if direction == "bidirectional" else 1
    k = 1.0 / H ** 0.5
    u = lambda *s: rng.uniform(-k, k, size=s).astype(np.float32)
    weights = {"W": u(D, G * H, I), "R": u(D, G * H, H)}
    if bias:
        weights["B"] = u(D, 2 * G * H)
    if peephole:
        weights["P"] = u(D, 3 * H)
    if storage == "float16":  # values exactly representable in both types
        weights = {n: w.astype(np.float16).astype(np.float32) for n, w in weights.items()}
    X = (x_scale * rng.standard_normal((B, T, I) if layout else (T, B, I))).astype(np.float32)
    state_shape = (B, D, H) if layout else (D, B, H)
    feeds = {"X": X}
    if lengths is not None:
        feeds["sequence_lens"] = np.array(lengths, dtype=np.int32)
    if h0:
        feeds["initial_h"] = rng.standard_normal(state_shape).astype(np.float32)
    if c0:
        feeds["initial_c"] = rng.standard_normal(state_shape).astype(np.float32)

    slots = ["X", "W", "R", "B", "sequence_lens", "initial_h"] + (["initial_c", "P"] if op == "LSTM" else [])
    bound = [n if (n in feeds or n in weights) else "" for n in slots]
    while bound and bound[-1] == "":
        bound.pop()
    node_outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    wanted = outputs or node_outputs
    node_outputs = [o if o in wanted else "" for o in node_outputs]
    while node_outputs[-1] == "":
        node_outputs.pop()
    attrs = {"hidden_size": H, "direction": direction}
    if opset >= 14:
        attrs["layout"] = layout
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    if activations:
        attrs["activations"] = activations
    if alpha:
        attrs["activation_alpha"] = alpha
    if beta:
        attrs["activation_beta"] = beta
    if clip is not None:
        attrs["clip"] = clip
    if input_forget:
        attrs["input_forget"] = 1
    nodes = [helper.make_node(op, bound, node_outputs, name=f"{op.lower()}_node", **attrs)]
    graph_outputs = list(wanted)
    if extra_node:
        nodes.append(helper.make_node("Neg", ["Y_h"], ["neg_Y_h"], name="after"))
        graph_outputs.append("neg_Y_h")
    constants = {n: v for n, v in feeds.items() if n != "X" and state_inputs_as_constants}
    run_inputs = {n: v for n, v in feeds.items() if n not in constants}

    def vi(n, a):
        ty = TensorProto.INT32 if a.dtype == np.int32 else TensorProto.FLOAT
        return helper.make_tensor_value_info(n, ty, a.shape)

    def out_vi(o):
        rank = 4 if o == "Y" else 3
        return helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * rank)

    def model_of(store, layout_attr=layout):
        for n in nodes[:1]:
            for a in n.attribute:
                if a.name == "layout":
                    a.i = layout_attr
        inits = [initializer(n, w, store) for n, w in weights.items()]
        inits += [numpy_helper.from_array(v, n) for n, v in constants.items()]
        g = helper.make_graph(nodes, name, [vi(n, v) for n, v in run_inputs.items()],
                              [out_vi(o) for o in graph_outputs], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 7 if opset < 14 else 8
        return m

    # ONNX Runtime runs layout 0 only: the twin on transposed inputs.
    to_layout0 = {"X": (1, 0, 2), "initial_h": (1, 0, 2), "initial_c": (1, 0, 2)}
    from_layout0 = {"Y": (2, 0, 1, 3), "Y_h": (1, 0, 2), "Y_c": (1, 0, 2)}
    reference = model_of("raw", layout_attr=0)
    onnx.checker.check_model(reference)
    ref_inputs = {n: (v.transpose(to_layout0[n]).copy() if layout and n in to_layout0 and n not in constants else v)
                  for n, v in run_inputs.items()}
    if layout:
        assert not constants, "constant states with layout 1 are not transposed here"
        ref_graph = reference.graph
        for v in ref_graph.input:
            if v.name in to_layout0:
                dims = v.type.tensor_type.shape.dim
                dims[0].dim_value, dims[1].dim_value = dims[1].dim_value, dims[0].dim_value
    def run(m):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return dict(zip(graph_outputs, sess.run(graph_outputs, ref_inputs)))

    results = run(reference)
    if clip is not None:
        # The clip must bite: without it ONNX Runtime computes otherwise.
        unclipped = onnx.ModelProto()
        unclipped.CopyFrom(reference)
        a = unclipped.graph.node[0].attribute
        a.remove(next(x for x in a if x.name == "clip"))
        moved = max(np.abs(results[o] - v).max() for o, v in run(unclipped).items())
        assert moved > 1e-2, f"{name}: the clip never bites ({moved})"

    if layout:
        results = {n: (v.transpose(from_layout0[n]) if n in from_layout0 else v) for n, v in results.items()}

    model = model_of(storage)
    if storage in ("raw", "typed"):
        onnx.checker.check_model(model)
    path = os.path.join(OUT, f"{name}.onnx")
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{name}.weights", size_threshold=0)
    else:
        onnx.save_model(model, path)
    save_file(run_inputs, os.path.join(OUT, f"{name}.input.safetensors"))
    save_file({n: np.ascontiguousarray(v, dtype=np.float32) for n, v in results.items()},
              os.path.join(OUT, f"{name}.expected.safetensors"), {"source": f"onnxruntime {ort.__version__}"})


def torch_case(name, cls, I, H, T, B, num_layers, bidirectional=False, batch_first=False, states=False,
               seed=0, opset=14, **kw):
    """A whole nn.LSTM / nn.GRU / nn.RNN as torch.onnx.export writes it (the
    TorchScript exporter: recurrent nodes joined by Transpose, Reshape,
    Squeeze, Concat, Slice, and zero states built by Shape, Gather,
    Unsqueeze, Concat, Expand), with ONNX Runtime's outputs; PyTorch's own
    outputs must agree with them."""
    import torch

    torch.manual_seed(seed)
    m = cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kw).eval()
    D = 2 if bidirectional else 1
    x = torch.randn((B, T, I) if batch_first else (T, B, I))
    lstm = cls is torch.nn.LSTM
    args, in_names = (x,), ["input"]
    if states:
        h0 = torch.randn(num_layers * D, B, H)
        if lstm:
            c0 = torch.randn(num_layers * D, B, H)
            args, in_names = (x, (h0, c0)), ["input", "h0", "c0"]
        else:
            args, in_names = (x, h0), ["input", "h0"]
    out_names = ["output", "h_n"] + (["c_n"] if lstm else [])
    path = os.path.join(OUT, f"{name}.onnx")
    torch.onnx.export(m, args, path, dynamo=False, input_names=in_names, output_names=out_names,
                      opset_version=opset)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    with torch.no_grad():
        theirs = m(*args)
    flat = [theirs[0]] + (list(theirs[1]) if lstm else [theirs[1]])
    feeds = {n: a.numpy() for n, a in zip(in_names, [x] + ([h0, c0] if lstm else [h0]) if states else [x])}
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = dict(zip(out_names, sess.run(out_names, feeds)))
    for n, t in zip(out_names, flat):
        assert np.abs(results[n] - t.numpy()).max() < 1e-5, f"{name}: ORT and PyTorch disagree on {n}"
    save_file(feeds, os.path.join(OUT, f"{name}.input.safetensors"))
    save_file({n: np.ascontiguousarray(v, dtype=np.float32) for n, v in results.items()},
              os.path.join(OUT, f"{name}.expected.safetensors"),
              {"source": f"onnxruntime {ort.__version__}, torch {torch.__version__}"})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    # LSTM: every input, peepholes, ragged rows, states; newest opset.
    case("lstm_forward_all_inputs", "LSTM", 3, 4, T=5, B=3, lengths=[5, 2, 4], h0=True, c0=True,
         peephole=True, seed=1)
    case("lstm_bidirectional_layout1", "LSTM", 4, 5, T=6, B=2, direction="bidirectional", layout=1,
         h0=True, c0=True, seed=2)
    case("lstm_reverse_only_y_h_constant_states", "LSTM", 2, 3, T=4, B=2, direction="reverse",
         h0=True, c0=True, outputs=["Y_h"], state_inputs_as_constants=True, seed=3)
    case("lstm_default_activations_opset7", "LSTM", 3, 4, T=5, B=2, opset=7, storage="typed",
         activations=["Sigmoid", "Tanh", "Tanh"], seed=4)
    # GRU: both reset placements, both layouts, missing optional inputs.
    case("gru_reverse_lbr1_float16", "GRU", 3, 4, T=6, B=3, direction="reverse", lbr=1,
         lengths=[6, 3, 1], storage="float16", seed=5)
    case("gru_bidirectional_lbr0_layout1_h0", "GRU", 4, 3, T=5, B=2, direction="bidirectional",
         layout=1, h0=True, lengths=[5, 2], seed=6)
    case("gru_no_bias_opset7", "GRU", 3, 5, T=4, B=2, bias=False, lbr=0, h0=True, opset=7, seed=7)
    # RNN: relu in both directions with external data; tanh weights as double.
    case("rnn_relu_bidirectional_external", "RNN", 3, 4, T=5, B=2, direction="bidirectional",
         activations=["Relu", "Relu"], external=True, seed=8)
    case("rnn_tanh_double", "RNN", 2, 5, T=7, B=3, storage="double", lengths=[7, 1, 4], seed=9)
    # ONNX's options: every activation function with non-default alpha/beta
    # (consumed in function order), per direction; clip with inputs large
    # enough that it bites; input_forget (with peepholes).
    case("lstm_activations_clip_bidirectional", "LSTM", 3, 4, T=6, B=3, direction="bidirectional",
         activations=["HardSigmoid", "Softsign", "ScaledTanh", "Sigmoid", "Elu", "Affine"],
         alpha=[0.3, 1.5, 0.8, 0.7], beta=[0.45, 0.6, -0.3], clip=0.9, x_scale=4.0,
         lengths=[6, 2, 5], h0=True, c0=True, peephole=True, seed=11)
    case("lstm_input_forget_clip_peephole", "LSTM", 3, 5, T=7, B=2, input_forget=True, clip=1.1,
         x_scale=4.0, peephole=True, h0=True, c0=True, seed=12)
    case("gru_activations_clip_layout1", "GRU", 4, 3, T=5, B=2, direction="bidirectional", lbr=1,
         layout=1, activations=["Softsign", "LeakyRelu", "HardSigmoid", "ThresholdedRelu"],
         alpha=[0.1, 0.25, 0.2], beta=[0.55], clip=0.8, x_scale=4.0, lengths=[5, 3], seed=13)
    case("gru_lbr0_relu_softplus_reverse", "GRU", 3, 4, T=6, B=3, direction="reverse", lbr=0,
         activations=["Relu", "Softplus"], clip=1.5, x_scale=4.0, h0=True, seed=14)
    case("rnn_elu_softplus_clip_bidirectional", "RNN", 3, 4, T=6, B=2,
         direction="bidirectional", activations=["Elu", "Softplus"], alpha=[1.3], clip=1.2,
         x_scale=4.0, lengths=[6, 4], seed=15)
    case("rnn_affine_opset7", "RNN", 2, 3, T=5, B=2, activations=["Affine"], alpha=[0.7],
         beta=[-0.3], opset=7, seed=16)
    # torch.onnx.export of whole modules: 2-3 layers, bidirectional,
    # batch-first, with and without state inputs.
    import torch
    torch_case("torch_lstm_2layers_bidirectional_batch_first", torch.nn.LSTM, 3, 4, T=5, B=2,
               num_layers=2, bidirectional=True, batch_first=True, seed=20)
    torch_case("torch_lstm_3layers_bidirectional_states", torch.nn.LSTM, 4, 3, T=6, B=3,
               num_layers=3, bidirectional=True, states=True, seed=21)
    torch_case("torch_gru_3layers", torch.nn.GRU, 3, 5, T=4, B=2, num_layers=3, seed=22)
    torch_case("torch_gru_2layers_batch_first_states", torch.nn.GRU, 2, 4, T=5, B=3, num_layers=2,
               batch_first=True, states=True, seed=23, opset=17)
    torch_case("torch_rnn_relu_2layers_bidirectional_batch_first_states", torch.nn.RNN, 3, 4, T=5,
               B=2, num_layers=2, bidirectional=True, batch_first=True, states=True,
               nonlinearity="relu", seed=24)
    # The rest of operator x direction x layout, at awkward sizes (1 and 3),
    # three of them with inputs up to 1e4 that saturate every gate.
    for k, (op, direction, layout) in enumerate([
            ("LSTM", "forward", 1), ("LSTM", "reverse", 1),
            ("GRU", "forward", 1), ("GRU", "reverse", 1), ("GRU", "bidirectional", 0),
            ("RNN", "reverse", 0), ("RNN", "forward", 1), ("RNN", "reverse", 1),
            ("RNN", "bidirectional", 1)]):
        I, H, T, B = [(1, 3, 3, 3), (3, 1, 1, 3), (3, 3, 3, 1)][k % 3]
        lengths = [T, 1, max(1, T - 1)][:B] if B == 3 else None
        case(f"{op.lower()}_{direction}_layout{layout}", op, I, H, T=T, B=B, direction=direction,
             layout=layout, lengths=lengths, h0=True, c0=op == "LSTM", lbr=k % 2,
             x_scale=1e4 if k in (1, 4, 5) else 1.0, seed=30 + k)  # some saturate
    # A graph with one more node: `load` refuses it, `load_node` reads the LSTM.
    case("lstm_then_neg", "LSTM", 3, 4, T=3, B=2, extra_node=True, seed=10)


if __name__ == "__main__":
    main()
