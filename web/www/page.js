// What the pages share: opening our device with the adapter named, the
// median of a series, and running a page's main so that its end, success or
// failure, is left in window.__result for web/drive.mjs.

// Opens our device and names the adapter as the browser does (wgpu's WebGPU
// back end sees no adapter name).
export async function openLab(Lab) {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  const gpuAdapter = await navigator.gpu.requestAdapter();
  const info = gpuAdapter?.info ?? {};
  const named = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const lab = await Lab.open();
  return { lab, adapter: `${named || 'unnamed adapter'} (${lab.backend()})` };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// Runs `main`, which leaves its own result in window.__result; a failure is
// shown in `status` and left there too.
export function runPage(main, status) {
  main().catch((e) => {
    status.textContent = `error: ${e.message ?? e}`;
    status.className = 'error';
    window.__result = { done: true, error: String(e.message ?? e) };
  });
}
