// OpenAI's embeddings API through the official `openai` npm SDK, beside Cohere's: every input
// shape, float and base64 (the SDK's default, which it decodes), `dimensions`, the error cases
// with OpenAI's error body, models.list, and the same vector through both APIs, bit for bit.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { CohereClientV2 } from "cohere-ai";
import { startServer, fixture, KEY_A, raw } from "./harness.mjs";

const BERT = "bert-tiny";
const LEX = "lex";
let server;
let oa;
let co2;

before(async () => {
  server = await startServer({
    args: ["--model", `${BERT}=${fixture("bert-tiny")}`, "--model", `${LEX}=lexical`,
      "--output-dimensions", `${BERT}=32,16`, "--cache-mb", "0"],
  });
  oa = new OpenAI({ apiKey: KEY_A, baseURL: `${server.url}/v1`, maxRetries: 0 });
  co2 = new CohereClientV2({ token: KEY_A, environment: server.url });
});

after(async () => {
  await server?.stop();
});

test("embeddings.create: a string, strings, token ids, arrays of token ids", async () => {
  const one = await oa.embeddings.create({ model: BERT, input: "hello world", encoding_format: "float" });
  assert.equal(one.object, "list");
  assert.equal(one.model, BERT);
  assert.equal(one.data.length, 1);
  assert.equal(one.data[0].object, "embedding");
  assert.equal(one.data[0].index, 0);
  const dims = one.data[0].embedding.length;
  assert.ok(dims > 0);
  assert.ok(one.usage.prompt_tokens > 0 && one.usage.total_tokens === one.usage.prompt_tokens);

  const many = await oa.embeddings.create({ model: BERT, input: ["hello world", "second text", "third"], encoding_format: "float" });
  assert.deepEqual(many.data.map((d) => d.index), [0, 1, 2]);
  assert.deepEqual(many.data[0].embedding, one.data[0].embedding, "a text alone and in a batch: the same vector");

  // Token ids (from /v1/tokenize, specials stripped) are decoded by the model's tokenizer.
  const tok = await raw(server.url, "POST", "/v1/tokenize", { token: KEY_A, body: { model: BERT, text: "hello world" } });
  assert.equal(tok.status, 200);
  const ids = tok.json.tokens;
  const byIds = await oa.embeddings.create({ model: BERT, input: ids, encoding_format: "float" });
  assert.deepEqual(byIds.data[0].embedding, one.data[0].embedding);
  const byIdArrays = await oa.embeddings.create({ model: BERT, input: [ids, ids], encoding_format: "float" });
  assert.equal(byIdArrays.data.length, 2);
  assert.deepEqual(byIdArrays.data[1].embedding, one.data[0].embedding);
});

test("base64 (the SDK's default) decodes to the float vectors; raw base64 is little-endian float32", async () => {
  const f = await oa.embeddings.create({ model: BERT, input: ["a b c"], encoding_format: "float" });
  const def = await oa.embeddings.create({ model: BERT, input: ["a b c"] }); // SDK asks base64, decodes
  assert.deepEqual(Array.from(def.data[0].embedding), f.data[0].embedding);
  const r = await raw(server.url, "POST", "/v1/embeddings", {
    token: KEY_A,
    body: { model: BERT, input: "a b c", encoding_format: "base64" },
  });
  assert.equal(r.status, 200);
  const buf = Buffer.from(r.json.data[0].embedding, "base64");
  const floats = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  assert.deepEqual(Array.from(floats), f.data[0].embedding);
});

test("dimensions: Matryoshka models cut and renormalize, others refuse", async () => {
  const d = await oa.embeddings.create({ model: BERT, input: "hello world", dimensions: 16, encoding_format: "float" });
  const v = d.data[0].embedding;
  assert.equal(v.length, 16);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  const c = await co2.embed({ model: BERT, texts: ["hello world"], inputType: "search_document", embeddingTypes: ["float"], outputDimension: 16 });
  assert.deepEqual(v, c.embeddings.float[0], "OpenAI dimensions = Cohere output_dimension");
  await assert.rejects(oa.embeddings.create({ model: BERT, input: "x", dimensions: 20 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.param, "dimensions");
    assert.match(e.message, /32, 16/);
    return true;
  });
  await assert.rejects(oa.embeddings.create({ model: LEX, input: "x", dimensions: 64 }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /does not support 'dimensions'/);
    return true;
  });
});

test("errors carry OpenAI's body: type, param, code", async () => {
  const cases = [
    [{ model: "nope", input: "x" }, 404, "model_not_found", "model"],
    [{ model: BERT, input: "" }, 400, null, "input"],
    [{ model: BERT, input: [] }, 400, null, "input"],
    [{ model: BERT, input: [1.5] }, 400, null, "input"],
    [{ model: BERT, input: [{ text: "x" }] }, 400, null, "input"],
    [{ model: BERT, input: "x", encoding_format: "int8" }, 400, null, "encoding_format"],
    [{ input: "x" }, 400, null, "model"],
    [{ model: BERT, input: Array(2049).fill("x") }, 400, null, "input"],
    [{ model: BERT, input: "word ".repeat(5000) }, 400, null, null],
  ];
  for (const [body, status, code, param] of cases) {
    const r = await raw(server.url, "POST", "/v1/embeddings", { token: KEY_A, body });
    const where = JSON.stringify(body).slice(0, 80);
    assert.equal(r.status, status, `${where}: ${r.text.slice(0, 200)}`);
    assert.equal(typeof r.json.error.message, "string", where);
    assert.equal(r.json.error.type, "invalid_request_error", where);
    assert.equal(r.json.error.code, code, where);
    if (param) assert.equal(r.json.error.param, param, where);
    assert.equal(r.json.message, undefined, "OpenAI routes use OpenAI's body only");
  }
  const bad = new OpenAI({ apiKey: "wrong", baseURL: `${server.url}/v1`, maxRetries: 0 });
  await assert.rejects(bad.embeddings.create({ model: BERT, input: "x" }), (e) => {
    assert.equal(e.status, 401);
    assert.equal(e.error.code, "invalid_api_key");
    assert.equal(e.constructor.name, "AuthenticationError");
    return true;
  });
  const noKey = await raw(server.url, "POST", "/v1/embeddings", { body: { model: BERT, input: "x" } });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.json.error.type, "authentication_error");
});

test("the same text gives the same vector through OpenAI's and Cohere's routes; models.list", async () => {
  const texts = ["Embeddings turn text into vectors.", "Résumé, naïve café"];
  const o = await oa.embeddings.create({ model: BERT, input: texts, encoding_format: "float" });
  const c = await co2.embed({ model: BERT, texts, inputType: "search_document", embeddingTypes: ["float"] });
  for (let i = 0; i < texts.length; i++) assert.deepEqual(o.data[i].embedding, c.embeddings.float[i]);

  const models = [];
  for await (const m of oa.models.list()) models.push(m);
  assert.deepEqual(models.map((m) => m.id).sort(), [BERT, LEX].sort());
  for (const m of models) {
    assert.equal(m.object, "model");
    assert.equal(typeof m.created, "number");
    assert.equal(m.owned_by, "embedjobs");
  }
  const one = await oa.models.retrieve(BERT);
  assert.equal(one.id, BERT);
});
