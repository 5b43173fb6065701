// gru_gates for CPU adapters with 8-lane subgroups: the reset-before GRU's
// r and z products (common/common.wgsl, gru/reset_before_common.wgsl,
// subgroup/subgroup.wgsl, subgroup/texels.wgsl (w_rz [K, 2H]: r and z of each unit side by
// side, as texels), subgroup/state_texels.wgsl and subgroup/products.wgsl come
// first). A workgroup is one subgroup owning 16 units (lane l: units
// j0 + 2l and j0 + 2l + 1, one texel of (r, z, r, z)) x ROW_GROUPS groups
// of 8 batch rows. The same sums in the same order as gru_gates without
// tiles, so the same results to the bit.

// For subgroup/state_texels.wgsl: h_{t-1} has K elements, rows of hs.
fn row_length() -> u32 {
    return p.rec;
}

fn stored_row(at: u32) -> f32 {
    return hs[at];
}

// For subgroup/products.wgsl: the (r, z) columns of units cols.x and
// cols.x + 1.
fn column_weights(k: u32, cols: vec4<u32>) -> vec4<f32> {
    // A row of w_rz has 2H columns, (2H + 3) / 4 texels.
    let per_row = (p.units + 1u) / 2u;
    return texel(k, min(cols.x / 4u, per_row - 1u), per_row);
}

fn finish_row(b: u32, cols: vec4<u32>, v: vec4<f32>) {
    let j = cols.x / 2u;
    if (j < p.units) { finish_gates(b, j, v.xy); }
    if (j + 1u < p.units) { finish_gates(b, j + 1u, v.zw); }
}

@compute @workgroup_size(8)
fn gru_gates_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    // Columns of w_rz: 2 per unit, 4 per lane.
    let cols = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(p.h_prev_offset, 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(p.rec, 1u, ROW_TEXELS));
    step_products(rows, p.rec, cols, b0);
}
