// One Elman RNN time step, fused: h' = f(xg + W_hh h), f = tanh, relu or
// another function of common/activations.wgsl.
// This file: the bindings and the end of a step, shared by rnn/step.wgsl
// and rnn/step_subgroup.wgsl (common/common.wgsl comes first).

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, H]: x W_ih^T + b_ih + b_hh. SAVE_PRE (TRAIN): replaced by the
// clipped pre-activations, which the backward reads.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [H (k), H (j)]: weight of unit j for input k.
@group(0) @binding(2) var<storage, read> w_hh: array<Weight>;
// [B]: valid steps of each row.
@group(0) @binding(3) var<storage, read> lengths: array<u32>;
// [T+1, B, H]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;

// Ends step p.step for row b and unit j from the recurrent product `rec`
// (W_hh h)[j]; a row past its length keeps its state.
fn finish_unit(b: u32, j: u32, rec: f32) {
    let H = p.units;
    let K = p.rec;
    var h = hs[p.h_prev_offset + b * K + j];
    if (p.step < lengths[b]) {
        let at = p.xg_offset + b * H + j;
        let a = xg[at] + rec;
        h = act_f(a);
        if (TRAIN && SAVE_PRE) {
            xg[at] = clipped(a);
        }
    }
    hs[p.h_out_offset + b * K + j] = h;
}
