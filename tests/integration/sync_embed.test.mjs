// The sync API through the real SDKs: cohere-ai v1 (`co.embed`, `tokenize`, `detokenize`,
// `checkApiKey`) and v2 (`embed` with texts / inputs, every embedding type, output_dimension,
// max_tokens, priority), LangChain's CohereEmbeddings, the error cases, the tokenizer_url
// download, and one text's vector bit for bit: alone, in a crowded call, packed with other
// clients' requests, and through a job.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Cohere, CohereClient, CohereClientV2 } from "cohere-ai";
import { CohereEmbeddings } from "@langchain/cohere";
import { startServer, client, raw, repoRoot, KEY_A, waitValidated, waitJob, downloadRecords, expectApiError } from "./harness.mjs";

const BERT = "embed-english-light-v3.0";
const LEX = "embed-english-v3.0";
const bertDir = path.join(repoRoot, "tests", "data", "bert-tiny");
const TYPES = ["float", "int8", "uint8", "binary", "ubinary", "base64"];
let srv, co, co2;

before(async () => {
  srv = await startServer({
    chunkRows: 7,
    // No embedding cache: a repeated text must go through the engine again, in each batch shape.
    args: ["--model", `${BERT}=${bertDir}`, "--model", `${LEX}=lexical`, "--output-dimensions", `${BERT}=32,16`, "--cache-mb", "0"],
  });
  co = client(srv.url);
  co2 = new CohereClientV2({ token: KEY_A, environment: srv.url });
});
after(async () => srv && (await srv.stop()));

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
// JSON floats are the shortest decimal of a float32: Math.fround gives that float32 back.
const f32 = (v) => v.map(Math.fround);

function checkByType(emb, n, dims, where) {
  assert.equal(emb.float.length, n, where);
  for (let i = 0; i < n; i++) {
    assert.equal(emb.float[i].length, dims, where);
    assert.equal(emb.int8[i].length, dims);
    assert.equal(emb.uint8[i].length, dims);
    assert.equal(emb.binary[i].length, Math.ceil(dims / 8));
    assert.equal(emb.ubinary[i].length, Math.ceil(dims / 8));
    emb.int8[i].forEach((x, k) => assert.equal(x, emb.uint8[i][k] - 128));
    emb.binary[i].forEach((x, k) => assert.equal(x, emb.ubinary[i][k] - 128));
    const bytes = Buffer.from(emb.base64[i], "base64");
    const fromB64 = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, dims));
    assert.deepEqual(fromB64, f32(emb.float[i]), `${where}: base64 = float32 of the floats`);
  }
}

test("v1 co.embed: embeddings_floats without embedding_types, embeddings_by_type with them", async () => {
  for (const model of [BERT, LEX]) {
    const plain = await co.embed({ model, texts: ["hello world", "second text"], inputType: "search_query" });
    assert.equal(plain.responseType, "embeddings_floats", model);
    assert.equal(plain.embeddings.length, 2);
    assert.ok(Math.abs(norm(plain.embeddings[0]) - 1) < 1e-5);
    assert.equal(plain.meta.apiVersion.version, "1");
    assert.ok(plain.meta.billedUnits.inputTokens > 0);

    const typed = await co.embed({ model, texts: ["hello world", "second text"], inputType: "search_query", embeddingTypes: TYPES });
    assert.equal(typed.responseType, "embeddings_by_type");
    const dims = plain.embeddings[0].length;
    checkByType(typed.embeddings, 2, dims, `v1 ${model}`);
    assert.deepEqual(f32(typed.embeddings.float[0]), f32(plain.embeddings[0]));
    const one = await co.embed({ model, texts: ["hello world"], inputType: "search_query", embeddingTypes: ["int8"] });
    assert.deepEqual(Object.keys(one.embeddings), ["int8"], "only the requested types");
  }
});

test("v2 embed: texts and inputs, every type, output_dimension, max_tokens, priority", async () => {
  const texts = ["The cat sat on the mat.", "Quantum chromodynamics"];
  const a = await co2.embed({ model: BERT, texts, inputType: "search_document", embeddingTypes: TYPES, priority: 3 });
  checkByType(a.embeddings, 2, 64, "v2 texts");
  assert.equal(a.meta.apiVersion.version, "2");
  const b = await co2.embed({
    model: BERT,
    inputs: texts.map((t) => ({ content: [{ type: "text", text: t }] })),
    inputType: "search_document",
    embeddingTypes: ["float"],
  });
  assert.deepEqual(f32(b.embeddings.float[1]), f32(a.embeddings.float[1]), "inputs = texts");
  const d = await co2.embed({ model: BERT, texts, inputType: "search_document", embeddingTypes: ["float", "int8"], outputDimension: 32 });
  assert.equal(d.embeddings.float[0].length, 32);
  assert.equal(d.embeddings.int8[0].length, 32);
  assert.ok(Math.abs(norm(d.embeddings.float[0]) - 1) < 1e-5, "renormalized");
  const head = a.embeddings.float[0].slice(0, 32);
  const scaled = head.map((x) => x / norm(head));
  scaled.forEach((x, i) => assert.ok(Math.abs(x - d.embeddings.float[0][i]) < 1e-6));
  const noTypes = await raw(srv.url, "POST", "/v2/embed", { token: KEY_A, body: { model: BERT, texts: ["x"], input_type: "search_query" } });
  assert.equal(noTypes.status, 200);
  assert.equal(noTypes.json.embeddings.float.length, 1, "v2 defaults to {float: [...]}");
  const emptyImages = await raw(srv.url, "POST", "/v2/embed", {
    token: KEY_A,
    body: { model: BERT, texts: ["x"], images: [], input_type: "search_query" },
  });
  assert.equal(emptyImages.status, 200, "an empty images list is not an image");

  // max_tokens cuts each input (END keeps the start); the billed tokens follow.
  const long = "one two three four five six seven eight nine ten eleven twelve";
  const cut = await co2.embed({ model: BERT, texts: [long], inputType: "search_query", embeddingTypes: ["float"], maxTokens: 5 });
  assert.equal(cut.meta.billedUnits.inputTokens, 5);
  const prefix = await co2.embed({ model: BERT, texts: ["one two three"], inputType: "search_query", embeddingTypes: ["float"] });
  assert.equal(prefix.meta.billedUnits.inputTokens, 5, "[CLS] one two three [SEP]");
  assert.deepEqual(f32(cut.embeddings.float[0]), f32(prefix.embeddings.float[0]));
});

test("errors: images, >96 inputs, output_dimension, priority, max_tokens with NONE, bad model", async () => {
  const bad = (p, s = 400) => expectApiError(p, s === 400 ? Cohere.BadRequestError : Cohere.NotFoundError, s);
  let e = await bad(co2.embed({ model: BERT, images: ["data:image/png;base64,AAAA"], inputType: "image", embeddingTypes: ["float"] }));
  assert.match(e.body.message, /takes no images/);
  e = await bad(
    co2.embed({
      model: BERT,
      inputType: "search_query",
      embeddingTypes: ["float"],
      inputs: [{ content: [{ type: "text", text: "hi" }, { type: "image_url", imageUrl: { url: "data:image/png;base64,AAAA" } }] }],
    }),
  );
  assert.match(e.body.message, /takes no images/);
  e = await bad(co.embed({ model: LEX, texts: ["x"], images: ["data:image/png;base64,AAAA"], inputType: "search_query" }));
  assert.match(e.body.message, /takes no images/);
  e = await bad(co2.embed({ model: BERT, texts: Array(97).fill("x"), inputType: "search_query", embeddingTypes: ["float"] }));
  assert.match(e.body.message, /at most 96 - received 97/);
  e = await bad(co2.embed({ model: LEX, texts: ["x"], inputType: "search_query", embeddingTypes: ["float"], outputDimension: 256 }));
  assert.match(e.body.message, /output_dimension/);
  e = await bad(co2.embed({ model: BERT, texts: ["x"], inputType: "search_query", embeddingTypes: ["float"], outputDimension: 20 }));
  assert.match(e.body.message, /one of 32, 16/);
  e = await bad(co2.embed({ model: BERT, texts: ["x"], inputType: "search_query", embeddingTypes: ["float"], priority: 1000 }));
  assert.match(e.body.message, /priority/);
  e = await bad(co2.embed({ model: BERT, texts: ["a b c d e f g"], inputType: "search_query", embeddingTypes: ["float"], maxTokens: 4, truncate: "NONE" }));
  assert.match(e.body.message, /input 0 .*max_tokens 4/);
  e = await bad(co.embed({ model: BERT, texts: ["x"], inputType: "search_query", embeddingTypes: ["nope"] }));
  assert.match(e.body.message, /nope/);
  await bad(co.embed({ model: "no-such-model", texts: ["x"], inputType: "search_query" }), 404);
  await bad(co.tokenize({ model: "no-such-model", text: "x" }), 404);
  e = await bad(co.detokenize({ model: LEX, tokens: [1, 2] }));
  assert.match(e.body.message, /no vocabulary/);
  e = await bad(co.detokenize({ model: BERT, tokens: [99999999] }));
  assert.match(e.body.message, /tokens\[0\]/);
  // Deprecated parameters are accepted with an X-API-Warning.
  const w = await raw(srv.url, "POST", "/v1/embed", {
    token: KEY_A,
    body: { model: LEX, texts: ["x"], input_type: "search_query", truncate: "RIGHT", compress: false },
  });
  assert.equal(w.status, 200);
  assert.match(w.headers.get("x-api-warning"), /truncate value RIGHT is deprecated.*compress is deprecated/);
  assert.ok(srv.alive());
});

test("tokenize / detokenize / checkApiKey through the SDK", async () => {
  const t = await co.tokenize({ model: BERT, text: "Tokenize me, please!" });
  assert.equal(t.tokens.length, t.tokenStrings.length);
  assert.ok(t.tokenStrings.includes("##ize"), JSON.stringify(t.tokenStrings));
  const d = await co.detokenize({ model: BERT, tokens: t.tokens });
  assert.equal(d.text, "tokenize me, please!");
  const lex = await co.tokenize({ model: LEX, text: "Two words" });
  assert.deepEqual(lex.tokenStrings, ["Two", "words"]);
  const k = await co.checkApiKey();
  assert.equal(k.valid, true);
  assert.ok(k.ownerId);
  await expectApiError(client(srv.url, "not-a-key").checkApiKey(), Cohere.UnauthorizedError, 401);
});

test("/v1/models: tokenizer_url downloads tokenizer.json without a key; default_only; page_token", async () => {
  const m = await co.models.get(BERT);
  assert.ok(m.tokenizerUrl, "tokenizer_url");
  const res = await fetch(m.tokenizerUrl);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), fs.readFileSync(path.join(bertDir, "tokenizer.json"), "utf8"));
  const tampered = await fetch(m.tokenizerUrl.replace(/sig=./, "sig=0"));
  assert.equal(tampered.status, 403);
  const lex = await co.models.get(LEX);
  assert.equal(lex.tokenizerUrl, undefined, "the lexical model has no tokenizer file");
  const all = await co.models.list({ endpoint: "embed" });
  assert.equal(all.models.length, 2);
  const def = await co.models.list({ endpoint: "embed", defaultOnly: true });
  assert.deepEqual(def.models.map((x) => x.name), [BERT], "the first --model is the default");
  const page = await co.models.list({ pageSize: 1 });
  const next = await co.models.list({ pageSize: 1, pageToken: page.nextPageToken });
  assert.notEqual(next.models[0].name, page.models[0].name);
  await expectApiError(co.models.list({ pageToken: "garbage" }), Cohere.BadRequestError, 400);
});

test("LangChain CohereEmbeddings pointed at the server", async () => {
  const embeddings = new CohereEmbeddings({ model: BERT, client: new CohereClient({ token: KEY_A, environment: srv.url }) });
  const docs = await embeddings.embedDocuments(["first document", "second document", "third"]);
  assert.equal(docs.length, 3);
  assert.equal(docs[0].length, 64);
  const q = await embeddings.embedQuery("first document");
  assert.equal(q.length, 64);
  const direct = await co2.embed({ model: BERT, texts: ["first document"], inputType: "search_document", embeddingTypes: ["float"] });
  assert.deepEqual(f32(docs[0]), f32(direct.embeddings.float[0]));
});

test("the same text, the same vector bit for bit: alone, crowded, packed with others, in a job", async () => {
  const probe = "The quick brown fox jumps over the lazy dog";
  for (const model of [BERT, LEX]) {
    const embed = (texts) => co2.embed({ model, texts, inputType: "search_document", embeddingTypes: ["float"] });
    const alone = f32((await embed([probe])).embeddings.float[0]);
    const crowdedTexts = Array.from({ length: 96 }, (_, i) => (i === 50 ? probe : `filler ${i} ` + "word ".repeat(i % 9)));
    assert.deepEqual(f32((await embed(crowdedTexts)).embeddings.float[50]), alone, `${model}: crowded`);
    const clients = await Promise.all(
      Array.from({ length: 24 }, (_, c) => (c % 3 === 0 ? embed([probe]) : embed([`client ${c} text`, probe, "x ".repeat(c)]))),
    );
    clients.forEach((r, c) => assert.deepEqual(f32(r.embeddings.float[c % 3 === 0 ? 0 : 1]), alone, `${model}: client ${c}`));

    const jsonl = crowdedTexts.map((t, i) => JSON.stringify({ text: t, i })).join("\n");
    const { id } = await co.datasets.create(new File([jsonl], "p.jsonl"), undefined, { name: "p", type: "embed-input", keepFields: "i" });
    await waitValidated(co, id);
    const { jobId } = await co.embedJobs.create({ model, datasetId: id, inputType: "search_document", embeddingTypes: ["float"] });
    const job = await waitJob(co, jobId);
    assert.equal(job.status, "complete");
    const recs = await downloadRecords((await co.datasets.get(job.outputDatasetId)).dataset);
    assert.deepEqual(recs[50].embeddings.float, alone, `${model}: job`);
  }
});
