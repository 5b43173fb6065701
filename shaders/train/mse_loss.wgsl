// Mean squared error, elementwise part: grad = scale * 2 (pred - target)
// with scale = 1/N, and the squared errors that reduce/sum.wgsl reduces to the mean.

struct LossParams {
    // mse_loss: elements; cross_entropy: rows.
    len: u32,
    // cross_entropy: classes per row.
    classes: u32,
    // 1 / (elements or counted rows): the mean's factor.
    scale: f32,
    grid_width: u32,
}

@group(0) @binding(0) var<uniform> p: LossParams;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> target_values: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> squared: array<f32>;

@compute @workgroup_size(256)
fn mse_loss(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.len) {
        return;
    }
    let d = pred[n] - target_values[n];
    grad[n] = p.scale * 2.0 * d;
    squared[n] = d * d;
}
