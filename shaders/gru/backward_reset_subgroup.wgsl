// gru_backward_reset for CPU adapters with 8-lane subgroups: d(rh) =
// W_hnᵀ da_n, then da_r (common/common.wgsl, common/backward.wgsl,
// gru/backward_common.wgsl, subgroup/subgroup.wgsl, subgroup/texels.wgsl (weight_hh
// [3H, H] as texels), subgroup/state_texels.wgsl (da_n as texels) and
// subgroup/products.wgsl come first). A workgroup is one subgroup owning 32
// units (lane l: k0 + 4l + u, u < 4, one texel) x ROW_GROUPS groups of 8
// batch rows. The same sums in the same order as gru_backward_reset, so
// the same results to the bit.

// For subgroup/state_texels.wgsl: the n part of step p.step's hidden-side gate
// gradients, H elements.
fn row_length() -> u32 {
    return p.hidden;
}

fn stored_row(at: u32) -> f32 {
    return da_hid[at];
}

// For subgroup/products.wgsl: row 2H + j of weight_hh, columns ks.
fn column_weights(j: u32, ks: vec4<u32>) -> vec4<f32> {
    let per_row = (p.hidden + 3u) / 4u;
    return texel(2u * p.hidden + j, min(ks.x / 4u, per_row - 1u), per_row);
}

fn finish_row(b: u32, ks: vec4<u32>, v: vec4<f32>) {
    if (ks.x < p.hidden) { finish_reset(b, ks.x, v.x); }
    if (ks.y < p.hidden) { finish_reset(b, ks.y, v.y); }
    if (ks.z < p.hidden) { finish_reset(b, ks.z, v.z); }
    if (ks.w < p.hidden) { finish_reset(b, ks.w, v.w); }
}

// Dispatched for steps i < T only.
@compute @workgroup_size(8)
fn gru_backward_reset_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let H = p.hidden;
    let ks = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(at_step(p.step, 0u, 3u * H) + 2u * H, 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(3u * H, 1u, ROW_TEXELS));
    step_products(rows, H, ks, b0);
}
