// What the LSTM step kernels share (lstm/step.wgsl, subgroup/step.wgsl):
// the bindings and the end of a step for one (row, unit). The host
// prepends common/common.wgsl, lstm/cell.wgsl, then this file, to each. Gate order i, f, g, o.

@group(0) @binding(0) var<uniform> p: StepParams;
// [steps, B, 4H]: x W_ih^T + b_ih + b_hh, gate blocks i, f, g, o. TRAIN
// replaces them with what LstmGates.saved holds.
@group(0) @binding(1) var<storage, read_write> xg: array<f32>;
// [Ho (k), H (j)]: (i, f, g, o) weights of unit j for state element k, so
// one vec4 load brings all four gates and neighbouring invocations read
// neighbouring addresses.
@group(0) @binding(2) var<storage, read> w_hh: array<vec4<Weight>>;
// [3, H] rows p_i, p_f, p_o (unused unless PEEPHOLE).
@group(0) @binding(3) var<storage, read> peephole: array<f32>;
// [B]: valid steps of each row.
@group(0) @binding(4) var<storage, read> lengths: array<u32>;
// [T+1, B, Ho]: slot 0 is h0, slot s+1 is h after step s.
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// [B, H], updated in place: only unit (b, j) ever touches c[b, j]. TRAIN:
// [T+1, B, H], slot 0 is c0 and slot s+1 the cell state after step s.
@group(0) @binding(6) var<storage, read_write> c: array<f32>;
// [B, H]: o*tanh(c) for the projection kernel (written only if PROJ).
// TRAIN: [T, B, H], zero at a row's finished steps (see lstm/backward.wgsl).
@group(0) @binding(7) var<storage, read_write> m: array<f32>;

// With a projection, h = W_hr m is computed by lstm/projection_step.wgsl.
override PROJ: bool = false;

// The peepholes (p_i, p_f, p_o) of unit j for lstm_cell; zeros (never
// read) unless PEEPHOLE.
fn peepholes_of(j: u32, H: u32) -> vec3<f32> {
    if (PEEPHOLE) {
        return vec3<f32>(peephole[j], peephole[H + j], peephole[2u * H + j]);
    }
    return vec3<f32>(0.0);
}

// Ends step p.step for row b and unit j from the recurrent products `rec`
// (i, f, g, o) of the previous state: the cell update, the state writes,
// and for a row past its length, keeping its state.
fn finish_unit(b: u32, j: u32, rec: vec4<f32>) {
    let H = p.units;
    let K = p.rec;
    let c_at = history(p.step, H) + b * H + j;
    let c_out_at = select(c_at, history(p.step + 1u, H) + b * H + j, TRAIN);
    let m_at = history(p.step, H) + b * H + j;
    if (p.step >= lengths[b]) {
        // Finished row: keep the state (the projection kernel copies h).
        if (!PROJ) {
            hs[p.h_out_offset + b * K + j] = hs[p.h_prev_offset + b * K + j];
        }
        if (TRAIN) {
            c[c_out_at] = c[c_at];
            if (PROJ) {
                m[m_at] = 0.0;
            }
        }
        return;
    }
    let row = p.xg_offset + b * 4u * H + j;
    let pre = rec + vec4<f32>(xg[row], xg[row + H], xg[row + 2u * H], xg[row + 3u * H]);
    let gates = lstm_cell(pre, c[c_at], peepholes_of(j, H));
    let o = gates.o;
    let c_new = gates.c;
    c[c_out_at] = c_new;
    if (TRAIN) {
        xg[row] = gates.saved.x;
        xg[row + H] = gates.saved.y;
        xg[row + 2u * H] = gates.saved.z;
        xg[row + 3u * H] = gates.saved.w;
    }
    let h = o * act_h(c_new);
    if (PROJ) {
        m[m_at] = h;
    } else {
        hs[p.h_out_offset + b * K + j] = h;
    }
}
