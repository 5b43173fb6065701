// Opens our device and names the adapter as the browser does (wgpu's WebGPU
// back end sees no adapter name): shared by the pages.
export async function openLab(Lab) {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const gpuAdapter = await navigator.gpu.requestAdapter();
  const info = gpuAdapter?.info ?? {};
  const named = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const lab = await Lab.open();
  return { lab, adapter: `${named || 'unnamed adapter'} (${lab.backend()})` };
}
