//! `wgpu-rnn bench`, as the tools outside this repository call it: one JSON
//! line with the contract's keys, the training profile's kernel families,
//! and a one-line error for bad sizes.

use std::process::Command;

use serde_json::Value;

/// Runs `wgpu-rnn bench ARGS`; returns (success, stdout, stderr).
fn bench(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
        .arg("bench")
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
        String::from_utf8_lossy(&o.stderr).trim().to_string(),
    )
}

const SMALL: [&str; 14] = [
    "--batch", "2", "--seq", "3", "--input", "3", "--hidden", "5", "--reps", "2", "--warmup", "0",
    "--layers", "2",
];

#[test]
fn json_is_one_line_with_the_contract_keys() {
    for (cell, mode) in [("lstm", "infer"), ("gru", "train"), ("rnn", "infer")] {
        let mut args = vec!["--cell", cell, "--mode", mode, "--json"];
        args.extend(SMALL);
        let (ok, out, err) = bench(&args);
        assert!(ok, "{cell} {mode}: {err}");
        assert_eq!(out.lines().count(), 1, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        for key in [
            "cell", "B", "T", "I", "H", "L", "mode", "median_s", "min_s", "reps", "device",
        ] {
            assert!(v.get(key).is_some(), "{cell} {mode}: no {key} in {out}");
        }
        assert_eq!(v["cell"], cell);
        assert_eq!(v["mode"], mode);
        assert_eq!((v["B"].as_u64(), v["T"].as_u64()), (Some(2), Some(3)));
        assert_eq!((v["I"].as_u64(), v["H"].as_u64()), (Some(3), Some(5)));
        assert_eq!((v["L"].as_u64(), v["reps"].as_u64()), (Some(2), Some(2)));
        let (median, min) = (
            v["median_s"].as_f64().unwrap(),
            v["min_s"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= median, "{out}");
        assert!(v["profile_s"].is_null(), "{out}");
    }
}

#[test]
fn training_profile_has_the_backward_families() {
    let mut args = vec!["--cell", "lstm", "--mode", "train", "--json", "--profile"];
    args.extend(SMALL);
    let (ok, out, err) = bench(&args);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let profile = v["profile_s"]
        .as_object()
        .unwrap_or_else(|| panic!("{out}"));
    for family in [
        "input GEMM",
        "step kernels",
        "backward steps",
        "backward GEMMs",
        "reductions",
    ] {
        let seconds = profile.get(family).and_then(Value::as_f64);
        assert!(seconds.is_some_and(|s| s > 0.0), "no {family} in {out}");
    }
}

#[test]
fn bad_sizes_give_a_one_line_error() {
    for bad in [["--batch", "0"], ["--hidden", "0"], ["--layers", "0"]] {
        let mut args = vec!["--cell", "lstm", "--json"];
        args.extend(bad);
        let (ok, out, err) = bench(&args);
        assert!(!ok, "{bad:?} was accepted: {out}");
        assert!(out.is_empty(), "{bad:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.starts_with("error:"), "{bad:?}: {err}");
    }
}
