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

use crate::config::CellKind;
use crate::error::Result;
use crate::kernels::Kernel;

/// What one cell family contributes to the passes.
pub(crate) trait CellFamily {
    /// The kernels of one forward step, in dispatch order, with their
    /// override constants (`projected`: an LSTM with `proj_size`, whose
    /// projection step follows).
    fn step_kernels(&self, projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)>;

    /// The per-step kernels of one layer-direction's backward.
    fn backward_steps(&self, steps: &BackwardSteps<'_>) -> Result<CellBackward>;
}

/// The family of `cell`.
pub(crate) fn cell_family(cell: CellKind) -> Box<dyn CellFamily> {
    match cell {
        CellKind::Lstm => Box::new(lstm::Lstm { peephole: false }),
        CellKind::PeepholeLstm => Box::new(lstm::Lstm { peephole: true }),
        CellKind::Gru(reset) => Box::new(gru::Gru { reset }),
        CellKind::Rnn(act) => Box::new(rnn::Rnn { act }),
    }
}
