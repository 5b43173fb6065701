//! One wgpu device for Burn and for our kernels: made by Burn and shared
//! with us ([`init`]), or an app's own device adopted by both ([`adopt`]).
//! Our kernels run only on devices registered here; a Burn tensor on any
//! other device takes Burn's own forward.

use std::sync::Mutex;

use burn::backend::wgpu::{WgpuDevice, WgpuSetup};
use burn::tensor::Device;
use wgpu_rnn::Gpu;

use crate::Error;

/// Every device registered through [`init`] or [`adopt`], with our handle
/// on it. A handful at most: searched in order.
static DEVICES: Mutex<Vec<(WgpuDevice, Gpu)>> = Mutex::new(Vec::new());

/// Burn creates its default wgpu device (the adapter Burn picks) and shares
/// it with our kernels. Use the returned `Device` for the module and the
/// tensors; `device.autodiff()` for training.
pub fn init() -> Result<Device, Error> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| Error::Device(e.to_string()))?;
    register(&device, &setup)?;
    Ok(device)
}

/// Burn and our kernels adopt an app's wgpu device and queue. Create the
/// device with the adapter's features and limits: Burn chooses its kernels
/// from `setup.adapter.features()`. Call it once per device (each call
/// registers a new Burn runtime) and clone the returned `Device`.
pub fn adopt(setup: WgpuSetup) -> Result<Device, Error> {
    let device = Device::wgpu_options()
        .setup(setup.clone())
        .init()
        .map_err(|e| Error::Device(e.to_string()))?;
    register(&device, &setup)?;
    Ok(device)
}

fn register(device: &Device, setup: &WgpuSetup) -> Result<(), Error> {
    let wgpu_device = wgpu_device_of(device).ok_or_else(|| {
        Error::Device(format!("Burn made {device:?}, which is not a wgpu device"))
    })?;
    let gpu = Gpu::from_wgpu(&setup.adapter, setup.device.clone(), setup.queue.clone());
    DEVICES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((wgpu_device, gpu));
    Ok(())
}

/// The wgpu device under a Burn device (with or without autodiff).
fn wgpu_device_of(device: &Device) -> Option<WgpuDevice> {
    use burn::backend::DispatchDevice;
    use burn_cubecl::cubecl::Device as CubeDevice;
    let mut dispatch: &DispatchDevice = device.as_dispatch();
    while let DispatchDevice::Autodiff(inner) = dispatch {
        dispatch = inner;
    }
    match dispatch {
        DispatchDevice::Cube(CubeDevice::Wgpu(d)) => Some(d.clone()),
        _ => None,
    }
}

/// wgpu-rnn's handle on a device registered by [`init`] or [`adopt`]
/// (with or without autodiff): to use wgpu-rnn's own API beside Burn on
/// the same device and queue. `None` for any other device.
pub fn gpu_for(device: &Device) -> Option<Gpu> {
    let wgpu_device = wgpu_device_of(device)?;
    gpu_for_wgpu(&wgpu_device)
}

/// Our handle on a registered wgpu device.
pub(crate) fn gpu_for_wgpu(device: &WgpuDevice) -> Option<Gpu> {
    DEVICES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(d, _)| d == device)
        .map(|(_, gpu)| gpu.clone())
}
