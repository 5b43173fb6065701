//! `reduce/columns.wgsl`: column sums and column dot products over all steps (the
//! bias and peephole gradients of the backward pass).

use std::mem::offset_of;

use bytemuck::{Pod, Zeroable};

use super::dispatch::{Bound, Dispatch};
use super::{flag, Kernel, WgslTwin, LOOP_BUDGET};
use crate::error::Result;
use crate::gpu::tensor::storage_buffer;
use crate::gpu::Gpu;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct ReduceParams {
    pub rows: u32,
    pub cols: u32,
    pub x_offset: u32,
    pub x_stride: u32,
    pub y_offset: u32,
    pub y_stride: u32,
    pub out_offset: u32,
    pub _pad0: u32,
}

impl WgslTwin for ReduceParams {
    const WGSL_NAME: &'static str = "ReduceParams";
    fn fields() -> Vec<(&'static str, usize)> {
        vec![
            ("rows", offset_of!(Self, rows)),
            ("cols", offset_of!(Self, cols)),
            ("x_offset", offset_of!(Self, x_offset)),
            ("x_stride", offset_of!(Self, x_stride)),
            ("y_offset", offset_of!(Self, y_offset)),
            ("y_stride", offset_of!(Self, y_stride)),
            ("out_offset", offset_of!(Self, out_offset)),
            ("_pad0", offset_of!(Self, _pad0)),
        ]
    }
}

/// A block of `cols` columns of a row-major matrix: element `(m, n)` is at
/// `offset + m * stride + n`.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub buffer: Bound<'a>,
    pub offset: usize,
    pub stride: usize,
}

impl<'a> Columns<'a> {
    /// A dense `[rows, cols]` matrix.
    pub fn dense(buffer: impl Into<Bound<'a>>, cols: usize) -> Self {
        Self {
            buffer: buffer.into(),
            offset: 0,
            stride: cols,
        }
    }
}

/// `out[out_offset + n] (+)= Σ_m x[m, n] (* y[m, n])` for `n < cols`. More
/// rows than [`LOOP_BUDGET`] are summed in blocks into a scratch first, then
/// the blocks' sums are summed (see `LOOP_BUDGET` for why).
pub fn column_sums<'a>(
    gpu: &Gpu,
    (rows, cols): (usize, usize),
    x: Columns<'_>,
    y: Option<Columns<'_>>,
    accumulate: bool,
    out: impl Into<Bound<'a>>,
    out_offset: usize,
) -> Result<Dispatch> {
    let out = out.into();
    if rows <= LOOP_BUDGET {
        return column_sums_once(gpu, (rows, cols), x, y, accumulate, out, out_offset);
    }
    let blocks = rows.div_ceil(LOOP_BUDGET);
    let scratch = storage_buffer(gpu, "column sums of row blocks", blocks * cols)?;
    let mut chain: Option<Dispatch> = None;
    for block in 0..blocks {
        let first = block * LOOP_BUDGET;
        let n = LOOP_BUDGET.min(rows - first);
        fn shift(c: Columns<'_>, first: usize) -> Columns<'_> {
            Columns {
                offset: c.offset + first * c.stride,
                ..c
            }
        }
        let d = column_sums_once(
            gpu,
            (n, cols),
            shift(x, first),
            y.map(|y| shift(y, first)),
            false,
            (&scratch).into(),
            block * cols,
        )?;
        chain = Some(match chain {
            None => d,
            Some(c) => c.then(d),
        });
    }
    let total = column_sums_once(
        gpu,
        (blocks, cols),
        Columns::dense(&scratch, cols),
        None,
        accumulate,
        out,
        out_offset,
    )?;
    Ok(chain
        .expect("at least two blocks")
        .then(total)
        .keeping(scratch))
}

fn column_sums_once(
    gpu: &Gpu,
    (rows, cols): (usize, usize),
    x: Columns<'_>,
    y: Option<Columns<'_>>,
    accumulate: bool,
    out: Bound<'_>,
    out_offset: usize,
) -> Result<Dispatch> {
    let y_cols = y.unwrap_or(x);
    let params = ReduceParams {
        rows: rows as u32,
        cols: cols as u32,
        x_offset: x.offset as u32,
        x_stride: x.stride as u32,
        y_offset: y_cols.offset as u32,
        y_stride: y_cols.stride as u32,
        out_offset: out_offset as u32,
        _pad0: 0,
    };
    let constants = [
        ("PRODUCT", flag(y.is_some())),
        ("ACCUMULATE", flag(accumulate)),
    ];
    let groups = [(cols as u32).div_ceil(256), 1, 1];
    Dispatch::new(
        gpu,
        Kernel::ColumnSums,
        &constants,
        &params,
        &[("x", x.buffer), ("y", y_cols.buffer), ("out", out)],
        groups,
    )
}

/// Runs [`column_sums`] on host data `[rows, cols]` (tests): `y` multiplies
/// `x` elementwise when given.
#[cfg(test)]
pub fn column_sums_host(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    accumulate: bool,
    x: &[f32],
    y: Option<&[f32]>,
    out_init: &[f32],
) -> Result<Vec<f32>> {
    use crate::gpu::tensor::{storage_buffer_with, GpuTensor};
    let x_buf = storage_buffer_with(gpu, "x", x)?;
    let y_buf = y.map(|y| storage_buffer_with(gpu, "y", y)).transpose()?;
    let out = GpuTensor::from_slice(gpu, "column sums", out_init, &[cols])?;
    column_sums(
        gpu,
        (rows, cols),
        Columns::dense(&x_buf, cols),
        y_buf.as_ref().map(|b| Columns::dense(b, cols)),
        accumulate,
        out.buffer(),
        0,
    )?
    .submit_alone(gpu, "column sums")?;
    out.to_vec()
}
