// The training page: three cells on the adding problem, one step of each in
// turn, the loss curves redrawn after every round. The result is also left
// in window.__result for the headless check (web/drive.mjs check).
import init, { Lab, AddingRun } from './pkg/wgpu_rnn_web.js';
import { median, openLab, runPage } from './page.js';

const query = new URLSearchParams(location.search);
const number = (key, fallback) => {
  const v = Number(query.get(key) ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`?${key}= must be a positive number`);
  return v;
};
const CELLS = [
  { name: 'rnn', label: 'tanh RNN', color: '#d62728' },
  { name: 'lstm', label: 'LSTM', color: '#1f77b4' },
  { name: 'gru', label: 'GRU', color: '#2ca02c' },
];
const CHANCE = 1 / 6;

const status = document.getElementById('status');
const chart = document.getElementById('chart');
const tbody = document.querySelector('#table tbody');

function mean(values) {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

function draw(config, runs) {
  const ctx = chart.getContext('2d');
  const { width, height } = chart;
  const pad = { left: 60, right: 20, top: 20, bottom: 40 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  // Log scale from 1e-4 to 3: the first steps (MSE about 1) and a solved
  // task (the GRU reaches about 5e-4 in 500 steps) on one picture.
  const [lo, hi] = [Math.log10(1e-4), Math.log10(3)];
  const x = (step) => pad.left + (step / config.steps) * w;
  const y = (loss) => {
    const v = Math.min(Math.max(Math.log10(Math.max(loss, 1e-12)), lo), hi);
    return pad.top + h - ((v - lo) / (hi - lo)) * h;
  };
  ctx.clearRect(0, 0, width, height);
  ctx.font = '13px system-ui, sans-serif';
  ctx.strokeStyle = '#ccc';
  ctx.fillStyle = '#555';
  ctx.lineWidth = 1;
  for (const v of [0.0001, 0.001, 0.01, 0.1, 1]) {
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(pad.left + w, y(v));
    ctx.stroke();
    ctx.fillText(v < 0.001 ? '1e-4' : String(v), 22, y(v) + 4);
  }
  for (let s = 0; s <= config.steps; s += config.steps / 5) {
    ctx.fillText(String(Math.round(s)), x(s) - 8, height - 18);
  }
  ctx.fillText('Adam steps', pad.left + w / 2 - 30, height - 3);
  ctx.save();
  ctx.translate(12, pad.top + h / 2 + 40);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('MSE, log scale (running mean of 10)', -60, 0);
  ctx.restore();
  ctx.setLineDash([6, 4]);
  ctx.strokeStyle = '#888';
  ctx.beginPath();
  ctx.moveTo(pad.left, y(CHANCE));
  ctx.lineTo(pad.left + w, y(CHANCE));
  ctx.stroke();
  ctx.fillText('chance (1/6)', pad.left + w - 85, y(CHANCE) - 6);
  ctx.setLineDash([]);
  for (const run of runs) {
    ctx.strokeStyle = run.cell.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    run.losses.forEach((_, i) => {
      const smooth = mean(run.losses.slice(Math.max(0, i - 9), i + 1));
      if (i === 0) ctx.moveTo(x(i + 1), y(smooth));
      else ctx.lineTo(x(i + 1), y(smooth));
    });
    ctx.stroke();
  }
  CELLS.forEach((cell, i) => {
    ctx.fillStyle = cell.color;
    ctx.fillRect(pad.left + w - 330 + i * 110, pad.top + 8, 14, 14);
    ctx.fillStyle = '#222';
    ctx.fillText(cell.label, pad.left + w - 310 + i * 110, pad.top + 20);
  });
}

function table(runs) {
  tbody.innerHTML = runs
    .map((run) => {
      const recent = run.losses.slice(-10);
      return `<tr><td><span class="swatch" style="background:${run.cell.color}"></span>${run.cell.label}</td>` +
        `<td>${run.losses.length}</td><td>${recent.length ? mean(recent).toFixed(4) : '–'}</td>` +
        `<td>${run.ms.length ? median(run.ms.slice(-20)).toFixed(1) : '–'}</td></tr>`;
    })
    .join('');
}

async function main() {
  const config = {
    t: number('t', 50),
    steps: number('steps', 500),
    batch: number('batch', 64),
    hidden: 32,
    lr: 0.01,
    seed: number('seed', 1),
  };
  document.getElementById('seq').textContent = config.t;
  document.getElementById('hidden').textContent = config.hidden;
  await init();
  const { lab, adapter } = await openLab(Lab);
  document.getElementById('adapter').textContent = adapter;
  const runs = CELLS.map((cell) => ({
    cell,
    run: new AddingRun(lab, cell.name, config.t, config.hidden, config.batch, config.lr, config.seed),
    losses: [],
    ms: [],
  }));
  const started = performance.now();
  for (let step = 1; step <= config.steps; step++) {
    for (const r of runs) {
      const t0 = performance.now();
      const loss = await r.run.step();
      r.ms.push(performance.now() - t0);
      r.losses.push(loss);
    }
    draw(config, runs);
    table(runs);
    status.textContent = `step ${step} of ${config.steps}`;
  }
  const seconds = (performance.now() - started) / 1000;
  status.textContent = `done: ${config.steps} steps of each cell in ${seconds.toFixed(1)} s`;
  window.__result = {
    done: true,
    adapter,
    config,
    seconds,
    losses: Object.fromEntries(runs.map((r) => [r.cell.name, r.losses])),
    ms_per_step: Object.fromEntries(runs.map((r) => [r.cell.name, median(r.ms)])),
  };
}

runPage(main, status);
