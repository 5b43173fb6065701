//! The LSTM family: the plain LSTM, the peephole LSTM (i and f see
//! `C_{t-1}`, o sees `C_t`) and either with a projection (`proj_size`).
//! Its WGSL is in `shaders/lstm/`.

use super::backward::{BackwardSteps, CellBackward};
use super::{function_constants, CellFamily, StepScratch, WavefrontCell};
use crate::config::CellKind;
use crate::error::Result;
use crate::gpu::tensor::storage_buffer;
use crate::gpu::Gpu;
use crate::kernels::backward::persistent_backward;
use crate::kernels::step::RowOperand;
use crate::kernels::{flag, Kernel};
use crate::weights::LayerTensors;

/// An LSTM, with peepholes or without.
pub(crate) struct Lstm {
    pub peephole: bool,
}

impl Lstm {
    fn constants(&self, projected: bool) -> Vec<(&'static str, f64)> {
        vec![("PEEPHOLE", flag(self.peephole)), ("PROJ", flag(projected))]
    }
}

impl CellFamily for Lstm {
    fn recurrent_layout(&self) -> &'static [(&'static [usize], usize)] {
        &[(&[0, 1, 2, 3], 4)]
    }

    fn extra(
        &self,
        gpu: &Gpu,
        params: &LayerTensors,
        hidden: usize,
    ) -> Result<Option<wgpu::Buffer>> {
        Ok(Some(match &params.peephole {
            Some(p) if self.peephole => p.buffer().clone(),
            _ => storage_buffer(gpu, "cell extras", 3 * hidden)?,
        }))
    }

    fn step_scratch(&self, projected: bool, _train: bool) -> StepScratch {
        StepScratch {
            history: projected.then_some("o*tanh(c)"),
            binds_history: true,
            z: false,
        }
    }

    fn wavefront(&self) -> Option<WavefrontCell> {
        Some(WavefrontCell {
            gates: &[0, 1, 2, 3],
            extras_per_unit: 3,
            constants: vec![("CELL", 0.0), ("PEEPHOLE", flag(self.peephole))],
        })
    }

    fn step_kernels(&self, projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)> {
        vec![(Kernel::LstmStep, self.constants(projected))]
    }

    fn backward_steps(&self, b: &BackwardSteps<'_>) -> Result<CellBackward> {
        let (layer, pass) = (b.layer, b.pass);
        let cfg = *layer.config();
        let (seq, batch, h, ho) = (b.seq, b.batch, cfg.hidden_size, cfg.output_size());
        let cell_c = storage_buffer(b.gpu, "cell-state gradient [B, H]", batch * h)?;
        let cs = pass.c.as_ref().expect("an LSTM keeps its cell states");
        let peephole = layer.extra.as_ref().expect("an LSTM binds peepholes");
        let projected = cfg.proj_size.is_some();
        let constants = self.constants(projected);
        let bound = [b.lengths, b.ds, b.da, &pass.acts, cs, &cell_c, peephole];
        let mut kernels = vec![];
        let mut steps = vec![];
        if layer.runs_persistent(batch) {
            // Where the forward runs the persistent kernel, so does the
            // backward: one dispatch per piece of slots.
            let buffers: Vec<&wgpu::Buffer> =
                std::iter::once(&layer.recurrent[0]).chain(bound).collect();
            let mut cell = function_constants(&cfg);
            cell.push(("PEEPHOLE", flag(cfg.cell == CellKind::PeepholeLstm)));
            let (persistent, pieces) = persistent_backward(
                b.gpu,
                (batch, seq, h),
                &cell,
                &buffers,
                layer.texels.forward.first(),
            )?;
            kernels.push(persistent);
            steps.extend((0..pieces).map(|piece| (piece, 0)));
        } else {
            let w_hh = layer.params.weight_hh.buffer();
            let buffers: Vec<&wgpu::Buffer> = std::iter::once(w_hh).chain(bound).collect();
            let rows = b.gate_rows("da_i", 0, cfg.gate_rows());
            kernels.push(b.dispatch(
                Kernel::LstmBackwardStep,
                &constants,
                &buffers,
                ho,
                (&rows, b.texels()),
            )?);
            if let Some(w_hr) = &layer.params.weight_hr {
                // The projection's backward step multiplies dS_i, Ho per row.
                let ds_rows = RowOperand {
                    src: b.ds,
                    what: "dS_i",
                    cols: ho as u32,
                    ld: ho as u32,
                    offsets: (0..=seq).map(|i| Some((i * batch * ho) as u32)).collect(),
                    ..rows
                };
                let buffers: Vec<&wgpu::Buffer> =
                    std::iter::once(w_hr.buffer()).chain(bound).collect();
                kernels.push(b.dispatch(
                    Kernel::LstmBackwardCell,
                    &constants,
                    &buffers,
                    h,
                    (&ds_rows, layer.texels.projection_backward.as_ref()),
                )?);
            }
            for i in (0..=seq).rev() {
                steps.push((i, 0));
                if projected && i > 0 {
                    steps.push((i, 1));
                }
            }
        }
        Ok(CellBackward {
            kernels,
            steps,
            dc: Some(cell_c),
            da_in: None,
            keep: vec![],
        })
    }
}
