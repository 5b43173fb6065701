// The forward step for CPU adapters with 8-lane subgroups, for the cells
// whose recurrent weights are vec4s of a unit's gates (LSTM: i, f, g, o;
// GRU: r, z, n, 0). common/common.wgsl, the cell's file (lstm/common.wgsl or
// gru/common.wgsl: the bindings and `finish_unit`), subgroup/subgroup.wgsl,
// subgroup/texels.wgsl (the weights: w_hh as texels, one per unit and k),
// subgroup/state_texels.wgsl (h_{t-1} as texels) and subgroup/products.wgsl come
// first. A workgroup is one
// subgroup owning 8 hidden units (one per lane) x ROW_GROUPS groups of 8
// batch rows: each loaded h value feeds 8 units x 4 gates and each loaded
// weight vec4 8 x ROW_GROUPS rows. The same sums in the same order as the
// cell's step kernel without tiles, so the same results to the bit.

// For subgroup/products.wgsl: h_{t-1} is the rows (subgroup/state_texels.wgsl);
// the four columns of a lane are the gates of its unit cols.x (clamped to
// the last unit).
// For subgroup/state_texels.wgsl: h_{t-1} has Ho elements, rows of hs.
fn row_length() -> u32 {
    return p.rec;
}

fn stored_row(at: u32) -> f32 {
    return hs[at];
}

fn column_weights(k: u32, cols: vec4<u32>) -> vec4<f32> {
    return texel(k, min(cols.x, p.units - 1u), p.units);
}

// The end of the step for row b of unit cols.x (v holds its four gates).
fn finish_row(b: u32, cols: vec4<u32>, v: vec4<f32>) {
    if (cols.x < p.units) {
        finish_unit(b, cols.x, v);
    }
}

@compute @workgroup_size(8)
fn step_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let cols = vec4<u32>(wg.x * LANES + lane, 0u, 0u, 0u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(p.h_prev_offset, 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(p.rec, 1u, ROW_TEXELS));
    step_products(rows, p.rec, cols, b0);
}
