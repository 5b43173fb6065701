//! [`DeviceStack`]: every layer and direction of a module on one device, and
//! the checks that a tensor handed to a pass fits it.

use std::sync::Arc;

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
    /// Who the stack is: shared by its clones (which share its weights),
    /// not by another stack of the same configuration.
    pub id: Arc<()>,
}

impl DeviceStack {
    /// Uploads every layer's weights, the recurrent ones at `precision`.
    pub fn upload(gpu: &Gpu, weights: &StackWeights, precision: Precision) -> Result<Self> {
        // Refused from the sizes, before a weight is copied.
        gpu.check_config(weights.config())?;
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
            id: Arc::default(),
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

    /// The version of every parameter, per layer-direction: what a training
    /// tape records and its backward compares.
    pub fn parameter_versions(&self) -> Vec<Vec<(&'static str, u64)>> {
        self.layers
            .iter()
            .map(|l| {
                l.parameters()
                    .named()
                    .into_iter()
                    .map(|(name, t)| (name, t.version()))
                    .collect()
            })
            .collect()
    }
}
