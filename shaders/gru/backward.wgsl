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
        let r0 = at_step(i, read_row(b0, 0u), G);
        let r1 = at_step(i, read_row(b0, 1u), G);
        let r2 = at_step(i, read_row(b0, 2u), G);
        let r3 = at_step(i, read_row(b0, 3u), G);
        for (var r = 0u; r < R; r++) {
            let wv = w[r * H + k];
            acc[0] = fma(da_hid[r0 + r], wv, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(da_hid[r1 + r], wv, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(da_hid[r2 + r], wv, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(da_hid[r3 + r], wv, acc[3]); }
        }
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
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    if (k >= H) {
        return;
    }
    let r0 = at_step(i, read_row(b0, 0u), G) + 2u * H;
    let r1 = at_step(i, read_row(b0, 1u), G) + 2u * H;
    let r2 = at_step(i, read_row(b0, 2u), G) + 2u * H;
    let r3 = at_step(i, read_row(b0, 3u), G) + 2u * H;
    var acc = array<f32, 4>();
    for (var j = 0u; j < H; j++) {
        let wv = w[(2u * H + j) * H + k];
        acc[0] = fma(da_hid[r0 + j], wv, acc[0]);
        if (ROWS > 1u) { acc[1] = fma(da_hid[r1 + j], wv, acc[1]); }
        if (ROWS > 2u) { acc[2] = fma(da_hid[r2 + j], wv, acc[2]); }
        if (ROWS > 3u) { acc[3] = fma(da_hid[r3 + j], wv, acc[3]); }
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        finish_reset(b, k, acc[bb]);
    }
}
