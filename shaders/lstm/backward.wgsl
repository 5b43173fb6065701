// The per-step LSTM backward kernels (lstm/backward_common.wgsl comes
// first). A workgroup owns WG units x BT batch rows; every weight load
// serves BT rows.

// dS_i = weight_hhᵀ da_i + pass + output gradient, then (without a
// projection) the cell backward of step i-1.
@compute @workgroup_size(64)
fn lstm_backward_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let K = p.out_size;
    let R = 4u * p.hidden;
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (i < p.seq && k < K) {
        acc = transposed_products(b0, k, K, R, 0u, R);
    }
    if (k >= K) {
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

// Projected LSTM: dm = weight_hrᵀ dS_i, then the cell backward of step i-1.
@compute @workgroup_size(64)
fn lstm_backward_cell(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let K = p.out_size;
    let i = p.step;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    if (j >= H) {
        return;
    }
    let r0 = at_step(i, read_row(b0, 0u), K);
    let r1 = at_step(i, read_row(b0, 1u), K);
    let r2 = at_step(i, read_row(b0, 2u), K);
    let r3 = at_step(i, read_row(b0, 3u), K);
    var acc = array<f32, 4>();
    for (var q = 0u; q < K; q++) {
        let wv = w[q * H + j];
        acc[0] = fma(ds[r0 + q], wv, acc[0]);
        if (ROWS > 1u) { acc[1] = fma(ds[r1 + q], wv, acc[1]); }
        if (ROWS > 2u) { acc[2] = fma(ds[r2 + q], wv, acc[2]); }
        if (ROWS > 3u) { acc[3] = fma(ds[r3 + q], wv, acc[3]); }
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        cell_backward(b, j, i - 1u, acc[bb]);
    }
}
