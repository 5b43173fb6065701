//! Property tests in the suite (overflow checks on: the dev profile):
//! mutated model files fed to the loaders give `Ok` or `Err`, never a
//! panic; random shapes, zero sizes and mismatched tensors across the
//! library API give `Err` exactly where they are wrong, never a panic.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};
use safetensors::Dtype;
use wgpu_rnn::io::tensors::{HostTensor, TensorFile};
use wgpu_rnn::io::{load_model, pytorch};
use wgpu_rnn::train::{
    mse_loss, GradMode, Linear, LinearGrads, Optimizer, OptimizerConfig, Seeds, StackGrads,
    TrainOptions,
};
use wgpu_rnn::{
    CellKind, Direction, GpuTensor, GruReset, RnnConfig, RnnStack, StackConfig, StackWeights,
};

/// A runner of `cases` cases from a fixed seed: CI runs the same cases
/// every time (raise `FUZZ_CASES` / `FUZZ_API_CASES` to search further).
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    TestRunner::new_with_rng(config, rng)
}

/// Valid model files of every kind the loaders read: PyTorch state_dicts
/// (LSTM with projection, bidirectional GRU, peephole LSTM) and ONNX
/// operator weights (LSTM with B and P, GRU).
fn valid_files() -> Vec<TensorFile> {
    let state_dict = |config: StackConfig| {
        pytorch::to_state_dict(&StackWeights::random(config, 1, 1.0).unwrap())
    };
    let lstm = RnnConfig::new(CellKind::Lstm, 3, 4)
        .unwrap()
        .with_projection(2)
        .unwrap();
    let gru = RnnConfig::new(CellKind::Gru(GruReset::After), 2, 3).unwrap();
    let peephole = RnnConfig::new(CellKind::PeepholeLstm, 2, 3).unwrap();
    let onnx = |op: &str, gates: usize, peepholes: bool| {
        let (h, i) = (3, 2);
        let mut f = TensorFile::default();
        let t = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            HostTensor::f32(
                shape,
                &(0..n).map(|k| (k % 7) as f32 * 0.1).collect::<Vec<_>>(),
            )
        };
        f.tensors.insert("W".into(), t(&[1, gates * h, i]));
        f.tensors.insert("R".into(), t(&[1, gates * h, h]));
        f.tensors.insert("B".into(), t(&[1, 2 * gates * h]));
        if peepholes {
            f.tensors.insert("P".into(), t(&[1, 3 * h]));
        }
        for (k, v) in [("op", op), ("hidden_size", "3"), ("direction", "forward")] {
            f.metadata.insert(k.into(), v.into());
        }
        f
    };
    vec![
        state_dict(StackConfig::new(lstm).with_layers(2)),
        state_dict(
            StackConfig::new(gru)
                .with_direction(Direction::Bidirectional)
                .with_batch_first(true),
        ),
        state_dict(StackConfig::new(peephole)),
        onnx("LSTM", 4, true),
        onnx("GRU", 3, false),
    ]
}

/// One change to a file's structure, as a hostile or careless writer makes.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set dimension `dim` of tensor `tensor` to `value`.
    Dim {
        tensor: usize,
        dim: usize,
        value: usize,
    },
    /// Drop or add a dimension (of size `value`).
    DropDim {
        tensor: usize,
    },
    AddDim {
        tensor: usize,
        value: usize,
    },
    Remove {
        tensor: usize,
    },
    /// Rename to a state_dict name with any layer index and kind.
    Rename {
        tensor: usize,
        kind: usize,
        layer: u64,
        reverse: bool,
    },
    Dtype {
        tensor: usize,
        dtype: usize,
    },
    /// Put NaN, infinity, a value past f32's range, or zero at `at`.
    Value {
        tensor: usize,
        at: usize,
        value: usize,
    },
    /// Set a metadata key (ONNX op, hidden_size, direction, layout,
    /// linear_before_reset, activations; state_dict batch_first, ...).
    Meta {
        key: usize,
        value: String,
    },
}

const BIG: [usize; 6] = [0, 1, 2, 1 << 20, usize::MAX / 2, usize::MAX];

fn mutation() -> impl Strategy<Value = Mutation> {
    let size = prop_oneof![0usize..8, prop::sample::select(BIG.to_vec())];
    let value_text = prop_oneof![
        Just("18446744073709551615".to_string()),
        Just("-1".to_string()),
        Just("LSTM".to_string()),
        Just("bidirectional".to_string()),
        Just("1".to_string()),
        "[a-z0-9]{0,6}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..4, size.clone()).prop_map(|(tensor, dim, value)| Mutation::Dim {
            tensor,
            dim,
            value
        }),
        any::<usize>().prop_map(|tensor| Mutation::DropDim { tensor }),
        (any::<usize>(), size).prop_map(|(tensor, value)| Mutation::AddDim { tensor, value }),
        any::<usize>().prop_map(|tensor| Mutation::Remove { tensor }),
        (
            any::<usize>(),
            0usize..7,
            prop_oneof![0u64..4, any::<u64>()],
            any::<bool>()
        )
            .prop_map(|(tensor, kind, layer, reverse)| Mutation::Rename {
                tensor,
                kind,
                layer,
                reverse
            }),
        (any::<usize>(), 0usize..5).prop_map(|(tensor, dtype)| Mutation::Dtype { tensor, dtype }),
        (any::<usize>(), any::<usize>(), 0usize..4)
            .prop_map(|(tensor, at, value)| { Mutation::Value { tensor, at, value } }),
        (0usize..9, value_text).prop_map(|(key, value)| Mutation::Meta { key, value }),
    ]
}

fn apply(file: &mut TensorFile, m: &Mutation) {
    let names: Vec<String> = file.tensors.keys().cloned().collect();
    let pick = |i: usize| names.get(i % names.len().max(1)).cloned();
    match m {
        Mutation::Dim { tensor, dim, value } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.get_mut(&n)) {
                if !t.shape.is_empty() {
                    let d = dim % t.shape.len();
                    t.shape[d] = *value;
                }
            }
        }
        Mutation::DropDim { tensor } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.get_mut(&n)) {
                t.shape.pop();
            }
        }
        Mutation::AddDim { tensor, value } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.get_mut(&n)) {
                t.shape.push(*value);
            }
        }
        Mutation::Remove { tensor } => {
            if let Some(n) = pick(*tensor) {
                file.tensors.remove(&n);
            }
        }
        Mutation::Rename {
            tensor,
            kind,
            layer,
            reverse,
        } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.remove(&n)) {
                let kinds = [
                    "weight_ih",
                    "weight_hh",
                    "bias_ih",
                    "bias_hh",
                    "weight_hr",
                    "weight_peephole",
                    "W",
                ];
                let suffix = if *reverse { "_reverse" } else { "" };
                let name = match kinds[*kind % kinds.len()] {
                    "W" => "W".to_string(),
                    k => format!("{k}_l{layer}{suffix}"),
                };
                file.tensors.insert(name, t);
            }
        }
        Mutation::Dtype { tensor, dtype } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.get_mut(&n)) {
                t.dtype = [Dtype::F16, Dtype::BF16, Dtype::F32, Dtype::F64, Dtype::I32][*dtype];
            }
        }
        Mutation::Value { tensor, at, value } => {
            if let Some(t) = pick(*tensor).and_then(|n| file.tensors.get_mut(&n)) {
                if !t.values.is_empty() {
                    let i = at % t.values.len();
                    t.values[i] = [f64::NAN, f64::INFINITY, 1e300, 0.0][*value];
                }
            }
        }
        Mutation::Meta { key, value } => {
            let keys = [
                "op",
                "hidden_size",
                "direction",
                "layout",
                "linear_before_reset",
                "activations",
                "batch_first",
                "bidirectional",
                "num_layers",
            ];
            file.metadata.insert(keys[*key].into(), value.clone());
        }
    }
}

/// Mutated files, structured (shapes, names, dtypes, values, metadata) and
/// as bytes (flips, truncation), through the safetensors parser and every
/// loader: a result, never a panic.
#[test]
fn mutated_model_files_never_panic_the_loaders() {
    let files = valid_files();
    for file in &files {
        load_model(file).expect("the unmutated file loads");
    }
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    let mut runner = runner(cases);
    let outcomes = [
        std::sync::atomic::AtomicUsize::new(0),
        std::sync::atomic::AtomicUsize::new(0),
    ];
    let strategy = (
        0..files.len(),
        prop::collection::vec(mutation(), 1..4),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        prop::option::of(any::<usize>()),
    );
    let start = std::time::Instant::now();
    runner
        .run(&strategy, |(which, mutations, flips, cut)| {
            let mut file = files[which].clone();
            for m in &mutations {
                apply(&mut file, m);
            }
            // The loaders take the structure as it is ...
            outcomes[usize::from(load_model(&file).is_ok())]
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // ... and what a writer of these bytes would hand the parser.
            if let Ok(mut bytes) = files[which].to_bytes() {
                for &(at, byte) in &flips {
                    let i = at % bytes.len();
                    bytes[i] ^= byte | 1;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut % (bytes.len() + 1));
                }
                if let Ok(parsed) = TensorFile::from_bytes("mutated", &bytes) {
                    let _ = load_model(&parsed);
                }
            }
            if let Ok(bytes) = file.to_bytes() {
                if let Ok(parsed) = TensorFile::from_bytes("mutated", &bytes) {
                    let _ = load_model(&parsed);
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{cases} mutated files in {:.2} s: {} loaded, {} refused, no panic",
        start.elapsed().as_secs_f64(),
        outcomes[1].load(std::sync::atomic::Ordering::Relaxed),
        outcomes[0].load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// Random sizes (zero and mismatched ones among them) across the library
/// API: `Err` exactly where a size is wrong, never a panic.
#[test]
fn random_shapes_across_the_api_are_results_not_panics() {
    let gpu = common::gpu();
    let config = StackConfig::new(RnnConfig::new(CellKind::Gru(GruReset::After), 3, 4).unwrap())
        .with_layers(2);
    let stack = RnnStack::new(gpu, &StackWeights::random(config, 5, 1.0).unwrap()).unwrap();
    let head = Linear::random(gpu, (4, 2), 0).unwrap();
    let cases: u32 = std::env::var("FUZZ_API_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let mut runner = runner(cases);
    let dim = prop_oneof![3 => 1usize..4, 1 => Just(0usize), 1 => 4usize..6];
    let start = std::time::Instant::now();
    runner
        .run(
            &(dim.clone(), dim.clone(), dim.clone(), dim.clone(), dim),
            |(t, b, i, ho, o)| {
                let valid = t > 0 && b > 0 && i == 3;
                let x = GpuTensor::zeros(gpu, "x", &[t, b, i]).unwrap();
                let forward = stack.forward(&x, None, None, None);
                prop_assert_eq!(forward.is_ok(), valid, "forward T={} B={} I={}", t, b, i);
                let train = stack.forward_train(&x, None, None, None, TrainOptions::default());
                prop_assert_eq!(
                    train.is_ok(),
                    valid,
                    "forward_train T={} B={} I={}",
                    t,
                    b,
                    i
                );
                if let Ok((out, tape)) = train {
                    // A cotangent of the output's shape or of a random one.
                    let g = GpuTensor::zeros(gpu, "g", &[t, b, ho]).unwrap();
                    let grads = StackGrads::zeros(&stack).unwrap();
                    let seeds = Seeds {
                        output: Some(&g),
                        ..Default::default()
                    };
                    let back = stack.backward(&tape, seeds, &grads, GradMode::Overwrite);
                    prop_assert_eq!(back.is_ok(), ho == 4, "backward Ho={}", ho);
                    let y = head.forward(&out.h_n);
                    prop_assert!(y.is_ok());
                    let target = GpuTensor::zeros(gpu, "t", &[2, b, o]).unwrap();
                    let loss = mse_loss(&y.unwrap(), &target);
                    prop_assert_eq!(loss.is_ok(), o == 2, "mse O={}", o);
                }
                let rows = GpuTensor::zeros(gpu, "rows", &[b, ho]).unwrap();
                let linear = head.forward(&rows);
                prop_assert_eq!(linear.is_ok(), b > 0 && ho == 4, "Linear B={} I={}", b, ho);
                let grads = LinearGrads::zeros(&head).unwrap();
                let dy = GpuTensor::zeros(gpu, "dy", &[b, o]).unwrap();
                let back = head.backward(&rows, &dy, &grads, GradMode::Accumulate);
                prop_assert_eq!(
                    back.is_ok(),
                    b > 0 && ho == 4 && o == 2,
                    "Linear backward B={} I={} O={}",
                    b,
                    ho,
                    o
                );
                let mut sgd = Optimizer::new(gpu, OptimizerConfig::sgd(0.1, 0.0)).unwrap();
                let p = GpuTensor::zeros(gpu, "p", &[t, b]).unwrap();
                let g = GpuTensor::zeros(gpu, "g", &[b, t]).unwrap();
                let added = sgd.add("p", &p, &g);
                prop_assert_eq!(
                    added.is_ok(),
                    t > 0 && b > 0 && t == b,
                    "optimizer {}x{}",
                    t,
                    b
                );
                Ok(())
            },
        )
        .unwrap();
    eprintln!(
        "{cases} random API calls in {:.2} s, no panic",
        start.elapsed().as_secs_f64()
    );
}
