// The backward step's product dS_i = weight_hhᵀ da_i for CPU adapters with
// 8-lane subgroups, for every cell with a one-dispatch backward step (LSTM,
// GRU, RNN). common.wgsl, backward_common.wgsl, the cell's file (the
// binding `w`, `gate_grad`, `gate_rows`, `finish_state_gradient`),
// subgroup.wgsl and subgroup_columns.wgsl come first. A workgroup is
// one subgroup owning 32 elements of the state (lane l: k0 + l + 8u, u < 4)
// x 8 batch rows: lane l loads row b0 + l of da_i, four gate rows at a
// time, and the broadcasts give every lane all 8 rows, so each loaded
// gradient feeds 8 lanes x 4 elements and each loaded weight 8 rows. The
// same sums in the same order as the cell's backward step kernel, so the
// same results to the bit.

// The end of the step for the 8 rows x 4 elements of this lane; acc is
// passed by value so that indexing it here keeps the caller's accumulators
// in registers.
fn finish_rows(acc: array<vec4<f32>, 8>, b0: u32, ks: vec4<u32>) {
    for (var bb = 0u; bb < LANE_ROWS; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        for (var u = 0u; u < 4u; u++) {
            if (ks[u] < p.out_size) {
                finish_state_gradient(b, ks[u], acc[bb][u]);
            }
        }
    }
}

@compute @workgroup_size(8)
fn backward_subgroup(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let K = p.out_size;
    // Gate rows per step (the stride of da_i) and how many of them weight_hh
    // multiplies.
    let rows = gate_rows();
    let i = p.step;
    let ks = vec4<u32>(wg.x * 32u + lane) + vec4<u32>(0u, 8u, 16u, 24u);
    // Elements past K and rows past the batch re-read the last one and are
    // not written.
    let kr = min(ks, vec4<u32>(K - 1u));
    let b0 = wg.y * LANES;
    var acc: array<vec4<f32>, 8>;
    // Dispatch T has no step T: its sums stay zero.
    if (i < p.seq) {
        acc = column_products(at_step(i, read_row(b0, lane), rows.x), rows.y, kr);
    }
    finish_rows(acc, b0, ks);
}

// For subgroup_columns.wgsl: the gate gradients are the rows, weight_hh's
// columns the columns.
fn row_value(at: u32) -> f32 {
    return gate_grad(at);
}

fn column_weights(r: u32, ks: vec4<u32>) -> vec4<f32> {
    let K = p.out_size;
    return vec4<f32>(w[r * K + ks.x], w[r * K + ks.y], w[r * K + ks.z], w[r * K + ks.w]);
}
