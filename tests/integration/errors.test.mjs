// Error paths: status codes, SDK exception classes, JSON {message} bodies, validation failures
// that name the line, and the server staying up afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Cohere, CohereClient } from "cohere-ai";
import {
  startServer,
  client,
  raw,
  waitDataset,
  waitValidated,
  waitJob,
  downloadRecords,
  expectApiError,
  makeTexts,
  KEY_A,
  KEY_B,
} from "./harness.mjs";

const { BadRequestError, UnauthorizedError, NotFoundError } = Cohere;
const MODEL = "embedjobs-lexical-v1";
let server;
let co;
let goodDataset;

before(async () => {
  server = await startServer();
  co = client(server.url);
  const body = makeTexts(12, 41)
    .map((t) => JSON.stringify({ text: t }))
    .join("\n");
  goodDataset = (await co.datasets.create(Buffer.from(body), undefined, { name: "good", type: "embed-input" })).id;
  await waitValidated(co, goodDataset);
});

after(async () => {
  await server?.stop();
});

async function assertJsonError(res, status) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.ok(res.json && typeof res.json.message === "string" && res.json.message.length > 0, res.text);
}

test("401 without a valid key", async () => {
  const anon = new CohereClient({ token: "", environment: server.url }); // sends no Authorization
  let e = await expectApiError(anon.embedJobs.list(), UnauthorizedError, 401);
  assert.match(e.body.message, /api key|token/i);
  await expectApiError(anon.datasets.list(), UnauthorizedError, 401);
  await expectApiError(anon.datasets.get(goodDataset), UnauthorizedError, 401);

  const wrong = client(server.url, "not-a-key");
  e = await expectApiError(wrong.embedJobs.list(), UnauthorizedError, 401);
  await expectApiError(
    wrong.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "search_document" }),
    UnauthorizedError,
    401,
  );
  await expectApiError(
    wrong.datasets.create(Buffer.from('{"text":"x"}\n'), undefined, { name: "nope", type: "embed-input" }),
    UnauthorizedError,
    401,
  );

  await assertJsonError(await raw(server.url, "GET", "/v1/embed-jobs"), 401);
  await assertJsonError(await raw(server.url, "GET", "/v1/embed-jobs", { token: "wrong" }), 401);
  await assertJsonError(
    await raw(server.url, "GET", "/v1/embed-jobs", { headers: { Authorization: `Basic ${KEY_A}` } }),
    401,
  );
  // The scheme is matched case-insensitively (python 4.x sends "BEARER").
  const upper = await raw(server.url, "GET", "/v1/embed-jobs", { headers: { Authorization: `BEARER ${KEY_A}` } });
  assert.equal(upper.status, 200, upper.text);
});

test("404 for another owner's job and for unknown ids", async () => {
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "search_document" });
  const other = client(server.url, KEY_B);
  const e = await expectApiError(other.embedJobs.get(jobId), NotFoundError, 404);
  assert.ok(!JSON.stringify(e.body).includes(goodDataset), "404 must not leak the owner's data");
  await expectApiError(co.embedJobs.get("00000000-0000-0000-0000-000000000000"), NotFoundError, 404);
  await expectApiError(co.datasets.get("no-such-dataset-abcdef"), NotFoundError, 404);
  await assertJsonError(await raw(server.url, "GET", `/v1/embed-jobs/${jobId}`, { token: KEY_B }), 404);
  assert.equal((await waitJob(co, jobId)).status, "complete");
});

test("400 for a bad input_type, embedding type or truncate", async () => {
  let e = await expectApiError(
    co.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "bogus" }),
    BadRequestError,
    400,
  );
  assert.match(e.body.message, /input_type/);
  e = await expectApiError(
    co.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "search_document", embeddingTypes: ["float", "int4"] }),
    BadRequestError,
    400,
  );
  assert.match(e.body.message, /embedding_types|int4/);
  await expectApiError(
    co.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "search_document", truncate: "MIDDLE" }),
    BadRequestError,
    400,
  );
  const res = await raw(server.url, "POST", "/v1/embed-jobs", {
    token: KEY_A,
    body: { model: MODEL, dataset_id: goodDataset, input_type: "bogus" },
  });
  await assertJsonError(res, 400);
  await assertJsonError(
    await raw(server.url, "POST", "/v1/embed-jobs", {
      token: KEY_A,
      body: "{not json",
      headers: { "Content-Type": "application/json" },
    }),
    400,
  );
  // None of the rejected requests created a job.
  const jobs = (await co.embedJobs.list()).embedJobs;
  assert.ok(jobs.every((j) => j.inputDatasetId === goodDataset && j.status !== "failed"));
  assert.equal(jobs.length, 1, `rejected creates must not make jobs: ${jobs.length}`);
});

test("404 for an unknown model", async () => {
  const e = await expectApiError(
    co.embedJobs.create({ model: "no-such-model-v9", datasetId: goodDataset, inputType: "search_document" }),
    NotFoundError,
    404,
  );
  assert.match(e.body.message, /no-such-model-v9/);
});

test("a CSV without a text column fails validation naming the header", async () => {
  const csv = "title,body\nfirst,one\nsecond,two\n";
  const { id } = await co.datasets.create(new File([csv], "notext.csv"), undefined, {
    name: "csv no text",
    type: "embed-input",
  });
  const ds = await waitDataset(co, id);
  assert.equal(ds.validationStatus, "failed");
  assert.ok(ds.validationError, "failed dataset has no validation_error");
  assert.match(ds.validationError, /text/);
  assert.match(ds.validationError, /header|line/i);
  assert.deepEqual(ds.datasetParts ?? [], [], "a failed dataset has no downloadable parts");
  // A job on a failed dataset is a 400.
  const e = await expectApiError(
    co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" }),
    BadRequestError,
    400,
  );
  assert.match(e.body.message, /validat|failed/i);
});

test("a malformed JSONL line fails validation naming the line; skip_malformed_input drops it", async () => {
  const texts = makeTexts(6, 42);
  const lines = texts.map((t) => JSON.stringify({ text: t }));
  lines.splice(3, 0, '{"text": "unterminated'); // line 4 of the file
  const body = lines.join("\n") + "\n";

  const { id } = await co.datasets.create(new File([body], "bad.jsonl"), undefined, {
    name: "jsonl bad line",
    type: "embed-input",
  });
  const ds = await waitDataset(co, id);
  assert.equal(ds.validationStatus, "failed");
  assert.match(ds.validationError ?? "", /line\D{0,3}4\b/i, `validation_error: ${ds.validationError}`);

  const skipped = await co.datasets.create(new File([body], "bad.jsonl"), undefined, {
    name: "jsonl bad line skipped",
    type: "embed-input",
    skipMalformedInput: true,
  });
  const ok = await waitValidated(co, skipped.id);
  assert.ok((ok.validationWarnings ?? []).length > 0, "dropped rows must be reported in validation_warnings");
  assert.match(ok.validationWarnings.join("\n"), /4/, `warnings: ${ok.validationWarnings}`);
  const recs = await downloadRecords(ok);
  assert.deepEqual(
    recs.map((r) => r.text),
    texts,
    "the bad row is dropped, the others kept in order",
  );
});

test("the SDK's [object Object] upload (fs.createReadStream) is a clear 400", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "embedjobs-it-up-"));
  try {
    const p = path.join(dir, "data.jsonl");
    fs.writeFileSync(p, '{"text":"hello"}\n{"text":"world"}\n');
    const e = await expectApiError(
      co.datasets.create(fs.createReadStream(p), undefined, { name: "stream", type: "embed-input" }),
      BadRequestError,
      400,
    );
    assert.match(e.body.message, /object Object/, e.body.message);
    assert.match(e.body.message, /File|Buffer|Blob/, `message should say what to send instead: ${e.body.message}`);
    const names = ((await co.datasets.list()).datasets ?? []).map((d) => d.name);
    assert.ok(!names.includes("stream"), "the rejected upload must not create a dataset");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("dataset create errors: missing name/type, bad type", async () => {
  const file = () => new File(['{"text":"a"}\n'], "a.jsonl");
  let e = await expectApiError(co.datasets.create(file(), undefined, { name: "", type: "embed-input" }), BadRequestError, 400);
  assert.match(e.body.message, /name/);
  e = await expectApiError(co.datasets.create(file(), undefined, { name: "x", type: "no-such-type" }), BadRequestError, 400);
  assert.match(e.body.message, /type/);
  e = await expectApiError(
    co.datasets.create(file(), undefined, { name: "x".repeat(60), type: "embed-input" }),
    BadRequestError,
    400,
  );
  assert.match(e.body.message, /50/);
});

test("a job on a dataset that is not validated yet is a 400", async () => {
  // A second server whose validator pauses 3 s after ingesting, so the dataset stays queued/processing.
  const slow = await startServer({ failpoints: "dataset.after_ingest=sleep:3000" });
  try {
    const c = client(slow.url);
    const { id } = await c.datasets.create(Buffer.from('{"text":"slow"}\n'), undefined, {
      name: "slow",
      type: "embed-input",
    });
    const ds = (await c.datasets.get(id)).dataset;
    assert.ok(["queued", "processing"].includes(ds.validationStatus), `status ${ds.validationStatus}`);
    const e = await expectApiError(
      c.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" }),
      BadRequestError,
      400,
    );
    assert.match(e.body.message, /validat/i);
    await waitValidated(c, id, 20000);
  } finally {
    await slow.stop();
  }
});

test("a large upload with a wrong key gets a clean 401, not a reset connection", async () => {
  // The server refuses before reading the body; it must still consume it so that the client,
  // still sending, can read the answer (and the body is not parsed as the next request).
  const body = makeTexts(40000, 43)
    .map((t) => JSON.stringify({ text: t }))
    .join("\n");
  assert.ok(body.length > 1 << 20);
  const wrong = client(server.url, "wrong-key");
  for (let i = 0; i < 2; i++) {
    await expectApiError(
      wrong.datasets.create(Buffer.from(body), undefined, { name: "big", type: "embed-input" }),
      UnauthorizedError,
      401,
    );
  }
  // Bad options are refused the same way.
  await expectApiError(
    co.datasets.create(Buffer.from(body), undefined, { name: "big", type: "bad-type" }),
    BadRequestError,
    400,
  );
  // The same connection pool still works for a good upload.
  const { id } = await co.datasets.create(Buffer.from(body), undefined, { name: "big ok", type: "embed-input" });
  const ds = await waitValidated(co, id);
  assert.equal(ds.datasetParts.reduce((s, p) => s + p.numRows, 0), 40000);
});

test("an upload over --max-upload-mb is a 413 with a JSON message", async () => {
  const small = await startServer({ args: ["--max-upload-mb", "1"] });
  try {
    const c = client(small.url);
    for (const mb of [1.5, 3, 8]) {
      const body = Buffer.alloc(Math.round(mb * (1 << 20)), "a");
      let err;
      try {
        await c.datasets.create(body, undefined, { name: "too big", type: "embed-input" });
      } catch (e) {
        err = e;
      }
      assert.ok(err, `${mb} MiB upload accepted`);
      assert.equal(err.statusCode, 413, `${mb} MiB: ${err.message}`);
      assert.match(err.body?.message ?? "", /too large/);
    }
    assert.ok(small.alive());
    const ok = await c.datasets.create(Buffer.from('{"text":"fits"}\n'), undefined, { name: "fits", type: "embed-input" });
    await waitValidated(c, ok.id);
  } finally {
    await small.stop();
  }
});

test("the server is still up and serving after all the errors", async () => {
  assert.ok(server.alive(), "server process died");
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: goodDataset, inputType: "classification" });
  const job = await waitJob(co, jobId);
  assert.equal(job.status, "complete");
  const recs = await downloadRecords((await co.datasets.get(job.outputDatasetId)).dataset);
  assert.equal(recs.length, 12);
  const usage = await raw(server.url, "GET", "/v1/datasets/usage", { token: KEY_A });
  assert.equal(usage.status, 200);
  assert.ok(usage.json.organization_usage > 0);
  await assertJsonError(await raw(server.url, "GET", "/v1/no-such-route", { token: KEY_A }), 404);
});
