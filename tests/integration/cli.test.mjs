// The command line client against a real server: upload (with --text-field, --wait), a job
// followed to its end, its output downloaded in every format and checked against each other and
// against the input, the exit codes that say what failed, and CSV formula injection escaped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, binary, KEY_A, KEY_B, decodeAvro, poll } from "./harness.mjs";

const MODEL = "embed-english-v3.0";
let server;
let dir;

// Runs `embedjobs ARGS` as a user would; returns {status, stdout, stderr}.
function cli(args, { key = KEY_A, url, env = {} } = {}) {
  const e = { ...process.env, ...env };
  for (const k of Object.keys(e)) if (k.startsWith("EMBEDJOBS_") && k !== "EMBEDJOBS_BIN") delete e[k];
  if (key !== null) e.CO_API_KEY = key;
  else delete e.CO_API_KEY;
  e.CO_API_URL = url ?? server.url;
  const r = spawnSync(binary, args, { env: e, encoding: "utf8", timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r) {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const texts = [];
before(async () => {
  server = await startServer({ args: ["--model", `${MODEL}=lexical`], chunkRows: 7 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "embedjobs-cli-"));
  // The text column is called `body`; one text starts like a spreadsheet formula.
  let csv = "id,body\n";
  for (let i = 0; i < 40; i++) {
    const t = i === 3 ? "=HYPERLINK(\"http://x\",\"y\")" : `row ${i}, about "quoted" things`;
    texts.push(t);
    csv += `${i},"${t.replaceAll('"', '""')}"\n`;
  }
  fs.writeFileSync(path.join(dir, "in.csv"), csv);
});

after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("upload --text-field --wait, jobs create --follow, download in every format", async () => {
  const up = ok(cli(["datasets", "upload", path.join(dir, "in.csv"), "--name", "cli-in",
    "--text-field", "body", "--keep-field", "id", "--wait", "--json"]));
  const ds = JSON.parse(up.stdout);
  assert.equal(ds.validation_status, "validated");
  assert.equal(ds.total_rows, 40);

  const list = ok(cli(["datasets", "list"]));
  assert.match(list.stdout, new RegExp(ds.id));
  assert.match(list.stdout, /^ID\s+NAME\s+TYPE\s+STATUS/m);

  const created = ok(cli(["jobs", "create", "--dataset", ds.id, "--model", MODEL, "--follow",
    "--name", "cli-job"]));
  const jobId = created.stdout.trim();
  assert.match(created.stderr, /job .* complete: 40\/40 rows/);

  // The server logs the job's progress (rows, rows/s, ETA) while it runs, and at its end.
  // (spawnSync blocked this process's event loop: let the server's stderr arrive first.)
  const progressLine = new RegExp(`job ${jobId}: 40/40 rows \\(100\\.0%\\), \\d+ rows/s here, ETA 0s`);
  await poll(() => server.logs(), (l) => progressLine.test(l), { timeoutMs: 5000, what: "the job's progress log line" });

  const jobJson = JSON.parse(ok(cli(["jobs", "get", jobId])).stdout);
  assert.equal(jobJson.status, "complete");
  assert.equal(jobJson.progress.completed_rows, 40);
  assert.equal(jobJson.progress.total_rows, 40);

  const file = (f) => path.join(dir, `out.${f}`);
  for (const f of ["jsonl", "csv", "npy", "avro"]) {
    ok(cli(["jobs", "download", jobId, "--format", f, "-o", file(f)]));
  }
  const rows = fs.readFileSync(file("jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(rows.length, 40);
  rows.forEach((r, i) => {
    assert.equal(r.text, texts[i], `row ${i} text, in input order`);
    assert.equal(String(r.id), String(i));
    assert.ok(Array.isArray(r.embeddings.float) && r.embeddings.float.length > 0);
  });
  const dims = rows[0].embeddings.float.length;

  // avro: the parts joined into one file, the same records.
  const { records: avroRows } = await decodeAvro(fs.readFileSync(file("avro")));
  assert.equal(avroRows.length, 40);
  avroRows.forEach((r, i) => assert.deepEqual(Array.from(r.embeddings.float), rows[i].embeddings.float));

  // npy: float32 [40, dims], the same numbers as the JSONL (which printed floats exactly).
  const npy = fs.readFileSync(file("npy"));
  assert.deepEqual([...npy.subarray(0, 6)], [0x93, ...Buffer.from("NUMPY")]);
  const headerLen = npy.readUInt16LE(8);
  const header = npy.subarray(10, 10 + headerLen).toString("latin1");
  assert.match(header, new RegExp(`'shape': \\(40, ${dims}\\)`));
  assert.match(header, /'descr': '<f4'/);
  assert.equal((10 + headerLen) % 64, 0, "npy header is padded to 64 bytes");
  const floats = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLen, npy.byteOffset + npy.length));
  assert.equal(floats.length, 40 * dims);
  for (let i = 0; i < 40; i++) {
    for (let k = 0; k < dims; k++) assert.equal(floats[i * dims + k], Math.fround(rows[i].embeddings.float[k]));
  }

  // csv: a header, one line per row, the formula-like text defused with a leading '.
  const csv = fs.readFileSync(file("csv"), "utf8");
  const lines = csv.trim().split("\r\n");
  assert.equal(lines.length, 41);
  assert.ok(lines[0].split(",").includes("embeddings.float"), lines[0]);
  assert.ok(lines[0].split(",").includes("text"), lines[0]);
  assert.ok(csv.includes(`"'=HYPERLINK(""http://x"",""y"")"`), "formula not escaped in CSV");
  assert.ok(!/(^|,)=HYPERLINK/m.test(csv));
});

test("exit codes say what failed", () => {
  // 2: usage, with a suggestion for a typo.
  const typo = cli(["datasets", "lsit"]);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /did you mean 'list'/);
  assert.equal(cli(["jobs", "create", "--model", MODEL]).status, 2, "missing --dataset");
  // 3: nothing listens there.
  const down = cli(["datasets", "list"], { url: "http://127.0.0.1:1" });
  assert.equal(down.status, 3);
  assert.match(down.stderr, /cannot reach/);
  // 4: a wrong key, and no key.
  const wrong = cli(["datasets", "list"], { key: "nope" });
  assert.equal(wrong.status, 4);
  assert.match(wrong.stderr, /invalid api token.*HTTP 401/);
  assert.equal(cli(["jobs", "list"], { key: null }).status, 4);
  // 5: not found, also another owner's dataset.
  assert.equal(cli(["datasets", "get", "no-such-dataset"]).status, 5);
  const mine = JSON.parse(ok(cli(["datasets", "list", "--json"])).stdout).datasets[0].id;
  assert.equal(cli(["datasets", "get", mine], { key: KEY_B }).status, 5);
  // 6: refused as invalid (a model that is not served is 404 => 5; a bad input type is 400).
  const bad = cli(["jobs", "create", "--dataset", mine, "--model", MODEL, "--input-type", "poetry"]);
  assert.equal(bad.status, 6, bad.stderr);
  assert.match(bad.stderr, /input_type/);
  const noModel = cli(["jobs", "create", "--dataset", mine, "--model", "nope"]);
  assert.equal(noModel.status, 5);
  assert.match(noModel.stderr, new RegExp(`serves: .*${MODEL}`));
  // --text-field naming a column that is not there: a local error before any upload.
  const missing = cli(["datasets", "upload", path.join(dir, "in.csv"), "--text-field", "nope"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no column 'nope'/);
});

test("embed, version, help", () => {
  const r = JSON.parse(ok(cli(["embed", "hello world", "second text", "--model", MODEL, "--json"])).stdout);
  assert.equal(r.embeddings.float.length, 2);
  const plain = ok(cli(["embed", "hello world", "--model", MODEL]));
  assert.match(plain.stdout, /^float\[0\] \(\d+ dims\): \[/);
  assert.match(ok(cli(["--version"])).stdout, /^embedjobs \d+\.\d+\.\d+/);
  assert.match(ok(cli(["help", "jobs"])).stdout, /create/);
  assert.match(ok(cli(["jobs", "create", "--help"])).stdout, /--follow/);
  const keysTypo = cli(["keys", "lsit", "--help"]);
  assert.equal(keysTypo.status, 2);
  assert.match(keysTypo.stderr, /unknown command 'lsit'/);
});

test("keys create, list and revoke: a revoked key stops working on the running server", async () => {
  const dataDir = server.dataDir;
  const created = spawnSync(binary, ["keys", "create", "--data-dir", dataDir, "--name", "ci-key"], { encoding: "utf8" });
  assert.equal(created.status, 0, created.stderr);
  const key = created.stdout.trim();
  ok(cli(["datasets", "list"], { key }));
  const list = spawnSync(binary, ["keys", "list", "--data-dir", dataDir], { encoding: "utf8" });
  assert.equal(list.status, 0, list.stderr);
  assert.ok(!list.stdout.includes(key), "keys list must never print a key");
  const line = list.stdout.split("\n").find((l) => l.includes("ci-key"));
  assert.ok(line, list.stdout);
  const id = line.split(/\s+/)[0];
  assert.match(id, /^[0-9a-f]{12}$/);
  const revoked = spawnSync(binary, ["keys", "revoke", id.slice(0, 8), "--data-dir", dataDir], { encoding: "utf8" });
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.match(revoked.stderr, /revoked key/);
  assert.equal(cli(["datasets", "list"], { key }).status, 4, "a revoked key is refused at once");
  const again = spawnSync(binary, ["keys", "revoke", id, "--data-dir", dataDir], { encoding: "utf8" });
  assert.equal(again.status, 5);
  assert.equal(cli(["datasets", "list"]).status, 0, "the other keys still work");
});

test("batches: upload a batch input, create --follow, list, download", async () => {
  const lines = [];
  for (let i = 0; i < 12; i++) {
    lines.push(JSON.stringify({ custom_id: `r${i}`, body: { texts: [`batch text ${i}`], input_type: "search_document", embedding_types: ["float"] } }));
  }
  fs.writeFileSync(path.join(dir, "batch.jsonl"), lines.join("\n") + "\n");
  const ds = JSON.parse(ok(cli(["datasets", "upload", path.join(dir, "batch.jsonl"), "--type", "batch-embed-v2-input", "--wait", "--json"])).stdout);
  assert.equal(ds.validation_status, "validated");
  const created = ok(cli(["batches", "create", "--dataset", ds.id, "--model", MODEL, "--name", "cli-batch", "--follow"]));
  const batchId = created.stdout.trim();
  assert.match(created.stderr, /BATCH_STATUS_COMPLETED: 12 records embedded, 0 failed/);
  const list = ok(cli(["batches", "list"]));
  assert.match(list.stdout, new RegExp(`${batchId}\\s+cli-batch\\s+BATCH_STATUS_COMPLETED`));
  const out = path.join(dir, "batch-out.jsonl");
  ok(cli(["batches", "download", batchId, "-o", out]));
  const records = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => r.custom_id), lines.map((l) => JSON.parse(l).custom_id));
  const body = typeof records[0].body === "string" ? JSON.parse(records[0].body) : records[0].body;
  assert.equal(body.embeddings.float.length, 1);
  assert.equal(cli(["batches", "get", "no-such-batch"]).status, 5);
});
