// The cluster test (issue 13): one PostgreSQL, two API processes (`serve --no-work`), three
// workers (`embedjobs worker`), all on one data dir (the filesystem blob store on a "shared
// mount") and one PostgreSQL database. A 200,000-row job whose chunks all workers share (chunk
// leases: at least two must commit chunks of it); one worker is killed with SIGKILL while it
// holds chunks of it, its chunk is reclaimed by another, and it is started again later. The output must be exact: one row per
// input row, its Avro parts byte for byte equal (sync markers aside, which are random per file)
// to a single-process SQLite run's, and every listing must agree from either API process.
// Needs EMBEDJOBS_TEST_PG (a server where the tests may create databases; tests/cluster/run.sh
// starts one when it is unset).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import {
  startServer,
  startWorker,
  client,
  makeDataDir,
  poll,
  sleep,
  waitValidated,
  waitJob,
  decodeAvro,
} from "../integration/harness.mjs";

const ROWS = Number(process.env.EJ_CLUSTER_ROWS || 200000);
const CHUNK = 2000;
const LEASE_MS = 2000;
const MODEL = "embedjobs-lexical-v1";
const PG = process.env.EMBEDJOBS_TEST_PG;

const procs = [];
const dirs = [];
after(async () => {
  for (const p of procs) await p.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

// A fresh database on the test server: its URL.
function freshDatabase(name) {
  execFileSync("psql", [PG, "-q", "-c", `DROP DATABASE IF EXISTS ${name}`, "-c", `CREATE DATABASE ${name}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return u.toString();
}

function inputJsonl(n) {
  const words = "embedding vector search document query batch server dataset model token lease worker".split(" ");
  let out = "";
  for (let i = 0; i < n; i++) {
    const k = 3 + (i % 17);
    const t = [];
    for (let j = 0; j < k; j++) t.push(words[(i * 31 + j * 7) % words.length]);
    out += JSON.stringify({ text: `${t.join(" ")} ${i}`, seq: i }) + "\n";
  }
  return out;
}

async function runJob(co, body, name) {
  const { id } = await co.datasets.create(new File([body], `${name}.jsonl`), undefined, {
    name,
    type: "embed-input",
    keepFields: ["seq"],
  });
  await waitValidated(co, id, 300000);
  const { jobId } = await co.embedJobs.create({
    model: MODEL,
    datasetId: id,
    inputType: "search_document",
    embeddingTypes: ["float", "int8"],
    name,
  });
  return { datasetId: id, jobId };
}

// GET of a part, tried once more when the connection fails: decoding a part can keep the client
// busy for longer than the server keeps an idle keep-alive connection, and a pooled connection
// the server is closing just then fails (what every HTTP client's retry of an idempotent GET is
// for); the status must be 200 either way.
async function download(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url);
      assert.equal(res.status, 200, `GET ${url}`);
      return Buffer.from(await res.arrayBuffer());
    } catch (e) {
      if (attempt >= 2 || !(e instanceof TypeError)) throw e;
    }
  }
}

// The output parts, one at a time: each one's SHA-256 with its sync marker (the last 16 bytes of
// an Avro container file, random per file) blanked wherever it occurs, and the number of rows
// in it; with `checkSeq`, also that its rows carry seq 0, 1, 2, ... continuing across parts.
async function outputParts(co, jobId, checkSeq = false) {
  const done = await waitJob(co, jobId, 600000);
  assert.equal(done.status, "complete", JSON.stringify(done));
  const ds = (await co.datasets.get(done.outputDatasetId)).dataset;
  const parts = [...ds.datasetParts].sort((a, b) => a.index - b.index);
  const digests = [];
  let seq = 0;
  for (const p of parts) {
    const buf = await download(p.url);
    const sync = buf.subarray(buf.length - 16).toString("latin1");
    const blanked = Buffer.from(buf.toString("latin1").split(sync).join("<sync-marker-16>"), "latin1");
    digests.push(crypto.createHash("sha256").update(blanked).digest("hex"));
    if (checkSeq) {
      const { records } = await decodeAvro(buf);
      for (const r of records) assert.equal(Number(r.seq), seq++, "rows out of order or repeated");
    }
  }
  return { digests, rows: seq, job: done };
}

test(`a ${ROWS}-row job on 2 API processes + 3 workers over PostgreSQL, one worker SIGKILLed mid-chunk`, { skip: !PG && "EMBEDJOBS_TEST_PG is not set (tests/cluster/run.sh starts a server)" }, async (t) => {
  const body = inputJsonl(ROWS);

  // The reference: one process, SQLite.
  const single = await startServer({ chunkRows: CHUNK });
  procs.push(single);
  const ref = await runJob(client(single.url), body, "reference");
  const want = await outputParts(client(single.url), ref.jobId);
  await single.stop();

  // The cluster.
  const store = freshDatabase(`ej_cluster_${process.pid}`);
  const dataDir = makeDataDir();
  dirs.push(dataDir);
  const common = { dataDir, chunkRows: CHUNK, leaseMs: LEASE_MS };
  const storeArgs = ["--store", store];
  const api = [];
  for (let i = 0; i < 2; i++) {
    const s = await startServer({ ...common, args: [...storeArgs, "--no-work"] });
    procs.push(s);
    api.push(s);
  }
  // Every chunk waits 100 ms between its write and its commit, so a kill lands mid-chunk.
  const workerOpts = { ...common, args: storeArgs, failpoints: "job.before_commit=sleep:100" };
  const workers = [];
  for (let i = 0; i < 3; i++) {
    const w = await startWorker(workerOpts);
    procs.push(w);
    workers.push(w);
  }
  const co0 = client(api[0].url);
  const co1 = client(api[1].url);
  const { datasetId, jobId } = await runJob(co0, body, "clustered");

  // Wait until the job has a few chunks committed and some worker has committed chunks of it
  // (every worker claims chunks of the one job: chunk leases); kill that one mid-chunk.
  const committedBy = (w) => new RegExp(`job ${jobId}: chunk \\d+ committed by ${w.workerId}/`).test(w.logs());
  const holder = await poll(
    async () => {
      const j = await co1.embedJobs.get(jobId);
      if ((j.rows_done ?? 0) < 3 * CHUNK) return null;
      return workers.find((w) => w.alive() && committedBy(w)) ?? null;
    },
    (w) => w !== null,
    { timeoutMs: 120000, what: "a worker to have committed chunks of the job, 3 chunks in all" },
  );
  const rowsAtKill = (await co1.embedJobs.get(jobId)).rows_done ?? 0;
  await holder.kill();
  t.diagnostic(`killed worker ${holder.workerId} holding the job at ${rowsAtKill}/${ROWS} rows`);
  // The other workers go on; the killed one's chunk is reclaimed once its lease runs out; then
  // the killed one comes back.
  await poll(
    () => co0.embedJobs.get(jobId),
    (j) => (j.rows_done ?? 0) > rowsAtKill + CHUNK || j.status === "complete",
    { timeoutMs: 120000, what: "the job to move on after the kill" },
  );
  await sleep(1000);
  const again = await startWorker(workerOpts);
  procs.push(again);

  const got = await outputParts(co1, jobId, true);
  assert.equal(got.job.rows_done, ROWS);
  assert.equal(got.rows, ROWS, "one output row per input row, in order");
  assert.deepEqual(got.digests, want.digests, "the parts differ from the single-process run's");

  // Either API process lists the same jobs and datasets, and serves the other's signed URLs.
  const jobs0 = (await co0.embedJobs.list()).embedJobs.map((j) => [j.jobId, j.status]);
  const jobs1 = (await co1.embedJobs.list()).embedJobs.map((j) => [j.jobId, j.status]);
  assert.deepEqual(jobs0, jobs1);
  assert.ok(jobs0.some(([id]) => id === jobId));
  const ds0 = (await co0.datasets.list()).datasets.map((d) => d.id).sort();
  const ds1 = (await co1.datasets.list()).datasets.map((d) => d.id).sort();
  assert.deepEqual(ds0, ds1);
  assert.ok(ds0.includes(datasetId) && ds0.includes(got.job.outputDatasetId));
  const viaOther = (await co0.datasets.get(got.job.outputDatasetId)).dataset.datasetParts[0].url;
  const url1 = new URL(viaOther);
  url1.host = new URL(api[1].url).host;
  assert.equal((await fetch(url1)).status, 200, "a URL signed by one API process works on the other");

  // The job's chunks were shared: at least two worker processes committed chunks of it.
  const logs = [...workers, again].map((w) => w.logs()).join("\n");
  const commits = [...logs.matchAll(new RegExp(`job ${jobId}: chunk (\\d+) committed by (\\S+?)/job-\\d+ \\(generation (\\d+)\\)`, "g"))];
  const perWorker = new Map();
  for (const m of commits) perWorker.set(m[2], (perWorker.get(m[2]) ?? 0) + 1);
  t.diagnostic(`chunks committed per worker: ${JSON.stringify(Object.fromEntries(perWorker))}`);
  assert.equal(new Set(commits.map((m) => m[1])).size, Math.ceil(ROWS / CHUNK), "every chunk committed once");
  assert.equal(commits.length, Math.ceil(ROWS / CHUNK), "no chunk committed twice");
  assert.ok(perWorker.size >= 2, `chunks of the one job committed by ${perWorker.size} worker(s), want >= 2`);
  // A chunk the killed worker held was reclaimed (a later generation) by another worker.
  const reclaimed = commits.filter((m) => Number(m[3]) >= 2);
  assert.ok(reclaimed.length > 0, "no chunk was reclaimed after the kill");
  assert.ok(reclaimed.every((m) => m[2] !== holder.workerId), "the killed worker committed a reclaimed chunk");
  t.diagnostic(`chunk ${reclaimed[0][1]} reclaimed by ${reclaimed[0][2]} at generation ${reclaimed[0][3]}`);
  t.diagnostic(`reference and cluster outputs equal in ${want.digests.length} part(s)`);
});
