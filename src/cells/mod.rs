//! The recurrent cells on the device. One file per cell family holds what
//! that family contributes to the passes ([`CellFamily`]: its forward step
//! kernels, its backward step kernels); [`Layer`] holds a layer's weights
//! in the layouts its kernels read ([`packing`]), and [`DeviceStack`] the
//! layers a pass runs over.

mod backward;
mod gru;
mod layer;
mod lstm;
pub(crate) mod packing;
mod rnn;
mod stack;

pub(crate) use backward::{BackwardSteps, CellBackward};
pub(crate) use layer::{weight_buffer, InputProjection, Layer, LayerPass};
pub(crate) use stack::DeviceStack;

use crate::config::{CellKind, RnnConfig};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::{flag, Kernel};
use crate::weights::LayerTensors;

/// What a cell family's forward steps write besides `hs` and the cell
/// state, per step in training or one block in inference.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StepScratch {
    /// The `[B, H]` history the backward reads or the next stage
    /// multiplies, by name (see [`LayerPass::history`]).
    pub history: Option<&'static str>,
    /// Whether the step kernels bind a history buffer even where they
    /// never touch it (an unused one is bound then).
    pub binds_history: bool,
    /// The reset-before GRU's `z` between its two stages.
    pub z: bool,
}

/// How the layer wavefront's one kernel runs a cell family.
pub(crate) struct WavefrontCell {
    /// The gate rows each interleaved weight vector holds, in slot order.
    pub gates: &'static [usize],
    /// Per-unit extras each layer copies in (LSTM peepholes, GRU b_hn).
    pub extras_per_unit: usize,
    /// `CELL`, `PEEPHOLE`.
    pub constants: Vec<(&'static str, f64)>,
}

/// What one cell family contributes to the passes.
pub(crate) trait CellFamily {
    /// The recurrent weight buffers the step kernels bind, in binding
    /// order: the gate blocks of each and its slots per unit (see
    /// [`packing::interleave_recurrent`]).
    fn recurrent_layout(&self) -> &'static [(&'static [usize], usize)];

    /// The step kernels' `extra` binding: LSTM peepholes `[3, H]` (the
    /// parameter of a peephole LSTM, zeros for a plain one), the
    /// reset-after GRU's `b_hn`; `None` where they bind none.
    fn extra(
        &self,
        gpu: &Gpu,
        params: &LayerTensors,
        hidden: usize,
    ) -> Result<Option<wgpu::Buffer>>;

    /// What the forward steps write besides the states.
    fn step_scratch(&self, projected: bool, train: bool) -> StepScratch;

    /// How the layer wavefront runs this family; `None` where it cannot
    /// (see [`crate::Schedule::Wavefront`]).
    fn wavefront(&self) -> Option<WavefrontCell>;

    /// The kernels of one forward step, in dispatch order, with their
    /// override constants (`projected`: an LSTM with `proj_size`, whose
    /// projection step follows).
    fn step_kernels(&self, projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)>;

    /// The per-step kernels of one layer-direction's backward.
    fn backward_steps(&self, steps: &BackwardSteps<'_>) -> Result<CellBackward>;
}

/// The override constants of `shaders/common/activations.wgsl` for a
/// layer-direction with `config` (its options resolved to that direction,
/// see [`crate::StackConfig::slot_config`]): its functions, clip,
/// input_forget, and whether training saves pre-activations.
pub(crate) fn function_constants(config: &RnnConfig) -> Vec<(&'static str, f64)> {
    const NAMES: [[&str; 3]; 3] = [
        ["F_FN", "F_ALPHA", "F_BETA"],
        ["G_FN", "G_ALPHA", "G_BETA"],
        ["H_FN", "H_ALPHA", "H_BETA"],
    ];
    let options = &config.options;
    let mut constants = vec![];
    for (names, function) in NAMES.iter().zip(config.functions(0)) {
        let (alpha, beta) = function.parameters();
        constants.extend([
            (names[0], f64::from(function.code())),
            (names[1], f64::from(alpha)),
            (names[2], f64::from(beta)),
        ]);
    }
    constants.extend([
        ("CLIP", f64::from(options.clip.unwrap_or(0.0))),
        ("INPUT_FORGET", flag(options.input_forget)),
        ("SAVE_PRE", flag(config.saves_pre_activations(0))),
    ]);
    constants
}

/// The family of `cell`.
pub(crate) fn cell_family(cell: CellKind) -> Box<dyn CellFamily> {
    match cell {
        CellKind::Lstm => Box::new(lstm::Lstm { peephole: false }),
        CellKind::PeepholeLstm => Box::new(lstm::Lstm { peephole: true }),
        CellKind::Gru(reset) => Box::new(gru::Gru { reset }),
        CellKind::Rnn(_) => Box::new(rnn::Rnn),
    }
}
