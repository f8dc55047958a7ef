// Graceful stop under every model kind: SIGTERM and SIGINT make the server log "shutting down"
// and exit 0 whether it serves the built-in lexical model or a neural model (whose engine
// threads exist before the signal thread does), also while a job is running.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startServer, client, waitValidated, poll, repoRoot, makeTexts } from "./harness.mjs";

const bert = path.join(repoRoot, "tests", "data", "bert-tiny");

for (const [kind, args, model] of [
  ["lexical", [], "embedjobs-lexical-v1"],
  ["neural (bert-tiny)", ["--model", `embed-english-light-v3.0=${bert}`], "embed-english-light-v3.0"],
]) {
  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`${kind}: ${signal} stops the server cleanly while a job runs`, async () => {
      const srv = await startServer({ chunkRows: 10, args, failpoints: "job.after_commit=sleep:100" });
      try {
        const co = client(srv.url);
        const texts = makeTexts(300, 7);
        const { id } = await co.datasets.create(
          Buffer.from(texts.map((t) => JSON.stringify({ text: t })).join("\n")),
          undefined,
          { name: "graceful", type: "embed-input" },
        );
        await waitValidated(co, id);
        const { jobId } = await co.embedJobs.create({ model, datasetId: id, inputType: "search_document" });
        await poll(() => co.embedJobs.get(jobId), (j) => j.percent_complete > 0, {
          what: "job progress",
          timeoutMs: 30000,
          intervalMs: 50,
        });
        const t0 = Date.now();
        srv.proc.kill(signal);
        const { code, signal: got } = await srv.exited;
        assert.equal(code, 0, `exit after ${signal}: code ${code}, signal ${got}\n${srv.logs().slice(-3000)}`);
        assert.ok(Date.now() - t0 < 10000, "shutdown took more than 10 s");
        assert.match(srv.logs(), /shutting down/);
        assert.match(srv.logs(), /stopped/);
      } finally {
        await srv.stop();
      }
    });
  }
}
