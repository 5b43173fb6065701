// Packs a matrix [rows, cols] from a storage buffer into the texels that
// subgroup/texels.wgsl and gemm/texels.wgsl read: texel n = r * per_row + q holds
// columns 4q..4q+3 of row r, zero past the last column, at (n mod width,
// n / width). Element (r, col) is src[offset + r * ld + col], or
// src[offset + col * ld + r] when the source is stored transposed. Runs
// after every repack of the weights, and before a GEMM that reads texels
// (src/kernels/texels.rs).

struct PackParams {
    rows: u32,
    cols: u32,
    // Texels per row: ceil(cols / 4).
    per_row: u32,
    // Invocations per row of the dispatch grid.
    grid_width: u32,
    // The texture's width in texels, a power of two.
    width: u32,
    // Where the source starts and the distance between its stored rows.
    offset: u32,
    ld: u32,
    // 1 when the source is stored [cols, rows].
    transposed: u32,
}

@group(0) @binding(0) var<uniform> p: PackParams;
// f32, or the f16 weights of an f16 layer (then the host compiles dst as
// rgba16float: see Kernel::module_source).
@group(0) @binding(1) var<storage, read> src: array<Weight>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(256)
fn pack_texels(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.rows * p.per_row) {
        return;
    }
    let r = n / p.per_row;
    let c = 4u * (n % p.per_row);
    var v = vec4<f32>(0.0);
    for (var u = 0u; u < 4u; u++) {
        let col = c + u;
        if (col < p.cols) {
            v[u] = f32(src[p.offset + select(r * p.ld + col, col * p.ld + r, p.transposed != 0u)]);
        }
    }
    textureStore(dst, vec2<u32>(n % p.width, n / p.width), v);
}
