// C[M, N] = A[M, K] . B[N, K]^T + bias[N]  (all row-major f32), or with
// trans_a / trans_b the operands stored transposed (A as [K, M], B as
// [K, N]), and with accumulate added to what C holds.
// Forward: the input projection of all steps at once (A the input [T*B, I],
// B weight_ih [G*H, I] in PyTorch's layout, C xg [T*B, G*H]). Backward:
// dW = dgates^T X (trans_a, trans_b), dX = dgates W (trans_b).
// This file holds what the GEMM kernels share: the params, the bindings, the
// layout constants and the store epilogue. The kernels are in gemm/gemm.wgsl
// (workgroup tiles and register blocks) and gemm/texels.wgsl (CPU
// adapters with 8-lane subgroups); the host prepends this file to each.

struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    // Element offset of A's first element (a chunk of time steps of a longer
    // input, or a block of gate columns).
    a_offset: u32,
    // Distance between A's stored rows (k, or m with trans_a, for a dense A;
    // more when A is a column block of a wider matrix).
    lda: u32,
    // Element offset of C's first element (a block of rows of a gradient).
    c_offset: u32,
    // Split-K: the K range of split z (workgroup z in gemm_nt and
    // gemm_texels, global y in the dot kernels) is
    // [z*k_split, (z+1)*k_split), its result at c_offset + z*split_stride
    // (slices a reduction then adds).
    k_split: u32,
    split_stride: u32,
    // The layout, 0 or 1 each: uniforms rather than override constants, so
    // that one pipeline serves every layout (on lavapipe a gemm_texels
    // pipeline takes seconds to compile).
    trans_a: u32,
    trans_b: u32,
    accumulate: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: GemmParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn trans_a() -> bool {
    return p.trans_a != 0u;
}

fn trans_b() -> bool {
    return p.trans_b != 0u;
}

// Stores one result of split z at (r, col): the bias once (split 0), added
// to what C holds with accumulate. The epilogue of every kernel here.
fn store(r: u32, col: u32, z: u32, sum: f32) {
    var v = sum;
    if (z == 0u) {
        v += bias[col];
    }
    let at = p.c_offset + z * p.split_stride + r * p.n + col;
    if (p.accumulate != 0u) {
        v += c[at];
    }
    c[at] = v;
}

