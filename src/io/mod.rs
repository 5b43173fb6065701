//! Files in and out: safetensors reading and writing, PyTorch `state_dict`
//! and ONNX weight conversion, and the `run` pipeline behind the CLI.

pub mod onnx;
pub mod pytorch;
pub mod run;
pub mod tensors;
