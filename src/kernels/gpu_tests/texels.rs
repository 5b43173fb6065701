//! The texel packing (`repack/pack_texels.wgsl`) the subgroup kernels read their
//! weights and GEMM operands from: every texel of awkward shapes and source
//! layouts against the host's expectation, read back from the texture.

use super::{gpu, random_vec};
use crate::gpu::Gpu;
use crate::gpu::GpuTensor;
use crate::kernels::texels::{SourceLayout, TexelMatrix, TEXEL_ROW};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Every texel of `m` (`n` texels, four f32 each), read back.
fn read_texels(gpu: &Gpu, m: &TexelMatrix, n: usize) -> Vec<f32> {
    let size = m.texture().size();
    let row_bytes = u64::from(TEXEL_ROW) * 16;
    let bytes = row_bytes * u64::from(size.height);
    let out = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("texels read-back"),
        size: bytes,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        m.texture().as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &out,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row_bytes as u32),
                rows_per_image: None,
            },
        },
        size,
    );
    gpu.queue().submit([encoder.finish()]);
    let slice = out.slice(..);
    slice.map_async(wgpu::MapMode::Read, |r| r.expect("map texels"));
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let data = slice.get_mapped_range().expect("mapped texels");
    bytemuck::cast_slice::<u8, f32>(&data)[..4 * n].to_vec()
}

#[test]
fn packed_texels_hold_four_columns_of_a_row_zero_past_the_last() {
    let gpu = gpu();
    let mut rng = SmallRng::seed_from_u64(31);
    // (rows, cols, offset, extra leading dimension, transposed); 1100 x 67
    // takes more than one texture row.
    let cases = [
        (1, 1, 0, 0, false),
        (3, 5, 0, 0, false),
        (67, 13, 7, 2, false),
        (5, 3, 0, 0, true),
        (67, 130, 11, 3, true),
        (1100, 67, 0, 0, false),
    ];
    for (rows, cols, offset, extra, transposed) in cases {
        let ld = if transposed { rows } else { cols } + extra;
        let stored = if transposed { cols } else { rows };
        let src = random_vec(&mut rng, offset + stored * ld, 1e4);
        let buffer = GpuTensor::from_slice(gpu, "source", &src, &[src.len()]).expect("upload");
        let texels = TexelMatrix::new(gpu, "under test", rows, cols).expect("texture");
        let layout = SourceLayout {
            offset,
            ld,
            transposed,
        };
        let pack = texels
            .pack_from(gpu, buffer.buffer(), layout)
            .expect("pack dispatch");
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pack.record(&mut pass);
        }
        gpu.queue().submit([encoder.finish()]);
        let per_row = TexelMatrix::per_row(cols);
        let got = read_texels(gpu, &texels, rows * per_row);
        for r in 0..rows {
            for c in 0..4 * per_row {
                let want = if c < cols {
                    let at = if transposed { c * ld + r } else { r * ld + c };
                    src[offset + at]
                } else {
                    0.0
                };
                let n = r * per_row + c / 4;
                assert_eq!(
                    got[4 * n + c % 4].to_bits(),
                    want.to_bits(),
                    "{rows}x{cols} (offset {offset}, ld {ld}, transposed {transposed}): element ({r}, {c})"
                );
            }
        }
    }
}

#[test]
fn a_matrix_past_the_texture_limit_is_refused() {
    let gpu = gpu();
    let limit = gpu.limits().max_texture_dimension_2d as usize;
    let rows = TEXEL_ROW as usize * (limit + 1);
    assert!(!TexelMatrix::fits(gpu, rows, 4));
    let err = TexelMatrix::new(gpu, "too big", rows, 4)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("max_texture_dimension_2d"),
        "{err}"
    );
}
