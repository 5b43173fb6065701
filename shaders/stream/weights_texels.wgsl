// Where the fused stream step (stream/step.wgsl) reads its weights on CPU
// adapters with the texel kernels: the same gate vectors packed as texels
// (after subgroup/texels.wgsl; row at / H + k, texel j), a fetch without
// llvmpipe's per-lane branch of a buffer load (BENCHMARKS.md, "A stream
// step in one dispatch").
fn gate_weights(at: u32, k: u32, j: u32) -> vec4<f32> {
    return texel(at / p.hidden + k, j, p.hidden);
}
