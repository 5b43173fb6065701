// A matrix read through a texture, for the subgroup step kernels (the host
// prepends this file; src/kernels/texels.rs packs the texture).
//
// llvmpipe turns a storage-buffer load into a loop over the 8 lanes with a
// branch per lane, but fetches texels without branches: measured on one
// step's products (B=16, H=256), weights from a texture ran 2x faster than
// from a storage buffer (BENCHMARKS.md).
//
// Texel (r, q) holds columns 4q..4q+3 of row r (zeros past the last
// column). Texels run row after row through a texture TEXEL_ROW wide, so
// any shape fits as long as the texel count does.

@group(1) @binding(0) var texels: texture_2d<f32>;

// log2 of the texture's width in texels (TEXEL_ROW_SHIFT in texels.rs).
const TEXEL_ROW_SHIFT: u32 = 12u;

// Where texel n of a matrix sits in its texture.
fn texel_at(n: u32) -> vec2<u32> {
    return vec2<u32>(n & ((1u << TEXEL_ROW_SHIFT) - 1u), n >> TEXEL_ROW_SHIFT);
}

// Columns 4q..4q+3 of row r of a matrix with `per_row` texels per row.
fn texel(r: u32, q: u32, per_row: u32) -> vec4<f32> {
    return textureLoad(texels, texel_at(r * per_row + q), 0);
}
