// Cancelling a running job: processing -> cancelling -> cancelled, repeat cancels are harmless,
// the output keeps the prefix of rows finished before the cancel, in input order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  client,
  raw,
  poll,
  waitValidated,
  waitJob,
  downloadRecords,
  checkEmbedRecord,
  makeTexts,
  KEY_A,
} from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const CHUNK = 10;
let server;
let co;

before(async () => {
  // Every committed chunk sleeps 200 ms, so a 400-row job takes ~8 s: long enough to cancel.
  server = await startServer({ chunkRows: CHUNK, failpoints: "job.after_commit=sleep:200" });
  co = client(server.url);
});

after(async () => {
  await server?.stop();
});

async function upload(texts, name) {
  const body = texts.map((t, i) => JSON.stringify({ text: t, n: `n${i}` })).join("\n");
  const { id } = await co.datasets.create(new File([body], `${name}.jsonl`), undefined, {
    name,
    type: "embed-input",
    keepFields: ["n"],
  });
  await waitValidated(co, id);
  return id;
}

test("cancel a running job", async () => {
  const texts = makeTexts(400, 31);
  const ds = await upload(texts, "cancel-me");
  const { jobId } = await co.embedJobs.create({
    model: MODEL,
    datasetId: ds,
    inputType: "search_document",
    embeddingTypes: ["float", "binary", "ubinary"],
  });

  const running = await poll(
    () => co.embedJobs.get(jobId),
    (j) => j.status !== "processing" || j.percent_complete > 0,
    { what: "the job to make progress", timeoutMs: 30000, intervalMs: 50 },
  );
  assert.equal(running.status, "processing", "job should still be running when we cancel");
  assert.ok(running.percent_complete > 0 && running.percent_complete < 100);

  const res = await co.embedJobs.cancel(jobId); // must not throw
  assert.equal(res, undefined);
  const right = await co.embedJobs.get(jobId);
  assert.ok(["cancelling", "cancelled"].includes(right.status), `after cancel: ${right.status}`);

  // Raw: cancel answers a JSON object (python 4.x calls .json() on it).
  const again = await raw(server.url, "POST", `/v1/embed-jobs/${jobId}/cancel`, { token: KEY_A });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json, {});

  const seen = new Set();
  const done = await poll(
    async () => {
      const j = await co.embedJobs.get(jobId);
      seen.add(j.status);
      return j;
    },
    (j) => !["processing", "cancelling"].includes(j.status),
    { what: "the job to stop", timeoutMs: 20000, intervalMs: 50 },
  );
  assert.equal(done.status, "cancelled", `statuses seen: ${[...seen]}`);
  for (const s of seen) assert.ok(["cancelling", "cancelled"].includes(s), `status ${s} after cancel`);
  assert.ok(done.percent_complete < 100, `percent_complete ${done.percent_complete}`);

  // A second (third) cancel is harmless and changes nothing.
  await co.embedJobs.cancel(jobId);
  const after2 = await co.embedJobs.get(jobId);
  assert.equal(after2.status, "cancelled");
  assert.equal(after2.outputDatasetId, done.outputDatasetId);

  // It stays cancelled: the worker does not pick it up again.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await co.embedJobs.get(jobId)).status, "cancelled");

  // design.md: a cancelled job keeps what it finished in an embed-result dataset.
  if (done.outputDatasetId) {
    console.log(`cancelled job output: ${done.outputDatasetId}, rows_done ${done.rows_done}`);
    const out = (await co.datasets.get(done.outputDatasetId)).dataset;
    assert.equal(out.datasetType, "embed-result");
    assert.equal(out.validationStatus, "validated");
    const recs = await downloadRecords(out);
    assert.ok(recs.length < texts.length, `cancelled output has all ${recs.length} rows`);
    assert.equal(recs.length % CHUNK, 0, "output should hold whole chunks");
    recs.forEach((rec, i) =>
      checkEmbedRecord(
        rec,
        { text: texts[i], kept: { n: `n${i}` }, dims: 384, types: ["float", "binary", "ubinary"], bitRule: i < 5 },
        `row ${i}:`,
      ),
    );
    if (done.rows_done !== undefined) assert.equal(recs.length, done.rows_done);
  }

  // The worker is free again: a new job on the same server completes.
  const small = await upload(makeTexts(15, 32), "after-cancel");
  const next = await co.embedJobs.create({ model: MODEL, datasetId: small, inputType: "classification" });
  const fin = await waitJob(co, next.jobId, 30000);
  assert.equal(fin.status, "complete");

  // Cancelling a finished job is a harmless 200 that changes nothing.
  await co.embedJobs.cancel(next.jobId);
  const still = await co.embedJobs.get(next.jobId);
  assert.equal(still.status, "complete");
  assert.equal(still.percent_complete, 100);
});
