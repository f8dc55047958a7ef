// A job pins the model it started with: stopped after its first chunks under a neural model and
// resumed by a server that serves the lexical model under the same name, it fails with a message
// saying so, and never completes with rows of two models mixed.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, client, waitValidated, waitJob, poll, raw, repoRoot, makeDataDir, makeTexts, KEY_A } from "./harness.mjs";

const bert = path.join(repoRoot, "tests", "data", "bert-tiny");
const NAME = "embed-english-light-v3.0";

test("a job started with one model fails, not mixes, when resumed under another", async () => {
  const dir = makeDataDir();
  try {
    const first = await startServer({
      dataDir: dir,
      chunkRows: 50,
      args: ["--model", `${NAME}=${bert}`],
      failpoints: "job.after_commit=sleep:300",
    });
    let co = client(first.url);
    const texts = makeTexts(600, 11);
    const { id } = await co.datasets.create(
      Buffer.from(texts.map((t) => JSON.stringify({ text: t })).join("\n")),
      undefined,
      { name: "pinning", type: "embed-input" },
    );
    await waitValidated(co, id);
    const { jobId } = await co.embedJobs.create({ model: NAME, datasetId: id, inputType: "search_document" });
    await poll(() => co.embedJobs.get(jobId), (j) => j.percent_complete > 0, {
      what: "first chunk",
      timeoutMs: 30000,
      intervalMs: 50,
    });
    await first.stop(); // SIGTERM: the job is released at a chunk border, unfinished

    const second = await startServer({ dataDir: dir, chunkRows: 50, args: ["--model", `${NAME}=lexical`] });
    try {
      co = client(second.url);
      const done = await waitJob(co, jobId, 60000);
      assert.equal(done.status, "failed", `the job must not complete with two models: ${JSON.stringify(done)}`);
      const job = (await raw(second.url, "GET", `/v1/embed-jobs/${jobId}`, { token: KEY_A })).json;
      const reason = job.failure_reason;
      assert.match(reason, /cannot continue with a different model/);
      assert.match(reason, /sha256:[0-9a-f]{64}/); // names what it started with
      assert.match(reason, /builtin:lexical-v1/); // and what is served now
      assert.ok(!reason.includes(dir), `no server path in failure_reason: ${reason}`);
      assert.equal(job.output_dataset_id, undefined);
    } finally {
      await second.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
