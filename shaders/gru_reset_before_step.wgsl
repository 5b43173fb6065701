// One GRU time step with the reset gate applied BEFORE the recurrent product
// (Cho 2014, the seed, ONNX linear_before_reset=0):
//   r = σ(xg_r + W_hr h),  z = σ(xg_z + W_hz h),
//   n = tanh(xg_n + W_hn (r*h)),  h' = (1-z)*n + z*h   (all biases in xg).
// W_hn needs r*h of every unit, so a step is two dispatches: `gru_gates`
// writes r*h and z, then `gru_candidate` finishes the step. Tiling as in
// lstm_step.wgsl.

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 3H], gate blocks r, z, n.
// TRAIN replaces them with the activations r, z, n.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [H (k), H (j)]: (r, z) weights of unit j for input k.
@group(0) @binding(2) var<storage, read> w_rz: array<vec2<f32>>;
// [H (k), H (j)]: n weights of unit j for input k.
@group(0) @binding(3) var<storage, read> w_n: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, H]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// [B, H] scratch between the two dispatches: r*h_{t-1} and z (TRAIN:
// [T, B, H] histories; the weight gradient of W_hn reads r*h).
@group(0) @binding(6) var<storage, read_write> rh: array<f32>;
@group(0) @binding(7) var<storage, read_write> zs: array<f32>;

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
                    let w = w_rz[(k0 + kk) * H + j];
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
            let w = w_rz[k * H + j];
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
        let row = p.xg_offset + b * 3u * H + j;
        let r = sigmoid(xg[row] + acc[bb].x);
        let z = sigmoid(xg[row + H] + acc[bb].y);
        // A finished row's r*h and z are never used: gru_candidate copies h
        // (and the backward pass multiplies them by zero gate gradients).
        rh[history(p.step, H) + b * H + j] = r * hs[p.h_prev_offset + b * K + j];
        zs[history(p.step, H) + b * H + j] = z;
        if (TRAIN && p.step < lengths[b]) {
            xg[row] = r;
            xg[row + H] = z;
        }
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
                    let w = w_n[(k0 + kk) * H + j];
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
            let w = w_n[k * H + j];
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
        let h_prev = hs[p.h_prev_offset + b * K + j];
        var h = h_prev;
        if (p.step < lengths[b]) {
            let row = p.xg_offset + b * 3u * H + j;
            let n = tanh_safe(xg[row + 2u * H] + acc[bb]);
            let z = zs[history(p.step, H) + b * H + j];
            h = (1.0 - z) * n + z * h_prev;
            if (TRAIN) {
                xg[row + 2u * H] = n;
            }
        }
        hs[p.h_out_offset + b * K + j] = h;
    }
}
