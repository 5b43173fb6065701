//! The registry: every compute kernel of the crate, one row each. A row
//! names the kernel's WGSL files (concatenated in order), its entry point,
//! its label (pipeline and profile name) and how it receives its params;
//! its bindings are read from the WGSL declarations themselves
//! ([`crate::gpu::pipelines::declared_bindings`]), so they are written once.
//!
//! Adding a kernel: its WGSL under `shaders/`, its row here (the variant,
//! `Kernel::ALL` and `Kernel::spec` are generated from the rows), and the
//! host function that builds its dispatch in the family's module.

use std::sync::OnceLock;

use crate::gpu::pipelines::{BindingKind, KernelSpec, ParamsBinding};

use ParamsBinding::{PerStep, Uniform};

/// The text of WGSL files under `shaders/`, concatenated in order.
macro_rules! wgsl {
    ($($file:literal),+ $(,)?) => {
        concat!($(include_str!(concat!("../../shaders/", $file))),+)
    };
}

/// [`wgsl!`] for a subgroup kernel: its cell's files, the subgroup
/// helpers, then its own file.
macro_rules! subgroup_wgsl {
    ($($file:literal),+; $kernel:literal) => {
        wgsl!(
            $($file,)+
            "subgroup/subgroup.wgsl",
            "subgroup/texels.wgsl",
            "subgroup/state_texels.wgsl",
            "subgroup/products.wgsl",
            $kernel
        )
    };
}

/// `Kernel` with one variant per row, `Kernel::ALL` and `Kernel::spec`.
macro_rules! registry {
    ($($kernel:ident => $row:expr,)+) => {
        /// Every compute entry point of the crate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kernel {
            $($kernel,)+
        }

        impl Kernel {
            /// Every variant, in declaration order (`kernel as usize` is its
            /// index).
            pub const ALL: &[Kernel] = &[$(Kernel::$kernel,)+];

            /// The kernel's row.
            pub const fn spec(self) -> KernelSpec {
                match self {
                    $(Kernel::$kernel => $row,)+
                }
            }
        }
    };
}

const fn row(
    label: &'static str,
    entry: &'static str,
    params: ParamsBinding,
    source: &'static str,
) -> KernelSpec {
    KernelSpec {
        label,
        entry,
        params,
        source,
    }
}

/// The GEMM module: `gemm_nt`, `gemm_dot` and `gemm_dot8`.
const GEMM: &str = wgsl!("gemm/common.wgsl", "gemm/gemm.wgsl");

/// The LSTM forward module: the per-step kernel and the persistent one.
const LSTM_STEP: &str = wgsl!(
    "common/common.wgsl",
    "common/activations.wgsl",
    "common/matvec.wgsl",
    "lstm/cell.wgsl",
    "lstm/common.wgsl",
    "lstm/sequence_buffer.wgsl",
    "lstm/step.wgsl"
);

/// The LSTM backward module: the step and, projected, the cell-state step.
const LSTM_BACKWARD: &str = wgsl!(
    "common/common.wgsl",
    "common/activations.wgsl",
    "common/backward.wgsl",
    "lstm/backward_common.wgsl",
    "lstm/backward.wgsl"
);

/// The GRU backward module: the step and the reset-before n step.
const GRU_BACKWARD: &str = wgsl!(
    "common/common.wgsl",
    "common/activations.wgsl",
    "common/backward.wgsl",
    "gru/backward_common.wgsl",
    "gru/backward.wgsl"
);

registry! {
    GemmNt => row(
        "gemm_nt",
        "gemm_nt",
        Uniform,
        GEMM,
    ),
    GemmDot => row(
        "gemm_dot",
        "gemm_dot",
        Uniform,
        GEMM,
    ),
    GemmDot8 => row(
        "gemm_dot8",
        "gemm_dot8",
        Uniform,
        GEMM,
    ),
    GemmTexels => row(
        "gemm_texels",
        "gemm_texels",
        Uniform,
        wgsl!(
            "gemm/common.wgsl",
            "subgroup/subgroup.wgsl",
            "gemm/texels.wgsl"
        ),
    ),
    LstmStep => row(
        "lstm_step",
        "matvec_step",
        PerStep,
        LSTM_STEP,
    ),
    LstmStepSubgroup => row(
        "lstm_step_subgroup",
        "step_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "lstm/cell.wgsl",
            "lstm/common.wgsl";
            "subgroup/step.wgsl"
        ),
    ),
    LstmSequence => row(
        "lstm_sequence",
        "lstm_sequence",
        PerStep,
        LSTM_STEP,
    ),
    LstmSequenceTexels => row(
        "lstm_sequence_texels",
        "lstm_sequence",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "lstm/cell.wgsl",
            "lstm/common.wgsl",
            "subgroup/texels.wgsl",
            "lstm/sequence_texels.wgsl",
            "lstm/step.wgsl"
        ),
    ),
    GruStep => row(
        "gru_step",
        "matvec_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "gru/common.wgsl",
            "gru/step.wgsl"
        ),
    ),
    GruStepSubgroup => row(
        "gru_step_subgroup",
        "step_subgroup",
        PerStep,
        subgroup_wgsl!("common/common.wgsl", "common/activations.wgsl", "gru/common.wgsl"; "subgroup/step.wgsl"),
    ),
    GruGates => row(
        "gru_gates",
        "matvec_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "gru/reset_before_common.wgsl",
            "gru/gates.wgsl"
        ),
    ),
    GruGatesSubgroup => row(
        "gru_gates_subgroup",
        "gru_gates_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "gru/reset_before_common.wgsl";
            "gru/gates_subgroup.wgsl"
        ),
    ),
    GruCandidate => row(
        "gru_candidate",
        "matvec_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "gru/reset_before_common.wgsl",
            "gru/candidate.wgsl"
        ),
    ),
    GruCandidateSubgroup => row(
        "gru_candidate_subgroup",
        "gru_candidate_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "gru/reset_before_common.wgsl";
            "gru/candidate_subgroup.wgsl"
        ),
    ),
    RnnStep => row(
        "rnn_step",
        "matvec_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "rnn/common.wgsl",
            "rnn/step.wgsl"
        ),
    ),
    RnnStepSubgroup => row(
        "rnn_step_subgroup",
        "rnn_step_subgroup",
        PerStep,
        subgroup_wgsl!("common/common.wgsl", "common/activations.wgsl", "rnn/common.wgsl"; "rnn/step_subgroup.wgsl"),
    ),
    ProjectionStep => row(
        "projection_step",
        "matvec_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "lstm/projection_step.wgsl"
        ),
    ),
    ProjectionSubgroup => row(
        "projection_subgroup",
        "projection_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/matvec.wgsl",
            "lstm/projection_step.wgsl";
            "lstm/projection_subgroup.wgsl"
        ),
    ),
    GatherSteps => row(
        "gather_steps",
        "gather_steps",
        Uniform,
        wgsl!("sequence/sequence.wgsl"),
    ),
    ScatterOutput => row(
        "scatter_output",
        "scatter_output",
        Uniform,
        wgsl!("sequence/sequence.wgsl"),
    ),
    ColumnSums => row(
        "column_sums",
        "column_sums",
        Uniform,
        wgsl!("reduce/columns.wgsl"),
    ),
    LstmBackwardStep => row(
        "lstm_backward_step",
        "lstm_backward_step",
        PerStep,
        LSTM_BACKWARD,
    ),
    LstmBackwardSequence => row(
        "lstm_backward_sequence",
        "lstm_backward_sequence",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "lstm/backward_common.wgsl",
            "lstm/backward_sequence_buffer.wgsl",
            "lstm/backward_sequence.wgsl"
        ),
    ),
    LstmBackwardSequenceTexels => row(
        "lstm_backward_sequence_texels",
        "lstm_backward_sequence",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "lstm/backward_common.wgsl",
            "subgroup/texels.wgsl",
            "lstm/backward_sequence_texels.wgsl",
            "lstm/backward_sequence.wgsl"
        ),
    ),
    LstmBackwardSubgroup => row(
        "lstm_backward_subgroup",
        "backward_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "lstm/backward_common.wgsl";
            "subgroup/backward.wgsl"
        ),
    ),
    LstmBackwardCell => row(
        "lstm_backward_cell",
        "lstm_backward_cell",
        PerStep,
        LSTM_BACKWARD,
    ),
    LstmBackwardCellSubgroup => row(
        "lstm_backward_cell_subgroup",
        "lstm_backward_cell_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "lstm/backward_common.wgsl";
            "lstm/backward_cell_subgroup.wgsl"
        ),
    ),
    GruBackwardStep => row(
        "gru_backward_step",
        "gru_backward_step",
        PerStep,
        GRU_BACKWARD,
    ),
    GruBackwardSubgroup => row(
        "gru_backward_subgroup",
        "backward_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "gru/backward_common.wgsl";
            "subgroup/backward.wgsl"
        ),
    ),
    GruBackwardReset => row(
        "gru_backward_reset",
        "gru_backward_reset",
        PerStep,
        GRU_BACKWARD,
    ),
    GruBackwardResetSubgroup => row(
        "gru_backward_reset_subgroup",
        "gru_backward_reset_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "gru/backward_common.wgsl";
            "gru/backward_reset_subgroup.wgsl"
        ),
    ),
    RnnBackwardStep => row(
        "rnn_backward_step",
        "rnn_backward_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "rnn/backward_common.wgsl",
            "rnn/backward.wgsl"
        ),
    ),
    RnnBackwardSubgroup => row(
        "rnn_backward_subgroup",
        "backward_subgroup",
        PerStep,
        subgroup_wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "common/backward.wgsl",
            "rnn/backward_common.wgsl";
            "subgroup/backward.wgsl"
        ),
    ),
    Dropout => row(
        "dropout",
        "dropout",
        Uniform,
        wgsl!("sequence/dropout.wgsl"),
    ),
    InterleaveGates => row(
        "interleave_gates",
        "interleave_gates",
        Uniform,
        wgsl!("repack/repack.wgsl"),
    ),
    AddRows => row("add_rows", "add_rows", Uniform, wgsl!("repack/repack.wgsl")),
    PartialSums => row(
        "partial_sums",
        "partial_sums",
        Uniform,
        wgsl!("reduce/sum.wgsl"),
    ),
    FinishSum => row(
        "finish_sum",
        "finish_sum",
        Uniform,
        wgsl!("reduce/sum.wgsl"),
    ),
    MseLoss => row(
        "mse_loss",
        "mse_loss",
        Uniform,
        wgsl!("train/mse_loss.wgsl"),
    ),
    CrossEntropy => row(
        "cross_entropy",
        "cross_entropy",
        Uniform,
        wgsl!("train/cross_entropy.wgsl"),
    ),
    OptimizerStep => row(
        "optimizer_step",
        "optimizer_step",
        Uniform,
        wgsl!("train/optimizer.wgsl"),
    ),
    PackTexels => row(
        "pack_texels",
        "pack_texels",
        Uniform,
        wgsl!("repack/pack_texels.wgsl"),
    ),
    PackStateTexels => row(
        "pack_state_texels",
        "pack_texels",
        PerStep,
        wgsl!("repack/pack_texels.wgsl"),
    ),
    StreamStep => row(
        "stream_step",
        "stream_step",
        Uniform,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "lstm/cell.wgsl",
            "stream/step.wgsl",
            "stream/weights_buffer.wgsl"
        ),
    ),
    StreamStepTexels => row(
        "stream_step_texels",
        "stream_step",
        Uniform,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "lstm/cell.wgsl",
            "stream/step.wgsl",
            "subgroup/texels.wgsl",
            "stream/weights_texels.wgsl"
        ),
    ),
    WavefrontStep => row(
        "wavefront_step",
        "wavefront_step",
        PerStep,
        wgsl!(
            "common/common.wgsl", "common/activations.wgsl",
            "lstm/cell.wgsl",
            "wavefront/step.wgsl"
        ),
    ),
}

impl Kernel {
    /// The pipeline and profile name.
    pub const fn label(self) -> &'static str {
        self.spec().label
    }

    /// Group 0's bindings as the WGSL declares them (see
    /// [`KernelSpec::bindings`]).
    pub fn bindings(self) -> &'static [(&'static str, BindingKind)] {
        &self.declared().bindings
    }

    /// How many texture matrices group 1 binds (0: no group 1).
    pub fn texel_matrices(self) -> u32 {
        self.declared().texel_matrices
    }

    /// What the kernel's WGSL declares, read once per process for every
    /// kernel: dispatches are built on every training step, and reading
    /// the WGSL again for each would put it on that path.
    fn declared(self) -> &'static Declared {
        static DECLARED: OnceLock<Vec<Declared>> = OnceLock::new();
        let all = DECLARED.get_or_init(|| {
            Kernel::ALL
                .iter()
                .map(|k| Declared {
                    bindings: k.spec().bindings(),
                    texel_matrices: k.spec().texel_matrices(),
                })
                .collect()
        });
        &all[self as usize]
    }
}

/// A kernel's declarations (see [`Kernel::bindings`]).
struct Declared {
    bindings: Vec<(&'static str, BindingKind)>,
    texel_matrices: u32,
}
