//! The one error type of the crate. Every variant carries the values that made
//! the request wrong, so a message can be acted on without a debugger.

use thiserror::Error;

/// Everything that can go wrong in `wgpu-rnn`, from adapter choice to read-back.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// No adapter matched the requested backend / name (or none exists at all).
    #[error("no GPU adapter matches backend {backend:?} and name {name:?}; adapters seen: {seen:?}. On Linux without a GPU install Mesa's software driver: apt-get install mesa-vulkan-drivers libvulkan1")]
    NoAdapter {
        backend: Option<String>,
        name: Option<String>,
        seen: Vec<String>,
    },

    /// A backend name that is not one of vulkan, metal, dx12, gl.
    #[error("unknown backend {0:?}: expected one of vulkan, metal, dx12, gl")]
    UnknownBackend(String),

    /// The adapter refused to create a device.
    #[error("could not create a device on {adapter}: {reason}")]
    RequestDevice { adapter: String, reason: String },

    /// A tensor or weight has the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    Shape {
        what: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A size that must be positive is zero.
    #[error("{what} must be at least 1, got 0")]
    ZeroSize { what: String },

    /// A configuration that is contradictory or unsupported.
    #[error("invalid configuration: {what}: {reason}")]
    Config { what: String, reason: String },

    /// A model or input file that cannot be read as safetensors.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },

    /// A tensor in a file that is missing, unknown, or of the wrong dtype or
    /// shape for what the file describes.
    #[error("tensor {tensor:?}: {reason}")]
    Tensor { tensor: String, reason: String },

    /// A sequence length outside `1..=T`.
    #[error("lengths[{index}] is {value}, but every length must be in 1..={seq}")]
    Length {
        index: usize,
        value: i64,
        seq: usize,
    },

    /// A value that is NaN or infinite where finite numbers are required.
    #[error("{what}[{index}] is {value}, but inputs and weights must be finite")]
    NonFinite {
        what: String,
        index: usize,
        value: f32,
    },

    /// A buffer, binding or dispatch over the device's limits.
    #[error("{what} needs {requested}, over the device limit {limit_name} = {limit}")]
    OverLimit {
        what: String,
        requested: u64,
        limit_name: &'static str,
        limit: u64,
    },

    /// wgpu reported a validation or out-of-memory error. Bad user input never
    /// gets here (it is checked first); this means a bug or an exhausted device.
    #[error("wgpu error during {during}: {message}")]
    Wgpu { during: String, message: String },

    /// Mapping a buffer for read-back failed.
    #[error("reading {what} back from the GPU failed: {reason}")]
    Readback { what: String, reason: String },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn shape(what: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_vec(),
            got: got.to_vec(),
        }
    }

    pub(crate) fn tensor(tensor: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Tensor {
            tensor: tensor.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn config(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Returns `NonFinite` for the first NaN or infinity in `data`.
pub(crate) fn check_finite(what: &str, data: &[f32]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
            value: data[index],
        }),
    }
}
