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
        acc = transposed_products(b0, k, H, H, 0u, H);
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
