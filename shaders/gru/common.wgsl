// One GRU time step with the reset gate applied AFTER the recurrent product
// (PyTorch, cuDNN, ONNX linear_before_reset=1), fused:
//   r = σ(xg_r + W_hr h),  z = σ(xg_z + W_hz h),
//   n = tanh(xg_n + r * (W_hn h + b_hn)),  h' = (1-z)*n + z*h.
// xg already holds b_ih for every gate and b_hh for r and z; b_hn cannot be
// folded because r multiplies it. This file: the bindings and the end of a
// step, shared by gru/step.wgsl and subgroup/step.wgsl (common/common.wgsl comes
// first).

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 3H], gate blocks r, z, n.
// TRAIN replaces them with the activations r, z, n.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [H (k), H (j)]: (r, z, n, 0) weights of unit j for input k.
@group(0) @binding(2) var<storage, read> w_hh: array<vec4<Weight>>;
// [H]: the n-gate recurrent bias.
@group(0) @binding(3) var<storage, read> b_hn: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, H]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// TRAIN: [T, B, H], W_hn h + b_hn of every step (the backward pass needs
// it for dr); unused in inference.
@group(0) @binding(6) var<storage, read_write> hn_hist: array<f32>;

// Ends step p.step for row b and unit j from the recurrent products `rec`
// (W_hr h, W_hz h, W_hn h, 0) of the previous state: the gates, the new
// state, and for a row past its length, keeping its state. Shared by
// gru_step and subgroup/step.wgsl.
fn finish_unit(b: u32, j: u32, rec: vec4<f32>) {
    let H = p.units;
    let K = p.rec;
    let h_prev = hs[p.h_prev_offset + b * K + j];
    var h = h_prev;
    if (p.step < lengths[b]) {
        let row = p.xg_offset + b * 3u * H + j;
        let r_pre = xg[row] + rec.x;
        let z_pre = xg[row + H] + rec.y;
        let r = act_f(r_pre);
        let z = act_f(z_pre);
        let hn = rec.z + b_hn[j];
        let n_pre = xg[row + 2u * H] + r * hn;
        let n = act_g(n_pre);
        h = (1.0 - z) * n + z * h_prev;
        if (TRAIN) {
            xg[row] = saved(r_pre, r);
            xg[row + H] = saved(z_pre, z);
            xg[row + 2u * H] = saved(n_pre, n);
            hn_hist[history(p.step, H) + b * H + j] = hn;
        }
    }
    hs[p.h_out_offset + b * K + j] = h;
}
