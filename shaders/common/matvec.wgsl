// A per-step forward kernel (`matvec_step`, the entry point of every kernel
// that includes this file): for the BT batch rows b0.. of a workgroup and
// its unit j < p.units, acc[bb] = sum over k < p.rec of row(b0 + bb)[k] *
// W[k, j], then the kernel's own end of the step. The kernel's module
// supplies (WGSL declarations are unordered):
//   alias Acc = f32 | vec2<f32> | vec4<f32>;  the gates one weight holds
//   fn matvec_weight(k: u32, j: u32) -> Acc   W[k, j] (any storage type)
//   fn matvec_row(at: u32) -> f32             the row operand's element `at`
//   fn matvec_rows() -> vec2<u32>             (first, stride): row b starts
//                                             at first + b * stride
//   fn matvec_finish(b: u32, j: u32, acc: Acc)  the rest of the step With TILED (GPUs)
// the rows are staged in workgroup memory KT values at a time; without
// (CPU adapters) every invocation reads the same values straight from the
// buffer (a cache broadcast): no tile, no barriers. Rows past the batch
// repeat the last row and are never written. Call it from uniform control
// flow (it may hold barriers).

var<workgroup> h_tile: array<f32, 256>; // [BT][KT]

fn recurrent_products(li: u32, j: u32, b0: u32, units: u32, K: u32, first: u32, stride: u32) -> array<Acc, 4> {
    var acc = array<Acc, 4>();
    if (TILED) {
        for (var k0 = 0u; k0 < K; k0 += KT) {
            for (var e = li; e < BT * KT; e += WG) {
                let b = b0 + e / KT;
                let k = k0 + e % KT;
                var v = 0.0;
                if (b < p.batch && k < K) {
                    v = matvec_row(first + b * stride + k);
                }
                h_tile[e] = v;
            }
            workgroupBarrier();
            if (j < units) {
                let kn = min(KT, K - k0);
                for (var kk = 0u; kk < kn; kk++) {
                    let w = matvec_weight(k0 + kk, j);
                    for (var bb = 0u; bb < BT; bb++) {
                        acc[bb] = fma(Acc(h_tile[bb * KT + kk]), w, acc[bb]);
                    }
                }
            }
            workgroupBarrier();
        }
    } else if (j < units) {
        let r0 = first + min(b0, p.batch - 1u) * stride;
        let r1 = first + min(b0 + 1u, p.batch - 1u) * stride;
        let r2 = first + min(b0 + 2u, p.batch - 1u) * stride;
        let r3 = first + min(b0 + 3u, p.batch - 1u) * stride;
        for (var k = 0u; k < K; k++) {
            let w = matvec_weight(k, j);
            acc[0] = fma(Acc(matvec_row(r0 + k)), w, acc[0]);
            if (ROWS > 1u) { acc[1] = fma(Acc(matvec_row(r1 + k)), w, acc[1]); }
            if (ROWS > 2u) { acc[2] = fma(Acc(matvec_row(r2 + k)), w, acc[2]); }
            if (ROWS > 3u) { acc[3] = fma(Acc(matvec_row(r3 + k)), w, acc[3]); }
        }
    }
    return acc;
}

@compute @workgroup_size(64)
fn matvec_step(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let units = p.units;
    let j = wg.x * WG + li;
    let b0 = wg.y * BT;
    let rows = matvec_rows();
    var acc = recurrent_products(li, j, b0, units, p.rec, rows.x, rows.y);
    if (j >= units) {
        return;
    }
    for (var bb = 0u; bb < BT; bb++) {
        let b = b0 + bb;
        if (b >= p.batch) {
            break;
        }
        matvec_finish(b, j, acc[bb]);
    }
}
