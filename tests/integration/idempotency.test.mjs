// Idempotency-Key on the create routes (POST /v1/embed-jobs, POST /v1/datasets): a replay gets
// the first answer, a different request under the same key is a 422, a second request while the
// first runs is a 409, keys belong to their owner, answers that created nothing are not kept.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startServer, client, raw, waitValidated, makeTexts, KEY_A, KEY_B } from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
let server;
let datasetId;

before(async () => {
  server = await startServer();
  const co = client(server.url);
  const body = makeTexts(10, 7)
    .map((t) => JSON.stringify({ text: t }))
    .join("\n");
  ({ id: datasetId } = await co.datasets.create(new File([body], "idem.jsonl"), undefined, {
    name: "idem",
    type: "embed-input",
  }));
  await waitValidated(co, datasetId);
});

after(async () => {
  await server?.stop();
});

const jobBody = (extra = {}) =>
  JSON.stringify({ model: MODEL, dataset_id: datasetId, input_type: "search_document", ...extra });

function postJob(key, body, token = KEY_A) {
  const headers = { "Content-Type": "application/json" };
  if (key !== undefined) headers["Idempotency-Key"] = key;
  return raw(server.url, "POST", "/v1/embed-jobs", { token, body, headers });
}

async function jobIds(token = KEY_A) {
  return ((await client(server.url, token).embedJobs.list()).embedJobs ?? []).map((j) => j.jobId);
}

test("a replay returns the first answer and creates nothing", async () => {
  const key = randomUUID();
  const first = await postJob(key, jobBody());
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  const before = await jobIds();
  const again = await postJob(key, jobBody());
  assert.equal(again.status, 200);
  assert.equal(again.text, first.text, "same body");
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(await jobIds(), before, "no second job");
});

test("the same key with a different request is a 422 that says so", async () => {
  const key = randomUUID();
  assert.equal((await postJob(key, jobBody())).status, 200);
  const other = await postJob(key, jobBody({ name: "different" }));
  assert.equal(other.status, 422);
  assert.match(other.json.message, /Idempotency-Key was already used with a different request/);
});

test("keys belong to their owner", async () => {
  const key = randomUUID();
  const a = await postJob(key, jobBody());
  assert.equal(a.status, 200);
  // KEY_B's owner cannot see KEY_A's dataset: its request under the same key runs (404), it
  // does not replay KEY_A's answer (nor is it a 422).
  const b = await postJob(key, jobBody(), KEY_B);
  assert.equal(b.status, 404, b.text);
});

test("an answer that created nothing is not kept: a retry with the same key runs again", async () => {
  const key = randomUUID();
  const bad = await postJob(key, jobBody({ model: "no-such-model" }));
  assert.equal(bad.status, 404);
  const good = await postJob(key, jobBody());
  assert.equal(good.status, 200, good.text);
});

test("a malformed key is a 400 naming the header", async () => {
  for (const key of ["", "x".repeat(256), "has space"]) {
    const res = await postJob(key, jobBody());
    assert.equal(res.status, 400, `key '${key.slice(0, 20)}': ${res.text}`);
    assert.match(res.json.message, /Idempotency-Key/);
  }
});

test("dataset uploads: a retried multipart body (new boundary) replays; another file is a 422", async () => {
  const key = randomUUID();
  const csv = "text\nfirst row\nsecond row\n";
  const upload = (content) => {
    const form = new FormData();
    form.append("data", new Blob([content]), "rows.csv");
    return raw(server.url, "POST", "/v1/datasets?name=idem-upload&type=embed-input", {
      token: KEY_A,
      body: form,
      headers: { "Idempotency-Key": key },
    });
  };
  const first = await upload(csv);
  assert.equal(first.status, 200, first.text);
  const again = await upload(csv);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.id, first.json.id);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  const named = ((await client(server.url).datasets.list()).datasets ?? []).filter((d) => d.name === "idem-upload");
  assert.equal(named.length, 1, "one dataset");
  const other = await upload("text\nanother file\n");
  assert.equal(other.status, 422, other.text);
});

test("a second request while the first with the same key runs is a 409", async () => {
  const slow = await startServer({ failpoints: "idempotency.started=1*sleep:1500" });
  try {
    const key = randomUUID();
    const form = () => {
      const f = new FormData();
      f.append("data", new Blob(["text\none\n"]), "one.csv");
      return f;
    };
    const post = () =>
      raw(slow.url, "POST", "/v1/datasets?name=slow&type=embed-input", {
        token: KEY_A,
        body: form(),
        headers: { "Idempotency-Key": key },
      });
    const first = post();
    await new Promise((r) => setTimeout(r, 400));
    const second = await post();
    assert.equal(second.status, 409, second.text);
    assert.equal(second.headers.get("retry-after"), "1");
    assert.match(second.json.message, /still in progress/);
    const done = await first;
    assert.equal(done.status, 200, done.text);
    const third = await post();
    assert.equal(third.json.id, done.json.id);
  } finally {
    await slow.stop();
  }
});
