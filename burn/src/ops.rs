//! The two operations Burn records: a recurrent layer's forward and its
//! backward, as a Burn backend extension. On Burn's wgpu back end
//! (`CubeBackend`, under Fusion) they copy Burn's tensors into an engine's
//! buffers, record our passes and copy the results into new Burn tensors,
//! all in one encoder submitted on the shared queue after Burn's pending
//! work. Under Autodiff the forward is one node whose backward is ours.
//!
//! Why copies instead of binding Burn's buffers: CubeCL packs many tensors
//! into one `wgpu::Buffer` (a page), so a kernel of ours reading one
//! tensor and writing another of the same page would bind that buffer
//! read-only and read-write at once, which wgpu refuses; and views start
//! at any 4-byte offset, not at the binding alignment. A copy has neither
//! limit; BENCHMARKS.md measures what it costs.

use std::fmt;
use std::sync::{Arc, Mutex};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::wgpu::{CubeBackend, CubeTensor, WgpuDevice, WgpuResource};
use burn::backend::{backend_extension, tensor::FloatTensor, Autodiff, Backend};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::wgpu::{AutoCompiler, WgpuServer};
use burn_cubecl::cubecl::Device as CubeDevice;
use burn_cubecl::kernel::into_contiguous;
use wgpu_rnn::train::{GradMode, Seeds, TrainOptions, TrainTape};
use wgpu_rnn::{GpuTensor, StackConfig};

use crate::device::gpu_for_wgpu;
use crate::engine::{self, Engine};

/// One call of a layer: its configuration and sizes, which optional inputs
/// are real, and (training) the slot its forward leaves the tape in for
/// its backward.
#[derive(Clone, Debug)]
pub struct Call {
    pub(crate) config: StackConfig,
    pub(crate) seq: usize,
    pub(crate) batch: usize,
    pub(crate) has_h0: bool,
    pub(crate) has_c0: bool,
    pub(crate) tape: Option<TapeSlot>,
}

impl Call {
    fn hidden(&self) -> usize {
        self.config.layer.hidden_size
    }

    fn lstm(&self) -> bool {
        self.config.layer.cell.has_cell_state()
    }

    /// Values of the forward's one output: `y`, then `h_n`, then (LSTM)
    /// `c_n`, each in our layout (`y` as the input is laid out).
    pub(crate) fn packed_len(&self) -> usize {
        let state = self.batch * self.hidden();
        self.seq * state + state * (1 + usize::from(self.lstm()))
    }

    fn input_shape(&self) -> [usize; 3] {
        let i = self.config.layer.input_size;
        match self.config.batch_first {
            true => [self.batch, self.seq, i],
            false => [self.seq, self.batch, i],
        }
    }
}

/// Where a training forward leaves its engine and tape for the backward.
#[derive(Clone, Default)]
pub struct TapeSlot(Arc<Mutex<Option<(Arc<Engine>, TrainTape)>>>);

impl fmt::Debug for TapeSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filled = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("TapeSlot").field("filled", &filled).finish()
    }
}

fn forward_meta(
    x: &TensorSpec,
    _w_ih: &TensorSpec,
    _w_hh: &TensorSpec,
    _b_ih: &TensorSpec,
    _b_hh: &TensorSpec,
    _h0: &TensorSpec,
    _c0: &TensorSpec,
    call: &Call,
) -> TensorSpec {
    TensorSpec::new(Shape::new([call.packed_len()]), x.dtype)
}

type Specs7 = (
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
);

fn grads_meta(grad: &TensorSpec, call: &Call) -> Specs7 {
    let spec = |dims: &[usize]| TensorSpec::new(Shape::from(dims.to_vec()), grad.dtype);
    let cfg = &call.config.layer;
    let (rows, h) = (cfg.gate_rows(), cfg.hidden_size);
    (
        spec(&call.input_shape()),
        spec(&[call.batch, h]),
        spec(&[call.batch, h]),
        spec(&[rows, cfg.input_size]),
        spec(&[rows, h]),
        spec(&[rows]),
        spec(&[rows]),
    )
}

/// A recurrent layer's forward: `x` in our layout (`[T, B, I]`, or
/// `[B, T, I]` batch-first), PyTorch's `weight_ih [G*H, I]`,
/// `weight_hh [G*H, H]`, `bias_ih`, `bias_hh [G*H]` (any shape when the
/// config has no bias), `h0`, `c0 [B, H]` (any shape when absent).
/// Returns [`Call::packed_len`] values.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait RecurrentOps: Backend {
    #[allow(clippy::too_many_arguments)]
    #[fusion(meta = forward_meta)]
    fn recurrent_forward(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_ih: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self>;
}

/// The backward of a training [`RecurrentOps::recurrent_forward`] from the
/// gradient of its packed output: the gradients of `x`, `h0`, `c0`,
/// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (zeros where the input
/// was absent). Called by the autodiff node only, on the inner backend.
#[backend_extension(Cube, Fusion)]
pub trait RecurrentGrads: Backend {
    #[allow(clippy::type_complexity)]
    #[fusion(meta = grads_meta)]
    fn recurrent_grads(
        grad: FloatTensor<Self>,
        call: Call,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// An operation cannot return an error to Burn: everything a user can get
/// wrong is checked before the call (see `modules.rs`), so what fails here
/// is the device itself.
fn fail(during: &str, e: impl fmt::Display) -> ! {
    panic!("wgpu-rnn-burn: {during}: {e}")
}

impl RecurrentOps for CubeBackend {
    fn recurrent_forward(
        x: CubeTensor,
        w_ih: CubeTensor,
        w_hh: CubeTensor,
        b_ih: CubeTensor,
        b_hh: CubeTensor,
        h0: CubeTensor,
        c0: CubeTensor,
        call: Call,
    ) -> CubeTensor {
        run_forward([x, w_ih, w_hh, b_ih, b_hh, h0, c0], &call)
            .unwrap_or_else(|e| fail("recurrent forward", e))
    }
}

impl RecurrentGrads for CubeBackend {
    fn recurrent_grads(
        grad: CubeTensor,
        call: Call,
    ) -> (
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
        CubeTensor,
    ) {
        let [a, b, c, d, e, f, g] =
            run_grads(grad, &call).unwrap_or_else(|e| fail("recurrent backward", e));
        (a, b, c, d, e, f, g)
    }
}

/// The wgpu device of a tensor on Burn's wgpu back end.
fn wgpu_device(t: &CubeTensor) -> Result<WgpuDevice, String> {
    match &t.device {
        CubeDevice::Wgpu(d) => Ok(d.clone()),
        other => Err(format!("the tensor is on {other:?}, not on a wgpu device")),
    }
}

/// The buffer range behind a contiguous tensor, and a guard that keeps
/// it in place while held (until after our submit).
fn resource(t: &CubeTensor) -> Result<(WgpuResource, impl Sized), String> {
    let managed = t
        .client
        .get_resource::<WgpuServer<AutoCompiler>>(t.handle.clone())
        .map_err(|e| format!("reading a tensor's buffer: {e:?}"))?;
    Ok((managed.resource().clone(), managed))
}

/// A new contiguous f32 tensor beside `like`.
fn empty(like: &CubeTensor, shape: &[usize]) -> CubeTensor {
    let shape = Shape::from(shape.to_vec());
    let handle = like.client.empty(shape.num_elements() * DType::F32.size());
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        DType::F32,
    )
}

/// Records a copy of `bytes` from Burn's range to ours (or back).
fn copy(
    enc: &mut wgpu::CommandEncoder,
    (from, from_at): (&wgpu::Buffer, u64),
    (to, to_at): (&wgpu::Buffer, u64),
    bytes: u64,
) {
    enc.copy_buffer_to_buffer(from, from_at, to, to_at, bytes);
}

fn burn_to_ours(
    enc: &mut wgpu::CommandEncoder,
    (r, _): &(WgpuResource, impl Sized),
    to: &GpuTensor,
) -> Result<(), String> {
    if r.size < to.byte_len() {
        return Err(format!(
            "a {}-byte tensor where {} bytes were expected",
            r.size,
            to.byte_len()
        ));
    }
    copy(enc, (&r.buffer, r.offset), (to.buffer(), to.offset()), to.byte_len());
    Ok(())
}

fn ours_to_burn(
    enc: &mut wgpu::CommandEncoder,
    from: &GpuTensor,
    (r, _): &(WgpuResource, impl Sized),
    at: u64,
) {
    copy(enc, (from.buffer(), from.offset()), (&r.buffer, r.offset + at), from.byte_len());
}

fn run_forward(inputs: [CubeTensor; 7], call: &Call) -> Result<CubeTensor, String> {
    let [x, w_ih, w_hh, b_ih, b_hh, h0, c0] = inputs.map(into_contiguous);
    let device = wgpu_device(&x)?;
    let gpu = gpu_for_wgpu(&device).ok_or("the device was not registered by wgpu_rnn_burn")?;
    let engine = engine::lend(&device, &gpu, call.config).map_err(|e| e.to_string())?;
    let guard = engine.sized(call.seq, call.batch).map_err(|e| e.to_string())?;
    let sized = guard.as_ref().expect("sized() fills it");
    let out = empty(&x, &[call.packed_len()]);
    let [rx, rw_ih, rw_hh, rb_ih, rb_hh, rh0, rc0, rout] =
        [&x, &w_ih, &w_hh, &b_ih, &b_hh, &h0, &c0, &out].map(resource);
    let (rx, rout) = (rx?, rout?);
    // Burn's queued work (what made our inputs) goes first.
    x.client.flush().map_err(|e| format!("flushing Burn's work: {e:?}"))?;

    let mut enc = gpu.device().create_command_encoder(&Default::default());
    let params = engine.stack.parameters(0, 0).expect("one layer");
    burn_to_ours(&mut enc, &rx, &sized.input)?;
    burn_to_ours(&mut enc, &rw_ih?, &params.weight_ih)?;
    burn_to_ours(&mut enc, &rw_hh?, &params.weight_hh)?;
    if let (Some(b_ih), Some(b_hh)) = (&params.bias_ih, &params.bias_hh) {
        burn_to_ours(&mut enc, &rb_ih?, b_ih)?;
        burn_to_ours(&mut enc, &rb_hh?, b_hh)?;
    }
    engine.stack.record_repack(&mut enc).map_err(|e| e.to_string())?;
    let h0 = match call.has_h0 {
        true => {
            burn_to_ours(&mut enc, &rh0?, &sized.h0)?;
            Some(&sized.h0)
        }
        false => None,
    };
    let c0 = match (call.has_c0, &sized.c0) {
        (true, Some(c0)) => {
            burn_to_ours(&mut enc, &rc0?, c0)?;
            Some(c0)
        }
        _ => None,
    };
    let states = (h0, c0);
    let write_out = |enc: &mut wgpu::CommandEncoder, o: &wgpu_rnn::RnnOutput| {
        ours_to_burn(enc, &o.output, &rout, 0);
        ours_to_burn(enc, &o.h_n, &rout, o.output.byte_len());
        if let Some(c_n) = &o.c_n {
            ours_to_burn(enc, c_n, &rout, o.output.byte_len() + o.h_n.byte_len());
        }
    };
    let tape = match &call.tape {
        Some(_) => {
            let (o, tape) = engine
                .stack
                .record_forward_train(&mut enc, &sized.input, states, None, TrainOptions::default())
                .map_err(|e| e.to_string())?;
            write_out(&mut enc, &o);
            Some(tape)
        }
        None => {
            engine
                .stack
                .record_forward(&mut enc, &sized.input, states.0, states.1, None, &sized.out)
                .map_err(|e| e.to_string())?;
            write_out(&mut enc, &sized.out);
            None
        }
    };
    gpu.queue().submit([enc.finish()]);
    drop(guard);
    if let (Some(slot), Some(tape)) = (&call.tape, tape) {
        *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((engine, tape));
    }
    Ok(out)
}

fn run_grads(grad: CubeTensor, call: &Call) -> Result<[CubeTensor; 7], String> {
    let grad = into_contiguous(grad);
    let (engine, tape) = call
        .tape
        .as_ref()
        .and_then(|slot| slot.0.lock().unwrap_or_else(|e| e.into_inner()).take())
        .ok_or("the backward ran without its forward's tape (was the forward run twice?)")?;
    let device = wgpu_device(&grad)?;
    let gpu = gpu_for_wgpu(&device).ok_or("the device was not registered by wgpu_rnn_burn")?;
    let guard = engine.sized(call.seq, call.batch).map_err(|e| e.to_string())?;
    let sized = guard.as_ref().expect("sized() fills it");
    let cfg = &call.config.layer;
    let (rows, h) = (cfg.gate_rows(), cfg.hidden_size);
    let outs = [
        empty(&grad, &call.input_shape()),
        empty(&grad, &[call.batch, h]),
        empty(&grad, &[call.batch, h]),
        empty(&grad, &[rows, cfg.input_size]),
        empty(&grad, &[rows, h]),
        empty(&grad, &[rows]),
        empty(&grad, &[rows]),
    ];
    let rgrad = resource(&grad)?;
    let routs = outs.each_ref().map(resource);
    grad.client.flush().map_err(|e| format!("flushing Burn's work: {e:?}"))?;

    let mut enc = gpu.device().create_command_encoder(&Default::default());
    // The packed gradient, split into the seeds.
    let g = &rgrad.0;
    let mut at = g.offset;
    for seed in [Some(&sized.seed_output), Some(&sized.seed_h), sized.seed_c.as_ref()]
        .into_iter()
        .flatten()
    {
        copy(&mut enc, (&g.buffer, at), (seed.buffer(), seed.offset()), seed.byte_len());
        at += seed.byte_len();
    }
    let seeds = Seeds {
        output: Some(&sized.seed_output),
        h_n: Some(&sized.seed_h),
        c_n: sized.seed_c.as_ref(),
    };
    engine
        .stack
        .record_backward_into(
            &mut enc,
            &tape,
            seeds,
            &engine.grads,
            GradMode::Overwrite,
            &sized.input_grads,
        )
        .map_err(|e| e.to_string())?;
    let layer = &engine.grads.layers()[0];
    let d = &sized.input_grads;
    let ours = [
        Some(&d.input),
        Some(&d.h0),
        d.c0.as_ref(),
        Some(&layer.weight_ih),
        Some(&layer.weight_hh),
        layer.bias_ih.as_ref(),
        layer.bias_hh.as_ref(),
    ];
    for (from, to) in ours.into_iter().zip(routs) {
        let to = to?;
        match from {
            Some(from) => ours_to_burn(&mut enc, from, &to, 0),
            None => {
                let r = &to.0;
                enc.clear_buffer(&r.buffer, r.offset, Some(r.size.next_multiple_of(4)));
            }
        }
    }
    gpu.queue().submit([enc.finish()]);
    Ok(outs)
}

/// Our backward as the node of Burn's autodiff graph.
#[derive(Debug)]
struct RecurrentBackward;

impl<B: Backend + RecurrentGrads> Backward<B, 7> for RecurrentBackward {
    type State = Call;

    fn backward(self, ops: Ops<Call, 7>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (a, b, c, d, e, f, g) = B::recurrent_grads(grad, ops.state);
        for (parent, value) in ops.parents.into_iter().zip([a, b, c, d, e, f, g]) {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, value);
            }
        }
    }
}

impl<B: RecurrentOps + RecurrentGrads, C: CheckpointStrategy> RecurrentOps for Autodiff<B, C> {
    fn recurrent_forward(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_ih: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self> {
        let (x, gx) = x.into_parts();
        let (w_ih, g_wih) = w_ih.into_parts();
        let (w_hh, g_whh) = w_hh.into_parts();
        let (b_ih, g_bih) = b_ih.into_parts();
        let (b_hh, g_bhh) = b_hh.into_parts();
        let (h0, gh0) = h0.into_parts();
        let (c0, gc0) = c0.into_parts();
        let guards = [gx, gh0, gc0, g_wih, g_whh, g_bih, g_bhh];
        match RecurrentBackward
            .prepare::<C>(guards)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let call = Call {
                    tape: Some(TapeSlot::default()),
                    ..call
                };
                let out = B::recurrent_forward(x, w_ih, w_hh, b_ih, b_hh, h0, c0, call.clone());
                prep.finish(call, out)
            }
            OpsKind::UnTracked(prep) => {
                let call = Call { tape: None, ..call };
                prep.finish(B::recurrent_forward(x, w_ih, w_hh, b_ih, b_hh, h0, c0, call))
            }
        }
    }
}
