//! [`Rnn`]: one recurrent layer in one direction, the smallest module; a
//! one-layer [`RnnStack`] underneath.

use crate::cells::Layer;
use crate::config::{Precision, RnnConfig, StackConfig};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor};
use crate::pass::{HostOutput, RnnOutput};
use crate::weights::{LayerTensors, RnnWeights};

use super::RnnStack;

/// A recurrent layer (one direction) on the GPU. Cloning shares the device
/// buffers.
#[derive(Clone)]
pub struct Rnn {
    stack: RnnStack,
}

impl Rnn {
    /// Uploads `weights` and arranges them for the kernels.
    pub fn new(gpu: &Gpu, weights: &RnnWeights) -> Result<Self> {
        Self::with_precision(gpu, weights, Precision::F32)
    }

    /// [`Rnn::new`] with the recurrent weights stored at `precision`; the
    /// layer holds `weights.rounded_for(precision)`. An adapter without
    /// `SHADER_F16` refuses f16 when the repacking kernels are compiled.
    pub fn with_precision(gpu: &Gpu, weights: &RnnWeights, precision: Precision) -> Result<Self> {
        let layer = Layer::with_precision(gpu, weights, precision)?;
        let config = StackConfig::new(*layer.config());
        Ok(Self {
            stack: RnnStack::from_layers(gpu, config, vec![layer])?,
        })
    }

    fn layer(&self) -> &Layer {
        &self.stack.device.layers[0]
    }

    /// The parameters in PyTorch's layout. Writing to them (an optimizer
    /// step) takes effect in the forward pass after [`Rnn::repack`].
    pub fn parameters(&self) -> &LayerTensors {
        self.layer().parameters()
    }

    /// Rebuilds the forward kernels' layouts from [`Rnn::parameters`]. An
    /// f16 layer converts on the device without a range check: what is
    /// written into its parameters must already be f16 values (see
    /// [`RnnWeights::rounded_for`]); an f16 layer is for inference, built
    /// from host weights.
    pub fn repack(&self) -> Result<()> {
        self.layer().repack()
    }

    /// Reads the parameters back.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_weights(&self) -> Result<RnnWeights> {
        self.layer().to_weights()
    }

    /// [`Rnn::to_weights`] without blocking the thread.
    pub async fn to_weights_async(&self) -> Result<RnnWeights> {
        let layer = self.layer();
        layer.parameters().to_weights_async(*layer.config()).await
    }

    /// The layer's sizes and cell.
    pub fn config(&self) -> &RnnConfig {
        self.layer().config()
    }

    /// How the layer stores its recurrent weights.
    pub fn precision(&self) -> Precision {
        self.layer().precision()
    }

    /// Bytes of device memory the step kernels' recurrent weights take
    /// (`weight_hh`, and `weight_hr`, in their kernel layouts): half as
    /// many for an f16 layer.
    pub fn recurrent_weight_bytes(&self) -> u64 {
        self.layer().recurrent_weight_bytes()
    }

    /// The device the layer lives on.
    pub fn gpu(&self) -> &Gpu {
        self.stack.gpu()
    }

    /// Runs the layer over `input` `[T, B, I]` from `h0` / `c0` `[1, B, Ho]` /
    /// `[1, B, H]` (zeros when `None`; `c0` only for LSTMs). One submit, no
    /// read-back. The same as a one-layer forward [`RnnStack`].
    pub fn forward(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
    ) -> Result<RnnOutput> {
        self.stack.forward(input, h0, c0, None)
    }

    /// Host-data version of [`Rnn::forward`]: `input` `[T, B, I]`,
    /// `h0` / `c0` `[1, B, Ho]` / `[1, B, H]`. NaN or infinite inputs are
    /// refused with [`crate::Error::NonFinite`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_host(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
    ) -> Result<HostOutput> {
        self.stack.forward_host(input, seq_len, batch, h0, c0, None)
    }

    /// [`Rnn::forward_host`] without blocking the thread on the read-back.
    pub async fn forward_host_async(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
    ) -> Result<HostOutput> {
        self.stack
            .forward_host_async(input, seq_len, batch, h0, c0, None)
            .await
    }
}
