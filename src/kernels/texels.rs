//! A matrix kept as texels (`subgroup/texels.wgsl`, `repack/pack_texels.wgsl`): what the
//! subgroup step kernels read their weights from. On llvmpipe a texel
//! fetch has no per-lane branch, where a storage-buffer load does; the
//! weights of one step's products load about twice as fast
//! (BENCHMARKS.md, "Weights as texels").

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{elementwise_grid, Bound, Dispatch};
use super::{precision_constants, Kernel, WgslTwin};
use crate::config::Precision;
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Four columns per texel: f32, or f16 for the weights of an f16 layer
/// (the kernels read either as f32).
pub fn texel_format(precision: Precision) -> wgpu::TextureFormat {
    match precision {
        Precision::F32 => wgpu::TextureFormat::Rgba32Float,
        Precision::F16 => wgpu::TextureFormat::Rgba16Float,
    }
}
/// log2 of the texture's width (`TEXEL_ROW_SHIFT` in `subgroup/texels.wgsl`): a power
/// of two, so the kernels find a texel with a shift and a mask.
pub const TEXEL_ROW_SHIFT: u32 = 12;
/// The texture's width in texels.
pub const TEXEL_ROW: u32 = 1 << TEXEL_ROW_SHIFT;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct PackParams {
    pub rows: u32,
    pub cols: u32,
    pub per_row: u32,
    pub grid_width: u32,
    pub width: u32,
    pub offset: u32,
    pub ld: u32,
    pub transposed: u32,
}

impl WgslTwin for PackParams {
    const WGSL_NAME: &'static str = "PackParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("rows", offset_of!(Self, rows)),
            ("cols", offset_of!(Self, cols)),
            ("per_row", offset_of!(Self, per_row)),
            ("grid_width", offset_of!(Self, grid_width)),
            ("width", offset_of!(Self, width)),
            ("offset", offset_of!(Self, offset)),
            ("ld", offset_of!(Self, ld)),
            ("transposed", offset_of!(Self, transposed)),
        ]
    }
}

impl PackParams {
    /// Packs `rows` rows of a `cols`-column matrix stored as `layout` (0
    /// rows packs nothing), on a grid `grid_width` invocations wide (see
    /// `pack_grid`).
    pub fn new(rows: usize, cols: usize, layout: SourceLayout, grid_width: u32) -> Self {
        Self {
            rows: rows as u32,
            cols: cols as u32,
            per_row: TexelMatrix::per_row(cols) as u32,
            grid_width,
            width: TEXEL_ROW,
            offset: layout.offset as u32,
            ld: layout.ld as u32,
            transposed: layout.transposed.into(),
        }
    }
}

/// The grid, and its width, of a packing of `[rows, cols]`: one
/// invocation per texel.
pub(crate) fn pack_grid(gpu: &Gpu, rows: usize, cols: usize) -> ([u32; 3], u32) {
    elementwise_grid(gpu, (rows * TexelMatrix::per_row(cols)) as u64)
}

/// Where element `(r, c)` of a matrix sits in its buffer:
/// `offset + r * ld + c`, or `offset + c * ld + r` when `transposed`.
#[derive(Debug, Clone, Copy)]
pub struct SourceLayout {
    pub offset: usize,
    pub ld: usize,
    pub transposed: bool,
}

impl SourceLayout {
    /// Row-major with `cols` columns.
    pub fn dense(cols: usize) -> Self {
        Self {
            offset: 0,
            ld: cols,
            transposed: false,
        }
    }
}

/// A row-major `[rows, cols]` f32 matrix as texels: texel `n = r *
/// per_row + q` holds columns `4q..4q+3` of row `r` (zeros past `cols`) at
/// `(n mod TEXEL_ROW, n / TEXEL_ROW)`.
#[derive(Clone)]
pub struct TexelMatrix {
    #[cfg_attr(not(test), allow(dead_code))]
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    rows: usize,
    cols: usize,
    /// What the texels and the buffers packed into them hold.
    precision: Precision,
}

impl TexelMatrix {
    /// Texels per row of a matrix with `cols` columns.
    pub fn per_row(cols: usize) -> usize {
        cols.div_ceil(4)
    }

    /// The texture's height in texels for `[rows, cols]`.
    fn height(rows: usize, cols: usize) -> u64 {
        let texels = (rows.max(1) * Self::per_row(cols.max(1))) as u64;
        texels.div_ceil(u64::from(TEXEL_ROW))
    }

    /// Whether `[rows, cols]` fits the device's texture size limit.
    pub fn fits(gpu: &Gpu, rows: usize, cols: usize) -> bool {
        let limit = gpu.limits().max_texture_dimension_2d;
        TEXEL_ROW <= limit && Self::height(rows, cols) <= u64::from(limit)
    }

    /// A texture for `[rows, cols]`, or an error when it would pass the
    /// device's texture size limit (see [`TexelMatrix::fits`]).
    pub fn new(gpu: &Gpu, what: &str, rows: usize, cols: usize) -> Result<Self> {
        Self::with_precision(gpu, what, rows, cols, Precision::F32)
    }

    /// [`TexelMatrix::new`] holding `precision` values, packed from a
    /// buffer of `precision` values.
    pub fn with_precision(
        gpu: &Gpu,
        what: &str,
        rows: usize,
        cols: usize,
        precision: Precision,
    ) -> Result<Self> {
        let height = Self::height(rows, cols);
        let limit = u64::from(gpu.limits().max_texture_dimension_2d);
        if !Self::fits(gpu, rows, cols) {
            return Err(Error::OverLimit {
                what: format!("{what} as texels ({TEXEL_ROW} wide, {height} high)"),
                requested: height,
                limit_name: "max_texture_dimension_2d",
                limit,
            });
        }
        let texture = gpu.scoped(&format!("allocating {what} as texels"), || {
            gpu.create_texture(&wgpu::TextureDescriptor {
                label: Some(what),
                size: wgpu::Extent3d {
                    width: TEXEL_ROW,
                    height: height as u32,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: texel_format(precision),
                usage: wgpu::TextureUsages::TEXTURE_BINDING
                    | wgpu::TextureUsages::STORAGE_BINDING
                    | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            })
        })?;
        let view = texture.create_view(&Default::default());
        Ok(Self {
            texture,
            view,
            rows,
            cols,
            precision,
        })
    }

    pub fn view(&self) -> &wgpu::TextureView {
        &self.view
    }

    #[cfg(test)]
    pub fn texture(&self) -> &wgpu::Texture {
        &self.texture
    }

    /// The dispatch that packs `src` (row-major `[rows, cols]`, f32 or
    /// f16 as the matrix's precision) into these texels.
    pub fn pack(&self, gpu: &Gpu, src: &wgpu::Buffer) -> Result<Dispatch> {
        self.pack_from(gpu, src, SourceLayout::dense(self.cols))
    }

    /// [`TexelMatrix::pack`] from any strided layout of `src`.
    pub fn pack_from<'a>(
        &self,
        gpu: &Gpu,
        src: impl Into<Bound<'a>>,
        layout: SourceLayout,
    ) -> Result<Dispatch> {
        let (groups, grid_width) = pack_grid(gpu, self.rows, self.cols);
        let params = PackParams::new(self.rows, self.cols, layout, grid_width);
        Dispatch::with_resources(
            gpu,
            Kernel::PackTexels,
            &precision_constants(self.precision),
            &params,
            vec![
                ("src", src.into().resource()),
                ("dst", wgpu::BindingResource::TextureView(&self.view)),
            ],
            groups,
        )
    }
}
