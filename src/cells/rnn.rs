//! The vanilla RNN, `h' = f(W_ih x + b_ih + W_hh h + b_hh)` with tanh or
//! ReLU (or another function of [`crate::CellOptions`]). Its WGSL is in
//! `shaders/rnn/`.

use super::backward::{BackwardSteps, CellBackward};
use super::{CellFamily, StepScratch, WavefrontCell};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::Kernel;
use crate::weights::LayerTensors;

/// An RNN; its function is in the layer's function constants.
pub(crate) struct Rnn;

impl CellFamily for Rnn {
    fn recurrent_layout(&self) -> &'static [(&'static [usize], usize)] {
        &[(&[0], 1)]
    }

    fn extra(
        &self,
        _gpu: &Gpu,
        _params: &LayerTensors,
        _hidden: usize,
    ) -> Result<Option<wgpu::Buffer>> {
        Ok(None)
    }

    fn step_scratch(&self, _projected: bool, _train: bool) -> StepScratch {
        StepScratch::default()
    }

    fn wavefront(&self) -> Option<WavefrontCell> {
        Some(WavefrontCell {
            gates: &[0],
            extras_per_unit: 0,
            constants: vec![("CELL", 2.0), ("PEEPHOLE", 0.0)],
        })
    }

    fn step_kernels(&self, _projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)> {
        vec![(Kernel::RnnStep, vec![])]
    }

    fn backward_steps(&self, b: &BackwardSteps<'_>) -> Result<CellBackward> {
        let cfg = *b.layer.config();
        let rows = b.gate_rows("da_i", 0, cfg.gate_rows());
        let kernel = b.dispatch(
            Kernel::RnnBackwardStep,
            &[],
            &[
                b.layer.params.weight_hh.buffer(),
                b.lengths,
                b.ds,
                b.da,
                &b.pass.hs,
                &b.pass.acts,
            ],
            cfg.hidden_size,
            (&rows, b.texels()),
        )?;
        Ok(CellBackward {
            kernels: vec![kernel],
            steps: (0..=b.seq).rev().map(|i| (i, 0)).collect(),
            dc: None,
            da_in: None,
            keep: vec![],
        })
    }
}
