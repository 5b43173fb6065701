//! What a forward returns: the device tensors and their host copies.

use crate::error::Result;
use crate::gpu::GpuTensor;

/// Device results of a forward pass.
#[derive(Debug, Clone)]
pub struct RnnOutput {
    /// `[T, B, D*Ho]` (`[B, T, D*Ho]` batch-first): `h` of every step, zero
    /// past each row's length.
    pub output: GpuTensor,
    /// `[L*D, B, Ho]`: each row's state after its last valid step.
    pub h_n: GpuTensor,
    /// `[L*D, B, H]`: the last cell state (LSTM only).
    pub c_n: Option<GpuTensor>,
}

/// Host copies of [`RnnOutput`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostOutput {
    /// `[T, B, D*Ho]` (`[B, T, D*Ho]` batch-first): `h` of every step, zero past each row's length.
    pub output: Vec<f32>,
    /// `[L*D, B, Ho]`: each row's state after its last valid step.
    pub h_n: Vec<f32>,
    /// `[L*D, B, H]`: the last cell state (LSTM only).
    pub c_n: Option<Vec<f32>>,
}

impl RnnOutput {
    /// Copies every output back to the host.
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

    /// [`RnnOutput::to_host_async`], blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_host(&self) -> Result<HostOutput> {
        pollster::block_on(self.to_host_async())
    }
}
