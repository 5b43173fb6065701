// Drives Debian's headless Chromium (through playwright-core) over the pages
// served on 127.0.0.1:
//   node drive.mjs check [--steps N] [--t T] [--screenshot PATH]
//       the training page: every loss finite, the gated cells below the RNN
//   node drive.mjs bench [--reps N]
//       the bench page: one JSON line per configuration and mode
// Exit status 0 when the checks hold.
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [mode, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : fallback;
};

const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  // TensorFlow.js's WebGL back end on the CPU's SwiftShader.
  '--enable-unsafe-swiftshader',
  '--disable-dev-shm-usage',
  // This machine's network is closed: no background connections.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function open(path, timeoutMs) {
  const { server, url } = await serve(0);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  const page = await browser.newPage({ viewport: { width: 980, height: 900 } });
  page.on('console', (m) => console.error(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${url}/${path}`);
  const close = async () => {
    await browser.close();
    server.close();
  };
  try {
    await page.waitForFunction(() => window.__result?.done, null, { timeout: timeoutMs, polling: 500 });
  } catch (e) {
    await close();
    throw e;
  }
  const result = await page.evaluate(() => window.__result);
  return { page, result, close };
}

const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

async function check() {
  const steps = Number(option('steps', 500));
  const t = Number(option('t', 50));
  const { page, result, close } = await open(`index.html?steps=${steps}&t=${t}`, 30 * 60 * 1000);
  const shot = option('screenshot');
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await close();
  if (result.error) throw new Error(`the page failed: ${result.error}`);
  const tail = Object.fromEntries(
    Object.entries(result.losses).map(([cell, losses]) => [cell, mean(losses.slice(-20))]),
  );
  console.log(JSON.stringify({ adapter: result.adapter, steps, t, seconds: result.seconds,
    final_loss: tail, ms_per_step: result.ms_per_step }));
  const failures = [];
  for (const [cell, losses] of Object.entries(result.losses)) {
    if (losses.length !== steps) failures.push(`${cell}: ${losses.length} losses, expected ${steps}`);
    if (!losses.every(Number.isFinite)) failures.push(`${cell}: a loss is not finite`);
  }
  for (const gated of ['lstm', 'gru']) {
    if (!(tail[gated] < tail.rnn)) failures.push(`${gated} ends at ${tail[gated]}, not below the RNN's ${tail.rnn}`);
  }
  if (failures.length) throw new Error(failures.join('; '));
  console.error(`web-check: every loss finite; LSTM ${tail.lstm.toFixed(4)} and GRU ${tail.gru.toFixed(4)} below the RNN's ${tail.rnn.toFixed(4)}`);
}

async function bench() {
  const reps = Number(option('reps', 5));
  const { result, close } = await open(`bench.html?reps=${reps}`, 60 * 60 * 1000);
  await close();
  if (result.error) throw new Error(`the bench page failed: ${result.error}`);
  console.error(`adapter: ${result.adapter}`);
  for (const row of result.rows) console.log(JSON.stringify(row));
  // Every back end ran, and TF.js computed what we did: the same LSTM
  // output (infer) and the same first-step loss (train), to float32 rounding.
  const failures = [];
  for (const row of result.rows) {
    for (const key of ['ours_s', 'tfjs_webgpu_s', 'tfjs_webgl_s']) {
      if (!(row[key] > 0)) failures.push(`${row.config} ${row.mode}: no ${key}`);
    }
    if (!(row.max_abs_diff <= 1e-4)) failures.push(`${row.config} ${row.mode}: max_abs_diff ${row.max_abs_diff}`);
  }
  if (failures.length) throw new Error(failures.join('; '));
}

const modes = { check, bench };
if (!modes[mode]) {
  console.error('usage: node drive.mjs check|bench [options]');
  process.exit(2);
}
modes[mode]().catch((e) => {
  console.error(`${mode}: ${e.message ?? e}`);
  process.exit(1);
});
