// One GRU time step with the reset gate applied AFTER the recurrent product
// (PyTorch, cuDNN, ONNX linear_before_reset=1), fused:
//   r = σ(xg_r + W_hr h),  z = σ(xg_z + W_hz h),
//   n = tanh(xg_n + r * (W_hn h + b_hn)),  h' = (1-z)*n + z*h.
// xg already holds b_ih for every gate and b_hh for r and z; b_hn cannot be
// folded because r multiplies it. Tiling as in lstm_step.wgsl.

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 3H], gate blocks r, z, n.
// TRAIN replaces them with the activations r, z, n.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [H (k), H (j)]: (r, z, n, 0) weights of unit j for input k.
@group(0) @binding(2) var<storage, read> w_hh: array<vec4<f32>>;
// [H]: the n-gate recurrent bias.
@group(0) @binding(3) var<storage, read> b_hn: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, H]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// TRAIN: [T, B, H], W_hn h + b_hn of every step (the backward pass needs
// it for dr); unused in inference.
@group(0) @binding(6) var<storage, read_write> hn_hist: array<f32>;

var<workgroup> h_tile: array<f32, 256>; // [BT][KT]

@compute @workgroup_size(64)
fn gru_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<vec4<f32>, 4>();
    if (TILED) {
        for (var k0 = 0u; k0 < K; k0 += KT) {
            for (var e = li; e < BT * KT; e += WG) {
                let b = b0 + e / KT;
                let k = k0 + e % KT;
                var v = 0.0;
                if (b < p.batch && k < K) {
                    v = hs[p.h_prev_offset + b * K + k];
                }
                h_tile[e] = v;
            }
            workgroupBarrier();
            if (j < H) {
                let kn = min(KT, K - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let w = w_hh[(k0 + kk) * H + j];
                    for (var bb = 0u; bb < BT; bb++) {
                        acc[bb] = fma(vec4<f32>(h_tile[bb * KT + kk]), w, acc[bb]);
                    }
                }
            }
            workgroupBarrier();
        }
    } else if (j < H) {
        // Every invocation reads the same h values straight from the buffer
        // (a cache broadcast): no workgroup tile, no barriers. Rows past the
        // batch repeat the last row and are never written.
        let r0 = p.h_prev_offset + min(b0, p.batch - 1u) * K;
        let r1 = p.h_prev_offset + min(b0 + 1u, p.batch - 1u) * K;
        let r2 = p.h_prev_offset + min(b0 + 2u, p.batch - 1u) * K;
        let r3 = p.h_prev_offset + min(b0 + 3u, p.batch - 1u) * K;
        for (var k = 0u; k < K; k++) {
            let w = w_hh[k * H + j];
            acc[0] = fma(vec4<f32>(hs[r0 + k]), w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(vec4<f32>(hs[r1 + k]), w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(vec4<f32>(hs[r2 + k]), w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(vec4<f32>(hs[r3 + k]), w, acc[3]); }
        }
    }
    if (j >= H) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        let h_prev = hs[p.h_prev_offset + b * K + j];
        var h = h_prev;
        if (p.step < lengths[b]) {
            let row = p.xg_offset + b * 3u * H + j;
            let r = sigmoid(xg[row] + acc[bb].x);
            let z = sigmoid(xg[row + H] + acc[bb].y);
            let hn = acc[bb].z + b_hn[j];
            let n = tanh_safe(xg[row + 2u * H] + r * hn);
            h = (1.0 - z) * n + z * h_prev;
            if (TRAIN) {
                xg[row] = r;
                xg[row + H] = z;
                xg[row + 2u * H] = n;
                hn_hist[history(p.step, H) + b * H + j] = hn;
            }
        }
        hs[p.h_out_offset + b * K + j] = h;
    }
}
