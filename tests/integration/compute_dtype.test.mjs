// Compute modes per model (--model NAME=SOURCE,dtype=fp32|bf16|int8): /v1/models reports each
// model's dtype, /v2/embed in bf16 / int8 stays within the engine's accuracy bounds of fp32
// (cosine >= 0.999 / >= 0.99), and a bad dtype stops the server at start-up with a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, raw, KEY_A, fixture, binary } from "./harness.mjs";

const cosine = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
};

test("dtype per model: /v1/models and /v2/embed", async () => {
  const dir = fixture("bert-tiny");
  const srv = await startServer({
    args: ["--model", `m-fp32=${dir}`, "--model", `m-bf16=${dir},dtype=bf16`, "--model", `m-int8=${dir},dtype=int8`],
  });
  try {
    const models = await raw(srv.url, "GET", "/v1/models", { token: KEY_A });
    assert.equal(models.status, 200);
    const dtype = Object.fromEntries(models.json.models.map((m) => [m.name, m.dtype]));
    assert.deepEqual(dtype, { "m-fp32": "fp32", "m-bf16": "bf16", "m-int8": "int8" });
    const texts = ["the quick brown fox", "jumps over the lazy dog", "embedding jobs in bf16 and int8"];
    const embed = async (model) => {
      const r = await raw(srv.url, "POST", "/v2/embed", {
        token: KEY_A, body: { model, texts, input_type: "search_document", embedding_types: ["float"] },
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.embeddings.float;
    };
    const ref = await embed("m-fp32");
    for (const [model, bound] of [["m-bf16", 0.999], ["m-int8", 0.99]]) {
      const got = await embed(model);
      for (let i = 0; i < texts.length; i++) {
        const c = cosine(ref[i], got[i]);
        assert.ok(c >= bound && c < 1 + 1e-6, `${model} text ${i}: cosine ${c}`);
      }
    }
  } finally {
    await srv.stop();
  }
});

test("bad dtype: exit 2 with a message naming it", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ej-dtype-"));
  const r = spawnSync(binary, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--no-auth",
    "--model", `m=${fixture("bert-tiny")},dtype=fp8`], { encoding: "utf8" });
  fs.rmSync(dataDir, { recursive: true, force: true });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /dtype must be fp32, bf16 or int8, got 'fp8'/);
});
