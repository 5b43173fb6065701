//! [`DeviceStack`]: every layer and direction of a module on one device, and
//! the checks that a tensor handed to a pass fits it.

use crate::config::{Precision, StackConfig};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor};
use crate::weights::StackWeights;

use super::Layer;

/// The layers a pass runs over, index `l*D + d`.
#[derive(Clone)]
pub(crate) struct DeviceStack {
    pub gpu: Gpu,
    pub config: StackConfig,
    pub layers: Vec<Layer>,
}

impl DeviceStack {
    /// Uploads every layer's weights, the recurrent ones at `precision`.
    pub fn upload(gpu: &Gpu, weights: &StackWeights, precision: Precision) -> Result<Self> {
        let layers = weights
            .layers()
            .iter()
            .map(|w| Layer::with_precision(gpu, w, precision))
            .collect::<Result<Vec<_>>>()?;
        Self::new(gpu, *weights.config(), layers)
    }

    pub fn new(gpu: &Gpu, config: StackConfig, layers: Vec<Layer>) -> Result<Self> {
        let config = config.validated()?;
        debug_assert_eq!(layers.len(), config.state_slots());
        Ok(Self {
            gpu: gpu.clone(),
            config,
            layers,
        })
    }

    /// [`DeviceStack::check_tensor`] for a cell-state tensor (`c0`,
    /// `grad_c_n`), which only an LSTM has.
    pub fn check_cell_state(&self, what: &str, t: &GpuTensor, expected: &[usize]) -> Result<()> {
        let cell = self.config.layer.cell;
        if !cell.has_cell_state() {
            return Err(Error::config(
                what,
                format!("given, but a {} has no cell state", cell.name()),
            ));
        }
        self.check_tensor(what, t, expected)
    }

    /// Checks that `t` lives on this module's device and has shape `expected`.
    pub fn check_tensor(&self, what: &str, t: &GpuTensor, expected: &[usize]) -> Result<()> {
        t.check(&self.gpu, what, "layer", expected)
    }
}
