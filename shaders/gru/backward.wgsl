// The per-step GRU backward kernels (gru/backward_common.wgsl comes first).

// dS_i = weight_hhᵀ da_i (rows r, z, n; reset before: r, z, plus d(rh) r)
// + pass + output gradient, then the cell backward of step i-1.
@compute @workgroup_size(64)
fn gru_backward_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let G = 3u * H;
    let R = select(3u * H, 2u * H, RESET_BEFORE);
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (i < p.seq && k < H) {
        acc = transposed_products(b0, k, H, G, 0u, R);
    }
    if (k >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        finish_state_gradient(b, k, acc[bb]);
    }
}

// Reset before, step i (between dispatches i+1 and i): d(rh) = W_hnᵀ da_n,
// then da_r. Zero for finished rows (their da_n is zero too).
@compute @workgroup_size(64)
fn gru_backward_reset(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let G = 3u * H;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    if (k >= H) {
        return;
    }
    var acc = transposed_products(b0, k, H, G, 2u * H, H);
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        finish_reset(b, k, acc[bb]);
    }
}
