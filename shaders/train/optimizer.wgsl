// One optimizer step on one parameter tensor, in place, PyTorch's update
// rules: SGD with momentum (dampening 0, optionally Nesterov) or, with ADAM,
// Adam (L2 weight decay added to the gradient, bias-corrected moments). The
// gradient is first multiplied by the clipping coefficient clip[1] (1 when
// not clipping; reduce/sum.wgsl's finish_sum computes it from the global norm).

struct OptimizerTensor {
    len: u32,
    grid_width: u32,
    _pad0: u32,
    _pad1: u32,
}

// Written once per step: the same for every tensor.
struct OptimizerStep {
    lr: f32,
    // SGD: momentum; Adam: beta1.
    momentum: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    // Adam: 1 - beta1^t and sqrt(1 - beta2^t), computed in f64 on the host.
    bias_correction1: f32,
    bias_correction2_sqrt: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: OptimizerTensor;
@group(0) @binding(1) var<uniform> s: OptimizerStep;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
// SGD: the momentum buffer; Adam: the first moment.
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
// Adam: the second moment (SGD binds a placeholder).
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> clip: array<f32>;

override ADAM: bool = false;
override NESTEROV: bool = false;

@compute @workgroup_size(256)
fn optimizer_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.y * p.grid_width + gid.x;
    if (n >= p.len) {
        return;
    }
    let w = param[n];
    let g = grad[n] * clip[1] + s.weight_decay * w;
    if (ADAM) {
        let m_new = s.momentum * m[n] + (1.0 - s.momentum) * g;
        let v_new = s.beta2 * v[n] + (1.0 - s.beta2) * g * g;
        m[n] = m_new;
        v[n] = v_new;
        let denom = sqrt(v_new) / s.bias_correction2_sqrt + s.eps;
        param[n] = w - (s.lr / s.bias_correction1) * m_new / denom;
    } else {
        // With momentum 0 the buffer is the gradient itself (written, unused).
        let buf = s.momentum * m[n] + g;
        m[n] = buf;
        let step = select(buf, g + s.momentum * buf, NESTEROV);
        param[n] = w - s.lr * step;
    }
}
