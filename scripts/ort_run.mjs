#!/usr/bin/env node
// Run an ONNX model with ONNX Runtime (CPU) — cvtool's reference peer.
//
//   ort_run.mjs MODEL.onnx [--input NAME=FILE.npy ...] [--shape NAME=1x3x224x224 ...]
//               [--output-dir DIR] [--threads N] [--warmup W] [--repeat R] [--seed S]
//               [--config KEY=VALUE ...] [--profile]
//
// Writes each output to DIR/<output name>.npy (characters outside
// [A-Za-z0-9._-] become '_') and prints JSON on stdout:
//   {model, ort_version, threads, inputs:[...], outputs:[{name,shape,dtype,file}],
//    latency_ms:{median,min,max}}
// Inputs not given with --input are seeded random: N(0,1) for floats, small
// non-negative ints otherwise; dynamic dims are 1 unless --shape overrides;
// with --output-dir they are saved as DIR/inputs/<input name>.npy.
// --config sets an ORT session config entry, e.g. session.x64quantprecision=1
// (exact u8u8 int8 products on x86 CPUs without VNNI instead of saturating u8s8).
// --profile adds "profile": ORT's own per-node kernel times, in execution order,
// each the median over the timed runs: [{name, op, shape (of output 0), ms}] (scripts/bench_nodes).
// ORT is loaded from $CVTOOL_ORT_DIR or <repo>/.cache/ort (scripts/setup_ort.sh).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const die = (msg) => { process.stderr.write(`ort_run: ${msg}\n`); process.exit(1); };

// libonnxruntime leaves an empty mat-debug-<pid>.log in the temp directory on every
// run; the bench and the tests run it hundreds of times.
process.on('exit', () => {
  const log = path.join(os.tmpdir(), `mat-debug-${process.pid}.log`);
  try {
    if (fs.statSync(log).size === 0) fs.unlinkSync(log);
  } catch { /* not there: nothing to do */ }
});

// ---- minimal .npy (v1/v2 read, v1 write), little-endian, C order ----
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
};
const DESCR_OF = Object.fromEntries(Object.entries(NPY_TYPES).map(([d, [t]]) => [t, d]));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') die(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) die(`${file}: bad .npy header`);
  if (fortran === 'True') die(`${file}: Fortran-order arrays are not supported`);
  const type = NPY_TYPES[descr.replace(/^=/, '<')];
  if (!type) die(`${file}: unsupported dtype ${descr}`);
  const shape = shapeStr.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [dtype, Ctor] = type;
  const start = hstart + hlen;
  const bytes = buf.subarray(start, start + count * Ctor.BYTES_PER_ELEMENT);
  if (bytes.length !== count * Ctor.BYTES_PER_ELEMENT) die(`${file}: truncated data`);
  const data = new Ctor(count);
  new Uint8Array(data.buffer).set(bytes);  // copy: alignment-safe
  return { dtype, shape, data: dtype === 'bool' ? Uint8Array.from(data, (v) => (v ? 1 : 0)) : data };
}

function writeNpy(file, dtype, shape, data) {
  const descr = DESCR_OF[dtype];
  if (!descr) die(`cannot write dtype ${dtype} to .npy`);
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shp}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const raw = dtype === 'bool' ? Uint8Array.from(data, (v) => (v ? 1 : 0)) : data;
  const body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

const safeName = (name) => name.replace(/[^A-Za-z0-9._-]/g, '_');

// ---- seeded random inputs (mulberry32 + Box-Muller) ----
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTensor(ort, type, shape, rand) {
  const n = shape.reduce((a, b) => a * b, 1);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const gen = {
    float32: () => Float32Array.from({ length: n }, normal),
    float64: () => Float64Array.from({ length: n }, normal),
    int64: () => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * 10))),
    int32: () => Int32Array.from({ length: n }, () => Math.floor(rand() * 10)),
    uint8: () => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)),
    bool: () => Uint8Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0)),
  }[type];
  if (!gen) die(`cannot make random input of type ${type}`);
  return new ort.Tensor(type, gen(), shape);
}

// ---- --profile: per-node kernel times from ORT's Chrome-trace profile ----
// Median of an ascending array.
const medianOf = (sorted) => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/* Each node has one "<name>_kernel_time" event per run; the last `repeat` are the timed runs. */
function nodeProfile(dir, repeat) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) die(`expected one profile file in ${dir}, found ${files.length}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  const nodes = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const shape = Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? null;
    if (!nodes.has(name)) nodes.set(name, { op: e.args?.op_name ?? '', shape, us: [] });
    nodes.get(name).us.push(e.dur);
  }
  return [...nodes].map(([name, { op, shape, us }]) => {
    const timed = us.slice(-repeat).sort((x, y) => x - y);
    return { name, op, shape, ms: Math.round(medianOf(timed)) / 1000 };
  });
}

// ---- CLI ----
function parseArgs(argv) {
  const a = {
    inputs: {}, shapes: {}, config: {}, profile: false, outDir: null, threads: 1, warmup: 0, repeat: 1, seed: 0, model: null,
  };
  const kv = (s, flag) => {
    const i = s?.indexOf('=') ?? -1;
    if (i <= 0) die(`${flag} expects NAME=VALUE, got ${s}`);
    return [s.slice(0, i), s.slice(i + 1)];
  };
  const int = (s, flag, min) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < min) die(`${flag} expects an integer >= ${min}, got ${s}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const next = () => { if (i + 1 >= argv.length) die(`${f} needs a value`); return argv[++i]; };
    if (f === '--input') { const [k, v] = kv(next(), f); a.inputs[k] = v; }
    else if (f === '--shape') { const [k, v] = kv(next(), f); a.shapes[k] = v.split('x').map((d) => int(d, f, 0)); }
    else if (f === '--config') { const [k, v] = kv(next(), f); a.config[k] = v; }
    else if (f === '--output-dir') a.outDir = next();
    else if (f === '--threads') a.threads = int(next(), f, 1);
    else if (f === '--warmup') a.warmup = int(next(), f, 0);
    else if (f === '--repeat') a.repeat = int(next(), f, 1);
    else if (f === '--seed') a.seed = int(next(), f, 0);
    else if (f === '--profile') a.profile = true;
    else if (f === '-h' || f === '--help') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else if (f.startsWith('--') || a.model) die(`unexpected argument ${f}`);
    else a.model = f;
  }
  if (!a.model) die('usage: ort_run.mjs MODEL.onnx [--input NAME=FILE.npy] [--output-dir DIR] [--threads N] [--warmup W] [--repeat R] (--help)');
  return a;
}

// onnxruntime-node takes config entries as nested objects: {session: {x64quantprecision: '1'}}.
function nestedConfig(flat) {
  const out = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = node[p] ??= {};
    node[parts.at(-1)] = value;
  }
  return out;
}

function loadOrt() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = process.env.CVTOOL_ORT_DIR || path.join(here, '..', '.cache', 'ort');
  try {
    const req = createRequire(path.join(path.resolve(dir), 'package.json'));
    return [req('onnxruntime-node'), req('onnxruntime-node/package.json').version];
  } catch (e) {
    die(`cannot load onnxruntime-node from ${dir} (run scripts/setup_ort.sh): ${e.message}`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const [ort, ortVersion] = loadOrt();
  if (!fs.existsSync(args.model)) die(`model not found: ${args.model}`);
  const profileDir = args.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'ort_profile_')) : null;
  if (profileDir) process.on('exit', () => fs.rmSync(profileDir, { recursive: true, force: true }));  // die() too
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'], intraOpNumThreads: args.threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
    extra: nestedConfig(args.config),
    ...(profileDir ? { enableProfiling: true, profileFilePrefix: path.join(profileDir, 'ort') } : {}),
  }).catch((e) => die(`failed to load ${args.model}: ${e.message}`));

  for (const k of [...Object.keys(args.inputs), ...Object.keys(args.shapes)]) {
    if (!session.inputNames.includes(k)) die(`model has no input '${k}' (inputs: ${session.inputNames.join(', ')})`);
  }
  if (args.outDir) fs.mkdirSync(args.outDir, { recursive: true });
  const rand = rng(args.seed);
  const feeds = {};
  const inputsInfo = [];
  for (const [i, name] of session.inputNames.entries()) {
    const meta = session.inputMetadata?.[i] ?? {};
    let t;
    if (args.inputs[name]) {
      const a = readNpy(args.inputs[name]);
      t = new ort.Tensor(a.dtype, a.data, a.shape);
    } else {
      const decl = meta.shape ?? [];
      const shape = args.shapes[name] ?? decl.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      t = randomTensor(ort, meta.type ?? 'float32', shape, rand);
    }
    feeds[name] = t;
    const info = { name, shape: [...t.dims], dtype: t.type, source: args.inputs[name] ?? 'random' };
    if (!args.inputs[name] && args.outDir) {  // keep generated inputs for cross-checks
      fs.mkdirSync(path.join(args.outDir, 'inputs'), { recursive: true });
      info.file = path.join(args.outDir, 'inputs', `${safeName(name)}.npy`);
      writeNpy(info.file, t.type, t.dims, t.data);
    }
    inputsInfo.push(info);
  }

  const times = [];
  let results;
  for (let r = 0; r < args.warmup + args.repeat; r++) {
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds).catch((e) => die(`inference failed: ${e.message}`));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= args.warmup) times.push(ms);
  }
  times.sort((x, y) => x - y);
  const median = medianOf(times);

  const outputs = session.outputNames.map((name) => {
    const t = results[name];
    const info = { name, shape: [...t.dims], dtype: t.type };
    if (args.outDir) {
      info.file = path.join(args.outDir, `${safeName(name)}.npy`);
      writeNpy(info.file, t.type, t.dims, t.data);
    }
    return info;
  });
  const r3 = (v) => Math.round(v * 1000) / 1000;
  const report = {
    model: args.model, ort_version: ortVersion, threads: args.threads, config: args.config, inputs: inputsInfo, outputs,
    latency_ms: { median: r3(median), min: r3(times[0]), max: r3(times[times.length - 1]) },
    runs: times.length, warmup: args.warmup,
  };
  if (profileDir) {
    await session.release();  // writes the profile file
    report.profile = nodeProfile(profileDir, args.repeat);
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
