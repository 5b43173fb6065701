// The GEMM kernels for every adapter (gemm/common.wgsl comes first).
// gemm_nt: a 64x64 output tile per workgroup of 16x16 invocations, each
// computing a 4x4 block from K-slices staged in workgroup memory as vec4s.
// gemm_dot: one invocation per output element over a range of K, for
// outputs too thin for 64x64 tiles (dX with a few input features, dW_ih)
// or too few tiles for the K to be worth one workgroup each (dW_hh over
// T*B rows: split-K). gemm_dot8: the same with 8x8 blocks, for CPU adapters
// without 8-lane subgroups.

const TILE: u32 = 64u;
const KT: u32 = 16u;
const QUADS: u32 = 16u; // TILE / 4

// [KT][QUADS]: element kk*QUADS + q holds rows (or columns) 4q..4q+3 at k0+kk.
var<workgroup> a_tile: array<vec4<f32>, 256>;
var<workgroup> b_tile: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn gemm_nt(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    // Loading: neighbouring invocations read neighbouring k of one row.
    let load_k = li % KT;
    let load_q = li / KT;
    // Split z sums K range [z*k_split, (z+1)*k_split) into its own slice.
    let k_begin = wg.z * p.k_split;
    let k_end = min(p.k, k_begin + p.k_split);
    var acc = array<vec4<f32>, 4>();
    for (var k0 = k_begin; k0 < k_end; k0 += KT) {
        let k = k0 + load_k;
        var av = vec4<f32>(0.0);
        var bv = vec4<f32>(0.0);
        if (k < k_end) {
            for (var e = 0u; e < 4u; e++) {
                let r = row0 + load_q * 4u + e;
                if (r < p.m) {
                    av[e] = a[p.a_offset + select(r * p.lda + k, k * p.lda + r, trans_a())];
                }
                let col = col0 + load_q * 4u + e;
                if (col < p.n) {
                    bv[e] = b[select(col * p.k + k, k * p.n + col, trans_b())];
                }
            }
        }
        a_tile[load_k * QUADS + load_q] = av;
        b_tile[load_k * QUADS + load_q] = bv;
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let ar = a_tile[kk * QUADS + lid.y];
            let bc = b_tile[kk * QUADS + lid.x];
            acc[0] = fma(vec4<f32>(ar.x), bc, acc[0]);
            acc[1] = fma(vec4<f32>(ar.y), bc, acc[1]);
            acc[2] = fma(vec4<f32>(ar.z), bc, acc[2]);
            acc[3] = fma(vec4<f32>(ar.w), bc, acc[3]);
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y * 4u + i;
        if (r >= p.m) {
            break;
        }
        for (var e = 0u; e < 4u; e++) {
            let col = col0 + lid.x * 4u + e;
            if (col < p.n) {
                store(r, col, wg.z, acc[i][e]);
            }
        }
    }
}

// One invocation per 4x4 output block: 16 FMAs per 8 loads.
@compute @workgroup_size(256)
fn gemm_dot(@builtin(global_invocation_id) gid: vec3<u32>) {
    let blocks_n = (p.n + 3u) / 4u;
    let e = gid.x;
    if (e >= blocks_n * ((p.m + 3u) / 4u)) {
        return;
    }
    let r0 = (e / blocks_n) * 4u;
    let c0 = (e % blocks_n) * 4u;
    // Rows and columns past the edge re-read the last one and are not written.
    var rows = vec4<u32>();
    var cols = vec4<u32>();
    for (var i = 0u; i < 4u; i++) {
        rows[i] = min(r0 + i, p.m - 1u);
        cols[i] = min(c0 + i, p.n - 1u);
    }
    let k_begin = gid.y * p.k_split;
    let k_end = min(p.k, k_begin + p.k_split);
    var acc = array<vec4<f32>, 4>();
    for (var k = k_begin; k < k_end; k++) {
        var av = vec4<f32>();
        var bv = vec4<f32>();
        for (var i = 0u; i < 4u; i++) {
            av[i] = a[p.a_offset + select(rows[i] * p.lda + k, k * p.lda + rows[i], trans_a())];
            bv[i] = b[select(cols[i] * p.k + k, k * p.n + cols[i], trans_b())];
        }
        acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
        acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
        acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
        acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
    }
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + i;
        for (var j = 0u; j < 4u; j++) {
            let col = c0 + j;
            if (r < p.m && col < p.n) {
                store(r, col, gid.y, acc[i][j]);
            }
        }
    }
}

// gemm_dot with 8x8 blocks: 64 FMAs per 16 loads. The big products on CPU
// adapters, where direct loads without workgroup barriers measured faster
// than the tiles.
@compute @workgroup_size(256)
fn gemm_dot8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let blocks_n = (p.n + 7u) / 8u;
    let e = gid.x;
    if (e >= blocks_n * ((p.m + 7u) / 8u)) {
        return;
    }
    let r0 = (e / blocks_n) * 8u;
    let c0 = (e % blocks_n) * 8u;
    var rows = array<u32, 8>();
    var cols = array<u32, 8>();
    for (var i = 0u; i < 8u; i++) {
        rows[i] = min(r0 + i, p.m - 1u);
        cols[i] = min(c0 + i, p.n - 1u);
    }
    let k_begin = gid.y * p.k_split;
    let k_end = min(p.k, k_begin + p.k_split);
    var acc = array<vec4<f32>, 16>();
    for (var k = k_begin; k < k_end; k++) {
        var b_lo = vec4<f32>();
        var b_hi = vec4<f32>();
        for (var j = 0u; j < 4u; j++) {
            b_lo[j] = b[select(cols[j] * p.k + k, k * p.n + cols[j], trans_b())];
            b_hi[j] = b[select(cols[j + 4u] * p.k + k, k * p.n + cols[j + 4u], trans_b())];
        }
        for (var i = 0u; i < 8u; i++) {
            let av = vec4<f32>(a[p.a_offset + select(rows[i] * p.lda + k, k * p.lda + rows[i], trans_a())]);
            acc[2u * i] = fma(av, b_lo, acc[2u * i]);
            acc[2u * i + 1u] = fma(av, b_hi, acc[2u * i + 1u]);
        }
    }
    for (var i = 0u; i < 8u; i++) {
        let r = r0 + i;
        for (var j = 0u; j < 8u; j++) {
            let col = c0 + j;
            if (r < p.m && col < p.n) {
                store(r, col, gid.y, acc[2u * i + j / 4u][j % 4u]);
            }
        }
    }
}
