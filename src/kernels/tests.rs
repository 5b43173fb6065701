//! Shader checks that need no GPU: every module parses and validates with
//! naga, every entry point exists with the bindings the host declares, and
//! every params struct matches its `#[repr(C)]` twin byte for byte.

use std::mem::size_of;

use super::backward::BackParams;
use super::dropout::DropoutParams;
use super::gemm::GemmParams;
use super::loss::LossParams;
use super::optimizer::{OptimizerStep, OptimizerTensor};
use super::reduce::ReduceParams;
use super::repack::RepackParams;
use super::sequence::SeqParams;
use super::step::StepParams;
use super::stream::StreamParams;
use super::sum::SumParams;
use super::texels::PackParams;
use super::wavefront::WaveParams;
use super::{Kernel, WgslTwin};
use crate::gpu::pipelines::{BindingKind, ModuleOptions, ParamsBinding, PARAMS_UNIFORM};

fn module(kernel: Kernel) -> naga::Module {
    module_with(kernel, ModuleOptions::default())
}

fn module_with(kernel: Kernel, options: ModuleOptions) -> naga::Module {
    let source = kernel.spec().module_source(options);
    let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| {
        panic!(
            "{} does not parse:\n{}",
            kernel.label(),
            e.emit_to_string(&source)
        )
    });
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    );
    validator.validate(&module).unwrap_or_else(|e| {
        panic!(
            "{} does not validate:\n{}",
            kernel.label(),
            e.emit_to_string(&source)
        )
    });
    module
}

#[test]
fn every_shader_parses_and_validates() {
    for &kernel in Kernel::ALL {
        let m = module(kernel);
        assert!(
            m.entry_points.iter().any(|e| e.name == kernel.spec().entry),
            "{}: no entry point {}",
            kernel.label(),
            kernel.spec().entry
        );
    }
}

/// Every module also compiles with f16 weights (the `Weight` alias), the
/// form [`super::F16_WEIGHTS`] asks for; f16 layers use the weight-reading
/// ones.
#[test]
fn every_shader_validates_with_f16_weights() {
    let options = ModuleOptions {
        f16_weights: true,
        ..Default::default()
    };
    for &kernel in Kernel::ALL {
        module_with(kernel, options);
    }
}

/// Every kernel declares its params where the immediates variant expects
/// them, and the per-step ones (a dynamic uniform offset otherwise)
/// compile with them as immediates, with no global left at binding 0.
#[test]
fn params_become_immediates() {
    let options = ModuleOptions {
        immediate_bytes: 32,
        ..Default::default()
    };
    for &kernel in Kernel::ALL {
        assert_eq!(
            kernel.spec().source.matches(PARAMS_UNIFORM).count(),
            1,
            "{}",
            kernel.label()
        );
        if kernel.spec().params != ParamsBinding::PerStep {
            continue;
        }
        let m = module_with(kernel, options);
        let immediate = m
            .global_variables
            .iter()
            .find(|(_, v)| v.name.as_deref() == Some("p"))
            .map(|(_, v)| v.space);
        assert_eq!(
            immediate,
            Some(naga::AddressSpace::Immediate),
            "{}",
            kernel.label()
        );
        assert!(
            m.global_variables.iter().all(|(_, v)| v
                .binding
                .as_ref()
                .is_none_or(|b| b.binding != 0 || b.group != 0)),
            "{}: still binds group 0 binding 0",
            kernel.label()
        );
    }
}

/// The binding kind of a global the shader declares.
fn binding_kind(kernel: Kernel, m: &naga::Module, var: &naga::GlobalVariable) -> BindingKind {
    match var.space {
        naga::AddressSpace::Uniform => BindingKind::Uniform,
        naga::AddressSpace::Storage { access } => {
            if access.contains(naga::StorageAccess::STORE) {
                BindingKind::StorageReadWrite
            } else {
                BindingKind::StorageRead
            }
        }
        naga::AddressSpace::Handle => match m.types[var.ty].inner {
            naga::TypeInner::Image {
                dim: naga::ImageDimension::D2,
                arrayed: false,
                class:
                    naga::ImageClass::Sampled {
                        kind: naga::ScalarKind::Float,
                        multi: false,
                    },
            } => BindingKind::Texels,
            naga::TypeInner::Image {
                dim: naga::ImageDimension::D2,
                arrayed: false,
                class:
                    naga::ImageClass::Storage {
                        format: naga::StorageFormat::Rgba32Float,
                        access,
                    },
            } if access == naga::StorageAccess::STORE => BindingKind::TexelsWrite,
            ref other => panic!("{}: unexpected handle {other:?}", kernel.label()),
        },
        other => panic!("{}: unexpected address space {other:?}", kernel.label()),
    }
}

#[test]
fn declared_bindings_match_the_shaders() {
    for &kernel in Kernel::ALL {
        let m = module(kernel);
        let mut found: Vec<(u32, BindingKind)> = Vec::new();
        let mut texels = Vec::new();
        for (_, var) in m.global_variables.iter() {
            let Some(binding) = var.binding.as_ref() else {
                continue;
            };
            let kind = binding_kind(kernel, &m, var);
            match binding.group {
                0 => found.push((binding.binding, kind)),
                1 => texels.push((binding.binding, kind)),
                g => panic!("{}: group {g} is not used", kernel.label()),
            }
        }
        found.sort_by_key(|&(b, _)| b);
        let declared: Vec<(u32, BindingKind)> = kernel
            .spec()
            .bindings()
            .iter()
            .enumerate()
            .map(|(i, &(_, k))| {
                // Dynamic offsets are a host-side property of a uniform.
                let k = if k == BindingKind::UniformDynamic {
                    BindingKind::Uniform
                } else {
                    k
                };
                (i as u32, k)
            })
            .collect();
        assert_eq!(
            found,
            declared,
            "{}: bindings differ from the declarations the host reads",
            kernel.label()
        );
        texels.sort_by_key(|&(b, _)| b);
        let expected_texels: Vec<_> = (0..kernel.texel_matrices())
            .map(|i| (i, BindingKind::Texels))
            .collect();
        assert_eq!(texels, expected_texels, "{}: group 1", kernel.label());
    }
}

fn check_twin<T: WgslTwin>(kernel: Kernel) {
    let m = module(kernel);
    let (_, ty) = m
        .types
        .iter()
        .find(|(_, ty)| ty.name.as_deref() == Some(T::WGSL_NAME))
        .unwrap_or_else(|| panic!("{}: no struct {}", kernel.label(), T::WGSL_NAME));
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        panic!("{} is not a struct", T::WGSL_NAME);
    };
    assert_eq!(
        *span as usize,
        size_of::<T>(),
        "{}: WGSL size vs Rust size",
        T::WGSL_NAME
    );
    let wgsl: Vec<(String, usize)> = members
        .iter()
        .map(|mb| (mb.name.clone().unwrap_or_default(), mb.offset as usize))
        .collect();
    let rust: Vec<(String, usize)> = T::fields()
        .into_iter()
        .map(|(n, o)| (n.to_string(), o))
        .collect();
    assert_eq!(wgsl, rust, "{}: fields and offsets", T::WGSL_NAME);
    for mb in members {
        let inner = &m.types[mb.ty].inner;
        assert!(
            matches!(inner, naga::TypeInner::Scalar(s) if s.width == 4),
            "{}: every field is a 4-byte scalar in the Rust twin",
            T::WGSL_NAME
        );
    }
}

#[test]
fn params_structs_match_their_rust_twins() {
    check_twin::<GemmParams>(Kernel::GemmNt);
    for kernel in [
        Kernel::LstmStep,
        Kernel::GruStep,
        Kernel::GruGates,
        Kernel::RnnStep,
        Kernel::ProjectionStep,
    ] {
        check_twin::<StepParams>(kernel);
    }
    check_twin::<SeqParams>(Kernel::GatherSteps);
    check_twin::<ReduceParams>(Kernel::ColumnSums);
    for kernel in [
        Kernel::LstmBackwardStep,
        Kernel::LstmBackwardSequence,
        Kernel::GruBackwardStep,
        Kernel::RnnBackwardStep,
    ] {
        check_twin::<BackParams>(kernel);
    }
    check_twin::<DropoutParams>(Kernel::Dropout);
    check_twin::<RepackParams>(Kernel::InterleaveGates);
    check_twin::<SumParams>(Kernel::PartialSums);
    check_twin::<LossParams>(Kernel::MseLoss);
    check_twin::<LossParams>(Kernel::CrossEntropy);
    check_twin::<OptimizerTensor>(Kernel::OptimizerStep);
    check_twin::<OptimizerStep>(Kernel::OptimizerStep);
    check_twin::<PackParams>(Kernel::PackTexels);
    check_twin::<WaveParams>(Kernel::WavefrontStep);
    check_twin::<StreamParams>(Kernel::StreamStep);
}

#[test]
fn the_fused_stream_step_stages_what_the_host_allows() {
    let want = format!("const STAGED: u32 = {}u;", super::stream::STAGED);
    for kernel in [Kernel::StreamStep, Kernel::StreamStepTexels] {
        assert_eq!(kernel.spec().source.matches(&want).count(), 1, "{want}");
    }
}

#[test]
fn texel_kernels_agree_on_the_texture_width() {
    let want = format!(
        "const TEXEL_ROW_SHIFT: u32 = {}u;",
        super::texels::TEXEL_ROW_SHIFT
    );
    for kernel in Kernel::ALL
        .iter()
        .copied()
        .filter(|k| k.texel_matrices() > 0)
    {
        assert_eq!(
            kernel.spec().source.matches(&want).count(),
            1,
            "{}: {want}",
            kernel.label()
        );
    }
}

/// Labels name pipelines and profile rows: one kernel each.
#[test]
fn kernel_labels_are_unique() {
    let mut labels: Vec<_> = Kernel::ALL.iter().map(|k| k.label()).collect();
    labels.sort_unstable();
    let before = labels.len();
    labels.dedup();
    assert_eq!(labels.len(), before, "two kernels share a label");
}

/// `Kernel::bindings` and `texel_matrices` index a table by `kernel as usize`.
#[test]
fn kernels_index_their_declarations() {
    for (i, &kernel) in Kernel::ALL.iter().enumerate() {
        assert_eq!(kernel as usize, i, "{}", kernel.label());
        assert_eq!(kernel.bindings(), kernel.spec().bindings().as_slice());
        assert_eq!(kernel.texel_matrices(), kernel.spec().texel_matrices());
    }
}
