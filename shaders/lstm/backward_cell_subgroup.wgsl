// lstm_backward_cell (projected LSTM: dm = weight_hrᵀ dS_i, then the cell
// backward of step i-1) for CPU adapters with 8-lane subgroups.
// common/common.wgsl, common/backward.wgsl, lstm/backward_common.wgsl
// (`cell_backward`), subgroup/subgroup.wgsl, subgroup/texels.wgsl (weight_hr [Ho, H] as
// texels), subgroup/state_texels.wgsl (dS_i as texels) and subgroup/products.wgsl
// come first. A workgroup is one subgroup owning 32 hidden units (lane l:
// j0 + 4l + u, u < 4, one texel) x ROW_GROUPS groups of 8 batch rows. The
// same sums in the same order as lstm_backward_cell, so the same results to
// the bit.

// For subgroup/products.wgsl: the state gradients dS_i (Ho per row) are the
// rows, weight_hr's columns (hidden units) the columns.
fn row_length() -> u32 {
    return p.out_size;
}

fn stored_row(at: u32) -> f32 {
    return ds[at];
}

fn column_weights(q: u32, js: vec4<u32>) -> vec4<f32> {
    let per_row = (p.hidden + 3u) / 4u;
    return texel(q, min(js.x / 4u, per_row - 1u), per_row);
}

fn finish_row(b: u32, js: vec4<u32>, v: vec4<f32>) {
    let s = p.step - 1u;
    if (js.x < p.hidden) { cell_backward(b, js.x, s, v.x); }
    if (js.y < p.hidden) { cell_backward(b, js.y, s, v.y); }
    if (js.z < p.hidden) { cell_backward(b, js.z, s, v.z); }
    if (js.w < p.hidden) { cell_backward(b, js.w, s, v.w); }
}

@compute @workgroup_size(8)
fn lstm_backward_cell_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let K = p.out_size;
    let js = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(at_step(p.step, 0u, K), 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(K, 1u, ROW_TEXELS));
    step_products(rows, K, js, b0);
}
