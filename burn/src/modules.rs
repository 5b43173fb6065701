//! Burn's own modules on our kernels: [`Accelerated`] for `Lstm`,
//! `BiLstm`, `Gru` and `Rnn`. Each call reads the module's live
//! parameters, gathers them into PyTorch's layout with Burn's ops (so
//! Burn's autodiff carries their gradients back to every `Param`) and
//! runs one [`RecurrentOps::recurrent_forward`]. What our kernels do not
//! compute the way Burn does falls back to Burn's own forward.

use std::collections::HashSet;
use std::sync::Mutex;

use burn::backend::Dispatch;
use burn::nn::activation::Activation as BurnActivation;
use burn::nn::{BiLstm, GateController, Gru, Lstm, LstmState, Rnn, RnnState};
use burn::tensor::{DType, Device, Tensor};
use wgpu_rnn::{
    Activation, Activations, CellKind, CellOptions, Direction, GruReset, Nonlinearity, RnnConfig,
    StackConfig,
};

use crate::device::gpu_for;
use crate::ops::{Call, RecurrentOps};

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
    if seen.get_or_insert_with(HashSet::new).insert(message.clone()) {
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
            return Err(format!("the input is {:?}; our kernels take f32", input.dtype()));
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
            return Err(format!("the input has {i} features, the module takes {d_input}"));
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
            .and_then(|c| c.with_bias(bias).with_options(self.options.clone()))
            .map_err(|e| e.to_string())?;
        let config = StackConfig::new(layer)
            .with_direction(if self.reverse { Direction::Reverse } else { Direction::Forward })
            .with_batch_first(self.batch_first)
            .validated()
            .map_err(|e| e.to_string())?;
        // The training tape keeps every step's gates in one binding.
        let gate_bytes = (seq * batch * layer.gate_rows()) as u64 * 4;
        let limit = u64::from(gpu.limits().max_storage_buffer_binding_size);
        if gate_bytes > limit {
            return Err(format!(
                "{gate_bytes} bytes of gates for T={seq}, B={batch} pass the device's \
                 {limit}-byte binding limit"
            ));
        }
        Ok((config, seq, batch))
    }

    /// Burn's gate weights in PyTorch's layout: `[G*H, I]`, `[G*H, H]`,
    /// `[G*H]`, `[G*H]` (a missing gate or bias reads as zeros).
    fn weights(&self, d_input: usize, device: &Device) -> [Tensor<2>; 2] {
        let h = self.d_hidden;
        let stack = |pick: &dyn Fn(&GateController) -> Tensor<2>, rows: usize| {
            let blocks = self
                .gates
                .iter()
                .map(|g| match g {
                    Some(g) => pick(g),
                    None => Tensor::zeros([rows, h], device),
                })
                .collect();
            Tensor::cat(blocks, 1).transpose()
        };
        [
            stack(&|g| g.input_transform.weight.val(), d_input),
            stack(&|g| g.hidden_transform.weight.val(), h),
        ]
    }

    fn biases(&self, device: &Device) -> [Tensor<1>; 2] {
        let h = self.d_hidden;
        let stack = |hidden: bool| {
            let blocks = self
                .gates
                .iter()
                .map(|g| {
                    let linear = g.map(|g| match hidden {
                        true => &g.hidden_transform,
                        false => &g.input_transform,
                    });
                    match linear.and_then(|l| l.bias.as_ref()) {
                        Some(b) => b.val(),
                        None => Tensor::zeros([h], device),
                    }
                })
                .collect();
            Tensor::cat(blocks, 0)
        };
        [stack(false), stack(true)]
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
        let [w_ih, w_hh] = self.weights(config.layer.input_size, &device);
        let [b_ih, b_hh] = match config.layer.bias {
            true => self.biases(&device),
            false => [Tensor::zeros([1], &device), Tensor::zeros([1], &device)],
        };
        let lstm = self.cell.has_cell_state();
        let call = Call {
            config,
            seq,
            batch,
            has_h0: h0.is_some(),
            has_c0: lstm && c0.is_some(),
            tape: None,
        };
        let absent = || Tensor::<2>::zeros([1, 1], &device);
        let packed = Tensor::<1>::from_dispatch(Dispatch::recurrent_forward(
            input.into_dispatch(),
            w_ih.into_dispatch(),
            w_hh.into_dispatch(),
            b_ih.into_dispatch(),
            b_hh.into_dispatch(),
            h0.unwrap_or_else(absent).into_dispatch(),
            c0.unwrap_or_else(absent).into_dispatch(),
            call,
        ));
        let (n_y, n_s) = (seq * batch * h, batch * h);
        let out_shape = match self.batch_first {
            true => [batch, seq, h],
            false => [seq, batch, h],
        };
        let y = packed.clone().slice(0..n_y).reshape(out_shape);
        let h_n = packed.clone().slice(n_y..n_y + n_s).reshape([batch, h]);
        let c_n = lstm.then(|| packed.slice(n_y + n_s..n_y + 2 * n_s).reshape([batch, h]));
        (y, h_n, c_n)
    }
}

fn lstm_layer(m: &Lstm, reverse: bool) -> Result<Layer<'_>, String> {
    if m.clip.is_some() {
        return Err("Burn clips the LSTM's cell state; our clip is ONNX's (pre-activations)".into());
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

/// An LSTM layer's plan, or why it falls back.
fn lstm_plan<'a>(m: &'a Lstm, reverse: bool, input: &Tensor<3>) -> LayerPlan<'a> {
    let layer = lstm_layer(m, reverse)?;
    let plan = layer.plan(input)?;
    Ok((layer, plan))
}

impl Accelerated for Lstm {
    type State = LstmState<2>;
    type Output = (Tensor<3>, LstmState<2>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<LstmState<2>>) -> Self::Output {
        match lstm_plan(self, self.reverse, &input) {
            Ok((layer, plan)) => {
                let states = state.map(|s| (Some(s.hidden), Some(s.cell))).unwrap_or_default();
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
        lstm_plan(self, self.reverse, input).err()
    }
}

impl Accelerated for BiLstm {
    type State = LstmState<3>;
    type Output = (Tensor<3>, LstmState<3>);

    /// Each direction is one call of our kernels (the inner `reverse`
    /// module runs from the last step back, as Burn runs it); the output
    /// is `[forward | reverse]` on the last axis, the state `[2, B, H]`.
    fn forward_accelerated(&self, input: Tensor<3>, state: Option<LstmState<3>>) -> Self::Output {
        let plans = bilstm_plans(self, &input);
        let (Ok((fwd, fwd_plan)), Ok((rev, rev_plan))) = plans else {
            let (a, b) = plans;
            warn_fallback("BiLstm", &a.err().or(b.err()).unwrap_or_default());
            return self.forward(input, state);
        };
        let (fwd_state, rev_state) = match state {
            Some(s) => {
                let pick = |t: &Tensor<3>, d: usize| Some(t.clone().slice(d..d + 1).squeeze_dim(0));
                ((pick(&s.hidden, 0), pick(&s.cell, 0)), (pick(&s.hidden, 1), pick(&s.cell, 1)))
            }
            None => Default::default(),
        };
        let (y_f, h_f, c_f) = fwd.run(input.clone(), fwd_state, fwd_plan);
        let (y_r, h_r, c_r) = rev.run(input, rev_state, rev_plan);
        let y = Tensor::cat(vec![y_f, y_r], 2);
        let state = LstmState::new(
            Tensor::stack(vec![c_f.expect("LSTM"), c_r.expect("LSTM")], 0),
            Tensor::stack(vec![h_f, h_r], 0),
        );
        (y, state)
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        let (a, b) = bilstm_plans(self, input);
        a.err().or(b.err())
    }
}

type LayerPlan<'a> = Result<(Layer<'a>, (StackConfig, usize, usize)), String>;

/// Both directions' plans. The inner modules are batch-first and forward;
/// the outer module's flag says the layout, and the inner `reverse`
/// module runs from the last step back.
fn bilstm_plans<'a>(m: &'a BiLstm, input: &Tensor<3>) -> (LayerPlan<'a>, LayerPlan<'a>) {
    let plan = |inner: &'a Lstm, reverse: bool| -> LayerPlan<'a> {
        let mut layer = lstm_layer(inner, reverse)?;
        layer.batch_first = m.batch_first;
        let plan = layer.plan(input)?;
        Ok((layer, plan))
    };
    (plan(&m.forward, false), plan(&m.reverse, true))
}

fn gru_plan<'a>(m: &'a Gru, input: &Tensor<3>) -> LayerPlan<'a> {
    if m.clip.is_some() {
        return Err("Burn clips the GRU's hidden state; our clip is ONNX's (pre-activations)".into());
    }
    let f = activation(&m.gate_activation)?;
    let g = activation(&m.hidden_activation)?;
    let reset = if m.reset_after { GruReset::After } else { GruReset::Before };
    let layer = Layer {
        gates: vec![Some(&m.reset_gate), Some(&m.update_gate), Some(&m.new_gate)],
        cell: CellKind::Gru(reset),
        d_hidden: m.d_hidden,
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
    };
    let plan = layer.plan(input)?;
    Ok((layer, plan))
}

impl Accelerated for Gru {
    type State = Tensor<2>;
    type Output = Tensor<3>;

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<Tensor<2>>) -> Tensor<3> {
        match gru_plan(self, &input) {
            Ok((layer, plan)) => layer.run(input, (state, None), plan).0,
            Err(reason) => {
                warn_fallback("Gru", &reason);
                self.forward(input, state)
            }
        }
    }

    fn fallback_reason(&self, input: &Tensor<3>) -> Option<String> {
        gru_plan(self, input).err()
    }
}

fn rnn_plan<'a>(m: &'a Rnn, input: &Tensor<3>) -> LayerPlan<'a> {
    if m.clip.is_some() {
        return Err("Burn clips the RNN's hidden state; our clip is ONNX's (pre-activations)".into());
    }
    let nonlinearity = match &m.hidden_activation {
        BurnActivation::Tanh(_) => Nonlinearity::Tanh,
        BurnActivation::Relu(_) => Nonlinearity::Relu,
        other => return Err(format!("an RNN with {other:?} (ours: tanh or relu)")),
    };
    let layer = Layer {
        gates: vec![Some(&m.gate)],
        cell: CellKind::Rnn(nonlinearity),
        d_hidden: m.d_hidden,
        batch_first: m.batch_first,
        reverse: m.reverse,
        options: CellOptions::default(),
    };
    let plan = layer.plan(input)?;
    Ok((layer, plan))
}

impl Accelerated for Rnn {
    type State = RnnState<2>;
    type Output = (Tensor<3>, RnnState<2>);

    fn forward_accelerated(&self, input: Tensor<3>, state: Option<RnnState<2>>) -> Self::Output {
        match rnn_plan(self, &input) {
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
        rnn_plan(self, input).err()
    }
}
