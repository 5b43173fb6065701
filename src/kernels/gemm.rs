//! `gemm/gemm.wgsl`: `C = A · Bᵀ + bias`, the input projection of all steps.

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{Bound, Dispatch};
use super::reduce::{column_sums, Columns};
use super::texels::{SourceLayout, TexelMatrix};
use super::{Kernel, WgslTwin, LOOP_BUDGET};
use crate::error::Result;
use crate::gpu::tensor::storage_buffer;
use crate::gpu::{GemmPath, Gpu, GEMM_BUSY_GROUPS, GEMM_K_PER_SPLIT};

/// Output tile edge of one workgroup (see `TILE` in the shader).
pub const TILE: u32 = 64;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct GemmParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// Element offset of A's first element.
    pub a_offset: u32,
    /// Distance between A's stored rows; 0 means dense (`k`, or `m` when A is
    /// stored transposed).
    pub lda: u32,
    /// Element offset of C's first element.
    pub c_offset: u32,
    /// `gemm_dot` split-K (filled in by [`gemm`]).
    pub k_split: u32,
    pub split_stride: u32,
    /// The [`GemmLayout`], 0 or 1 each (filled in by [`gemm`]).
    pub trans_a: u32,
    pub trans_b: u32,
    pub accumulate: u32,
    pub _pad0: u32,
}

impl GemmParams {
    /// A dense product of `[m, k]` by `[k, n]`.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            ..Default::default()
        }
    }
}

impl WgslTwin for GemmParams {
    const WGSL_NAME: &'static str = "GemmParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("m", offset_of!(Self, m)),
            ("n", offset_of!(Self, n)),
            ("k", offset_of!(Self, k)),
            ("a_offset", offset_of!(Self, a_offset)),
            ("lda", offset_of!(Self, lda)),
            ("c_offset", offset_of!(Self, c_offset)),
            ("k_split", offset_of!(Self, k_split)),
            ("split_stride", offset_of!(Self, split_stride)),
            ("trans_a", offset_of!(Self, trans_a)),
            ("trans_b", offset_of!(Self, trans_b)),
            ("accumulate", offset_of!(Self, accumulate)),
            ("_pad0", offset_of!(Self, _pad0)),
        ]
    }
}

/// How the GEMM reads its operands and writes its result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GemmLayout {
    /// A is stored `[K, M]` (its transpose) instead of `[M, K]`.
    pub trans_a: bool,
    /// B is stored `[K, N]` instead of `[N, K]`.
    pub trans_b: bool,
    /// Add into C instead of overwriting it.
    pub accumulate: bool,
}

impl GemmLayout {
    /// `params` with this layout's flags.
    fn apply(self, params: GemmParams) -> GemmParams {
        GemmParams {
            trans_a: self.trans_a.into(),
            trans_b: self.trans_b.into(),
            accumulate: self.accumulate.into(),
            ..params
        }
    }
}

/// Workgroups needed for an `m x n` output.
pub fn gemm_groups(m: u32, n: u32) -> [u32; 3] {
    [n.div_ceil(TILE), m.div_ceil(TILE), 1]
}

/// The output block of one `gemm_texels` workgroup (`BLOCK_ROWS` and
/// `BLOCK_COLS` in the shader).
const SUBGROUP_BLOCK_ROWS: u32 = 64;
const SUBGROUP_BLOCK_COLS: u32 = 32;

/// One GEMM ready to record: `c[0..m*n] (+)= a[a_offset..] · bᵀ + bias[n]`
/// with the operand layouts of [`GemmLayout`]. Big products use 64x64
/// workgroup tiles on GPUs, 64x32 subgroup blocks on CPU adapters with
/// 8-lane subgroups and 8x8 register blocks on other CPU adapters; thin or
/// few-tile ones 4x4 blocks. Long K is split into ranges whose slices are
/// then summed into C. The caller has checked the buffer sizes against the
/// limits.
pub fn gemm<'a>(
    gpu: &Gpu,
    params: GemmParams,
    layout: GemmLayout,
    a: impl Into<Bound<'a>>,
    b: impl Into<Bound<'a>>,
    bias: impl Into<Bound<'a>>,
    c: impl Into<Bound<'a>>,
) -> Result<Dispatch> {
    let (a, b, bias, c) = (a.into(), b.into(), bias.into(), c.into());
    let mut params = params;
    if params.lda == 0 {
        params.lda = if layout.trans_a { params.m } else { params.k };
    }
    let tiles = gemm_groups(params.m, params.n);
    let max_groups = gpu.limits().max_compute_workgroups_per_dimension;
    // No invocation loops over more K than its loop budget allows:
    // gemm_nt runs about 21 iterations per 16 values of K, the dot kernels up
    // to 5 per value (if their inner loops are not unrolled), gemm_texels
    // one per 4 values.
    let budget_splits = |k_per_invocation: usize| params.k.div_ceil(k_per_invocation as u32);
    // Split K until the grid has GEMM_BUSY_GROUPS workgroups (or K runs out).
    let busy_splits = |groups: u32, k_per_invocation: usize| {
        GEMM_BUSY_GROUPS
            .div_ceil(groups)
            .min(params.k.div_ceil(GEMM_K_PER_SPLIT))
            .max(budget_splits(k_per_invocation))
            .max(1)
    };
    let subgroup_grid = [
        params.n.div_ceil(SUBGROUP_BLOCK_COLS),
        params.m.div_ceil(SUBGROUP_BLOCK_ROWS),
    ];
    let (m, n, k) = (params.m as usize, params.n as usize, params.k as usize);
    // The first of the tuning's candidates that the device's limits allow.
    let fits = |path: GemmPath| match path {
        GemmPath::Texels => {
            TexelMatrix::fits(gpu, m, k)
                && TexelMatrix::fits(gpu, n, k)
                && subgroup_grid.iter().all(|&g| g <= max_groups)
        }
        GemmPath::Dot4 | GemmPath::Dot8 => {
            let edge = if path == GemmPath::Dot4 { 4 } else { 8 };
            u64::from(params.m.div_ceil(edge)) * u64::from(params.n.div_ceil(edge))
                <= u64::from(max_groups) * 256
        }
        GemmPath::Tiled => true,
    };
    let path = gpu
        .tuning()
        .gemm_candidates(params.m, params.n, params.k, tiles[0] * tiles[1])
        .into_iter()
        .find(|&p| fits(p))
        .unwrap_or(GemmPath::Tiled);
    let (kernel, groups_xy, splits) = match path {
        GemmPath::Texels => {
            let groups = subgroup_grid[0] * subgroup_grid[1];
            (
                Kernel::GemmTexels,
                subgroup_grid,
                busy_splits(groups, LOOP_BUDGET),
            )
        }
        GemmPath::Dot4 | GemmPath::Dot8 => {
            let (kernel, edge) = if path == GemmPath::Dot4 {
                (Kernel::GemmDot, 4)
            } else {
                (Kernel::GemmDot8, 8)
            };
            let blocks = params.m.div_ceil(edge) * params.n.div_ceil(edge);
            let groups_x = blocks.div_ceil(256);
            (
                kernel,
                [groups_x, 1],
                busy_splits(groups_x, LOOP_BUDGET / 4),
            )
        }
        GemmPath::Tiled => (
            Kernel::GemmNt,
            [tiles[0], tiles[1]],
            budget_splits(LOOP_BUDGET).max(1),
        ),
    };
    // The split index is workgroup z in gemm_nt and gemm_texels, global y
    // in the dot kernels.
    let grid = |splits: u32| match kernel {
        Kernel::GemmNt | Kernel::GemmTexels => [groups_xy[0], groups_xy[1], splits],
        _ => [groups_xy[0], splits, 1],
    };
    params.k_split = params.k.div_ceil(splits);
    // The operands as texels, packed just before the product.
    let mut packs: Option<(Dispatch, Vec<TexelMatrix>)> = None;
    if kernel == Kernel::GemmTexels {
        // gemm_texels sums whole texels of four k per split.
        params.k_split = params.k_split.next_multiple_of(4);
        let a_texels = TexelMatrix::new(gpu, "GEMM A", m, k)?;
        let b_texels = TexelMatrix::new(gpu, "GEMM B", n, k)?;
        let a_layout = SourceLayout {
            offset: params.a_offset as usize,
            ld: params.lda as usize,
            transposed: layout.trans_a,
        };
        let b_layout = SourceLayout {
            offset: 0,
            ld: if layout.trans_b { n } else { k },
            transposed: layout.trans_b,
        };
        let pack = a_texels
            .pack_from(gpu, a, a_layout)?
            .then(b_texels.pack_from(gpu, b, b_layout)?);
        packs = Some((pack, vec![a_texels, b_texels]));
    }
    let with_texels = |product: Dispatch| match packs {
        Some((pack, matrices)) => {
            let views = matrices.iter().map(|m| m.view().clone()).collect();
            pack.then(product.reading_texels(gpu, views))
        }
        None => product,
    };
    if splits == 1 {
        return Ok(with_texels(Dispatch::new(
            gpu,
            kernel,
            &[],
            &layout.apply(params),
            &[("a", a), ("b", b), ("bias", bias), ("c", c)],
            grid(1),
        )?));
    }
    // Each split writes its own slice of a scratch; the column sums of the
    // [splits, m*n] slices give C (and add to it when accumulating).
    let len = params.m as usize * params.n as usize;
    let scratch = storage_buffer(gpu, "split-K slices", splits as usize * len)?;
    let slices = GemmParams {
        c_offset: 0,
        split_stride: len as u32,
        ..params
    };
    let unsplit = GemmLayout {
        accumulate: false,
        ..layout
    };
    let product = with_texels(Dispatch::new(
        gpu,
        kernel,
        &[],
        &unsplit.apply(slices),
        &[("a", a), ("b", b), ("bias", bias), ("c", (&scratch).into())],
        grid(splits),
    )?);
    let sum = column_sums(
        gpu,
        (splits as usize, len),
        Columns::dense(&scratch, len),
        None,
        layout.accumulate,
        c,
        params.c_offset as usize,
    )?;
    Ok(product.then(sum).keeping(scratch))
}

/// Runs one GEMM on host data and reads C back (tests).
#[cfg(test)]
/// `c_init` is C's initial content (used with `layout.accumulate`).
pub fn gemm_host(
    gpu: &Gpu,
    (m, n, k): (usize, usize, usize),
    layout: GemmLayout,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c_init: &[f32],
) -> Result<Vec<f32>> {
    use crate::gpu::tensor::{storage_buffer_with, GpuTensor};
    let a_buf = storage_buffer_with(gpu, "A", a)?;
    let b_buf = storage_buffer_with(gpu, "B", b)?;
    let bias_buf = storage_buffer_with(gpu, "bias", bias)?;
    let c = GpuTensor::from_slice(gpu, "C", c_init, &[m, n])?;
    let params = GemmParams::new(m, n, k);
    gemm(gpu, params, layout, &a_buf, &b_buf, &bias_buf, c.buffer())?.submit_alone(gpu, "gemm")?;
    c.to_vec()
}
