// OpenAI's Files and Batch APIs across roles and blob stores: an API process that does no
// background work (`serve --no-work`) and an `embedjobs worker` on one data dir. The worker
// validates the file and runs the batch; the API process serves the uploaded bytes, the output
// and the error file from the blob store; the files equal a single `serve`'s line for line;
// deleting the output file deletes its blobs. With EMBEDJOBS_TEST_PG, the same on the PostgreSQL
// store and blob store (a cluster that shares only its database), which leave nothing in the
// data dir.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import OpenAI, { toFile } from "openai";
import { startServer, startWorker, makeDataDir, filesUnder, KEY_A, poll, makeTexts } from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const N = 120;
const BAD = new Set([5, 77]);
const CHUNK = 25;

function batchFile() {
  const texts = makeTexts(N, 61);
  const lines = [];
  for (let i = 0; i < N; i++) {
    const body = BAD.has(i) ? { model: MODEL, input: "" } : { model: MODEL, input: texts[i], encoding_format: "float" };
    lines.push(JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/embeddings", body }));
  }
  return lines.join("\n") + "\n";
}

function openai(url) {
  return new OpenAI({ apiKey: KEY_A, baseURL: `${url}/v1`, maxRetries: 0 });
}

async function contentText(oa, id) {
  return (await oa.files.content(id)).text();
}

// Uploads the batch file, runs a batch over it and returns {file, batch, output, errors} (the
// two files' text).
async function runBatch(oa, text) {
  const file = await oa.files.create({ file: await toFile(Buffer.from(text), "roles.jsonl"), purpose: "batch" });
  assert.equal(await contentText(oa, file.id), text, "the uploaded bytes, before or after validation");
  const created = await oa.batches.create({ input_file_id: file.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  const batch = await poll(() => oa.batches.retrieve(created.id), (b) => ["completed", "failed", "cancelled"].includes(b.status), {
    what: `batch ${created.id}`,
    timeoutMs: 120000,
    intervalMs: 50,
  });
  assert.equal(batch.status, "completed", JSON.stringify(batch));
  assert.deepEqual(batch.request_counts, { total: N, completed: N - BAD.size, failed: BAD.size });
  assert.equal(await contentText(oa, file.id), text, "the kept original");
  return { file, batch, output: await contentText(oa, batch.output_file_id), errors: await contentText(oa, batch.error_file_id) };
}

// The lines without the ids that derive from the batch id (another server's batch has another).
function comparable(text) {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => {
      const { id, response, ...rest } = JSON.parse(l);
      assert.match(id, /^batch_req_/);
      const { request_id, ...r } = response;
      return { ...rest, response: r };
    });
}

// One API process (--no-work) and one worker on a fresh data dir with `blobArgs`; `check(dir,
// run)` looks at the data dir after the batch.
async function acrossRoles(blobArgs, check) {
  const dir = makeDataDir();
  const api = await startServer({ dataDir: dir, args: ["--no-work", ...blobArgs] });
  const worker = await startWorker({ dataDir: dir, chunkRows: CHUNK, args: blobArgs });
  try {
    const oa = openai(api.url);
    const text = batchFile();
    const run = await runBatch(oa, text);
    assert.doesNotMatch(api.logs(), /claimed by|validating/, "the API process worked");
    assert.match(worker.logs(), new RegExp(`job ${run.batch.id}: claimed by`), "the worker ran the batch");

    // The same file on one plain `serve`.
    const single = await startServer({ chunkRows: CHUNK });
    try {
      const want = await runBatch(openai(single.url), text);
      assert.deepEqual(comparable(run.output), comparable(want.output), "the output file differs from a single serve's");
      assert.deepEqual(comparable(run.errors), comparable(want.errors), "the error file differs from a single serve's");
    } finally {
      await single.stop();
    }
    await check(dir, run);

    // Deleting the output file deletes the blobs behind the output and the error file.
    assert.equal((await oa.files.delete(run.batch.output_file_id)).deleted, true);
    for (const id of [run.batch.output_file_id, run.batch.error_file_id]) {
      await assert.rejects(oa.files.content(id), (e) => e.status === 404);
    }
    assert.deepEqual(filesUnder(path.join(dir, "datasets", run.batch.output_file_id)), [], "output blobs left");
    assert.equal((await oa.files.delete(run.file.id)).deleted, true);
    assert.deepEqual(filesUnder(path.join(dir, "uploads")), [], "the kept original left");
  } finally {
    await worker.stop();
    await api.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("an API process (--no-work) and a worker: the worker runs the batch, the API serves every file", async () => {
  await acrossRoles([], async (dir, run) => {
    // The filesystem blob store: the output JSONL are blobs under the output dataset's prefix.
    const out = path.join(dir, "datasets", run.batch.output_file_id);
    assert.equal(fs.readFileSync(path.join(out, "output.jsonl"), "utf8"), run.output);
    assert.equal(fs.readFileSync(path.join(out, "error.jsonl"), "utf8"), run.errors);
  });
});

const PG = process.env.EMBEDJOBS_TEST_PG;
test(
  "--store and --blob-store postgresql://: the uploaded file, the kept original and the output files live in PostgreSQL",
  { skip: PG ? false : "set EMBEDJOBS_TEST_PG to a postgresql:// URL (scripts/pg_test_server.sh)" },
  async () => {
    await acrossRoles(["--store", PG, "--blob-store", PG], async (dir) => {
      for (const sub of ["datasets", "jobs", "uploads", "blob-staging"]) {
        assert.deepEqual(filesUnder(path.join(dir, sub)), [], `files left in ${sub}/`);
      }
    });
  },
);
