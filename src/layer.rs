//! `Rnn`: one recurrent layer with its weights on the device, and the forward
//! pass over a whole sequence recorded into one encoder and submitted once.

use crate::config::{CellKind, GruReset, RnnConfig};
use crate::context::Gpu;
use crate::error::{Error, Result};
use crate::kernels::gemm::{Gemm, GemmParams, TILE};
use crate::kernels::step::{StepParams, Steps};
use crate::packing;
use crate::tensor::{storage_buffer, storage_buffer_with, GpuTensor};
use crate::weights::RnnWeights;

/// A recurrent layer on the GPU.
pub struct Rnn {
    gpu: Gpu,
    config: RnnConfig,
    /// `[G*H, I]`, PyTorch's layout (the GEMM reads it transposed).
    weight_ih: wgpu::Buffer,
    /// `[G*H]`, see [`packing::folded_bias`].
    bias: wgpu::Buffer,
    /// The step kernel's recurrent weights, see [`packing::recurrent_weights`].
    recurrent: Vec<wgpu::Buffer>,
    /// LSTM: peepholes `[3, H]` (zeros for a plain LSTM); reset-after GRU: `b_hn`.
    extra: Option<wgpu::Buffer>,
}

/// Device results of [`Rnn::forward`].
#[derive(Debug, Clone)]
pub struct RnnOutput {
    /// `[T, B, H]`: `h_t` for every step.
    pub output: GpuTensor,
    /// `[1, B, H]`: the last hidden state.
    pub h_n: GpuTensor,
    /// `[1, B, H]`: the last cell state (LSTM only).
    pub c_n: Option<GpuTensor>,
}

/// Host copies of [`RnnOutput`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostOutput {
    pub output: Vec<f32>,
    pub h_n: Vec<f32>,
    pub c_n: Option<Vec<f32>>,
}

impl RnnOutput {
    pub async fn to_host_async(&self) -> Result<HostOutput> {
        let c_n = match &self.c_n {
            Some(c) => Some(c.to_vec_async().await?),
            None => None,
        };
        Ok(HostOutput {
            output: self.output.to_vec_async().await?,
            h_n: self.h_n.to_vec_async().await?,
            c_n,
        })
    }

    pub fn to_host(&self) -> Result<HostOutput> {
        pollster::block_on(self.to_host_async())
    }
}

impl Rnn {
    /// Uploads `weights` (rearranged for the kernels) to `gpu`.
    pub fn new(gpu: &Gpu, weights: &RnnWeights) -> Result<Self> {
        let config = *weights.config();
        let recurrent = packing::recurrent_weights(weights)
            .iter()
            .map(|w| storage_buffer_with(gpu, "recurrent weights", w))
            .collect::<Result<Vec<_>>>()?;
        let h = config.hidden_size;
        let extra = match config.cell {
            CellKind::Lstm => Some(vec![0.0; 3 * h]),
            CellKind::PeepholeLstm => weights.peephole().map(<[f32]>::to_vec),
            CellKind::Gru(GruReset::After) => Some(packing::gru_b_hn(weights)),
            CellKind::Gru(GruReset::Before) | CellKind::Rnn(_) => None,
        };
        Ok(Self {
            gpu: gpu.clone(),
            config,
            weight_ih: storage_buffer_with(gpu, "weight_ih", weights.weight_ih())?,
            bias: storage_buffer_with(gpu, "folded bias", &packing::folded_bias(weights))?,
            recurrent,
            extra: extra
                .map(|e| storage_buffer_with(gpu, "cell extras", &e))
                .transpose()?,
        })
    }

    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn check_tensor(&self, what: &str, t: &GpuTensor, expected: &[usize]) -> Result<()> {
        if !t.gpu().same_device(&self.gpu) {
            return Err(Error::config(
                what,
                "tensor lives on a different device than the layer",
            ));
        }
        if t.shape() != expected {
            return Err(Error::shape(what, expected, t.shape()));
        }
        Ok(())
    }

    /// Runs the layer over `input` `[T, B, I]` from `h0` / `c0` `[1, B, H]`
    /// (zeros when `None`; `c0` only for LSTMs). One submit, no read-back.
    pub fn forward(
        &self,
        input: &GpuTensor,
        h0: Option<&GpuTensor>,
        c0: Option<&GpuTensor>,
    ) -> Result<RnnOutput> {
        let cfg = self.config;
        let &[seq, batch, _] = input.shape() else {
            let want = [0, 0, cfg.input_size];
            return Err(Error::shape("input [T, B, I]", &want, input.shape()));
        };
        self.check_tensor("input", input, &[seq, batch, cfg.input_size])?;
        let (g, h) = (cfg.gates(), cfg.hidden_size);
        let state_shape = [1, batch, h];
        if let Some(h0) = h0 {
            self.check_tensor("h0", h0, &state_shape)?;
        }
        if let Some(c0) = c0 {
            if !cfg.cell.has_cell_state() {
                return Err(Error::config(
                    "c0",
                    format!("given, but a {} has no cell state", cfg.cell.name()),
                ));
            }
            self.check_tensor("c0", c0, &state_shape)?;
        }
        let gpu = &self.gpu;
        let bh = batch * h;
        let hs = storage_buffer(gpu, "hidden states [T+1, B, H]", (seq + 1) * bh)?;
        let output = GpuTensor::zeros(gpu, "output", &[seq, batch, h])?;
        let h_n = GpuTensor::zeros(gpu, "h_n", &state_shape)?;
        let c_n = cfg
            .cell
            .has_cell_state()
            .then(|| GpuTensor::zeros(gpu, "c_n", &state_shape))
            .transpose()?;

        let chunk = self.steps_per_chunk(seq, batch)?;
        let xg = storage_buffer(
            gpu,
            "gate pre-activations [steps, B, G*H]",
            chunk * batch * g * h,
        )?;
        let chunks: Vec<std::ops::Range<usize>> = (0..seq)
            .step_by(chunk)
            .map(|s| s..(s + chunk).min(seq))
            .collect();
        let gemms = chunks
            .iter()
            .map(|r| {
                let params = GemmParams {
                    m: (r.len() * batch) as u32,
                    n: (g * h) as u32,
                    k: cfg.input_size as u32,
                    a_offset: (r.start * batch * cfg.input_size) as u32,
                };
                Gemm::new(
                    gpu,
                    params,
                    input.buffer(),
                    &self.weight_ih,
                    &self.bias,
                    &xg,
                )
            })
            .collect::<Result<Vec<_>>>()?;

        let step_params: Vec<StepParams> = (0..seq)
            .map(|t| StepParams {
                batch: batch as u32,
                hidden: h as u32,
                xg_offset: ((t % chunk) * batch * g * h) as u32,
                h_prev_offset: (t * bh) as u32,
                h_out_offset: ((t + 1) * bh) as u32,
                ..Default::default()
            })
            .collect();
        // Per-call state the step kernels write besides `hs`.
        let scratch: Vec<wgpu::Buffer> = match cfg.cell {
            CellKind::Lstm | CellKind::PeepholeLstm => vec![storage_buffer(gpu, "cell state", bh)?],
            CellKind::Gru(GruReset::Before) => vec![
                storage_buffer(gpu, "r*h scratch", bh)?,
                storage_buffer(gpu, "z scratch", bh)?,
            ],
            _ => vec![],
        };
        let mut bindings: Vec<&wgpu::Buffer> = vec![&xg];
        bindings.extend(&self.recurrent);
        bindings.extend(&self.extra);
        bindings.push(&hs);
        bindings.extend(&scratch);
        let steps = Steps::new(
            gpu,
            cfg.cell,
            batch as u32,
            h as u32,
            &step_params,
            &bindings,
        )?;

        let state_bytes = (bh * 4) as u64;
        gpu.scoped("forward", || {
            let device = gpu.device();
            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("rnn forward"),
            });
            if let Some(h0) = h0 {
                encoder.copy_buffer_to_buffer(h0.buffer(), 0, &hs, 0, state_bytes);
            }
            if let (Some(c0), Some(c)) = (c0, scratch.first()) {
                encoder.copy_buffer_to_buffer(c0.buffer(), 0, c, 0, state_bytes);
            }
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("rnn forward"),
                    timestamp_writes: None,
                });
                for (range, gemm) in chunks.iter().zip(&gemms) {
                    gemm.record(&mut pass);
                    for t in range.clone() {
                        steps.record(&mut pass, t);
                    }
                }
            }
            encoder.copy_buffer_to_buffer(
                &hs,
                state_bytes,
                output.buffer(),
                0,
                seq as u64 * state_bytes,
            );
            encoder.copy_buffer_to_buffer(
                &hs,
                seq as u64 * state_bytes,
                h_n.buffer(),
                0,
                state_bytes,
            );
            if let (Some(c_n), Some(c)) = (&c_n, scratch.first()) {
                encoder.copy_buffer_to_buffer(c, 0, c_n.buffer(), 0, state_bytes);
            }
            gpu.queue().submit([encoder.finish()]);
        })?;
        Ok(RnnOutput { output, h_n, c_n })
    }

    /// How many time steps' gate pre-activations fit one storage binding and
    /// one GEMM dispatch. Long sequences are projected chunk by chunk.
    fn steps_per_chunk(&self, seq: usize, batch: usize) -> Result<usize> {
        let limits = self.gpu.limits();
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let step_bytes = (batch * self.config.gate_rows() * 4) as u64;
        let by_memory = (binding / step_bytes) as usize;
        let max_rows = limits.max_compute_workgroups_per_dimension as usize * TILE as usize;
        let by_dispatch = max_rows / batch;
        let chunk = seq.min(by_memory).min(by_dispatch);
        if chunk == 0 {
            return Err(Error::OverLimit {
                what: format!(
                    "gate pre-activations of one step [B={batch}, G*H={}]",
                    self.config.gate_rows()
                ),
                requested: step_bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit: binding,
            });
        }
        Ok(chunk)
    }

    /// Uploads host data, runs [`Rnn::forward`] and reads everything back.
    /// `input` is `[T, B, I]`, `h0` / `c0` `[1, B, H]`; NaN or infinite inputs
    /// are refused with [`Error::NonFinite`].
    pub fn forward_host(
        &self,
        input: &[f32],
        seq_len: usize,
        batch: usize,
        h0: Option<&[f32]>,
        c0: Option<&[f32]>,
    ) -> Result<HostOutput> {
        let gpu = &self.gpu;
        let state = [1, batch, self.config.hidden_size];
        let input = GpuTensor::from_slice(
            gpu,
            "input",
            input,
            &[seq_len, batch, self.config.input_size],
        )?;
        let h0 = h0
            .map(|d| GpuTensor::from_slice(gpu, "h0", d, &state))
            .transpose()?;
        let c0 = c0
            .map(|d| GpuTensor::from_slice(gpu, "c0", d, &state))
            .transpose()?;
        self.forward(&input, h0.as_ref(), c0.as_ref())?.to_host()
    }
}
