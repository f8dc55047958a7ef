// The neural engine behind the API: a Hugging Face folder (the bert-tiny / xlmr-tiny fixtures)
// served under Cohere names; an embed job's vectors equal POST /v2/embed's for the same texts,
// and both equal the reference embeddings shipped with the fixture.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, client, waitValidated, waitJob, downloadRecords, raw, repoRoot, KEY_A, fixture, maxAbsDiff } from "./harness.mjs";

for (const [name, model] of [
  ["bert-tiny", "embed-english-light-v3.0"],
  ["xlmr-tiny", "embed-multilingual-v3.0"],
]) {
  test(`${name}: job output = /v2/embed = reference embeddings`, async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(fixture(name), "expected.json"), "utf8"));
    // Cases without a prompt, truncated at the end, with a non-empty text (datasets reject empty rows).
    const cases = expected.cases.filter((c) => !c.prompt && c.truncate === "END" && c.text.trim() !== "").slice(0, 24);
    // No embedding cache: /v2/embed must compute what the job computed, not read it back.
    const srv = await startServer({ chunkRows: 5, args: ["--model", `${model}=${fixture(name)}`, "--cache-mb", "0"] });
    try {
      const co = client(srv.url);
      const models = await raw(srv.url, "GET", "/v1/models", { token: KEY_A });
      const m = models.json.models.find((x) => x.name === model);
      assert.equal(m.context_length, expected.model.max_seq_length);
      assert.ok(m.features.includes(`dims:${expected.model.embedding_dim}`));

      const jsonl = cases.map((c, i) => JSON.stringify({ text: c.text, case: i })).join("\n");
      const { id } = await co.datasets.create(new File([jsonl], "cases.jsonl"), undefined, {
        name: name,
        type: "embed-input",
        keepFields: "case",
      });
      await waitValidated(co, id);
      // The hard cases keep leading/trailing spaces and control characters: stored verbatim.
      const { jobId } = await co.embedJobs.create({ model, datasetId: id, inputType: "clustering", embeddingTypes: ["float"] });
      const job = await waitJob(co, jobId);
      assert.equal(job.status, "complete");
      const out = (await co.datasets.get(job.outputDatasetId)).dataset;
      const recs = await downloadRecords(out);
      assert.equal(recs.length, cases.length);

      const sync = await raw(srv.url, "POST", "/v2/embed", {
        token: KEY_A,
        body: { model, input_type: "clustering", texts: cases.map((c) => c.text), embedding_types: ["float"] },
      });
      assert.equal(sync.status, 200, sync.text);
      recs.forEach((r, i) => {
        assert.equal(r.case, i);
        assert.equal(r.text, cases[i].text);
        const jobVec = r.embeddings.float;
        const syncVec = sync.json.embeddings.float[i];
        assert.ok(maxAbsDiff(jobVec, syncVec) <= 1e-5, `case ${cases[i].name}: job vs sync`);
        assert.ok(maxAbsDiff(jobVec, cases[i].embedding) <= 1e-4, `case ${cases[i].name}: vs reference`);
      });
      const tokens = cases.reduce((n, c) => n + c.num_tokens, 0);
      assert.equal(job.meta.billedUnits.inputTokens, tokens, "billed tokens = tokens embedded");
    } finally {
      await srv.stop();
    }
  });
}

test("truncate NONE on an over-long input is a 400 naming the input", async () => {
  const srv = await startServer({ args: ["--model", `embed-english-light-v3.0=${fixture("bert-tiny")}`] });
  try {
    const long = "word ".repeat(400);
    const res = await raw(srv.url, "POST", "/v2/embed", {
      token: KEY_A,
      body: { model: "embed-english-light-v3.0", input_type: "search_query", texts: ["short", long], truncate: "NONE" },
    });
    assert.equal(res.status, 400);
    assert.match(res.json.message, /1/);
    const ok = await raw(srv.url, "POST", "/v2/embed", {
      token: KEY_A,
      body: { model: "embed-english-light-v3.0", input_type: "search_query", texts: ["short", long], truncate: "START" },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.embeddings.float.length, 2);
  } finally {
    await srv.stop();
  }
});
