//! `wgpu-rnn run` as a user runs it: good files give the reference's numbers
//! (any float dtype in, F32 out); every bad file gives one line naming the
//! tensor and the expected and actual value, a non-zero exit, and no output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use wgpu_rnn::io::pytorch::to_state_dict;
use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
use wgpu_rnn::{reference, CellKind, Direction, GruReset, RnnConfig, StackConfig, StackWeights};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("wgpu-rnn-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, file: &TensorFile) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, file.to_bytes().unwrap()).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `wgpu-rnn run`; returns (success, stderr).
fn run(model: &Path, input: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_wgpu-rnn"))
        .arg("run")
        .arg("--model")
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).trim().to_string(),
    )
}

fn gru_model() -> StackWeights {
    let layer = RnnConfig::new(CellKind::Gru(GruReset::Before), 3, 4).unwrap();
    StackWeights::random(
        StackConfig::new(layer)
            .with_layers(2)
            .with_direction(Direction::Bidirectional),
        3,
        1.0,
    )
    .unwrap()
}

fn input_file(seq: usize, batch: usize, i: usize) -> (TensorFile, Vec<f32>) {
    let x: Vec<f32> = (0..seq * batch * i)
        .map(|n| ((n * 13 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let mut f = TensorFile::default();
    f.tensors
        .insert("input".into(), HostTensor::f32(&[seq, batch, i], &x));
    (f, x)
}

#[test]
fn runs_a_model_and_matches_the_reference() {
    let dir = Dir::new("ok");
    let weights = gru_model();
    let model = dir.write("model.safetensors", &to_state_dict(&weights));
    let (mut input, x) = input_file(5, 2, 3);
    input.tensors.insert(
        "lengths".into(),
        HostTensor {
            shape: vec![2],
            dtype: Dtype::I32,
            values: vec![2.0, 5.0],
        },
    );
    let input = dir.write("input.safetensors", &input);
    let out = dir.path("out.safetensors");
    let (ok, err) = run(&model, &input, &out, &[]);
    assert!(ok, "{err}");
    let got = TensorFile::read(&out).unwrap();
    let want = reference::forward_stack(&weights, &x, 5, 2, None, None, Some(&[2, 5])).unwrap();
    assert_eq!(got.get("output").unwrap().shape, vec![5, 2, 8]);
    assert_eq!(got.get("h_n").unwrap().shape, vec![4, 2, 4]);
    assert!(got.get("c_n").is_none(), "a GRU has no c_n");
    for (name, truth) in [("output", &want.output), ("h_n", &want.h_n)] {
        let g = &got.get(name).unwrap().values;
        let err = g
            .iter()
            .zip(truth)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-5, "{name}: {err:e}");
    }
}

/// Model weights in F64 and the input in F16 and BF16 are accepted and
/// converted; `--batch-first` reads `[B, T, I]`.
#[test]
fn accepts_other_float_dtypes_and_batch_first() {
    let dir = Dir::new("dtypes");
    let weights = gru_model();
    let sd = to_state_dict(&weights);
    // Rewrite the model as F64.
    let f64_bytes: Vec<(String, Vec<usize>, Vec<u8>)> = sd
        .tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.shape.clone(),
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = f64_bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F64, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let model = dir.path("model.safetensors");
    std::fs::write(
        &model,
        safetensors::serialize(views, Some(sd.metadata.clone())).unwrap(),
    )
    .unwrap();

    let (seq, batch) = (4, 3);
    let x: Vec<f32> = (0..seq * batch * 3)
        .map(|n| (n as f32 * 0.37).sin())
        .collect();
    for dtype in [Dtype::F16, Dtype::BF16] {
        // Batch-major values, rounded to the half type.
        let bytes: Vec<u8> = x
            .iter()
            .flat_map(|&v| match dtype {
                Dtype::F16 => half::f16::from_f32(v).to_le_bytes(),
                _ => half::bf16::from_f32(v).to_le_bytes(),
            })
            .collect();
        let view = TensorView::new(dtype, vec![batch, seq, 3], &bytes).unwrap();
        let input = dir.path("input.safetensors");
        std::fs::write(
            &input,
            safetensors::serialize([("input", view)], None::<HashMap<String, String>>).unwrap(),
        )
        .unwrap();
        let out = dir.path("out.safetensors");
        let (ok, err) = run(&model, &input, &out, &["--batch-first"]);
        assert!(ok, "{dtype:?}: {err}");
        let got = TensorFile::read(&out).unwrap();
        assert_eq!(got.get("output").unwrap().shape, vec![batch, seq, 8]);
        let rounded: Vec<f32> = TensorFile::read(&input)
            .unwrap()
            .get("input")
            .unwrap()
            .values
            .iter()
            .map(|&v| v as f32)
            .collect();
        let cfg = weights.config().with_batch_first(true);
        let bf = StackWeights::new(cfg, weights.layers().to_vec()).unwrap();
        let want = reference::forward_stack(&bf, &rounded, seq, batch, None, None, None).unwrap();
        let g = &got.get("output").unwrap().values;
        let err = g
            .iter()
            .zip(&want.output)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-5, "{dtype:?}: {err:e}");
    }
}

/// What is wrong, the model, the input, extra flags, and what the error
/// line must contain.
type BadCase<'a> = (&'a str, TensorFile, TensorFile, Vec<&'a str>, Vec<&'a str>);

/// Each bad file: non-zero exit, one line naming the problem, no output.
#[test]
fn bad_files_give_one_line_errors_and_no_output() {
    let dir = Dir::new("bad");
    let weights = gru_model();
    let good_model = to_state_dict(&weights);
    let (good_input, _) = input_file(5, 2, 3);
    let model_with = |edit: &dyn Fn(&mut TensorFile)| {
        let mut m = good_model.clone();
        edit(&mut m);
        m
    };
    let input_with = |edit: &dyn Fn(&mut TensorFile)| {
        let mut i = good_input.clone();
        edit(&mut i);
        i
    };
    let int = |shape: &[usize], values: &[f64]| HostTensor {
        shape: shape.to_vec(),
        dtype: Dtype::I64,
        values: values.to_vec(),
    };
    let cases: Vec<BadCase> = vec![
        (
            "unknown model tensor",
            model_with(&|m| {
                m.tensors
                    .insert("weight_xx_l0".into(), HostTensor::f32(&[1], &[0.0]));
            }),
            good_input.clone(),
            vec![],
            vec!["weight_xx_l0", "unknown"],
        ),
        (
            "wrong weight shape",
            model_with(&|m| {
                m.tensors.insert(
                    "bias_hh_l1_reverse".into(),
                    HostTensor::f32(&[11], &[0.0; 11]),
                );
            }),
            good_input.clone(),
            vec![],
            vec!["bias_hh_l1_reverse", "[12]", "[11]"],
        ),
        (
            "missing weight",
            model_with(&|m| {
                m.tensors.remove("weight_hh_l1");
            }),
            good_input.clone(),
            vec![],
            vec!["weight_hh_l1", "missing"],
        ),
        (
            "direction contradicts names",
            model_with(&|m| {
                m.metadata.insert("direction".into(), "forward".into());
            }),
            good_input.clone(),
            vec![],
            vec!["direction", "_reverse"],
        ),
        (
            "input of the wrong width",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("input".into(), HostTensor::f32(&[5, 2, 4], &[0.0; 40]));
            }),
            vec![],
            vec!["input", "[5, 2, 3]", "[5, 2, 4]"],
        ),
        (
            "integer input",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("input".into(), int(&[5, 2, 3], &[0.0; 30]));
            }),
            vec![],
            vec!["input", "dtype"],
        ),
        (
            "missing input",
            good_model.clone(),
            input_with(&|i| {
                i.tensors.remove("input");
            }),
            vec![],
            vec!["input", "missing"],
        ),
        (
            "h0 of the wrong shape",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("h0".into(), HostTensor::f32(&[2, 2, 4], &[0.0; 16]));
            }),
            vec![],
            vec!["h0", "[4, 2, 4]", "[2, 2, 4]"],
        ),
        (
            "c0 for a GRU",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("c0".into(), HostTensor::f32(&[4, 2, 4], &[0.0; 32]));
            }),
            vec![],
            vec!["c0", "cell state"],
        ),
        (
            "length zero",
            good_model.clone(),
            input_with(&|i| {
                i.tensors.insert("lengths".into(), int(&[2], &[3.0, 0.0]));
            }),
            vec![],
            vec!["lengths[1] is 0", "1..=5"],
        ),
        (
            "length past T",
            good_model.clone(),
            input_with(&|i| {
                i.tensors.insert("lengths".into(), int(&[2], &[6.0, 1.0]));
            }),
            vec![],
            vec!["lengths[0] is 6"],
        ),
        (
            "float lengths",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("lengths".into(), HostTensor::f32(&[2], &[1.0, 2.0]));
            }),
            vec![],
            vec!["lengths", "I32 or I64"],
        ),
        (
            "NaN input",
            good_model.clone(),
            input_with(&|i| {
                let mut x = vec![0.5f32; 30];
                x[7] = f32::NAN;
                i.tensors
                    .insert("input".into(), HostTensor::f32(&[5, 2, 3], &x));
            }),
            vec![],
            vec!["input[7]", "NaN"],
        ),
        (
            "unknown input tensor",
            good_model.clone(),
            input_with(&|i| {
                i.tensors.insert("hx".into(), HostTensor::f32(&[1], &[0.0]));
            }),
            vec![],
            vec!["hx", "unknown"],
        ),
        (
            "backward with a misshapen cotangent",
            good_model.clone(),
            input_with(&|i| {
                i.tensors
                    .insert("grad_output".into(), HostTensor::f32(&[1], &[0.0]));
            }),
            vec!["--backward"],
            vec!["grad_output", "[1]"],
        ),
    ];
    for (what, model, input, flags, needles) in cases {
        let m = dir.write("model.safetensors", &model);
        let i = dir.write("input.safetensors", &input);
        let out = dir.path("out.safetensors");
        let (ok, err) = run(&m, &i, &out, &flags);
        assert!(!ok, "{what}: expected failure");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
            .collect();
        assert_eq!(lines.len(), 1, "{what}: expected one line, got {err:?}");
        for n in needles {
            assert!(lines[0].contains(n), "{what}: {:?} lacks {n:?}", lines[0]);
        }
        assert!(!out.exists(), "{what}: an output file was written");
    }

    // A truncated model file.
    let m = dir.write("model.safetensors", &good_model);
    let bytes = std::fs::read(&m).unwrap();
    std::fs::write(&m, &bytes[..bytes.len() / 2]).unwrap();
    let i = dir.write("input.safetensors", &good_input);
    let out = dir.path("out.safetensors");
    let (ok, err) = run(&m, &i, &out, &[]);
    assert!(
        !ok && err.contains("model.safetensors") && err.contains("safetensors"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Outputs that overflow (a ReLU RNN with huge finite weights) are still
/// written, exit 0 as PyTorch would, with one warning line naming them.
#[test]
fn non_finite_outputs_are_written_with_a_warning() {
    let dir = Dir::new("overflow");
    let layer = RnnConfig::new(CellKind::Rnn(wgpu_rnn::Nonlinearity::Relu), 3, 4).unwrap();
    let config = StackConfig::new(layer);
    let w = |n: usize| vec![1e20f32; n];
    let weights = StackWeights::new(
        config,
        vec![wgpu_rnn::RnnWeights::new(layer, w(12), w(16), Some(w(4)), Some(w(4)), None).unwrap()],
    )
    .unwrap();
    let model = dir.write("model.safetensors", &to_state_dict(&weights));
    let mut input = TensorFile::default();
    input
        .tensors
        .insert("input".into(), HostTensor::f32(&[3, 1, 3], &[1e20; 9]));
    let input = dir.write("input.safetensors", &input);
    let out = dir.path("out.safetensors");
    let (ok, stderr) = run(&model, &input, &out, &[]);
    assert!(ok, "{stderr}");
    assert!(out.exists());
    assert!(
        stderr.contains("warning")
            && stderr.contains("\"output\"")
            && stderr.contains("non-finite"),
        "{stderr}"
    );
}

#[test]
fn an_out_that_is_an_input_is_refused_and_kept() {
    let dir = Dir::new("overwrite");
    let model = dir.write("model.safetensors", &to_state_dict(&gru_model()));
    let input = dir.write("input.safetensors", &input_file(5, 2, 3).0);
    let (model_bytes, input_bytes) = (
        std::fs::read(&model).unwrap(),
        std::fs::read(&input).unwrap(),
    );
    for out in [&input, &model] {
        let (ok, err) = run(&model, &input, out, &[]);
        assert!(!ok && err.contains("names an input"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes);
    assert_eq!(std::fs::read(&input).unwrap(), input_bytes);
}
