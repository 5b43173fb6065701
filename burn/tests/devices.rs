//! An app's own wgpu device, adopted by Burn and our kernels together.

mod common;

use burn::backend::wgpu::WgpuSetup;
use burn::nn::LstmConfig;
use common::*;
use wgpu_rnn_burn::Accelerated;

#[test]
fn an_apps_own_device_is_adopted_by_both() {
    // The app's device, made the way Burn asks: the adapter's features
    // and limits (Burn picks its kernels from the adapter's features).
    let ours = wgpu_rnn::Gpu::new().expect("a wgpu adapter (lavapipe on CI)");
    let (instance, adapter) = (
        ours.instance().expect("our own").clone(),
        ours.adapter().clone(),
    );
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("the app's device"),
        required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .expect("a device");
    let backend = adapter.get_info().backend;
    let setup = WgpuSetup {
        instance,
        adapter,
        device: device.clone(),
        queue,
        backend,
    };
    let burn_device = wgpu_rnn_burn::adopt(setup).expect("adopted");
    let gpu = wgpu_rnn_burn::gpu_for(&burn_device).expect("registered");
    assert!(
        gpu.device() == &device,
        "our kernels run on the app's device"
    );

    let dev = burn_device.autodiff();
    let lstm = seeded(LstmConfig::new(3, 5, true).init(&dev), 100);
    let x = uniform([2, 4, 3], 1.0, 101, &dev).require_grad();
    assert_eq!(lstm.fallback_reason(&x), None);
    let (y, _) = lstm.forward_accelerated(x.clone(), None);
    let (yb, _) = lstm.forward(x.clone(), None);
    assert_close("y", &y, &yb, TOL);
    let (g, gb) = ((y * 2.0).sum().backward(), (yb * 2.0).sum().backward());
    assert_leaf_grad("dx", &x, (&g, &gb));
}
