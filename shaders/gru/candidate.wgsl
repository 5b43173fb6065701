// The reset-before GRU's second step dispatch (gru/reset_before_common.wgsl
// and common/matvec.wgsl come with it): the n product over the r*h that
// `gru_gates` wrote, then the step's state.

alias Acc = f32;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_n[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return rh[at];
}

@compute @workgroup_size(64)
fn gru_candidate(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = recurrent_products(li, j, b0, H, K, history(p.step, H), H);
    if (j >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        finish_candidate(b, j, acc[bb]);
    }
}
