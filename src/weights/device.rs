//! `LayerTensors`: one layer-direction's parameters on the device in
//! PyTorch's names, shapes and gate order. The same shape holds a layer's
//! weights ([`crate::Rnn::parameters`]), its gradients
//! ([`crate::train::LayerGrads`]) and an optimizer's per-parameter state.

use super::RnnWeights;
use crate::config::{CellKind, RnnConfig};
use crate::error::Result;
use crate::gpu::tensor::GpuTensor;
use crate::gpu::Gpu;

/// PyTorch-named tensors of one layer-direction.
#[derive(Debug, Clone)]
pub struct LayerTensors {
    /// `[G*H, I]`
    pub weight_ih: GpuTensor,
    /// `[G*H, Ho]`
    pub weight_hh: GpuTensor,
    /// `[G*H]` (layers with biases).
    pub bias_ih: Option<GpuTensor>,
    /// `[G*H]` (layers with biases).
    pub bias_hh: Option<GpuTensor>,
    /// `[3, H]` rows (p_i, p_f, p_o) (peephole LSTM).
    pub peephole: Option<GpuTensor>,
    /// `[Ho, H]` (projected LSTM).
    pub weight_hr: Option<GpuTensor>,
}

/// The shape of every tensor of a layer with `config`, by PyTorch kind name
/// (`weight_ih`, ..., `weight_peephole`), in [`LayerTensors::named`] order.
pub fn parameter_shapes(config: &RnnConfig) -> Vec<(&'static str, Vec<usize>)> {
    let (rows, h, ho) = (config.gate_rows(), config.hidden_size, config.output_size());
    let mut shapes = vec![
        ("weight_ih", vec![rows, config.input_size]),
        ("weight_hh", vec![rows, ho]),
    ];
    if config.bias {
        shapes.push(("bias_ih", vec![rows]));
        shapes.push(("bias_hh", vec![rows]));
    }
    if config.cell == CellKind::PeepholeLstm {
        shapes.push(("weight_peephole", vec![3, h]));
    }
    if config.proj_size.is_some() {
        shapes.push(("weight_hr", vec![ho, h]));
    }
    shapes
}

impl LayerTensors {
    /// Zeros shaped like the parameters of a layer with `config`; `what`
    /// prefixes the buffer labels ("grad", "adam m").
    pub fn zeros(gpu: &Gpu, config: &RnnConfig, what: &str) -> Result<Self> {
        let tensors = parameter_shapes(config)
            .into_iter()
            .map(|(kind, shape)| {
                Ok((
                    kind,
                    GpuTensor::zeros(gpu, &format!("{what} {kind}"), &shape)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_named(tensors))
    }

    /// Uploads `weights`.
    pub fn upload(gpu: &Gpu, weights: &RnnWeights) -> Result<Self> {
        let config = weights.config();
        let data = [
            Some(weights.weight_ih()),
            Some(weights.weight_hh()),
            weights.bias_ih(),
            weights.bias_hh(),
            weights.peephole(),
            weights.weight_hr(),
        ];
        let tensors = parameter_shapes(config)
            .into_iter()
            .zip(data.into_iter().flatten())
            .map(|((kind, shape), d)| Ok((kind, GpuTensor::from_slice(gpu, kind, d, &shape)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_named(tensors))
    }

    fn from_named(tensors: Vec<(&'static str, GpuTensor)>) -> Self {
        let take = |kind: &str| {
            tensors
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, t)| t.clone())
        };
        Self {
            weight_ih: take("weight_ih").expect("every layer has weight_ih"),
            weight_hh: take("weight_hh").expect("every layer has weight_hh"),
            bias_ih: take("bias_ih"),
            bias_hh: take("bias_hh"),
            peephole: take("weight_peephole"),
            weight_hr: take("weight_hr"),
        }
    }

    /// Every tensor with its PyTorch kind name, in a fixed order.
    pub fn named(&self) -> Vec<(&'static str, &GpuTensor)> {
        let optional = [
            ("bias_ih", &self.bias_ih),
            ("bias_hh", &self.bias_hh),
            ("weight_peephole", &self.peephole),
            ("weight_hr", &self.weight_hr),
        ];
        let mut all = vec![
            ("weight_ih", &self.weight_ih),
            ("weight_hh", &self.weight_hh),
        ];
        all.extend(
            optional
                .into_iter()
                .filter_map(|(k, t)| Some((k, t.as_ref()?))),
        );
        all
    }

    /// Reads the tensors back as weights of a layer with `config`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_weights(&self, config: RnnConfig) -> Result<RnnWeights> {
        pollster::block_on(self.to_weights_async(config))
    }

    /// [`LayerTensors::to_weights`] without blocking the thread.
    pub async fn to_weights_async(&self, config: RnnConfig) -> Result<RnnWeights> {
        async fn opt(t: &Option<GpuTensor>) -> Result<Option<Vec<f32>>> {
            match t {
                Some(t) => Ok(Some(t.to_vec_async().await?)),
                None => Ok(None),
            }
        }
        let (w_ih, w_hh) = (
            self.weight_ih.to_vec_async().await?,
            self.weight_hh.to_vec_async().await?,
        );
        let (b_ih, b_hh, peephole) = (
            opt(&self.bias_ih).await?,
            opt(&self.bias_hh).await?,
            opt(&self.peephole).await?,
        );
        match opt(&self.weight_hr).await? {
            Some(w_hr) => {
                RnnWeights::with_projection_weights(config, w_ih, w_hh, b_ih, b_hh, peephole, w_hr)
            }
            None => RnnWeights::new(config, w_ih, w_hh, b_ih, b_hh, peephole),
        }
    }
}
