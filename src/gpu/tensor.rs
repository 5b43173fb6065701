//! `GpuTensor`: f32 values with a shape in a device buffer (ours, or a view
//! on an app's buffer); upload, zeros, and read-back (async, with a blocking
//! wrapper).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{check_finite, element_count, Error, Result};
use crate::gpu::Gpu;

/// A row-major f32 tensor in a GPU storage buffer: the whole buffer, or
/// (made by [`GpuTensor::from_buffer`]) a view at an offset into an app's
/// buffer. Cloning shares the buffer.
#[derive(Debug, Clone)]
pub struct GpuTensor {
    gpu: Gpu,
    buffer: wgpu::Buffer,
    /// Byte offset of the first value in `buffer`.
    offset: u64,
    shape: Vec<usize>,
    /// Bumped by every in-place write through the crate (shared by
    /// clones): how a training tape knows its weights changed.
    version: Arc<AtomicU64>,
}

/// The usages a buffer needs to back a [`GpuTensor`]: kernels bind it, and
/// passes copy into and out of it.
pub const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Bytes of `n` f32 values, checked against the device's binding limits.
pub(crate) fn checked_bytes(gpu: &Gpu, what: &str, n: usize) -> Result<u64> {
    let bytes = (n as u64).saturating_mul(4);
    gpu.check_storage_binding(what, bytes)?;
    Ok(bytes)
}

/// A zero-filled storage buffer for `n` f32 values (wgpu zero-initialises).
pub(crate) fn storage_buffer(gpu: &Gpu, what: &str, n: usize) -> Result<wgpu::Buffer> {
    let size = checked_bytes(gpu, what, n.max(1))?;
    gpu.scoped(&format!("allocating {what}"), || {
        gpu.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage: TENSOR_USAGE,
            mapped_at_creation: false,
        })
    })
}

/// A storage buffer holding `data` (any plain values: f32, u32).
pub(crate) fn storage_buffer_of<T: bytemuck::Pod>(
    gpu: &Gpu,
    what: &str,
    data: &[T],
) -> Result<wgpu::Buffer> {
    let buffer = storage_buffer(gpu, what, size_of_val(data) / 4)?;
    if !data.is_empty() {
        gpu.queue()
            .write_buffer(&buffer, 0, bytemuck::cast_slice(data));
    }
    Ok(buffer)
}

/// A storage buffer holding `data`.
pub(crate) fn storage_buffer_with(gpu: &Gpu, what: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    storage_buffer_of(gpu, what, data)
}

/// Maps `buffer` (MAP_READ, its copies already submitted), waits for the GPU
/// and returns its bytes; `what` names it in errors. The buffer is left
/// unmapped on every path, so a kept read-back buffer stays usable after an
/// error. On native wgpu the wait happens in `poll` (the thread waits for
/// the GPU); the future form lets an executor, or WebGPU, drive the map.
pub(crate) async fn read_mapped(gpu: &Gpu, buffer: &wgpu::Buffer, what: &str) -> Result<Vec<u8>> {
    gpu.check_lost()?;
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        // The receiver outlives this callback; a failed send only means
        // nobody is waiting any more.
        let _ = sender.send(r);
    });
    let readback_error = |reason: String| Error::Readback {
        what: what.to_string(),
        reason,
    };
    let polled = gpu
        .device()
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| readback_error(e.to_string()));
    let mapped = match receiver.receive().await {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(readback_error(e.to_string())),
        None => Err(readback_error("the map callback was dropped".into())),
    };
    let bytes = match mapped {
        Ok(()) => {
            let bytes = buffer
                .get_mapped_range(..)
                .map(|range| range.to_vec())
                .map_err(|e| readback_error(e.to_string()));
            buffer.unmap();
            bytes
        }
        Err(e) => Err(e),
    };
    // A map that failed because the device went away says so.
    gpu.check_lost()?;
    polled?;
    bytes
}

impl GpuTensor {
    /// Uploads `data` as a tensor of `shape`. NaN and infinities are refused
    /// ([`Error::NonFinite`]): they would silently poison every later step.
    pub fn from_slice(gpu: &Gpu, what: &str, data: &[f32], shape: &[usize]) -> Result<Self> {
        let n = element_count(what, shape)?;
        if data.len() != n {
            return Err(Error::shape(what, shape, &[data.len()]));
        }
        if let Some(axis) = shape.iter().position(|&d| d == 0) {
            return Err(Error::ZeroSize {
                what: format!("{what} axis {axis}"),
            });
        }
        check_finite(what, data)?;
        Ok(Self {
            gpu: gpu.clone(),
            buffer: storage_buffer_with(gpu, what, data)?,
            offset: 0,
            shape: shape.to_vec(),
            version: Arc::default(),
        })
    }

    /// A tensor of zeros.
    pub fn zeros(gpu: &Gpu, what: &str, shape: &[usize]) -> Result<Self> {
        let n = element_count(what, shape)?;
        Ok(Self {
            gpu: gpu.clone(),
            buffer: storage_buffer(gpu, what, n)?,
            offset: 0,
            shape: shape.to_vec(),
            version: Arc::default(),
        })
    }

    /// A view of `shape` on an app's `buffer` (made on `gpu`'s device),
    /// starting `offset` bytes in: the passes read and write it in place,
    /// with no copy to the host. The buffer needs the usages of
    /// [`TENSOR_USAGE`]; `offset` must be a multiple of the device's
    /// `min_storage_buffer_offset_alignment` (256 on many GPUs), and the
    /// view must end inside the buffer. The values are not checked for NaN
    /// (they never pass the host). Kernels bind a view at its offset; wgpu
    /// refuses a buffer that one kernel both writes and reads through two
    /// bindings, so gradients need buffers apart from the tensors they are
    /// computed from (refused with an error otherwise).
    pub fn from_buffer(
        gpu: &Gpu,
        buffer: &wgpu::Buffer,
        offset: u64,
        shape: &[usize],
    ) -> Result<Self> {
        let what = "app buffer view";
        let missing = TENSOR_USAGE - buffer.usage();
        if !missing.is_empty() {
            return Err(Error::config(
                what,
                format!(
                    "the buffer lacks the usages {missing:?} (a tensor's buffer needs {TENSOR_USAGE:?})"
                ),
            ));
        }
        let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
        if !offset.is_multiple_of(align) {
            return Err(Error::config(
                what,
                format!(
                    "offset {offset} is not a multiple of the device's \
                     min_storage_buffer_offset_alignment ({align})"
                ),
            ));
        }
        if let Some(axis) = shape.iter().position(|&d| d == 0) {
            return Err(Error::ZeroSize {
                what: format!("{what} axis {axis}"),
            });
        }
        let bytes = shape
            .iter()
            .try_fold(4u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        gpu.check_storage_binding(what, bytes)?;
        if offset.saturating_add(bytes) > buffer.size() {
            return Err(Error::config(
                what,
                format!(
                    "{shape:?} f32 at offset {offset} takes {bytes} bytes, past the end of a \
                     {}-byte buffer",
                    buffer.size()
                ),
            ));
        }
        Ok(Self {
            gpu: gpu.clone(),
            buffer: buffer.clone(),
            offset,
            shape: shape.to_vec(),
            version: Arc::default(),
        })
    }

    /// Overwrites the tensor with `data` (same length, finite): a new batch
    /// into a buffer the bind groups already refer to.
    pub fn write(&self, data: &[f32]) -> Result<()> {
        self.write_as("tensor write", data)
    }

    /// [`GpuTensor::write`], naming the data `what` in errors.
    pub(crate) fn write_as(&self, what: &str, data: &[f32]) -> Result<()> {
        if data.len() != self.len() {
            return Err(Error::shape(what, &self.shape, &[data.len()]));
        }
        check_finite(what, data)?;
        self.gpu
            .queue()
            .write_buffer(&self.buffer, self.offset, bytemuck::cast_slice(data));
        self.bump();
        Ok(())
    }

    /// How many times the values were written in place through the crate
    /// (`write`, an optimizer step); shared by clones. A view's writes by
    /// the app itself are not seen.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Counts an in-place write.
    pub(crate) fn bump(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// Checks that the tensor lives on `gpu`: `what` names it in the error,
    /// `owner` names what it was given to (a layer, an optimizer).
    pub(crate) fn check_device(&self, gpu: &Gpu, what: &str, owner: &str) -> Result<()> {
        if !self.gpu.same_device(gpu) {
            return Err(Error::config(
                what,
                format!("lives on a different device than the {owner}"),
            ));
        }
        Ok(())
    }

    /// [`GpuTensor::check_device`], then that the shape is `expected`.
    pub(crate) fn check(
        &self,
        gpu: &Gpu,
        what: &str,
        owner: &str,
        expected: &[usize],
    ) -> Result<()> {
        self.check_device(gpu, what, owner)?;
        if self.shape != expected {
            return Err(Error::shape(what, expected, &self.shape));
        }
        Ok(())
    }

    /// The same values (sharing the buffer) with another shape of the same
    /// number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if element_count("reshape", shape)? != self.len() {
            return Err(Error::shape("reshape", &self.shape, shape));
        }
        Ok(Self {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of elements: the product of the shape.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage buffer holding the values (from [`GpuTensor::offset`]
    /// on).
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
    /// Byte offset of the first value in [`GpuTensor::buffer`] (0 but for
    /// views made by [`GpuTensor::from_buffer`]).
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Bytes the values take: `4 * len`.
    pub fn byte_len(&self) -> u64 {
        self.len() as u64 * 4
    }
    /// Refuses this tensor, which a kernel writes (`what`), sharing a
    /// buffer with `read`, which the same kernel reads (`read_what`): wgpu
    /// refuses one buffer bound both ways in one dispatch.
    pub(crate) fn check_apart_from(
        &self,
        what: &str,
        read: &GpuTensor,
        read_what: &str,
    ) -> Result<()> {
        if self.buffer != read.buffer {
            return Ok(());
        }
        Err(Error::config(
            what,
            format!(
                "shares one buffer with {read_what}; a kernel cannot write one buffer while it \
                 reads another binding of it: keep gradients in buffers of their own"
            ),
        ))
    }

    /// Records a copy of the tensor into `dst` from byte `dst_offset`.
    pub(crate) fn copy_to(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dst: &wgpu::Buffer,
        dst_offset: u64,
    ) {
        encoder.copy_buffer_to_buffer(&self.buffer, self.offset, dst, dst_offset, self.byte_len());
    }
    /// The device the tensor lives on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Copies the tensor back to the host. The future resolves once the
    /// GPU's work is done (on native wgpu its poll waits on this thread).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        let bytes = self.len() as u64 * 4;
        let staging = self.gpu.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .gpu
            .device()
            .create_command_encoder(&Default::default());
        self.copy_to(&mut encoder, &staging, 0);
        self.gpu.queue().submit([encoder.finish()]);
        let bytes = read_mapped(&self.gpu, &staging, &format!("tensor {:?}", self.shape)).await?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Blocking [`GpuTensor::to_vec_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        pollster::block_on(self.to_vec_async())
    }
}
