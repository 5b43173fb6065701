//! The per-step kernels (`*_step.wgsl`): one fused dispatch per time step (two
//! for the reset-before GRU), with the step's offsets at a dynamic uniform
//! offset so that one bind group serves the whole sequence.

use std::mem::{offset_of, size_of};
use std::num::NonZeroU64;
use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use super::dispatch::bind_resources;
use super::dispatch::texels_bind_group;
use super::texels::{pack_grid, PackParams, SourceLayout, TexelMatrix};
use super::{flag, precision_constants, Kernel, WgslTwin, IMMEDIATE_PARAMS};
use crate::config::Precision;
use crate::error::{Error, Result};
use crate::gpu::pipelines::CachedPipeline;
use crate::gpu::{Gpu, SUBGROUP_LANES};

/// Hidden units per workgroup (`WG` in `common/common.wgsl`).
pub const UNITS_PER_GROUP: u32 = 64;
/// Batch rows per workgroup (`BT` in `common/common.wgsl`).
pub const ROWS_PER_GROUP: u32 = 4;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct StepParams {
    pub batch: u32,
    pub units: u32,
    pub rec: u32,
    pub step: u32,
    pub xg_offset: u32,
    pub h_prev_offset: u32,
    pub h_out_offset: u32,
    /// Steps one dispatch runs (the persistent kernel); 1 otherwise.
    pub steps: u32,
}

impl WgslTwin for StepParams {
    const WGSL_NAME: &'static str = "StepParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("batch", offset_of!(Self, batch)),
            ("units", offset_of!(Self, units)),
            ("rec", offset_of!(Self, rec)),
            ("step", offset_of!(Self, step)),
            ("xg_offset", offset_of!(Self, xg_offset)),
            ("h_prev_offset", offset_of!(Self, h_prev_offset)),
            ("h_out_offset", offset_of!(Self, h_out_offset)),
            ("steps", offset_of!(Self, steps)),
        ]
    }
}

/// Where step `s` reads and writes (shared by every stage of the step).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOffsets {
    pub xg_offset: u32,
    pub h_prev_offset: u32,
    pub h_out_offset: u32,
}

/// One dispatch of every step: which kernel, its sizes and its buffers
/// (bindings 1.. in order).
pub struct StepStage<'a> {
    pub kernel: Kernel,
    pub constants: Vec<(&'static str, f64)>,
    /// Units this kernel computes (H, or Ho for the projection).
    pub units: u32,
    /// Length of the vector its dot products run over.
    pub rec: u32,
    pub buffers: Vec<&'a wgpu::Buffer>,
    /// The kernel's weights as texels, for its subgroup twin (see
    /// [`per_step_variant`]).
    pub texels: Option<&'a TexelMatrix>,
    /// The row operand of the products, which the subgroup twins may read
    /// as texels.
    pub rows: Option<StageRows<'a>>,
}

/// Where a step stage's products read their rows.
#[derive(Clone, Copy)]
pub enum StageRows<'a> {
    /// h_{t-1}: `hs` `[T+1, B, rec]` at each step's `h_prev_offset`.
    PreviousState(&'a wgpu::Buffer),
    /// A `[B, rec]` block the previous stage wrote (the reset-before GRU's
    /// r*h, the projected LSTM's o*tanh(c)): one block, or in training the
    /// history `[T, B, rec]`.
    History(&'a wgpu::Buffer),
}

/// One kernel dispatched once per step, with each step's params set as
/// immediates before its dispatch, or (devices without them) at a dynamic
/// offset of one uniform array: either way one bind group serves the whole
/// sequence.
pub struct PerStepDispatch {
    pipeline: Arc<CachedPipeline>,
    bind_group: wgpu::BindGroup,
    /// Group 1, for a kernel that reads texels.
    texels_group: Option<wgpu::BindGroup>,
    groups: [u32; 3],
    params: StepParamsSource,
    /// Recorded before this dispatch at every step: the packing of its row
    /// operand into the texels it reads (see [`step_dispatch`]).
    packing: Option<(Box<PerStepDispatch>, TexelMatrix)>,
}

impl PerStepDispatch {
    /// `params[s]` is step `s`'s uniform; `buffers` are bindings 1.. in
    /// order; `texels` are group 1 of a kernel that reads texels.
    pub fn new<P: Pod>(
        gpu: &Gpu,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
        params: &[P],
        buffers: &[&wgpu::Buffer],
        texels: &[&TexelMatrix],
        groups: [u32; 3],
    ) -> Result<Self> {
        let resources = buffers.iter().map(|b| b.as_entire_binding()).collect();
        Self::with_resources(gpu, kernel, constants, params, resources, texels, groups)
    }

    /// [`PerStepDispatch::new`] for any resources (textures too) at
    /// bindings 1...
    pub fn with_resources<P: Pod>(
        gpu: &Gpu,
        kernel: Kernel,
        constants: &[(&'static str, f64)],
        params: &[P],
        resources: Vec<wgpu::BindingResource<'_>>,
        texels: &[&TexelMatrix],
        groups: [u32; 3],
    ) -> Result<Self> {
        // Bound in the order the WGSL declares them (the cell's buffers
        // come in that order); the count is checked here, the kinds by the
        // bind group's validation.
        let declared = kernel.bindings().len() - 1;
        if resources.len() != declared {
            return Err(Error::Wgpu {
                during: format!("binding {}", kernel.label()),
                message: format!(
                    "{} resources given, the kernel declares {declared}",
                    resources.len()
                ),
            });
        }
        gpu.check_dispatch(kernel.label(), groups)?;
        let size = size_of::<P>();
        let immediates = gpu.tuning().immediates();
        // Uniform array entries sit at aligned dynamic offsets.
        let stride = if immediates {
            size
        } else {
            size.next_multiple_of(gpu.limits().min_uniform_buffer_offset_alignment as usize)
        };
        let mut bytes = vec![0u8; stride * params.len().max(1)];
        for (chunk, p) in bytes.chunks_exact_mut(stride).zip(params) {
            chunk[..size].copy_from_slice(bytemuck::bytes_of(p));
        }
        let mut constants = constants.to_vec();
        let params = if immediates {
            constants.push((IMMEDIATE_PARAMS, size as f64));
            StepParamsSource::Immediates { bytes, size }
        } else {
            let uniform = gpu.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("per-step params"),
                contents: &bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            StepParamsSource::Uniform {
                buffer: uniform,
                stride: stride as u32,
            }
        };
        let pipeline = gpu.pipeline(&kernel.spec(), &constants)?;
        let uniform_binding = match &params {
            StepParamsSource::Uniform { buffer, .. } => {
                Some(wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: 0,
                    size: NonZeroU64::new(size as u64),
                }))
            }
            StepParamsSource::Immediates { .. } => None,
        };
        let bind_group = bind_resources(gpu, kernel, &pipeline, uniform_binding, resources);
        debug_assert_eq!(texels.len(), kernel.texel_matrices() as usize);
        let texels_group = pipeline.texels_layout.as_ref().map(|layout| {
            let views: Vec<_> = texels.iter().map(|m| m.view()).collect();
            texels_bind_group(gpu, layout, &views)
        });
        Ok(Self {
            pipeline,
            bind_group,
            texels_group,
            groups,
            params,
            packing: None,
        })
    }

    /// Records the dispatch of step `s`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, s: usize) {
        if let Some((pack, _)) = &self.packing {
            pack.record(pass, s);
        }
        let [x, y, z] = self.groups;
        pass.set_pipeline(&self.pipeline.pipeline);
        match &self.params {
            StepParamsSource::Immediates { bytes, size } => {
                pass.set_bind_group(0, &self.bind_group, &[]);
                pass.set_immediates(0, &bytes[s * size..(s + 1) * size]);
            }
            StepParamsSource::Uniform { stride, .. } => {
                pass.set_bind_group(0, &self.bind_group, &[s as u32 * stride]);
            }
        }
        if let Some(texels) = &self.texels_group {
            pass.set_bind_group(1, texels, &[]);
        }
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Where a [`PerStepDispatch`]'s kernel finds step `s`'s params.
enum StepParamsSource {
    /// `bytes[s*size..(s+1)*size]`, set as immediates before the dispatch.
    Immediates { bytes: Vec<u8>, size: usize },
    /// One uniform array, step `s` at dynamic offset `s * stride`.
    Uniform { buffer: wgpu::Buffer, stride: u32 },
}

/// The workgroup grid of a step kernel computing `units` units of `batch` rows.
pub fn step_groups(units: u32, batch: u32) -> [u32; 3] {
    [
        units.div_ceil(UNITS_PER_GROUP),
        batch.div_ceil(ROWS_PER_GROUP),
        1,
    ]
}

/// The kernel and grid that run per-step `kernel` over `units` x `batch`,
/// and the texels it reads: on CPU adapters with 8-lane subgroups, its
/// subgroup twin where it has one and its weights are given as `texels`
/// (groups of 8 batch rows per workgroup, each row's state shared across
/// lanes by subgroup broadcasts; `LANE_ROWS` and `ROW_GROUPS` are added to
/// `constants`), else `kernel` itself on [`step_groups`].
pub fn per_step_variant<'t>(
    gpu: &Gpu,
    kernel: Kernel,
    units: u32,
    batch: u32,
    constants: &mut Vec<(&'static str, f64)>,
    texels: Option<&'t TexelMatrix>,
) -> (Kernel, [u32; 3], Option<&'t TexelMatrix>) {
    let twin = match kernel {
        // 8 units per workgroup: one per lane.
        Kernel::LstmStep => Some((Kernel::LstmStepSubgroup, SUBGROUP_LANES)),
        Kernel::GruStep => Some((Kernel::GruStepSubgroup, SUBGROUP_LANES)),
        // 16 units per workgroup: two per lane (a texel of r, z, r, z).
        Kernel::GruGates => Some((Kernel::GruGatesSubgroup, 2 * SUBGROUP_LANES)),
        Kernel::GruCandidate => Some((Kernel::GruCandidateSubgroup, 4 * SUBGROUP_LANES)),
        // 32 units or state elements per workgroup: four per lane.
        Kernel::RnnStep => Some((Kernel::RnnStepSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::ProjectionStep => Some((Kernel::ProjectionSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::LstmBackwardStep => Some((Kernel::LstmBackwardSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::LstmBackwardCell => Some((Kernel::LstmBackwardCellSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::GruBackwardStep => Some((Kernel::GruBackwardSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::GruBackwardReset => Some((Kernel::GruBackwardResetSubgroup, 4 * SUBGROUP_LANES)),
        Kernel::RnnBackwardStep => Some((Kernel::RnnBackwardSubgroup, 4 * SUBGROUP_LANES)),
        _ => None,
    };
    match (twin, texels) {
        (Some((twin, units_per_group)), Some(texels)) if gpu.tuning().subgroup_kernels() => {
            let (lane_rows, row_groups) = gpu.tuning().subgroup_rows(batch);
            constants.push(("LANE_ROWS", f64::from(lane_rows)));
            constants.push(("ROW_GROUPS", f64::from(row_groups)));
            let groups = [
                units.div_ceil(units_per_group),
                batch.div_ceil(SUBGROUP_LANES * row_groups),
                1,
            ];
            (twin, groups, Some(texels))
        }
        _ => (kernel, step_groups(units, batch), None),
    }
}

/// The `ROWS` override of `common/common.wgsl`: how many of a workgroup's
/// `ROWS_PER_GROUP` rows can hold data, so that small batches skip the
/// products of rows that only repeat the last one.
pub fn rows_constant(batch: usize) -> (&'static str, f64) {
    ("ROWS", batch.min(ROWS_PER_GROUP as usize) as f64)
}

/// All the step dispatches of one sequence, ready to record: one per step
/// and stage, or (the persistent kernel) one per chunk of steps.
pub struct Steps {
    stages: Vec<PerStepDispatch>,
    /// Persistent: the first step of each chunk, in dispatch order.
    chunk_starts: Option<Vec<usize>>,
}

/// Splits `steps` into the persistent kernel's dispatches: each runs about
/// `units + 2` loop iterations per step, and no invocation may run more
/// than [`super::LOOP_BUDGET`].
pub fn persistent_pieces(
    steps: std::ops::Range<usize>,
    units: usize,
) -> Vec<std::ops::Range<usize>> {
    let per_piece = (super::LOOP_BUDGET / (units + 2)).max(1);
    steps
        .clone()
        .step_by(per_piece)
        .map(|s| s..(s + per_piece).min(steps.end))
        .collect()
}

/// Rows of a batch one persistent workgroup owns (`BT` in `common/common.wgsl`).
const PERSISTENT_ROWS: u32 = ROWS_PER_GROUP;
/// Most hidden units the persistent kernel takes (`SEQ_MAX_UNITS`).
pub const PERSISTENT_MAX_UNITS: usize = 256;

impl Steps {
    /// `offsets[s]` says where step `s` reads and writes; each stage gets its
    /// own per-step params. `train` keeps the histories the backward pass
    /// reads (`TRAIN` in `common/common.wgsl`).
    pub fn new(
        gpu: &Gpu,
        batch: u32,
        offsets: &[StepOffsets],
        stages: Vec<StepStage<'_>>,
        train: bool,
    ) -> Result<Self> {
        let mut dispatches = Vec::new();
        for stage in stages {
            let params: Vec<StepParams> = offsets
                .iter()
                .enumerate()
                .map(|(s, o)| StepParams {
                    batch,
                    units: stage.units,
                    rec: stage.rec,
                    step: s as u32,
                    xg_offset: o.xg_offset,
                    h_prev_offset: o.h_prev_offset,
                    h_out_offset: o.h_out_offset,
                    steps: 1,
                })
                .collect();
            let mut constants = stage.constants;
            constants.push(("TILED", flag(gpu.tuning().step_tiles())));
            constants.push(("TRAIN", flag(train)));
            constants.push(rows_constant(batch as usize));
            let (kernel, groups, weights) = per_step_variant(
                gpu,
                stage.kernel,
                stage.units,
                batch,
                &mut constants,
                stage.texels,
            );
            let block = batch * stage.rec;
            let rows = stage.rows.map(|rows| {
                let (src, what, offsets) = match rows {
                    StageRows::PreviousState(hs) => (
                        hs,
                        "h_{t-1}",
                        offsets.iter().map(|o| Some(o.h_prev_offset)).collect(),
                    ),
                    StageRows::History(history) => (
                        history,
                        "r*h or o*tanh(c)",
                        (0..offsets.len() as u32)
                            .map(|s| Some(if train { s * block } else { 0 }))
                            .collect(),
                    ),
                };
                RowOperand {
                    src,
                    what,
                    batch,
                    cols: stage.rec,
                    ld: stage.rec,
                    offsets,
                }
            });
            dispatches.push(step_dispatch(
                gpu,
                kernel,
                &constants,
                &params,
                &stage.buffers,
                weights,
                rows.as_ref().map(|r| (r, stage.units)),
                groups,
            )?);
        }
        Ok(Self {
            stages: dispatches,
            chunk_starts: None,
        })
    }

    /// The persistent LSTM kernel (`lstm_sequence`, no projection,
    /// `units <= PERSISTENT_MAX_UNITS`; `cell`: its `PEEPHOLE` and
    /// function constants; `train` keeps the backward pass's
    /// histories as [`Steps::new`] does): one dispatch per piece
    /// `(steps, offsets of its first step)` of a chunk; see
    /// [`persistent_pieces`]. Its weights are `buffers[1]`, or on CPU
    /// adapters with the subgroup kernels the layer's `weights` texels.
    pub fn persistent(
        gpu: &Gpu,
        batch: u32,
        units: u32,
        (cell, train): (&[(&'static str, f64)], bool),
        chunks: &[(std::ops::Range<usize>, StepOffsets)],
        buffers: &[&wgpu::Buffer],
        (precision, weights): (Precision, Option<&TexelMatrix>),
    ) -> Result<Self> {
        debug_assert!(units as usize <= PERSISTENT_MAX_UNITS);
        let params: Vec<StepParams> = chunks
            .iter()
            .map(|(range, o)| StepParams {
                batch,
                units,
                rec: units,
                step: range.start as u32,
                xg_offset: o.xg_offset,
                h_prev_offset: o.h_prev_offset,
                h_out_offset: o.h_out_offset,
                steps: range.len() as u32,
            })
            .collect();
        // One invocation per unit, in whole subgroup-sized groups of 32.
        let workgroup = units.next_multiple_of(32);
        let mut constants = cell.to_vec();
        constants.extend([
            ("PROJ", 0.0),
            ("TILED", 0.0),
            ("TRAIN", flag(train)),
            ("SEQ_WG", f64::from(workgroup)),
            rows_constant(batch as usize),
        ]);
        constants.extend(precision_constants(precision));
        let groups = [1, batch.div_ceil(PERSISTENT_ROWS), 1];
        // CPU adapters with the texel kernels read the weights as texels.
        let (kernel, texels) = match weights {
            Some(w) if gpu.tuning().subgroup_kernels() => (Kernel::LstmSequenceTexels, vec![w]),
            _ => (Kernel::LstmSequence, vec![]),
        };
        let stage =
            PerStepDispatch::new(gpu, kernel, &constants, &params, buffers, &texels, groups)?;
        Ok(Self {
            stages: vec![stage],
            chunk_starts: Some(chunks.iter().map(|(r, _)| r.start).collect()),
        })
    }

    /// Records steps `range` of every stage; for the persistent kernel,
    /// `range` is a whole chunk (of its pieces, see [`Steps::persistent`]).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, range: std::ops::Range<usize>) {
        match &self.chunk_starts {
            Some(starts) => {
                for (piece, start) in starts.iter().enumerate() {
                    if range.contains(start) {
                        self.stages[0].record(pass, piece);
                    }
                }
            }
            None => {
                for s in range {
                    for stage in &self.stages {
                        stage.record(pass, s);
                    }
                }
            }
        }
    }
}

/// The row operand of a step kernel's products (h_{t-1} forward, the gate
/// gradients da_i backward): `[batch, cols]` at each step's offset of
/// `src`, rows `ld` apart; a step without one (`None`) packs nothing.
pub struct RowOperand<'a> {
    pub src: &'a wgpu::Buffer,
    pub what: &'static str,
    pub batch: u32,
    pub cols: u32,
    pub ld: u32,
    pub offsets: Vec<Option<u32>>,
}

/// The per-step dispatch of `kernel`. A subgroup twin (two texel
/// matrices: its weights, then its row operand) reads `rows` as texels,
/// packed by a dispatch before every step, where [`Gpu::row_texels`] says
/// so for their length and the product's `outputs` per row; else from
/// their buffer (`ROW_TEXELS` off, the weights bound again as the
/// placeholder).
#[allow(clippy::too_many_arguments)]
pub fn step_dispatch<P: Pod>(
    gpu: &Gpu,
    kernel: Kernel,
    constants: &[(&'static str, f64)],
    params: &[P],
    buffers: &[&wgpu::Buffer],
    weights: Option<&TexelMatrix>,
    rows: Option<(&RowOperand<'_>, u32)>,
    groups: [u32; 3],
) -> Result<PerStepDispatch> {
    let texels: Vec<&TexelMatrix> = weights.into_iter().collect();
    let (Some(weights), 2) = (weights, kernel.texel_matrices()) else {
        return PerStepDispatch::new(gpu, kernel, constants, params, buffers, &texels, groups);
    };
    let (rows, outputs) = rows.expect("a subgroup step kernel is given its row operand");
    let mut constants = constants.to_vec();
    if !gpu
        .tuning()
        .row_texels(rows.cols as usize, outputs as usize)
    {
        constants.push(("ROW_TEXELS", 0.0));
        let texels = [weights, weights];
        return PerStepDispatch::new(gpu, kernel, &constants, params, buffers, &texels, groups);
    }
    constants.push(("ROW_TEXELS", 1.0));
    let matrix = TexelMatrix::new(gpu, rows.what, rows.batch as usize, rows.cols as usize)?;
    let pack = pack_per_step(gpu, rows, &matrix)?;
    let texels = [weights, &matrix];
    let mut dispatch =
        PerStepDispatch::new(gpu, kernel, &constants, params, buffers, &texels, groups)?;
    dispatch.packing = Some((Box::new(pack), matrix));
    Ok(dispatch)
}

/// The dispatch, once per step, that packs `rows` into `matrix`.
fn pack_per_step(
    gpu: &Gpu,
    rows: &RowOperand<'_>,
    matrix: &TexelMatrix,
) -> Result<PerStepDispatch> {
    let (batch, cols) = (rows.batch as usize, rows.cols as usize);
    let (groups, grid_width) = pack_grid(gpu, batch, cols);
    let params: Vec<PackParams> = rows
        .offsets
        .iter()
        .map(|offset| {
            let layout = SourceLayout {
                offset: offset.unwrap_or(0) as usize,
                ld: rows.ld as usize,
                transposed: false,
            };
            // Nothing to pack: no texel is written.
            let packed = if offset.is_some() { batch } else { 0 };
            PackParams::new(packed, cols, layout, grid_width)
        })
        .collect();
    PerStepDispatch::with_resources(
        gpu,
        Kernel::PackStateTexels,
        &[],
        &params,
        vec![
            rows.src.as_entire_binding(),
            wgpu::BindingResource::TextureView(matrix.view()),
        ],
        &[],
        groups,
    )
}
