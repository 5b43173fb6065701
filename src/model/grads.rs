//! Parameter gradients of a whole stack, on the device and on the host.

use crate::error::Result;
use crate::gpu::GpuTensor;
use crate::pass::LayerGrads;
use crate::weights::LayerTensors;

use super::RnnStack;

/// Host copies of [`LayerGrads`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostLayerGrads {
    /// `[G*H, I]`
    pub weight_ih: Vec<f32>,
    /// `[G*H, Ho]`
    pub weight_hh: Vec<f32>,
    /// `[G*H]` (layers with biases).
    pub bias_ih: Option<Vec<f32>>,
    /// `[G*H]` (layers with biases).
    pub bias_hh: Option<Vec<f32>>,
    /// `[3, H]` rows (p_i, p_f, p_o) (peephole LSTM).
    pub peephole: Option<Vec<f32>>,
    /// `[Ho, H]` (projected LSTM).
    pub weight_hr: Option<Vec<f32>>,
}

/// Parameter gradients of a whole stack, index `l*D + d`.
#[derive(Debug, Clone)]
pub struct StackGrads {
    layers: Vec<LayerGrads>,
}

impl StackGrads {
    /// Zero gradients shaped like `stack`'s parameters.
    pub fn zeros(stack: &RnnStack) -> Result<Self> {
        let gpu = stack.gpu();
        let cfg = stack.config();
        let layers = (0..cfg.state_slots())
            .map(|slot| {
                LayerTensors::zeros(gpu, &cfg.layer_config(slot / cfg.directions()), "grad")
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// The gradients of every layer and direction, index `l*D + d`.
    pub fn layers(&self) -> &[LayerGrads] {
        &self.layers
    }

    /// Copies every gradient back to the host.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_host(&self) -> Result<Vec<HostLayerGrads>> {
        pollster::block_on(self.to_host_async())
    }

    /// [`StackGrads::to_host`] without blocking the thread.
    pub async fn to_host_async(&self) -> Result<Vec<HostLayerGrads>> {
        async fn opt(t: &Option<GpuTensor>) -> Result<Option<Vec<f32>>> {
            match t {
                Some(t) => Ok(Some(t.to_vec_async().await?)),
                None => Ok(None),
            }
        }
        let mut out = Vec::with_capacity(self.layers.len());
        for g in &self.layers {
            out.push(HostLayerGrads {
                weight_ih: g.weight_ih.to_vec_async().await?,
                weight_hh: g.weight_hh.to_vec_async().await?,
                bias_ih: opt(&g.bias_ih).await?,
                bias_hh: opt(&g.bias_hh).await?,
                peephole: opt(&g.peephole).await?,
                weight_hr: opt(&g.weight_hr).await?,
            });
        }
        Ok(out)
    }
}

/// Host copies of every gradient of one backward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct HostGradients {
    /// Shaped like the input; zero at padded steps.
    pub input: Vec<f32>,
    /// `[L*D, B, Ho]`
    pub h0: Vec<f32>,
    /// `[L*D, B, H]` (LSTM only).
    pub c0: Option<Vec<f32>>,
    /// Index `l*D + d`.
    pub params: Vec<HostLayerGrads>,
}
