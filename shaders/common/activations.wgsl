// The cell's functions and ONNX's options (crate::CellOptions), as override
// constants set by the host (src/cells/mod.rs, function_constants): a plain
// cell compiles to exactly its own functions, with no branch left in the
// step. Names as ONNX's: f for the gates (LSTM i, f, o; GRU r, z; the RNN's
// one function), g for the candidate (LSTM g, GRU n), h for the LSTM's
// output function of the cell state. (common/common.wgsl comes first.)

// Function numbers (crate::Activation::code).
const FN_RELU: u32 = 1u;
const FN_TANH: u32 = 2u;
const FN_SIGMOID: u32 = 3u;
const FN_AFFINE: u32 = 4u;
const FN_LEAKY_RELU: u32 = 5u;
const FN_THRESHOLDED_RELU: u32 = 6u;
const FN_SCALED_TANH: u32 = 7u;
const FN_HARD_SIGMOID: u32 = 8u;
const FN_ELU: u32 = 9u;
const FN_SOFTSIGN: u32 = 10u;
const FN_SOFTPLUS: u32 = 11u;

override F_FN: u32 = FN_SIGMOID;
override F_ALPHA: f32 = 0.0;
override F_BETA: f32 = 0.0;
override G_FN: u32 = FN_TANH;
override G_ALPHA: f32 = 0.0;
override G_BETA: f32 = 0.0;
override H_FN: u32 = FN_TANH;
override H_ALPHA: f32 = 0.0;
override H_BETA: f32 = 0.0;
// Pre-activations of f and g are clipped to [-CLIP, CLIP]; 0: no clip.
override CLIP: f32 = 0.0;
// LSTM: the forget gate is 1 - i.
override INPUT_FORGET: bool = false;
// Training saves the clipped pre-activations of f and g instead of their
// values (set where f or g is not the cell's own, or with CLIP): the
// backward computes both the value and the derivative from them.
override SAVE_PRE: bool = false;

// e^x - 1 without cancellation near 0 (Kahan's trick: the rounding of
// u = e^x cancels between u - 1 and log(u)).
fn expm1_safe(x: f32) -> f32 {
    let u = exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    return um1 * x / log(u);
}

// ln(1 + e^x), finite for every finite x and accurate where e^x is tiny.
fn softplus(x: f32) -> f32 {
    let e = exp(-abs(x));
    let u = 1.0 + e;
    let log1p = select(log(u) * e / (u - 1.0), e, u == 1.0);
    return max(x, 0.0) + log1p;
}

fn activation(kind: u32, alpha: f32, beta: f32, x: f32) -> f32 {
    switch kind {
        case FN_RELU: { return max(x, 0.0); }
        case FN_TANH: { return tanh_safe(x); }
        case FN_SIGMOID: { return sigmoid(x); }
        case FN_AFFINE: { return alpha * x + beta; }
        case FN_LEAKY_RELU: { return select(alpha * x, x, x >= 0.0); }
        case FN_THRESHOLDED_RELU: { return select(0.0, x, x > alpha); }
        case FN_SCALED_TANH: { return alpha * tanh_safe(beta * x); }
        case FN_HARD_SIGMOID: { return clamp(alpha * x + beta, 0.0, 1.0); }
        case FN_ELU: { return select(alpha * expm1_safe(x), x, x >= 0.0); }
        case FN_SOFTSIGN: { return x / (1.0 + abs(x)); }
        default: { return softplus(x); }
    }
}

// d activation / dx at x; at a kink, the side the function's condition picks.
fn activation_grad(kind: u32, alpha: f32, beta: f32, x: f32) -> f32 {
    switch kind {
        case FN_RELU: { return select(0.0, 1.0, x > 0.0); }
        case FN_TANH: {
            let t = tanh_safe(x);
            return 1.0 - t * t;
        }
        case FN_SIGMOID: {
            let s = sigmoid(x);
            return s * (1.0 - s);
        }
        case FN_AFFINE: { return alpha; }
        case FN_LEAKY_RELU: { return select(alpha, 1.0, x >= 0.0); }
        case FN_THRESHOLDED_RELU: { return select(0.0, 1.0, x > alpha); }
        case FN_SCALED_TANH: {
            let t = tanh_safe(beta * x);
            return alpha * beta * (1.0 - t * t);
        }
        case FN_HARD_SIGMOID: {
            let y = alpha * x + beta;
            return select(0.0, alpha, y > 0.0 && y < 1.0);
        }
        case FN_ELU: { return select(alpha * exp(x), 1.0, x >= 0.0); }
        case FN_SOFTSIGN: {
            let d = 1.0 + abs(x);
            return 1.0 / (d * d);
        }
        default: { return sigmoid(x); }
    }
}

// v times the derivative of a cell's own function (sigmoid, tanh, relu)
// read off its value y, multiplied in the order the plain backward has
// always used, so plain cells keep their bits.
fn times_own_grad(kind: u32, v: f32, y: f32) -> f32 {
    switch kind {
        case FN_SIGMOID: { return v * y * (1.0 - y); }
        case FN_RELU: { return select(0.0, v, y > 0.0); }
        default: { return v * (1.0 - y * y); }
    }
}

fn clipped(x: f32) -> f32 {
    return select(x, clamp(x, -CLIP, CLIP), CLIP > 0.0);
}

// The clip's derivative at the clipped value v: 0 where it clipped.
fn clip_mask(v: f32) -> f32 {
    return select(1.0, 0.0, CLIP > 0.0 && abs(v) >= CLIP);
}

// The gate function f at pre-activation `pre` (clipped first).
fn act_f(pre: f32) -> f32 {
    return activation(F_FN, F_ALPHA, F_BETA, clipped(pre));
}

// The candidate function g at pre-activation `pre` (clipped first).
fn act_g(pre: f32) -> f32 {
    return activation(G_FN, G_ALPHA, G_BETA, clipped(pre));
}

// The LSTM's output function h of the cell state (never clipped).
fn act_h(c: f32) -> f32 {
    return activation(H_FN, H_ALPHA, H_BETA, c);
}

// What the training forward saves of f or g at pre-activation `pre` whose
// value is `y`: y, or the clipped pre-activation (SAVE_PRE).
fn saved(pre: f32, y: f32) -> f32 {
    return select(y, clipped(pre), SAVE_PRE);
}

// The value of f, and v times its derivative, from what the training
// forward saved (`saved`).
fn value_f(s: f32) -> f32 {
    return select(s, activation(F_FN, F_ALPHA, F_BETA, s), SAVE_PRE);
}

fn times_grad_f(v: f32, s: f32) -> f32 {
    if (SAVE_PRE) {
        return v * activation_grad(F_FN, F_ALPHA, F_BETA, s) * clip_mask(s);
    }
    return times_own_grad(F_FN, v, s);
}

// The same for g.
fn value_g(s: f32) -> f32 {
    return select(s, activation(G_FN, G_ALPHA, G_BETA, s), SAVE_PRE);
}

fn times_grad_g(v: f32, s: f32) -> f32 {
    if (SAVE_PRE) {
        return v * activation_grad(G_FN, G_ALPHA, G_BETA, s) * clip_mask(s);
    }
    return times_own_grad(G_FN, v, s);
}

// v times h'(c), where y = h(c).
fn times_grad_h(v: f32, c: f32, y: f32) -> f32 {
    if (H_FN == FN_TANH) {
        return v * (1.0 - y * y);
    }
    return v * activation_grad(H_FN, H_ALPHA, H_BETA, c);
}
