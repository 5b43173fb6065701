#!/usr/bin/env python3
"""Ours against PyTorch on the CPU, measured in one run.

For each configuration of the throughput issue (cell B T I H L) and each
mode, times PyTorch's nn.LSTM / nn.GRU on the CPU (torch.set_num_threads,
default 2) and then `wgpu-rnn bench --json` on the chosen adapter, and prints
a Markdown table of medians and the ratio PyTorch / ours (above 1: ours is
faster). Run from the repository root after `cargo build --release`:

    python3 benches/peers/pytorch_cpu.py [--threads 2] [--reps 5] [--configs S,M] [--csv FILE]

--csv also writes the medians as `peer,config,shape,mode,ms` rows for
`wgpu-rnn plots --peers FILE`.

Train mode is forward + backward of sum(output) with respect to the input
and every parameter, as `bench --mode train` does (its cotangent is the
output itself; the work is the same).
"""

import argparse
import json
import statistics
import subprocess
import time

import torch

CONFIGS = {
    "S": ("lstm", 1, 64, 64, 64, 1),
    "M": ("lstm", 16, 64, 256, 256, 1),
    "L": ("lstm", 64, 32, 512, 512, 1),
    "D": ("lstm", 16, 32, 256, 256, 2),
    "G": ("gru", 16, 64, 256, 256, 1),
}


def time_pytorch(cell, b, t, i, h, layers, mode, reps, warmup):
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](i, h, num_layers=layers)
    x = torch.randn(t, b, i)
    times = []
    for rep in range(warmup + reps):
        start = time.perf_counter()
        if mode == "infer":
            with torch.no_grad():
                module(x)
        else:
            xr = x.clone().requires_grad_(True)
            out, _ = module(xr)
            out.sum().backward()
        elapsed = time.perf_counter() - start
        if rep >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def time_ours(binary, cell, b, t, i, h, layers, mode, reps, warmup):
    cmd = [binary, "bench", "--cell", cell, "--batch", str(b), "--seq", str(t),
           "--input", str(i), "--hidden", str(h), "--layers", str(layers),
           "--mode", mode, "--reps", str(reps), "--warmup", str(warmup), "--json"]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    result = json.loads(line.splitlines()[-1])
    return result["median_s"], result["device"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--modes", default="infer,train")
    p.add_argument("--binary", default="./target/release/wgpu-rnn")
    p.add_argument("--csv", help="also write the medians here (peer,config,shape,mode,ms)")
    args = p.parse_args()
    rows = []
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, CPU, {torch.get_num_threads()} threads")
    print("| config | cell B T I H L | mode | PyTorch CPU | ours | PyTorch / ours |")
    print("|---|---|---|---:|---:|---:|")
    device = None
    for name in args.configs.split(","):
        cell, b, t, i, h, layers = CONFIGS[name]
        for mode in args.modes.split(","):
            theirs = time_pytorch(cell, b, t, i, h, layers, mode, args.reps, args.warmup)
            ours, device = time_ours(args.binary, cell, b, t, i, h, layers, mode, args.reps, args.warmup)
            print(f"| {name} | {cell} {b} {t} {i} {h} {layers} | {mode} | "
                  f"{theirs * 1e3:.1f} ms | {ours * 1e3:.1f} ms | {theirs / ours:.3f} |", flush=True)
            shape = f"{cell} {b} {t} {i} {h} {layers}"
            rows.append(f"pytorch-cpu-{args.threads}t,{name},{shape},{mode},{theirs * 1e3:.4f}")
            rows.append(f"ours,{name},{shape},{mode},{ours * 1e3:.4f}")
    print(f"\nours on: {device}")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("peer,config,shape,mode,ms\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
