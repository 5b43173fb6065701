// gru_step (gru/common.wgsl comes first). Tiling as in lstm/step.wgsl.

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
                    let w = vec4<f32>(w_hh[(k0 + kk) * H + j]);
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
            let w = vec4<f32>(w_hh[k * H + j]);
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
        finish_unit(b, j, acc[bb]);
    }
}
