//! Bad input gets its own `Error` variant, never a panic or a wgpu
//! validation error; sizes over device limits are split or refused.

mod common;

use common::{check_against_reference, gpu, Case};
use wgpu_rnn::{
    AdapterSelector, CellKind, Error, Gpu, GpuTensor, GruReset, Rnn, RnnConfig, RnnWeights,
};

fn lstm(input: usize, hidden: usize) -> Rnn {
    let config = RnnConfig::new(CellKind::Lstm, input, hidden).unwrap();
    Rnn::new(gpu(), &RnnWeights::random(config, 1, 1.0).unwrap()).unwrap()
}

#[test]
fn wrong_input_shapes_are_shape_errors() {
    let layer = lstm(3, 4);
    let x = GpuTensor::zeros(gpu(), "x", &[2, 1, 5]).unwrap();
    assert!(
        matches!(layer.forward(&x, None, None), Err(Error::Shape { ref what, .. }) if what == "input")
    );
    let x2d = GpuTensor::zeros(gpu(), "x", &[2, 3]).unwrap();
    assert!(matches!(
        layer.forward(&x2d, None, None),
        Err(Error::Shape { .. })
    ));
    let x = GpuTensor::zeros(gpu(), "x", &[2, 1, 3]).unwrap();
    let bad_h0 = GpuTensor::zeros(gpu(), "h0", &[1, 2, 4]).unwrap();
    match layer.forward(&x, Some(&bad_h0), None) {
        Err(Error::Shape {
            what,
            expected,
            got,
        }) => {
            assert_eq!(what, "h0");
            assert_eq!(expected, vec![1, 1, 4]);
            assert_eq!(got, vec![1, 2, 4]);
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    // Host data whose length does not match the stated shape.
    assert!(matches!(
        layer.forward_host(&[0.0; 5], 2, 1, None, None),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn c0_for_a_cell_without_cell_state_is_refused() {
    let config = RnnConfig::new(CellKind::Gru(GruReset::After), 3, 4).unwrap();
    let gru = Rnn::new(gpu(), &RnnWeights::random(config, 1, 1.0).unwrap()).unwrap();
    let err = gru
        .forward_host(&[0.0; 6], 2, 1, None, Some(&[0.0; 4]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Config { ref what, .. } if what == "c0"),
        "{err}"
    );
}

#[test]
fn zero_sizes_are_refused() {
    assert!(matches!(
        RnnConfig::new(CellKind::Lstm, 0, 4),
        Err(Error::ZeroSize { .. })
    ));
    assert!(matches!(
        RnnConfig::new(CellKind::Lstm, 4, 0),
        Err(Error::ZeroSize { .. })
    ));
    let layer = lstm(3, 4);
    assert!(matches!(
        layer.forward_host(&[], 0, 1, None, None),
        Err(Error::ZeroSize { .. })
    ));
    assert!(matches!(
        layer.forward_host(&[], 1, 0, None, None),
        Err(Error::ZeroSize { .. })
    ));
}

#[test]
fn nan_and_infinity_are_refused_with_their_index() {
    let layer = lstm(2, 3);
    let mut x = vec![0.5f32; 8];
    x[5] = f32::NAN;
    match layer.forward_host(&x, 4, 1, None, None) {
        Err(Error::NonFinite { what, index, .. }) => {
            assert_eq!((what.as_str(), index), ("input", 5))
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let h0 = [0.0, f32::INFINITY, 0.0];
    assert!(matches!(
        layer.forward_host(&[0.0; 8], 4, 1, Some(&h0), None),
        Err(Error::NonFinite { .. })
    ));
    let config = RnnConfig::new(CellKind::Lstm, 2, 3).unwrap();
    let mut w_ih = vec![0.1; 24];
    w_ih[7] = f32::NAN;
    let err = RnnWeights::new(
        config,
        w_ih,
        vec![0.1; 36],
        Some(vec![0.0; 12]),
        Some(vec![0.0; 12]),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { ref what, index: 7, .. } if what == "weight_ih"),
        "{err}"
    );
}

#[test]
fn inconsistent_weights_are_refused() {
    let config = RnnConfig::new(CellKind::Lstm, 2, 3).unwrap();
    let ok = |n| vec![0.1f32; n];
    // weight_hh of the wrong size.
    let err =
        RnnWeights::new(config, ok(24), ok(35), Some(ok(12)), Some(ok(12)), None).unwrap_err();
    assert!(
        matches!(err, Error::Shape { ref what, .. } if what == "weight_hh"),
        "{err}"
    );
    // Missing bias, bias where none is configured, peephole on a plain LSTM.
    assert!(matches!(
        RnnWeights::new(config, ok(24), ok(36), None, Some(ok(12)), None),
        Err(Error::Config { .. })
    ));
    let no_bias = config.with_bias(false);
    assert!(matches!(
        RnnWeights::new(no_bias, ok(24), ok(36), Some(ok(12)), None, None),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        RnnWeights::new(
            config,
            ok(24),
            ok(36),
            Some(ok(12)),
            Some(ok(12)),
            Some(ok(9))
        ),
        Err(Error::Config { .. })
    ));
    let peephole = RnnConfig::new(CellKind::PeepholeLstm, 2, 3).unwrap();
    assert!(matches!(
        RnnWeights::new(peephole, ok(24), ok(36), Some(ok(12)), Some(ok(12)), None),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        RnnWeights::new(
            peephole,
            ok(24),
            ok(36),
            Some(ok(12)),
            Some(ok(12)),
            Some(ok(8))
        ),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn unknown_backend_and_adapter_are_refused() {
    let sel = AdapterSelector {
        backend: Some("glide".into()),
        ..Default::default()
    };
    assert!(matches!(Gpu::with_selector(&sel), Err(Error::UnknownBackend(ref b)) if b == "glide"));
    let sel = AdapterSelector {
        name: Some("no-such-adapter-anywhere".into()),
        ..Default::default()
    };
    match Gpu::with_selector(&sel) {
        Err(Error::NoAdapter { name, seen, .. }) => {
            assert_eq!(name.as_deref(), Some("no-such-adapter-anywhere"));
            assert!(!seen.is_empty(), "the error lists the adapters that exist");
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}

#[test]
fn tensors_from_another_device_are_refused() {
    let other = Gpu::new().unwrap();
    let layer = lstm(2, 3);
    let x = GpuTensor::zeros(&other, "x", &[1, 1, 2]).unwrap();
    assert!(matches!(
        layer.forward(&x, None, None),
        Err(Error::Config { .. })
    ));
}

/// A device whose storage bindings are capped at 4 KiB: a sequence whose
/// gate pre-activations need 24 KiB is projected in chunks and still matches
/// the reference; a tensor over the cap is refused with the limit named.
#[test]
fn storage_binding_limit_splits_or_refuses() {
    let small = Gpu::with_selector(&AdapterSelector {
        max_storage_binding: Some(4096),
        ..AdapterSelector::from_env()
    })
    .unwrap();
    assert_eq!(small.limits().max_storage_buffer_binding_size, 4096);

    // xg needs T*B*4H*4 = 30*2*48*4 = 11.5 KiB: three chunks of 10 steps.
    let config = RnnConfig::new(CellKind::Lstm, 3, 12).unwrap();
    let weights = RnnWeights::random(config, 5, 1.0).unwrap();
    let layer = Rnn::new(&small, &weights).unwrap();
    let x: Vec<f32> = (0..30 * 2 * 3)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
        .collect();
    let chunked = layer.forward_host(&x, 30, 2, None, None).unwrap();
    let whole = Rnn::new(gpu(), &weights)
        .unwrap()
        .forward_host(&x, 30, 2, None, None)
        .unwrap();
    assert_eq!(chunked, whole, "chunked projection must give the same bits");
    check_against_reference(&weights, Case::new(30, 2));

    // The input itself, [600, 2, 3] f32 = 14.4 KiB, cannot be bound.
    let x = vec![0.0; 600 * 2 * 3];
    match layer.forward_host(&x, 600, 2, None, None) {
        Err(Error::OverLimit {
            limit_name,
            limit,
            requested,
            ..
        }) => {
            assert_eq!(
                (limit_name, limit),
                ("max_storage_buffer_binding_size", 4096)
            );
            assert_eq!(requested, 600 * 2 * 3 * 4);
        }
        other => panic!("expected OverLimit, got {other:?}"),
    }
    // One step of gate pre-activations over the cap: B*4H*4 = 40*32*4 = 5 KiB.
    let narrow = RnnConfig::new(CellKind::Lstm, 1, 8).unwrap();
    let layer = Rnn::new(&small, &RnnWeights::random(narrow, 1, 1.0).unwrap()).unwrap();
    match layer.forward_host(&[0.0; 40], 1, 40, None, None) {
        Err(Error::OverLimit {
            what, requested, ..
        }) => {
            assert!(what.contains("gate pre-activations"), "{what}");
            assert_eq!(requested, 40 * 32 * 4);
        }
        other => panic!("expected OverLimit, got {other:?}"),
    }
    let wide = RnnConfig::new(CellKind::Lstm, 1, 64).unwrap();
    let layer = Rnn::new(&small, &RnnWeights::random(wide, 1, 1.0).unwrap());
    // The recurrent weights alone (64*64*4*4 = 64 KiB) are over the cap too.
    assert!(matches!(layer, Err(Error::OverLimit { .. })));
}

#[test]
fn pipelines_compile_once_under_concurrency() {
    let fresh = Gpu::new().unwrap();
    let config = RnnConfig::new(CellKind::Lstm, 3, 5).unwrap();
    let weights = RnnWeights::random(config, 2, 1.0).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let layer = Rnn::new(&fresh, &weights).unwrap();
                layer.forward_host(&[0.25; 12], 4, 1, None, None).unwrap();
            });
        }
    });
    // The two repack kernels (gate interleaving, bias folding), the GEMM,
    // the LSTM step and the output scatter, however many threads asked;
    // with the subgroup kernels also the packing of the weights as texels.
    let texels = usize::from(fresh.tuning().subgroup_kernels());
    assert_eq!(fresh.pipelines_compiled(), 5 + texels);
}

/// Sizes whose element count overflows `usize` are errors from every
/// constructor and entry point, never an overflow panic (debug) or a
/// wrapped, wrong size (release); nothing is allocated for them first.
#[test]
fn shapes_that_overflow_usize_are_errors() {
    use wgpu_rnn::train::Linear;
    use wgpu_rnn::{RnnStack, StackConfig, StackWeights};
    let huge = usize::MAX / 2;
    let refused = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Config { .. } | Error::OverLimit { .. } | Error::Shape { .. }) => {}
        other => panic!("{what}: expected an error, got {other:?}"),
    };
    let g = gpu();
    refused(
        "GpuTensor::zeros",
        GpuTensor::zeros(g, "x", &[huge, 4, 8]).map(drop),
    );
    refused(
        "GpuTensor::from_slice",
        GpuTensor::from_slice(g, "x", &[0.0], &[huge, 4, 8]).map(drop),
    );
    let small = GpuTensor::zeros(g, "x", &[2, 4]).unwrap();
    refused("reshape", small.reshape(&[huge, 4, 8]).map(drop));
    let layer = lstm(3, 4);
    refused(
        "Rnn::forward_host, T",
        layer.forward_host(&[0.0; 3], huge, 4, None, None).map(drop),
    );
    refused(
        "Rnn::forward_host, B",
        layer.forward_host(&[0.0; 3], 4, huge, None, None).map(drop),
    );
    let config = StackConfig::new(RnnConfig::new(CellKind::Lstm, 3, 4).unwrap()).with_layers(2);
    let stack = RnnStack::new(g, &StackWeights::random(config, 1, 1.0).unwrap()).unwrap();
    refused(
        "RnnStack::forward_host",
        stack
            .forward_host(&[0.0; 3], huge, 4, None, None, None)
            .map(drop),
    );
    refused("RnnStack::stream", stack.stream(huge).map(drop));
    refused("Linear::random", Linear::random(g, (huge, 4), 0).map(drop));
}
