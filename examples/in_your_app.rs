//! An LSTM inside an app's own GPU work, on the app's device, in one submit:
//! the app's compute shader frames a synthetic signal into features, our
//! LSTM forward reads them where the app wrote them and writes its output
//! into the app's buffer, and the app's second shader reads a value per
//! frame off the LSTM's output. The result is checked against the f64
//! reference.
//!
//!     cargo run --release --example in_your_app

use wgpu::util::DeviceExt;
use wgpu_rnn::reference::{self, check::Tolerance};
use wgpu_rnn::{
    wgpu, CellKind, Gpu, GpuTensor, RnnConfig, RnnOutput, RnnStack, StackConfig, StackWeights,
    TENSOR_USAGE,
};

/// Frames, streams (batch rows), samples per frame (the shader's `I`,
/// `B`), hidden units.
const T: usize = 48;
const B: usize = 3;
const I: usize = 16;
const H: usize = 32;

/// The app's feature shader: frame `t` of stream `b` is `I` samples of a
/// two-tone signal from sample `b*100 + t*HOP`, under a Hann window.
const FEATURES: &str = "
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
const I: u32 = 16u; const B: u32 = 3u; const HOP: u32 = 8u;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = id.x;
    if n >= arrayLength(&x) { return; }
    let i = n % I; let b = (n / I) % B; let t = n / (I * B);
    let s = f32(b * 100u + t * HOP + i);
    let signal = sin(0.07 * s) + 0.5 * sin(0.31 * s + f32(b));
    let window = 0.5 - 0.5 * cos(6.2831853 * f32(i) / f32(I - 1u));
    x[n] = signal * window;
}
";

/// The app's readout shader: `y[t, b] = Σ_j output[t, b, j] * w[j]`.
const READOUT: &str = "
@group(0) @binding(0) var<storage, read> h: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let width = arrayLength(&w);
    if row >= arrayLength(&y) { return; }
    var sum = 0.0;
    for (var j = 0u; j < width; j++) { sum += h[row * width + j] * w[j]; }
    y[row] = sum;
}
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The app's device, asking for what makes our kernels fastest (on the
    // backends wgpu's own WGPU_BACKEND names, else Vulkan, Metal or DX12).
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("the app's device"),
        required_features: Gpu::recommended_features(&adapter),
        required_limits: Gpu::recommended_limits(&adapter),
        ..Default::default()
    }))?;
    let gpu = Gpu::from_wgpu(&adapter, device.clone(), queue.clone());
    println!("app device: {}", gpu.describe());

    // Our LSTM, and the app's buffers: features and LSTM output live in one
    // buffer of the app's at aligned offsets.
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, I, H)?);
    let weights = StackWeights::random(config, 7, 1.0)?;
    let lstm = RnnStack::new(&gpu, &weights)?;
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
    let at = |bytes: usize| (bytes as u64).div_ceil(align) * align;
    let (x_bytes, out_bytes) = (T * B * I * 4, T * B * H * 4);
    let arena = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app arena"),
        size: at(x_bytes) + at(out_bytes) + 2 * at(B * H * 4),
        usage: TENSOR_USAGE,
        mapped_at_creation: false,
    });
    let x = GpuTensor::from_buffer(&gpu, &arena, 0, &[T, B, I])?;
    let out = RnnOutput {
        output: GpuTensor::from_buffer(&gpu, &arena, at(x_bytes), &[T, B, H])?,
        h_n: GpuTensor::from_buffer(&gpu, &arena, at(x_bytes) + at(out_bytes), &[1, B, H])?,
        c_n: Some(GpuTensor::from_buffer(
            &gpu,
            &arena,
            at(x_bytes) + at(out_bytes) + at(B * H * 4),
            &[1, B, H],
        )?),
    };
    let readout: Vec<f32> = (0..H).map(|j| ((j as f32) * 0.37).sin()).collect();
    let w = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("readout weights"),
        contents: bytemuck::cast_slice(&readout),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let y = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("y"),
        size: (T * B * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let pipeline = |source: &str| {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: None,
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: None,
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let (features, readout_pipeline) = (pipeline(FEATURES), pipeline(READOUT));
    let bind = |p: &wgpu::ComputePipeline, entries: &[wgpu::BindingResource]| {
        let entries: Vec<_> = entries
            .iter()
            .enumerate()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: r.clone(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &p.get_bind_group_layout(0),
            entries: &entries,
        })
    };
    fn slice(t: &GpuTensor) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: t.buffer(),
            offset: t.offset(),
            size: wgpu::BufferSize::new(t.byte_len()),
        })
    }
    let features_group = bind(&features, &[slice(&x)]);
    let readout_group = bind(
        &readout_pipeline,
        &[
            slice(&out.output),
            w.as_entire_binding(),
            y.as_entire_binding(),
        ],
    );
    let readable = |size: u64| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    };
    let (x_read, y_read) = (readable(x.byte_len()), readable(y.size()));

    // One encoder: the app's shader, our LSTM, the app's shader; one submit.
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&features);
        pass.set_bind_group(0, &features_group, &[]);
        pass.dispatch_workgroups((T * B * I).div_ceil(64) as u32, 1, 1);
    }
    lstm.record_forward(&mut encoder, &x, None, None, None, &out)?;
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&readout_pipeline);
        pass.set_bind_group(0, &readout_group, &[]);
        pass.dispatch_workgroups((T * B).div_ceil(64) as u32, 1, 1);
    }
    encoder.copy_buffer_to_buffer(x.buffer(), x.offset(), &x_read, 0, x.byte_len());
    encoder.copy_buffer_to_buffer(&y, 0, &y_read, 0, y.size());
    queue.submit([encoder.finish()]);

    let read = |b: &wgpu::Buffer| -> Result<Vec<f32>, Box<dyn std::error::Error>> {
        b.slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        device.poll(wgpu::PollType::wait_indefinitely())?;
        let v = bytemuck::cast_slice(&b.slice(..).get_mapped_range()?).to_vec();
        b.unmap();
        Ok(v)
    };
    let (features_written, y_got) = (read(&x_read)?, read(&y_read)?);

    // The f64 reference on the features the app's shader wrote.
    let truth = reference::forward_stack(&weights, &features_written, T, B, None, None, None)?;
    let y_want: Vec<f64> = truth
        .output
        .chunks(H)
        .map(|h| h.iter().zip(&readout).map(|(a, &w)| a * f64::from(w)).sum())
        .collect();
    let worst = y_want
        .iter()
        .zip(&y_got)
        .map(|(r, &g)| (r - f64::from(g)).abs())
        .fold(0.0, f64::max);
    let tol = Tolerance::stack(&config, T, truth.preactivation_scale);
    // The readout sums H outputs, each within the tolerance.
    let bound = tol.atol * H as f64;
    println!(
        "y = readout(LSTM(features)) for {T} frames x {B} streams: max |GPU - f64 reference| = {worst:.2e} (bound {bound:.2e})"
    );
    if worst > bound {
        return Err(format!("error {worst:e} over the bound {bound:e}").into());
    }
    println!("one submit: the app's features shader, our LSTM, the app's readout shader");
    Ok(())
}
