// rnn_backward_step (rnn/backward_common.wgsl comes first).

@compute @workgroup_size(64)
fn rnn_backward_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (i < p.seq && k < H) {
        let r0 = at_step(i, read_row(b0, 0u), H);
        let r1 = at_step(i, read_row(b0, 1u), H);
        let r2 = at_step(i, read_row(b0, 2u), H);
        let r3 = at_step(i, read_row(b0, 3u), H);
        for (var r = 0u; r < H; r++) {
            let wv = w[r * H + k];
            acc[0] = fma(da[r0 + r], wv, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(da[r1 + r], wv, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(da[r2 + r], wv, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(da[r3 + r], wv, acc[3]); }
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
