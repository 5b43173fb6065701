// gemm_texels: the GEMM for CPU adapters whose subgroups have 8 lanes
// (lavapipe on AVX2). gemm/common.wgsl and subgroup/subgroup.wgsl come first;
// src/kernels/gemm.rs packs both operands into texels just before the
// product.
//
// Why a kernel of its own: llvmpipe runs 8 invocations as the lanes of one
// SIMD vector and turns every storage-buffer load into a loop over the
// lanes with a branch per lane, so a load costs tens of instructions where
// an FMA costs one. Here each lane fetches a different row of A and
// subgroupBroadcast hands each value to all 8 lanes, so every fetched
// element of A feeds 8 lanes x 4 columns and every element of B 64 rows.
// And the operands are texels: a texel fetch has no per-lane branch and
// brings four k at once. Measured on lavapipe (BENCHMARKS.md): about 10x
// gemm_dot8; the same blocks from storage buffers ran at less than half
// the speed.
//
// A workgroup is one subgroup; it owns a block of 64 rows (8 groups of 8)
// by 32 columns: lane l owns columns c0 + l + 8j (j < 4) and fetches rows
// r0 + 8g + l (g < 8). Rows and columns past the edge re-read the last one
// and are not written. The texels run past K with zeros, so every split
// sums whole texels.

// A [M, K] and B [N, K] (each as texels of four consecutive k; see
// subgroup/texels.wgsl for the layout).
@group(1) @binding(0) var a_texels: texture_2d<f32>;
@group(1) @binding(1) var b_texels: texture_2d<f32>;

const TEXEL_ROW_SHIFT: u32 = 12u;
const ROW_GROUPS: u32 = 8u;
const BLOCK_ROWS: u32 = 64u; // LANES * ROW_GROUPS
const BLOCK_COLS: u32 = 32u; // LANES * 4

fn at(n: u32) -> vec2<u32> {
    return vec2<u32>(n & ((1u << TEXEL_ROW_SHIFT) - 1u), n >> TEXEL_ROW_SHIFT);
}

// k = 4q..4q+3 of row r of A, of column col of B.
fn a_k4(r: u32, q: u32, per_row: u32) -> vec4<f32> {
    return textureLoad(a_texels, at(r * per_row + q), 0);
}

fn b_k4(col: u32, q: u32, per_row: u32) -> vec4<f32> {
    return textureLoad(b_texels, at(col * per_row + q), 0);
}

// Row r of this lane's four columns (nothing past the last row or column).
fn store_row(r: u32, c0: u32, lane: u32, z: u32, v: vec4<f32>) {
    if (r >= p.m) {
        return;
    }
    let cols = vec4<u32>(c0 + lane) + vec4<u32>(0u, 8u, 16u, 24u);
    if (cols.x < p.n) { store(r, cols.x, z, v.x); }
    if (cols.y < p.n) { store(r, cols.y, z, v.y); }
    if (cols.z < p.n) { store(r, cols.z, z, v.z); }
    if (cols.w < p.n) { store(r, cols.w, z, v.w); }
}

// The 8 rows of a group from r0. Constant indices, like fma_rows: passing
// the array by value and looping over it measured 1.5x slower and took 2.5x
// longer to compile (lavapipe).
fn store_rows(acc: ptr<function, array<vec4<f32>, 8>>, r0: u32, c0: u32, lane: u32, z: u32) {
    store_row(r0, c0, lane, z, (*acc)[0]);
    store_row(r0 + 1u, c0, lane, z, (*acc)[1]);
    store_row(r0 + 2u, c0, lane, z, (*acc)[2]);
    store_row(r0 + 3u, c0, lane, z, (*acc)[3]);
    store_row(r0 + 4u, c0, lane, z, (*acc)[4]);
    store_row(r0 + 5u, c0, lane, z, (*acc)[5]);
    store_row(r0 + 6u, c0, lane, z, (*acc)[6]);
    store_row(r0 + 7u, c0, lane, z, (*acc)[7]);
}

@compute @workgroup_size(8)
fn gemm_texels(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let r0 = wg.y * BLOCK_ROWS;
    let c0 = wg.x * BLOCK_COLS;
    let last = p.m - 1u;
    let row0 = min(r0 + lane, last);
    let row1 = min(r0 + 8u + lane, last);
    let row2 = min(r0 + 16u + lane, last);
    let row3 = min(r0 + 24u + lane, last);
    let row4 = min(r0 + 32u + lane, last);
    let row5 = min(r0 + 40u + lane, last);
    let row6 = min(r0 + 48u + lane, last);
    let row7 = min(r0 + 56u + lane, last);
    let cols = min(vec4<u32>(c0 + lane) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(p.n - 1u));
    var acc0: array<vec4<f32>, 8>;
    var acc1: array<vec4<f32>, 8>;
    var acc2: array<vec4<f32>, 8>;
    var acc3: array<vec4<f32>, 8>;
    var acc4: array<vec4<f32>, 8>;
    var acc5: array<vec4<f32>, 8>;
    var acc6: array<vec4<f32>, 8>;
    var acc7: array<vec4<f32>, 8>;
    // Split z sums the texels of K range [k_begin, k_end); k_split is a
    // multiple of 4.
    let per_row = (p.k + 3u) / 4u;
    let q_begin = wg.z * p.k_split / 4u;
    let q_end = min(per_row, q_begin + p.k_split / 4u);
    for (var q = q_begin; q < q_end; q++) {
        let bk = transpose(mat4x4<f32>(
            b_k4(cols[0], q, per_row),
            b_k4(cols[1], q, per_row),
            b_k4(cols[2], q, per_row),
            b_k4(cols[3], q, per_row),
        ));
        fma_rows_k4(&acc0, a_k4(row0, q, per_row), bk);
        fma_rows_k4(&acc1, a_k4(row1, q, per_row), bk);
        fma_rows_k4(&acc2, a_k4(row2, q, per_row), bk);
        fma_rows_k4(&acc3, a_k4(row3, q, per_row), bk);
        fma_rows_k4(&acc4, a_k4(row4, q, per_row), bk);
        fma_rows_k4(&acc5, a_k4(row5, q, per_row), bk);
        fma_rows_k4(&acc6, a_k4(row6, q, per_row), bk);
        fma_rows_k4(&acc7, a_k4(row7, q, per_row), bk);
    }
    store_rows(&acc0, r0, c0, lane, wg.z);
    store_rows(&acc1, r0 + 8u, c0, lane, wg.z);
    store_rows(&acc2, r0 + 16u, c0, lane, wg.z);
    store_rows(&acc3, r0 + 24u, c0, lane, wg.z);
    store_rows(&acc4, r0 + 32u, c0, lane, wg.z);
    store_rows(&acc5, r0 + 40u, c0, lane, wg.z);
    store_rows(&acc6, r0 + 48u, c0, lane, wg.z);
    store_rows(&acc7, r0 + 56u, c0, lane, wg.z);
}
