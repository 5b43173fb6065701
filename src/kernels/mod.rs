//! The WGSL kernels: their sources (embedded at compile time), entry points,
//! binding layouts and the pipeline-cache key. Each submodule holds one
//! kernel family's params struct and the code that records its dispatches.

pub mod backward;
pub mod dispatch;
pub mod dropout;
pub mod gemm;
pub mod loss;
pub mod optimizer;
pub mod reduce;
pub mod repack;
pub mod sequence;
pub mod step;
pub mod sum;
pub mod texels;
pub mod wavefront;

use bytemuck::{Pod, Zeroable};

/// The most loop iterations one invocation of our kernels may run.
/// lavapipe (llvmpipe) stops every loop of an invocation after 65535
/// iterations in total (a guard against hangs) and the kernel silently goes
/// on with partial results; kernels whose loops grow with the problem (a
/// GEMM's K, a reduction's rows, the persistent kernel's steps) split their
/// work so that no invocation comes near it.
pub const LOOP_BUDGET: usize = 16384;

/// Not a WGSL override: set to 1 among a kernel's constants, it compiles
/// the module with `Weight` = f16 (`enable f16`), the element type of the
/// step kernels' weight bindings and of what `repack.wgsl` writes; without
/// it `Weight` is f32. See [`crate::Precision`].
pub const F16_WEIGHTS: &str = "F16_WEIGHTS";

/// Not a WGSL override: set to the params struct's size in bytes among a
/// kernel's constants, it compiles the module with its params `p` as
/// immediates (`var<immediate>`, set per dispatch by
/// `set_immediates`) instead of the uniform at group 0 binding 0, which
/// the bind group then lacks. For the per-step kernels on devices with
/// the `IMMEDIATES` feature (see [`crate::context::Gpu::immediate_params`]).
pub const IMMEDIATE_PARAMS: &str = "IMMEDIATE_PARAMS";

/// How a module is compiled beyond its override constants: what the
/// pseudo-constants [`F16_WEIGHTS`] and [`IMMEDIATE_PARAMS`] ask for.
/// `Gpu::pipeline` reads them and passes the rest on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleOptions {
    pub f16_weights: bool,
    /// Size of the params struct read as immediates; 0: a uniform.
    pub immediate_bytes: u32,
}

impl ModuleOptions {
    pub(crate) fn from_constants(constants: &[(&'static str, f64)]) -> Self {
        let mut options = Self::default();
        for &(k, v) in constants {
            match k {
                F16_WEIGHTS => options.f16_weights = v != 0.0,
                IMMEDIATE_PARAMS => options.immediate_bytes = v as u32,
                _ => {}
            }
        }
        options
    }

    /// `constants` without the pseudo-constants: the WGSL overrides.
    pub(crate) fn overrides(constants: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
        constants
            .iter()
            .copied()
            .filter(|&(k, _)| k != F16_WEIGHTS && k != IMMEDIATE_PARAMS)
            .collect()
    }

    pub fn immediates(self) -> bool {
        self.immediate_bytes > 0
    }
}

/// [`F16_WEIGHTS`] for a layer of `precision`: what its weight-reading
/// kernels add to their constants.
pub(crate) fn precision_constants(precision: crate::Precision) -> Vec<(&'static str, f64)> {
    match precision {
        crate::Precision::F32 => vec![],
        crate::Precision::F16 => vec![(F16_WEIGHTS, 1.0)],
    }
}

/// Step kernels share `common.wgsl` (activations, tile sizes, `StepParams`);
/// it is prepended at compile time. WGSL has no `#include`.
macro_rules! step_source {
    ($($file:literal),+) => {
        concat!(
            include_str!("../../shaders/common.wgsl"),
            $(include_str!($file)),+
        )
    };
}

/// `$source!` (`step_source` or `backward_source`) over the cell's files,
/// the files every subgroup kernel shares, then the kernel's file.
macro_rules! with_subgroup_files {
    ($source:ident, [$($cell:literal),+], $kernel:literal) => {
        $source!(
            $($cell,)+
            "../../shaders/subgroup.wgsl",
            "../../shaders/texels.wgsl",
            "../../shaders/state_texels.wgsl",
            "../../shaders/subgroup_products.wgsl",
            $kernel
        )
    };
}

/// A subgroup step kernel's source: `step_source` with the cell's files,
/// the shared subgroup files, then the kernel's file.
macro_rules! subgroup_step_source {
    ($cell:literal, $kernel:literal) => {
        with_subgroup_files!(step_source, [$cell], $kernel)
    };
    ($cell0:literal, $cell:literal, $kernel:literal) => {
        with_subgroup_files!(step_source, [$cell0, $cell], $kernel)
    };
}

/// A backward step kernel's source: `common.wgsl`, `backward_common.wgsl`,
/// then the kernel's file.
macro_rules! backward_source {
    ($($file:literal),+) => {
        concat!(
            include_str!("../../shaders/common.wgsl"),
            include_str!("../../shaders/backward_common.wgsl"),
            $(include_str!($file)),+
        )
    };
}

/// A subgroup backward step kernel's source, like
/// `subgroup_step_source`.
macro_rules! subgroup_backward_source {
    ($cell:literal, $kernel:literal) => {
        with_subgroup_files!(backward_source, [$cell], $kernel)
    };
    ($cell0:literal, $cell:literal, $kernel:literal) => {
        with_subgroup_files!(backward_source, [$cell0, $cell], $kernel)
    };
}

/// How every kernel declares its params (the text
/// [`Kernel::module_source`] replaces for immediates).
pub(crate) const PARAMS_UNIFORM: &str = "@group(0) @binding(0) var<uniform> p:";

/// How a binding is declared in a kernel's bind group layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// `var<uniform>` read at a per-dispatch dynamic offset.
    UniformDynamic,
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    StorageRead,
    /// `var<storage, read_write>`.
    StorageReadWrite,
    /// `texture_2d<f32>` read with `textureLoad` (see `texels.wgsl`).
    Texels,
    /// `texture_storage_2d<rgba32float, write>`.
    TexelsWrite,
}

/// Every compute entry point of the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    GemmNt,
    GemmDot,
    GemmDot8,
    GemmTexels,
    LstmStep,
    LstmStepSubgroup,
    LstmSequence,
    LstmSequenceTexels,
    GruStep,
    GruStepSubgroup,
    GruGates,
    GruGatesSubgroup,
    GruCandidate,
    GruCandidateSubgroup,
    RnnStep,
    RnnStepSubgroup,
    ProjectionStep,
    ProjectionSubgroup,
    GatherSteps,
    ScatterOutput,
    ColumnSums,
    LstmBackwardStep,
    /// The persistent LSTM backward (`lstm_backward_sequence`): weights from
    /// the forward's interleaved buffer, or as texels.
    LstmBackwardSequence,
    LstmBackwardSequenceTexels,
    LstmBackwardSubgroup,
    LstmBackwardCell,
    LstmBackwardCellSubgroup,
    GruBackwardStep,
    GruBackwardSubgroup,
    GruBackwardReset,
    GruBackwardResetSubgroup,
    RnnBackwardStep,
    RnnBackwardSubgroup,
    Dropout,
    InterleaveGates,
    AddRows,
    PartialSums,
    FinishSum,
    MseLoss,
    CrossEntropy,
    OptimizerStep,
    PackTexels,
    PackStateTexels,
    WavefrontStep,
}

use BindingKind::{StorageRead as R, StorageReadWrite as RW, Uniform as U, UniformDynamic as UD};

impl Kernel {
    pub const ALL: [Kernel; 44] = [
        Kernel::GemmNt,
        Kernel::GemmDot,
        Kernel::GemmDot8,
        Kernel::GemmTexels,
        Kernel::LstmStep,
        Kernel::LstmStepSubgroup,
        Kernel::LstmSequence,
        Kernel::LstmSequenceTexels,
        Kernel::GruStep,
        Kernel::GruStepSubgroup,
        Kernel::GruGates,
        Kernel::GruGatesSubgroup,
        Kernel::GruCandidate,
        Kernel::GruCandidateSubgroup,
        Kernel::RnnStep,
        Kernel::RnnStepSubgroup,
        Kernel::ProjectionStep,
        Kernel::ProjectionSubgroup,
        Kernel::GatherSteps,
        Kernel::ScatterOutput,
        Kernel::ColumnSums,
        Kernel::LstmBackwardStep,
        Kernel::LstmBackwardSequence,
        Kernel::LstmBackwardSequenceTexels,
        Kernel::LstmBackwardSubgroup,
        Kernel::LstmBackwardCell,
        Kernel::LstmBackwardCellSubgroup,
        Kernel::GruBackwardStep,
        Kernel::GruBackwardSubgroup,
        Kernel::GruBackwardReset,
        Kernel::GruBackwardResetSubgroup,
        Kernel::RnnBackwardStep,
        Kernel::RnnBackwardSubgroup,
        Kernel::Dropout,
        Kernel::InterleaveGates,
        Kernel::AddRows,
        Kernel::PartialSums,
        Kernel::FinishSum,
        Kernel::MseLoss,
        Kernel::CrossEntropy,
        Kernel::OptimizerStep,
        Kernel::PackTexels,
        Kernel::PackStateTexels,
        Kernel::WavefrontStep,
    ];

    /// The complete WGSL module this entry point lives in.
    pub fn source(self) -> &'static str {
        match self {
            Kernel::GemmNt | Kernel::GemmDot | Kernel::GemmDot8 => concat!(
                include_str!("../../shaders/gemm_common.wgsl"),
                include_str!("../../shaders/gemm.wgsl")
            ),
            // Its own module: it needs the SUBGROUP feature, which many
            // devices lack.
            Kernel::GemmTexels => concat!(
                include_str!("../../shaders/gemm_common.wgsl"),
                include_str!("../../shaders/subgroup.wgsl"),
                include_str!("../../shaders/gemm_texels.wgsl")
            ),
            Kernel::LstmStep | Kernel::LstmSequence => step_source!(
                "../../shaders/lstm_cell.wgsl",
                "../../shaders/lstm_common.wgsl",
                "../../shaders/lstm_sequence_buffer.wgsl",
                "../../shaders/lstm_step.wgsl"
            ),
            // The persistent kernel reading its weights as texels (CPU
            // adapters with the subgroup kernels' texels).
            Kernel::LstmSequenceTexels => step_source!(
                "../../shaders/lstm_cell.wgsl",
                "../../shaders/lstm_common.wgsl",
                "../../shaders/texels.wgsl",
                "../../shaders/lstm_sequence_texels.wgsl",
                "../../shaders/lstm_step.wgsl"
            ),
            Kernel::LstmStepSubgroup => subgroup_step_source!(
                "../../shaders/lstm_cell.wgsl",
                "../../shaders/lstm_common.wgsl",
                "../../shaders/step_subgroup.wgsl"
            ),
            Kernel::GruStep => step_source!(
                "../../shaders/gru_common.wgsl",
                "../../shaders/gru_step.wgsl"
            ),
            Kernel::GruStepSubgroup => subgroup_step_source!(
                "../../shaders/gru_common.wgsl",
                "../../shaders/step_subgroup.wgsl"
            ),
            Kernel::GruGates | Kernel::GruCandidate => step_source!(
                "../../shaders/gru_reset_before_common.wgsl",
                "../../shaders/gru_reset_before_step.wgsl"
            ),
            Kernel::GruGatesSubgroup => subgroup_step_source!(
                "../../shaders/gru_reset_before_common.wgsl",
                "../../shaders/gru_gates_subgroup.wgsl"
            ),
            Kernel::GruCandidateSubgroup => subgroup_step_source!(
                "../../shaders/gru_reset_before_common.wgsl",
                "../../shaders/gru_candidate_subgroup.wgsl"
            ),
            Kernel::RnnStep => step_source!(
                "../../shaders/rnn_common.wgsl",
                "../../shaders/rnn_step.wgsl"
            ),
            Kernel::RnnStepSubgroup => subgroup_step_source!(
                "../../shaders/rnn_common.wgsl",
                "../../shaders/rnn_step_subgroup.wgsl"
            ),
            Kernel::ProjectionStep => step_source!("../../shaders/projection_step.wgsl"),
            Kernel::ProjectionSubgroup => subgroup_step_source!(
                "../../shaders/projection_step.wgsl",
                "../../shaders/projection_subgroup.wgsl"
            ),
            Kernel::GatherSteps | Kernel::ScatterOutput => {
                include_str!("../../shaders/sequence.wgsl")
            }
            Kernel::ColumnSums => include_str!("../../shaders/reduce.wgsl"),
            Kernel::LstmBackwardStep | Kernel::LstmBackwardCell => backward_source!(
                "../../shaders/lstm_backward_common.wgsl",
                "../../shaders/lstm_backward.wgsl"
            ),
            Kernel::LstmBackwardSequence => backward_source!(
                "../../shaders/lstm_backward_common.wgsl",
                "../../shaders/lstm_backward_sequence_buffer.wgsl",
                "../../shaders/lstm_backward_sequence.wgsl"
            ),
            Kernel::LstmBackwardSequenceTexels => backward_source!(
                "../../shaders/lstm_backward_common.wgsl",
                "../../shaders/texels.wgsl",
                "../../shaders/lstm_backward_sequence_texels.wgsl",
                "../../shaders/lstm_backward_sequence.wgsl"
            ),
            Kernel::LstmBackwardSubgroup => subgroup_backward_source!(
                "../../shaders/lstm_backward_common.wgsl",
                "../../shaders/backward_subgroup.wgsl"
            ),
            Kernel::LstmBackwardCellSubgroup => subgroup_backward_source!(
                "../../shaders/lstm_backward_common.wgsl",
                "../../shaders/lstm_backward_cell_subgroup.wgsl"
            ),
            Kernel::GruBackwardStep | Kernel::GruBackwardReset => backward_source!(
                "../../shaders/gru_backward_common.wgsl",
                "../../shaders/gru_backward.wgsl"
            ),
            Kernel::GruBackwardSubgroup => subgroup_backward_source!(
                "../../shaders/gru_backward_common.wgsl",
                "../../shaders/backward_subgroup.wgsl"
            ),
            Kernel::GruBackwardResetSubgroup => subgroup_backward_source!(
                "../../shaders/gru_backward_common.wgsl",
                "../../shaders/gru_backward_reset_subgroup.wgsl"
            ),
            Kernel::RnnBackwardStep => backward_source!(
                "../../shaders/rnn_backward_common.wgsl",
                "../../shaders/rnn_backward.wgsl"
            ),
            Kernel::RnnBackwardSubgroup => subgroup_backward_source!(
                "../../shaders/rnn_backward_common.wgsl",
                "../../shaders/backward_subgroup.wgsl"
            ),
            Kernel::Dropout => include_str!("../../shaders/dropout.wgsl"),
            Kernel::InterleaveGates | Kernel::AddRows => include_str!("../../shaders/repack.wgsl"),
            Kernel::PartialSums | Kernel::FinishSum => include_str!("../../shaders/sum.wgsl"),
            Kernel::MseLoss => include_str!("../../shaders/mse_loss.wgsl"),
            Kernel::CrossEntropy => include_str!("../../shaders/cross_entropy.wgsl"),
            Kernel::OptimizerStep => include_str!("../../shaders/optimizer.wgsl"),
            Kernel::PackTexels | Kernel::PackStateTexels => {
                include_str!("../../shaders/pack_texels.wgsl")
            }
            Kernel::WavefrontStep => step_source!(
                "../../shaders/lstm_cell.wgsl",
                "../../shaders/wavefront.wgsl"
            ),
        }
    }

    /// The module as compiled: the `Weight` alias (f16 weights need the
    /// `f16` extension, enabled before anything else), then [`Kernel::source`].
    /// With f16 weights the texels a kernel writes are f16 too
    /// ([`texels::texel_format`]); WGSL cannot name a storage format by
    /// alias, so the format is substituted. With immediates the params
    /// declaration (every kernel's `p` at group 0 binding 0) is.
    pub fn module_source(self, options: ModuleOptions) -> String {
        let mut source = self.source().to_string();
        if options.immediates() {
            source = source.replace(PARAMS_UNIFORM, "var<immediate> p:");
        }
        if options.f16_weights {
            source = source.replace(
                "texture_storage_2d<rgba32float, write>",
                "texture_storage_2d<rgba16float, write>",
            );
            format!("enable f16;\nalias Weight = f16;\n{source}")
        } else {
            format!("alias Weight = f32;\n{source}")
        }
    }

    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::GemmNt => "gemm_nt",
            Kernel::GemmDot => "gemm_dot",
            Kernel::GemmDot8 => "gemm_dot8",
            Kernel::GemmTexels => "gemm_texels",
            Kernel::LstmStep => "lstm_step",
            Kernel::LstmStepSubgroup | Kernel::GruStepSubgroup => "step_subgroup",
            Kernel::LstmSequence => "lstm_sequence",
            Kernel::LstmSequenceTexels => "lstm_sequence",
            Kernel::GruStep => "gru_step",
            Kernel::GruGates => "gru_gates",
            Kernel::GruCandidate => "gru_candidate",
            Kernel::GruGatesSubgroup => "gru_gates_subgroup",
            Kernel::GruCandidateSubgroup => "gru_candidate_subgroup",
            Kernel::RnnStep => "rnn_step",
            Kernel::RnnStepSubgroup => "rnn_step_subgroup",
            Kernel::ProjectionStep => "projection_step",
            Kernel::ProjectionSubgroup => "projection_subgroup",
            Kernel::GatherSteps => "gather_steps",
            Kernel::ScatterOutput => "scatter_output",
            Kernel::ColumnSums => "column_sums",
            Kernel::LstmBackwardStep => "lstm_backward_step",
            Kernel::LstmBackwardSequence | Kernel::LstmBackwardSequenceTexels => {
                "lstm_backward_sequence"
            }
            Kernel::LstmBackwardSubgroup
            | Kernel::GruBackwardSubgroup
            | Kernel::RnnBackwardSubgroup => "backward_subgroup",
            Kernel::LstmBackwardCell => "lstm_backward_cell",
            Kernel::LstmBackwardCellSubgroup => "lstm_backward_cell_subgroup",
            Kernel::GruBackwardStep => "gru_backward_step",
            Kernel::GruBackwardReset => "gru_backward_reset",
            Kernel::GruBackwardResetSubgroup => "gru_backward_reset_subgroup",
            Kernel::RnnBackwardStep => "rnn_backward_step",
            Kernel::Dropout => "dropout",
            Kernel::InterleaveGates => "interleave_gates",
            Kernel::AddRows => "add_rows",
            Kernel::PartialSums => "partial_sums",
            Kernel::FinishSum => "finish_sum",
            Kernel::MseLoss => "mse_loss",
            Kernel::CrossEntropy => "cross_entropy",
            Kernel::OptimizerStep => "optimizer_step",
            Kernel::PackTexels | Kernel::PackStateTexels => "pack_texels",
            Kernel::WavefrontStep => "wavefront_step",
        }
    }

    /// The entry point, or for the subgroup step kernels (one entry point
    /// compiled per cell) the cell and the entry point.
    pub fn label(self) -> &'static str {
        match self {
            Kernel::LstmStepSubgroup => "lstm_step_subgroup",
            Kernel::GruStepSubgroup => "gru_step_subgroup",
            Kernel::LstmBackwardSubgroup => "lstm_backward_subgroup",
            Kernel::GruBackwardSubgroup => "gru_backward_subgroup",
            Kernel::RnnBackwardSubgroup => "rnn_backward_subgroup",
            Kernel::PackStateTexels => "pack_state_texels",
            Kernel::LstmSequenceTexels => "lstm_sequence_texels",
            Kernel::LstmBackwardSequenceTexels => "lstm_backward_sequence_texels",
            other => other.entry_point(),
        }
    }

    /// The bindings of group 0, in binding order, as the WGSL declares them.
    pub fn bindings(self) -> &'static [BindingKind] {
        match self {
            Kernel::GemmNt | Kernel::GemmDot | Kernel::GemmDot8 | Kernel::GemmTexels => {
                &[U, R, R, R, RW]
            }
            Kernel::LstmStep
            | Kernel::LstmStepSubgroup
            | Kernel::LstmSequence
            | Kernel::LstmSequenceTexels => &[UD, RW, R, R, R, RW, RW, RW],
            Kernel::GruStep | Kernel::GruStepSubgroup => &[UD, RW, R, R, R, RW, RW],
            Kernel::GruGates
            | Kernel::GruGatesSubgroup
            | Kernel::GruCandidate
            | Kernel::GruCandidateSubgroup => &[UD, RW, R, R, R, RW, RW, RW],
            Kernel::RnnStep | Kernel::RnnStepSubgroup => &[UD, R, R, R, RW],
            Kernel::ProjectionStep | Kernel::ProjectionSubgroup => &[UD, R, R, RW, RW],
            Kernel::GatherSteps | Kernel::ScatterOutput => &[U, R, R, RW],
            Kernel::ColumnSums => &[U, R, R, RW],
            Kernel::LstmBackwardStep
            | Kernel::LstmBackwardSequence
            | Kernel::LstmBackwardSequenceTexels
            | Kernel::LstmBackwardSubgroup
            | Kernel::LstmBackwardCell
            | Kernel::LstmBackwardCellSubgroup => &[UD, R, R, RW, RW, R, R, RW, R],
            Kernel::GruBackwardStep
            | Kernel::GruBackwardSubgroup
            | Kernel::GruBackwardReset
            | Kernel::GruBackwardResetSubgroup => &[UD, R, R, RW, RW, R, R, RW, RW],
            Kernel::RnnBackwardStep | Kernel::RnnBackwardSubgroup => &[UD, R, R, RW, RW, R],
            Kernel::Dropout => &[U, RW],
            Kernel::InterleaveGates | Kernel::AddRows => &[U, R, R, RW],
            Kernel::PartialSums | Kernel::FinishSum => &[U, R, RW],
            Kernel::MseLoss | Kernel::CrossEntropy => &[U, R, R, RW, RW],
            Kernel::OptimizerStep => &[U, U, RW, R, RW, RW, R],
            Kernel::PackTexels => &[U, R, BindingKind::TexelsWrite],
            // Once per step, its params at a dynamic offset.
            Kernel::PackStateTexels => &[UD, R, BindingKind::TexelsWrite],
            Kernel::WavefrontStep => &[UD, R, R, R, R, R, R, RW, RW],
        }
    }

    /// How many matrices the kernel reads as texels from group 1
    /// (`texels.wgsl`): the subgroup step kernels' weights and row operand
    /// (`state_texels.wgsl`), both operands of `gemm_texels`.
    pub fn texel_matrices(self) -> u32 {
        match self {
            Kernel::LstmStepSubgroup
            | Kernel::GruStepSubgroup
            | Kernel::GruGatesSubgroup
            | Kernel::GruCandidateSubgroup
            | Kernel::RnnStepSubgroup
            | Kernel::ProjectionSubgroup
            | Kernel::LstmBackwardSubgroup
            | Kernel::LstmBackwardCellSubgroup
            | Kernel::GruBackwardSubgroup
            | Kernel::GruBackwardResetSubgroup
            | Kernel::RnnBackwardSubgroup
            | Kernel::GemmTexels => 2,
            Kernel::LstmSequenceTexels | Kernel::LstmBackwardSequenceTexels => 1,
            _ => 0,
        }
    }

    /// Whether the kernel has a group 1 (see [`Kernel::texel_matrices`]).
    pub fn reads_texels(self) -> bool {
        self.texel_matrices() > 0
    }

    /// The layout of group 1 of a kernel that [`Kernel::reads_texels`].
    pub(crate) fn texels_group_layout(self, device: &wgpu::Device) -> wgpu::BindGroupLayout {
        let entries: Vec<_> = (0..self.texel_matrices())
            // The sample type takes f32 and f16 texels alike.
            .map(|i| binding_layout(i, BindingKind::Texels, crate::Precision::F32))
            .collect();
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("texels"),
            entries: &entries,
        })
    }

    /// The layout of group 0 of the module [`Kernel::module_source`]
    /// builds with `options` (no binding 0 with immediates).
    pub(crate) fn bind_group_layout(
        self,
        device: &wgpu::Device,
        options: ModuleOptions,
    ) -> wgpu::BindGroupLayout {
        let precision = if options.f16_weights {
            crate::Precision::F16
        } else {
            crate::Precision::F32
        };
        let first = usize::from(options.immediates());
        let entries: Vec<_> = self
            .bindings()
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, &kind)| binding_layout(i as u32, kind, precision))
            .collect();
        device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(self.label()),
            entries: &entries,
        })
    }
}

fn binding_layout(
    binding: u32,
    kind: BindingKind,
    precision: crate::Precision,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: match kind {
            UD | U => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: kind == UD,
                min_binding_size: None,
            },
            R | RW => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage {
                    read_only: kind == R,
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            BindingKind::Texels => wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            BindingKind::TexelsWrite => wgpu::BindingType::StorageTexture {
                access: wgpu::StorageTextureAccess::WriteOnly,
                format: texels::texel_format(precision),
                view_dimension: wgpu::TextureViewDimension::D2,
            },
        },
        count: None,
    }
}

/// Cache key: kernel plus its override constants (values by bit pattern).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    kernel: Kernel,
    constants: Vec<(&'static str, u64)>,
}

impl PipelineKey {
    pub fn new(kernel: Kernel, constants: &[(&'static str, f64)]) -> Self {
        let mut constants: Vec<_> = constants.iter().map(|&(k, v)| (k, v.to_bits())).collect();
        constants.sort_unstable();
        Self { kernel, constants }
    }
}

/// A `#[repr(C)]` struct that mirrors a WGSL struct, field for field.
pub trait WgslTwin: Pod + Zeroable {
    /// The struct's name in WGSL.
    const WGSL_NAME: &'static str;
    /// `(name, byte offset)` of every field, in order.
    fn fields() -> Vec<(&'static str, usize)>;
}

#[cfg(test)]
mod tests;
