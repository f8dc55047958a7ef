// Lost replies: the server commits a create and keeps its answer, then the answer is lost (the
// failpoint idempotency.after_commit answers 500 instead, as a crashed proxy or a reset would).
// The cohere-ai SDK retries on its own (maxRetries); with an Idempotency-Key the retry gets the
// first answer and exactly one job exists. The same lost reply without a key makes two jobs:
// that is what the key prevents.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { startServer, client, waitValidated, makeDataDir } from "../integration/harness.mjs";
import { MODEL, datasetCsv } from "./common.mjs";

const dataDir = makeDataDir();
let server;
after(async () => {
  await server?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const jobCount = async (co) => ((await co.embedJobs.list()).embedJobs ?? []).length;

test("a create whose reply is lost and retried by the SDK makes exactly one job", async () => {
  // The dataset is uploaded before the fault is armed (the SDK cannot resend a multipart
  // stream, see docs/decisions.md), then the server restarts on the same data dir with it.
  const setup = await startServer({ dataDir });
  const { id: datasetId } = await client(setup.url).datasets.create(
    new File([datasetCsv(20, 93)], "in.csv"),
    undefined,
    { name: "idem", type: "embed-input", keepFields: ["seq"] },
  );
  await waitValidated(client(setup.url), datasetId);
  await setup.stop();
  // The first two creates that commit lose their reply; later ones answer normally.
  server = await startServer({ dataDir, failpoints: "idempotency.after_commit=2*error" });
  const co = client(server.url);
  const request = { model: MODEL, datasetId, inputType: "search_document" };

  // With a key: the SDK sees a 500, waits, retries with the same key, and gets the first answer.
  const key = randomUUID();
  const t0 = Date.now();
  const { jobId } = await co.embedJobs.create(request, {
    headers: { "Idempotency-Key": key },
    maxRetries: 2,
  });
  assert.ok(Date.now() - t0 >= 500, "the SDK did not need to retry: the failpoint did not fire");
  assert.match(server.logs(), /failpoint idempotency\.after_commit/);
  const jobs = (await co.embedJobs.list()).embedJobs;
  assert.deepEqual(
    jobs.map((j) => j.jobId),
    [jobId],
    "exactly one job, the one the SDK was told about",
  );
  // A later replay (a client that retries much later) gets the same answer, marked replayed.
  const replay = await co.embedJobs
    .create(request, { headers: { "Idempotency-Key": key }, maxRetries: 0 })
    .withRawResponse();
  assert.equal(replay.data.jobId, jobId);
  assert.equal(replay.rawResponse.headers.get("idempotent-replayed"), "true");
  assert.equal(await jobCount(co), 1);

  // Without a key, the same lost reply + SDK retry creates a second job (the control).
  await co.embedJobs.create(request, { maxRetries: 2 });
  assert.equal(await jobCount(co), 3, "without a key a lost reply duplicates the job");
});
