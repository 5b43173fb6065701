// Sums of many values down to one, deterministic and without atomics:
// partial_sums writes one partial per workgroup (of x, or of x² with
// SQUARE), finish_sum adds a run of partials in one workgroup. A loss's mean
// and the global gradient norm for clipping.

struct SumParams {
    // partial_sums: elements of x; finish_sum: partials.
    len: u32,
    x_offset: u32,
    // partial_sums: elements per workgroup.
    chunk: u32,
    out_offset: u32,
    // finish_sum: out = scale * sum.
    scale: f32,
    // finish_sum with CLIP: out = (sqrt(sum), min(1, max_norm / (sqrt(sum) + 1e-6))).
    max_norm: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: SumParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override SQUARE: bool = false;
override CLIP: bool = false;

const WORKGROUP: u32 = 256u;
var<workgroup> partial: array<f32, WORKGROUP>;

// The sum of every invocation's `v`, in a fixed tree order.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    return partial[0];
}

@compute @workgroup_size(256)
fn partial_sums(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let start = wid.x * p.chunk;
    let end = min(start + p.chunk, p.len);
    var acc = 0.0;
    for (var i = start + lid; i < end; i += WORKGROUP) {
        let v = x[p.x_offset + i];
        acc += select(v, v * v, SQUARE);
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        out[p.out_offset + wid.x] = total;
    }
}

@compute @workgroup_size(256)
fn finish_sum(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < p.len; i += WORKGROUP) {
        acc += x[p.x_offset + i];
    }
    let total = workgroup_sum(lid, acc);
    if (lid == 0u) {
        if (CLIP) {
            let norm = sqrt(total);
            out[p.out_offset] = norm;
            out[p.out_offset + 1u] = min(1.0, p.max_norm / (norm + 1e-6));
        } else {
            out[p.out_offset] = p.scale * total;
        }
    }
}
