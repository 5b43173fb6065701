// Where the persistent LSTM kernel (lstm_sequence in lstm/step.wgsl) reads
// weights on CPU adapters with the texel kernels: the same [K][H][4] layout
// packed as texels (after subgroup/texels.wgsl), a fetch without llvmpipe's per-lane
// branch of a buffer load (BENCHMARKS.md, "Weights as texels").
fn sequence_weights(k: u32, j: u32, H: u32) -> vec4<f32> {
    return texel(k, j, H);
}
