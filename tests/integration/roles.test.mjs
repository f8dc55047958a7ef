// Roles: API processes that do no background work (`serve --no-work`) and `embedjobs worker`
// processes, all on one data dir (one SQLite store). Datasets are validated and jobs run by the
// workers only; the output is exactly that of a single `serve`; a signed link made by one API
// process downloads from the other (the signing key is in the store, not in a file); SIGTERM
// drains a worker mid-job (exit 0, its chunk handed back) and the other worker finishes the job
// at once; cancel through an API process reaches the worker running the job.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import {
  startServer,
  startWorker,
  makeDataDir,
  client,
  poll,
  waitValidated,
  waitJob,
  downloadRecords,
  makeTexts,
  raw,
  sleep,
  filesUnder,
  KEY_A,
} from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const CHUNK = 10;
// Every committed chunk sleeps, so a job of a few hundred rows runs long enough to act on it.
const WORK = { chunkRows: CHUNK, failpoints: "job.after_commit=sleep:150" };

let dataDir;
let api1;
let api2;
const workers = [];

before(async () => {
  dataDir = makeDataDir();
  // A job's chunk size is fixed when it is created (on an API process), for every worker.
  api1 = await startServer({ dataDir, chunkRows: CHUNK, args: ["--no-work"] });
  api2 = await startServer({ dataDir, chunkRows: CHUNK, args: ["--no-work"] });
  for (let i = 0; i < 2; i++) workers.push(await startWorker({ dataDir, ...WORK }));
});

after(async () => {
  for (const p of [api1, api2, ...workers]) await p?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function upload(co, texts, name) {
  const body = texts.map((t, i) => JSON.stringify({ text: t, n: `n${i}` })).join("\n");
  const { id } = await co.datasets.create(new File([body], `${name}.jsonl`), undefined, {
    name,
    type: "embed-input",
    keepFields: ["n"],
  });
  return (await waitValidated(co, id)).id;
}

async function runJob(co, datasetId) {
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId, inputType: "search_document" });
  return jobId;
}

// Rows committed so far (the wire's progress.completed_rows).
async function completedRows(url, jobId) {
  const r = await raw(url, "GET", `/v1/embed-jobs/${jobId}`, { token: KEY_A });
  assert.equal(r.status, 200, r.text);
  return r.json.progress.completed_rows;
}

// The output records as plain JSON (avsc gives instances of per-download record classes).
async function output(co, job) {
  const recs = await downloadRecords((await co.datasets.get(job.outputDatasetId)).dataset);
  return JSON.parse(JSON.stringify(recs));
}

// The worker whose log says it claimed `jobId` (polls: the claim may not have happened yet).
async function claimer(jobId, among) {
  return poll(
    () => among.find((w) => w.alive() && w.logs().includes(`job ${jobId}: claimed by ${w.workerId}/`)),
    (w) => w !== undefined,
    { what: `a worker to claim job ${jobId}`, timeoutMs: 30000, intervalMs: 50 },
  );
}

// A job over `texts` that a worker has claimed and made progress on: {jobId, runner}.
async function runningJob(co, texts, name) {
  const jobId = await runJob(co, await upload(co, texts, name));
  const runner = await claimer(jobId, workers);
  await poll(() => co.embedJobs.get(jobId), (j) => j.percent_complete > 0, {
    what: "job progress",
    timeoutMs: 30000,
    intervalMs: 50,
  });
  return { jobId, runner };
}

test("API processes do no work; workers validate and run the job; the output equals a single serve's", async () => {
  const co = client(api1.url);
  const texts = makeTexts(120, 41);
  const ds = await upload(co, texts, "roles-exact");
  const job = await waitJob(co, await runJob(co, ds), 60000);
  assert.equal(job.status, "complete");
  for (const a of [api1, api2]) assert.doesNotMatch(a.logs(), /claimed by|validating/, "an API process worked");
  assert.ok(workers.some((w) => /claimed by/.test(w.logs())), "no worker ran the job");
  const got = await output(co, job);

  // The same input on one plain `serve` (API + work in one process).
  const single = await startServer({ chunkRows: CHUNK });
  try {
    const co1 = client(single.url);
    const job1 = await waitJob(co1, await runJob(co1, await upload(co1, texts, "roles-exact")), 60000);
    assert.equal(job1.status, "complete");
    const want = await output(co1, job1);
    assert.equal(got.length, texts.length);
    assert.deepEqual(got, want, "the output differs from a single-process run");
  } finally {
    await single.stop();
  }

  // A link signed by one API process downloads from the other: the key is the store's.
  const out = (await co.datasets.get(job.outputDatasetId)).dataset;
  const link = new URL(out.datasetParts[0].url);
  const other = new URL(api2.url);
  link.host = other.host;
  const res = await fetch(link);
  assert.equal(res.status, 200, `${link} on the second API process`);
  assert.equal(fs.existsSync(path.join(dataDir, "url_signing.key")), false, "the signing key is in the store");
});

test("processes that start on the shared data dir leave an upload another API process is receiving alone", async () => {
  const body = makeTexts(50, 45).map((t) => JSON.stringify({ text: t })).join("\n");
  const boundary = "roles-boundary-0123";
  const payload = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="slow.jsonl"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n${body}\r\n--${boundary}--\r\n`,
  );
  const u = new URL(api1.url);
  const req = http.request({
    host: u.hostname,
    port: u.port,
    method: "POST",
    path: "/v1/datasets?name=slow&type=embed-input",
    headers: {
      Authorization: `Bearer ${KEY_A}`,
      "Content-Type": `multipart/form-data; boundary=${boundary}`,
      "Content-Length": payload.length,
    },
  });
  const answer = new Promise((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", reject);
  });
  const half = Math.floor(payload.length / 2);
  req.write(payload.subarray(0, half));
  await sleep(500); // the first half is spooled to the data dir by now
  const lateApi = await startServer({ dataDir, args: ["--no-work"] });
  const lateWorker = await startWorker({ dataDir, ...WORK });
  req.end(payload.subarray(half));
  const r = await answer;
  await lateApi.stop();
  await lateWorker.stop();
  assert.equal(r.status, 200, r.text);
  await waitValidated(client(api1.url), JSON.parse(r.text).id);
});

test("SIGTERM drains a worker mid-job: exit 0, and the other worker finishes the job at once", async () => {
  const co = client(api1.url);
  const texts = makeTexts(300, 42);
  const { jobId, runner: first } = await runningJob(co, texts, "roles-drain");
  const t0 = Date.now();
  first.proc.kill("SIGTERM");
  const { code, signal } = await first.exited;
  assert.equal(code, 0, `worker exit: code ${code}, signal ${signal}\n${first.logs().slice(-3000)}`);
  assert.ok(Date.now() - t0 < 10000, "draining took more than 10 s");
  assert.match(first.logs(), /draining/);
  const second = workers.find((w) => w !== first);
  // Both workers share the job's chunks; the drained one's chunk is handed back, not left to
  // expire: the other worker finishes the job well before the 30 s lease.
  await claimer(jobId, [second]).catch((e) => {
    throw new Error(`${e.message}\nsecond worker:\n${second.logs().slice(-4000)}\nfirst:\n${first.logs().slice(-3000)}`);
  });
  const job = await waitJob(co, jobId, 90000);
  assert.equal(job.status, "complete");
  assert.ok(Date.now() - t0 < 25000, `the job finished ${Date.now() - t0} ms after SIGTERM`);
  const recs = await output(co, job);
  assert.equal(recs.length, texts.length);
  recs.forEach((r, i) => {
    assert.equal(r.text, texts[i], `row ${i}`);
    assert.equal(r.n, `n${i}`, `row ${i}`);
  });
  workers[workers.indexOf(first)] = await startWorker({ dataDir, ...WORK });
});

test("cancel through an API process reaches the worker running the job within a chunk", async () => {
  const co = client(api2.url);
  const texts = makeTexts(400, 43);
  const { jobId, runner } = await runningJob(co, texts, "roles-cancel");
  await co.embedJobs.cancel(jobId);
  const atCancel = await completedRows(api2.url, jobId);
  const done = await waitJob(co, jobId, 20000);
  const atEnd = await completedRows(api2.url, jobId);
  assert.equal(done.status, "cancelled");
  assert.ok(runner.alive(), "the worker keeps running after a cancel");
  // At most the chunks in flight when the cancel landed (one per worker: they share the job's
  // chunks) were committed after it.
  assert.ok(
    atEnd <= atCancel + workers.length * CHUNK,
    `completed_rows ${atCancel} at cancel, ${atEnd} at the end`,
  );
  const recs = await output(co, done);
  assert.ok(recs.length < texts.length);
  assert.equal(recs.length, atEnd);
  recs.forEach((r, i) => assert.equal(r.text, texts[i], `row ${i}`));
});

const PG = process.env.EMBEDJOBS_TEST_PG;
test(
  "--blob-store postgresql://: uploads, parts and chunks live in PostgreSQL, none in the data dir",
  { skip: PG ? false : "set EMBEDJOBS_TEST_PG to a postgresql:// URL (scripts/pg_test_server.sh)" },
  async () => {
    const dir = makeDataDir();
    const blobs = ["--blob-store", PG];
    const api = await startServer({ dataDir: dir, args: ["--no-work", ...blobs] });
    const worker = await startWorker({ dataDir: dir, chunkRows: CHUNK, args: blobs });
    try {
      const co = client(api.url);
      const texts = makeTexts(60, 44);
      const body = texts.map((t, i) => JSON.stringify({ text: t, n: `n${i}` })).join("\n");
      const { id } = await co.datasets.create(new File([body], "pg.jsonl"), undefined, {
        name: "roles-pg",
        type: "embed-input",
        keepFields: ["n"],
        keepOriginalFile: true,
      });
      const input = await waitValidated(co, id);
      const job = await waitJob(co, await runJob(co, input.id), 60000);
      assert.equal(job.status, "complete");
      const recs = await output(co, job);
      assert.equal(recs.length, texts.length);
      recs.forEach((r, i) => assert.equal(r.n, `n${i}`, `row ${i}`));
      // The kept original downloads from PostgreSQL too.
      const original = await fetch(input.datasetParts[0].originalUrl);
      assert.equal(original.status, 200);
      assert.equal(await original.text(), body);
      for (const sub of ["datasets", "jobs", "uploads", "blob-staging"]) {
        assert.deepEqual(filesUnder(path.join(dir, sub)), [], `files left in ${sub}/`);
      }
    } finally {
      await worker.stop();
      await api.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
