// The LSTM output projection of one step, h = W_hr m with m = o*tanh(c)
// written by lstm_step (PROJ). Units j run over Ho, the dot products over H.
// The products: common/matvec.wgsl.

@group(0) @binding(0) var<uniform> p: StepParams;
// [H (k), Ho (j)]: W_hr transposed, neighbouring units at neighbouring addresses.
@group(0) @binding(1) var<storage, read> w_hr: array<Weight>;
// [B]: valid steps of each row.
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+1, B, Ho]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(3) var<storage, read_write> hs: array<f32>;
// [B, H]: o*tanh(c) of this step.
@group(0) @binding(4) var<storage, read_write> m: array<f32>;

alias Acc = f32;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_hr[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return m[at];
}

fn matvec_rows() -> vec2<u32> {
    return vec2<u32>(history(p.step, p.rec), p.rec);
}

fn matvec_finish(b: u32, j: u32, acc: Acc) {
    // Here units are Ho and the products run over the LSTM's hidden size.
    let H = p.units;
    var h = hs[p.h_prev_offset + b * H + j];
    if (p.step < lengths[b]) {
        h = acc;
    }
    hs[p.h_out_offset + b * H + j] = h;
}
