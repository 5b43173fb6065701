// rnn_step for CPU adapters with 8-lane subgroups (common.wgsl,
// rnn_common.wgsl, subgroup.wgsl and subgroup_columns.wgsl come first). A
// workgroup is one subgroup owning 32 units (lane l: j0 + l + 8u, u < 4) x
// 8 batch rows: lane l loads row b0 + l of h_{t-1} and the broadcasts give
// every lane all 8 rows. The same sums in the same order as rnn_step
// without tiles, so the same results to the bit.

// For subgroup_columns.wgsl: h_{t-1} is the rows, W_hh's units the columns.
fn row_value(at: u32) -> f32 {
    return hs[at];
}

fn column_weights(k: u32, js: vec4<u32>) -> vec4<f32> {
    let H = p.units;
    return vec4<f32>(w_hh[k * H + js.x], w_hh[k * H + js.y], w_hh[k * H + js.z], w_hh[k * H + js.w]);
}

// acc is passed by value so that indexing it here keeps the caller's
// accumulators in registers.
fn finish_rows(acc: array<vec4<f32>, 8>, b0: u32, js: vec4<u32>) {
    for (var bb = 0u; bb < LANE_ROWS; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        for (var u = 0u; u < 4u; u++) {
            if (js[u] < p.units) {
                finish_unit(b, js[u], acc[bb][u]);
            }
        }
    }
}

@compute @workgroup_size(8)
fn rnn_step_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let js = vec4<u32>(wg.x * 32u + lane) + vec4<u32>(0u, 8u, 16u, 24u);
    // Units past H and rows past the batch re-read the last one and are not
    // written.
    let jr = min(js, vec4<u32>(p.units - 1u));
    let b0 = wg.y * LANES;
    let row = p.h_prev_offset + min(b0 + lane, p.batch - 1u) * p.rec;
    finish_rows(column_products(row, p.rec, jr), b0, js);
}
