//! The layer wavefront: an inference forward of a stack whose dispatch `w`
//! runs step `w - z` of every layer `z` (`shaders/wavefront.wgsl`). An
//! L-layer stack then waits on `T + L - 1` dependent dispatches instead of
//! `L * T`, and each dispatch has L layers' work in flight: what a GPU
//! needs when one layer's step (a small `B * H`) cannot fill it. The price:
//! layers above the first compute their input projection inside each step
//! instead of in one GEMM over the whole sequence.

use crate::cells::{cell_family, function_constants, weight_buffer, InputProjection, Layer};
use crate::config::Precision;
use crate::config::{Direction, Schedule, StackConfig};
use crate::error::Result;
use crate::gpu::recorder::Recorder;
use crate::gpu::tensor::{storage_buffer, GpuTensor};
use crate::gpu::Gpu;
use crate::kernels::dispatch::Dispatch;
use crate::kernels::repack::interleave_gates_at;
use crate::kernels::sequence::gather_steps;
use crate::kernels::sequence::{sequence_copy, SeqParams};
use crate::kernels::step::{rows_constant, step_groups, PerStepDispatch};
use crate::kernels::wavefront::WaveParams;
use crate::kernels::{flag, precision_constants, Kernel};

/// A copy recorded before every forward: all of `src` into `dst` at `at`.
struct BufferCopy {
    src: wgpu::Buffer,
    dst: wgpu::Buffer,
    at: u64,
    bytes: u64,
}

/// Every buffer and dispatch of one wavefront forward (`L >= 2` layers,
/// one direction), kept for the next call like a layered plan.
pub(crate) struct WavefrontPlan {
    seq: usize,
    batch: usize,
    layers: usize,
    hidden: usize,
    /// Layer 0's input in step order, where it needs reordering.
    gather: Option<(Dispatch, wgpu::Buffer)>,
    /// Layer 0's input GEMMs.
    projection: InputProjection,
    /// Rebuild the stacked weights from the layers' parameters. They run
    /// in every call, so that a changed parameter (an optimizer step, a
    /// `repack`) is always seen.
    repack: Vec<Dispatch>,
    /// The biases and cell extras of every layer into the stacked
    /// buffers the waves read, every call for the same reason.
    copies: Vec<BufferCopy>,
    /// `[L, T+1, B, H]`.
    hs: wgpu::Buffer,
    /// LSTM: `[L, B, H]`.
    c: Option<wgpu::Buffer>,
    waves: PerStepDispatch,
    scatter: Dispatch,
    /// What the waves bind: the stacked weights, biases and extras.
    _bound: [wgpu::Buffer; 4],
}

impl WavefrontPlan {
    /// Plans a forward of `layers` (one per layer, one direction) over
    /// `input` (layer 0's, in the stack's layout) into `output`.
    pub fn new(
        gpu: &Gpu,
        config: &StackConfig,
        layers: &[Layer],
        (seq, batch): (usize, usize),
        (input, lengths, output): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
    ) -> Result<Self> {
        Schedule::Wavefront.check(config)?;
        let cell = config.layer.cell;
        let n = layers.len();
        let h = config.layer.hidden_size;
        let rows = config.layer.gate_rows();
        let precision = layers[0].precision();
        let reverse = config.direction == Direction::Reverse;
        let gather = gather_steps(
            gpu,
            lengths,
            input,
            (seq, batch, config.layer.input_size),
            (config.batch_first, reverse),
        )?;
        let steps_in = gather.as_ref().map_or(input, |(_, b)| b);
        let projection = layers[0].input_projection(seq, batch, steps_in, false)?;

        // Weights: every layer's W_hh, then W_ih of layers 1.., as [H, H]
        // blocks of 4-slot gate vectors.
        let block = h * h * 4;
        let w_hh = weight_buffer(gpu, "wavefront W_hh [L, H, H, 4]", n * block, precision)?;
        let w_ih = storage_buffer(gpu, "wavefront W_ih [L-1, H, H, 4]", (n - 1) * block)?;
        let Some(family) = cell_family(cell).wavefront() else {
            // Schedule::check refuses these configurations first.
            return Err(crate::error::Error::config(
                "schedule wavefront",
                format!("a {} cannot run the layer wavefront", cell.name()),
            ));
        };
        let gates = family.gates;
        let mut repack = Vec::new();
        for (z, layer) in layers.iter().enumerate() {
            let params = &layer.params;
            repack.push(interleave_gates_at(
                gpu,
                params.weight_hh.buffer(),
                (h, h),
                gates,
                4,
                (&w_hh, precision),
                z * block,
            )?);
            if z > 0 {
                repack.push(interleave_gates_at(
                    gpu,
                    params.weight_ih.buffer(),
                    (h, h),
                    gates,
                    4,
                    (&w_ih, Precision::F32),
                    (z - 1) * block,
                )?);
            }
        }
        // Biases of layers 1.. (layer 0's are in its GEMM) and the extras:
        // LSTM peepholes [3H] (zeros for a plain LSTM), GRU b_hn [H].
        let extra_len = family.extras_per_unit * h;
        let bias = storage_buffer(gpu, "wavefront biases [L-1, G*H]", (n - 1) * rows)?;
        let extra = storage_buffer(gpu, "wavefront extras [L, ...]", n * extra_len)?;
        let mut copies = Vec::new();
        for (z, layer) in layers.iter().enumerate() {
            if z > 0 {
                let bytes = (rows * 4) as u64;
                copies.push(BufferCopy {
                    src: layer.folded_bias().clone(),
                    dst: bias.clone(),
                    at: (z - 1) as u64 * bytes,
                    bytes,
                });
            }
            if let (Some(src), true) = (&layer.extra, extra_len > 0) {
                let bytes = (extra_len * 4) as u64;
                copies.push(BufferCopy {
                    src: src.clone(),
                    dst: extra.clone(),
                    at: z as u64 * bytes,
                    bytes,
                });
            }
        }

        let hs = storage_buffer(
            gpu,
            "wavefront states [L, T+1, B, H]",
            n * (seq + 1) * batch * h,
        )?;
        let c = cell
            .has_cell_state()
            .then(|| storage_buffer(gpu, "wavefront cell states [L, B, H]", n * batch * h))
            .transpose()?;
        let unused;
        let c_binding = match &c {
            Some(c) => c,
            None => {
                unused = storage_buffer(gpu, "unused binding", 1)?;
                &unused
            }
        };
        let chunk = projection.chunk;
        let params: Vec<WaveParams> = (0..seq + n - 1)
            .map(|w| WaveParams {
                batch: batch as u32,
                units: h as u32,
                layers: n as u32,
                wave: w as u32,
                seq: seq as u32,
                xg_offset: ((w % chunk) * batch * rows) as u32,
                ..Default::default()
            })
            .collect();
        let mut constants = family.constants;
        constants.extend(function_constants(&config.slot_config(0, 0)));
        constants.extend([
            ("TILED", flag(gpu.tuning().step_tiles())),
            ("TRAIN", 0.0),
            rows_constant(batch),
        ]);
        constants.extend(precision_constants(precision));
        let [x, y, _] = step_groups(h as u32, batch as u32);
        let waves = PerStepDispatch::new(
            gpu,
            Kernel::WavefrontStep,
            &constants,
            &params,
            &[
                &projection.xg,
                &w_hh,
                &w_ih,
                &bias,
                &extra,
                lengths,
                &hs,
                c_binding,
            ],
            &[],
            [x, y, n as u32],
        )?;
        let scatter = sequence_copy(
            gpu,
            Kernel::ScatterOutput,
            false,
            SeqParams {
                seq: seq as u32,
                batch: batch as u32,
                width: h as u32,
                stride: h as u32,
                // The top layer's slot 1 (h after step 0).
                src_slot: ((n - 1) * (seq + 1) + 1) as u32,
                batch_first: u32::from(config.batch_first),
                reverse: u32::from(reverse),
                ..Default::default()
            },
            lengths,
            &hs,
            output,
        )?;
        Ok(Self {
            seq,
            batch,
            layers: n,
            hidden: h,
            gather,
            projection,
            repack,
            copies,
            hs,
            c,
            waves,
            scatter,
            _bound: [w_hh, w_ih, bias, extra],
        })
    }

    /// Records the forward: the weight rebuild, the initial states (`h0`
    /// `[L, B, H]`, `c0`, or zeros), the waves with layer 0's GEMMs before
    /// the waves that read them, the output, and `h_n` / `c_n`.
    pub fn record(
        &self,
        rec: &mut Recorder<'_>,
        (h0, c0): (Option<&GpuTensor>, Option<&GpuTensor>),
        (h_n, c_n): (&GpuTensor, Option<&GpuTensor>),
    ) {
        let encoder = rec.encoder();
        let block = (self.batch * self.hidden * 4) as u64;
        let layer_stride = (self.seq as u64 + 1) * block;
        for copy in &self.copies {
            encoder.copy_buffer_to_buffer(&copy.src, 0, &copy.dst, copy.at, copy.bytes);
        }
        for z in 0..self.layers as u64 {
            match h0 {
                Some(h0) => encoder.copy_buffer_to_buffer(
                    h0.buffer(),
                    h0.offset() + z * block,
                    &self.hs,
                    z * layer_stride,
                    block,
                ),
                None => encoder.clear_buffer(&self.hs, z * layer_stride, Some(block)),
            }
        }
        if let Some(c) = &self.c {
            match c0 {
                Some(c0) => c0.copy_to(encoder, c, 0),
                None => encoder.clear_buffer(c, 0, None),
            }
        }

        let waves = self.seq + self.layers - 1;
        let chunk = self.projection.chunk;
        // Each GEMM chunk's waves: from its first step to the next chunk's.
        let segments: Vec<(&Dispatch, std::ops::Range<usize>)> = self
            .projection
            .gemms
            .iter()
            .map(|(range, gemm)| {
                let end = if range.end >= self.seq {
                    waves
                } else {
                    range.end
                };
                (gemm, range.start..end)
            })
            .collect();
        debug_assert!(segments.iter().all(|(_, r)| r.start % chunk == 0));
        rec.run("weight rebuild", |pass| {
            self.repack.iter().for_each(|d| d.record(pass))
        });
        if let Some((gather, _)) = &self.gather {
            rec.run("gather (step order)", |pass| gather.record(pass));
        }
        for (gemm, range) in &segments {
            rec.run("input GEMM", |pass| gemm.record(pass));
            rec.run("wavefront steps", |pass| {
                range.clone().for_each(|w| self.waves.record(pass, w))
            });
        }
        rec.run("scatter (time order)", |pass| self.scatter.record(pass));
        let encoder = rec.encoder();
        for z in 0..self.layers as u64 {
            let last = z * layer_stride + self.seq as u64 * block;
            encoder.copy_buffer_to_buffer(
                &self.hs,
                last,
                h_n.buffer(),
                h_n.offset() + z * block,
                block,
            );
        }
        if let (Some(c), Some(c_n)) = (&self.c, c_n) {
            encoder.copy_buffer_to_buffer(c, 0, c_n.buffer(), c_n.offset(), c.size());
        }
    }
}
