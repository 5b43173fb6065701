//! Burn's own modules on our kernels: [`Accelerated`] for `Lstm`,
//! `BiLstm`, `Gru`, `BiGru`, `Rnn` and `BiRnn`. Each call hands the
//! module's live parameters, as they are, to one
//! [`RecurrentOps::recurrent_forward`], whose autodiff node gives every
//! `Param` its gradient. What our kernels do not
//! compute the way Burn does falls back to Burn's own forward.

use std::collections::HashSet;
use std::sync::Mutex;

use burn::backend::Dispatch;
use burn::nn::activation::Activation as BurnActivation;
use burn::nn::{BiGru, BiLstm, BiRnn, GateController, Gru, Lstm, LstmState, Rnn, RnnState};
use burn::tensor::{DType, Tensor};
use wgpu_rnn::{
    Activation, Activations, CellKind, CellOptions, Direction, GruReset, Nonlinearity, RnnConfig,
    StackConfig,
};

use crate::device::gpu_for;
use crate::ops::{Call, Present, RecurrentOps, GATES};

/// A Burn recurrent module that can run on wgpu-rnn's kernels: the same
/// arguments and results as the module's own `forward`.
///
/// ```ignore
/// use wgpu_rnn_burn::Accelerated;
/// let (y, state) = lstm.forward_accelerated(x, None); // was lstm.forward(x, None)
/// ```
pub trait Accelerated {
    /// The state argument of the module's `forward`.
    type State;
    /// What the module's `forward` returns.
    type Output;

    /// The module's `forward` on our kernels; Burn's own forward (with a
    /// warning, once per reason) where ours would not compute what Burn
    /// does: see [`Accelerated::fallback_reason`].
    fn forward_accelerated(&self, input: Tensor<3>, state: Option<Self::State>) -> Self::Output;

    /// Why a call on `input` would take Burn's own forward, or `None`
    /// when it runs on our kernels.
    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String>;
}

/// Warns once per distinct reason.
fn warn_fallback(module: &str, reason: &str) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let message = format!("wgpu-rnn-burn: {module} runs on Burn's own forward: {reason}");
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(message.clone())
    {
        log::warn!("{message}");
    }
}

/// Our function for one of Burn's, where we compute it the same way.
fn activation(a: &BurnActivation) -> Result<Activation, String> {
    Ok(match a {
        BurnActivation::Sigmoid(_) => Activation::Sigmoid,
        BurnActivation::Tanh(_) => Activation::Tanh,
        BurnActivation::Relu(_) => Activation::Relu,
        BurnActivation::Softsign(_) => Activation::Softsign,
        BurnActivation::LeakyRelu(l) => Activation::LeakyRelu {
            alpha: l.negative_slope as f32,
        },
        BurnActivation::HardSigmoid(h) => Activation::HardSigmoid {
            alpha: h.alpha as f32,
            beta: h.beta as f32,
        },
        BurnActivation::Elu(e) => Activation::Elu {
            alpha: e.alpha as f32,
        },
        other => return Err(format!("the activation {other:?} has no kernel here")),
    })
}

/// `Some(f)` unless `f` is the cell's default (the default kernels).
fn unless_default(f: Activation, default: Activation) -> Option<Activation> {
    (f != default).then_some(f)
}

/// What one layer call needs besides the weights.
struct Layer<'a> {
    gates: Vec<Option<&'a GateController>>,
    cell: CellKind,
    d_hidden: usize,
    batch_first: bool,
    reverse: bool,
    options: CellOptions,
}

impl Layer<'_> {
    /// The stack configuration for `input`, or why our kernels do not run.
    fn plan(&self, input: &Tensor<3>) -> Result<(StackConfig, usize, usize), String> {
        if input.dtype() != DType::F32 {
            return Err(format!(
                "the input is {:?}; our kernels take f32",
                input.dtype()
            ));
        }
        let gpu = gpu_for(&input.device()).ok_or(
            "the tensor's device was not made by wgpu_rnn_burn::init or adopt \
             (only those devices are shared with our kernels)",
        )?;
        let present = self.gates.iter().flatten().next().ok_or("no gates")?;
        let d_input = present.input_transform.weight.dims()[0];
        let [a, b, i] = input.dims();
        let (seq, batch) = if self.batch_first { (b, a) } else { (a, b) };
        if i != d_input {
            return Err(format!(
                "the input has {i} features, the module takes {d_input}"
            ));
        }
        if seq == 0 || batch == 0 {
            return Err("an empty sequence or batch".into());
        }
        for g in self.gates.iter().flatten() {
            for l in [&g.input_transform, &g.hidden_transform] {
                if l.weight.val().dtype() != DType::F32 {
                    return Err("weights that are not f32".into());
                }
            }
        }
        let bias = self
            .gates
            .iter()
            .flatten()
            .any(|g| g.input_transform.bias.is_some() || g.hidden_transform.bias.is_some());
        let layer = RnnConfig::new(self.cell, d_input, self.d_hidden)
            .and_then(|c| c.with_bias(bias).with_options(self.options))
            .map_err(|e| e.to_string())?;
        let config = StackConfig::new(layer)
            .with_direction(if self.reverse {
                Direction::Reverse
            } else {
                Direction::Forward
            })
            .with_batch_first(self.batch_first)
            .validated()
            .map_err(|e| e.to_string())?;
        // The training tape keeps every step's gates in one binding.
        let gate_bytes = (seq * batch * layer.gate_rows()) as u64 * 4;
        let limit = gpu.limits().max_storage_buffer_binding_size;
        if gate_bytes > limit {
            return Err(format!(
                "{gate_bytes} bytes of gates for T={seq}, B={batch} pass the device's \
                 {limit}-byte binding limit"
            ));
        }
        Ok((config, seq, batch))
    }

    /// Runs the layer: `(y, h_n, c_n)` (`c_n` for LSTMs), `y` laid out as
    /// the input.
    fn run(
        &self,
        input: Tensor<3>,
        (h0, c0): (Option<Tensor<2>>, Option<Tensor<2>>),
        (config, seq, batch): (StackConfig, usize, usize),
    ) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
        let device = input.device();
        let h = self.d_hidden;
        // One placeholder for every absent input (never read).
        let absent = Tensor::<1>::zeros([1], &device).into_dispatch();
        let mut present = Present::default();
        let mut slots: [[_; GATES]; 4] = Default::default();
        for (k, gate) in self.gates.iter().enumerate() {
            let Some(g) = gate else { continue };
            present.weights[k] = true;
            slots[0][k] = Some(g.input_transform.weight.val().into_dispatch());
            slots[1][k] = Some(g.hidden_transform.weight.val().into_dispatch());
            if let Some(b) = &g.input_transform.bias {
                present.bias_ih[k] = true;
                slots[2][k] = Some(b.val().into_dispatch());
            }
            if let Some(b) = &g.hidden_transform.bias {
                present.bias_hh[k] = true;
                slots[3][k] = Some(b.val().into_dispatch());
            }
        }
        let [wi, wh, bi, bh] = slots.map(|s| s.map(|t| t.unwrap_or_else(|| absent.clone())));
        let lstm = self.cell.has_cell_state();
        let call = Call {
            config,
            seq,
            batch,
            has_h0: h0.is_some(),
            has_c0: lstm && c0.is_some(),
            present,
            tape: None,
        };
        let state = |t: Option<Tensor<2>>| {
            t.map(Tensor::into_dispatch)
                .unwrap_or_else(|| absent.clone())
        };
        let [wi0, wi1, wi2, wi3] = wi;
        let [wh0, wh1, wh2, wh3] = wh;
        let [bi0, bi1, bi2, bi3] = bi;
        let [bh0, bh1, bh2, bh3] = bh;
        let packed = Tensor::<1>::from_dispatch(Dispatch::recurrent_forward(
            input.into_dispatch(),
            state(h0),
            state(c0),
            wi0,
            wi1,
            wi2,
            wi3,
            wh0,
            wh1,
            wh2,
            wh3,
            bi0,
            bi1,
            bi2,
            bi3,
            bh0,
            bh1,
            bh2,
            bh3,
            call,
        ));
        let (n_y, n_s) = (seq * batch * h, batch * h);
        let y = packed
            .clone()
            .slice(0..n_y)
            .reshape(config.sequence_shape(seq, batch, h));
        let h_n = packed.clone().slice(n_y..n_y + n_s).reshape([batch, h]);
        let c_n = lstm.then(|| packed.slice(n_y + n_s..n_y + 2 * n_s).reshape([batch, h]));
        (y, h_n, c_n)
    }
}

/// A layer with its stack configuration for one input.
type Planned<'a> = (Layer<'a>, (StackConfig, usize, usize));

/// `layer` planned for `input`, or why it falls back.
fn planned<'a>(layer: Result<Layer<'a>, String>, input: &Tensor<3>) -> Result<Planned<'a>, String> {
    let layer = layer?;
    let plan = layer.plan(input)?;
    Ok((layer, plan))
}

/// Both directions of a bidirectional module: Burn builds its inner
/// modules batch-first and forward; the outer module's flag says the
/// layout, and the inner `reverse` module runs from the last step back.
fn bi_planned<'a>(
    [forward, reverse]: [Result<Layer<'a>, String>; 2],
    batch_first: bool,
    input: &Tensor<3>,
) -> Result<[Planned<'a>; 2], String> {
    let set = |layer: Result<Layer<'a>, String>, reverse: bool| {
        layer.map(|mut l| {
            l.batch_first = batch_first;
            l.reverse = reverse;
            l
        })
    };
    Ok([
        planned(set(forward, false), input)?,
        planned(set(reverse, true), input)?,
    ])
}

/// Runs both directions (one call of our kernels each) from `[2, B, H]`
/// states: the output `[forward | reverse]` on the last axis, the final
/// states `[2, B, H]`.
fn bi_run(
    [(forward, forward_plan), (reverse, reverse_plan)]: [Planned<'_>; 2],
    input: Tensor<3>,
    h0: Option<Tensor<3>>,
    c0: Option<Tensor<3>>,
) -> (Tensor<3>, Tensor<3>, Option<Tensor<3>>) {
    let pick = |t: &Option<Tensor<3>>, d: usize| {
        t.as_ref().map(|t| t.clone().slice(d..d + 1).squeeze_dim(0))
    };
    let (y_f, h_f, c_f) = forward.run(input.clone(), (pick(&h0, 0), pick(&c0, 0)), forward_plan);
    let (y_r, h_r, c_r) = reverse.run(input, (pick(&h0, 1), pick(&c0, 1)), reverse_plan);
    (
        Tensor::cat(vec![y_f, y_r], 2),
        Tensor::stack(vec![h_f, h_r], 0),
        c_f.zip(c_r).map(|(f, r)| Tensor::stack(vec![f, r], 0)),
    )
}

fn lstm_layer(m: &Lstm, reverse: bool) -> Result<Layer<'_>, String> {
    if m.clip.is_some() {
        return Err(
            "Burn clips the LSTM's cell state; our clip is ONNX's (pre-activations)".into(),
        );
    }
    let f = activation(&m.gate_activation)?;
    let g = activation(&m.cell_activation)?;
    let h = activation(&m.hidden_activation)?;
    Ok(Layer {
        gates: vec![
            Some(&m.input_gate),
            m.forget_gate.as_ref(),
            Some(&m.cell_gate),
            Some(&m.output_gate),
        ],
        cell: CellKind::Lstm,
        d_hidden: m.d_hidden,
        batch_first: m.batch_first,
        reverse,
        options: CellOptions {
            activations: Activations {
                f: unless_default(f, Activation::Sigmoid),
                g: unless_default(g, Activation::Tanh),
                h: unless_default(h, Activation::Tanh),
            },
            input_forget: m.input_forget,
            ..CellOptions::default()
        },
    })
}

fn gru_layer(m: &Gru) -> Result<Layer<'_>, String> {
    if m.clip.is_some() {
        return Err(
            "Burn clips the GRU's hidden state; our clip is ONNX's (pre-activations)".into(),
        );
    }
    let f = activation(&m.gate_activation)?;
    let g = activation(&m.hidden_activation)?;
    let reset = if m.reset_after {
        GruReset::After
    } else {
        GruReset::Before
    };
    Ok(Layer {
        gates: vec![Some(&m.reset_gate), Some(&m.update_gate), Some(&m.new_gate)],
        cell: CellKind::Gru(reset),
        d_hidden: m.d_hidden,
        // Burn's GRU takes `[B, T, I]` only.
        batch_first: true,
        reverse: false,
        options: CellOptions {
            activations: Activations {
                f: unless_default(f, Activation::Sigmoid),
                g: unless_default(g, Activation::Tanh),
                h: None,
            },
            ..CellOptions::default()
        },
    })
}

fn rnn_layer(m: &Rnn) -> Result<Layer<'_>, String> {
    if m.clip.is_some() {
        return Err(
            "Burn clips the RNN's hidden state; our clip is ONNX's (pre-activations)".into(),
        );
    }
    let nonlinearity = match &m.hidden_activation {
        BurnActivation::Tanh(_) => Nonlinearity::Tanh,
        BurnActivation::Relu(_) => Nonlinearity::Relu,
        other => return Err(format!("an RNN with {other:?} (ours: tanh or relu)")),
    };
    Ok(Layer {
        gates: vec![Some(&m.gate)],
        cell: CellKind::Rnn(nonlinearity),
        d_hidden: m.d_hidden,
        batch_first: m.batch_first,
        reverse: m.reverse,
        options: CellOptions::default(),
    })
}

impl Accelerated for Lstm {
    type State = LstmState<2>;
    type Output = (Tensor<3>, LstmState<2>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<LstmState<2>>) -> Self::Output {
        match planned(lstm_layer(self, self.reverse), &input) {
            Ok((layer, plan)) => {
                let states = state
                    .map(|s| (Some(s.hidden), Some(s.cell)))
                    .unwrap_or_default();
                let (y, h_n, c_n) = layer.run(input, states, plan);
                (y, LstmState::new(c_n.expect("an LSTM has c_n"), h_n))
            }
            Err(reason) => {
                warn_fallback("Lstm", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        planned(lstm_layer(self, self.reverse), input).err()
    }
}

impl Accelerated for BiLstm {
    type State = LstmState<3>;
    type Output = (Tensor<3>, LstmState<3>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<LstmState<3>>) -> Self::Output {
        let layers = [
            lstm_layer(&self.forward, false),
            lstm_layer(&self.reverse, true),
        ];
        match bi_planned(layers, self.batch_first, &input) {
            Ok(plans) => {
                let (h0, c0) = state
                    .map(|s| (Some(s.hidden), Some(s.cell)))
                    .unwrap_or_default();
                let (y, h_n, c_n) = bi_run(plans, input, h0, c0);
                (y, LstmState::new(c_n.expect("an LSTM has c_n"), h_n))
            }
            Err(reason) => {
                warn_fallback("BiLstm", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        let layers = [
            lstm_layer(&self.forward, false),
            lstm_layer(&self.reverse, true),
        ];
        bi_planned(layers, self.batch_first, input).err()
    }
}

impl Accelerated for Gru {
    type State = Tensor<2>;
    type Output = Tensor<3>;

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<Tensor<2>>) -> Tensor<3> {
        match planned(gru_layer(self), &input) {
            Ok((layer, plan)) => layer.run(input, (state, None), plan).0,
            Err(reason) => {
                warn_fallback("Gru", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        planned(gru_layer(self), input).err()
    }
}

impl Accelerated for BiGru {
    type State = Tensor<3>;
    type Output = (Tensor<3>, Tensor<3>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<Tensor<3>>) -> Self::Output {
        let layers = [gru_layer(&self.forward), gru_layer(&self.reverse)];
        match bi_planned(layers, self.batch_first, &input) {
            Ok(plans) => {
                let (y, h_n, _) = bi_run(plans, input, state, None);
                (y, h_n)
            }
            Err(reason) => {
                warn_fallback("BiGru", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        let layers = [gru_layer(&self.forward), gru_layer(&self.reverse)];
        bi_planned(layers, self.batch_first, input).err()
    }
}

impl Accelerated for Rnn {
    type State = RnnState<2>;
    type Output = (Tensor<3>, RnnState<2>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<RnnState<2>>) -> Self::Output {
        match planned(rnn_layer(self), &input) {
            Ok((layer, plan)) => {
                let (y, h_n, _) = layer.run(input, (state.map(|s| s.hidden), None), plan);
                (y, RnnState::new(h_n))
            }
            Err(reason) => {
                warn_fallback("Rnn", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        planned(rnn_layer(self), input).err()
    }
}

impl Accelerated for BiRnn {
    type State = RnnState<3>;
    type Output = (Tensor<3>, RnnState<3>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<RnnState<3>>) -> Self::Output {
        let layers = [rnn_layer(&self.forward), rnn_layer(&self.reverse)];
        match bi_planned(layers, self.batch_first, &input) {
            Ok(plans) => {
                let (y, h_n, _) = bi_run(plans, input, state.map(|s| s.hidden), None);
                (y, RnnState::new(h_n))
            }
            Err(reason) => {
                warn_fallback("BiRnn", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        let layers = [rnn_layer(&self.forward), rnn_layer(&self.reverse)];
        bi_planned(layers, self.batch_first, input).err()
    }
}
