//! What every cell's backward step kernels share: the buffers of one
//! layer-direction's backward ([`BackwardSteps`]), the row operands of its
//! products, and what a cell gives back ([`CellBackward`]).

use super::{function_constants, Layer, LayerPass};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::backward::BackParams;
use crate::kernels::step::{
    per_step_variant, rows_constant, step_dispatch, PerStepDispatch, RowOperand,
};
use crate::kernels::texels::TexelMatrix;
use crate::kernels::Kernel;

/// One layer-direction's backward, as its cell's step kernels see it.
pub(crate) struct BackwardSteps<'a> {
    pub gpu: &'a Gpu,
    pub layer: &'a Layer,
    /// The training forward's saved state.
    pub pass: &'a LayerPass,
    pub lengths: &'a wgpu::Buffer,
    /// `[T+2, B, Ho]` state gradients (see `common/backward.wgsl`).
    pub ds: &'a wgpu::Buffer,
    /// `[T, B, G*H]` gate gradients.
    pub da: &'a wgpu::Buffer,
    pub seq: usize,
    pub batch: usize,
    /// Every dispatch's params, slot `i` for dispatch `i` (`0..=T`).
    pub params: Vec<BackParams>,
}

/// What a cell's backward steps are: the per-step kernels, the order they
/// run in, and the buffers the rest of the backward reads.
pub(crate) struct CellBackward {
    pub kernels: Vec<PerStepDispatch>,
    /// `(slot i, kernel)` in recording order.
    pub steps: Vec<(usize, usize)>,
    /// `[B, H]` cell-state gradient (LSTM).
    pub dc: Option<wgpu::Buffer>,
    /// The input-side gate gradients where they differ from `da`
    /// (reset-after GRU).
    pub da_in: Option<wgpu::Buffer>,
    /// Buffers the bind groups refer to.
    pub keep: Vec<wgpu::Buffer>,
}

impl BackwardSteps<'_> {
    /// The product's row operand `da_i`: the first `cols` of each step's
    /// gate rows, nothing at dispatch T.
    pub fn gate_rows(&self, what: &'static str, col: usize, cols: usize) -> RowOperand<'_> {
        let g = self.layer.config().gate_rows();
        RowOperand {
            src: self.da,
            what,
            batch: self.batch as u32,
            cols: cols as u32,
            ld: g as u32,
            offsets: (0..=self.seq)
                .map(|i| (i < self.seq).then_some((i * self.batch * g + col) as u32))
                .collect(),
        }
    }

    /// The weights every product with `weight_hh` may read as texels.
    pub fn texels(&self) -> Option<&TexelMatrix> {
        self.layer.texels.backward.as_ref()
    }

    /// The per-step dispatch of `kernel` over `units` outputs, its products
    /// reading `rows` (as texels too, where `texels` and the tuning allow).
    pub fn dispatch(
        &self,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
        buffers: &[&wgpu::Buffer],
        units: usize,
        (rows, texels): (&RowOperand, Option<&TexelMatrix>),
    ) -> Result<PerStepDispatch> {
        let mut constants = constants.to_vec();
        constants.push(rows_constant(self.batch));
        constants.extend(function_constants(self.layer.config()));
        let (kernel, groups, texels) = per_step_variant(
            self.gpu,
            kernel,
            units as u32,
            self.batch as u32,
            &mut constants,
            texels,
        );
        step_dispatch(
            self.gpu,
            kernel,
            &constants,
            &self.params,
            buffers,
            texels,
            Some((rows, units as u32)),
            groups,
        )
    }
}
