// Where the persistent LSTM backward reads weights on CPU adapters with the
// texel kernels: the forward's interleaved weights as texels (after
// subgroup/texels.wgsl), as lstm/sequence_texels.wgsl reads them.
fn back_sequence_weights(k: u32, j: u32, H: u32) -> vec4<f32> {
    return texel(k, j, H);
}
