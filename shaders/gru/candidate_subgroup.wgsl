// gru_candidate for CPU adapters with 8-lane subgroups: the reset-before
// GRU's W_hn (r*h) product and the end of the step (common/common.wgsl,
// gru/reset_before_common.wgsl, subgroup/subgroup.wgsl, subgroup/texels.wgsl (w_n [K, H] as
// texels), subgroup/state_texels.wgsl (r*h) and subgroup/products.wgsl come first).
// A workgroup is one subgroup owning 32 units (lane l: j0 + 4l + u, u < 4,
// one texel) x ROW_GROUPS groups of 8 batch rows. The same sums in the
// same order as gru_candidate without tiles, so the same results to the
// bit.

// For subgroup/state_texels.wgsl: r*h has H elements per row, in the history that
// gru_gates wrote.
fn row_length() -> u32 {
    return p.rec;
}

fn stored_row(at: u32) -> f32 {
    return rh[at];
}

// For subgroup/products.wgsl: the n weights of units js.
fn column_weights(k: u32, js: vec4<u32>) -> vec4<f32> {
    let per_row = (p.units + 3u) / 4u;
    return texel(k, min(js.x / 4u, per_row - 1u), per_row);
}

fn finish_row(b: u32, js: vec4<u32>, v: vec4<f32>) {
    if (js.x < p.units) { finish_candidate(b, js.x, v.x); }
    if (js.y < p.units) { finish_candidate(b, js.y, v.y); }
    if (js.z < p.units) { finish_candidate(b, js.z, v.z); }
    if (js.w < p.units) { finish_candidate(b, js.w, v.w); }
}

@compute @workgroup_size(8)
fn gru_candidate_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let js = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(history(p.step, p.units), 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(p.units, 1u, ROW_TEXELS));
    step_products(rows, p.rec, js, b0);
}
