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

fn matvec_rows() -> vec2<u32> {
    return vec2<u32>(history(p.step, p.units), p.units);
}

fn matvec_finish(b: u32, j: u32, acc: Acc) {
    finish_candidate(b, j, acc);
}
