// The newer architectures behind the API (issue 10): a NomicBert and an MPNet fixture served
// under Cohere names; for each input_type that maps to one of the model's prompts (or to none),
// an embed job's vectors equal POST /v2/embed's and the reference embeddings of those cases.
// (The BPE-tokenized fixtures - qwen3, gemma3, modernbert - need the BPE tokenizer to serve.)
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, client, waitValidated, waitJob, downloadRecords, raw, repoRoot, KEY_A } from "./harness.mjs";

const fixture = (name) => path.join(repoRoot, "tests", "data", name);

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// input_type -> the prompt_name of the fixture cases it reproduces (null = no prompt).
const groups = {
  "mpnet-tiny": { clustering: null, search_query: "query", search_document: "passage" },
  "nomic-bert-tiny": {
    search_query: "search_query",
    search_document: "search_document",
    classification: "classification",
  },
};

for (const [name, byType] of Object.entries(groups)) {
  test(`${name}: job output = /v2/embed = reference embeddings, per input_type`, async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(fixture(name), "expected.json"), "utf8"));
    const model = "embed-english-v3.0";
    const srv = await startServer({ chunkRows: 4, args: ["--model", `${model}=${fixture(name)}`] });
    try {
      const co = client(srv.url);
      let checked = 0;
      for (const [inputType, promptName] of Object.entries(byType)) {
        const cases = expected.cases
          .filter((c) => (c.prompt_name ?? null) === promptName && c.truncate === "END" && c.text.trim() !== "")
          .slice(0, 12);
        if (cases.length === 0) continue;
        const jsonl = cases.map((c, i) => JSON.stringify({ text: c.text, case: i })).join("\n");
        const { id } = await co.datasets.create(new File([jsonl], "cases.jsonl"), undefined, {
          name: `${name}-${inputType}`,
          type: "embed-input",
          keepFields: "case",
        });
        await waitValidated(co, id);
        const { jobId } = await co.embedJobs.create({ model, datasetId: id, inputType, embeddingTypes: ["float"] });
        const job = await waitJob(co, jobId);
        assert.equal(job.status, "complete");
        const recs = await downloadRecords((await co.datasets.get(job.outputDatasetId)).dataset);
        assert.equal(recs.length, cases.length);
        const sync = await raw(srv.url, "POST", "/v2/embed", {
          token: KEY_A,
          body: { model, input_type: inputType, texts: cases.map((c) => c.text), embedding_types: ["float"] },
        });
        assert.equal(sync.status, 200, sync.text);
        recs.forEach((r, i) => {
          assert.equal(r.case, i);
          const jobVec = r.embeddings.float;
          assert.ok(maxAbsDiff(jobVec, sync.json.embeddings.float[i]) <= 1e-5, `${inputType} ${cases[i].name}: job vs sync`);
          assert.ok(maxAbsDiff(jobVec, cases[i].embedding) <= 1e-4, `${inputType} ${cases[i].name}: vs reference`);
          checked++;
        });
      }
      assert.ok(checked > 0);
    } finally {
      await srv.stop();
    }
  });
}
