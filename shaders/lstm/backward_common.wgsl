// The LSTM (and peephole LSTM) backward pass, one dispatch per step (two
// with a projection): what its kernels share (lstm/backward.wgsl,
// subgroup/backward.wgsl; common/common.wgsl, common/activations.wgsl and
// common/backward.wgsl come first; the functions f, g, h are shown here as
// the plain cell's sigmoid, tanh, tanh). See common/backward.wgsl for the step scheme.
// With i, f, g, o the gate values, c_{s-1} and c_s the saved cell states,
// dm the gradient of o*tanh(c_s) and dc the carried cell-state gradient:
//   da_o = dm tanh(c) o(1-o)
//   dc' = dc + dm o (1 - tanh²c) + da_o p_o
//   da_i = dc' g i(1-i),  da_f = dc' c_{s-1} f(1-f),  da_g = dc' i (1-g²)
//   dc_{s-1} = dc' f + da_i p_i + da_f p_f

@group(0) @binding(0) var<uniform> p: BackParams;
// lstm_backward_step: weight_hh [4H, Ho]; lstm_backward_cell: weight_hr
// [Ho, H] (PyTorch layouts: a row's neighbouring columns are neighbouring
// invocations' weights).
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+2, B, Ho]: slot i ≤ T the gradient of hs slot i, preloaded with the
// output gradient of step i-1; slot T+1 holds grad_h_n.
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
// [T, B, 4H]: gradients of the gate pre-activations i, f, g, o.
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
// [T, B, 4H]: the activations i, f, g, o of the training forward.
@group(0) @binding(5) var<storage, read> acts: array<f32>;
// [T+1, B, H]: c0 and the cell state after every step.
@group(0) @binding(6) var<storage, read> cs: array<f32>;
// [B, H]: the cell-state gradient carried from step to step (starts as
// grad_c_n, ends as grad_c0).
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;
// [3, H]: p_i, p_f, p_o (zeros for a plain LSTM).
@group(0) @binding(8) var<storage, read> peephole: array<f32>;

override PEEPHOLE: bool = false;
// With a projection dS lives in Ho-space; lstm_backward_cell maps it back
// through weight_hr and runs the cell backward.
override PROJ: bool = false;

// The backward of step s for unit j of row b, given dm = dL/d(o*tanh c).
fn cell_backward(b: u32, j: u32, s: u32, dm: f32) {
    let H = p.hidden;
    let at = at_step(s, b, 4u * H) + j;
    if (s >= lengths[b]) {
        // Finished row: no gate was used; dc passes through unchanged.
        da[at] = 0.0;
        da[at + H] = 0.0;
        da[at + 2u * H] = 0.0;
        da[at + 3u * H] = 0.0;
        return;
    }
    // What the forward saved of each gate (see common/activations.wgsl).
    let si = acts[at];
    let sf = acts[at + H];
    let sg = acts[at + 2u * H];
    let so = acts[at + 3u * H];
    let i = value_f(si);
    // INPUT_FORGET: f = 1 - i, so dc'/di = g - c and f has no gradient.
    let f = select(value_f(sf), 1.0 - i, INPUT_FORGET);
    let g = value_g(sg);
    let o = value_f(so);
    let c_prev = cs[at_step(s, b, H) + j];
    let c_new = cs[at_step(s + 1u, b, H) + j];
    let tc = act_h(c_new);
    let da_o = times_grad_f(dm * tc, so);
    var dcs = dc[b * H + j] + times_grad_h(dm * o, c_new, tc);
    if (PEEPHOLE) {
        dcs += da_o * peephole[2u * H + j];
    }
    let da_i = times_grad_f(dcs * select(g, g - c_prev, INPUT_FORGET), si);
    let da_f = select(times_grad_f(dcs * c_prev, sf), 0.0, INPUT_FORGET);
    let da_g = times_grad_g(dcs * i, sg);
    var dc_prev = dcs * f;
    if (PEEPHOLE) {
        dc_prev += da_i * peephole[j] + da_f * peephole[H + j];
    }
    dc[b * H + j] = dc_prev;
    da[at] = da_i;
    da[at + H] = da_f;
    da[at + 2u * H] = da_g;
    da[at + 3u * H] = da_o;
}

// For subgroup/backward.wgsl: element `at` of da, and the gate rows per
// step (the stride of da) with how many of them weight_hh multiplies.
fn gate_grad(at: u32) -> f32 {
    return da[at];
}

fn gate_rows() -> vec2<u32> {
    return vec2<u32>(4u * p.hidden);
}

// Finishes dS_i (i = p.step) for row b and element k of the state from the
// product `rec` = (weight_hhᵀ da_i)[b, k]: adds the output gradient (already
// in ds) and, for a finished row, the gradient passed through; then
// (without a projection) the cell backward of step i-1.
fn finish_state_gradient(b: u32, k: u32, rec: f32) {
    finish_state_gradient_at(p.step, b, k, rec);
}

// finish_state_gradient for slot i (the persistent kernel runs many).
fn finish_state_gradient_at(i: u32, b: u32, k: u32, rec: f32) {
    let K = p.out_size;
    let at = at_step(i, b, K) + k;
    var g = ds[at] + rec;
    if (i >= lengths[b]) {
        g += ds[at_step(i + 1u, b, K) + k];
    }
    ds[at] = g;
    if (!PROJ && i > 0u) {
        cell_backward(b, k, i - 1u, g);
    }
}

// The gate gradients `transposed_products` multiplies (common/backward.wgsl).
fn backward_gate(at: u32) -> f32 {
    return da[at];
}
