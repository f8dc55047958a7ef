// Ownership: each API key is its own owner; lists are per owner and newest first; other owners'
// jobs and datasets are 404 and never listed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cohere, CohereError } from "cohere-ai";
import {
  startServer,
  client,
  raw,
  waitValidated,
  waitJob,
  makeTexts,
  expectApiError,
  sleep,
  KEY_A,
  KEY_B,
} from "./harness.mjs";

const { NotFoundError } = Cohere;

const MODEL = "embedjobs-lexical-v1";
let server;
let a;
let b;

before(async () => {
  server = await startServer();
  a = client(server.url, KEY_A);
  b = client(server.url, KEY_B);
});

after(async () => {
  await server?.stop();
});

async function upload(co, name, n, seed) {
  const body = makeTexts(n, seed)
    .map((t) => JSON.stringify({ text: t }))
    .join("\n");
  const { id } = await co.datasets.create(new File([body], `${name}.jsonl`), undefined, {
    name,
    type: "embed-input",
  });
  await waitValidated(co, id);
  return id;
}

async function job(co, datasetId, name) {
  const { jobId } = await co.embedJobs.create({
    model: MODEL,
    datasetId,
    inputType: "clustering",
    name,
  });
  return jobId;
}

test("lists are per owner, newest first; other owners get 404", async () => {
  const dsA = await upload(a, "owner-a", 20, 21);
  const dsB = await upload(b, "owner-b", 20, 22);
  const a1 = await job(a, dsA, "a-first");
  await sleep(20);
  const b1 = await job(b, dsB, "b-only");
  await sleep(20);
  const a2 = await job(a, dsA, "a-second");
  await sleep(20);
  const a3 = await job(a, dsA, "a-third");
  for (const id of [a1, a2, a3]) assert.equal((await waitJob(a, id)).status, "complete");
  const jb = await waitJob(b, b1);
  assert.equal(jb.status, "complete");
  const outA = (await a.embedJobs.get(a1)).outputDatasetId;
  assert.ok(outA);

  // A's list: exactly A's jobs, newest first.
  const listA = (await a.embedJobs.list()).embedJobs;
  assert.ok(Array.isArray(listA), "embed_jobs must be an array");
  assert.deepEqual(
    listA.map((j) => j.jobId),
    [a3, a2, a1],
    "A's jobs, newest first, and nothing else",
  );
  for (let i = 1; i < listA.length; i++) {
    assert.ok(listA[i - 1].createdAt.getTime() >= listA[i].createdAt.getTime(), "not newest first");
  }
  const listB = (await b.embedJobs.list()).embedJobs;
  assert.deepEqual(
    listB.map((j) => j.jobId),
    [b1],
  );

  // B cannot see or touch A's job or datasets.
  let e = await expectApiError(b.embedJobs.get(a1), NotFoundError, 404);
  assert.ok(e instanceof CohereError);
  await expectApiError(b.embedJobs.cancel(a1), NotFoundError, 404);
  await expectApiError(b.datasets.get(dsA), NotFoundError, 404);
  await expectApiError(b.datasets.get(outA), NotFoundError, 404);
  await expectApiError(b.datasets.delete(dsA), NotFoundError, 404);
  e = await expectApiError(
    b.embedJobs.create({ model: MODEL, datasetId: dsA, inputType: "search_document" }),
    NotFoundError,
    404,
  );
  const idsB = ((await b.datasets.list()).datasets ?? []).map((d) => d.id);
  assert.ok(idsB.includes(dsB), "B's own dataset missing from B's list");
  for (const id of [dsA, outA]) assert.ok(!idsB.includes(id), `B's dataset list shows A's ${id}`);

  const idsA = ((await a.datasets.list()).datasets ?? []).map((d) => d.id);
  assert.ok(idsA.includes(dsA) && idsA.includes(outA));
  assert.ok(!idsA.includes(dsB), "A's dataset list shows B's dataset");
  await expectApiError(a.embedJobs.get(b1), NotFoundError, 404);

  // A's things are untouched by B's attempts.
  assert.equal((await a.datasets.get(dsA)).dataset.validationStatus, "validated");
  assert.equal((await a.embedJobs.get(a1)).status, "complete");

  // Usage is per owner as well: B's usage does not move when A uploads.
  const usageB1 = (await raw(server.url, "GET", "/v1/datasets/usage", { token: KEY_B })).json;
  await upload(a, "owner-a-more", 50, 23);
  const usageB2 = (await raw(server.url, "GET", "/v1/datasets/usage", { token: KEY_B })).json;
  assert.equal(typeof usageB1.organization_usage, "number");
  assert.equal(usageB2.organization_usage, usageB1.organization_usage);
});

test("an owner's delete removes the dataset for that owner only", async () => {
  const dsA = await upload(a, "owner-a-del", 5, 24);
  const dsB = await upload(b, "owner-b-keep", 5, 25);
  const res = await raw(server.url, "DELETE", `/v1/datasets/${dsA}`, { token: KEY_A });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, {}, "delete must answer a JSON object");
  await expectApiError(a.datasets.get(dsA), NotFoundError, 404);
  assert.equal((await b.datasets.get(dsB)).dataset.validationStatus, "validated");
});
