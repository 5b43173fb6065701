// rnn_step for CPU adapters with 8-lane subgroups (common/common.wgsl,
// rnn/common.wgsl, subgroup/subgroup.wgsl, subgroup/texels.wgsl (W_hh^T [K, H] as texels),
// subgroup/state_texels.wgsl and subgroup/products.wgsl come first). A workgroup is one subgroup
// owning 32 units (lane l: j0 + 4l + u, u < 4, one texel) x ROW_GROUPS
// groups of 8 batch rows. The same sums in the same order as rnn_step
// without tiles, so the same results to the bit.

// For subgroup/products.wgsl: h_{t-1} is the rows (subgroup/state_texels.wgsl),
// W_hh's units the columns.
// For subgroup/state_texels.wgsl: h_{t-1} has Ho elements, rows of hs.
fn row_length() -> u32 {
    return p.rec;
}

fn stored_row(at: u32) -> f32 {
    return hs[at];
}

fn column_weights(k: u32, js: vec4<u32>) -> vec4<f32> {
    let per_row = (p.units + 3u) / 4u;
    return texel(k, min(js.x / 4u, per_row - 1u), per_row);
}

// The end of the step for row b of this lane's four units.
fn finish_row(b: u32, js: vec4<u32>, v: vec4<f32>) {
    if (js.x < p.units) { finish_unit(b, js.x, v.x); }
    if (js.y < p.units) { finish_unit(b, js.y, v.y); }
    if (js.z < p.units) { finish_unit(b, js.z, v.z); }
    if (js.w < p.units) { finish_unit(b, js.w, v.w); }
}

@compute @workgroup_size(8)
fn rnn_step_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let js = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(p.h_prev_offset, 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(p.rec, 1u, ROW_TEXELS));
    step_products(rows, p.rec, js, b0);
}
