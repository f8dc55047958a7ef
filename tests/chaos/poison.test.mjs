// Poison chunks: a chunk that throws, or that kills its worker, --max-chunk-attempts (3) times
// ends the job `failed` with a failure_reason naming its rows; it never loops. The failpoint
// job.chunk.<K> picks the chunk.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { makeDataDir, waitJob } from "../integration/harness.mjs";
import { datasetCsv, startJob, leftoverChunkFiles, startServer, client } from "./common.mjs";

const CHUNK = 50;

test("a chunk that throws every time fails the job after 3 attempts, naming its rows", async () => {
  const server = await startServer({ chunkRows: CHUNK, failpoints: "job.chunk.2=error" });
  try {
    const co = client(server.url);
    const { jobId } = await startJob(co, datasetCsv(400, 94), "throws");
    const job = await waitJob(co, jobId, 30000);
    assert.equal(job.status, "failed");
    assert.match(job.failure_reason, /^rows 100-149 failed 3 times: internal error/);
    assert.equal(job.rows_done, 100, "chunks 0 and 1 committed, nothing after chunk 2");
    const tries = server.logs().match(/rows 100-149 failed \(attempt \d of 3\), retrying/g) ?? [];
    assert.equal(tries.length, 2, "two retries, then the job failed");
    assert.ok(!/\/tmp\//.test(job.failure_reason), "no server paths in failure_reason");
  } finally {
    await server.stop();
  }
});

test("a chunk that kills its worker 3 times fails the job on the next start, naming its rows", async () => {
  const dataDir = makeDataDir();
  try {
    const opts = { dataDir, chunkRows: CHUNK, leaseMs: 1000, failpoints: "job.chunk.3=crash,job.after_commit=sleep:100" };
    let server = await startServer(opts);
    const { jobId } = await startJob(client(server.url), datasetCsv(400, 95), "kills");
    for (let death = 1; death <= 3; death++) {
      const { code } = await server.exited; // the failpoint takes the process down at chunk 3
      assert.equal(code, 137, `death ${death}`);
      server = await startServer(opts);
    }
    // The 4th process sees 3 attempts at chunk 3 and fails the job before trying again.
    const co = client(server.url);
    const job = await waitJob(co, jobId, 30000);
    assert.equal(job.status, "failed");
    assert.equal(
      job.failure_reason,
      "rows 150-199 failed 3 times: the worker stopped while working on them (killed, crashed or " +
        "stalled past its lease)",
    );
    assert.ok(server.alive(), "the 4th process did not die at the failpoint");
    assert.deepEqual(leftoverChunkFiles(dataDir), [], "a failed job leaves no chunk files");
    await server.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
