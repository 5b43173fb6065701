// The row operand of the subgroup step kernels' products read as texels:
// h_{t-1} forward, the gate gradients da_i backward (after texels.wgsl;
// the host packs the operand into them before each step with pack_texels,
// src/kernels/step.rs). Texel (b, q) holds elements 4q..4q+3 of row b.
// Fetched instead of loaded for the reason in texels.wgsl: measured
// (BENCHMARKS.md, "Weights as texels"). The including file defines
// `row_length()`, the elements per row.

@group(1) @binding(1) var state_texels: texture_2d<f32>;

// Elements 4q..4q+3 of row b (zeros past the last).
fn state_texel(b: u32, q: u32) -> vec4<f32> {
    return textureLoad(state_texels, texel_at(b * ((row_length() + 3u) / 4u) + q), 0);
}

// For subgroup_products.wgsl (`row` is a batch row, from group_rows with
// start 0 and stride 1).
fn row_k4(b: u32, r: u32) -> vec4<f32> {
    return state_texel(b, r / 4u);
}

fn row_value(b: u32, r: u32) -> f32 {
    return state_texel(b, r / 4u)[r % 4u];
}
