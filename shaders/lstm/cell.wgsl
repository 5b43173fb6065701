// The LSTM cell shared by every LSTM forward kernel (the step kernels, the
// persistent kernel, the layer wavefront): the gate activations and the new
// cell state from the gate pre-activations (i, f, g, o), c_{t-1} and the
// unit's peepholes `peep` = (p_i, p_f, p_o). With PEEPHOLE, i and f see
// c_{t-1} and o sees c_t. The functions and options come from
// common/activations.wgsl (common/common.wgsl and it come first).

override PEEPHOLE: bool = false;

struct LstmGates {
    i: f32,
    f: f32,
    g: f32,
    o: f32,
    c: f32,
    // What the training forward keeps of (i, f, g, o) for the backward:
    // the values, or the clipped pre-activations (SAVE_PRE).
    saved: vec4<f32>,
}

fn lstm_cell(pre: vec4<f32>, c_prev: f32, peep: vec3<f32>) -> LstmGates {
    var i_pre = pre.x;
    var f_pre = pre.y;
    if (PEEPHOLE) {
        i_pre += peep.x * c_prev;
        f_pre += peep.y * c_prev;
    }
    let i = act_f(i_pre);
    let f = select(act_f(f_pre), 1.0 - i, INPUT_FORGET);
    let g = act_g(pre.z);
    let c_new = f * c_prev + i * g;
    var o_pre = pre.w;
    if (PEEPHOLE) {
        o_pre += peep.z * c_new;
    }
    let o = act_f(o_pre);
    let saved = vec4<f32>(saved(i_pre, i), saved(f_pre, f), saved(pre.z, g), saved(o_pre, o));
    return LstmGates(i, f, g, o, c_new, saved);
}
