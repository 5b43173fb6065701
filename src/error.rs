//! The one error type of the crate. Every variant carries the values that made
//! the request wrong, so a message can be acted on without a debugger.

use thiserror::Error;

/// Everything that can go wrong in `wgpu-rnn`, from adapter choice to read-back.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// No adapter matched the requested backend / name (or none exists at all).
    #[error("no GPU adapter matches backend {backend:?} and name {name:?}; adapters seen: {seen:?}. On Linux without a GPU install Mesa's software driver: apt-get install mesa-vulkan-drivers libvulkan1")]
    NoAdapter {
        /// The requested backend, if any.
        backend: Option<String>,
        /// The requested adapter name substring, if any.
        name: Option<String>,
        /// Every adapter found, described.
        seen: Vec<String>,
    },

    /// A backend name that is not one of vulkan, metal, dx12, gl.
    #[error("unknown backend {0:?}: expected one of vulkan, metal, dx12, gl")]
    UnknownBackend(String),

    /// The adapter refused to create a device.
    #[error("could not create a device on {adapter}: {reason}")]
    RequestDevice {
        /// The adapter, described.
        adapter: String,
        /// wgpu's message.
        reason: String,
    },

    /// A tensor or weight has the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    Shape {
        /// What was checked.
        what: String,
        /// The shape required.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },

    /// A size that must be positive is zero.
    #[error("{what} must be at least 1, got 0")]
    ZeroSize {
        /// What was zero.
        what: String,
    },

    /// A configuration that is contradictory or unsupported.
    #[error("invalid configuration: {what}: {reason}")]
    Config {
        /// The option or value at fault.
        what: String,
        /// Why it is refused.
        reason: String,
    },

    /// A model or input file that cannot be read as safetensors.
    #[error("{file}: {reason}")]
    File {
        /// The file's path or name.
        file: String,
        /// Why it cannot be read.
        reason: String,
    },

    /// A tensor in a file that is missing, unknown, or of the wrong dtype or
    /// shape for what the file describes.
    #[error("tensor {tensor:?}: {reason}")]
    Tensor {
        /// The tensor's name.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A sequence length outside `1..=T`.
    #[error("lengths[{index}] is {value}, but every length must be in 1..={seq}")]
    Length {
        /// The batch row.
        index: usize,
        /// The length given.
        value: i64,
        /// `T`: the sequence length.
        seq: usize,
    },

    /// A value that is NaN or infinite where finite numbers are required.
    #[error("{what}[{index}] is {value}, but inputs and weights must be finite")]
    NonFinite {
        /// The tensor that was checked.
        what: String,
        /// Flat index of the first non-finite value.
        index: usize,
        /// That value.
        value: f32,
    },

    /// A buffer, binding or dispatch over the device's limits.
    #[error("{what} needs {requested}, over the device limit {limit_name} = {limit}")]
    OverLimit {
        /// What needs the resource.
        what: String,
        /// The amount needed.
        requested: u64,
        /// The name of the limit exceeded.
        limit_name: &'static str,
        /// The device's value of that limit.
        limit: u64,
    },

    /// The device was lost (destroyed, reset by the driver, or gone with
    /// its GPU): nothing more can run on it; make a new [`crate::Gpu`].
    #[error("the GPU device was lost ({reason}): make a new Gpu")]
    DeviceLost {
        /// wgpu's reason and message.
        reason: String,
    },

    /// wgpu reported a validation or out-of-memory error. Bad user input never
    /// gets here (it is checked first); this means a bug or an exhausted device.
    #[error("wgpu error during {during}: {message}")]
    Wgpu {
        /// The operation that failed.
        during: String,
        /// wgpu's message.
        message: String,
    },

    /// Mapping a buffer for read-back failed.
    #[error("reading {what} back from the GPU failed: {reason}")]
    Readback {
        /// What was being read.
        what: String,
        /// Why the read failed.
        reason: String,
    },
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

/// The number of elements of `shape`, refused where it overflows `usize`
/// (in a debug build the product would panic, in a release build wrap to a
/// wrong, smaller size).
pub(crate) fn element_count(what: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| {
            Error::config(
                what,
                format!("shape {shape:?} has more elements than a usize can count"),
            )
        })
}
