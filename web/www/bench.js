// The bench page: our LSTM against TensorFlow.js's WebGPU and WebGL back
// ends on the same weights and inputs, in the same page. Rows go to the
// table and to window.__result.rows for web/drive.mjs bench.
import init, { Lab, BenchLstm } from './pkg/wgpu_rnn_web.js';
import { median, openLab, runPage } from './page.js';

const tf = window.tf;
const query = new URLSearchParams(location.search);
const REPS = Number(query.get('reps') ?? 5);
// [B, T, I, H]
const CONFIGS = [[1, 64, 64, 64], [16, 64, 256, 256]];
const status = document.getElementById('status');
const tbody = document.querySelector('#table tbody');

// A seeded generator (mulberry32), so every run times the same numbers.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uniform = (n, k, next) => Float32Array.from({ length: n }, () => (2 * next() - 1) * k);
// [a, b, c] -> [b, a, c]
function swap01(v, a, b, c) {
  const out = new Float32Array(v.length);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++)
      out.set(v.subarray((i * b + j) * c, (i * b + j + 1) * c), (j * a + i) * c);
  return out;
}
// [rows, cols] -> [cols, rows]
function transpose(v, rows, cols) {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}
async function timed(run) {
  await run(); // warm-up: pipelines, allocations
  const seconds = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await run();
    seconds.push((performance.now() - t0) / 1000);
  }
  return median(seconds);
}
const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function tfjsLstm(backend, [B, T, I, H], w) {
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js back end ${backend} did not start`);
  await tf.ready();
  const model = tf.sequential();
  model.add(tf.layers.lstm({
    units: H,
    returnSequences: true,
    inputShape: [T, I],
    recurrentActivation: 'sigmoid', // its default is hardSigmoid
    kernelInitializer: 'zeros', // overwritten below; 'orthogonal' takes minutes at H=256
    recurrentInitializer: 'zeros',
    biasInitializer: 'zeros',
  }));
  // Its weights: kernel [I, 4H], recurrent_kernel [H, 4H], bias [4H], gates i, f, c, o.
  model.setWeights([
    tf.tensor2d(transpose(w.ih, 4 * H, I), [I, 4 * H]),
    tf.tensor2d(transpose(w.hh, 4 * H, H), [H, 4 * H]),
    tf.tensor1d(w.bih.map((v, i) => v + w.bhh[i])),
  ]);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  return model;
}

async function measure(lab, config) {
  const [B, T, I, H] = config;
  const next = generator(B * 1000 + H);
  const k = 1 / Math.sqrt(H);
  const w = {
    ih: uniform(4 * H * I, k, next),
    hh: uniform(4 * H * H, k, next),
    bih: uniform(4 * H, k, next),
    bhh: uniform(4 * H, k, next),
  };
  const x = uniform(B * T * I, 1, next); // [B, T, I], as TF.js takes it
  const target = uniform(B * T * H, 0.5, next); // [B, T, H]
  const xTime = swap01(x, B, T, I); // ours: [T, B, I]
  const targetTime = swap01(target, B, T, H);

  const ours = new BenchLstm(lab, B, T, I, H, w.ih, w.hh, w.bih, w.bhh);
  const ourOutput = swap01(await ours.infer(xTime), T, B, H); // -> [B, T, H]
  const oursInfer = await timed(() => ours.infer(xTime));
  // Training changes the weights: the first step's loss is compared first.
  const ourLoss = await new BenchLstm(lab, B, T, I, H, w.ih, w.hh, w.bih, w.bhh).train(xTime, targetTime);
  const oursTrain = await timed(() => ours.train(xTime, targetTime));

  const rows = {
    infer: { config: config.join(' '), mode: 'infer', ours_s: oursInfer, max_abs_diff: 0 },
    train: { config: config.join(' '), mode: 'train', ours_s: oursTrain, max_abs_diff: 0 },
  };
  for (const backend of ['webgpu', 'webgl']) {
    const key = `tfjs_${backend}_s`;
    status.textContent = `${config.join(' ')}: TF.js ${backend}…`;
    try {
      // The back end first: tensors made before it belong to the previous one.
      let model = await tfjsLstm(backend, config, w);
      const xt = tf.tensor3d(x, [B, T, I]);
      const yt = tf.tensor3d(target, [B, T, H]);
      const y = model.predict(xt);
      const theirs = await y.data();
      y.dispose();
      rows.infer.max_abs_diff = Math.max(rows.infer.max_abs_diff, maxAbsDiff(ourOutput, theirs));
      rows.infer[key] = await timed(async () => {
        const out = model.predict(xt);
        await out.data();
        out.dispose();
      });
      model.dispose();
      model = await tfjsLstm(backend, config, w);
      const theirLoss = await model.trainOnBatch(xt, yt);
      rows.train.max_abs_diff = Math.max(rows.train.max_abs_diff, Math.abs(theirLoss - ourLoss));
      rows.train[key] = await timed(() => model.trainOnBatch(xt, yt));
      model.dispose();
      xt.dispose();
      yt.dispose();
    } catch (e) {
      console.error(`TF.js ${backend}: ${e.message ?? e}`);
      rows.infer[key] = rows.train[key] = null;
    }
  }
  return [rows.infer, rows.train];
}

function show(rows) {
  const s = (v) => (v == null ? 'failed' : v.toPrecision(3));
  tbody.innerHTML = rows
    .map((r) => `<tr><td>${r.config}</td><td>${r.mode}</td><td>${s(r.ours_s)}</td>` +
      `<td>${s(r.tfjs_webgpu_s)}</td><td>${s(r.tfjs_webgl_s)}</td><td>${r.max_abs_diff.toExponential(1)}</td></tr>`)
    .join('');
}

async function main() {
  document.getElementById('reps').textContent = REPS;
  await init();
  const { lab, adapter } = await openLab(Lab);
  document.getElementById('adapter').textContent = adapter;
  const rows = [];
  for (const config of CONFIGS) {
    status.textContent = `${config.join(' ')}: ours…`;
    rows.push(...(await measure(lab, config)));
    show(rows);
  }
  status.textContent = 'done';
  window.__result = { done: true, adapter, rows };
}

runPage(main, status);
