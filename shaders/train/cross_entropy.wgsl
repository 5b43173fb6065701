// Softmax cross-entropy over the rows of logits [N, C] with class targets;
// a target of IGNORE (u32 max, PyTorch's ignore_index) contributes nothing.
// One invocation per row: loss_r = logsumexp(l) - l[t] (max-shifted, so any
// finite logits are safe), grad = scale * (softmax(l) - onehot(t)) with
// scale = 1 / counted rows; reduce/sum.wgsl reduces the row losses to the mean.

struct LossParams {
    // mse_loss: elements; cross_entropy: rows.
    len: u32,
    // cross_entropy: classes per row.
    classes: u32,
    // 1 / (elements or counted rows): the mean's factor.
    scale: f32,
    grid_width: u32,
}

const IGNORE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;

@compute @workgroup_size(256)
fn cross_entropy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.y * p.grid_width + gid.x;
    if (r >= p.len) {
        return;
    }
    let base = r * p.classes;
    let t = targets[r];
    if (t == IGNORE) {
        for (var c = 0u; c < p.classes; c++) {
            grad[base + c] = 0.0;
        }
        row_loss[r] = 0.0;
        return;
    }
    var top = logits[base];
    for (var c = 1u; c < p.classes; c++) {
        top = max(top, logits[base + c]);
    }
    var total = 0.0;
    for (var c = 0u; c < p.classes; c++) {
        total += exp(logits[base + c] - top);
    }
    row_loss[r] = top + log(total) - logits[base + t];
    for (var c = 0u; c < p.classes; c++) {
        let softmax = exp(logits[base + c] - top) / total;
        grad[base + c] = p.scale * (softmax - select(0.0, 1.0, c == t));
    }
}
