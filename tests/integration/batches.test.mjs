// Batches (/v2/batches, cohere-api.md section 6) through the cohere-ai SDK's v2 batches client:
// batch-embed-v2-input validation at upload, a 1,000-record batch with mixed embedding types and
// a few records that fail (the batch does not), its output decoded and checked record by record
// against /v2/embed for the same bodies (bit for bit), paging through the list in both orders,
// cancel mid-way (the output keeps the records finished before it), and a SIGKILL mid-batch that
// resumes from its committed chunks; a create retried with the same Idempotency-Key.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Cohere, CohereClientV2 } from "cohere-ai";
import {
  startServer,
  raw,
  poll,
  sleep,
  waitDataset,
  waitValidated,
  downloadParts,
  expectApiError,
  makeTexts,
  KEY_A,
  KEY_B,
} from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const STATUSES = [
  "BATCH_STATUS_QUEUED",
  "BATCH_STATUS_IN_PROGRESS",
  "BATCH_STATUS_CANCELING",
  "BATCH_STATUS_COMPLETED",
  "BATCH_STATUS_FAILED",
  "BATCH_STATUS_CANCELED",
];
const TERMINAL = ["BATCH_STATUS_COMPLETED", "BATCH_STATUS_FAILED", "BATCH_STATUS_CANCELED"];
const ALL_TYPES = ["float", "int8", "uint8", "binary", "ubinary", "base64"];

const servers = [];
after(async () => {
  for (const s of servers.reverse()) await s.stop(); // a restarted server shares its predecessor's dir
});

async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

const v2 = (url, token = KEY_A) => new CohereClientV2({ token, environment: url });

// Record i of a mixed batch: texts or multi-part inputs, every input_type, six embedding type
// sets (and none: float by default), truncate / max_tokens, and every 50th record one that only
// the model can refuse (an image, an output_dimension the model lacks, too long with NONE).
function mixedBody(i, texts) {
  const inputTypes = ["search_document", "search_query", "classification", "clustering"];
  const typeSets = [["float"], ["int8", "float"], ["uint8", "binary"], ["ubinary"], ["base64", "float"], ALL_TYPES, null];
  const body = { input_type: inputTypes[i % 4] };
  const types = typeSets[i % typeSets.length];
  if (types) body.embedding_types = types;
  const t = (k) => texts[(i * 3 + k) % texts.length];
  if (i % 50 === 7) {
    const kind = Math.floor(i / 50) % 3;
    if (kind === 0) {
      body.inputs = [{ content: [{ type: "text", text: t(0) }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }];
    } else if (kind === 1) {
      body.texts = [t(0)];
      body.output_dimension = 256;
    } else {
      body.texts = [t(0) + " " + t(1)];
      body.truncate = "NONE";
      body.max_tokens = 2;
    }
    return { body, bad: true };
  }
  if (i % 3 === 0) {
    body.texts = [t(0), t(1), t(2)].slice(0, 1 + (i % 3));
  } else if (i % 3 === 1) {
    body.inputs = [{ content: [{ type: "text", text: t(0) }, { type: "text", text: t(1) }] }, { content: [{ type: "text", text: t(2) }] }];
  } else {
    body.texts = [t(0), t(1)];
    body.truncate = i % 2 ? "START" : "END";
    body.max_tokens = 4;
  }
  return { body, bad: false };
}

async function uploadBatchInput(co, name, lines, { wait = true } = {}) {
  const jsonl = lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n";
  const { id } = await co.datasets.create(new File([jsonl], `${name}.jsonl`), undefined, {
    name,
    type: "batch-embed-v2-input",
  });
  return wait ? (await waitValidated(co, id)).id : id;
}

function checkBatchShape(b, where) {
  assert.ok(STATUSES.includes(b.status), `${where}: status ${b.status}`);
  assert.equal(typeof b.inputTokens, "string", `${where}: input_tokens must be an int64 string`);
  assert.match(b.inputTokens, /^\d+$/);
  assert.equal(b.outputTokens, "0", `${where}: output_tokens`);
  assert.ok(b.createdAt instanceof Date && b.updatedAt instanceof Date, `${where}: timestamps`);
  assert.equal(b.numSuccessfulRecords + b.numFailedRecords <= b.numRecords, true, `${where}: counters`);
}

async function waitBatch(co, id, statuses = TERMINAL, timeoutMs = 60000) {
  return poll(
    async () => {
      const { batch } = await co.batches.retrieve(id);
      checkBatchShape(batch, `batch ${id}`);
      return batch;
    },
    (b) => statuses.includes(b.status),
    { timeoutMs, intervalMs: 50, what: `batch ${id} to reach ${statuses.join("|")}` },
  );
}

// Runs fn over items with `n` requests in flight.
async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

const f32 = (a) => Buffer.from(new Float32Array(a).buffer);

// Each output record against /v2/embed for the same body: the same vectors (bit for bit), the
// same types, texts and meta; a failed record carries the error /v2/embed answers.
async function checkAgainstSyncEmbed(url, records, expected) {
  assert.equal(records.length, expected.length, "output record count");
  await pool(records, 8, async (rec, i) => {
    const { custom_id: cid, body } = expected[i];
    const where = `record ${i} (${cid})`;
    assert.equal(rec.custom_id, cid, `${where}: output is not in input order`);
    const sync = await raw(url, "POST", "/v2/embed", { token: KEY_A, body: { ...body, model: MODEL } });
    if (sync.status !== 200) {
      assert.equal(rec.body, null, `${where}: /v2/embed says ${sync.status} ${sync.text}, the batch embedded it`);
      assert.ok(rec.error, `${where}: failed record has no error`);
      assert.equal(rec.error.status_code, sync.status, `${where}: error status`);
      assert.equal(rec.error.message, sync.json.message, `${where}: error message`);
      assert.deepEqual(Object.keys(rec.error).sort(), ["message", "status_code"]);
      return;
    }
    assert.equal(rec.error, null, `${where}: ${JSON.stringify(rec.error)}`);
    const b = rec.body;
    assert.equal(b.response_type, "embeddings_by_type");
    assert.match(b.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(b.texts, sync.json.texts, `${where}: texts`);
    const plain = (x) => JSON.parse(JSON.stringify(x)); // avsc decodes records as class instances
    assert.deepEqual(plain(b.meta), { warnings: null, ...sync.json.meta }, `${where}: meta`);
    const want = sync.json.embeddings;
    for (const t of ALL_TYPES) {
      if (!(t in want)) {
        assert.equal(b.embeddings[t], null, `${where}: ${t} was not requested`);
        continue;
      }
      assert.equal(b.embeddings[t].length, want[t].length, `${where}: ${t} count`);
      for (let k = 0; k < want[t].length; k++) {
        if (t === "float") {
          assert.ok(f32(b.embeddings.float[k]).equals(f32(want.float[k])), `${where}: float[${k}] differs from /v2/embed`);
        } else {
          assert.deepEqual(b.embeddings[t][k], want[t][k], `${where}: ${t}[${k}]`);
        }
      }
    }
  });
}

test("batch-embed-v2-input is validated at upload; errors name the line", async () => {
  const srv = await start({});
  const co = v2(srv.url);
  const ok = { input_type: "search_document", texts: ["a"] };
  const cases = [
    [[{ custom_id: "a", body: ok }, { custom_id: "b", body: ok }, { custom_id: "a", body: ok }], /^line 3: custom_id "a" is used again \(first on line 1\)/],
    [[{ custom_id: "a", body: ok }, { custom_id: "b", body: { input_type: "search_document", texts: [] } }], /^line 2: body: invalid request: texts must not be empty/],
    [[{ custom_id: "a", body: { texts: ["x"] } }], /^line 1: body: invalid request: valid input_type must be provided/],
    [[{ custom_id: "a", body: { ...ok, embedding_types: ["float", "int4"] } }], /^line 1: body: .*int4/],
    [[{ custom_id: "a", body: { ...ok, model: MODEL } }], /^line 1: body: model is not allowed/],
    [[{ body: ok }], /^line 1: custom_id is missing/],
    [[{ custom_id: 7, body: ok }], /^line 1: custom_id must be a string/],
    [[{ custom_id: "a", body: ok }, "{not json"], /^line 2: invalid JSON/],
    [[{ custom_id: "a", body: { ...ok, texts: Array(97).fill("x") } }], /^line 1: body: invalid request: total number of texts must be at most 96 - received 97/],
  ];
  for (const [lines, re] of cases) {
    const id = await uploadBatchInput(co, "bad-input", lines, { wait: false });
    const ds = await waitDataset(co, id);
    assert.equal(ds.validationStatus, "failed", `${JSON.stringify(lines)} should fail`);
    assert.match(ds.validationError, re);
  }
  // A valid upload: parts of {custom_id, body (JSON text)}.
  const id = await uploadBatchInput(co, "good-input", [{ custom_id: "x", body: ok }, { custom_id: "y", body: { ...ok, input_type: "search_query" } }]);
  const ds = (await co.datasets.get(id)).dataset;
  assert.equal(ds.datasetType, "batch-embed-v2-input");
  const { records } = await downloadParts(ds);
  assert.deepEqual(records.map((r) => [r.custom_id, JSON.parse(r.body).input_type]), [["x", "search_document"], ["y", "search_query"]]);
  // An embed job does not take it, and a batch does not take an embed-input dataset.
  await expectApiError(co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" }), Cohere.BadRequestError, 400);
  const { id: plain } = await co.datasets.create(new File(['{"text": "t"}\n'], "p.jsonl"), undefined, { name: "plain", type: "embed-input" });
  await waitValidated(co, plain);
  const e = await expectApiError(co.batches.create({ name: "x", inputDatasetId: plain, model: MODEL }), Cohere.BadRequestError, 400);
  assert.match(e.body.message, /batch-embed-v2-input/);
  await expectApiError(co.batches.create({ name: "x", inputDatasetId: id, model: "no-such-model" }), Cohere.NotFoundError, 404);
  await expectApiError(co.batches.create({ name: "x", inputDatasetId: "nope", model: MODEL }), Cohere.NotFoundError, 404);
  // Another owner sees neither the dataset nor a batch made from it.
  const { batch } = await co.batches.create({ name: "mine", inputDatasetId: id, model: MODEL });
  await expectApiError(v2(srv.url, KEY_B).batches.retrieve(batch.id), Cohere.NotFoundError, 404);
  await expectApiError(v2(srv.url, KEY_B).batches.create({ name: "x", inputDatasetId: id, model: MODEL }), Cohere.NotFoundError, 404);
  assert.deepEqual((await v2(srv.url, KEY_B).batches.list()).batches, []);
  // A batch is not an embed job.
  assert.ok(!(await co.embedJobs.list()).embedJobs.some((j) => j.jobId === batch.id));
  await waitBatch(co, batch.id);
});

test("a 1,000-record batch with mixed types and failing records matches /v2/embed record by record", async () => {
  const srv = await start({ chunkRows: 100 });
  const co = v2(srv.url);
  const texts = makeTexts(600, 12);
  const expected = [];
  let bad = 0;
  for (let i = 0; i < 1000; i++) {
    const { body, bad: isBad } = mixedBody(i, texts);
    bad += isBad ? 1 : 0;
    expected.push({ custom_id: `rec-${String(i).padStart(4, "0")}`, body });
  }
  assert.ok(bad >= 10 && bad <= 30);
  const ds = await uploadBatchInput(co, "mixed-batch", expected);
  const created = await co.batches.create({ name: "mixed-batch", inputDatasetId: ds, model: MODEL });
  const b0 = created.batch;
  checkBatchShape(b0, "created");
  assert.match(b0.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(b0.name, "mixed-batch");
  assert.equal(b0.inputDatasetId, ds);
  assert.equal(b0.model, MODEL);
  assert.equal(b0.numRecords, 1000);
  assert.ok(["BATCH_STATUS_QUEUED", "BATCH_STATUS_IN_PROGRESS"].includes(b0.status));
  const check = await raw(srv.url, "POST", "/v1/check-api-key", { token: KEY_A });
  assert.equal(b0.creatorId, check.json.owner_id);
  assert.equal(b0.orgId, check.json.organization_id);

  const done = await waitBatch(co, b0.id);
  assert.equal(done.status, "BATCH_STATUS_COMPLETED", done.statusReason);
  assert.equal(done.numRecords, 1000);
  assert.equal(done.numFailedRecords, bad, "failed records");
  assert.equal(done.numSuccessfulRecords, 1000 - bad);
  assert.ok(Number(done.inputTokens) > 1000);
  assert.ok(done.updatedAt >= done.createdAt);

  const out = (await co.datasets.get(done.outputDatasetId)).dataset;
  assert.equal(out.datasetType, "batch-embed-v2-output");
  assert.equal(out.validationStatus, "validated");
  assert.match(out.name, /^mixed-batch-output-[a-z0-9]{6}$/);
  assert.match(out.id, /^mixed-batch-output-[a-z0-9]{6}$/);
  const { records } = await downloadParts(out);
  await checkAgainstSyncEmbed(srv.url, records, expected);
  // input_tokens is the sum of the successful records' billed tokens.
  const billed = records.reduce((s, r) => s + (r.body ? r.body.meta.billed_units.input_tokens : 0), 0);
  assert.equal(done.inputTokens, String(billed));
  // Only queued / in-progress batches can be cancelled.
  const e = await expectApiError(co.batches.cancel(done.id), Cohere.BadRequestError, 400);
  assert.match(e.body.message, /only queued or in-progress batches can be canceled/);
});

test("list pages in both orders; cancel mid-way keeps the finished records", async () => {
  // Every committed chunk sleeps 150 ms: a 100-record batch in chunks of 10 takes ~1.5 s.
  const srv = await start({ chunkRows: 10, failpoints: "job.after_commit=sleep:150" });
  const co = v2(srv.url);
  const texts = makeTexts(200, 5);
  const lines = texts.slice(0, 100).map((t, i) => ({ custom_id: `c${i}`, body: { input_type: "search_document", texts: [t], embedding_types: ["float", "ubinary"] } }));
  const ds = await uploadBatchInput(co, "list-and-cancel", lines);

  // Cancel mid-way.
  const { batch } = await co.batches.create({ name: "cancel-me", inputDatasetId: ds, model: MODEL });
  const running = await waitBatch(co, batch.id, ["BATCH_STATUS_IN_PROGRESS"]);
  await poll(() => co.batches.retrieve(batch.id), (r) => r.batch.numSuccessfulRecords >= 20, { what: "progress", intervalMs: 20 });
  assert.equal(running.status, "BATCH_STATUS_IN_PROGRESS");
  assert.deepEqual(await co.batches.cancel(batch.id), {});
  const after = (await co.batches.retrieve(batch.id)).batch;
  assert.ok(["BATCH_STATUS_CANCELING", "BATCH_STATUS_CANCELED"].includes(after.status), after.status);
  const canceled = await waitBatch(co, batch.id);
  assert.equal(canceled.status, "BATCH_STATUS_CANCELED");
  const kept = canceled.numSuccessfulRecords;
  assert.ok(kept >= 20 && kept < 100, `kept ${kept}`);
  assert.equal(kept % 10, 0, "whole chunks are kept");
  assert.match(canceled.statusReason, new RegExp(`holds the ${kept} of 100 records finished before the cancel`));
  const out = (await co.datasets.get(canceled.outputDatasetId)).dataset;
  assert.equal(out.validationStatus, "validated");
  assert.match(out.validationWarnings.join(" "), new RegExp(`first ${kept} of 100 records`));
  const { records } = await downloadParts(out);
  assert.deepEqual(records.map((r) => r.custom_id), lines.slice(0, kept).map((l) => l.custom_id));
  await checkAgainstSyncEmbed(srv.url, records, lines.slice(0, kept));
  await expectApiError(co.batches.cancel(batch.id), Cohere.BadRequestError, 400);
  await expectApiError(co.batches.cancel("no-such-batch"), Cohere.NotFoundError, 404);

  // Cancel while queued: a second batch waits behind a running one (one job worker).
  const small = await uploadBatchInput(co, "small", lines.slice(0, 3));
  const ids = [];
  for (let i = 0; i < 6; i++) {
    ids.push((await co.batches.create({ name: `b${i}`, inputDatasetId: small, model: MODEL })).batch.id);
    await sleep(5);
  }
  const queued = (await co.batches.retrieve(ids[5])).batch;
  assert.equal(queued.status, "BATCH_STATUS_QUEUED", "five batches of ~150 ms each run before it");
  await co.batches.cancel(ids[5]);
  const canceledQueued = await waitBatch(co, ids[5]);
  assert.equal(canceledQueued.status, "BATCH_STATUS_CANCELED");
  assert.equal(canceledQueued.numSuccessfulRecords, 0);
  for (const id of ids) await waitBatch(co, id);
  ids.unshift(batch.id);

  // Paging: created_at (default, newest first), created_at asc, updated_at.
  const all = (await co.batches.list({ pageSize: 5000 })).batches; // > 1000 is coerced, not refused
  assert.equal(all.length, 7);
  const pageThrough = async (orderBy) => {
    const seen = [];
    let token;
    for (let pages = 0; pages < 10; pages++) {
      const res = await co.batches.list({ pageSize: 3, pageToken: token, orderBy });
      assert.ok(res.batches.length <= 3);
      res.batches.forEach((b) => checkBatchShape(b, "listed"));
      seen.push(...res.batches);
      token = res.nextPageToken;
      if (!token) break;
      assert.equal(res.batches.length, 3, "a page before the last is full");
    }
    assert.equal(token, undefined, "the last page has no next_page_token");
    assert.equal(new Set(seen.map((b) => b.id)).size, seen.length, `${orderBy}: a batch listed twice`);
    assert.deepEqual([...seen.map((b) => b.id)].sort(), [...ids].sort(), `${orderBy}: not every batch listed`);
    return seen;
  };
  const byCreated = await pageThrough(undefined);
  assert.deepEqual(byCreated.map((b) => b.id), [...ids].reverse(), "created_at: newest first");
  const byCreatedAsc = await pageThrough("created_at asc");
  assert.deepEqual(byCreatedAsc.map((b) => b.id), ids, "created_at asc: oldest first");
  const byUpdated = await pageThrough("updated_at");
  for (let i = 1; i < byUpdated.length; i++) {
    assert.ok(byUpdated[i - 1].updatedAt >= byUpdated[i].updatedAt, "updated_at: newest first");
  }
  // A token is for the order it was made in.
  const first = await co.batches.list({ pageSize: 3 });
  await expectApiError(co.batches.list({ pageSize: 3, pageToken: first.nextPageToken, orderBy: "updated_at" }), Cohere.BadRequestError, 400);
  await expectApiError(co.batches.list({ orderBy: "name" }), Cohere.BadRequestError, 400);
  // A status filter takes both spellings of the cancelled status.
  for (const s of ["BATCH_STATUS_CANCELED", "BATCH_STATUS_CANCELLED"]) {
    const r = await raw(srv.url, "GET", `/v2/batches?status=${s}`, { token: KEY_A });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.batches.length >= 1 && r.json.batches.every((b) => b.status === "BATCH_STATUS_CANCELED"));
    assert.ok(r.json.batches.some((b) => b.id === batch.id));
  }
  // The literal colon route; an empty JSON body is fine too.
  const r = await raw(srv.url, "POST", `/v2/batches/${ids[1]}:cancel`, { token: KEY_A, body: {} });
  assert.equal(r.status, 400, r.text);
});

test("a SIGKILL mid-batch resumes from the committed chunks", async () => {
  const texts = makeTexts(300, 77);
  const lines = texts.slice(0, 200).map((t, i) => ({
    custom_id: `k${i}`,
    body: { input_type: i % 2 ? "search_query" : "search_document", texts: [t, texts[i + 100]], embedding_types: ["float", "int8", "binary"] },
  }));
  const first = await start({ chunkRows: 20, leaseMs: 1000, failpoints: "job.after_commit=sleep:200" });
  let co = v2(first.url);
  const ds = await uploadBatchInput(co, "crash-me", lines);
  const { batch } = await co.batches.create({ name: "crash-me", inputDatasetId: ds, model: MODEL });
  const mid = await poll(() => co.batches.retrieve(batch.id), (r) => r.batch.numSuccessfulRecords >= 40, { what: "progress", intervalMs: 20 });
  assert.ok(mid.batch.numSuccessfulRecords < 200, "the batch finished before the kill");
  await first.kill();

  const second = await start({ dataDir: first.dataDir, chunkRows: 20, leaseMs: 1000 });
  co = v2(second.url);
  const resumed = (await co.batches.retrieve(batch.id)).batch;
  assert.ok(resumed.numSuccessfulRecords >= mid.batch.numSuccessfulRecords, "committed records survived the kill");
  const done = await waitBatch(co, batch.id);
  assert.equal(done.status, "BATCH_STATUS_COMPLETED", done.statusReason);
  assert.equal(done.numSuccessfulRecords, 200);
  assert.equal(done.numFailedRecords, 0);
  const out = (await co.datasets.get(done.outputDatasetId)).dataset;
  const { records } = await downloadParts(out);
  await checkAgainstSyncEmbed(second.url, records, lines);
});

test("a create retried with the same Idempotency-Key returns the same batch and makes one", async () => {
  const srv = await start();
  const co = v2(srv.url);
  const ds = await uploadBatchInput(co, "idem", [{ custom_id: "a", body: { input_type: "search_document", texts: ["hello"] } }]);
  const countNamed = async (name) => (await co.batches.list({ pageSize: 100 })).batches.filter((b) => b.name === name).length;

  // Through the SDK (its request options carry the header).
  const key = `batch-${Date.now()}`;
  const req = { name: "idem-sdk", inputDatasetId: ds, model: MODEL };
  const first = (await co.batches.create(req, { headers: { "Idempotency-Key": key } })).batch;
  const again = (await co.batches.create(req, { headers: { "Idempotency-Key": key } })).batch;
  assert.equal(again.id, first.id, "the replay names the first batch");
  assert.equal(await countNamed("idem-sdk"), 1, "one batch made");
  // Without the key the same request makes a second batch.
  await co.batches.create(req);
  assert.equal(await countNamed("idem-sdk"), 2);

  // Over the wire: the replay is marked, and the same key with another request is a 422.
  const body = JSON.stringify({ name: "idem-raw", input_dataset_id: ds, model: MODEL });
  const headers = { "Content-Type": "application/json", "Idempotency-Key": `${key}-raw` };
  const r1 = await raw(srv.url, "POST", "/v2/batches", { token: KEY_A, body, headers });
  assert.equal(r1.status, 200, r1.text);
  const r2 = await raw(srv.url, "POST", "/v2/batches", { token: KEY_A, body, headers });
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.headers.get("idempotent-replayed"), "true");
  assert.equal(r2.json.batch.id, r1.json.batch.id);
  assert.equal(await countNamed("idem-raw"), 1);
  const other = JSON.stringify({ name: "idem-other", input_dataset_id: ds, model: MODEL });
  const r3 = await raw(srv.url, "POST", "/v2/batches", { token: KEY_A, body: other, headers });
  assert.equal(r3.status, 422, r3.text);
  assert.equal(await countNamed("idem-other"), 0);
  await waitBatch(co, first.id);
});
