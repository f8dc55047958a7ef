// The newer architectures behind the API (issue 10): NomicBert, MPNet, Qwen3, EmbeddingGemma and
// ModernBERT fixtures served under Cohere names; for each input_type that maps to one of the
// model's prompts (or to none), an embed job's vectors equal POST /v2/embed's and the reference
// embeddings of those cases, and /v1/tokenize returns the reference ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, client, waitValidated, waitJob, downloadRecords, raw, repoRoot, KEY_A, fixture, maxAbsDiff } from "./harness.mjs";

// input_type -> the prompt_name of the fixture cases it reproduces (null = no prompt).
const groups = {
  "mpnet-tiny": { clustering: null, search_query: "query", search_document: "passage" },
  "nomic-bert-tiny": {
    search_query: "search_query",
    search_document: "search_document",
    classification: "classification",
  },
  "qwen3-tiny": { clustering: null, search_query: "query", search_document: "document" },
  "gemma3-emb-tiny": { search_query: "query", search_document: "document", clustering: "Clustering" },
  "modernbert-tiny": { clustering: null, search_query: "query", search_document: "document" },
};

for (const [name, byType] of Object.entries(groups)) {
  test(`${name}: job output = /v2/embed = reference embeddings, per input_type`, async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(fixture(name), "expected.json"), "utf8"));
    const model = "embed-english-v3.0";
    // No embedding cache: /v2/embed must compute what the job computed, not read it back.
    const srv = await startServer({ chunkRows: 4, args: ["--model", `${model}=${fixture(name)}`, "--cache-mb", "0"] });
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
      // /v1/tokenize gives the reference ids: the case's input_ids are the tokens of its exact
      // tokenizer input plus the model's special tokens around them (at most 2 on each side).
      let tokenized = 0;
      for (const c of expected.cases.filter((x) => x.num_tokens === x.num_tokens_untruncated).slice(0, 20)) {
        const r = await raw(srv.url, "POST", "/v1/tokenize", { token: KEY_A, body: { model, text: c.input_text } });
        if (c.input_text === "") {
          assert.equal(r.status, 400, r.text); // Cohere: text must not be empty
          continue;
        }
        assert.equal(r.status, 200, r.text);
        const toks = r.json.tokens;
        const ids = c.input_ids;
        const at = [0, 1, 2].find((off) => toks.every((t, i) => ids[off + i] === t));
        assert.ok(at !== undefined && ids.length - at - toks.length <= 2 && ids.length - at - toks.length >= 0,
          `${name} ${c.name}: /v1/tokenize ${JSON.stringify(toks)} vs reference ${JSON.stringify(ids)}`);
        assert.equal(r.json.token_strings.length, toks.length);
        tokenized++;
      }
      assert.ok(tokenized > 5, `${name}: only ${tokenized} cases tokenized`);
    } finally {
      await srv.stop();
    }
  });
}

// Matryoshka dimensions that a model declares in its own config feed output_dimension with no
// --output-dimensions flag: a cut to a declared size is the reference vector's prefix,
// renormalized; an undeclared size is a 400.
test("matryoshka_dims from the model's config feed /v2/embed output_dimension", async () => {
  const os = await import("node:os");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ej-matryoshka-"));
  try {
    fs.cpSync(fixture("nomic-bert-tiny"), dir, { recursive: true });
    const stPath = path.join(dir, "config_sentence_transformers.json");
    const st = JSON.parse(fs.readFileSync(stPath, "utf8"));
    const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8"));
    const dims = expected.model.embedding_dim;
    st.matryoshka_dims = [dims / 2, dims / 4];
    fs.writeFileSync(stPath, JSON.stringify(st));
    const model = "embed-v4.0";
    const srv = await startServer({ args: ["--model", `${model}=${dir}`] });
    try {
      const c = expected.cases.find((x) => x.prompt_name === "search_query" && x.truncate === "END");
      const half = dims / 2;
      const r = await raw(srv.url, "POST", "/v2/embed", {
        token: KEY_A,
        body: { model, input_type: "search_query", texts: [c.text], embedding_types: ["float"], output_dimension: half },
      });
      assert.equal(r.status, 200, r.text);
      const got = r.json.embeddings.float[0];
      assert.equal(got.length, half);
      const prefix = c.embedding.slice(0, half);
      const norm = Math.hypot(...prefix);
      assert.ok(maxAbsDiff(got, prefix.map((x) => x / norm)) <= 1e-4);
      const bad = await raw(srv.url, "POST", "/v2/embed", {
        token: KEY_A,
        body: { model, input_type: "search_query", texts: [c.text], output_dimension: half + 1 },
      });
      assert.equal(bad.status, 400, bad.text);
    } finally {
      await srv.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
