// Auth matrix (issue 9): every route x {no key, malformed Authorization, Basic scheme, wrong key,
// another owner's key, expired / tampered signed link}. Each answer must be the documented status
// (cohere-api.md 7.2: 401 for a missing or invalid key; 404 for a resource that is not the
// caller's, with the same message as for an id that does not exist; 403 for a bad signed link)
// and leak nothing: no other owner's ids or rows, no server path, no internal detail.
//
// ROUTES is the one table: a new route gets a line here, and the first test fails until it has
// one (it reads the registrations in src/api/*.cpp).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, client, raw, repoRoot, sleep, poll, waitValidated, waitJob, KEY_A, KEY_B } from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const SECRET_TEXT = "owner-a-private-row-text";
const URL_TTL_S = 6;

// kind: "keyed" (needs a key; `owned` when the path names owner A's resource) or "signed"
// (no key; the link's signature is the capability). body: what a well-formed call sends; ok: its
// status with a good key (200 unless said).
const ROUTES = [
  { method: "POST", pattern: "/v1/datasets", kind: "keyed", body: "upload" },
  { method: "GET", pattern: "/v1/datasets", kind: "keyed", list: true },
  { method: "GET", pattern: "/v1/datasets/usage", kind: "keyed" },
  { method: "GET", pattern: "/v1/datasets/{dataset}", kind: "keyed", owned: true },
  { method: "DELETE", pattern: "/v1/datasets/{dataset}", kind: "keyed", owned: true },
  { method: "GET", pattern: "/v1/dataset-parts/{dataset}/{part}", kind: "signed", link: "part" },
  { method: "POST", pattern: "/v1/embed", kind: "keyed", body: { model: MODEL, texts: ["hi"], input_type: "search_query" } },
  { method: "POST", pattern: "/v2/embed", kind: "keyed", body: { model: MODEL, texts: ["hi"], input_type: "search_query", embedding_types: ["float"] } },
  { method: "POST", pattern: "/v1/embed-jobs", kind: "keyed", owned: true, body: "job" },
  { method: "GET", pattern: "/v1/embed-jobs", kind: "keyed", list: true },
  { method: "GET", pattern: "/v1/embed-jobs/{job}", kind: "keyed", owned: true },
  { method: "POST", pattern: "/v1/embed-jobs/{job}/cancel", kind: "keyed", owned: true, body: {} },
  { method: "POST", pattern: "/v2/batches", kind: "keyed", owned: true, body: "batch" },
  { method: "GET", pattern: "/v2/batches", kind: "keyed", list: true },
  { method: "GET", pattern: "/v2/batches/{batch}", kind: "keyed", owned: true },
  { method: "POST", pattern: "/v2/batches/{batch}:cancel", kind: "keyed", owned: true, body: {} },
  { method: "GET", pattern: "/v1/models", kind: "keyed" },
  { method: "GET", pattern: "/v1/models/{model}", kind: "keyed" },
  { method: "GET", pattern: "/v1/models/{model}/tokenizer.json", kind: "signed", link: "tokenizer" },
  { method: "POST", pattern: "/v1/tokenize", kind: "keyed", body: { model: MODEL, text: "hello world" } },
  // The lexical model cannot detokenize: a well-formed call with a good key is a 400.
  { method: "POST", pattern: "/v1/detokenize", kind: "keyed", body: { model: MODEL, tokens: [1] }, ok: 400 },
  { method: "POST", pattern: "/v1/check-api-key", kind: "keyed", body: {} },
  // OpenAI's API: keyed, with OpenAI's error body ({"error": {"message", ...}}).
  { method: "POST", pattern: "/v1/embeddings", kind: "openai", body: { model: MODEL, input: "hi" } },
  { method: "POST", pattern: "/v1/files", kind: "openai", body: "oaupload" },
  { method: "GET", pattern: "/v1/files", kind: "openai" },
  { method: "GET", pattern: "/v1/files/{file}", kind: "openai", owned: true },
  { method: "GET", pattern: "/v1/files/{file}/content", kind: "openai", owned: true },
  // With a good key: deletes a spare file of A's (the others stay for the routes above).
  { method: "DELETE", pattern: "/v1/files/{file}", kind: "openai", owned: true, spare: true },
  { method: "POST", pattern: "/v1/batches", kind: "openai", body: "oabatch" },
  { method: "GET", pattern: "/v1/batches", kind: "openai" },
  { method: "GET", pattern: "/v1/batches/{oabatch}", kind: "openai", owned: true },
  // A's batch is completed: cancelling it is a 400 (after the key was accepted).
  { method: "POST", pattern: "/v1/batches/{oabatch}/cancel", kind: "openai", owned: true, ok: 400 },
  // Open on purpose (operators, load balancers, the dashboard's own files): no owner's data.
  { method: "GET", pattern: "/health", kind: "open" },
  { method: "GET", pattern: "/ready", kind: "open" },
  { method: "GET", pattern: "/metrics", kind: "open" },
  { method: "GET", pattern: "/openapi.json", kind: "open" },
  { method: "GET", pattern: "/", kind: "open" },
  { method: "GET", pattern: "/ui/{file}", kind: "open", path: "/ui/app.js" },
];

// The Authorization headers that must all be a 401 on a keyed route (and change nothing on a
// signed one).
const BAD_AUTH = {
  "no key": undefined,
  "malformed: scheme only": "Bearer",
  "malformed: no space": `Bearer${KEY_A}`,
  "malformed: garbage": "!!!%%%\u00ff",
  "malformed: empty key": "Bearer    ",
  "Basic scheme": `Basic ${Buffer.from(`${KEY_A}:`).toString("base64")}`,
  "Basic with the raw key": `Basic ${KEY_A}`,
  "wrong key": "Bearer not-a-key-at-all",
  "key with a suffix": `Bearer ${KEY_A}x`,
};

let server;
let A; // owner A's resources: {dataset, job, batchDataset, batch}

before(async () => {
  server = await startServer({ args: ["--url-ttl", String(URL_TTL_S)] });
  const co = client(server.url, KEY_A);
  const body = [1, 2, 3].map((i) => JSON.stringify({ text: `${SECRET_TEXT} ${i}` })).join("\n");
  const { id } = await co.datasets.create(Buffer.from(body), undefined, { name: "owner-a", type: "embed-input" });
  await waitValidated(co, id);
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" });
  await waitJob(co, jobId);
  const line = JSON.stringify({ custom_id: "a", body: { input_type: "search_document", texts: [`${SECRET_TEXT} batch`] } });
  const { id: batchDataset } = await co.datasets.create(Buffer.from(line + "\n"), undefined, {
    name: "owner-a-batch",
    type: "batch-embed-v2-input",
  });
  await waitValidated(co, batchDataset);
  const made = await raw(server.url, "POST", "/v2/batches", {
    token: KEY_A,
    body: { name: "owner-a", input_dataset_id: batchDataset, model: MODEL },
  });
  assert.equal(made.status, 200, made.text);
  const batch = made.json.batch.id;
  await poll(() => raw(server.url, "GET", `/v2/batches/${batch}`, { token: KEY_A }), (r) => r.json.batch.status === "BATCH_STATUS_COMPLETED", {
    what: "owner A's batch",
  });
  // OpenAI's Files and Batch APIs: a file, a spare file and a finished batch of A's.
  const oaLine = JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/embeddings", body: { model: MODEL, input: `${SECRET_TEXT} oa` } });
  const oaUpload = async () => {
    const fd = new FormData();
    fd.append("purpose", "batch");
    fd.append("file", new Blob([oaLine + "\n"]), "a.jsonl");
    const res = await raw(server.url, "POST", "/v1/files", { token: KEY_A, body: fd });
    assert.equal(res.status, 200, res.text);
    return res.json.id;
  };
  const oaFile = await oaUpload();
  const oaSpare = await oaUpload();
  const oaMade = await raw(server.url, "POST", "/v1/batches", {
    token: KEY_A,
    body: { input_file_id: oaFile, endpoint: "/v1/embeddings", completion_window: "24h" },
  });
  assert.equal(oaMade.status, 200, oaMade.text);
  const oaBatch = oaMade.json.id;
  await poll(() => raw(server.url, "GET", `/v1/batches/${oaBatch}`, { token: KEY_A }), (r) => r.json.status === "completed", {
    what: "owner A's OpenAI batch",
  });
  A = { dataset: id, job: jobId, batchDataset, batch, oaFile, oaSpare, oaBatch };
});

after(async () => {
  await server?.stop();
});

/** The concrete path of a route for owner A's resources. */
async function concrete(route) {
  let p = route.pattern
    .replace("{dataset}", A.dataset)
    .replace("{job}", A.job)
    .replace("{batch}", A.batch)
    .replace("{file}", route.spare ? A.oaSpare : A.oaFile)
    .replace("{oabatch}", A.oaBatch)
    .replace("{model}", MODEL)
    .replace("{part}", "0");
  if (route.link === "part") {
    const ds = await raw(server.url, "GET", `/v1/datasets/${A.dataset}`, { token: KEY_A });
    p = new URL(ds.json.dataset.dataset_parts[0].url).pathname + new URL(ds.json.dataset.dataset_parts[0].url).search;
  }
  return p;
}

function bodyFor(route) {
  if (route.body === "upload") {
    const fd = new FormData();
    fd.append("data", new Blob([`{"text": "intruder"}\n`]), "x.jsonl");
    return { body: fd, query: "?name=intruder&type=embed-input" };
  }
  if (route.body === "job") return { body: { model: MODEL, dataset_id: A.dataset, input_type: "search_document" } };
  if (route.body === "batch") return { body: { name: "intruder", input_dataset_id: A.batchDataset, model: MODEL } };
  if (route.body === "oaupload") {
    const fd = new FormData();
    fd.append("purpose", "batch");
    fd.append("file", new Blob([`{"custom_id": "i", "method": "POST", "url": "/v1/embeddings", "body": {"model": "${MODEL}", "input": "intruder"}}\n`]), "x.jsonl");
    return { body: fd };
  }
  if (route.body === "oabatch") return { body: { input_file_id: A.oaFile, endpoint: "/v1/embeddings", completion_window: "24h" } };
  return { body: route.body };
}

async function send(route, pathname, authorization) {
  const { body, query = "" } = bodyFor(route);
  const headers = {};
  if (authorization !== undefined) headers.Authorization = authorization;
  return raw(server.url, route.method, pathname + query, { body, headers });
}

function assertNoLeak(res, where) {
  assert.ok(!res.text.includes(SECRET_TEXT), `${where}: owner A's rows leaked: ${res.text.slice(0, 200)}`);
  assert.ok(!res.text.includes(server.dataDir), `${where}: a server path leaked`);
  assert.ok(!/sqlite|std::|terminate|exception|\.cpp\b/i.test(res.text), `${where}: internal detail: ${res.text.slice(0, 200)}`);
}

function assertError(res, status, where) {
  assert.equal(res.status, status, `${where}: ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/, where);
  assert.equal(typeof res.json?.message, "string", `${where}: no JSON message: ${res.text.slice(0, 200)}`);
  assertNoLeak(res, where);
}

test("the table lists every route the server registers", () => {
  const registered = [];
  const dir = path.join(repoRoot, "src", "api");
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".cpp"))) {
    const src = fs.readFileSync(path.join(dir, f), "utf8");
    for (const m of src.matchAll(/r\.(get|post|post_stream|del)\(\s*"([^"]+)"/g)) {
      const method = { get: "GET", post: "POST", post_stream: "POST", del: "DELETE" }[m[1]];
      const pattern = m[2].replaceAll("\\\\.", ".");
      registered.push(`${method} ${pattern}`);
    }
  }
  assert.ok(registered.length >= ROUTES.length, `found only ${registered.length} registrations`);
  const ours = ROUTES.map((r) => `${r.method} ${r.pattern}`);
  for (const reg of registered) {
    // "([^/]+)" in a registration matches any {name} in the table.
    const re = new RegExp("^" + reg.replaceAll("([^/]+)", "\\{[a-z]+\\}").replaceAll(".", "\\.") + "$");
    assert.ok(ours.some((o) => re.test(o)), `route ${reg} is not in ROUTES: add it to the matrix`);
  }
});

test("OpenAI routes: every bad Authorization is a 401 with OpenAI's error body; B gets a 404 for A's", async () => {
  const openai = ROUTES.filter((r) => r.kind === "openai");
  for (const route of openai) {
    const p = await concrete(route);
    for (const [name, auth] of Object.entries(BAD_AUTH)) {
      const res = await send(route, p, auth);
      const where = `${route.method} ${route.pattern} with ${name}`;
      assert.equal(res.status, 401, `${where}: ${res.text.slice(0, 200)}`);
      assert.equal(typeof res.json?.error?.message, "string", where);
      assertNoLeak(res, where);
    }
    if (route.owned) {
      // Another owner's key: A's file or batch is a 404 with OpenAI's body, as a missing id.
      const where = `${route.method} ${route.pattern} [owner B]`;
      const res = await send(route, p, `Bearer ${KEY_B}`);
      assert.equal(res.status, 404, `${where}: ${res.text.slice(0, 200)}`);
      assert.equal(typeof res.json?.error?.message, "string", where);
      assertNoLeak(res, where);
      const ghost = p.replace(A.oaFile, "file-zzzzzz").replace(A.oaSpare, "file-zzzzzz").replace(A.oaBatch, "batch_zzzzzz");
      const other = await send(route, ghost, `Bearer ${KEY_B}`);
      assert.equal(other.status, 404, `${where} ghost: ${other.text}`);
      assert.equal(res.json.error.message.replace(/(file|batch)[-_][A-Za-z0-9]+/g, "<id>"), other.json.error.message.replace(/(file|batch)[-_][A-Za-z0-9]+/g, "<id>"), where);
    } else if (route.method === "GET") {
      const res = await send(route, p, `Bearer ${KEY_B}`);
      assert.equal(res.status, 200, res.text.slice(0, 200));
      assert.ok(!res.text.includes(A.oaFile) && !res.text.includes(A.oaBatch), `${route.pattern} [owner B]: shows A's ids`);
    }
  }
  for (const route of openai) {
    const ok = await send(route, await concrete(route), `Bearer ${KEY_A}`);
    assert.equal(ok.status, route.ok ?? 200, `${route.method} ${route.pattern}: ${ok.text.slice(0, 200)}`);
  }
});

test("open routes answer with any Authorization header and carry no owner's data", async () => {
  for (const route of ROUTES.filter((r) => r.kind === "open")) {
    for (const [name, auth] of Object.entries(BAD_AUTH)) {
      const headers = auth === undefined ? {} : { Authorization: auth };
      const res = await raw(server.url, route.method, route.path ?? route.pattern, { headers });
      const where = `${route.method} ${route.pattern} with ${name}`;
      assert.equal(res.status, 200, `${where}: ${res.text.slice(0, 200)}`);
      assertNoLeak(res, where);
      assert.ok(!res.text.includes(A.dataset) && !res.text.includes(A.job), `${where}: an owner's id leaked`);
    }
  }
});

test("keyed routes: no key, malformed header, Basic, wrong key -> 401 with a JSON message, nothing done", async () => {
  for (const route of ROUTES.filter((r) => r.kind === "keyed")) {
    const p = await concrete(route);
    for (const [name, auth] of Object.entries(BAD_AUTH)) {
      const res = await send(route, p, auth);
      assertError(res, 401, `${route.method} ${route.pattern} [${name}]`);
      assert.ok(!res.text.includes(A.job) || p.includes(A.job), `${route.pattern} [${name}]: leaked a job id`);
    }
  }
  // Nothing above took effect: the dataset and the job are there, unchanged; no intruder dataset.
  const co = client(server.url, KEY_A);
  assert.equal((await co.datasets.get(A.dataset)).dataset.id, A.dataset);
  assert.equal((await co.embedJobs.get(A.job)).status, "complete");
  assert.equal((await co.embedJobs.list()).embedJobs.length, 1);
  assert.equal((await co.datasets.list()).datasets.filter((d) => d.name === "intruder").length, 0);
  const batches = await raw(server.url, "GET", "/v2/batches", { token: KEY_A });
  assert.deepEqual(batches.json.batches.map((b) => b.id), [A.batch], "no intruder batch");
});

test("keyed routes with another owner's key: A's resources are a 404 like a missing id, lists are B's own", async () => {
  for (const route of ROUTES.filter((r) => r.kind === "keyed")) {
    const p = await concrete(route);
    const where = `${route.method} ${route.pattern} [owner B]`;
    const res = await send(route, p, `Bearer ${KEY_B}`);
    assertNoLeak(res, where);
    if (route.owned) {
      assertError(res, 404, where);
      // The same answer as for an id that does not exist: existence is not revealed.
      const ghost = p
        .replace(A.dataset, "ghost-dataset-zzzzzz")
        .replace(A.job, "00000000-0000-0000-0000-000000000000")
        .replace(A.batch, "00000000-0000-0000-0000-000000000000");
      const other = await send(route, ghost, `Bearer ${KEY_B}`);
      assert.equal(other.status, 404, `${where} ghost: ${other.text}`);
      const ids = [A.dataset, A.job, A.batch, A.batchDataset, "ghost-dataset-zzzzzz", "00000000-0000-0000-0000-000000000000"];
      const norm = (t) => ids.reduce((acc, id) => acc.replaceAll(id, "<id>"), t);
      assert.equal(norm(res.json.message), norm(other.json.message), where);
      if (route.body === "job") {
        // A job on a dataset id that does not exist answers the same as on A's dataset.
        const ghostJob = await raw(server.url, "POST", p, {
          token: KEY_B,
          body: { model: MODEL, dataset_id: "ghost-dataset-zzzzzz", input_type: "search_document" },
        });
        assert.equal(ghostJob.status, 404, ghostJob.text);
        assert.equal(norm(ghostJob.json.message), norm(res.json.message), where);
      }
    } else {
      assert.equal(res.status, route.ok ?? 200, `${where}: ${res.text.slice(0, 200)}`);
      assert.ok(!res.text.includes(A.dataset) && !res.text.includes(A.job), `${where}: shows A's ids: ${res.text.slice(0, 300)}`);
    }
  }
  const co = client(server.url, KEY_A);
  assert.equal((await co.datasets.get(A.dataset)).dataset.id, A.dataset, "B's DELETE did nothing");
  assert.equal((await co.embedJobs.get(A.job)).status, "complete", "B's cancel did nothing");
  const batch = await raw(server.url, "GET", `/v2/batches/${A.batch}`, { token: KEY_A });
  assert.equal(batch.json.batch.status, "BATCH_STATUS_COMPLETED", "B's batch cancel did nothing");
  const usage = await raw(server.url, "GET", "/v1/datasets/usage", { token: KEY_B });
  assert.ok(usage.json.organization_usage < 1000, `B's usage counts only B's upload: ${usage.text}`);
});

/** The signed link of a signed route, fresh. */
async function signedLink(route) {
  if (route.link === "part") return concrete(route);
  // The lexical model has no tokenizer file, hence no tokenizer_url: make one of the right shape.
  return `/v1/models/${MODEL}/tokenizer.json?expires=${Math.floor(Date.now() / 1000) + 3600}&sig=${"0".repeat(64)}`;
}

function tamper(link) {
  const u = new URL("http://x" + link);
  const sig = u.searchParams.get("sig");
  const variants = [];
  u.searchParams.set("sig", sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0"));
  variants.push(u.pathname + u.search);
  const v2 = new URL("http://x" + link);
  v2.searchParams.set("expires", String(Number(v2.searchParams.get("expires")) + 86400));
  variants.push(v2.pathname + v2.search);
  const v3 = new URL("http://x" + link);
  v3.searchParams.delete("sig");
  variants.push(v3.pathname + v3.search);
  variants.push(v3.pathname); // no query at all
  variants.push(link.replace("/0?", "/original?")); // another part with the same signature
  return variants;
}

test("signed links: any Authorization is ignored; tampered and expired links are a 403", async () => {
  for (const route of ROUTES.filter((r) => r.kind === "signed")) {
    const link = await signedLink(route);
    const where = `${route.method} ${route.pattern}`;
    if (route.link === "part") {
      for (const [name, auth] of Object.entries({ ...BAD_AUTH, "owner B": `Bearer ${KEY_B}` })) {
        const res = await send(route, link, auth);
        assert.equal(res.status, 200, `${where} [${name}]: a valid link works with any header`);
      }
    }
    for (const bad of tamper(link)) {
      for (const auth of [undefined, `Bearer ${KEY_A}`]) {
        const res = await send(route, bad, auth);
        assertError(res, 403, `${where} tampered ${bad} [${auth ? "with A's key" : "no key"}]`);
      }
    }
  }
  // Expired: a genuine link, used after its TTL.
  const route = ROUTES.find((r) => r.link === "part");
  const link = await concrete(route);
  await sleep((URL_TTL_S + 1.5) * 1000);
  for (const auth of [undefined, `Bearer ${KEY_A}`]) {
    const res = await send(route, link, auth);
    assertError(res, 403, `expired part link [${auth ? "with A's key" : "no key"}]`);
    assert.match(res.json.message, /expired/);
  }
});
