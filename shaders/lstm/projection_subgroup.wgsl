// projection_step for CPU adapters with 8-lane subgroups (common/common.wgsl,
// lstm/projection_step.wgsl, subgroup/subgroup.wgsl, subgroup/texels.wgsl (W_hr^T [H, Ho] as
// texels), subgroup/state_texels.wgsl and subgroup/products.wgsl come first). A
// workgroup is one subgroup owning 32 output units (lane l: j0 + 4l + u,
// u < 4, one texel) x ROW_GROUPS groups of 8 batch rows. The same sums in
// the same order as projection_step without tiles, so the same results to
// the bit.

// For subgroup/products.wgsl: m = o*tanh(c) is the rows (subgroup/state_texels.wgsl),
// W_hr's output units the columns.
// For subgroup/state_texels.wgsl: m has H elements per row, this step's block of m.
fn row_length() -> u32 {
    return p.rec;
}

fn stored_row(at: u32) -> f32 {
    return m[at];
}

fn column_weights(k: u32, js: vec4<u32>) -> vec4<f32> {
    let per_row = (p.units + 3u) / 4u;
    return texel(k, min(js.x / 4u, per_row - 1u), per_row);
}

// h of row b and output unit j: the product, or the previous h past the
// row's length.
fn finish_projection(b: u32, j: u32, v: f32) {
    var h = hs[p.h_prev_offset + b * p.units + j];
    if (p.step < lengths[b]) {
        h = v;
    }
    hs[p.h_out_offset + b * p.units + j] = h;
}

fn finish_row(b: u32, js: vec4<u32>, v: vec4<f32>) {
    if (js.x < p.units) { finish_projection(b, js.x, v.x); }
    if (js.y < p.units) { finish_projection(b, js.y, v.y); }
    if (js.z < p.units) { finish_projection(b, js.z, v.z); }
    if (js.w < p.units) { finish_projection(b, js.w, v.w); }
}

@compute @workgroup_size(8)
fn projection_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let js = vec4<u32>(wg.x * 32u + 4u * lane) + vec4<u32>(0u, 1u, 2u, 3u);
    let b0 = wg.y * LANES * ROW_GROUPS;
    let start = select(history(p.step, p.rec), 0u, ROW_TEXELS);
    let rows = group_rows(start, b0, lane, p.batch - 1u, select(p.rec, 1u, ROW_TEXELS));
    step_products(rows, p.rec, js, b0);
}
