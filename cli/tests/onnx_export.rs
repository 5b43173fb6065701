//! `io::onnx::to_onnx_bytes` / `wgpu-rnn export` against what
//! `scripts/check_onnx_export.py` checked: the exporter still writes the
//! exact files that passed `onnx.checker` (full check) and ran in ONNX
//! Runtime; our own run of each model matches ONNX Runtime's outputs of the
//! file; our loader reads every node back to the module's weights.

mod common;

use std::path::{Path, PathBuf};

use common::gpu;
use safetensors::Dtype;
use wgpu_rnn::io::load_model;
use wgpu_rnn::io::onnx::{load, load_node, to_onnx_bytes, ExportOptions, OnnxModel};
use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
use wgpu_rnn::Error;
use wgpu_rnn_cli::run::run_forward;
use wgpu_rnn_cli::run_onnx::run_onnx;

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(dir)
}

fn golden(case: &str, kind: &str) -> TensorFile {
    TensorFile::read(&data("golden").join(format!("{case}.{kind}.safetensors"))).unwrap()
}

const OPTIONS: ExportOptions = ExportOptions {
    initial_states: true,
    sequence_lens: true,
};

fn check(case: &str, what: &str, ours: &[f64], ort: &[f64]) -> f64 {
    assert_eq!(ours.len(), ort.len(), "{case}: {what} length");
    let mut worst = 0.0f64;
    for (i, (a, b)) in ours.iter().zip(ort).enumerate() {
        let err = (a - b).abs();
        assert!(
            err <= 2e-5 + 2e-5 * b.abs(),
            "{case}: {what}[{i}] = {a}, ONNX Runtime {b}"
        );
        worst = worst.max(err);
    }
    worst
}

/// `input` with the export's other graph inputs where it lacks them, as
/// `scripts/check_onnx_export.py` fed ONNX Runtime: zero states and whole
/// sequences.
fn feed_as_the_script_does(model: &OnnxModel, input: &TensorFile) -> TensorFile {
    let x = &input.tensors["X"];
    let (seq, batch) = (x.shape[0], x.shape[1]);
    let cfg = model.node.weights.config();
    let (dirs, h) = (cfg.directions(), cfg.layer.hidden_size);
    let mut feed = input.clone();
    let zeros = HostTensor::f32(&[dirs, batch, h], &vec![0.0; dirs * batch * h]);
    for name in &model.inputs {
        let value = match name.as_str() {
            "X" => continue,
            "sequence_lens" => HostTensor {
                dtype: Dtype::I32,
                ..HostTensor::f32(&[batch], &vec![seq as f32; batch])
            },
            "initial_h" | "initial_c" => zeros.clone(),
            other => panic!("an export has no graph input {other:?}"),
        };
        feed.tensors.entry(name.clone()).or_insert(value);
    }
    feed
}

#[test]
fn exported_files_are_unchanged_run_as_in_onnx_runtime_and_load_back() {
    let mut cases: Vec<String> = std::fs::read_dir(data("onnx_export"))
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".onnx").map(str::to_string)
        })
        .collect();
    cases.sort();
    let (options, cases): (Vec<String>, Vec<String>) =
        cases.into_iter().partition(|c| c.starts_with("options_"));
    assert!(cases.len() >= 8, "{cases:?}");
    assert!(options.len() >= 5, "{options:?}");
    for case in options {
        options_case(&case);
    }
    for case in cases {
        let path = data("onnx_export").join(format!("{case}.onnx"));
        let model = golden(&case, "model");
        let weights = load_model(&model).unwrap();
        let bytes = to_onnx_bytes(&weights, OPTIONS).unwrap();
        assert!(
            bytes == std::fs::read(&path).unwrap(),
            "{case}: the exporter no longer writes the checked file; rerun scripts/check_onnx_export.py"
        );

        // Our run against ONNX Runtime's run of the exported file.
        let cfg = *weights.config();
        let ours = run_forward(gpu(), &model, &golden(&case, "input"), None, false).unwrap();
        let ort =
            TensorFile::read(&data("onnx_export").join(format!("{case}.ort.safetensors"))).unwrap();
        let y = &ort.tensors["Y"];
        let out = &ours.tensors["output"].values;
        let y_ours: Vec<f64> = if cfg.batch_first {
            out.clone()
        } else {
            // ours [T, B, D, H] -> ONNX [T, D, B, H]
            let &[t, d, b, h] = y.shape.as_slice() else {
                panic!("{case}: Y shape {:?}", y.shape)
            };
            let mut v = Vec::with_capacity(out.len());
            for ti in 0..t {
                for di in 0..d {
                    for bi in 0..b {
                        v.extend_from_slice(&out[((ti * b + bi) * d + di) * h..][..h]);
                    }
                }
            }
            v
        };
        let mut worst = check(&case, "Y", &y_ours, &y.values);
        worst = worst.max(check(
            &case,
            "Y_h",
            &ours.tensors["h_n"].values,
            &ort.tensors["Y_h"].values,
        ));
        if let Some(c) = ours.tensors.get("c_n") {
            worst = worst.max(check(&case, "Y_c", &c.values, &ort.tensors["Y_c"].values));
        }
        eprintln!("{case}: worst |ours - ONNX Runtime on our export| = {worst:.1e}");

        // Every node reads back to the module's weights, bit for bit.
        for l in 0..cfg.num_layers {
            let node = load_node(&path, &format!("layer{l}")).unwrap();
            for d in 0..cfg.directions() {
                let (a, b) = (node.weights.layer(0, d), weights.layer(l, d));
                assert_eq!(a.weight_ih(), b.weight_ih(), "{case} layer {l}");
                assert_eq!(a.weight_hh(), b.weight_hh(), "{case} layer {l}");
                assert_eq!(a.bias_ih(), b.bias_ih(), "{case} layer {l}");
                assert_eq!(a.bias_hh(), b.bias_hh(), "{case} layer {l}");
                assert_eq!(a.peephole(), b.peephole(), "{case} layer {l}");
                assert_eq!(a.config(), b.config(), "{case} layer {l}");
            }
        }
        // A one-layer time-major export is one node: it runs as a whole.
        if cfg.num_layers == 1 && !cfg.batch_first {
            let model = load(&path).unwrap();
            assert_eq!(model.outputs[..2], ["Y", "Y_h"]);
            let mut input = TensorFile::default();
            let gin = golden(&case, "input");
            input
                .tensors
                .insert("X".into(), gin.tensors["input"].clone());
            // initial_h and sequence_lens are graph inputs: required, as
            // ONNX Runtime requires them, and named when missing.
            match run_onnx(gpu(), &model, &input) {
                Err(Error::Tensor { tensor, reason }) => {
                    assert_eq!(tensor, model.inputs[1], "{reason}");
                    assert!(reason.contains("initial_h"), "{reason}");
                }
                other => panic!("{case}: expected the missing inputs named, got {other:?}"),
            }
            let input = feed_as_the_script_does(&model, &input);
            let ours = run_onnx(gpu(), &model, &input).unwrap();
            let x = &input.tensors["X"];
            let (seq, batch, h) = (x.shape[0], x.shape[1], cfg.layer.hidden_size);
            assert_eq!(ours.tensors["Y"].shape, [seq, cfg.directions(), batch, h]);
        }
    }
}

/// An .onnx file with the cell options (`tests/data/onnx`), exported
/// again: the same bytes as checked, our run of the export equals ONNX
/// Runtime's, and its node reads back to the same weights and options.
fn options_case(case: &str) {
    let name = case.strip_prefix("options_").unwrap();
    let source = load(&data("onnx").join(format!("{name}.onnx"))).unwrap();
    let weights = &source.node.weights;
    let path = data("onnx_export").join(format!("{case}.onnx"));
    let bytes = to_onnx_bytes(weights, OPTIONS).unwrap();
    assert!(
        bytes == std::fs::read(&path).unwrap(),
        "{case}: the exporter no longer writes the checked file; rerun scripts/check_onnx_export.py"
    );
    let exported = load(&path).unwrap();
    let input = TensorFile::read(&data("onnx").join(format!("{name}.input.safetensors"))).unwrap();
    let input = feed_as_the_script_does(&exported, &input);
    let ours = run_onnx(gpu(), &exported, &input).unwrap();
    let ort =
        TensorFile::read(&data("onnx_export").join(format!("{case}.ort.safetensors"))).unwrap();
    let mut worst: f64 = 0.0;
    for (what, want) in &ort.tensors {
        let got = &ours.tensors[what];
        assert_eq!(got.shape, want.shape, "{case} {what}");
        worst = worst.max(check(case, what, &got.values, &want.values));
    }
    eprintln!("{case}: worst |ours - ONNX Runtime on our export| = {worst:.1e}");
    let config = weights.config();
    assert!(!config.layer.options.is_plain(), "{case}: no options");
    assert_eq!(exported.node.weights.config(), config, "{case}");
    for d in 0..config.directions() {
        assert_eq!(
            exported.node.weights.layer(0, d),
            weights.layer(0, d),
            "{case}"
        );
    }
}

#[test]
fn a_projected_lstm_has_no_onnx_form() {
    let weights = load_model(&golden("torch_lstm_bi_varlen_proj_2layers", "model")).unwrap();
    match to_onnx_bytes(&weights, ExportOptions::default()) {
        Err(Error::Config { reason, .. }) => assert!(reason.contains("projection"), "{reason}"),
        other => panic!("{:?}", other.map(|b| b.len())),
    }
}

#[test]
fn wgpu_rnn_export_writes_the_file_or_one_line_and_nothing() {
    let dir = std::env::temp_dir().join(format!("wgpu-rnn-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("m.onnx");
    let export = |case: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
            .args(["export", "--initial-states", "--sequence-lens", "--model"])
            .arg(data("golden").join(format!("{case}.model.safetensors")))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let case = "torch_gru_bi_varlen_2layers";
    let o = export(case);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(data("onnx_export").join(format!("{case}.onnx"))).unwrap()
    );
    std::fs::remove_file(&out).unwrap();
    let o = export("torch_lstm_bi_varlen_proj_2layers");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists());

    // An .onnx model exports again; an --out that is the model is refused
    // and the model kept.
    let source = dir.join("source.onnx");
    let options = data("onnx_export").join("options_lstm_input_forget_clip_peephole.onnx");
    std::fs::copy(&options, &source).unwrap();
    let export_onnx = |to: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
            .args(["export", "--initial-states", "--sequence-lens", "--model"])
            .arg(&source)
            .arg("--out")
            .arg(to)
            .output()
            .unwrap()
    };
    let o = export_onnx(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&options).unwrap()
    );
    let o = export_onnx(&dir.join(".").join("source.onnx"));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("names an input"), "{err}");
    assert_eq!(
        std::fs::read(&source).unwrap(),
        std::fs::read(&options).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
