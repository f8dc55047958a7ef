// SIGKILLs during an OpenAI batch (POST /v1/batches through the `openai` SDK): the server is
// killed mid-run several times, restarted on the same data dir, and the batch resumes from its
// committed chunks. Its output and error files must be byte for byte those of a clean run of
// the same file (line ids and request ids derive from the batch id and custom_id, so the
// comparison normalises only the batch id), and no chunk file may be left behind.
import { test, after } from "node:test";
import assert from "node:assert/strict";
// The SDK is installed with the integration tests' packages (tests/integration/node_modules).
import OpenAI, { toFile } from "../integration/node_modules/openai/index.mjs";
import { startServer, makeDataDir, KEY_A, poll, sleep, makeTexts } from "../integration/harness.mjs";
import { MODEL, leftoverChunkFiles } from "./common.mjs";

const ROWS = 1200;
const CHUNK = 40;
const KILLS = 4;
const servers = [];
const dataDir = makeDataDir();

after(async () => {
  for (const s of servers) await s.stop();
});

function batchText() {
  const texts = makeTexts(ROWS, 77);
  return (
    texts
      .map((t, i) =>
        JSON.stringify({
          custom_id: `r${i}`,
          method: "POST",
          url: "/v1/embeddings",
          // Every 97th body is refused (dimensions the model lacks): the error file is checked too.
          body: i % 97 === 5 ? { model: MODEL, input: t, dimensions: 3 } : { model: MODEL, input: t, encoding_format: "float" },
        }),
      )
      .join("\n") + "\n"
  );
}

const sdk = (server) => new OpenAI({ apiKey: KEY_A, baseURL: `${server.url}/v1`, maxRetries: 0 });

async function start(client, text) {
  const f = await client.files.create({ file: await toFile(Buffer.from(text), "in.jsonl"), purpose: "batch" });
  return (await client.batches.create({ input_file_id: f.id, endpoint: "/v1/embeddings", completion_window: "24h" })).id;
}

// The output and error files of a finished batch, with its id replaced (the ids derive from it).
async function files(client, id) {
  const b = await poll(() => client.batches.retrieve(id), (x) => ["completed", "failed", "cancelled"].includes(x.status), {
    what: `batch ${id}`,
    timeoutMs: 120000,
    intervalMs: 50,
  });
  assert.equal(b.status, "completed", JSON.stringify(b));
  const text = async (fid) => (await (await client.files.content(fid)).text());
  return { counts: b.request_counts, output: await text(b.output_file_id), errors: await text(b.error_file_id) };
}

test(`${KILLS} SIGKILLs during an OpenAI batch: output and error files identical to a clean run`, async () => {
  const text = batchText();
  const clean = await startServer({ chunkRows: CHUNK });
  servers.push(clean);
  const want = await files(sdk(clean), await start(sdk(clean), text));
  await clean.stop();
  assert.equal(want.counts.total, ROWS);
  assert.ok(want.counts.failed > 0);

  const opts = { dataDir, chunkRows: CHUNK, leaseMs: 1000, failpoints: "job.after_commit=sleep:60" };
  let server = await startServer(opts);
  servers.push(server);
  const id = await start(sdk(server), text);
  const killedAt = [];
  let last = 0;
  for (let k = 0; k < KILLS; k++) {
    const client = sdk(server);
    const b = await poll(
      async () => {
        try {
          return await client.batches.retrieve(id);
        } catch (e) {
          if (!server.alive()) throw new Error(`server died: ${server.logs().slice(-3000)}`);
          return { status: "in_progress", request_counts: { completed: last, failed: 0 } };
        }
      },
      (x) => x.status !== "in_progress" && x.status !== "validating" ? true : x.request_counts.completed + x.request_counts.failed > last,
      { what: "progress after a restart", timeoutMs: 30000, intervalMs: 20 },
    );
    assert.equal(b.status, "in_progress", `the batch ended after only ${k} kills: make it longer`);
    last = b.request_counts.completed + b.request_counts.failed;
    await sleep(50 + k * 37);
    await server.kill();
    killedAt.push(last);
    server = await startServer(opts);
    servers.push(server);
  }
  let got;
  for (let attempt = 1; ; attempt++) {
    try {
      got = await files(sdk(server), id);
      break;
    } catch (e) {
      if (!server.alive() || attempt === 3 || e?.code === "ERR_ASSERTION") throw e;
    }
  }
  assert.deepEqual(got.counts, want.counts);
  // The line ids and request ids hash the batch id: compare the lines with both runs' ids blanked.
  const norm = (s) => s.replace(/"id":"batch_req_[0-9a-f]+"/g, '"id":""').replace(/"request_id":"[0-9a-f]+"/g, '"request_id":""');
  const gotLines = norm(got.output).split("\n");
  const wantLines = norm(want.output).split("\n");
  assert.equal(gotLines.length, wantLines.length, "output line count");
  for (let i = 0; i < wantLines.length; i++) {
    assert.equal(gotLines[i], wantLines[i], `output line ${i} differs (rows done at each kill: ${killedAt.join(",")})`);
  }
  assert.equal(norm(got.errors), norm(want.errors), "error file");
  // Ids unique within the resumed batch's output.
  const ids = got.output.trimEnd().split("\n").map((l) => JSON.parse(l).id);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(leftoverChunkFiles(dataDir), [], "chunk files left behind");
});
