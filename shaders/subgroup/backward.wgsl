// The backward step's product dS_i = weight_hhᵀ da_i for CPU adapters with
// 8-lane subgroups, for every cell with a one-dispatch backward step (LSTM,
// GRU, RNN). common/common.wgsl, common/backward.wgsl, the cell's file
// (`gate_rows`, `finish_state_gradient`), subgroup/subgroup.wgsl, subgroup/texels.wgsl
// (weight_hh [G*H, Ho] as texels), subgroup/state_texels.wgsl (da_i as texels) and
// subgroup/products.wgsl come first. A workgroup is one subgroup owning 32 elements of the state
// (lane l: k0 + 4l + u, u < 4, one texel)
// x ROW_GROUPS groups of 8 batch rows: each loaded gradient feeds 8 lanes x
// 4 elements and each loaded weight 8 x ROW_GROUPS rows. The
// same sums in the same order as the cell's backward step kernel, so the
// same results to the bit.

// The end of the step for row b of this lane's four state elements.
fn finish_row(b: u32, ks: vec4<u32>, v: vec4<f32>) {
    if (ks.x < p.out_size) { finish_state_gradient(b, ks.x, v.x); }
    if (ks.y < p.out_size) { finish_state_gradient(b, ks.y, v.y); }
    if (ks.z < p.out_size) { finish_state_gradient(b, ks.z, v.z); }
    if (ks.w < p.out_size) { finish_state_gradient(b, ks.w, v.w); }
}

@compute @workgroup_size(8)
fn backward_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    // Gate rows per step (the stride of da_i) and how many of them weight_hh
    // multiplies.
    let gates = gate_rows();
    let i = p.step;
    let ks = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    // Dispatch T has no step T: no products, its sums stay zero (its rows
    // are never read).
    let start = select(at_step(i, 0u, gates.x), 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(gates.x, 1u, ROW_TEXELS));
    step_products(rows, select(0u, gates.y, i < p.seq), ks, b0);
}

// For subgroup/products.wgsl: the gate gradients are the rows
// (subgroup/state_texels.wgsl: the first gate_rows().y of each row of da_i),
// weight_hh's columns (the state elements ks, clamped to the last) the
// columns.
fn row_length() -> u32 {
    return gate_rows().y;
}

fn stored_row(at: u32) -> f32 {
    return gate_grad(at);
}

fn column_weights(r: u32, ks: vec4<u32>) -> vec4<f32> {
    let per_row = (p.out_size + 3u) / 4u;
    return texel(r, min(ks.x / 4u, per_row - 1u), per_row);
}
