//! An app's own device passed in with `Gpu::from_wgpu`: with no optional
//! feature and wgpu's default limits every cell still runs forward and
//! backward (on the plain kernels) and matches the f64 reference; with the
//! recommended features and limits it does too, on the fast paths.

mod common;

use common::training::{case, check_on};
use common::{check_stack_on, StackCase};
use wgpu_rnn::train::TrainOptions;
use wgpu_rnn::{wgpu, CellKind, Gpu, RnnConfig, StackConfig, StackWeights};

/// A device the test makes itself on the default adapter, as an app would.
fn app_device(features: wgpu::Features, limits: wgpu::Limits) -> Gpu {
    app_device_tuned(features, limits, &wgpu_rnn::AdapterSelector::from_env())
}

/// [`app_device`] with kernel choices forced.
fn app_device_tuned(
    features: wgpu::Features,
    limits: wgpu::Limits,
    tuning: &wgpu_rnn::AdapterSelector,
) -> Gpu {
    let ours = common::gpu();
    let adapter = ours.adapter();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("the app's device"),
        required_features: features,
        required_limits: limits,
        ..Default::default()
    }))
    .expect("the adapter gives a device with default limits");
    Gpu::from_wgpu_tuned(adapter, device, queue, tuning)
}

/// Every cell forward (awkward sizes, two layers, h0/c0) and backward.
fn every_cell_matches(gpu: &Gpu) {
    for cell in CellKind::ALL {
        for (input, hidden, seq, batch) in [(1, 1, 1, 1), (3, 67, 5, 3)] {
            let layer = RnnConfig::new(cell, input, hidden).unwrap();
            let config = StackConfig::new(layer).with_layers(2);
            let weights = StackWeights::random(config, 7, 1.0).unwrap();
            let case = StackCase {
                seq,
                batch,
                lengths: None,
                with_h0: true,
                with_c0: true,
                seed: 3,
            };
            check_stack_on(gpu, &weights, &case);
            check_on(gpu, config, &case_of(seq, batch), TrainOptions::default());
        }
    }
}

fn case_of(seq: usize, batch: usize) -> common::training::Case {
    case(seq, batch, None, 11)
}

#[test]
fn a_bare_app_device_runs_every_cell() {
    let gpu = app_device(wgpu::Features::empty(), wgpu::Limits::default());
    let caps = gpu.capabilities();
    assert!(!caps.subgroup && !caps.shader_f16 && !caps.immediates && !caps.timestamp_query);
    assert!(!gpu.tuning().subgroup_kernels() && !gpu.tuning().immediates());
    eprintln!("bare device: {:?}", gpu.tuning());
    every_cell_matches(&gpu);
}

/// What a GPU takes on a bare device: workgroup tiles (within the default
/// 16 KiB of workgroup memory), one dispatch per step or persistent.
#[test]
fn a_bare_app_device_runs_the_gpu_paths() {
    for persistent in [false, true] {
        let tuning = wgpu_rnn::AdapterSelector {
            step_tiles: Some(true),
            persistent: Some(persistent),
            ..Default::default()
        };
        let gpu = app_device_tuned(wgpu::Features::empty(), wgpu::Limits::default(), &tuning);
        assert!(gpu.tuning().step_tiles());
        eprintln!("bare device, tiled: {:?}", gpu.tuning());
        every_cell_matches(&gpu);
    }
}

#[test]
fn an_app_device_with_the_recommended_features_runs_every_cell() {
    let adapter = common::gpu().adapter();
    let features = Gpu::recommended_features(adapter);
    let gpu = app_device(features, Gpu::recommended_limits(adapter));
    assert_eq!(gpu.capabilities(), common::gpu().capabilities());
    assert_eq!(gpu.tuning(), common::gpu().tuning());
    eprintln!("recommended features {features:?}: {:?}", gpu.tuning());
    every_cell_matches(&gpu);
}

/// Limits below what a kernel needs: a clear error that names the limit.
#[test]
fn limits_below_a_kernels_needs_are_errors() {
    let gpu = app_device(wgpu::Features::empty(), wgpu::Limits::downlevel_defaults());
    let layer = RnnConfig::new(CellKind::Lstm, 3, 5).unwrap();
    let weights = StackWeights::random(StackConfig::new(layer), 1, 1.0).unwrap();
    let r = wgpu_rnn::RnnStack::new(&gpu, &weights)
        .and_then(|s| s.forward_host(&[0.5; 6], 2, 1, None, None, None));
    match r {
        Err(wgpu_rnn::Error::OverLimit {
            limit_name,
            requested,
            limit,
            ..
        }) => {
            assert_eq!(limit_name, "max_storage_buffers_per_shader_stage");
            assert!(requested > limit && limit == 4, "{requested} > {limit}");
        }
        other => panic!("expected OverLimit, got {other:?}"),
    }
    // A storage binding below a layer's needs names that limit.
    let small = wgpu::Limits {
        max_storage_buffer_binding_size: 256,
        ..wgpu::Limits::default()
    };
    let gpu = app_device(wgpu::Features::empty(), small);
    let layer = RnnConfig::new(CellKind::Gru(wgpu_rnn::GruReset::After), 3, 67).unwrap();
    let weights = StackWeights::random(StackConfig::new(layer), 1, 1.0).unwrap();
    let err = wgpu_rnn::RnnStack::new(&gpu, &weights)
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("max_storage_buffer_binding_size") && text.contains("256"),
        "{text}"
    );
}
