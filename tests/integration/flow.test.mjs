// The whole Embed Jobs flow through the official cohere-ai SDK: upload (Buffer, File, CSV File),
// validation, embed job, output dataset, unauthenticated part download, Avro decoding.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Cohere, CohereClient } from "cohere-ai";
import {
  startServer,
  client,
  raw,
  waitValidated,
  waitJob,
  downloadRecords,
  downloadParts,
  checkEmbedRecord,
  expectApiError,
  csvField,
  makeTexts,
  KEY_A,
} from "./harness.mjs";

const MODEL = "embed-english-v3.0";
const ALL_TYPES = ["float", "int8", "uint8", "binary", "ubinary"];
let server;
let co;
let dims;
let calib;

before(async () => {
  server = await startServer({ args: ["--model", `${MODEL}=lexical`], chunkRows: 64 });
  co = client(server.url);
  const models = await raw(server.url, "GET", "/v1/models", { token: KEY_A });
  assert.equal(models.status, 200, models.text);
  const m = models.json.models.find((x) => x.name === MODEL);
  assert.ok(m, `/v1/models does not list ${MODEL}: ${models.text}`);
  dims = m.embedding_dimensions ?? 384;
  assert.equal(dims, 384, "the lexical model has 384 dimensions");
  calib = m.quantization?.int8_uint8_range;
});

after(async () => {
  await server?.stop();
});

/** Checks the raw JSON (snake_case, timestamps) and the SDK view of an input dataset. */
async function checkInputDataset(id, nRows, texts, keptCols = []) {
  const ds = await waitValidated(co, id);
  assert.equal(ds.id, id);
  assert.equal(ds.datasetType, "embed-input");
  assert.equal(ds.validationStatus, "validated");
  assert.ok(ds.createdAt instanceof Date && !Number.isNaN(ds.createdAt.getTime()));
  assert.ok(Array.isArray(ds.datasetParts) && ds.datasetParts.length > 0, "dataset_parts empty");
  assert.equal(
    ds.datasetParts.reduce((s, p) => s + (p.numRows ?? 0), 0),
    nRows,
    "sum of dataset_parts[].num_rows",
  );
  assert.equal(typeof ds.schema, "string", "schema must be a JSON string");
  const schema = JSON.parse(ds.schema);
  const names = schema.fields.map((f) => f.name);
  assert.ok(names.includes("text"), `schema has no text field: ${ds.schema}`);
  for (const k of keptCols) assert.ok(names.includes(k), `schema lacks kept field ${k}: ${ds.schema}`);
  assert.ok(ds.requiredFields?.includes("text"));

  const r = await raw(server.url, "GET", `/v1/datasets/${encodeURIComponent(id)}`, { token: KEY_A });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/);
  const d = r.json.dataset;
  assert.match(d.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, "created_at must be RFC 3339 ending in Z");
  assert.match(d.updated_at, /Z$/, "updated_at must end in Z");
  assert.equal(d.validation_status, "validated");
  assert.ok(Array.isArray(d.dataset_parts));

  // The input parts themselves hold the uploaded rows, in order.
  const recs = await downloadRecords(ds);
  assert.deepEqual(
    recs.map((x) => x.text),
    texts,
    "embed-input parts must hold the uploaded texts in order",
  );
  return ds;
}

/** Runs a job with all five types and checks the output rows against what was uploaded. */
async function runJobAndCheck(datasetId, rows, keptCols = []) {
  const created = await co.embedJobs.create({
    model: MODEL,
    datasetId,
    inputType: "search_document",
    embeddingTypes: ALL_TYPES,
    name: `flow-${datasetId}`.slice(0, 40),
  });
  assert.equal(typeof created.jobId, "string");
  assert.ok(created.jobId.length > 0);

  const job = await waitJob(co, created.jobId);
  assert.equal(job.status, "complete", `job ended ${job.status}: ${JSON.stringify(job)}`);
  assert.equal(job.jobId, created.jobId);
  assert.equal(job.inputDatasetId, datasetId);
  assert.equal(job.model, MODEL);
  assert.equal(job.truncate, "END");
  assert.equal(job.percent_complete, 100, "percent_complete (passed through by the SDK)");
  assert.equal(job.input_type, "search_document");
  assert.deepEqual(job.embedding_types, ALL_TYPES);
  assert.ok(job.meta?.billedUnits?.inputTokens > 0, `billed_units.input_tokens: ${JSON.stringify(job.meta)}`);
  assert.ok(job.outputDatasetId, "complete job has no output_dataset_id");

  const rawJob = await raw(server.url, "GET", `/v1/embed-jobs/${created.jobId}`, { token: KEY_A });
  assert.equal(rawJob.status, 200);
  assert.ok(rawJob.json.meta.billed_units.input_tokens > 0);
  assert.match(rawJob.json.created_at, /Z$/);

  const out = (await co.datasets.get(job.outputDatasetId)).dataset;
  assert.equal(out.id, job.outputDatasetId);
  assert.equal(out.datasetType, "embed-result");
  assert.equal(out.validationStatus, "validated");
  assert.equal(typeof out.schema, "string");
  JSON.parse(out.schema);
  assert.ok(out.datasetParts.length > 0);

  assert.match(out.id, /^flow-.*-output-[a-z0-9]{6}$/, "output dataset id: <job name>-output-<6>");
  const { records: recs, schema } = await downloadParts(out);
  const emb = schema.fields.find((f) => f.name === "embeddings");
  assert.ok(emb, `embed-result schema has no embeddings: ${out.schema}`);
  const floatField = emb.type.fields.find((f) => f.name === "float");
  assert.deepEqual(floatField.type, ["null", { type: "array", items: "float" }], "floats are Avro float");
  assert.deepEqual(
    emb.type.fields.map((f) => f.name),
    ALL_TYPES,
  );
  assert.equal(recs.length, rows.length, "output row count = input row count");
  assert.deepEqual(
    recs.map((r) => r.text),
    rows.map((r) => r.text),
    "output rows must be in input order",
  );
  recs.forEach((rec, i) => {
    const kept = {};
    for (const k of keptCols) kept[k] = rows[i][k];
    checkEmbedRecord(rec, { text: rows[i].text, kept, dims, bitRule: i % 7 === 0, calib }, `row ${i}:`);
  });
  // Different texts give different vectors (the model is not returning a constant).
  const distinct = new Set(recs.slice(0, 20).map((r) => JSON.stringify(r.embeddings.ubinary)));
  assert.ok(distinct.size > 1, "all output vectors are identical");
  return { job, out, recs };
}

test("Buffer upload (no filename, sniffed as JSONL) -> job -> output", async () => {
  const texts = makeTexts(300, 11);
  texts[5] = 'quotes " and backslash \\ and tab \t and unicode ✓ 🚀';
  const body = texts.map((t) => JSON.stringify({ text: t, ignored: 1 })).join("\n") + "\n";
  const { id } = await co.datasets.create(Buffer.from(body), undefined, {
    name: "flow buffer",
    type: "embed-input",
  });
  assert.equal(typeof id, "string");
  const ds = await checkInputDataset(id, texts.length, texts);
  assert.ok(!JSON.parse(ds.schema).fields.some((f) => f.name === "ignored"), "unkept field stored");
  const { job } = await runJobAndCheck(
    id,
    texts.map((text) => ({ text })),
  );
  // The job is listed and its output dataset is listed as embed-result.
  const jobs = (await co.embedJobs.list()).embedJobs ?? [];
  assert.ok(jobs.some((j) => j.jobId === job.jobId));
  const results = (await co.datasets.list({ datasetType: "embed-result" })).datasets ?? [];
  assert.ok(results.some((d) => d.id === job.outputDatasetId), "output dataset not in datasets.list");
  assert.ok(results.every((d) => d.datasetType === "embed-result"), "datasetType filter ignored");
});

test("Buffer upload of CSV (no filename, sniffed as CSV)", async () => {
  const texts = makeTexts(40, 12);
  const body = "id,text\n" + texts.map((t, i) => `${i},${csvField(t)}`).join("\n") + "\n";
  const { id } = await co.datasets.create(Buffer.from(body), undefined, {
    name: "flow buffer csv",
    type: "embed-input",
  });
  await checkInputDataset(id, texts.length, texts);
});

test("File('x.jsonl') upload with keep_fields -> job -> output", async () => {
  const texts = makeTexts(250, 13);
  const rows = texts.map((text, i) => ({ text, source: `src-${i % 17}`, drop: "x" }));
  const body = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const file = new File([body], "x.jsonl", { type: "application/jsonl" });
  const { id } = await co.datasets.create(file, undefined, {
    name: "flow file jsonl",
    type: "embed-input",
    keepFields: ["source"],
  });
  const ds = await checkInputDataset(id, rows.length, texts, ["source"]);
  assert.ok(ds.preserveFields?.includes("source"), `preserve_fields: ${JSON.stringify(ds.preserveFields)}`);
  await runJobAndCheck(id, rows, ["source"]);
});

test("CSV File with quotes, commas, embedded newlines and keep_fields -> job -> output", async () => {
  const texts = makeTexts(200, 14);
  texts[0] = 'He said "hello, world"';
  texts[1] = "first line\nsecond line, with a comma";
  texts[2] = 'a "quoted"\nmulti-line, "field"';
  texts[3] = "  leading and trailing spaces  ";
  const rows = texts.map((text, i) => ({
    text,
    title: i === 4 ? 'Title, with "quotes"' : `title ${i}`,
    lang: i % 2 ? "en" : "fr",
  }));
  const header = "title,text,lang,unused";
  const body =
    header +
    "\n" +
    rows.map((r) => [r.title, r.text, r.lang, "zzz"].map(csvField).join(",")).join("\n") +
    "\n";
  const file = new File([body], "rows.csv", { type: "text/csv" });
  const { id } = await co.datasets.create(file, undefined, {
    name: "flow csv",
    type: "embed-input",
    keepFields: ["title", "lang"],
  });
  await checkInputDataset(id, rows.length, texts, ["title", "lang"]);
  await runJobAndCheck(id, rows, ["title", "lang"]);
});

test("a job with only float and ubinary leaves the other types null", async () => {
  const texts = makeTexts(30, 15);
  const file = new File([texts.map((t) => JSON.stringify({ text: t })).join("\n")], "few.jsonl");
  const { id } = await co.datasets.create(file, undefined, { name: "flow few", type: "embed-input" });
  await waitValidated(co, id);
  const created = await co.embedJobs.create({
    model: MODEL,
    datasetId: id,
    inputType: "search_query",
    embeddingTypes: ["float", "ubinary"],
    truncate: "START",
  });
  const job = await waitJob(co, created.jobId);
  assert.equal(job.status, "complete");
  assert.equal(job.truncate, "START");
  const out = (await co.datasets.get(job.outputDatasetId)).dataset;
  const recs = await downloadRecords(out);
  assert.equal(recs.length, texts.length);
  recs.forEach((rec, i) =>
    checkEmbedRecord(rec, { text: texts[i], dims, types: ["float", "ubinary"], bitRule: true }, `row ${i}:`),
  );
});

test("Blob, .txt with text_separator, CSV with csv_delimiter, optional_fields", async () => {
  // Blob -> filename "blob", sniffed.
  const blobTexts = makeTexts(7, 16);
  const blob = new Blob([blobTexts.map((t) => JSON.stringify({ text: t })).join("\n")]);
  const b = await co.datasets.create(blob, undefined, { name: "flow blob", type: "embed-input" });
  await checkInputDataset(b.id, blobTexts.length, blobTexts);

  // .txt split by a separator.
  const txtTexts = ["first paragraph\nstill first", "second paragraph", "third, with comma"];
  const t = await co.datasets.create(new File([txtTexts.join("\n\n")], "notes.txt"), undefined, {
    name: "flow txt",
    type: "embed-input",
    textSeparator: "\n\n",
  });
  const txt = await checkInputDataset(t.id, txtTexts.length, txtTexts);
  assert.equal(txt.parseInfo?.separator, "\n\n");

  // CSV with ';' and optional_fields: missing values are kept as null.
  const rows = makeTexts(25, 17).map((text, i) => ({ text: `${text}, with comma`, note: i % 3 ? `note ${i}` : null }));
  const header = "text;note";
  const body = header + "\n" + rows.map((r) => `${csvField(r.text)};${r.note ?? ""}`).join("\n") + "\n";
  // An empty CSV cell is a present, empty value; use JSONL for truly missing optional fields.
  const c = await co.datasets.create(new File([body], "semi.csv"), undefined, {
    name: "flow semicolon",
    type: "embed-input",
    csvDelimiter: ";",
  });
  const csvDs = await checkInputDataset(c.id, rows.length, rows.map((r) => r.text));
  assert.equal(csvDs.parseInfo?.delimiter, ";");

  const jsonl = rows.map((r) => JSON.stringify(r.note === null ? { text: r.text } : r)).join("\n");
  const o = await co.datasets.create(new File([jsonl], "opt.jsonl"), undefined, {
    name: "flow optional",
    type: "embed-input",
    optionalFields: ["note"],
  });
  await checkInputDataset(o.id, rows.length, rows.map((r) => r.text), ["note"]);
  await runJobAndCheck(o.id, rows, ["note"]);
});

test("part URLs: no credentials needed, tampered links refused", async () => {
  const { id } = await co.datasets.create(Buffer.from('{"text":"signed"}\n'), undefined, {
    name: "flow signed",
    type: "embed-input",
  });
  const ds = await waitValidated(co, id);
  const url = new URL(ds.datasetParts[0].url);
  assert.equal(url.origin, server.url, "part URL should point at this server");
  assert.equal((await fetch(url)).status, 200);
  const sig = url.searchParams.get("sig");
  assert.ok(sig, `no sig in ${url}`);
  const bad = new URL(url);
  bad.searchParams.set("sig", (sig[0] === "0" ? "1" : "0") + sig.slice(1));
  let res = await fetch(bad);
  assert.equal(res.status, 403, "tampered signature must be refused");
  assert.equal(typeof (await res.json()).message, "string");
  const later = new URL(url);
  later.searchParams.set("expires", String(Number(url.searchParams.get("expires")) + 3600));
  res = await fetch(later);
  assert.equal(res.status, 403, "a changed expiry must be refused");
  // Deleting the dataset makes its links dead.
  await co.datasets.delete(id);
  res = await fetch(url);
  assert.ok([403, 404, 410].includes(res.status), `deleted dataset's part: ${res.status}`);
});

test("SDK environment with a path prefix or a trailing /v1 reaches the same server", async () => {
  for (const environment of [`${server.url}/v1`, `${server.url}/cohere/`]) {
    const c = new CohereClient({ token: KEY_A, environment });
    const list = await c.datasets.list({ limit: 2 });
    assert.ok(Array.isArray(list.datasets), environment);
    assert.ok(list.datasets.length <= 2, "limit ignored");
    await expectApiError(c.embedJobs.get("nope"), Cohere.NotFoundError, 404);
  }
  const usage = await co.datasets.getUsage();
  assert.ok(usage.organizationUsage > 0);
});
