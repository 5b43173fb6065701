//! Files in and out: safetensors reading and writing, PyTorch `state_dict`
//! and ONNX weight conversion.

pub mod onnx;
pub mod pytorch;
pub mod tensors;

use crate::config::StackConfig;
use crate::error::Result;
use crate::weights::StackWeights;
use tensors::TensorFile;

/// Whether `file` holds an ONNX operator's weights (`W`/`R` tensors, an
/// `op` metadata key) rather than a PyTorch state_dict.
pub fn is_onnx_operator(file: &TensorFile) -> bool {
    file.metadata.contains_key("op") || file.get("W").is_some()
}

/// Loads a model file: an ONNX operator (see [`onnx::load_onnx_file`]) or a
/// PyTorch state_dict (see [`pytorch::load_state_dict`]).
pub fn load_model(file: &TensorFile) -> Result<StackWeights> {
    if is_onnx_operator(file) {
        onnx::load_onnx_file(file)
    } else {
        pytorch::load_state_dict(file).map(|m| m.weights)
    }
}

/// The module `file` describes (as [`load_model`] reads it), from names,
/// shapes and metadata alone: check it against a device
/// ([`crate::Gpu::check_config`]) before converting any weight.
pub fn model_config(file: &TensorFile) -> Result<StackConfig> {
    if is_onnx_operator(file) {
        onnx::onnx_file_config(file)
    } else {
        pytorch::state_dict_config(file)
    }
}
