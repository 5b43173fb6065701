//! The GRU family: the reset gate after the recurrent product (PyTorch,
//! cuDNN, ONNX `linear_before_reset=1`; one step kernel) and before it
//! (Cho et al., the seed, ONNX `linear_before_reset=0`; two dependent
//! kernels per step, gates then candidate). Its WGSL is in `shaders/gru/`.

use super::backward::{BackwardSteps, CellBackward};
use super::{CellFamily, StepScratch, WavefrontCell};
use crate::config::GruReset;
use crate::error::Result;
use crate::gpu::tensor::storage_buffer;
use crate::gpu::Gpu;
use crate::kernels::{flag, Kernel};
use crate::weights::LayerTensors;

/// A GRU with its reset gate `reset` the recurrent product.
pub(crate) struct Gru {
    pub reset: GruReset,
}

impl CellFamily for Gru {
    fn recurrent_layout(&self) -> &'static [(&'static [usize], usize)] {
        match self.reset {
            GruReset::After => &[(&[0, 1, 2], 4)],
            GruReset::Before => &[(&[0, 1], 2), (&[2], 1)],
        }
    }

    fn extra(
        &self,
        gpu: &Gpu,
        _params: &LayerTensors,
        hidden: usize,
    ) -> Result<Option<wgpu::Buffer>> {
        match self.reset {
            // b_hn, written by the repack.
            GruReset::After => Ok(Some(storage_buffer(gpu, "cell extras", 3 * hidden)?)),
            GruReset::Before => Ok(None),
        }
    }

    fn step_scratch(&self, _projected: bool, train: bool) -> StepScratch {
        match self.reset {
            GruReset::After => StepScratch {
                history: train.then_some("W_hn h + b_hn"),
                binds_history: true,
                z: false,
            },
            GruReset::Before => StepScratch {
                history: Some("r*h"),
                binds_history: true,
                z: true,
            },
        }
    }

    fn wavefront(&self) -> Option<WavefrontCell> {
        // The reset-before GRU needs two dependent dispatches per step.
        (self.reset == GruReset::After).then(|| WavefrontCell {
            gates: &[0, 1, 2],
            extras_per_unit: 1,
            constants: vec![("CELL", 1.0), ("PEEPHOLE", 0.0)],
        })
    }

    fn step_kernels(&self, _projected: bool) -> Vec<(Kernel, Vec<(&'static str, f64)>)> {
        match self.reset {
            GruReset::After => vec![(Kernel::GruStep, vec![])],
            GruReset::Before => vec![(Kernel::GruGates, vec![]), (Kernel::GruCandidate, vec![])],
        }
    }

    fn backward_steps(&self, b: &BackwardSteps<'_>) -> Result<CellBackward> {
        let (layer, pass) = (b.layer, b.pass);
        let cfg = *layer.config();
        let (seq, batch, h, g) = (b.seq, b.batch, cfg.hidden_size, cfg.gate_rows());
        let reset_before = self.reset == GruReset::Before;
        let (input_side, aux) = match self.reset {
            GruReset::After => (
                storage_buffer(
                    b.gpu,
                    "input-side gate gradients [T, B, 3H]",
                    seq * batch * g,
                )?,
                pass.history.clone().expect("a training GRU keeps W_hn h"),
            ),
            GruReset::Before => (
                storage_buffer(b.gpu, "unused binding", 1)?,
                storage_buffer(b.gpu, "d(r*h) [B, H]", batch * h)?,
            ),
        };
        let buffers = [
            layer.params.weight_hh.buffer(),
            b.lengths,
            b.ds,
            b.da,
            &pass.acts,
            &pass.hs,
            &input_side,
            &aux,
        ];
        let constants = [("RESET_BEFORE", flag(reset_before))];
        // Reset before: the step kernel multiplies r and z only;
        // gru_backward_reset multiplies the n part.
        let multiplied = if reset_before { 2 * h } else { g };
        let rows = b.gate_rows("da_i", 0, multiplied);
        let mut kernels = vec![b.dispatch(
            Kernel::GruBackwardStep,
            &constants,
            &buffers,
            h,
            (&rows, b.texels()),
        )?];
        if reset_before {
            let n_rows = b.gate_rows("da_n", 2 * h, h);
            kernels.push(b.dispatch(
                Kernel::GruBackwardReset,
                &constants,
                &buffers,
                h,
                (&n_rows, b.texels()),
            )?);
        }
        let mut steps = vec![];
        for i in (0..=seq).rev() {
            if reset_before && i < seq {
                steps.push((i, 1));
            }
            steps.push((i, 0));
        }
        let (da_in, mut keep) = match self.reset {
            GruReset::After => (Some(input_side), vec![]),
            GruReset::Before => (None, vec![input_side]),
        };
        keep.push(aux);
        Ok(CellBackward {
            kernels,
            steps,
            dc: None,
            da_in,
            keep,
        })
    }
}
