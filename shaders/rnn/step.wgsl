// rnn_step (rnn/common.wgsl comes first). The products: common/matvec.wgsl.

alias Acc = f32;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_hh[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return hs[at];
}

@compute @workgroup_size(64)
fn rnn_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = recurrent_products(li, j, b0, H, K, p.h_prev_offset, K);
    if (j >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        finish_unit(b, j, acc[bb]);
    }
}
