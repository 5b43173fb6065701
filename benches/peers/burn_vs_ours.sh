#!/usr/bin/env bash
# Ours against Burn (0.22, wgpu backend) on the same adapter, measured in one run.
#
# For each configuration (cell B T I H L) and each mode, runs the Burn peer binary
# (benches/peers/burn) and then `wgpu-rnn bench --json`, and prints a Markdown table
# of medians and the ratio Burn / ours (above 1: ours is faster).
#
# Usage: benches/peers/burn_vs_ours.sh [--reps N] [--warmup W] [--configs S,M,...] [--modes infer,train] [--csv FILE]
#        (--csv also writes the medians as peer,config,shape,mode,ms rows for wgpu-rnn plots --peers)
# Env:   BURN_PEER  Burn peer binary   (default /tmp/burn-target/release/burn-peer)
#        WGPU_RNN   our binary         (default <repo>/target/release/wgpu-rnn)
# Build both first; see benches/peers/burn/README.md. gruL is run in infer mode only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
burn_bin="${BURN_PEER:-/tmp/burn-target/release/burn-peer}"
ours_bin="${WGPU_RNN:-$here/../../target/release/wgpu-rnn}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

reps=5
warmup=2
configs="S,M,L,D,G,gruL"
modes="infer,train"
csv=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps) reps="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --configs) configs="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        --csv) csv="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

# name -> "cell B T I H L"
declare -A CONFIGS=(
    [S]="lstm 1 64 64 64 1"
    [M]="lstm 16 64 256 256 1"
    [L]="lstm 64 32 512 512 1"
    [D]="lstm 16 32 256 256 2"
    [G]="gru 16 64 256 256 1"
    [gruL]="gru 64 32 512 512 1"
)

IFS=',' read -r -a config_list <<<"$configs"
IFS=',' read -r -a mode_list <<<"$modes"
for name in "${config_list[@]}"; do
    [[ -n "${CONFIGS[$name]:-}" ]] || { echo "unknown config: $name (known: S M L D G gruL)" >&2; exit 2; }
done
for mode in "${mode_list[@]}"; do
    [[ "$mode" == infer || "$mode" == train ]] || { echo "unknown mode: $mode" >&2; exit 2; }
done
for bin in "$burn_bin" "$ours_bin"; do
    [[ -x "$bin" ]] || { echo "missing binary: $bin (build it first)" >&2; exit 1; }
done

# Prints field $2 of the last JSON line of $1 (other lines are ignored).
json_field() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1].strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

# Runs one benchmark command; prints its stdout, or fails showing its stderr.
run_bench() {
    local err out
    err="$(mktemp)"
    if ! out="$("$@" 2>"$err")"; then
        echo "command failed: $*" >&2
        cat "$err" >&2
        rm -f "$err"
        return 1
    fi
    rm -f "$err"
    printf '%s\n' "$out"
}

burn_device="" burn_version="" ours_device=""
[[ -z "$csv" ]] || echo "peer,config,shape,mode,ms" >"$csv"
echo "| config | cell B T I H L | mode | Burn median ms | ours median ms | Burn/ours |"
echo "|---|---|---|---:|---:|---:|"
for name in "${config_list[@]}"; do
    read -r cell b t i h l <<<"${CONFIGS[$name]}"
    for mode in "${mode_list[@]}"; do
        [[ "$name" == gruL && "$mode" == train ]] && continue
        flags=(--cell "$cell" --batch "$b" --seq "$t" --input "$i" --hidden "$h"
               --layers "$l" --mode "$mode" --warmup "$warmup" --reps "$reps")
        burn_ms="failed" ours_ms="failed" ratio="-"
        if burn_json="$(run_bench "$burn_bin" "${flags[@]}")"; then
            burn_s="$(json_field "$burn_json" median_s)"
            burn_ms="$(awk -v s="$burn_s" 'BEGIN { printf "%.2f", s * 1e3 }')"
            burn_device="$(json_field "$burn_json" device)"
            burn_version="$(json_field "$burn_json" burn_version)"
        fi
        if ours_json="$(run_bench "$ours_bin" bench "${flags[@]}" --json)"; then
            ours_s="$(json_field "$ours_json" median_s)"
            ours_ms="$(awk -v s="$ours_s" 'BEGIN { printf "%.2f", s * 1e3 }')"
            ours_device="$(json_field "$ours_json" device)"
        fi
        if [[ "$burn_ms" != failed && "$ours_ms" != failed ]]; then
            ratio="$(awk -v a="$burn_s" -v b="$ours_s" 'BEGIN { printf "%.2f", a / b }')"
        fi
        echo "| $name | $cell $b $t $i $h $l | $mode | $burn_ms | $ours_ms | $ratio |"
        if [[ -n "$csv" && "$burn_ms" != failed && "$ours_ms" != failed ]]; then
            printf 'burn-%s,%s,%s,%s,%s\nours,%s,%s,%s,%s\n' "${burn_version:-?}" "$name" \
                "$cell $b $t $i $h $l" "$mode" "$burn_ms" "$name" "$cell $b $t $i $h $l" "$mode" "$ours_ms" >>"$csv"
        fi
    done
done
echo
echo "Burn ${burn_version:-?} on: ${burn_device:-?}"
echo "ours on: ${ours_device:-?}"
echo "reps $reps, warmup $warmup; Burn/ours above 1 means ours is faster."
