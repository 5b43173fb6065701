//! Every shader module the host compiles, as it compiles it (after the
//! host's rewriting, with the override constants it passes), through naga's
//! validator and its Metal, HLSL, SPIR-V and GLSL writers: a module that a
//! back end cannot express fails here, not on a user's Mac or Windows
//! machine. The modules are not listed by hand: a workload of every cell
//! and option, training pieces included, runs on several device variants
//! (each taking other kernel paths), and the pipeline cache reports what
//! was compiled.

use std::collections::BTreeMap;

use crate::config::{CellKind, Direction, Precision, Schedule, StackConfig};
use crate::gpu::pipelines::CompiledModule;
use crate::gpu::{AdapterSelector, Gpu};
use crate::model::RnnStack;
use crate::pass::{HostSeeds, TrainOptions};
use crate::train::{
    cross_entropy_loss, mse_loss, ClassTargets, GradMode, Linear, LinearGrads, Optimizer,
    OptimizerConfig,
};
use crate::{GpuTensor, RnnConfig, StackWeights};

/// The device variants whose defaults or forced choices take every kernel
/// path the host has.
fn variants() -> Vec<(&'static str, AdapterSelector)> {
    let sel = |f: fn(&mut AdapterSelector)| {
        let mut s = AdapterSelector::from_env();
        f(&mut s);
        s
    };
    vec![
        ("default", sel(|_| {})),
        ("persistent", sel(|s| s.persistent = Some(true))),
        (
            "plain",
            sel(|s| {
                s.subgroup_kernels = Some(false);
                s.persistent = Some(false);
            }),
        ),
        (
            "plain persistent",
            sel(|s| {
                s.subgroup_kernels = Some(false);
                s.persistent = Some(true);
            }),
        ),
        (
            "tiled",
            sel(|s| {
                s.step_tiles = Some(true);
                s.persistent = Some(false);
            }),
        ),
        (
            "row texels",
            sel(|s| {
                s.row_texels = Some(true);
                s.persistent = Some(false);
            }),
        ),
        ("uniform params", sel(|s| s.immediates = Some(false))),
        ("fused stream", sel(|s| s.fused_stream = Some(true))),
        (
            "plain fused stream",
            sel(|s| {
                s.fused_stream = Some(true);
                s.subgroup_kernels = Some(false);
            }),
        ),
    ]
}

/// Forward, training step, stream and wavefront of every cell with the
/// module options, f16 weights where the device has them, and the training
/// pieces; sizes that reach the big-GEMM and split-K paths too.
fn workload(gpu: &Gpu) {
    for cell in CellKind::ALL {
        // The big size (GEMM tiles, split-K, projection) for the cells
        // whose kernels differ most; every cell at the small one.
        let big = matches!(cell, CellKind::Lstm | CellKind::Gru(_));
        let sizes: &[_] = if big {
            &[(3, 5, 4, 2), (67, 67, 3, 17)]
        } else {
            &[(3, 5, 4, 2)]
        };
        for &(input, hidden, seq, batch) in sizes {
            let mut layer = RnnConfig::new(cell, input, hidden).unwrap();
            if cell.has_cell_state() && hidden > 5 {
                layer = layer.with_projection(hidden / 2).unwrap();
            }
            for config in [
                StackConfig::new(layer).with_layers(2),
                StackConfig::new(layer)
                    .with_direction(Direction::Bidirectional)
                    .with_batch_first(true),
            ] {
                let weights = StackWeights::random(config, 1, 1.0).unwrap();
                let stack = RnnStack::new(gpu, &weights).unwrap();
                let x = vec![0.25; seq * batch * input];
                let lengths: Vec<usize> = (0..batch).map(|b| 1 + b % seq).collect();
                stack
                    .forward_host(&x, seq, batch, None, None, Some(&lengths))
                    .unwrap();
                let g = vec![0.5; seq * batch * config.output_size()];
                let seeds = HostSeeds {
                    output: Some(&g),
                    ..Default::default()
                };
                let options = TrainOptions {
                    dropout: 0.2,
                    seed: 3,
                };
                stack
                    .train_step_host(&x, seq, batch, None, None, Some(&lengths), seeds, options)
                    .unwrap();
                if config.direction == Direction::Forward {
                    stack.stream(batch).unwrap().steps_host(&x).unwrap();
                }
                if Schedule::Wavefront.check(&config).is_ok() && config.num_layers > 1 {
                    let wave = stack.clone().with_schedule(Schedule::Wavefront).unwrap();
                    wave.forward_host(&x, seq, batch, None, None, None).unwrap();
                }
                if gpu.capabilities().shader_f16 {
                    let half = weights.clone().rounded_for(Precision::F16).unwrap();
                    RnnStack::with_precision(gpu, &half, Precision::F16)
                        .unwrap()
                        .forward_host(&x, seq, batch, None, None, None)
                        .unwrap();
                }
            }
        }
    }
    let head = Linear::random(gpu, (8, 3), 0).unwrap();
    let x = GpuTensor::from_slice(gpu, "x", &[0.5; 40 * 8], &[40, 8]).unwrap();
    let y = head.forward(&x).unwrap();
    let grads = LinearGrads::zeros(&head).unwrap();
    let target = GpuTensor::zeros(gpu, "t", &[40, 3]).unwrap();
    let loss = mse_loss(&y, &target).unwrap();
    head.backward(&x, &loss.grad, &grads, GradMode::Accumulate)
        .unwrap();
    let classes = ClassTargets::from_slice(gpu, &[0, 1, 2, 1].repeat(10), 3).unwrap();
    cross_entropy_loss(&y, &classes).unwrap();
    for config in [
        OptimizerConfig::sgd(0.1, 0.9).with_max_grad_norm(1.0),
        OptimizerConfig::adam(0.01),
    ] {
        let mut optimizer = Optimizer::new(gpu, config).unwrap();
        optimizer.add_linear(&head, &grads).unwrap();
        optimizer.step().unwrap();
    }
}

/// What the back ends wrote for one module: file extension and bytes.
type Written = Vec<(&'static str, Vec<u8>)>;

/// Each back end's errors, and what they wrote, for one module.
fn translate(module: &CompiledModule) -> (Vec<String>, Written) {
    let mut written = Written::new();
    let errors = translate_into(module, &mut written);
    (errors, written)
}

fn translate_into(module: &CompiledModule, out: &mut Written) -> Vec<String> {
    use naga::back::{glsl, hlsl, msl, spv};
    use naga::valid::{Capabilities, ValidationFlags, Validator};
    let parsed = match naga::front::wgsl::parse_str(&module.source) {
        Ok(m) => m,
        Err(e) => return vec![format!("wgsl: {}", e.emit_to_string(&module.source))],
    };
    let mut validator = Validator::new(ValidationFlags::all(), Capabilities::all());
    let info = match validator.validate(&parsed) {
        Ok(i) => i,
        Err(e) => return vec![format!("validation: {e:?}")],
    };
    let constants: naga::back::PipelineConstants = module
        .overrides
        .iter()
        .map(|&(k, v)| (k.to_string(), v))
        .collect();
    let entry = (naga::ShaderStage::Compute, module.entry);
    let (resolved, info) = match naga::back::pipeline_constants::process_overrides(
        &parsed,
        &info,
        Some(entry),
        &constants,
    ) {
        Ok(r) => r,
        Err(e) => return vec![format!("overrides: {e:?}")],
    };
    let mut errors = Vec::new();
    let entry_point = Some((naga::ShaderStage::Compute, module.entry.to_string()));
    let msl_options = msl::Options {
        lang_version: (2, 4),
        ..Default::default()
    };
    let msl_pipeline = msl::PipelineOptions {
        entry_point: entry_point.clone(),
        ..Default::default()
    };
    match msl::write_string(&resolved, &info, &msl_options, &msl_pipeline) {
        Ok((text, _)) => out.push(("metal", text.into_bytes())),
        Err(e) => errors.push(format!("msl: {e:?}")),
    }
    // wgpu's DX12 back end puts the immediates in a root constant of a
    // space of their own; naga needs to be told one.
    let hlsl_options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V6_2,
        immediates_target: Some(hlsl::BindTarget {
            space: 8,
            register: 0,
            ..Default::default()
        }),
        ..Default::default()
    };
    let hlsl_pipeline = hlsl::PipelineOptions { entry_point };
    let mut text = String::new();
    match hlsl::Writer::new(&mut text, &hlsl_options, &hlsl_pipeline).write(&resolved, &info, None)
    {
        Ok(_) => out.push(("hlsl", text.into_bytes())),
        Err(e) => errors.push(format!("hlsl: {e:?}")),
    }
    // SPIR-V 1.3, what wgpu's Vulkan back end writes for a Vulkan 1.1
    // device (the oldest with subgroups).
    let spv_options = spv::Options {
        lang_version: (1, 3),
        ..Default::default()
    };
    match spv::write_vec(&resolved, &info, &spv_options, None) {
        Ok(words) => out.push(("spv", bytemuck::cast_slice(&words).to_vec())),
        Err(e) => errors.push(format!("spir-v: {e:?}")),
    }
    // OpenGL has no f16 (wgpu's GL back end never offers SHADER_F16), so
    // f16-weight modules never reach it.
    if module.source.starts_with("enable f16;") {
        return errors;
    }
    let glsl_options = glsl::Options {
        version: glsl::Version::Desktop(450),
        ..Default::default()
    };
    let glsl_pipeline = glsl::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: module.entry.to_string(),
        multiview: None,
    };
    let mut text = String::new();
    let written = glsl::Writer::new(
        &mut text,
        &resolved,
        &info,
        &glsl_options,
        &glsl_pipeline,
        naga::proc::BoundsCheckPolicies::default(),
    )
    .and_then(|mut w| w.write());
    match written {
        Ok(_) => out.push(("comp", text.into_bytes())),
        Err(e) => errors.push(format!("glsl: {e:?}")),
    }
    errors
}

/// Environment variable naming a directory to write every translation
/// into (`NNN_label.metal|hlsl|spv|comp`), for the outside validators that
/// `.ci/shaders` runs on them (spirv-val, glslang).
const DUMP_ENV: &str = "WGPU_RNN_SHADER_DUMP";

#[test]
fn every_compiled_module_translates_for_every_back_end() {
    // The variants' workloads mostly wait on the driver's compiler, one
    // pipeline at a time: run them on every core, each on its own device.
    let variants = variants();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(variants.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, sel)) = variants.get(i) else {
                    break;
                };
                let gpu = Gpu::with_selector(sel)
                    .unwrap_or_else(|e| panic!("GPU tests need a wgpu adapter: {e}"));
                workload(&gpu);
                done.lock()
                    .unwrap()
                    .push((i, *name, gpu.compiled_modules()));
            });
        }
    });
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|d| d.0);
    let mut modules: BTreeMap<(String, String), CompiledModule> = BTreeMap::new();
    for (_, name, compiled) in done {
        let before = modules.len();
        let count = compiled.len();
        for m in compiled {
            let key = (format!("{} {:?}", m.label, m.overrides), m.source.clone());
            modules.entry(key).or_insert(m);
        }
        eprintln!(
            "{name}: {count} modules compiled, {} new",
            modules.len() - before
        );
    }
    let dump = std::env::var_os(DUMP_ENV).map(std::path::PathBuf::from);
    if let Some(dir) = &dump {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut failures = Vec::new();
    for (i, m) in modules.values().enumerate() {
        let (errors, written) = translate(m);
        for e in errors {
            failures.push(format!("{} {:?}: {e}", m.label, m.overrides));
        }
        if let Some(dir) = &dump {
            let label = m.label.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            for (ext, bytes) in written {
                std::fs::write(dir.join(format!("{i:03}_{label}.{ext}")), bytes).unwrap();
            }
        }
    }
    eprintln!(
        "{} distinct modules through naga's validator and its MSL, HLSL, SPIR-V and GLSL writers",
        modules.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
