// The GRU backward pass (both reset placements), one dispatch per step (two
// for reset-before). See backward_common.wgsl for the step scheme. With r, z,
// n the saved activations, h the state before the step and dh the gradient
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
// [T+2, B, H]: see lstm_backward.wgsl.
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
// [T, B, 3H]: gradients of the hidden-side products r, z, n (what weight_hh
// multiplies). Reset before: also the input side, which is the same.
@group(0) @binding(4) var<storage, read_write> da_hid: array<f32>;
// [T, B, 3H]: the activations r, z, n of the training forward.
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
    let r = acts[at];
    let z = acts[at + H];
    let n = acts[at + 2u * H];
    let h = hs[at_step(s, b, H) + j];
    let da_z = dh * (h - n) * z * (1.0 - z);
    let da_n = dh * (1.0 - z) * (1.0 - n * n);
    da_hid[at + H] = da_z;
    if (RESET_BEFORE) {
        da_hid[at + 2u * H] = da_n;
    } else {
        let da_r = da_n * aux[at_step(s, b, H) + j] * r * (1.0 - r);
        da_in[at] = da_r;
        da_in[at + H] = da_z;
        da_in[at + 2u * H] = da_n;
        da_hid[at] = da_r;
        da_hid[at + 2u * H] = da_n * r;
    }
}

// dS_i = weight_hhᵀ da_i (rows r, z, n; reset before: r, z, plus d(rh) r)
// + pass + output gradient, then the cell backward of step i-1.
@compute @workgroup_size(64)
fn gru_backward_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let G = 3u * H;
    let R = select(3u * H, 2u * H, RESET_BEFORE);
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (i < p.seq && k < H) {
        let r0 = at_step(i, read_row(b0, 0u), G);
        let r1 = at_step(i, read_row(b0, 1u), G);
        let r2 = at_step(i, read_row(b0, 2u), G);
        let r3 = at_step(i, read_row(b0, 3u), G);
        for (var r = 0u; r < R; r++) {
            let wv = w[r * H + k];
            acc[0] = fma(da_hid[r0 + r], wv, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(da_hid[r1 + r], wv, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(da_hid[r2 + r], wv, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(da_hid[r3 + r], wv, acc[3]); }
        }
    }
    if (k >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        let at = at_step(i, b, H) + k;
        let next = ds[at_step(i + 1u, b, H) + k];
        var g = ds[at] + acc[bb];
        if (i >= lengths[b]) {
            g += next;
        } else {
            let gates = at_step(i, b, G) + k;
            g += acts[gates + H] * next;
            if (RESET_BEFORE) {
                g += aux[b * H + k] * acts[gates];
            }
        }
        ds[at] = g;
        if (i > 0u) {
            cell_backward(b, k, i - 1u, g);
        }
    }
}

// Reset before, step i (between dispatches i+1 and i): d(rh) = W_hnᵀ da_n,
// then da_r. Zero for finished rows (their da_n is zero too).
@compute @workgroup_size(64)
fn gru_backward_reset(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let G = 3u * H;
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    if (k >= H) {
        return;
    }
    let r0 = at_step(i, read_row(b0, 0u), G) + 2u * H;
    let r1 = at_step(i, read_row(b0, 1u), G) + 2u * H;
    let r2 = at_step(i, read_row(b0, 2u), G) + 2u * H;
    let r3 = at_step(i, read_row(b0, 3u), G) + 2u * H;
    var acc = array<f32, 4>();
    for (var j = 0u; j < H; j++) {
        let wv = w[(2u * H + j) * H + k];
        acc[0] = fma(da_hid[r0 + j], wv, acc[0]);
        if (ROWS > 1u) { acc[1] = fma(da_hid[r1 + j], wv, acc[1]); }
        if (ROWS > 2u) { acc[2] = fma(da_hid[r2 + j], wv, acc[2]); }
        if (ROWS > 3u) { acc[3] = fma(da_hid[r3 + j], wv, acc[3]); }
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        let gates = at_step(i, b, G) + k;
        var drh = 0.0;
        var da_r = 0.0;
        if (i < lengths[b]) {
            let r = acts[gates];
            drh = acc[bb];
            da_r = drh * hs[at_step(i, b, H) + k] * r * (1.0 - r);
        }
        aux[b * H + k] = drh;
        da_hid[gates] = da_r;
    }
}
