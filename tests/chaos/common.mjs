// Helpers shared by the chaos tests: a dataset of numbered rows, a job run to its end, and its
// output compared row for row (text, kept fields, every embedding value) with a clean run's.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  startServer,
  client,
  poll,
  waitValidated,
  waitJob,
  downloadRecords,
  makeTexts,
} from "../integration/harness.mjs";

export const MODEL = "embedjobs-lexical-v1";
export const TYPES = ["float", "int8", "ubinary"];

/** CSV text of n rows `seq,text` (seq kept as a field). */
export function datasetCsv(n, seed) {
  const texts = makeTexts(n, seed);
  return "seq,text\n" + texts.map((t, i) => `${i},"${t.replace(/"/g, '""')}"`).join("\n") + "\n";
}

/** Uploads `csv` through `co`, waits for validation, starts a job; returns {datasetId, jobId}. */
export async function startJob(co, csv, name) {
  const { id } = await co.datasets.create(new File([csv], `${name}.csv`), undefined, {
    name,
    type: "embed-input",
    keepFields: ["seq"],
  });
  await waitValidated(co, id);
  const { jobId } = await co.embedJobs.create({
    model: MODEL,
    datasetId: id,
    inputType: "search_document",
    embeddingTypes: TYPES,
    name,
  });
  return { datasetId: id, jobId };
}

/** The output rows of a finished job (asserting it completed with one output dataset). */
export async function outputRows(co, jobId, timeoutMs = 120000) {
  const done = await waitJob(co, jobId, timeoutMs);
  assert.equal(done.status, "complete", JSON.stringify(done));
  assert.equal(done.percent_complete, 100);
  const out = (await co.datasets.get(done.outputDatasetId)).dataset;
  const all = ((await co.datasets.list({ datasetType: "embed-result" })).datasets ?? []).map((d) => d.id);
  assert.deepEqual(all, [done.outputDatasetId], "exactly one output dataset");
  return downloadRecords(out);
}

/** Runs the same dataset through a fresh server with no fault: the reference output. */
export async function cleanRun(csv, chunkRows) {
  const server = await startServer({ chunkRows });
  try {
    const co = client(server.url);
    const { jobId } = await startJob(co, csv, "clean");
    return await outputRows(co, jobId);
  } finally {
    await server.stop();
  }
}

/** Asserts two outputs are identical row for row (order, text, kept fields, every value). */
export function assertSameRows(got, want, what) {
  assert.equal(got.length, want.length, `${what}: row count`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i].seq, want[i].seq, `${what}: row ${i} is out of order or duplicated`);
    // Plain values (each decode has its own record classes); JSON keeps every float exactly.
    assert.equal(JSON.stringify(got[i]), JSON.stringify(want[i]), `${what}: row ${i} differs from the clean run`);
  }
}

/** Files left under the data dir's jobs/ folder (chunk files of unfinished jobs). */
export function leftoverChunkFiles(dataDir) {
  const root = path.join(dataDir, "jobs");
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true }).filter((f) => f.endsWith(".avro"));
}

export { startServer, client, poll };
