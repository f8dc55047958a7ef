// The embedding cache through the API: an embed job run twice over the same dataset gives the
// same output bytes, the second run with meta.cached_tokens equal to the first run's tokens;
// the cache survives a restart, is per owner, is shared by jobs and sync calls, and
// `--cache-mb 0` turns it off.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, client, waitValidated, waitJob, raw, fixture, makeTexts, KEY_A, KEY_B, makeDataDir } from "./harness.mjs";
import avro from "avsc";
import fs from "node:fs";

const MODEL = "embed-english-light-v3.0";
const args = (extra = []) => ["--model", `${MODEL}=${fixture("bert-tiny")}`, ...extra];

// An Avro container file with its (random) sync marker blanked: what is left is the header and
// the encoded records, which must match byte for byte.
async function recordBytes(buf) {
  const sync = await new Promise((resolve, reject) => {
    const d = new avro.streams.BlockDecoder();
    d.on("metadata", (type, codec, header) => resolve(header.sync));
    d.on("error", reject);
    d.on("data", () => {});
    d.end(buf);
  });
  return buf.toString("latin1").split(sync.toString("latin1")).join("<sync>");
}

async function outputBytes(srv, token, job) {
  const ds = await raw(srv.url, "GET", `/v1/datasets/${job.output_dataset_id}`, { token });
  assert.equal(ds.status, 200, ds.text);
  const parts = [...ds.json.dataset.dataset_parts].sort((a, b) => a.index - b.index);
  const out = [];
  for (const p of parts) out.push(await recordBytes(Buffer.from(await (await fetch(p.url)).arrayBuffer())));
  return out;
}

async function runJob(srv, token, datasetId, inputType = "search_document") {
  const co = client(srv.url, token);
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId, inputType, embeddingTypes: ["float", "int8", "ubinary"] });
  const done = await waitJob(co, jobId);
  assert.equal(done.status, "complete");
  const job = await raw(srv.url, "GET", `/v1/embed-jobs/${jobId}`, { token });
  return job.json;
}

async function upload(srv, token, texts) {
  const co = client(srv.url, token);
  const jsonl = texts.map((t, i) => JSON.stringify({ text: t, id: i })).join("\n");
  const { id } = await co.datasets.create(new File([jsonl], "rows.jsonl"), undefined, { name: "rows", type: "embed-input", keepFields: "id" });
  await waitValidated(co, id);
  return id;
}

test("a job run twice: identical output, the second one's tokens all cached; kept across a restart", async () => {
  const dataDir = makeDataDir();
  // 45 distinct texts, then the first 5 again.
  const texts = [...makeTexts(45, 7), ...makeTexts(5, 7)];
  let srv = await startServer({ dataDir, chunkRows: 7, args: args() });
  try {
    const id = await upload(srv, KEY_A, texts);
    const first = await runJob(srv, KEY_A, id);
    const tokens = first.meta.billed_units.input_tokens;
    assert.ok(tokens > texts.length, `tokens ${tokens}`);
    assert.equal(first.meta.tokens.input_tokens, tokens);
    // The last 5 rows repeat the first 5, in a later chunk: already cached in the first run.
    const repeats = await raw(srv.url, "POST", "/v2/embed", {
      token: KEY_A,
      body: { model: MODEL, input_type: "search_document", texts: texts.slice(45), embedding_types: ["float"] },
    });
    assert.equal(repeats.json.meta.cached_tokens, repeats.json.meta.billed_units.input_tokens);
    assert.equal(first.meta.cached_tokens, repeats.json.meta.billed_units.input_tokens, "the repeated rows of the first run");

    const second = await runJob(srv, KEY_A, id);
    assert.equal(second.meta.cached_tokens, tokens, "every token of the re-run came from the cache");
    assert.equal(second.meta.billed_units.input_tokens, tokens);
    assert.deepEqual(await outputBytes(srv, KEY_A, second), await outputBytes(srv, KEY_A, first));

    // The 45 distinct texts, all cached for alice as search_document: another input_type is
    // another vector, and another owner does not see alice's entries.
    const distinct = texts.slice(0, 45);
    const query = await runJob(srv, KEY_A, await upload(srv, KEY_A, distinct), "search_query");
    assert.equal(query.meta.cached_tokens, 0, "input_type is part of the key");
    const other = await runJob(srv, KEY_B, await upload(srv, KEY_B, distinct));
    assert.equal(other.meta.cached_tokens, 0, "cache entries are per owner");

    // A sync call for texts a job embedded is a hit too, with the job's vector bits.
    const sync = await raw(srv.url, "POST", "/v2/embed", {
      token: KEY_A,
      body: { model: MODEL, input_type: "search_document", texts: texts.slice(0, 3), embedding_types: ["float"] },
    });
    assert.equal(sync.status, 200, sync.text);
    assert.equal(sync.json.meta.cached_tokens, sync.json.meta.billed_units.input_tokens);

    await srv.stop();
    srv = await startServer({ dataDir, chunkRows: 7, args: args() });
    const afterRestart = await runJob(srv, KEY_A, id);
    assert.equal(afterRestart.meta.cached_tokens, tokens, "the cache file outlives the process");
    assert.deepEqual(await outputBytes(srv, KEY_A, afterRestart), await outputBytes(srv, KEY_A, first));
  } finally {
    await srv.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("sync embed: a repeat reports its tokens as cached; output_dimension cuts the cached vector", async () => {
  const srv = await startServer({ args: args(["--output-dimensions", `${MODEL}=32,16`]) });
  try {
    const body = { model: MODEL, input_type: "search_query", texts: ["what is a cache", "the same text twice"], embedding_types: ["float"] };
    const a = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.meta.cached_tokens, 0);
    const b = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body });
    assert.equal(b.json.meta.cached_tokens, a.json.meta.billed_units.input_tokens);
    assert.deepEqual(b.json.embeddings.float, a.json.embeddings.float);
    // v1 shares the entries (same model, input_type, truncate).
    const v1 = await raw(srv.url, "POST", "/v1/embed", { token: KEY_A, body: { model: MODEL, input_type: "search_query", texts: body.texts } });
    assert.equal(v1.status, 200, v1.text);
    assert.equal(v1.json.meta.cached_tokens, a.json.meta.billed_units.input_tokens);
    assert.deepEqual(v1.json.embeddings, a.json.embeddings.float);
    // A Matryoshka cut of a cached vector equals the cut of a computed one.
    const cut = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body: { ...body, output_dimension: 16 } });
    assert.equal(cut.json.meta.cached_tokens, a.json.meta.billed_units.input_tokens);
    const fresh = await raw(srv.url, "POST", "/v2/embed", { token: KEY_B, body: { ...body, output_dimension: 16 } });
    assert.equal(fresh.json.meta.cached_tokens, 0, "another owner computes its own");
    assert.deepEqual(cut.json.embeddings.float, fresh.json.embeddings.float);
    // max_tokens changes the vector, so it is part of the key.
    const capped = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body: { ...body, max_tokens: 4 } });
    assert.equal(capped.json.meta.cached_tokens, 0);
  } finally {
    await srv.stop();
  }
});

test("--cache-mb 0: no cache, nothing cached, no cache file", async () => {
  const srv = await startServer({ args: args(["--cache-mb", "0"]) });
  try {
    const body = { model: MODEL, input_type: "search_query", texts: ["hello again"], embedding_types: ["float"] };
    await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body });
    const again = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.meta.cached_tokens, 0);
    assert.equal(fs.existsSync(`${srv.dataDir}/cache.sqlite`), false);
  } finally {
    await srv.stop();
  }
});
