// What the reset-before GRU step kernels share (gru/gates.wgsl, gru/candidate.wgsl,
// gru/gates_subgroup.wgsl, gru/candidate_subgroup.wgsl): the bindings and
// the end of each of a step's two dispatches for one (row, unit). The host
// prepends common/common.wgsl, then this file, to each.
//
// The GRU with the reset gate applied BEFORE the recurrent product (Cho
// 2014, the seed, ONNX linear_before_reset=0):
//   r = σ(xg_r + W_hr h),  z = σ(xg_z + W_hz h),
//   n = tanh(xg_n + W_hn (r*h)),  h' = (1-z)*n + z*h   (all biases in xg).
// W_hn needs r*h of every unit, so a step is two dispatches: the gates
// write r*h and z, then the candidate finishes the step.

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 3H], gate blocks r, z, n.
// TRAIN replaces them with what `saved` keeps of r, z, n.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [H (k), H (j)]: (r, z) weights of unit j for input k.
@group(0) @binding(2) var<storage, read> w_rz: array<vec2<Weight>>;
// [H (k), H (j)]: n weights of unit j for input k.
@group(0) @binding(3) var<storage, read> w_n: array<Weight>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, H]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// [B, H] scratch between the two dispatches: r*h_{t-1} and z (TRAIN:
// [T, B, H] histories; the weight gradient of W_hn reads r*h).
@group(0) @binding(6) var<storage, read_write> rh: array<f32>;
@group(0) @binding(7) var<storage, read_write> zs: array<f32>;

// The end of the gates dispatch for row b and unit j from the recurrent
// products (W_hr h, W_hz h).
fn finish_gates(b: u32, j: u32, rec: vec2<f32>) {
    let H = p.units;
    let K = p.rec;
    let row = p.xg_offset + b * 3u * H + j;
    let r_pre = xg[row] + rec.x;
    let z_pre = xg[row + H] + rec.y;
    let r = act_f(r_pre);
    let z = act_f(z_pre);
    // A finished row's r*h and z are never used: the candidate copies h
    // (and the backward pass multiplies them by zero gate gradients).
    rh[history(p.step, H) + b * H + j] = r * hs[p.h_prev_offset + b * K + j];
    zs[history(p.step, H) + b * H + j] = z;
    if (TRAIN && p.step < lengths[b]) {
        xg[row] = saved(r_pre, r);
        xg[row + H] = saved(z_pre, z);
    }
}

// The end of the step for row b and unit j from the recurrent product
// W_hn (r*h); a finished row keeps its state.
fn finish_candidate(b: u32, j: u32, rec: f32) {
    let H = p.units;
    let K = p.rec;
    let h_prev = hs[p.h_prev_offset + b * K + j];
    var h = h_prev;
    if (p.step < lengths[b]) {
        let row = p.xg_offset + b * 3u * H + j;
        let n_pre = xg[row + 2u * H] + rec;
        let n = act_g(n_pre);
        let z = zs[history(p.step, H) + b * H + j];
        h = (1.0 - z) * n + z * h_prev;
        if (TRAIN) {
            xg[row + 2u * H] = saved(n_pre, n);
        }
    }
    hs[p.h_out_offset + b * K + j] = h;
}
