// The reset-before GRU's first step dispatch (gru/reset_before_common.wgsl
// and common/matvec.wgsl come with it): the r and z products, then r*h and
// z for `gru_candidate` (gru/candidate.wgsl).

alias Acc = vec2<f32>;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_rz[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return hs[at];
}

fn matvec_rows() -> vec2<u32> {
    return vec2<u32>(p.h_prev_offset, p.rec);
}

fn matvec_finish(b: u32, j: u32, acc: Acc) {
    finish_gates(b, j, acc);
}
