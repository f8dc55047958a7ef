// Restart: SIGKILL the server while a job runs, start a new process on the same data dir, and the
// job completes with exactly one output row per input row, in order.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {
  startServer,
  makeDataDir,
  client,
  poll,
  waitValidated,
  waitJob,
  downloadRecords,
  checkEmbedRecord,
  makeTexts,
} from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const ROWS = 2000;
const CHUNK = 50;
const dataDir = makeDataDir();
const servers = [];

after(async () => {
  for (const s of servers) await s.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test("a job survives SIGKILL of the server and completes exactly once per row", async () => {
  // First process: every committed chunk sleeps 200 ms (40 chunks, ~8 s), short lease so the
  // next process may take the job over soon after the kill.
  const first = await startServer({
    dataDir,
    chunkRows: CHUNK,
    leaseMs: 1000,
    failpoints: "job.after_commit=sleep:200",
  });
  servers.push(first);
  let co = client(first.url);
  const texts = makeTexts(ROWS, 51);
  const rows = texts.map((text, i) => ({ text, seq: String(i) }));
  const body = "seq,text\n" + rows.map((r) => `${r.seq},"${r.text.replace(/"/g, '""')}"`).join("\n") + "\n";
  const { id } = await co.datasets.create(new File([body], "restart.csv"), undefined, {
    name: "restart",
    type: "embed-input",
    keepFields: ["seq"],
  });
  await waitValidated(co, id);
  const { jobId } = await co.embedJobs.create({
    model: MODEL,
    datasetId: id,
    inputType: "search_document",
    embeddingTypes: ["float", "ubinary"],
    name: "restart-job",
  });
  const mid = await poll(
    () => co.embedJobs.get(jobId),
    (j) => j.status !== "processing" || j.percent_complete > 0,
    { what: "the job to make some progress", timeoutMs: 30000, intervalMs: 50 },
  );
  assert.equal(mid.status, "processing");
  assert.ok(mid.percent_complete > 0 && mid.percent_complete < 100, `percent ${mid.percent_complete}`);

  await first.kill();
  assert.equal(first.proc.signalCode, "SIGKILL");

  // Second process on the same data dir, no failpoint.
  const second = await startServer({ dataDir, chunkRows: CHUNK, leaseMs: 1000 });
  servers.push(second);
  co = client(second.url);
  const before = await co.embedJobs.get(jobId);
  assert.ok(["processing", "complete"].includes(before.status), `after restart: ${before.status}`);
  assert.ok(before.percent_complete >= mid.percent_complete, "progress went backwards");

  const done = await waitJob(co, jobId, 60000);
  assert.equal(done.status, "complete", JSON.stringify(done));
  assert.equal(done.percent_complete, 100);
  assert.ok(done.meta?.billedUnits?.inputTokens > 0);

  const out = (await co.datasets.get(done.outputDatasetId)).dataset;
  assert.equal(out.validationStatus, "validated");
  const recs = await downloadRecords(out);
  assert.equal(recs.length, ROWS, "exactly one output row per input row");
  const seqs = recs.map((r) => r.seq);
  assert.equal(new Set(seqs).size, ROWS, "duplicate output rows");
  assert.deepEqual(seqs, rows.map((r) => r.seq), "output rows out of order");
  recs.forEach((rec, i) =>
    checkEmbedRecord(
      rec,
      { text: texts[i], kept: { seq: rows[i].seq }, dims: 384, types: ["float", "ubinary"], bitRule: i % 97 === 0 },
      `row ${i}:`,
    ),
  );

  // The input dataset and the job list survived too.
  assert.equal((await co.datasets.get(id)).dataset.validationStatus, "validated");
  const list = (await co.embedJobs.list()).embedJobs;
  assert.deepEqual(
    list.map((j) => j.jobId),
    [jobId],
  );
});

// The process dies at a named point of the job (the failpoint exits it, like a crash there); a
// new process on the same data dir must finish the job with each row exactly once.
for (const point of ["job.before_commit", "job.after_commit", "job.before_finish"]) {
  test(`a crash at ${point} is recovered by the next process`, async () => {
    const dir = makeDataDir();
    try {
      const n = 230;
      const first = await startServer({ dataDir: dir, chunkRows: CHUNK, leaseMs: 1000, failpoints: `${point}=crash` });
      servers.push(first);
      let co = client(first.url);
      const texts = makeTexts(n, 52);
      const body = texts.map((t, i) => JSON.stringify({ text: t, seq: `s${i}` })).join("\n");
      const { id } = await co.datasets.create(new File([body], "crash.jsonl"), undefined, {
        name: "crash",
        type: "embed-input",
        keepFields: ["seq"],
      });
      await waitValidated(co, id);
      const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" });
      const { code } = await first.exited; // the failpoint ends the process
      assert.notEqual(code, 0, "the process should have died at the failpoint");

      const second = await startServer({ dataDir: dir, chunkRows: CHUNK, leaseMs: 1000 });
      servers.push(second);
      co = client(second.url);
      const done = await waitJob(co, jobId, 60000);
      assert.equal(done.status, "complete", JSON.stringify(done));
      const recs = await downloadRecords((await co.datasets.get(done.outputDatasetId)).dataset);
      assert.deepEqual(
        recs.map((r) => r.seq),
        texts.map((_, i) => `s${i}`),
        "one output row per input row, in order",
      );
      recs.forEach((rec, i) =>
        checkEmbedRecord(rec, { text: texts[i], dims: 384, types: ["float"] }, `row ${i}:`),
      );
      const outs = ((await co.datasets.list({ datasetType: "embed-result" })).datasets ?? []).map((d) => d.id);
      assert.deepEqual(outs, [done.outputDatasetId], "exactly one output dataset");
      await second.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("SIGTERM while a job runs: clean exit, and the next process finishes the job", async () => {
  const dir = makeDataDir();
  try {
    const n = 400;
    const first = await startServer({ dataDir: dir, chunkRows: 20, failpoints: "job.after_commit=sleep:200" });
    servers.push(first);
    let co = client(first.url);
    const texts = makeTexts(n, 53);
    const { id } = await co.datasets.create(
      Buffer.from(texts.map((t) => JSON.stringify({ text: t })).join("\n")),
      undefined,
      { name: "sigterm", type: "embed-input" },
    );
    await waitValidated(co, id);
    const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" });
    await poll(
      () => co.embedJobs.get(jobId),
      (j) => j.percent_complete > 0,
      { what: "progress", timeoutMs: 30000, intervalMs: 50 },
    );
    const t0 = Date.now();
    first.proc.kill("SIGTERM");
    const { code, signal } = await first.exited;
    assert.equal(code, 0, `exit after SIGTERM: code ${code}, signal ${signal}\n${first.logs().slice(-2000)}`);
    assert.ok(Date.now() - t0 < 10000, "shutdown took more than 10 s");

    // The job was released, not left to a lease timeout: the next process takes it at once.
    const second = await startServer({ dataDir: dir, chunkRows: 20 });
    servers.push(second);
    co = client(second.url);
    const done = await waitJob(co, jobId, 30000);
    assert.equal(done.status, "complete");
    const recs = await downloadRecords((await co.datasets.get(done.outputDatasetId)).dataset);
    assert.deepEqual(
      recs.map((r) => r.text),
      texts,
    );
    await second.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
