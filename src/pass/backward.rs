//! Training: the backward pass (BPTT) of a whole stack on the GPU.
//!
//! A training forward ([`super::Forward`] with options) runs the forward pass keeping, per layer and
//! direction, what the reverse pass reads (see [`TrainTape::saved_bytes`]);
//! The backward then computes the vector-Jacobian product of
//! `loss = Σ output·grad_output + Σ h_n·grad_h_n + Σ c_n·grad_c_n` with
//! respect to the input, `h0`, `c0` and every parameter, in one submit:
//! per layer (top first) and direction, a gather of the output gradient into
//! step order, one or two fused dispatches per step (`<cell>/backward.wgsl`),
//! then the weight gradients as GEMMs over all steps, the bias and peephole
//! gradients as column reductions, and the input gradient as a GEMM
//! scattered back to time order.

use std::ops::Deref;
use std::sync::Arc;

use super::tape::{GradMode, InputGrads, LayerGrads, Seeds, TapedLayer, TrainTape};
use crate::cells::{cell_family, BackwardSteps, CellBackward, DeviceStack, Layer};
use crate::config::{CellKind, GruReset};
use crate::error::{Error, Result};
use crate::gpu::recorder::{Recorder, Submit};
use crate::gpu::tensor::{storage_buffer, GpuTensor};
use crate::kernels::backward::back_params;
use crate::kernels::dispatch::Dispatch;
use crate::kernels::gemm::{gemm, GemmLayout, GemmParams};
use crate::kernels::reduce::{column_sums, Columns};
use crate::kernels::sequence::{sequence_copy, SeqParams};
use crate::kernels::step::PerStepDispatch;
use crate::kernels::Kernel;

/// The backward pass over the layers of `stack`: every layer and direction
/// recorded into one encoder, submitted once.
pub(crate) struct Backward<'a> {
    pub stack: &'a DeviceStack,
}

impl Deref for Backward<'_> {
    type Target = DeviceStack;
    fn deref(&self) -> &DeviceStack {
        self.stack
    }
}

impl Backward<'_> {
    /// The backward of the training forward that made `tape`, submitted as
    /// `how` says: writes (or adds) the parameter gradients into `grads`
    /// and returns the input gradients.
    pub(crate) fn run<S: Submit>(
        &self,
        tape: &TrainTape,
        seeds: Seeds<'_>,
        grads: &[LayerGrads],
        mode: GradMode,
        into: Option<&InputGrads>,
        how: S,
    ) -> Result<(InputGrads, S::Out)> {
        let cfg = self.config;
        let gpu = &self.gpu;
        if !Arc::ptr_eq(&tape.stack, &self.id) {
            return Err(Error::config(
                "tape",
                "it was recorded by a different stack (a stack of the same configuration is not \
                 enough: the tape's activations belong to that stack's weights)",
            ));
        }
        let now = self.parameter_versions();
        for (slot, (then, now)) in tape.versions.iter().zip(&now).enumerate() {
            for (&(name, was), &(_, is)) in then.iter().zip(now) {
                if was != is {
                    return Err(Error::config(
                        "tape",
                        format!(
                            "{name} of layer-direction {slot} changed after the forward that \
                             made this tape (written {} time(s) since): run the training \
                             forward again",
                            is - was
                        ),
                    ));
                }
            }
        }
        let (seq, batch) = (tape.seq, tape.batch);
        let layer0 = cfg.layer;
        let (h, ho, dirs) = (layer0.hidden_size, layer0.output_size(), cfg.directions());
        let slots = cfg.state_slots();
        let check = |what: &str, t: &GpuTensor, shape: &[usize]| self.check_tensor(what, t, shape);
        let out_shape = cfg.sequence_shape(seq, batch, cfg.output_size());
        if let Some(t) = seeds.output {
            check("grad_output", t, &out_shape)?;
        }
        if let Some(t) = seeds.h_n {
            check("grad_h_n", t, &[slots, batch, ho])?;
        }
        if let Some(t) = seeds.c_n {
            self.check_cell_state("grad_c_n", t, &[slots, batch, h])?;
        }
        if grads.len() != slots {
            return Err(Error::shape("gradients (L*D)", &[slots], &[grads.len()]));
        }
        for (slot, g) in grads.iter().enumerate() {
            let c = cfg.layer_config(slot / dirs);
            let rows = c.gate_rows();
            check("grad weight_ih", &g.weight_ih, &[rows, c.input_size])?;
            check("grad weight_hh", &g.weight_hh, &[rows, ho])?;
            let want =
                |what: &str, t: &Option<GpuTensor>, shape: Option<Vec<usize>>| match (t, shape) {
                    (Some(t), Some(shape)) => check(what, t, &shape),
                    (None, None) => Ok(()),
                    _ => Err(Error::config(
                        what,
                        "present for a layer without that parameter, or missing",
                    )),
                };
            want("grad bias_ih", &g.bias_ih, c.bias.then(|| vec![rows]))?;
            want("grad bias_hh", &g.bias_hh, c.bias.then(|| vec![rows]))?;
            let peep = (c.cell == CellKind::PeepholeLstm).then(|| vec![3, h]);
            want("grad peephole", &g.peephole, peep)?;
            want(
                "grad weight_hr",
                &g.weight_hr,
                c.proj_size.map(|_| vec![ho, h]),
            )?;
        }

        let in_shape = cfg.sequence_shape(seq, batch, layer0.input_size);
        let InputGrads { input, h0, c0 } = match into {
            Some(out) => {
                check("grad_input", &out.input, &in_shape)?;
                check("grad_h0", &out.h0, &[slots, batch, ho])?;
                match (&out.c0, layer0.cell.has_cell_state()) {
                    (Some(c0), true) => check("grad_c0", c0, &[slots, batch, h])?,
                    (None, false) => {}
                    _ => {
                        return Err(Error::config(
                            "grad_c0",
                            "given for a cell without a cell state, or missing for an LSTM",
                        ))
                    }
                }
                // Read while the input gradient is written.
                if seeds
                    .output
                    .is_some_and(|g| g.buffer() == out.input.buffer())
                {
                    return Err(Error::config(
                        "grad_input",
                        "shares its buffer with grad_output, which the pass reads as it writes",
                    ));
                }
                out.clone()
            }
            None => InputGrads::zeros(gpu, &cfg, seq, batch)?,
        };
        // Layer 0 adds each direction's input gradient into its own
        // buffer: a fresh one (zeros), or the caller's, cleared first; a
        // view at a nonzero offset gets one of our own, copied out after.
        let own_input = (input.offset() != 0)
            .then(|| storage_buffer(gpu, "grad_input", input.len()))
            .transpose()?;
        let d_input = own_input.clone().unwrap_or_else(|| input.buffer().clone());

        // Plan every layer first (all checks happen here), then record.
        let mut planned: Vec<(usize, LayerBackward, Option<Dispatch>)> = Vec::new();
        // Gradient of the current layer's output: (buffer, batch-first).
        // A view at a nonzero offset is copied into a buffer of our own
        // first: the gather binds its source whole.
        let own_seed = match seeds.output {
            Some(t) if t.offset() != 0 => Some((t, storage_buffer(gpu, "grad_output", t.len())?)),
            _ => None,
        };
        let mut d_out: Option<(wgpu::Buffer, bool)> = match &own_seed {
            Some((_, own)) => Some((own.clone(), cfg.batch_first)),
            None => seeds.output.map(|t| (t.buffer().clone(), cfg.batch_first)),
        };
        for l in (0..cfg.num_layers).rev() {
            let in_width = cfg.layer_config(l).input_size;
            let d_in = if l == 0 {
                d_input.clone()
            } else {
                storage_buffer(
                    gpu,
                    "layer input gradient [T, B, D*Ho]",
                    seq * batch * in_width,
                )?
            };
            for d in 0..dirs {
                let slot = l * dirs + d;
                let lb = LayerBackward::new(
                    &self.layers[slot],
                    tape,
                    &tape.layers[slot],
                    &grads[slot],
                    mode,
                    LayerIo {
                        d_out: d_out.as_ref().map(|(b, bf)| (b, *bf)),
                        out_col: d * ho,
                        out_stride: cfg.output_size(),
                        reverse: cfg.direction.is_reverse(d),
                        d_in: &d_in,
                        d_in_batch_first: l == 0 && cfg.batch_first,
                    },
                )?;
                // The layer below's output went through dropout: so does its gradient.
                let dropout = match (d + 1 == dirs && l > 0)
                    .then(|| tape.options.mask(l - 1, cfg.num_layers))
                    .flatten()
                {
                    Some(mask) => Some(mask.dispatch(gpu, &d_in, seq * batch * in_width)?),
                    None => None,
                };
                planned.push((slot, lb, dropout));
            }
            d_out = Some((d_in, false));
        }

        let (h_bytes, c_bytes) = ((batch * ho * 4) as u64, (batch * h * 4) as u64);
        let record = |rec: &mut Recorder<'_>| {
            if into.is_some() && own_input.is_none() {
                rec.encoder()
                    .clear_buffer(input.buffer(), 0, Some(input.byte_len()));
            }
            if let Some((seed, own)) = &own_seed {
                seed.copy_to(rec.encoder(), own, 0);
            }
            for (slot, lb, dropout) in &planned {
                let slot = *slot as u64;
                let encoder = rec.encoder();
                if let Some(g) = seeds.h_n {
                    let last = ((seq + 1) * batch * ho * 4) as u64;
                    encoder.copy_buffer_to_buffer(
                        g.buffer(),
                        g.offset() + slot * h_bytes,
                        &lb.ds,
                        last,
                        h_bytes,
                    );
                }
                if let (Some(g), Some(dc)) = (seeds.c_n, &lb.dc) {
                    let at = g.offset() + slot * c_bytes;
                    encoder.copy_buffer_to_buffer(g.buffer(), at, dc, 0, c_bytes);
                }
                lb.record(rec);
                if let Some(dropout) = dropout {
                    rec.run("dropout", |pass| dropout.record(pass));
                }
                // These read only what the steps wrote, so they may follow
                // the gradient dispatches.
                let encoder = rec.encoder();
                let at = h0.offset() + slot * h_bytes;
                encoder.copy_buffer_to_buffer(&lb.ds, 0, h0.buffer(), at, h_bytes);
                if let (Some(c0), Some(dc)) = (&c0, &lb.dc) {
                    let at = c0.offset() + slot * c_bytes;
                    encoder.copy_buffer_to_buffer(dc, 0, c0.buffer(), at, c_bytes);
                }
            }
            if let Some(own) = &own_input {
                rec.encoder().copy_buffer_to_buffer(
                    own,
                    0,
                    input.buffer(),
                    input.offset(),
                    input.byte_len(),
                );
            }
        };
        let submitted = how.submit(gpu, "backward", &record)?;
        Ok((InputGrads { input, h0, c0 }, submitted))
    }
}

/// Where one layer-direction's backward reads its output gradient and
/// writes its input gradient.
struct LayerIo<'a> {
    /// The layer's output gradient, time-ordered `[T, B, stride]` (or
    /// batch-first); `None` is zeros.
    d_out: Option<(&'a wgpu::Buffer, bool)>,
    out_col: usize,
    out_stride: usize,
    reverse: bool,
    /// Accumulates the input gradient `[T, B, I]` (or batch-first).
    d_in: &'a wgpu::Buffer,
    d_in_batch_first: bool,
}

/// The dispatches of one layer-direction's backward pass.
struct LayerBackward {
    gather: Option<Dispatch>,
    /// `(slot i, dispatch)` in recording order.
    steps: Vec<(usize, usize)>,
    kernels: Vec<PerStepDispatch>,
    /// After the steps: `(kernel family, dispatch)` in recording order.
    gradients: Vec<(&'static str, Dispatch)>,
    /// `[T+2, B, Ho]`, see `common/backward.wgsl`.
    ds: wgpu::Buffer,
    /// `[B, H]` cell-state gradient (LSTM).
    dc: Option<wgpu::Buffer>,
    // Buffers the bind groups refer to.
    _keep: Vec<wgpu::Buffer>,
}

impl LayerBackward {
    fn new(
        layer: &Layer,
        tape: &TrainTape,
        taped: &TapedLayer,
        grads: &LayerGrads,
        mode: GradMode,
        io: LayerIo<'_>,
    ) -> Result<Self> {
        let gpu = &tape.gpu;
        let cfg = *layer.config();
        let (seq, batch) = (tape.seq, tape.batch);
        let (h, ho, i_size, g) = (
            cfg.hidden_size,
            cfg.output_size(),
            cfg.input_size,
            cfg.gate_rows(),
        );
        let tb = seq * batch;
        let pass = &taped.pass;
        let lengths = &tape.lengths;
        let ds = storage_buffer(gpu, "state gradients [T+2, B, Ho]", (seq + 2) * batch * ho)?;
        let da = storage_buffer(gpu, "gate gradients [T, B, G*H]", tb * g)?;
        let reset_before = cfg.cell == CellKind::Gru(GruReset::Before);
        let steps_ctx = BackwardSteps {
            gpu,
            layer,
            pass,
            lengths,
            ds: &ds,
            da: &da,
            seq,
            batch,
            params: back_params(batch, seq, h, ho),
        };
        let CellBackward {
            kernels,
            steps,
            dc,
            da_in,
            mut keep,
        } = cell_family(cfg.cell).backward_steps(&steps_ctx)?;

        let gather = io
            .d_out
            .map(|(d_out, batch_first)| {
                let params = SeqParams {
                    seq: seq as u32,
                    batch: batch as u32,
                    width: ho as u32,
                    stride: io.out_stride as u32,
                    col: io.out_col as u32,
                    batch_first: u32::from(batch_first),
                    reverse: u32::from(io.reverse),
                    dst_offset: (batch * ho) as u32,
                    ..Default::default()
                };
                sequence_copy(gpu, Kernel::GatherSteps, false, params, lengths, d_out, &ds)
            })
            .transpose()?;

        // After the loop: products over all T*B rows.
        let da_in_ref = da_in.as_ref().unwrap_or(&da);
        let accumulate = mode == GradMode::Accumulate;
        let zeros = storage_buffer(gpu, "zero bias", g.max(i_size).max(ho).max(h))?;
        let weight_grad = GemmLayout {
            trans_a: true,
            trans_b: true,
            accumulate,
        };
        let mut gemms = vec![gemm(
            gpu,
            GemmParams::new(g, i_size, tb),
            weight_grad,
            da_in_ref,
            &taped.steps_in,
            &zeros,
            grads.weight_ih.buffer(),
        )?];
        if reset_before {
            // Rows r, z multiply h; rows n multiply r*h.
            gemms.push(gemm(
                gpu,
                GemmParams {
                    lda: g as u32,
                    ..GemmParams::new(2 * h, ho, tb)
                },
                weight_grad,
                &da,
                &pass.hs,
                &zeros,
                grads.weight_hh.buffer(),
            )?);
            let rh = pass.history.as_ref().expect("a training GRU keeps r*h");
            gemms.push(gemm(
                gpu,
                GemmParams {
                    a_offset: (2 * h) as u32,
                    lda: g as u32,
                    c_offset: (2 * h * ho) as u32,
                    ..GemmParams::new(h, ho, tb)
                },
                weight_grad,
                &da,
                rh,
                &zeros,
                grads.weight_hh.buffer(),
            )?);
        } else {
            gemms.push(gemm(
                gpu,
                GemmParams::new(g, ho, tb),
                weight_grad,
                &da,
                &pass.hs,
                &zeros,
                grads.weight_hh.buffer(),
            )?);
        }
        if let (Some(grad_hr), Some(m)) = (&grads.weight_hr, &pass.history) {
            // h_s = W_hr m_s at active steps; m is zero at finished ones.
            gemms.push(gemm(
                gpu,
                GemmParams {
                    a_offset: (batch * ho) as u32,
                    ..GemmParams::new(ho, h, tb)
                },
                weight_grad,
                &ds,
                m,
                &zeros,
                grad_hr.buffer(),
            )?);
        }
        let mut reductions = vec![];
        // b_ih sees the input-side gate gradients, b_hh the hidden-side ones.
        for (bias, source) in [(&grads.bias_ih, da_in_ref), (&grads.bias_hh, &da)] {
            if let Some(b) = bias {
                let cols = Columns::dense(source, g);
                let sums = column_sums(gpu, (tb, g), cols, None, accumulate, b.buffer(), 0)?;
                reductions.push(sums);
            }
        }
        if let (Some(p), Some(cs)) = (&grads.peephole, &pass.c) {
            // p_i and p_f see c_{s-1} (slot s), p_o sees c_s (slot s+1).
            for (row, gate, c_slot) in [(0, 0, 0), (1, 1, 0), (2, 3, 1)] {
                let x = Columns {
                    buffer: (&da).into(),
                    offset: gate * h,
                    stride: g,
                };
                let y = Columns {
                    buffer: cs.into(),
                    offset: c_slot * batch * h,
                    stride: h,
                };
                reductions.push(column_sums(
                    gpu,
                    (tb, h),
                    x,
                    Some(y),
                    accumulate,
                    p.buffer(),
                    row * h,
                )?);
            }
        }
        // dX = da_in · W_ih in step order, then added into time order.
        let dx = storage_buffer(gpu, "input gradient in step order [T, B, I]", tb * i_size)?;
        gemms.push(gemm(
            gpu,
            GemmParams::new(tb, i_size, g),
            GemmLayout {
                trans_b: true,
                ..Default::default()
            },
            da_in_ref,
            layer.params.weight_ih.buffer(),
            &zeros,
            &dx,
        )?);
        let params = SeqParams {
            seq: seq as u32,
            batch: batch as u32,
            width: i_size as u32,
            stride: i_size as u32,
            batch_first: u32::from(io.d_in_batch_first),
            reverse: u32::from(io.reverse),
            ..Default::default()
        };
        let scatter = sequence_copy(
            gpu,
            Kernel::ScatterOutput,
            true,
            params,
            lengths,
            &dx,
            io.d_in,
        )?;
        // The products first (dX's is independent of the sums), so that each
        // family is one run of dispatches.
        let gradients = gemms
            .into_iter()
            .map(|d| ("backward GEMMs", d))
            .chain(reductions.into_iter().map(|d| ("reductions", d)))
            .chain([("backward scatter", scatter)])
            .collect();
        keep.extend([da, dx, zeros]);
        keep.extend(da_in);
        Ok(Self {
            gather,
            steps,
            kernels,
            gradients,
            ds,
            dc,
            _keep: keep,
        })
    }

    /// Records the gather of the output gradient (when there is one), the
    /// steps, then the weight and input gradients, each a kernel family.
    fn record(&self, rec: &mut Recorder<'_>) {
        if let Some(gather) = &self.gather {
            rec.run("backward gather", |pass| gather.record(pass));
        }
        rec.run("backward steps", |pass| {
            for &(i, k) in &self.steps {
                self.kernels[k].record(pass, i);
            }
        });
        for (family, d) in &self.gradients {
            rec.run(family, |pass| d.record(pass));
        }
    }
}
