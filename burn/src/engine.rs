//! What one call of our kernels needs besides Burn's tensors: a stack of
//! the call's configuration whose parameters Burn's weights are copied
//! into, and the buffers of a `(T, B)`. Engines are pooled per device and
//! configuration and lent out; a training forward keeps its engine until
//! its backward ran (the tape reads the engine's parameters), so two
//! modules of one shape never overwrite each other's weights.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use burn::backend::wgpu::WgpuDevice;
use wgpu_rnn::train::{InputGrads, StackGrads};

use crate::layout::GateLayout;
use wgpu_rnn::{Gpu, GpuTensor, RnnOutput, RnnStack, StackConfig, StackWeights};

/// A stack and its buffers.
pub(crate) struct Engine {
    pub stack: RnnStack,
    pub grads: StackGrads,
    /// Burn's per-gate weights to our parameters, our gradients to Burn's.
    pub layout: GateLayout,
    sized: Mutex<Option<Sized>>,
}

/// The buffers of one `(T, B)`: Burn's inputs are copied into them, our
/// outputs copied out of them.
pub(crate) struct Sized {
    pub seq: usize,
    pub batch: usize,
    pub input: GpuTensor,
    pub h0: GpuTensor,
    pub c0: Option<GpuTensor>,
    /// The inference forward's outputs.
    pub out: RnnOutput,
    /// The backward's seeds (the packed gradient of the forward's output).
    pub seed_output: GpuTensor,
    pub seed_h: GpuTensor,
    pub seed_c: Option<GpuTensor>,
    pub input_grads: InputGrads,
}

impl Engine {
    fn new(gpu: &Gpu, config: StackConfig) -> wgpu_rnn::Result<Self> {
        // Placeholder values: every call copies the module's weights in.
        let stack = RnnStack::new(gpu, &StackWeights::random(config, 0, 0.0)?)?;
        let grads = StackGrads::zeros(&stack)?;
        let layer = config.layer;
        let params = stack.parameters(0, 0).expect("one layer");
        let d = &grads.layers()[0];
        let layout = GateLayout::new(
            gpu,
            (layer.cell.gates(), layer.input_size, layer.hidden_size),
            (&params.weight_ih, &params.weight_hh),
            (&d.weight_ih, &d.weight_hh),
        )?;
        Ok(Self {
            stack,
            grads,
            layout,
            sized: Mutex::new(None),
        })
    }

    /// The buffers of `(seq, batch)`, made on the first call of that size.
    pub fn sized(
        &self,
        seq: usize,
        batch: usize,
    ) -> wgpu_rnn::Result<MutexGuard<'_, Option<Sized>>> {
        let mut guard = self.sized.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(&*guard, Some(s) if s.seq == seq && s.batch == batch) {
            *guard = None;
            let cfg = *self.stack.config();
            let gpu = self.stack.gpu();
            let layer = cfg.layer;
            let (h, slots) = (layer.hidden_size, cfg.state_slots());
            let lstm = layer.cell.has_cell_state();
            let out = self.stack.outputs(seq, batch)?;
            let state = |what| GpuTensor::zeros(gpu, what, &[slots, batch, h]);
            *guard = Some(Sized {
                seq,
                batch,
                input: GpuTensor::zeros(
                    gpu,
                    "input",
                    &cfg.sequence_shape(seq, batch, layer.input_size),
                )?,
                h0: state("h0")?,
                c0: lstm.then(|| state("c0")).transpose()?,
                seed_output: GpuTensor::zeros(gpu, "output seed", out.output.shape())?,
                seed_h: state("h_n seed")?,
                seed_c: lstm.then(|| state("c_n seed")).transpose()?,
                input_grads: self.stack.input_grads(seq, batch)?,
                out,
            });
        }
        Ok(guard)
    }
}

type Pool = HashMap<(WgpuDevice, StackConfig), Vec<Arc<Engine>>>;
static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// An engine of `config` on `gpu` that nobody else holds: a free one from
/// the pool, or a new one added to it. The caller holds it as long as its
/// buffers matter (until the submit, or the backward of a training call).
pub(crate) fn lend(
    device: &WgpuDevice,
    gpu: &Gpu,
    config: StackConfig,
) -> wgpu_rnn::Result<Arc<Engine>> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let engines = pool
        .get_or_insert_with(HashMap::new)
        .entry((device.clone(), config))
        .or_default();
    // Only the pool holds a free engine.
    if let Some(free) = engines.iter().find(|e| Arc::strong_count(e) == 1) {
        return Ok(free.clone());
    }
    let engine = Arc::new(Engine::new(gpu, config)?);
    engines.push(engine.clone());
    Ok(engine)
}
