// Where the persistent LSTM kernel (lstm_sequence in lstm/step.wgsl) reads
// weights: the (i, f, g, o) weights of unit j for state element k, from the
// storage buffer w_hh.
fn sequence_weights(k: u32, j: u32, H: u32) -> vec4<f32> {
    return vec4<f32>(w_hh[k * H + j]);
}
