// The reset-before GRU's two step dispatches (gru/reset_before_common.wgsl
// comes first): `gru_gates` writes r*h and z, then `gru_candidate`
// finishes the step. Tiling as in lstm/step.wgsl.

var<workgroup> h_tile: array<f32, 256>; // [BT][KT]

@compute @workgroup_size(64)
fn gru_gates(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let K = p.rec;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    var acc = array<vec2<f32>, 4>();
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
                    let w = vec2<f32>(w_rz[(k0 + kk) * H + j]);
                    for (var bb = 0u; bb < BT; bb++) {
                        acc[bb] = fma(vec2<f32>(h_tile[bb * KT + kk]), w, acc[bb]);
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
            let w = vec2<f32>(w_rz[k * H + j]);
            acc[0] = fma(vec2<f32>(hs[r0 + k]), w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(vec2<f32>(hs[r1 + k]), w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(vec2<f32>(hs[r2 + k]), w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(vec2<f32>(hs[r3 + k]), w, acc[3]); }
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
        finish_gates(b, j, acc[bb]);
    }
}

@compute @workgroup_size(64)
fn gru_candidate(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
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
                    v = rh[history(p.step, H) + b * H + k];
                }
                h_tile[e] = v;
            }
            workgroupBarrier();
            if (j < H) {
                let kn = min(KT, K - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let w = f32(w_n[(k0 + kk) * H + j]);
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
        let rh0 = history(p.step, H);
        let r0 = rh0 + min(b0, p.batch - 1u) * H;
        let r1 = rh0 + min(b0 + 1u, p.batch - 1u) * H;
        let r2 = rh0 + min(b0 + 2u, p.batch - 1u) * H;
        let r3 = rh0 + min(b0 + 3u, p.batch - 1u) * H;
        for (var k = 0u; k < K; k++) {
            let w = f32(w_n[k * H + j]);
            acc[0] = fma(rh[r0 + k], w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(rh[r1 + k], w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(rh[r2 + k], w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(rh[r3 + k], w, acc[3]); }
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
        finish_candidate(b, j, acc[bb]);
    }
}
