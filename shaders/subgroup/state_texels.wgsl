// The row operand of the subgroup step kernels' products read as texels:
// h_{t-1} forward, the gate gradients da_i backward (after subgroup/texels.wgsl;
// the host packs the operand into them before each step with pack_texels,
// src/kernels/step.rs). Texel (b, q) holds elements 4q..4q+3 of row b.
// Fetched instead of loaded for the reason in subgroup/texels.wgsl: measured
// (BENCHMARKS.md, "Weights as texels"). Packing costs a dispatch per step,
// which only pays for long rows: without ROW_TEXELS the rows are loaded
// from their buffer and binding 1 is a placeholder.
//
// The including file defines `row_length()`, the elements per row, and
// `stored_row(at)`, element `at` of the operand's buffer (rows then start
// where group_rows says: give it the buffer's start and row stride, or 0
// and 1 with ROW_TEXELS).

override ROW_TEXELS: bool = true;

@group(1) @binding(1) var state_texels: texture_2d<f32>;

// Elements 4q..4q+3 of row b (zeros past the last).
fn state_texel(b: u32, q: u32) -> vec4<f32> {
    return textureLoad(state_texels, texel_at(b * ((row_length() + 3u) / 4u) + q), 0);
}

// For subgroup/products.wgsl: `row` is a batch row with ROW_TEXELS, else
// the row's start in the buffer.
fn row_k4(row: u32, r: u32) -> vec4<f32> {
    if (ROW_TEXELS) {
        return state_texel(row, r / 4u);
    }
    return vec4<f32>(stored_row(row + r), stored_row(row + r + 1u), stored_row(row + r + 2u), stored_row(row + r + 3u));
}

fn row_value(row: u32, r: u32) -> f32 {
    if (ROW_TEXELS) {
        return state_texel(row, r / 4u)[r % 4u];
    }
    return stored_row(row + r);
}
