// Where the persistent LSTM backward (lstm/backward_sequence.wgsl) reads
// weights: the forward's interleaved f32 weights [Ho (k)][H (j)][4] bound
// as `w` (training layers are f32).
fn back_sequence_weights(k: u32, j: u32, H: u32) -> vec4<f32> {
    let n = 4u * (k * H + j);
    return vec4<f32>(w[n], w[n + 1u], w[n + 2u], w[n + 3u]);
}
