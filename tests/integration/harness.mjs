// Test harness: starts the real embedjobs binary on port 0 in a fresh data dir, and helpers
// shared by the integration tests (polling, raw HTTP, Avro part download and decoding, checks
// on embed-result rows).
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import avro from "avsc";
import { CohereClient } from "cohere-ai";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..");
/** The path of a model fixture folder under tests/data. */
export const fixture = (name) => path.join(repoRoot, "tests", "data", name);

/** max |a[i] - b[i]| of two equally long vectors. */
export function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export const binary = process.env.EMBEDJOBS_BIN || path.join(repoRoot, "build", "embedjobs");

export const KEY_A = "it-key-alpha-0123456789";
export const KEY_B = "it-key-bravo-9876543210";

/**
 * EJ_IT_PG (a PostgreSQL server URL, e.g. scripts/pg_test_server.sh's): every process started
 * without its own --store runs on PostgreSQL instead of SQLite, on a database of its own per
 * data dir (made on first use), so that a restart on the same data dir finds its state again.
 */
const itPg = process.env.EJ_IT_PG || "";
const pgDatabases = new Set();
function pgStoreFor(dataDir) {
  const name = "ej_it_" + crypto.createHash("sha1").update(dataDir).digest("hex").slice(0, 16);
  if (!pgDatabases.has(name)) {
    const exists = execFileSync("psql", [itPg, "-tAc", `SELECT 1 FROM pg_database WHERE datname = '${name}'`], {
      stdio: ["ignore", "pipe", "pipe"],
    }).toString().trim();
    if (exists !== "1") execFileSync("psql", [itPg, "-qc", `CREATE DATABASE ${name}`], { stdio: ["ignore", "pipe", "pipe"] });
    pgDatabases.add(name);
  }
  const u = new URL(itPg);
  u.pathname = `/${name}`;
  return u.toString();
}

const live = new Set();
process.on("exit", () => {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

// Files (not directories) under `dir`, relative to it.
export function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p).map((f) => path.join(e.name, f)) : [e.name];
  });
}

export function makeDataDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "embedjobs-it-"));
}

/**
 * Starts `embedjobs serve` and resolves once it printed "listening on HOST:PORT".
 * opts: dataDir (default: a new temp dir, removed by stop() unless keepDataDir), apiKeys,
 * chunkRows, leaseMs, failpoints (EMBEDJOBS_FAILPOINTS value), args (extra CLI args), noAuth.
 * Returns {url, dataDir, proc, stop(), kill(), logs()}.
 */
export async function startServer(opts = {}) {
  const args = ["serve", "--listen", "127.0.0.1:0"];
  for (const k of opts.apiKeys ?? [KEY_A, KEY_B]) args.push("--api-key", k);
  if (opts.noAuth) args.push("--no-auth");
  const started = await startProcess(args, opts, /listening on ([0-9.]+):(\d+)/, '"listening on"');
  return { url: `http://${started.match[1]}:${started.match[2]}`, ...started };
}

/**
 * Starts `embedjobs worker` (background work only, no HTTP) and resolves once it printed
 * "worker ready: ID". opts as for startServer (dataDir, chunkRows, leaseMs, failpoints, args).
 * Returns {workerId, dataDir, proc, exited, stop(), kill(), logs()}.
 */
export async function startWorker(opts = {}) {
  const started = await startProcess(["worker"], opts, /worker ready: (\S+)/, '"worker ready"');
  return { workerId: started.match[1], ...started };
}

// Spawns the binary with `args` + the common options and waits for `ready` on stdout.
async function startProcess(baseArgs, opts, ready, readyText) {
  if (!fs.existsSync(binary)) {
    throw new Error(`embedjobs binary not found at ${binary}: build it or set EMBEDJOBS_BIN`);
  }
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir || makeDataDir();
  const args = [...baseArgs, "--data-dir", dataDir];
  if (opts.chunkRows) args.push("--chunk-rows", String(opts.chunkRows));
  if (opts.leaseMs) args.push("--lease-ms", String(opts.leaseMs));
  if (opts.args) args.push(...opts.args);
  if (itPg && !args.includes("--store") && (baseArgs[0] === "serve" || baseArgs[0] === "worker")) {
    args.push("--store", pgStoreFor(dataDir));
  }
  const env = { ...process.env };
  delete env.EMBEDJOBS_FAILPOINTS;
  for (const k of Object.keys(env)) {
    if (k.startsWith("EMBEDJOBS_") && k !== "EMBEDJOBS_BIN") delete env[k];
  }
  if (opts.failpoints) env.EMBEDJOBS_FAILPOINTS = opts.failpoints;

  const proc = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  let out = "";
  let err = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    err += d;
    if (err.length > 200000) err = err.slice(-100000);
  });
  proc.stdout.setEncoding("utf8");
  const exited = new Promise((resolve) =>
    proc.on("exit", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }),
  );

  const match = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${baseArgs[0]} did not print ${readyText} within 20 s\nstderr:\n${err}`));
    }, 20000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${baseArgs[0]} exited early (code ${code}, signal ${signal})\nstderr:\n${err}`));
    });
  });

  let stopped = false;
  const cleanup = () => {
    if (ownDir && !opts.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    match,
    dataDir,
    proc,
    exited,
    logs: () => err,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the temp data dir. */
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
        await exited;
        clearTimeout(t);
      }
      cleanup();
    },
    /** SIGKILL, wait for exit; keeps the data dir. */
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
}

export function client(url, token = KEY_A) {
  return new CohereClient({ token, environment: url });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls fn() until pred(value) is true; returns the value. */
export async function poll(fn, pred, { timeoutMs = 60000, intervalMs = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until a dataset leaves queued/processing; returns the final dataset (SDK shape). */
export async function waitDataset(co, id, timeoutMs = 60000) {
  const res = await poll(
    async () => {
      const r = await co.datasets.get(id);
      const st = r.dataset.validationStatus;
      // Never unknown/skipped: python's co.wait treats both as failure.
      assert.ok(["queued", "processing", "validated", "failed"].includes(st), `dataset ${id}: status ${st}`);
      assert.ok(Array.isArray(r.dataset.datasetParts), `dataset ${id}: dataset_parts must always be sent`);
      return r;
    },
    (r) => !["queued", "processing", "unknown"].includes(r.dataset.validationStatus),
    { timeoutMs, what: `dataset ${id} to finish validation` },
  );
  return res.dataset;
}

export async function waitValidated(co, id, timeoutMs = 60000) {
  const ds = await waitDataset(co, id, timeoutMs);
  assert.equal(ds.validationStatus, "validated", `dataset ${id}: ${ds.validationError ?? ""}`);
  return ds;
}

export const TERMINAL_JOB = ["complete", "cancelled", "failed"];

export const JOB_STATUSES = ["processing", "complete", "cancelling", "cancelled", "failed"];

/** Polls a job until its status is in `statuses`; checks every status seen is in the
 * five-value enum and that percent_complete stays in 0..100 and never goes down. */
export async function waitJob(co, id, timeoutMs = 120000, statuses = TERMINAL_JOB) {
  let lastPercent = -1;
  const get = async () => {
    const j = await co.embedJobs.get(id);
    assert.ok(JOB_STATUSES.includes(j.status), `job ${id}: status ${j.status} is not in the enum`);
    const p = j.percent_complete;
    assert.equal(typeof p, "number", `job ${id}: percent_complete missing`);
    assert.ok(p >= 0 && p <= 100, `job ${id}: percent_complete ${p}`);
    assert.ok(p >= lastPercent, `job ${id}: percent_complete went from ${lastPercent} to ${p}`);
    lastPercent = p;
    return j;
  };
  return poll(get, (j) => statuses.includes(j.status), {
    timeoutMs,
    intervalMs: 150,
    what: `embed job ${id} to reach ${statuses.join("|")}`,
  });
}

/** Plain HTTP to the server; returns {status, headers, text, json}. */
export async function raw(url, method, pathname, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  let payload = body;
  if (body !== undefined && typeof body !== "string" && !(body instanceof FormData)) {
    payload = JSON.stringify(body);
    h["Content-Type"] = "application/json";
  }
  const res = await fetch(url + pathname, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Decodes an Avro object container file held in a Buffer. */
export async function decodeAvro(buf) {
  const decoder = new avro.streams.BlockDecoder();
  let schema;
  let codec;
  decoder.on("metadata", (type, c) => {
    schema = type.schema();
    codec = c;
  });
  const records = [];
  const done = new Promise((resolve, reject) => {
    decoder.on("data", (r) => records.push(r));
    decoder.on("end", resolve);
    decoder.on("error", reject);
  });
  decoder.end(buf);
  await done;
  return { records, schema, codec };
}

/**
 * Downloads every part of a validated dataset with plain fetch and no Authorization header,
 * decodes the Avro, and returns the records of all parts in part-index order.
 */
export async function downloadRecords(dataset) {
  return (await downloadParts(dataset)).records;
}

/**
 * Like downloadRecords, and also checks that every part's Avro schema is the one the dataset
 * advertises in `schema` (a JSON string). Returns {records, schema}.
 */
export async function downloadParts(dataset) {
  const advertised = avro.Type.forSchema(JSON.parse(dataset.schema)).schema();
  const parts = [...(dataset.datasetParts ?? [])];
  assert.ok(parts.length > 0, `dataset ${dataset.id} has no dataset_parts`);
  parts.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const all = [];
  for (const p of parts) {
    assert.ok(p.url, `part ${p.id} has no url`);
    assert.match(p.url, /^https?:\/\//, "part url must be absolute");
    const res = await fetch(p.url); // no credentials on purpose
    assert.equal(res.status, 200, `GET ${p.url} -> ${res.status}`);
    assert.equal(res.headers.get("content-encoding"), null, "part must not be content-encoded");
    const buf = Buffer.from(await res.arrayBuffer());
    assert.equal(buf.subarray(0, 4).toString("latin1"), "Obj\x01", "part is not an Avro container file");
    const { records, codec, schema } = await decodeAvro(buf);
    assert.deepEqual(schema, advertised, `part ${p.index}: Avro schema differs from dataset.schema`);
    assert.ok(["null", "deflate"].includes(codec), `unexpected Avro codec ${codec}`);
    if (p.numRows !== undefined) assert.equal(records.length, p.numRows, `part ${p.index} num_rows`);
    all.push(...records);
  }
  return { records: all, schema: advertised };
}

const TYPES = ["float", "int8", "uint8", "binary", "ubinary"];

/** Checks one embed-result record against the row it came from. */
export function checkEmbedRecord(rec, { text, kept = {}, dims, types = TYPES, bitRule = false, calib }, where = "") {
  assert.equal(rec.text, text, `${where} text`);
  for (const [k, v] of Object.entries(kept)) assert.deepEqual(rec[k], v, `${where} kept field ${k}`);
  const e = rec.embeddings;
  assert.ok(e && typeof e === "object", `${where} embeddings missing`);
  for (const t of TYPES) {
    assert.ok(t in e, `${where} embeddings.${t} must be present (null when not requested)`);
    if (!types.includes(t)) assert.equal(e[t], null, `${where} embeddings.${t} must be null`);
  }
  const packed = Math.ceil(dims / 8);
  const f = e.float;
  if (types.includes("float")) {
    assert.ok(Array.isArray(f), `${where} float is not an array`);
    assert.equal(f.length, dims, `${where} float length`);
    const norm = Math.sqrt(f.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `${where} float norm ${norm}`);
    assert.ok(f.every(Number.isFinite), `${where} float has non-finite values`);
  }
  const list = (t) => Array.from(e[t]); // arrays, or Buffers if the server used Avro bytes
  if (types.includes("int8")) {
    const v = list("int8");
    assert.equal(v.length, dims, `${where} int8 length`);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= -128 && x <= 127), `${where} int8 range`);
  }
  if (types.includes("uint8")) {
    const v = list("uint8");
    assert.equal(v.length, dims, `${where} uint8 length`);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255), `${where} uint8 range`);
  }
  if (types.includes("int8") && types.includes("uint8")) {
    const i8 = list("int8");
    const u8 = list("uint8");
    for (let i = 0; i < dims; i++) assert.equal(i8[i], u8[i] - 128, `${where} int8[${i}] != uint8-128`);
  }
  if (types.includes("binary")) {
    const v = list("binary");
    assert.equal(v.length, packed, `${where} binary length`);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= -128 && x <= 127), `${where} binary range`);
  }
  if (types.includes("ubinary")) {
    const v = list("ubinary");
    assert.equal(v.length, packed, `${where} ubinary length`);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255), `${where} ubinary range`);
  }
  if (types.includes("binary") && types.includes("ubinary")) {
    const b = list("binary");
    const u = list("ubinary");
    for (let i = 0; i < packed; i++) assert.equal(b[i], u[i] - 128, `${where} binary[${i}] != ubinary-128`);
  }
  if (bitRule && types.includes("float") && types.includes("ubinary")) {
    const u = list("ubinary");
    for (let i = 0; i < dims; i++) {
      const bit = (u[i >> 3] >> (7 - (i & 7))) & 1;
      assert.equal(bit, f[i] > 0 ? 1 : 0, `${where} ubinary bit ${i} (float ${f[i]})`);
    }
  }
  if (bitRule && types.includes("float") && types.includes("uint8")) {
    const u8 = list("uint8");
    // Quantization is monotone in the float value...
    const order = [...f.keys()].sort((a, b) => f[a] - f[b]);
    for (let k = 1; k < order.length; k++) {
      assert.ok(u8[order[k]] >= u8[order[k - 1]], `${where} uint8 not monotone in float`);
    }
    // ...and, when the server reports its calibration range, follows it (to within rounding).
    if (calib) {
      const [lo, hi] = calib;
      for (let i = 0; i < dims; i++) {
        const want = Math.min(255, Math.max(0, ((f[i] - lo) * 255) / (hi - lo)));
        assert.ok(Math.abs(u8[i] - want) <= 0.51, `${where} uint8[${i}]=${u8[i]}, float ${f[i]} -> ${want}`);
      }
    }
  }
}

/** CSV field quoting (RFC 4180). */
export function csvField(s) {
  s = String(s);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Deterministic pseudo-random words, so the tests are reproducible but the rows differ. */
export function makeTexts(n, seed = 1) {
  const words = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "embedding", "vector", "dataset",
    "avro", "über", "café", "naïve", "日本語", "données",
  ];
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(rnd() * 12);
    const w = [];
    for (let j = 0; j < len; j++) w.push(words[Math.floor(rnd() * words.length)]);
    out.push(`row ${i}: ${w.join(" ")}`);
  }
  return out;
}

/** Asserts that an SDK call rejects with the given error class and status; returns the error. */
export async function expectApiError(promise, ErrorClass, status) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${ErrorClass.name} (${status}), but the call succeeded`);
  assert.ok(
    err instanceof ErrorClass,
    `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message} ${JSON.stringify(err?.body)}`,
  );
  assert.equal(err.statusCode, status);
  assert.ok(err.body && typeof err.body === "object", `error body is not JSON: ${JSON.stringify(err.body)}`);
  assert.equal(typeof err.body.message, "string", "error body has no message");
  assert.ok(err.body.message.length > 0, "error message is empty");
  return err;
}
