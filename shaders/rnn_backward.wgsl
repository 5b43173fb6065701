// The Elman RNN backward pass, one dispatch per step (see
// backward_common.wgsl): da = dh * act'(a), with act' read off the saved
// state h' = act(a): 1 - h'² for tanh, [h' > 0] for relu.

@group(0) @binding(0) var<uniform> p: BackParams;
// weight_hh [H, H] (PyTorch layout).
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+2, B, H]: see lstm_backward.wgsl.
@group(0) @binding(3) var<storage, read_write> ds: array<f32>;
// [T, B, H]: gradients of the pre-activations.
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
// [T+1, B, H]: the states.
@group(0) @binding(5) var<storage, read> hs: array<f32>;

override RELU: bool = false;

@compute @workgroup_size(64)
fn rnn_backward_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.hidden;
    let i = p.step;
    let k = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (i < p.seq && k < H) {
        let r0 = at_step(i, read_row(b0, 0u), H);
        let r1 = at_step(i, read_row(b0, 1u), H);
        let r2 = at_step(i, read_row(b0, 2u), H);
        let r3 = at_step(i, read_row(b0, 3u), H);
        for (var r = 0u; r < H; r++) {
            let wv = w[r * H + k];
            acc[0] = fma(da[r0 + r], wv, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(da[r1 + r], wv, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(da[r2 + r], wv, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(da[r3 + r], wv, acc[3]); }
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
        var g = ds[at] + acc[bb];
        if (i >= lengths[b]) {
            g += ds[at_step(i + 1u, b, H) + k];
        }
        ds[at] = g;
        if (i > 0u) {
            let s = i - 1u;
            var d = 0.0;
            if (s < lengths[b]) {
                let h = hs[at];
                if (RELU) {
                    d = select(0.0, g, h > 0.0);
                } else {
                    d = g * (1.0 - h * h);
                }
            }
            da[at_step(s, b, H) + k] = d;
        }
    }
}
