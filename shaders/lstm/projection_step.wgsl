// The LSTM output projection of one step, h = W_hr m with m = o*tanh(c)
// written by lstm_step (PROJ). Units j run over Ho, the dot products over H.
// Tiling as in lstm/step.wgsl.

@group(0) @binding(0) var<uniform> p: StepParams;
// [H (k), Ho (j)]: W_hr transposed, neighbouring units at neighbouring addresses.
@group(0) @binding(1) var<storage, read> w_hr: array<Weight>;
// [B]: valid steps of each row.
@group(0) @binding(2) var<storage, read> lengths: array<u32>;
// [T+1, B, Ho]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(3) var<storage, read_write> hs: array<f32>;
// [B, H]: o*tanh(c) of this step.
@group(0) @binding(4) var<storage, read_write> m: array<f32>;

var<workgroup> h_tile: array<f32, 256>; // [BT][KT]

@compute @workgroup_size(64)
fn projection_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    // Here H is Ho (units) and K is the LSTM's hidden size.
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<f32, 4>();
    if (TILED) {
        for (var k0 = 0u; k0 < K; k0 += KT) {
            for (var e = li; e < BT * KT; e += WG) {
                let b = b0 + e / KT;
                let k = k0 + e % KT;
                var v = 0.0;
                if (b < p.batch && k < K) {
                    v = m[history(p.step, K) + b * K + k];
                }
                h_tile[e] = v;
            }
            workgroupBarrier();
            if (j < H) {
                let kn = min(KT, K - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let w = f32(w_hr[(k0 + kk) * H + j]);
                    for (var bb = 0u; bb < BT; bb++) {
                        acc[bb] = fma(h_tile[bb * KT + kk], w, acc[bb]);
                    }
                }
            }
            workgroupBarrier();
        }
    } else if (j < H) {
        // Every invocation reads the same h values straight from the buffer
        // (a cache broadcast): no workgroup tile, no barriers. Rows past the
        // batch repeat the last row and are never written.
        let m0 = history(p.step, K);
        let r0 = m0 + min(b0, p.batch - 1u) * K;
        let r1 = m0 + min(b0 + 1u, p.batch - 1u) * K;
        let r2 = m0 + min(b0 + 2u, p.batch - 1u) * K;
        let r3 = m0 + min(b0 + 3u, p.batch - 1u) * K;
        for (var k = 0u; k < K; k++) {
            let w = f32(w_hr[k * H + j]);
            acc[0] = fma(m[r0 + k], w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(m[r1 + k], w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(m[r2 + k], w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(m[r3 + k], w, acc[3]); }
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
        var h = hs[p.h_prev_offset + b * H + j];
        if (p.step < lengths[b]) {
            h = acc[bb];
        }
        hs[p.h_out_offset + b * H + j] = h;
    }
}
