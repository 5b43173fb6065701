//! The `wgpu-rnn` command line's engines, as a library so that its tests
//! can call them: `bench` (validated timings; `stream_bench` for `--mode
//! stream`), `run` (a model file on an
//! input file; `run_onnx` for `.onnx` models), `demo` (the long-memory
//! training demo) and `plots` (the speed pictures). `main.rs` parses
//! the arguments and prints.

pub mod bench;
pub mod demo;
pub mod plots;
pub mod run;
pub mod run_onnx;
pub mod stream_bench;

/// `Error::Config` from any two strings: what was wrong and why.
pub(crate) fn config_error(what: impl Into<String>, reason: impl Into<String>) -> wgpu_rnn::Error {
    wgpu_rnn::Error::Config {
        what: what.into(),
        reason: reason.into(),
    }
}

/// `Error::Tensor`: a tensor of an input or model file and what is wrong with it.
pub(crate) fn tensor_error(
    tensor: impl Into<String>,
    reason: impl Into<String>,
) -> wgpu_rnn::Error {
    wgpu_rnn::Error::Tensor {
        tensor: tensor.into(),
        reason: reason.into(),
    }
}
