//! What a load costs on this adapter: one step's recurrent products
//! (B = 16 rows, K = 256, 256 units of four gates, the subgroup kernels'
//! scheme: lanes own units, h values shared by subgroupBroadcast) with the
//! weights, and then h too, read from a storage buffer, from a texture, or
//! as f16 pairs. Needs the SUBGROUP feature; numbers in BENCHMARKS.md
//! ("Weights as texels").
//!
//!     cargo run --release --example texel_probe

use std::time::Instant;

use wgpu::util::DeviceExt;

const K: u32 = 256;
const UNITS: u32 = 256;
const ROWS: u32 = 16;
const STEPS: u32 = 64;

/// (name, weight declaration, weight load, h loads of rows `lane` and
/// `lane + 8` separated by " | ").
const VARIANTS: [(&str, &str, &str, &str); 5] = [
    (
        "weights f32 storage",
        "var<storage, read> w: array<vec4<f32>>;",
        "w[k * UNITS + unit]",
        "hs[lane * K + k] | hs[(lane + 8u) * K + k]",
    ),
    (
        "weights f16 pairs storage",
        "var<storage, read> w: array<vec2<u32>>;",
        "unpack(w[k * UNITS + unit])",
        "hs[lane * K + k] | hs[(lane + 8u) * K + k]",
    ),
    (
        "weights rgba32float texels",
        "var w: texture_2d<f32>;",
        "textureLoad(w, vec2<u32>(unit, k), 0)",
        "hs[lane * K + k] | hs[(lane + 8u) * K + k]",
    ),
    (
        "weights rgba16float texels",
        "var w: texture_2d<f32>;",
        "textureLoad(w, vec2<u32>(unit, k), 0)",
        "hs[lane * K + k] | hs[(lane + 8u) * K + k]",
    ),
    (
        "weights and h texels",
        "var w: texture_2d<f32>;",
        "textureLoad(w, vec2<u32>(unit, k), 0)",
        "textureLoad(ht, vec2<u32>(k, lane), 0).x | textureLoad(ht, vec2<u32>(k, lane + 8u), 0).x",
    ),
];

fn shader(decl: &str, load: &str, h_loads: &str) -> String {
    let (h0, h1) = h_loads.split_once(" | ").expect("two h loads");
    let fmas: String = (0..8)
        .flat_map(|i| {
            [
                format!("a0[{i}] = fma(vec4<f32>(subgroupBroadcast(h0, {i}u)), wv, a0[{i}]);\n"),
                format!("a1[{i}] = fma(vec4<f32>(subgroupBroadcast(h1, {i}u)), wv, a1[{i}]);\n"),
            ]
        })
        .collect();
    format!(
        r#"
const UNITS: u32 = {UNITS}u;
const K: u32 = {K}u;
@group(0) @binding(0) {decl}
@group(0) @binding(1) var<storage, read> hs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var ht: texture_2d<f32>;
fn unpack(v: vec2<u32>) -> vec4<f32> {{
    return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y));
}}
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {{
    let unit = wg.x * 8u + lane;
    var a0: array<vec4<f32>, 8>;
    var a1: array<vec4<f32>, 8>;
    for (var k = 0u; k < K; k++) {{
        let wv = {load};
        let h0 = {h0};
        let h1 = {h1};
        {fmas}
    }}
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < 8u; i++) {{ s += a0[i] + a1[i]; }}
    // Both bindings used in every variant.
    out[unit] = s + textureLoad(ht, vec2<u32>(0u, 0u), 0).x + hs[0];
}}
"#
    )
}

fn texture(
    gpu: &wgpu_rnn::Gpu,
    format: wgpu::TextureFormat,
    (width, height): (u32, u32),
    bytes: &[u8],
) -> wgpu::TextureView {
    gpu.device()
        .create_texture_with_data(
            gpu.queue(),
            &wgpu::TextureDescriptor {
                label: None,
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            bytes,
        )
        .create_view(&Default::default())
}

fn main() -> wgpu_rnn::Result<()> {
    let gpu = wgpu_rnn::Gpu::new()?;
    println!("{}", gpu.describe());
    let dev = gpu.device();
    let weights: Vec<f32> = (0..K * UNITS * 4).map(|i| (i % 97) as f32 * 0.01).collect();
    let halves: Vec<u16> = weights
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect();
    let h: Vec<f32> = (0..ROWS * K).map(|i| (i % 13) as f32 * 0.1).collect();
    let storage = |bytes: &[u8]| {
        dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE,
        })
    };
    let h_buffer = storage(bytemuck::cast_slice(&h));
    let h_texels = texture(
        &gpu,
        wgpu::TextureFormat::R32Float,
        (K, ROWS),
        bytemuck::cast_slice(&h),
    );
    let out = dev.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: u64::from(UNITS) * 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let f32_buffer = storage(bytemuck::cast_slice(&weights));
    let f16_buffer = storage(bytemuck::cast_slice(&halves));
    let f32_texels = texture(
        &gpu,
        wgpu::TextureFormat::Rgba32Float,
        (UNITS, K),
        bytemuck::cast_slice(&weights),
    );
    let f16_texels = texture(
        &gpu,
        wgpu::TextureFormat::Rgba16Float,
        (UNITS, K),
        bytemuck::cast_slice(&halves),
    );
    for (n, (name, decl, load, h_loads)) in VARIANTS.into_iter().enumerate() {
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(shader(decl, load, h_loads).into()),
        });
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let w = match n {
            0 => f32_buffer.as_entire_binding(),
            1 => f16_buffer.as_entire_binding(),
            3 => wgpu::BindingResource::TextureView(&f16_texels),
            _ => wgpu::BindingResource::TextureView(&f32_texels),
        };
        let bind_group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: w,
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: h_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&h_texels),
                },
            ],
        });
        // The best of six sequences of STEPS dependent dispatches.
        let mut best = f64::MAX;
        for _ in 0..6 {
            let mut encoder = dev.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                for _ in 0..STEPS {
                    pass.dispatch_workgroups(UNITS / 8, 1, 1);
                }
            }
            let start = Instant::now();
            gpu.queue().submit([encoder.finish()]);
            dev.poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| wgpu_rnn::Error::Wgpu {
                    during: "waiting".into(),
                    message: e.to_string(),
                })?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        let flops = 2.0 * 4.0 * f64::from(K * UNITS * ROWS) * f64::from(STEPS);
        println!(
            "{name:28} {:6.3} ms/step {:6.2} GFLOP/s",
            best * 1e3 / f64::from(STEPS),
            flops / best / 1e9
        );
    }
    Ok(())
}
