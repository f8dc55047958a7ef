// The main job, end to end, with the official cohere-ai SDK: upload a small CSV dataset, wait
// for validation, run an embed job, download the result parts (no API key: signed URLs),
// decode the Avro, then run a small semantic search over the rows. Used by scripts/demo.sh.
import avro from "avsc";
import { CohereClient, CohereClientV2 } from "cohere-ai";

const url = process.env.EMBEDJOBS_URL;
const co = new CohereClient({ token: process.env.CO_API_KEY, environment: url });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const docs = [
  "The quick brown fox jumps over the lazy dog.",
  "Embeddings turn text into vectors, so that similar texts get nearby vectors.",
  "A vector database stores embeddings and finds the nearest ones to a query.",
  "Self-hosted batch embedding with a Cohere-compatible API.",
  "Résumé, naïve café: accents survive the whole pipeline.",
  "To bake sourdough bread, feed the starter the night before and bake in a hot oven.",
  "Fresh pasta needs only flour, eggs and a little patience.",
  "The espresso machine needs descaling every few months to keep the coffee good.",
  "Marathon training means long slow runs on the weekend and easy runs in between.",
  "A good pair of running shoes matters more than any watch.",
  "Black holes bend light so strongly that nothing escapes past the event horizon.",
  "The telescope photographed a spiral galaxy millions of light years away.",
  "Tomatoes and basil grow well together in a sunny vegetable garden.",
  "Prune the roses in late winter, before the new growth starts.",
  "The central bank raised interest rates to slow inflation.",
  "Index funds spread your savings over the whole stock market at low cost.",
];
const rows = docs.map((t, i) => [String(i + 1), t]);
const csv = "id,text\n" + rows.map(([id, t]) => `${id},"${t.replaceAll('"', '""')}"`).join("\n") + "\n";

const { id } = await co.datasets.create(new File([csv], "sample.csv"), undefined, {
  name: "demo-sample",
  type: "embed-input",
  keepFields: "id",
});
console.log(`dataset ${id} uploaded`);
let ds;
for (;;) {
  ds = (await co.datasets.get(id)).dataset;
  if (ds.validationStatus === "validated") break;
  if (ds.validationStatus === "failed") throw new Error(`validation failed: ${ds.validationError}`);
  await sleep(200);
}
console.log(`dataset validated: ${ds.datasetParts.reduce((n, p) => n + p.numRows, 0)} rows`);

const models = await co.models.list();
const model = models.models[0].name;
const { jobId } = await co.embedJobs.create({
  model,
  datasetId: id,
  inputType: "search_document",
  embeddingTypes: ["float", "int8", "ubinary"],
  name: "demo-job",
});
console.log(`embed job ${jobId} created with model ${model}`);
let job;
for (;;) {
  job = await co.embedJobs.get(jobId);
  if (job.status === "complete") break;
  if (["failed", "cancelled"].includes(job.status)) throw new Error(`job ${job.status}`);
  await sleep(200);
}
console.log(`job complete: ${job.meta?.billedUnits?.inputTokens} input tokens billed`);

const out = (await co.datasets.get(job.outputDatasetId)).dataset;
const records = [];
for (const part of out.datasetParts) {
  const res = await fetch(part.url); // no Authorization header: the URL is signed
  const buf = Buffer.from(await res.arrayBuffer());
  records.push(
    ...(await new Promise((resolve, reject) => {
      const got = [];
      const decoder = new avro.streams.BlockDecoder();
      decoder.on("data", (r) => got.push(r)).on("end", () => resolve(got)).on("error", reject);
      decoder.end(buf);
    })),
  );
}
const dims = records[0].embeddings.float.length;
console.log(`downloaded ${records.length} result rows (${dims} dims; float, int8 and ubinary each)`);

// What embeddings are for: a small semantic search over the job's output. Each query is
// embedded as a search_query; rows are ranked by cosine similarity to it.
const cosine = (a, b) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb || 1);
};
const queries = ["how do I bake bread", "training for a marathon run", "where do vectors and embeddings get stored"];
const co2 = new CohereClientV2({ token: process.env.CO_API_KEY, environment: url });
const q = await co2.embed({ model, texts: queries, inputType: "search_query", embeddingTypes: ["float"] });
queries.forEach((query, i) => {
  const scored = records
    .map((r) => ({ r, score: cosine(q.embeddings.float[i], r.embeddings.float) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, 3);
  console.log(`\nsearch: "${query}"`);
  for (const { r, score } of scored) console.log(`  ${score.toFixed(3)}  #${r.id}  ${r.text}`);
});
