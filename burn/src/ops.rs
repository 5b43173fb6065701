//! The two operations Burn records: a recurrent layer's forward and its
//! backward, as a Burn backend extension. On Burn's wgpu back end
//! (`CubeBackend`, under Fusion) they copy Burn's tensors (the input, the
//! states, each gate's weights and biases as the module holds them) into
//! an engine's buffers, record our passes and copy the results into new
//! Burn tensors, all in one encoder submitted on the shared queue after
//! Burn's pending work. Under Autodiff the forward is one node whose
//! backward is ours.
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

/// Gate slots of an operation: the most any cell has (the LSTM's four).
pub(crate) const GATES: usize = 4;

/// Which gate inputs of a call are real (the others are a one-value
/// placeholder): a gate's weights (absent: the LSTM's forget gate under
/// `input_forget`), its input and hidden biases.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Present {
    pub weights: [bool; GATES],
    pub bias_ih: [bool; GATES],
    pub bias_hh: [bool; GATES],
}

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
    pub(crate) present: Present,
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
        self.config.sequence_shape(self.seq, self.batch, i)
    }

    /// The shapes of the gradients: like the inputs, `[1]` for a
    /// placeholder.
    fn grad_shapes(&self) -> [Vec<usize>; 19] {
        let cfg = &self.config.layer;
        let (i, h) = (cfg.input_size, cfg.hidden_size);
        let gate = |k: usize, real: bool, shape: Vec<usize>| match k < cfg.cell.gates() && real {
            true => shape,
            false => vec![1],
        };
        let p = &self.present;
        let mut shapes = vec![
            self.input_shape().to_vec(),
            vec![self.batch, h],
            vec![self.batch, h],
        ];
        shapes.extend((0..GATES).map(|k| gate(k, p.weights[k], vec![i, h])));
        shapes.extend((0..GATES).map(|k| gate(k, p.weights[k], vec![h, h])));
        shapes.extend((0..GATES).map(|k| gate(k, p.bias_ih[k] && cfg.bias, vec![h])));
        shapes.extend((0..GATES).map(|k| gate(k, p.bias_hh[k] && cfg.bias, vec![h])));
        shapes.try_into().expect("19 shapes")
    }
}

/// A training forward's engine (held until the backward) and tape.
type Taped = (Arc<Engine>, TrainTape);

/// Where a training forward leaves its engine and tape for the backward.
#[derive(Clone, Default)]
pub struct TapeSlot(Arc<Mutex<Option<Taped>>>);

impl fmt::Debug for TapeSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filled = self.0.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("TapeSlot").field("filled", &filled).finish()
    }
}

#[allow(clippy::too_many_arguments)]
fn forward_meta(
    x: &TensorSpec,
    _h0: &TensorSpec,
    _c0: &TensorSpec,
    _wi0: &TensorSpec,
    _wi1: &TensorSpec,
    _wi2: &TensorSpec,
    _wi3: &TensorSpec,
    _wh0: &TensorSpec,
    _wh1: &TensorSpec,
    _wh2: &TensorSpec,
    _wh3: &TensorSpec,
    _bi0: &TensorSpec,
    _bi1: &TensorSpec,
    _bi2: &TensorSpec,
    _bi3: &TensorSpec,
    _bh0: &TensorSpec,
    _bh1: &TensorSpec,
    _bh2: &TensorSpec,
    _bh3: &TensorSpec,
    call: &Call,
) -> TensorSpec {
    TensorSpec::new(Shape::new([call.packed_len()]), x.dtype)
}

/// Four of anything: one per gate slot.
pub type Four<T> = (T, T, T, T);

/// The gradients of a call's inputs, in the forward's argument order.
type Grads<T> = (T, T, T, Four<T>, Four<T>, Four<T>, Four<T>);

fn four<T>([a, b, c, d]: [T; 4]) -> Four<T> {
    (a, b, c, d)
}

/// The 19 gradients as the operation returns them.
fn group<T>(values: [T; 19]) -> Grads<T> {
    let mut it = values.into_iter();
    let mut take = || it.next().expect("19 values");
    let (x, h0, c0) = (take(), take(), take());
    let mut gates = || four([(); GATES].map(|_| take()));
    (x, h0, c0, gates(), gates(), gates(), gates())
}

/// The 19 gradients in argument order.
fn ungroup<T>((x, h0, c0, wi, wh, bi, bh): Grads<T>) -> [T; 19] {
    let [a, b, c, d] = [wi, wh, bi, bh].map(|(p, q, r, s)| [p, q, r, s]);
    let mut out = vec![x, h0, c0];
    out.extend(a.into_iter().chain(b).chain(c).chain(d));
    match out.try_into() {
        Ok(all) => all,
        Err(_) => unreachable!("3 + 16 values"),
    }
}

fn grads_meta(grad: &TensorSpec, call: &Call) -> Grads<TensorSpec> {
    group(
        call.grad_shapes()
            .map(|dims| TensorSpec::new(Shape::from(dims), grad.dtype)),
    )
}

/// A recurrent layer's forward: `x` in our layout (`[T, B, I]`, or
/// `[B, T, I]` batch-first), `h0`, `c0 [B, H]`, then per gate slot (our
/// gate order) Burn's `W_ih [I, H]`, then `W_hh [H, H]`, then `b_ih [H]`,
/// then `b_hh [H]`; inputs [`Call::present`] marks absent are a one-value
/// placeholder. Returns [`Call::packed_len`] values.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait RecurrentOps: Backend {
    #[allow(clippy::too_many_arguments)]
    #[fusion(meta = forward_meta)]
    fn recurrent_forward(
        x: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        wi0: FloatTensor<Self>,
        wi1: FloatTensor<Self>,
        wi2: FloatTensor<Self>,
        wi3: FloatTensor<Self>,
        wh0: FloatTensor<Self>,
        wh1: FloatTensor<Self>,
        wh2: FloatTensor<Self>,
        wh3: FloatTensor<Self>,
        bi0: FloatTensor<Self>,
        bi1: FloatTensor<Self>,
        bi2: FloatTensor<Self>,
        bi3: FloatTensor<Self>,
        bh0: FloatTensor<Self>,
        bh1: FloatTensor<Self>,
        bh2: FloatTensor<Self>,
        bh3: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self>;
}

/// The backward of a training [`RecurrentOps::recurrent_forward`] from the
/// gradient of its packed output: the gradients of its 19 inputs, in
/// their order and shapes (zeros for placeholders). Called by the
/// autodiff node only, on the inner backend.
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
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
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
        h0: CubeTensor,
        c0: CubeTensor,
        wi0: CubeTensor,
        wi1: CubeTensor,
        wi2: CubeTensor,
        wi3: CubeTensor,
        wh0: CubeTensor,
        wh1: CubeTensor,
        wh2: CubeTensor,
        wh3: CubeTensor,
        bi0: CubeTensor,
        bi1: CubeTensor,
        bi2: CubeTensor,
        bi3: CubeTensor,
        bh0: CubeTensor,
        bh1: CubeTensor,
        bh2: CubeTensor,
        bh3: CubeTensor,
        call: Call,
    ) -> CubeTensor {
        let inputs = [
            x, h0, c0, wi0, wi1, wi2, wi3, wh0, wh1, wh2, wh3, bi0, bi1, bi2, bi3, bh0, bh1, bh2,
            bh3,
        ];
        run_forward(inputs, &call).unwrap_or_else(|e| fail("recurrent forward", e))
    }
}

impl RecurrentGrads for CubeBackend {
    fn recurrent_grads(grad: CubeTensor, call: Call) -> Grads<CubeTensor> {
        group(run_grads(grad, &call).unwrap_or_else(|e| fail("recurrent backward", e)))
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

/// Copies all of tensor `to` from Burn's range.
fn burn_to_ours(
    enc: &mut wgpu::CommandEncoder,
    from: &(WgpuResource, impl Sized),
    to: &GpuTensor,
) -> Result<(), String> {
    burn_to_ours_at(enc, from, to, 0, to.byte_len())
}

fn ours_to_burn(
    enc: &mut wgpu::CommandEncoder,
    from: &GpuTensor,
    (r, _): &(WgpuResource, impl Sized),
    at: u64,
) {
    copy(
        enc,
        (from.buffer(), from.offset()),
        (&r.buffer, r.offset + at),
        from.byte_len(),
    );
}

/// Copies `bytes` from Burn's range to ours at `at` bytes in.
fn burn_to_ours_at(
    enc: &mut wgpu::CommandEncoder,
    (r, _): &(WgpuResource, impl Sized),
    to: &GpuTensor,
    at: u64,
    bytes: u64,
) -> Result<(), String> {
    if r.size < bytes {
        return Err(format!(
            "a {}-byte tensor where {bytes} bytes were expected",
            r.size
        ));
    }
    copy(
        enc,
        (&r.buffer, r.offset),
        (to.buffer(), to.offset() + at),
        bytes,
    );
    Ok(())
}

/// Copies a gate input's `bytes` from Burn's range into `to` at `at`, or
/// zeros them when the input is absent (`real` false).
fn gate_block_to_ours(
    enc: &mut wgpu::CommandEncoder,
    (real, from): (bool, &Result<(WgpuResource, impl Sized), String>),
    to: &GpuTensor,
    at: u64,
    bytes: u64,
) -> Result<(), String> {
    match (real, from) {
        (true, Ok(from)) => burn_to_ours_at(enc, from, to, at, bytes),
        (true, Err(e)) => Err(e.clone()),
        (false, _) => {
            enc.clear_buffer(to.buffer(), to.offset() + at, Some(bytes));
            Ok(())
        }
    }
}

fn run_forward(inputs: [CubeTensor; 19], call: &Call) -> Result<CubeTensor, String> {
    let inputs = inputs.map(into_contiguous);
    let x = &inputs[0];
    let device = wgpu_device(x)?;
    let gpu = gpu_for_wgpu(&device).ok_or("the device was not registered by wgpu_rnn_burn")?;
    let engine = engine::lend(&device, &gpu, call.config).map_err(|e| e.to_string())?;
    let guard = engine
        .sized(call.seq, call.batch)
        .map_err(|e| e.to_string())?;
    let sized = guard.as_ref().expect("sized() fills it");
    let out = empty(x, &[call.packed_len()]);
    let res = inputs.each_ref().map(resource);
    let rout = resource(&out)?;
    let [rx, rh0, rc0, rest @ ..] = res;
    let mut rest = rest.into_iter();
    let mut slots = || [(); GATES].map(|_| rest.next().expect("16 gate inputs"));
    let (r_wi, r_wh, r_bi, r_bh) = (slots(), slots(), slots(), slots());
    // Burn's queued work (what made our inputs) goes first.
    x.client
        .flush()
        .map_err(|e| format!("flushing Burn's work: {e:?}"))?;

    let layer = &call.config.layer;
    let (g, i, h) = (
        layer.cell.gates(),
        layer.input_size as u64,
        layer.hidden_size as u64,
    );
    let mut enc = gpu.device().create_command_encoder(&Default::default());
    let params = engine.stack.parameters(0, 0).expect("one layer");
    let layout = &engine.layout;
    burn_to_ours(&mut enc, &rx?, &sized.input)?;
    // Each gate's block; an absent gate's block reads as zeros.
    for k in 0..g {
        let blocks = [
            (&r_wi[k], &layout.staging_ih, i * h),
            (&r_wh[k], &layout.staging_hh, h * h),
        ];
        for (from, to, n) in blocks {
            let real = call.present.weights[k];
            gate_block_to_ours(&mut enc, (real, from), to, k as u64 * n * 4, n * 4)?;
        }
        let biases = [
            (&r_bi[k], &params.bias_ih, call.present.bias_ih[k]),
            (&r_bh[k], &params.bias_hh, call.present.bias_hh[k]),
        ];
        for (from, to, real) in biases {
            if let Some(to) = to {
                gate_block_to_ours(&mut enc, (real, from), to, k as u64 * h * 4, h * 4)?;
            }
        }
    }
    layout.record_to_ours(&mut enc);
    engine
        .stack
        .record_repack(&mut enc)
        .map_err(|e| e.to_string())?;
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
                .record_forward_train(
                    &mut enc,
                    &sized.input,
                    states,
                    None,
                    TrainOptions::default(),
                )
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

fn run_grads(grad: CubeTensor, call: &Call) -> Result<[CubeTensor; 19], String> {
    let grad = into_contiguous(grad);
    let (engine, tape) = call
        .tape
        .as_ref()
        .and_then(|slot| slot.0.lock().unwrap_or_else(|e| e.into_inner()).take())
        .ok_or("the backward ran without its forward's tape (was the forward run twice?)")?;
    let device = wgpu_device(&grad)?;
    let gpu = gpu_for_wgpu(&device).ok_or("the device was not registered by wgpu_rnn_burn")?;
    let guard = engine
        .sized(call.seq, call.batch)
        .map_err(|e| e.to_string())?;
    let sized = guard.as_ref().expect("sized() fills it");
    let outs = call.grad_shapes().map(|shape| empty(&grad, &shape));
    let rgrad = resource(&grad)?;
    let routs = outs.each_ref().map(resource);
    grad.client
        .flush()
        .map_err(|e| format!("flushing Burn's work: {e:?}"))?;

    let mut enc = gpu.device().create_command_encoder(&Default::default());
    // The packed gradient, split into the seeds.
    let g = &rgrad.0;
    let mut at = g.offset;
    for seed in [
        Some(&sized.seed_output),
        Some(&sized.seed_h),
        sized.seed_c.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        copy(
            &mut enc,
            (&g.buffer, at),
            (seed.buffer(), seed.offset()),
            seed.byte_len(),
        );
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
    engine.layout.record_to_burn(&mut enc);
    let layer = &engine.grads.layers()[0];
    let d = &sized.input_grads;
    let cfg = &call.config.layer;
    let (gates, i, h) = (
        cfg.cell.gates(),
        cfg.input_size as u64,
        cfg.hidden_size as u64,
    );
    // Where each gradient is in our buffers: (tensor, byte offset, bytes).
    let block = |t: &GpuTensor, k: usize, n: u64| (t.clone(), k as u64 * n * 4, n * 4);
    let whole = |t: &GpuTensor| (t.clone(), 0, t.byte_len());
    let mut sources: Vec<Option<(GpuTensor, u64, u64)>> = vec![
        Some(whole(&d.input)),
        Some(whole(&d.h0)),
        d.c0.as_ref().map(whole),
    ];
    let layout = &engine.layout;
    let p = &call.present;
    let real = |k: usize, present: bool| k < gates && present;
    sources.extend(
        (0..GATES).map(|k| real(k, p.weights[k]).then(|| block(&layout.staging_ih, k, i * h))),
    );
    sources.extend(
        (0..GATES).map(|k| real(k, p.weights[k]).then(|| block(&layout.staging_hh, k, h * h))),
    );
    sources.extend((0..GATES).map(|k| {
        layer
            .bias_ih
            .as_ref()
            .filter(|_| real(k, p.bias_ih[k]))
            .map(|b| block(b, k, h))
    }));
    sources.extend((0..GATES).map(|k| {
        layer
            .bias_hh
            .as_ref()
            .filter(|_| real(k, p.bias_hh[k]))
            .map(|b| block(b, k, h))
    }));
    for (from, to) in sources.into_iter().zip(routs) {
        let (r, _) = to?;
        match from {
            Some((t, at, bytes)) => copy(
                &mut enc,
                (t.buffer(), t.offset() + at),
                (&r.buffer, r.offset),
                bytes,
            ),
            None => enc.clear_buffer(&r.buffer, r.offset, Some(r.size.next_multiple_of(4))),
        }
    }
    gpu.queue().submit([enc.finish()]);
    Ok(outs)
}

/// Our backward as the node of Burn's autodiff graph.
#[derive(Debug)]
struct RecurrentBackward;

impl<B: Backend + RecurrentGrads> Backward<B, 19> for RecurrentBackward {
    type State = Call;

    fn backward(self, ops: Ops<Call, 19>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let values = ungroup(B::recurrent_grads(grad, ops.state));
        for (parent, value) in ops.parents.into_iter().zip(values) {
            if let Some(parent) = parent {
                grads.register::<B>(parent.id, value);
            }
        }
    }
}

impl<B: RecurrentOps + RecurrentGrads, C: CheckpointStrategy> RecurrentOps for Autodiff<B, C> {
    fn recurrent_forward(
        x: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        wi0: FloatTensor<Self>,
        wi1: FloatTensor<Self>,
        wi2: FloatTensor<Self>,
        wi3: FloatTensor<Self>,
        wh0: FloatTensor<Self>,
        wh1: FloatTensor<Self>,
        wh2: FloatTensor<Self>,
        wh3: FloatTensor<Self>,
        bi0: FloatTensor<Self>,
        bi1: FloatTensor<Self>,
        bi2: FloatTensor<Self>,
        bi3: FloatTensor<Self>,
        bh0: FloatTensor<Self>,
        bh1: FloatTensor<Self>,
        bh2: FloatTensor<Self>,
        bh3: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self> {
        let all = [
            x, h0, c0, wi0, wi1, wi2, wi3, wh0, wh1, wh2, wh3, bi0, bi1, bi2, bi3, bh0, bh1, bh2,
            bh3,
        ];
        let mut prims = Vec::with_capacity(19);
        let guards = all.map(|t| {
            let (prim, guard) = t.into_parts();
            prims.push(prim);
            guard
        });
        let run = |prims: Vec<_>, call: Call| {
            let [x, h0, c0, wi0, wi1, wi2, wi3, wh0, wh1, wh2, wh3, bi0, bi1, bi2, bi3, bh0, bh1, bh2, bh3] =
                <[_; 19]>::try_from(prims).unwrap_or_else(|_| unreachable!("19 inputs"));
            B::recurrent_forward(
                x, h0, c0, wi0, wi1, wi2, wi3, wh0, wh1, wh2, wh3, bi0, bi1, bi2, bi3, bh0, bh1,
                bh2, bh3, call,
            )
        };
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
                let out = run(prims, call.clone());
                prep.finish(call, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(run(prims, Call { tape: None, ..call })),
        }
    }
}
