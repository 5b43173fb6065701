#!/usr/bin/env python3
"""Streaming latency: ours against PyTorch on the CPU, measured in one run.

For each configuration (cell B I H), times PyTorch's nn.LSTM / nn.GRU run
frame by frame with the state carried (torch.no_grad, torch.set_num_threads,
default 2: median and p99 of one step over --steps steps after a warm-up),
then `wgpu-rnn bench --mode stream --json` on the chosen adapter, and prints
a Markdown table. Run from the repository root after `cargo build --release`:

    python3 benches/peers/pytorch_stream.py [--threads 2] [--steps 2000]
"""

import argparse
import json
import statistics
import subprocess
import time

import torch

CONFIGS = [
    ("lstm", 1, 64, 64),
    ("lstm", 8, 64, 64),
    ("gru", 1, 64, 64),
    ("lstm", 1, 256, 256),
]


def time_pytorch(cell, b, i, h, steps, warmup):
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](i, h)
    x = torch.randn(1, b, i)
    state = None
    times = []
    with torch.no_grad():
        for n in range(warmup + steps):
            start = time.perf_counter()
            _, state = module(x, state)
            elapsed = time.perf_counter() - start
            if n >= warmup:
                times.append(elapsed)
    times.sort()
    return statistics.median(times), times[round((len(times) - 1) * 0.99)]


def time_ours(binary, cell, b, i, h, steps):
    cmd = [binary, "bench", "--mode", "stream", "--cell", cell, "--batch", str(b),
           "--input", str(i), "--hidden", str(h), "--steps", str(steps), "--json"]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    return json.loads(line.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--binary", default="target/release/wgpu-rnn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    us = 1e6
    rows = []
    device = None
    for cell, b, i, h in CONFIGS:
        torch_median, torch_p99 = time_pytorch(cell, b, i, h, args.steps, args.warmup)
        ours = time_ours(args.binary, cell, b, i, h, args.steps)
        device = ours["device"]
        rows.append(
            f"| {cell} | {b} | {i} | {h} "
            f"| {ours['step_median_s'] * us:.0f} / {ours['step_p99_s'] * us:.0f} "
            f"| {ours['chunk8_median_s'] * us:.0f} "
            f"| {ours['workaround_median_s'] * us:.0f} "
            f"| {ours['floor_median_s'] * us:.0f} "
            f"| {torch_median * us:.0f} / {torch_p99 * us:.0f} |"
        )
    print(f"ours on {device}; PyTorch {torch.__version__} CPU, {args.threads} threads; "
          f"{args.steps} steps each, microseconds per step")
    print()
    print("| cell | B | I | H | (a) step p50 / p99 | (b) chunk of 8, per step "
          "| (c) forward T=1 fed back | (d) floor | PyTorch p50 / p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
