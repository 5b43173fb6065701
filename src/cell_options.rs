//! The options of a cell beyond PyTorch's, as ONNX's recurrent operators
//! define them: other activation functions ([`Activation`], with their
//! `alpha`/`beta`), cell clipping and the LSTM's coupled input-forget gate
//! ([`CellOptions`]). All off by default; a cell with none set runs exactly
//! its plain kernels (the options are override constants of the shaders,
//! see `shaders/common/activations.wgsl`).

use std::hash::{Hash, Hasher};

use crate::error::{Error, Result};

/// The logistic function `1 / (1 + e^-x)`, computed without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// An activation function of ONNX's `LSTM`, `GRU` and `RNN` operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `alpha*x + beta`.
    Affine {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `x` for `x >= 0`, else `alpha*x`.
    LeakyRelu {
        /// Slope below 0.
        alpha: f32,
    },
    /// `x` for `x > alpha`, else 0.
    ThresholdedRelu {
        /// Threshold.
        alpha: f32,
    },
    /// `alpha*tanh(beta*x)`.
    ScaledTanh {
        /// Output scale.
        alpha: f32,
        /// Input scale.
        beta: f32,
    },
    /// `min(max(alpha*x + beta, 0), 1)`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `x` for `x >= 0`, else `alpha*(e^x - 1)`.
    Elu {
        /// Scale of the negative side.
        alpha: f32,
    },
    /// `x / (1 + |x|)`.
    Softsign,
    /// `ln(1 + e^x)`.
    Softplus,
}

impl Eq for Activation {}

impl Hash for Activation {
    fn hash<S: Hasher>(&self, state: &mut S) {
        self.code().hash(state);
        // + 0.0 makes -0.0 hash as 0.0, which it equals.
        let (alpha, beta) = self.parameters();
        (alpha + 0.0).to_bits().hash(state);
        (beta + 0.0).to_bits().hash(state);
    }
}

impl Activation {
    /// The ONNX name (the `activations` attribute's spelling).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::Affine { .. } => "Affine",
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::ThresholdedRelu { .. } => "ThresholdedRelu",
            Activation::ScaledTanh { .. } => "ScaledTanh",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::Elu { .. } => "Elu",
            Activation::Softsign => "Softsign",
            Activation::Softplus => "Softplus",
        }
    }

    /// How many of `activation_alpha` and `activation_beta` the function
    /// takes (ONNX consumes the lists in function order, each function
    /// taking only what it uses).
    pub fn parameter_count(name: &str) -> Option<(usize, usize)> {
        Some(match name {
            "Relu" | "Tanh" | "Sigmoid" | "Softsign" | "Softplus" => (0, 0),
            "LeakyRelu" | "ThresholdedRelu" | "Elu" => (1, 0),
            "Affine" | "ScaledTanh" | "HardSigmoid" => (1, 1),
            _ => return None,
        })
    }

    /// The function ONNX names `name`, with `alpha` and `beta` where it
    /// takes them. A missing one takes the default of the ONNX operator of
    /// that name (LeakyRelu 0.01, ThresholdedRelu 1, HardSigmoid 0.2 and
    /// 0.5, Elu 1), as the recurrent operators' spec says; ONNX Runtime
    /// alone reads a missing ThresholdedRelu alpha as 0. Affine and
    /// ScaledTanh have no defaults, so need both.
    pub fn from_onnx(name: &str, alpha: Option<f32>, beta: Option<f32>) -> Result<Self> {
        let need = |v: Option<f32>, which: &str| {
            v.ok_or_else(|| {
                Error::config(
                    "activations",
                    format!("{name} needs its {which}: ONNX gives it no default"),
                )
            })
        };
        let activation = match name {
            "Relu" => Activation::Relu,
            "Tanh" => Activation::Tanh,
            "Sigmoid" => Activation::Sigmoid,
            "Softsign" => Activation::Softsign,
            "Softplus" => Activation::Softplus,
            "Affine" => Activation::Affine {
                alpha: need(alpha, "alpha")?,
                beta: need(beta, "beta")?,
            },
            "ScaledTanh" => Activation::ScaledTanh {
                alpha: need(alpha, "alpha")?,
                beta: need(beta, "beta")?,
            },
            "LeakyRelu" => Activation::LeakyRelu {
                alpha: alpha.unwrap_or(0.01),
            },
            "ThresholdedRelu" => Activation::ThresholdedRelu {
                alpha: alpha.unwrap_or(1.0),
            },
            "HardSigmoid" => Activation::HardSigmoid {
                alpha: alpha.unwrap_or(0.2),
                beta: beta.unwrap_or(0.5),
            },
            "Elu" => Activation::Elu {
                alpha: alpha.unwrap_or(1.0),
            },
            other => {
                return Err(Error::config(
                    "activations",
                    format!(
                        "{other:?} is not an activation function of the ONNX recurrent operators"
                    ),
                ))
            }
        };
        activation.validated()
    }

    /// `(alpha, beta)`, 0 where the function takes none.
    pub fn parameters(self) -> (f32, f32) {
        match self {
            Activation::Affine { alpha, beta }
            | Activation::ScaledTanh { alpha, beta }
            | Activation::HardSigmoid { alpha, beta } => (alpha, beta),
            Activation::LeakyRelu { alpha }
            | Activation::ThresholdedRelu { alpha }
            | Activation::Elu { alpha } => (alpha, 0.0),
            _ => (0.0, 0.0),
        }
    }

    /// The function's number in the shaders (`shaders/common/activations.wgsl`).
    pub(crate) fn code(self) -> u32 {
        match self {
            Activation::Relu => 1,
            Activation::Tanh => 2,
            Activation::Sigmoid => 3,
            Activation::Affine { .. } => 4,
            Activation::LeakyRelu { .. } => 5,
            Activation::ThresholdedRelu { .. } => 6,
            Activation::ScaledTanh { .. } => 7,
            Activation::HardSigmoid { .. } => 8,
            Activation::Elu { .. } => 9,
            Activation::Softsign => 10,
            Activation::Softplus => 11,
        }
    }

    /// Refuses a NaN or infinite `alpha` or `beta`.
    pub fn validated(self) -> Result<Self> {
        let (alpha, beta) = self.parameters();
        if alpha.is_finite() && beta.is_finite() {
            Ok(self)
        } else {
            Err(Error::config(
                format!("activation {}", self.name()),
                format!("alpha {alpha} and beta {beta} must be finite"),
            ))
        }
    }

    /// The function at `x`, in f64 (the reference's twin of the shaders).
    pub fn eval(self, x: f64) -> f64 {
        let (alpha, beta) = self.parameters();
        let (alpha, beta) = (f64::from(alpha), f64::from(beta));
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
            Activation::Affine { .. } => alpha * x + beta,
            Activation::LeakyRelu { .. } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::ThresholdedRelu { .. } => {
                if x > alpha {
                    x
                } else {
                    0.0
                }
            }
            Activation::ScaledTanh { .. } => alpha * (beta * x).tanh(),
            Activation::HardSigmoid { .. } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::Elu { .. } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        }
    }

    /// The derivative at `x` (at a kink: the side the function's own
    /// condition picks, as the shaders do).
    pub fn derivative(self, x: f64) -> f64 {
        let (alpha, beta) = self.parameters();
        let (alpha, beta) = (f64::from(alpha), f64::from(beta));
        let step = |on: bool| if on { 1.0 } else { 0.0 };
        match self {
            Activation::Relu => step(x > 0.0),
            Activation::Tanh => 1.0 - x.tanh().powi(2),
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Affine { .. } => alpha,
            Activation::LeakyRelu { .. } => {
                if x >= 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Activation::ThresholdedRelu { .. } => step(x > alpha),
            Activation::ScaledTanh { .. } => alpha * beta * (1.0 - (beta * x).tanh().powi(2)),
            Activation::HardSigmoid { .. } => {
                let y = alpha * x + beta;
                alpha * step(y > 0.0 && y < 1.0)
            }
            Activation::Elu { .. } => {
                if x >= 0.0 {
                    1.0
                } else {
                    alpha * x.exp()
                }
            }
            Activation::Softsign => 1.0 / (1.0 + x.abs()).powi(2),
            Activation::Softplus => sigmoid(x),
        }
    }
}

/// The functions of a cell, in ONNX's names: `f` for the gates (LSTM i, f,
/// o; GRU r, z; the RNN's one function), `g` for the candidate (LSTM g,
/// GRU n), `h` for the LSTM's output function of the cell state. `None`
/// is the cell's own (sigmoid, tanh, tanh; the RNN's
/// [`crate::Nonlinearity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Activations {
    /// The gates' function.
    pub f: Option<Activation>,
    /// The candidate's function (LSTM and GRU).
    pub g: Option<Activation>,
    /// The LSTM's output function of the cell state.
    pub h: Option<Activation>,
}

/// ONNX's options of a recurrent cell; [`CellOptions::default`] is the
/// cell as PyTorch defines it. They train like the plain cell; a loaded
/// `.onnx` file carries them ([`crate::io::onnx::load`]), and
/// [`crate::io::onnx::save`] writes them back.
///
/// ```
/// use wgpu_rnn::{Activation, Activations, CellKind, CellOptions, RnnConfig};
/// let options = CellOptions {
///     activations: Activations {
///         f: Some(Activation::HardSigmoid { alpha: 0.2, beta: 0.5 }),
///         ..Activations::default()
///     },
///     clip: Some(3.0),
///     input_forget: true,
///     ..CellOptions::default()
/// };
/// let config = RnnConfig::new(CellKind::Lstm, 8, 16)?.with_options(options)?;
/// assert!(RnnConfig::new(CellKind::Gru(wgpu_rnn::GruReset::After), 8, 16)?
///     .with_options(options)
///     .is_err()); // a GRU has no forget gate
/// # let _ = config;
/// # Ok::<(), wgpu_rnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CellOptions {
    /// The functions of a forward layer, and of every layer where
    /// `reverse` is `None`.
    pub activations: Activations,
    /// The reverse direction's functions of a bidirectional module, where
    /// they differ (ONNX lists the functions per direction).
    pub reverse: Option<Activations>,
    /// Every pre-activation of `f` and `g` is clipped to `[-clip, clip]`
    /// before its function (ONNX `clip`; the LSTM's cell state is not).
    /// The backward pass is zero where it clipped, as cuDNN defines it.
    pub clip: Option<f32>,
    /// LSTM: the forget gate is `1 - i` (ONNX `input_forget`); the forget
    /// gate's weights are then unused and get zero gradients.
    pub input_forget: bool,
}

impl Eq for CellOptions {}

impl Hash for CellOptions {
    fn hash<S: Hasher>(&self, state: &mut S) {
        self.activations.hash(state);
        self.reverse.hash(state);
        self.clip.map(|c| (c + 0.0).to_bits()).hash(state);
        self.input_forget.hash(state);
    }
}

impl CellOptions {
    /// Whether every option is off.
    pub fn is_plain(&self) -> bool {
        *self == Self::default()
    }

    /// The functions of direction `d` (0, or 1 for a bidirectional
    /// module's reverse layers).
    pub fn activations_of(&self, d: usize) -> Activations {
        match (d, self.reverse) {
            (1, Some(reverse)) => reverse,
            _ => self.activations,
        }
    }

    /// Checks every function's parameters and that a clip is positive
    /// and finite (what a cell allows is [`crate::RnnConfig`]'s check).
    pub fn validated(self) -> Result<Self> {
        for a in [Some(self.activations), self.reverse].into_iter().flatten() {
            for f in [a.f, a.g, a.h].into_iter().flatten() {
                f.validated()?;
            }
        }
        if let Some(clip) = self.clip {
            if !(clip.is_finite() && clip > 0.0) {
                return Err(Error::config(
                    "clip",
                    format!("must be positive and finite, got {clip}"),
                ));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 11] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Affine {
            alpha: 0.7,
            beta: -0.3,
        },
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::ThresholdedRelu { alpha: 0.4 },
        Activation::ScaledTanh {
            alpha: 1.5,
            beta: 0.6,
        },
        Activation::HardSigmoid {
            alpha: 0.3,
            beta: 0.4,
        },
        Activation::Elu { alpha: 0.8 },
        Activation::Softsign,
        Activation::Softplus,
    ];

    #[test]
    fn derivatives_match_finite_differences() {
        for f in ALL {
            for x in [-30.0, -3.1, -0.7, -0.05, 0.03, 0.35, 1.9, 25.0] {
                let e = 1e-6;
                let fd = (f.eval(x + e) - f.eval(x - e)) / (2.0 * e);
                let d = f.derivative(x);
                assert!((fd - d).abs() < 1e-6, "{f:?} at {x}: {d} vs {fd}");
            }
        }
    }

    #[test]
    fn onnx_names_and_defaults_round_trip() {
        for f in ALL {
            let (alpha, beta) = f.parameters();
            let (na, nb) = Activation::parameter_count(f.name()).unwrap();
            let g = Activation::from_onnx(
                f.name(),
                (na > 0).then_some(alpha),
                (nb > 0).then_some(beta),
            )
            .unwrap();
            assert_eq!(f, g);
        }
        assert_eq!(
            Activation::from_onnx("HardSigmoid", None, None).unwrap(),
            Activation::HardSigmoid {
                alpha: 0.2,
                beta: 0.5
            }
        );
        assert!(Activation::from_onnx("Affine", Some(1.0), None).is_err());
        assert!(Activation::from_onnx("Swish", None, None).is_err());
        assert!(Activation::from_onnx("Elu", Some(f32::NAN), None).is_err());
    }
}
