//! The ONNX cell options each cell is tested with, shared by the native
//! option tests (`tests/cell_options.rs`) and the browser suite
//! (`web/tests`, which includes this file by path).

use wgpu_rnn::Activation::*;
use wgpu_rnn::{Activation, Activations, CellKind, CellOptions};

pub fn functions(f: Activation, g: Activation, h: Option<Activation>) -> Activations {
    Activations {
        f: Some(f),
        g: Some(g),
        h,
    }
}

/// The options each cell is tested with; together they use every
/// function with non-default alpha/beta, a clip that bites, input_forget
/// and functions that differ per direction. (One set per cell: each set
/// compiles its own pipelines, which dominate this test's time.)
pub fn options_of(cell: CellKind) -> CellOptions {
    match cell {
        CellKind::Lstm => CellOptions {
            activations: functions(
                HardSigmoid {
                    alpha: 0.3,
                    beta: 0.45,
                },
                Softsign,
                Some(ScaledTanh {
                    alpha: 1.5,
                    beta: 0.6,
                }),
            ),
            reverse: Some(functions(
                Sigmoid,
                Elu { alpha: 0.8 },
                Some(Affine {
                    alpha: 0.7,
                    beta: -0.3,
                }),
            )),
            clip: Some(0.9),
            input_forget: true,
        },
        CellKind::PeepholeLstm => CellOptions {
            activations: functions(Sigmoid, Relu, None),
            clip: Some(1.1),
            ..CellOptions::default()
        },
        CellKind::Gru(_) => CellOptions {
            activations: functions(Softsign, LeakyRelu { alpha: 0.1 }, None),
            reverse: Some(functions(
                HardSigmoid {
                    alpha: 0.25,
                    beta: 0.55,
                },
                ThresholdedRelu { alpha: 0.2 },
                None,
            )),
            clip: Some(0.8),
            input_forget: false,
        },
        CellKind::Rnn(_) => CellOptions {
            activations: Activations {
                f: Some(Elu { alpha: 1.3 }),
                ..Activations::default()
            },
            reverse: Some(Activations {
                f: Some(Softplus),
                ..Activations::default()
            }),
            clip: Some(1.2),
            input_forget: false,
        },
    }
}
