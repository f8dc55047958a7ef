// The main job, end to end, with the official cohere-ai SDK: upload a small CSV dataset, wait
// for validation, run an embed job, download the result parts (no API key: signed URLs),
// decode the Avro and print a few rows. Used by scripts/demo.sh.
import avro from "avsc";
import { CohereClient } from "cohere-ai";

const url = process.env.EMBEDJOBS_URL;
const co = new CohereClient({ token: process.env.CO_API_KEY, environment: url });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rows = [
  ["1", "The quick brown fox jumps over the lazy dog."],
  ["2", "Embeddings turn text into vectors, \"quoted\", with commas."],
  ["3", "A line\nthat spans two lines."],
  ["4", "Self-hosted batch embedding with a Cohere-compatible API."],
  ["5", "Résumé, naïve café: accents survive."],
];
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
for (const part of out.datasetParts) {
  const res = await fetch(part.url); // no Authorization header: the URL is signed
  const buf = Buffer.from(await res.arrayBuffer());
  const records = await new Promise((resolve, reject) => {
    const got = [];
    const decoder = new avro.streams.BlockDecoder();
    decoder.on("data", (r) => got.push(r)).on("end", () => resolve(got)).on("error", reject);
    decoder.end(buf);
  });
  for (const r of records) {
    const f = r.embeddings.float;
    console.log(
      `id=${r.id} text=${JSON.stringify(r.text).slice(0, 48)} dims=${f.length} ` +
        `float[0..3]=${f.slice(0, 3).map((x) => x.toFixed(4)).join(",")} ` +
        `int8[0..3]=${r.embeddings.int8.slice(0, 3)} ubinary[0..3]=${r.embeddings.ubinary.slice(0, 3)}`,
    );
  }
}
