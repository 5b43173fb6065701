// One LSTM (or peephole LSTM) time step, fused: the four recurrent dot
// products of a hidden unit, the gate activations and the state update.
// A workgroup owns WG hidden units x BT batch rows; the products are
// common/matvec.wgsl's. Gate order i, f, g, o. (lstm/common.wgsl comes
// first.)

alias Acc = vec4<f32>;

fn matvec_weight(k: u32, j: u32) -> Acc {
    return Acc(w_hh[k * p.units + j]);
}

fn matvec_row(at: u32) -> f32 {
    return hs[at];
}

fn matvec_rows() -> vec2<u32> {
    return vec2<u32>(p.h_prev_offset, p.rec);
}

fn matvec_finish(b: u32, j: u32, acc: Acc) {
    finish_unit(b, j, acc);
}

// The persistent variant (no projection, H <= 256): one workgroup
// of SEQ_WG >= H invocations owns BT batch rows and runs `p.steps` steps
// from `p.step`, h_{t-1} of its rows double-buffered in workgroup memory and
// c in registers: one dispatch per chunk of steps instead of one per step,
// one barrier per step (weights from sequence_weights: the buffer, or
// texels on CPU adapters). Rows are independent, so workgroups never wait for
// each other. Same sums in the same order as lstm_step without tiles. Loops
// over rows have the constant bound BT (rows past the batch compute on
// zeros and are not written) so that the compiler keeps acc and c_reg in
// registers. TRAIN keeps what lstm_step keeps for the backward pass: every
// step's cell state (slot step+1 of c, copied at finished rows) and the
// running rows' activations in place of their pre-activations.
override SEQ_WG: u32 = 256u;
const SEQ_MAX_UNITS: u32 = 256u;
var<workgroup> h_seq: array<f32, 2048>; // [2][BT][SEQ_MAX_UNITS]

@compute @workgroup_size(SEQ_WG)
fn lstm_sequence(
    @builtin(local_invocation_index) j: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let H = p.units;
    let b0 = wg.y * BT;
    var c_reg = array<f32, 4>();
    if (j < H) {
        for (var bb = 0u; bb < BT; bb++) {
            var h0 = 0.0;
            if (b0 + bb < p.batch) {
                h0 = hs[p.h_prev_offset + (b0 + bb) * H + j];
                c_reg[bb] = c[history(p.step, H) + (b0 + bb) * H + j];
            }
            h_seq[bb * SEQ_MAX_UNITS + j] = h0;
        }
    }
    workgroupBarrier();
    for (var s = 0u; s < p.steps; s++) {
        let cur = (s % 2u) * BT * SEQ_MAX_UNITS;
        let nxt = ((s + 1u) % 2u) * BT * SEQ_MAX_UNITS;
        let step = p.step + s;
        if (j < H) {
            var acc = array<vec4<f32>, 4>();
            for (var k = 0u; k < H; k++) {
                let w = sequence_weights(k, j, H);
                acc[0] = fma(vec4<f32>(h_seq[cur + k]), w, acc[0]);
                if (ROWS > 1u) { acc[1] = fma(vec4<f32>(h_seq[cur + SEQ_MAX_UNITS + k]), w, acc[1]); }
                if (ROWS > 2u) { acc[2] = fma(vec4<f32>(h_seq[cur + 2u * SEQ_MAX_UNITS + k]), w, acc[2]); }
                if (ROWS > 3u) { acc[3] = fma(vec4<f32>(h_seq[cur + 3u * SEQ_MAX_UNITS + k]), w, acc[3]); }
            }
            for (var bb = 0u; bb < BT; bb++) {
                let b = b0 + bb;
                var h = h_seq[cur + bb * SEQ_MAX_UNITS + j];
                let running = b < p.batch && step < lengths[min(b, p.batch - 1u)];
                if (running) {
                    let row = p.xg_offset + s * p.batch * 4u * H + b * 4u * H + j;
                    let pre = acc[bb] + vec4<f32>(xg[row], xg[row + H], xg[row + 2u * H], xg[row + 3u * H]);
                    let gates = lstm_cell(pre, c_reg[bb], peepholes_of(j, H));
                    c_reg[bb] = gates.c;
                    h = gates.o * act_h(gates.c);
                    if (TRAIN) {
                        xg[row] = gates.saved.x;
                        xg[row + H] = gates.saved.y;
                        xg[row + 2u * H] = gates.saved.z;
                        xg[row + 3u * H] = gates.saved.w;
                    }
                }
                if (b < p.batch) {
                    hs[p.h_out_offset + s * p.batch * H + b * H + j] = h;
                    if (TRAIN) {
                        c[history(step + 1u, H) + b * H + j] = c_reg[bb];
                    }
                }
                h_seq[nxt + bb * SEQ_MAX_UNITS + j] = h;
            }
        }
        workgroupBarrier();
    }
    // In training every step's state is already in its slot.
    if (j < H && !TRAIN) {
        for (var bb = 0u; bb < BT; bb++) {
            if (b0 + bb < p.batch) {
                c[(b0 + bb) * H + j] = c_reg[bb];
            }
        }
    }
}
