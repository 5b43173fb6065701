// The GRU backward pass (both reset placements), one dispatch per step (two
// for reset-before): what its kernels share (gru/backward.wgsl,
// subgroup/backward.wgsl, gru/backward_reset_subgroup.wgsl; common/common.wgsl,
// common/activations.wgsl and common/backward.wgsl come first; f and g are
// shown as the plain cell's sigmoid and tanh). See common/backward.wgsl for
// the step scheme. With r, z, n the gate values, h the state before the step and dh the gradient
// of the state after it (h' = (1-z) n + z h):
//   da_z = dh (h - n) z(1-z),  da_n = dh (1-z) (1-n²),  pass = z
// Reset after (n = tanh(xn + r hn), hn = W_hn h + b_hn saved):
//   da_r = da_n hn r(1-r); the hidden-side n row sees da_n r.
// Reset before (n = tanh(xn + W_hn (r h))): d(rh) = W_hnᵀ da_n,
//   da_r = d(rh) h r(1-r), dh gets d(rh) r (gru_backward_reset, a dispatch
//   between the two halves).

@group(0) @binding(0) var<uniform> p: BackParams;
// weight_hh [3H, H] (PyTorch layout).
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+2, B, H]: see lstm/backward.wgsl.
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
// [T, B, 3H]: gradients of the hidden-side products r, z, n (what weight_hh
// multiplies). Reset before: also the input side, which is the same.
@group(0) @binding(4) var<storage, read_write> da_hid: array<f32>;
// [T, B, 3H]: what the training forward saved of r, z, n.
@group(0) @binding(5) var<storage, read> acts: array<f32>;
// [T+1, B, H]: the states.
@group(0) @binding(6) var<storage, read> hs: array<f32>;
// Reset after: [T, B, 3H] gradients of the input-side pre-activations.
@group(0) @binding(7) var<storage, read_write> da_in: array<f32>;
// Reset after: [T, B, H] the saved hn. Reset before: [B, H] d(r*h) of the
// current step.
@group(0) @binding(8) var<storage, read_write> aux: array<f32>;

override RESET_BEFORE: bool = false;

fn cell_backward(b: u32, j: u32, s: u32, dh: f32) {
    let H = p.hidden;
    let at = at_step(s, b, 3u * H) + j;
    if (s >= lengths[b]) {
        // Finished row (reset-before's da_r is written by gru_backward_reset).
        if (!RESET_BEFORE) {
            da_in[at] = 0.0;
            da_in[at + H] = 0.0;
            da_in[at + 2u * H] = 0.0;
            da_hid[at] = 0.0;
        }
        da_hid[at + H] = 0.0;
        da_hid[at + 2u * H] = 0.0;
        return;
    }
    // What the forward saved of each gate (see common/activations.wgsl).
    let sr = acts[at];
    let sz = acts[at + H];
    let sn = acts[at + 2u * H];
    let r = value_f(sr);
    let z = value_f(sz);
    let n = value_g(sn);
    let h = hs[at_step(s, b, H) + j];
    let da_z = times_grad_f(dh * (h - n), sz);
    let da_n = times_grad_g(dh * (1.0 - z), sn);
    da_hid[at + H] = da_z;
    if (RESET_BEFORE) {
        da_hid[at + 2u * H] = da_n;
    } else {
        let da_r = times_grad_f(da_n * aux[at_step(s, b, H) + j], sr);
        da_in[at] = da_r;
        da_in[at + H] = da_z;
        da_in[at + 2u * H] = da_n;
        da_hid[at] = da_r;
        da_hid[at + 2u * H] = da_n * r;
    }
}

// For subgroup/backward.wgsl: element `at` of the hidden-side gate
// gradients, and the gate rows per step (the stride) with how many of them
// weight_hh multiplies (reset before: r and z; gru_backward_reset does n).
fn gate_grad(at: u32) -> f32 {
    return da_hid[at];
}

fn gate_rows() -> vec2<u32> {
    return vec2<u32>(3u * p.hidden, select(3u * p.hidden, 2u * p.hidden, RESET_BEFORE));
}

// Finishes dS_i for row b and unit k from the product `rec` =
// (weight_hhᵀ da_i)[b, k]: the output gradient (already in ds), the part
// that passes through z (or all of it for a finished row), reset before's
// d(rh) r; then the cell backward of step i-1.
fn finish_state_gradient(b: u32, k: u32, rec: f32) {
    let H = p.hidden;
    let G = 3u * H;
    let i = p.step;
    let at = at_step(i, b, H) + k;
    let next = ds[at_step(i + 1u, b, H) + k];
    var g = ds[at] + rec;
    if (i >= lengths[b]) {
        g += next;
    } else {
        let gates = at_step(i, b, G) + k;
        g += value_f(acts[gates + H]) * next;
        if (RESET_BEFORE) {
            g += aux[b * H + k] * value_f(acts[gates]);
        }
    }
    ds[at] = g;
    if (i > 0u) {
        cell_backward(b, k, i - 1u, g);
    }
}

// Reset before, the end of gru_backward_reset for row b and unit k of step
// p.step from the product `rec` = (W_hnᵀ da_n)[b, k] = d(rh): da_r, and
// d(rh) for the next dispatch. Zero for finished rows (their da_n is zero
// too).
fn finish_reset(b: u32, k: u32, rec: f32) {
    let H = p.hidden;
    let i = p.step;
    let gates = at_step(i, b, 3u * H) + k;
    var drh = 0.0;
    var da_r = 0.0;
    if (i < lengths[b]) {
        drh = rec;
        da_r = times_grad_f(drh * hs[at_step(i, b, H) + k], acts[gates]);
    }
    aux[b * H + k] = drh;
    da_hid[gates] = da_r;
}

// The gate gradients `transposed_products` multiplies (common/backward.wgsl).
fn backward_gate(at: u32) -> f32 {
    return da_hid[at];
}
