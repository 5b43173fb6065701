// The Elman RNN backward pass, one dispatch per step (see
// common/backward.wgsl); this file holds what rnn/backward.wgsl and
// subgroup/backward.wgsl share (common/common.wgsl, common/activations.wgsl and
// common/backward.wgsl come first): da = dh * f'(a), with f' read off the
// saved state h' = f(a) (1 - h'² for tanh, [h' > 0] for relu), or with
// SAVE_PRE computed from the saved pre-activation a.

@group(0) @binding(0) var<uniform> p: BackParams;
// weight_hh [H, H] (PyTorch layout).
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+2, B, H]: see lstm/backward.wgsl.
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
// [T, B, H]: gradients of the pre-activations.
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
// [T+1, B, H]: the states.
@group(0) @binding(5) var<storage, read> hs: array<f32>;
// [T, B, H]: SAVE_PRE: the clipped pre-activations (else unread).
@group(0) @binding(6) var<storage, read> acts: array<f32>;

// For subgroup/backward.wgsl: element `at` of da, and the gate rows per
// step with how many of them weight_hh multiplies (one gate: H and H).
fn gate_grad(at: u32) -> f32 {
    return da[at];
}

fn gate_rows() -> vec2<u32> {
    return vec2<u32>(p.hidden);
}

// Finishes dS_i for row b and unit k from the product `rec` =
// (weight_hhᵀ da_i)[b, k]: the output gradient (already in ds) and, for a
// finished row, the gradient passed through; then da of step i-1.
fn finish_state_gradient(b: u32, k: u32, rec: f32) {
    let H = p.hidden;
    let i = p.step;
    let at = at_step(i, b, H) + k;
    var g = ds[at] + rec;
    if (i >= lengths[b]) {
        g += ds[at_step(i + 1u, b, H) + k];
    }
    ds[at] = g;
    if (i > 0u) {
        let s = i - 1u;
        var d = 0.0;
        if (s < lengths[b]) {
            // The state is the function's value; SAVE_PRE saved its input.
            var saved = hs[at];
            if (SAVE_PRE) {
                saved = acts[at_step(s, b, H) + k];
            }
            d = times_grad_f(g, saved);
        }
        da[at_step(s, b, H) + k] = d;
    }
}

// The gate gradients `transposed_products` multiplies (common/backward.wgsl).
fn backward_gate(at: u32) -> f32 {
    return da[at];
}
