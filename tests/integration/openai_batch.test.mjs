// OpenAI's Files and Batch APIs through the official `openai` npm SDK: files.create / retrieve /
// list / content / delete; batches.create / retrieve / list / cancel over a 1,000-line file with
// a few bad lines; the output file checked line by line against /v1/embeddings for the same
// bodies (same vectors); validation failures (OpenAI's `errors` with line numbers); per-owner
// isolation; error cases with OpenAI's error body.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import { startServer, KEY_A, KEY_B, raw, poll, makeTexts } from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const N = 1000;
const BAD = new Map([
  [17, { input: "" }], // empty string: a 400 from /v1/embeddings
  [400, { input: "x", encoding_format: "bogus" }],
  [777, { input: "y", dimensions: 3 }], // the lexical model has no Matryoshka cuts
]);
let server;
let oa; // owner A
let ob; // owner B

before(async () => {
  // Small chunks and a pause after each commit: the batch runs long enough to be seen (and
  // cancelled) mid-way.
  server = await startServer({ chunkRows: 100, failpoints: "job.after_commit=sleep:40" });
  oa = new OpenAI({ apiKey: KEY_A, baseURL: `${server.url}/v1`, maxRetries: 0 });
  ob = new OpenAI({ apiKey: KEY_B, baseURL: `${server.url}/v1`, maxRetries: 0 });
});

after(async () => {
  await server?.stop();
});

function bodyOf(i, texts) {
  if (BAD.has(i)) return { model: MODEL, ...BAD.get(i) };
  if (i % 10 === 3) return { model: MODEL, input: [texts[i], `${texts[i]} again`], encoding_format: "float" };
  if (i % 10 === 7) return { model: MODEL, input: texts[i] }; // OpenAI's default format (float)
  if (i % 50 === 9) return { model: MODEL, input: texts[i], encoding_format: "base64" };
  return { model: MODEL, input: texts[i], encoding_format: "float" };
}

function batchFile(n, seed) {
  const texts = makeTexts(n, seed);
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/embeddings", body: bodyOf(i, texts) }));
  }
  return lines.join("\n") + "\n";
}

async function waitBatch(client, id, statuses = ["completed", "failed", "cancelled", "expired"]) {
  return poll(() => client.batches.retrieve(id), (b) => statuses.includes(b.status), { what: `batch ${id}`, timeoutMs: 120000, intervalMs: 50 });
}

async function upload(client, text, name = "batch.jsonl") {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose: "batch" });
}

async function contentText(client, id) {
  const res = await client.files.content(id);
  return res.text();
}

function errorOf(e) {
  return { status: e.status, type: e.error?.type ?? e.type, param: e.param, message: e.message };
}

async function rejects(promise, status, param) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a ${status}`);
  assert.ok(err instanceof OpenAI.APIError, String(err));
  assert.equal(err.status, status, JSON.stringify(errorOf(err)));
  assert.equal(typeof err.error?.message, "string", "OpenAI's error body");
  if (param !== undefined) assert.equal(err.param, param, JSON.stringify(errorOf(err)));
  return err;
}

test("a 1,000-line batch with 3 bad lines: files, batches, output checked against /v1/embeddings", async () => {
  const text = batchFile(N, 5);
  const f = await upload(oa, text);
  assert.match(f.id, /^file-/);
  assert.equal(f.object, "file");
  assert.equal(f.purpose, "batch");
  assert.equal(f.filename, "batch.jsonl");
  assert.equal(f.bytes, Buffer.byteLength(text));
  assert.equal(typeof f.created_at, "number");
  assert.equal((await oa.files.retrieve(f.id)).id, f.id);
  assert.equal(await contentText(oa, f.id), text, "content: the exact bytes uploaded");

  const created = await oa.batches.create({
    input_file_id: f.id,
    endpoint: "/v1/embeddings",
    completion_window: "24h",
    metadata: { run: "one" },
  });
  assert.match(created.id, /^batch_/);
  assert.equal(created.object, "batch");
  assert.ok(["validating", "in_progress"].includes(created.status), created.status);
  assert.equal(created.endpoint, "/v1/embeddings");
  assert.equal(created.input_file_id, f.id);
  assert.deepEqual(created.metadata, { run: "one" });
  assert.equal(created.expires_at, created.created_at + 24 * 3600);

  const running = await poll(() => oa.batches.retrieve(created.id), (b) => b.status !== "validating", { what: "in_progress", intervalMs: 20 });
  assert.ok(["in_progress", "completed"].includes(running.status), running.status);
  const done = await waitBatch(oa, created.id);
  assert.equal(done.status, "completed", JSON.stringify(done));
  assert.deepEqual(done.request_counts, { total: N, completed: N - BAD.size, failed: BAD.size });
  assert.ok(done.completed_at >= done.created_at && done.in_progress_at >= done.created_at);
  assert.equal(done.errors, null);
  assert.ok(done.output_file_id && done.error_file_id);

  // The output: one line per good request, in input order, each the body /v1/embeddings answers.
  const outFile = await oa.files.retrieve(done.output_file_id);
  assert.equal(outFile.purpose, "batch_output");
  const outText = await contentText(oa, done.output_file_id);
  assert.equal(outFile.bytes, Buffer.byteLength(outText));
  const out = outText.trimEnd().split("\n").map((l) => JSON.parse(l));
  const good = [...Array(N).keys()].filter((i) => !BAD.has(i));
  assert.deepEqual(out.map((l) => l.custom_id), good.map((i) => `req-${i}`), "input order, bad lines left out");
  assert.equal(new Set(out.map((l) => l.id)).size, out.length, "line ids are unique");
  const texts = makeTexts(N, 5);
  // All inputs in one sync call (a text alone and in a request: the same vector) ...
  const flat = good.flatMap((i) => (typeof bodyOf(i, texts).input === "string" ? [bodyOf(i, texts).input] : bodyOf(i, texts).input));
  const sync = [];
  for (let k = 0; k < flat.length; k += 2048) {
    const r = await raw(server.url, "POST", "/v1/embeddings", { token: KEY_A, body: { model: MODEL, input: flat.slice(k, k + 2048), encoding_format: "float" } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    sync.push(...r.json.data.map((d) => d.embedding));
  }
  let v = 0;
  for (const [n, line] of out.entries()) {
    const i = good[n];
    assert.match(line.id, /^batch_req_/);
    assert.equal(line.error, null);
    assert.equal(line.response.status_code, 200, `line ${i}`);
    assert.equal(typeof line.response.request_id, "string");
    const body = line.response.body;
    assert.equal(body.object, "list");
    assert.equal(body.model, MODEL);
    const req = bodyOf(i, texts);
    if (req.encoding_format === "base64") {
      const b = Buffer.from(body.data[0].embedding, "base64");
      const f32 = Array.from(new Float32Array(b.buffer, b.byteOffset, b.length / 4));
      assert.deepEqual(f32, sync[v].map((x) => Math.fround(x)), `line ${i}: base64 decodes to the same vector`);
      v += 1;
      continue;
    }
    for (const d of body.data) assert.deepEqual(d.embedding, sync[v++], `line ${i} item ${d.index}: the vector /v1/embeddings gives`);
  }
  assert.equal(v, sync.length);
  // ... and a sample of lines, body for body, against /v1/embeddings with the same body.
  for (const i of [0, 3, 7, 9, 123, 999]) {
    const r = await raw(server.url, "POST", "/v1/embeddings", { token: KEY_A, body: bodyOf(i, texts) });
    assert.equal(r.status, 200);
    assert.deepEqual(out[good.indexOf(i)].response.body, r.json, `line ${i}: the same response body`);
  }

  // The error file: the 3 bad lines, in order, each with /v1/embeddings' 400 body.
  const errText = await contentText(oa, done.error_file_id);
  const errs = errText.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(errs.map((l) => l.custom_id), [...BAD.keys()].map((i) => `req-${i}`));
  for (const [k, i] of [...BAD.keys()].entries()) {
    const l = errs[k];
    assert.equal(l.response.status_code, 400);
    assert.equal(l.response.body.error.type, "invalid_request_error");
    const r = await raw(server.url, "POST", "/v1/embeddings", { token: KEY_A, body: bodyOf(i, texts) });
    assert.equal(r.status, 400);
    assert.deepEqual(l.response.body.error, r.json.error, `line ${i}: the error /v1/embeddings gives`);
  }
  assert.deepEqual(errs.map((l) => l.response.body.error.param), ["input", "encoding_format", "dimensions"]);

  // Lists: the files (input, output, error) and the batch.
  const ids = [];
  for await (const x of oa.files.list()) ids.push(x.id);
  for (const id of [f.id, done.output_file_id, done.error_file_id]) assert.ok(ids.includes(id), `files.list has ${id}`);
  const outputs = [];
  for await (const x of oa.files.list({ purpose: "batch_output" })) outputs.push(x.id);
  assert.ok(outputs.includes(done.output_file_id) && !outputs.includes(f.id));
  const batches = [];
  for await (const b of oa.batches.list()) batches.push(b.id);
  assert.ok(batches.includes(done.id));

  // Cancel a finished batch: a 400.
  await rejects(oa.batches.cancel(done.id), 400);
});

test("batches.list: newest first, paged with after / limit", async () => {
  const f = await upload(oa, batchFile(3, 11));
  const made = [];
  for (let k = 0; k < 3; k++) {
    made.push((await oa.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" })).id);
  }
  const page1 = await oa.batches.list({ limit: 2 });
  assert.deepEqual(page1.data.map((b) => b.id), [made[2], made[1]]);
  assert.equal(page1.has_more, true);
  const page2 = await oa.batches.list({ limit: 2, after: made[1] });
  assert.equal(page2.data[0].id, made[0]);
  for (const id of made) assert.equal((await waitBatch(oa, id)).status, "completed");
});

test("cancel mid-way: cancelling -> cancelled, the lines finished so far in the output", async () => {
  const f = await upload(oa, batchFile(3000, 21));
  const b = await oa.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  await poll(() => oa.batches.retrieve(b.id), (x) => x.request_counts.completed > 0, { what: "some progress", intervalMs: 20 });
  const c = await oa.batches.cancel(b.id);
  assert.ok(["cancelling", "cancelled"].includes(c.status), c.status);
  const done = await waitBatch(oa, b.id);
  assert.equal(done.status, "cancelled");
  assert.ok(done.cancelled_at >= done.created_at);
  const finished = done.request_counts.completed + done.request_counts.failed;
  assert.ok(finished > 0 && finished < 3000, JSON.stringify(done.request_counts));
  const lines = (await contentText(oa, done.output_file_id)).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, done.request_counts.completed);
  const prefix = [...Array(3000).keys()].filter((i) => !BAD.has(i)).slice(0, lines.length);
  assert.deepEqual(lines.map((l) => l.custom_id), prefix.map((i) => `req-${i}`), "a prefix of the input, in order");
});

test("a file with broken lines: the batch fails at validation with OpenAI's errors, by line", async () => {
  const ok = (id) => ({ custom_id: id, method: "POST", url: "/v1/embeddings", body: { model: MODEL, input: "a" } });
  const lines = [
    JSON.stringify(ok("a")),
    JSON.stringify(ok("a")), // duplicate custom_id
    JSON.stringify({ ...ok("b"), method: "GET" }),
    JSON.stringify({ ...ok("c"), url: "/v1/chat/completions" }),
    JSON.stringify({ ...ok("d"), body: { model: "other-model", input: "a" } }),
    "{not json",
    JSON.stringify(ok("e")),
  ];
  const f = await upload(oa, lines.join("\n"));
  assert.equal((await oa.files.retrieve(f.id)).bytes, Buffer.byteLength(lines.join("\n")));
  const b = await oa.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  assert.equal(b.status, "failed");
  assert.equal(typeof b.failed_at, "number");
  assert.deepEqual(b.errors.data.map((e) => [e.line, e.code]), [
    [2, "duplicate_custom_id"],
    [3, "invalid_method"],
    [4, "invalid_url"],
    [5, "mismatched_model"],
    [6, "invalid_json_line"],
  ]);
  assert.ok(b.errors.data.every((e) => typeof e.message === "string" && e.message.length > 0));
  assert.equal((await oa.batches.retrieve(b.id)).status, "failed");

  // A model this server does not serve: failed too, naming body.model.
  const g = await upload(oa, JSON.stringify({ ...ok("x"), body: { model: "text-embedding-3-small", input: "a" } }));
  const nb = await oa.batches.create({ input_file_id: g.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  assert.equal(nb.status, "failed");
  assert.equal(nb.errors.data[0].code, "model_not_found");
});

test("per-owner isolation: another key sees none of A's files or batches", async () => {
  const f = await upload(oa, batchFile(5, 31));
  const b = await oa.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" });
  await rejects(ob.files.retrieve(f.id), 404);
  await rejects(ob.files.content(f.id), 404);
  await rejects(ob.files.delete(f.id), 404);
  await rejects(ob.batches.retrieve(b.id), 404);
  await rejects(ob.batches.cancel(b.id), 404);
  await rejects(ob.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" }), 404);
  const bFiles = [];
  for await (const x of ob.files.list()) bFiles.push(x.id);
  assert.ok(!bFiles.includes(f.id));
  const bBatches = [];
  for await (const x of ob.batches.list()) bBatches.push(x.id);
  assert.ok(!bBatches.includes(b.id));
  const done = await waitBatch(oa, b.id);
  await rejects(ob.files.content(done.output_file_id), 404);
  await rejects(ob.files.retrieve(done.output_file_id), 404);
});

test("error cases: purpose, endpoint, completion_window, metadata, unknown ids, delete", async () => {
  await rejects(oa.files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "fine-tune" }), 400, "purpose");
  const f = await upload(oa, batchFile(2, 41));
  const base = { input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" };
  await rejects(oa.batches.create({ ...base, endpoint: "/v1/chat/completions" }), 400, "endpoint");
  await rejects(oa.batches.create({ ...base, completion_window: "48h" }), 400, "completion_window");
  await rejects(oa.batches.create({ ...base, metadata: { k: 5 } }), 400, "metadata");
  await rejects(oa.batches.create({ ...base, input_file_id: "file-nope" }), 404);
  await rejects(oa.batches.retrieve("batch_nope"), 404);
  await rejects(oa.files.retrieve("file-nope"), 404);
  const empty = await raw(server.url, "POST", "/v1/batches", { token: KEY_A, body: {} });
  assert.equal(empty.status, 400);
  assert.equal(empty.json.error.param, "input_file_id");
  const noKey = await raw(server.url, "GET", "/v1/files", {});
  assert.equal(noKey.status, 401);
  assert.equal(typeof noKey.json.error.message, "string");

  // Delete: the file is gone (retrieve, content, list), and a batch's output with it.
  const b = await waitBatch(oa, (await oa.batches.create(base)).id);
  const del = await oa.files.delete(f.id);
  assert.deepEqual(del, { id: f.id, object: "file", deleted: true });
  await rejects(oa.files.retrieve(f.id), 404);
  await rejects(oa.files.content(f.id), 404);
  assert.equal((await oa.files.delete(b.output_file_id)).deleted, true);
  await rejects(oa.files.content(b.output_file_id), 404);
  const ids = [];
  for await (const x of oa.files.list()) ids.push(x.id);
  assert.ok(!ids.includes(f.id) && !ids.includes(b.output_file_id));
});
