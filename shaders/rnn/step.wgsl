// rnn_step (rnn/common.wgsl comes first). The products: common/matvec.wgsl.

alias Acc = f32;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_hh[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return hs[at];
}

fn matvec_rows() -> vec2<u32> {
    return vec2<u32>(p.h_prev_offset, p.rec);
}

fn matvec_finish(b: u32, j: u32, acc: Acc) {
    finish_unit(b, j, acc);
}
