// Hostile content (issue 9 item 6) against the real binary: names and filenames that try to be
// paths, control bytes or broken UTF-8; download headers for any filename; broken rows named by
// line; a dataset deleted under a running job; no server path in any answer; API keys stored as a
// keyed hash, with keys stored by older versions (bare SHA-256) migrated on use.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  startServer,
  client,
  raw,
  binary,
  makeDataDir,
  waitDataset,
  waitValidated,
  waitJob,
  KEY_A,
} from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
let server;
let co;
const answers = []; // every response text, checked for server paths at the end

before(async () => {
  // Chunks of 20 rows, each commit 150 ms late: a 400-row job runs for a few seconds.
  server = await startServer({ chunkRows: 20, failpoints: "job.before_commit=sleep:150" });
  co = client(server.url);
});

after(async () => {
  await server?.stop();
});

async function call(method, pathname, opts = {}) {
  let res;
  if (Buffer.isBuffer(opts.body)) {
    // raw() would send a Buffer as JSON: post the bytes as they are.
    const r = await fetch(server.url + pathname, {
      method,
      headers: { Authorization: `Bearer ${KEY_A}`, ...opts.headers },
      body: opts.body,
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    res = { status: r.status, headers: r.headers, text, json };
  } else {
    res = await raw(server.url, method, pathname, { token: KEY_A, ...opts });
  }
  answers.push(res.text);
  return res;
}

/** A multipart/form-data body built byte by byte (fetch's FormData escapes what we want to send raw). */
function multipart(parts) {
  const boundary = "----hostile" + crypto.randomBytes(8).toString("hex");
  const chunks = [];
  for (const p of parts) {
    let disp = Buffer.from(`form-data; name="${p.name}"`);
    if (p.filename !== undefined) {
      // A string is quoted as RFC 7578 allows (backslash escapes); a Buffer goes as raw bytes.
      const fn = Buffer.isBuffer(p.filename) ? p.filename : Buffer.from(p.filename.replace(/[\\"]/g, "\\$&"));
      disp = Buffer.concat([disp, Buffer.from('; filename="'), fn, Buffer.from('"')]);
    }
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: `), disp, Buffer.from("\r\n\r\n"));
    chunks.push(Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function upload({ name = "hostile", filename = "data.csv", data = "text\nhello\n", query = "" } = {}) {
  const parts = [{ name: "data", filename, value: data }];
  if (name !== undefined) parts.unshift({ name: "name", value: name });
  parts.push({ name: "type", value: "embed-input" });
  const { body, type } = multipart(parts);
  return call("POST", "/v1/datasets" + query, { body, headers: { "Content-Type": type } });
}

function assertBadField(res, field) {
  assert.equal(res.status, 400, res.text);
  assert.equal(typeof res.json?.message, "string", res.text);
  assert.match(res.json.message, new RegExp(`\\b${field}\\b`), `message must name ${field}: ${res.text}`);
}

test("dataset names with NUL, control bytes, broken UTF-8 or 10k characters are a 400 naming `name`", async () => {
  const bad = [
    Buffer.from("abc\u0000def"),
    Buffer.from("line\nbreak"),
    Buffer.from("esc\u001b[31mred"),
    Buffer.from([0x61, 0xff, 0xfe, 0x62]), // invalid UTF-8
    Buffer.from([0x61, 0xc0, 0xaf]), // overlong '/'
    Buffer.from("x".repeat(10000)),
  ];
  for (const name of bad) assertBadField(await upload({ name }), "name");
  // Through the query string too (what the SDK sends), percent-encoded.
  for (const q of ["%00abc", "a%0Db", "a%FFb", "x".repeat(5000)]) {
    const res = await upload({ name: undefined, query: `?name=${q}&type=embed-input` });
    assertBadField(res, "name");
  }
  // Nothing of the refused uploads is left behind.
  const left = fs.readdirSync(path.join(server.dataDir, "uploads")).filter((f) => f.startsWith("incoming-"));
  assert.deepEqual(left, []);
});

test("a name that looks like a path is only a label: the id and the files stay inside the data dir", async () => {
  const res = await upload({ name: "../../../../tmp/evil" });
  assert.equal(res.status, 200, res.text);
  const id = res.json.id;
  assert.match(id, /^[a-z0-9-]+$/, `dataset id ${id}`);
  const ds = await waitValidated(co, id);
  assert.equal(ds.name, "../../../../tmp/evil"); // shown back as given
  assert.ok(fs.existsSync(path.join(server.dataDir, "datasets", id)), "parts live under datasets/<id>");
  assert.ok(!fs.existsSync("/tmp/evil"), "nothing was written outside the data dir");
});

test("filenames: control bytes, NUL, broken UTF-8 and overlong names are a 400 naming `filename`", async () => {
  for (const filename of [
    Buffer.from("a\u0000.csv"),
    Buffer.from("a\u0007b.csv"),
    Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x2e, 0x63, 0x73, 0x76]), // a surrogate
    Buffer.from("f".repeat(300) + ".csv"),
  ]) {
    assertBadField(await upload({ filename }), "filename");
  }
});

/** RFC 6266 / 5987: the filename a client takes from a Content-Disposition header. */
function dispositionName(header) {
  const star = header.match(/filename\*=UTF-8''([^;]+)/i);
  if (star) return decodeURIComponent(star[1]);
  const plain = header.match(/filename="([^"]*)"/);
  return plain ? plain[1] : null;
}

test("Content-Disposition of downloads is well-formed for any filename (ASCII fallback + filename*)", async () => {
  const names = ['qu"ote;x=1.csv', "back\\slash.csv", "naïve café 日本.csv", "100%.csv", "../../etc/passwd.csv"];
  for (const filename of names) {
    const res = await upload({ filename, name: "cd", query: "?keep_original_file=true" });
    assert.equal(res.status, 200, `${filename}: ${res.text}`);
    const ds = await waitValidated(co, res.json.id);
    const url = ds.datasetParts[0].originalUrl;
    assert.ok(url, "a kept original has an original_url");
    const dl = await fetch(url);
    assert.equal(dl.status, 200);
    const cd = dl.headers.get("content-disposition");
    // One parameter list: attachment; filename="<ascii without quotes or backslashes>"[; filename*=...]
    assert.match(cd, /^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"(; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+)?$/, cd);
    // The last path part is what was kept (the browser rule), and it round-trips exactly.
    const want = filename.split(/[\\/]/).pop();
    assert.equal(dispositionName(cd), want, cd);
    // The original is the user's bytes, as an attachment, never sniffed into something else.
    assert.equal(dl.headers.get("content-type"), "application/octet-stream");
    assert.equal(dl.headers.get("x-content-type-options"), "nosniff");
    assert.equal(Buffer.from(await dl.arrayBuffer()).toString(), "text\nhello\n");
  }
});

test("invalid UTF-8 and a 50 MB line in a dataset fail validation naming the line", async () => {
  const badUtf8 = Buffer.concat([Buffer.from("text,id\nfine,1\nalso fine,2\nbro"), Buffer.from([0xc3, 0x28]), Buffer.from("ken,3\n")]);
  let res = await upload({ data: badUtf8, filename: "bad.csv" });
  assert.equal(res.status, 200, res.text);
  let ds = await waitDataset(co, res.json.id);
  assert.equal(ds.validationStatus, "failed");
  assert.match(ds.validationError, /line 4/, ds.validationError);
  assert.match(ds.validationError, /UTF-8/i, ds.validationError);
  answers.push(ds.validationError);

  const big = Buffer.alloc(50 * 1024 * 1024 + 10, "a");
  big.write("text\nok\n", 0);
  res = await upload({ data: big, filename: "big.csv" });
  assert.equal(res.status, 200, res.text);
  ds = await waitDataset(co, res.json.id, 120000);
  assert.equal(ds.validationStatus, "failed");
  assert.match(ds.validationError, /line 3/, ds.validationError);
  assert.match(ds.validationError, /longer than/, ds.validationError);
  answers.push(ds.validationError);

  const jsonl = Buffer.concat([Buffer.from('{"text": "a"}\n{"text": "b'), Buffer.from([0xff]), Buffer.from('"}\n')]);
  res = await upload({ data: jsonl, filename: "bad.jsonl" });
  ds = await waitDataset(co, res.json.id);
  assert.equal(ds.validationStatus, "failed");
  assert.match(ds.validationError, /line 2/, ds.validationError);
  answers.push(ds.validationError);
});

test("deleting the input of a running job is a 409 naming the job; after the job it deletes", async () => {
  const rows = Array.from({ length: 400 }, (_, i) => `row ${i}`).join("\n");
  const res = await upload({ data: "text\n" + rows + "\n", name: "busy" });
  const id = res.json.id;
  await waitValidated(co, id);
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: id, inputType: "search_document" });
  const del = await call("DELETE", `/v1/datasets/${id}`);
  assert.equal(del.status, 409, del.text);
  assert.ok(del.json.message.includes(jobId), del.text);
  assert.ok((await co.datasets.get(id)).dataset, "the dataset is still there");
  const job = await waitJob(co, jobId, 120000);
  assert.equal(job.status, "complete", JSON.stringify(job));
  const after = await call("DELETE", `/v1/datasets/${id}`);
  assert.equal(after.status, 200, after.text);
  assert.ok(!fs.existsSync(path.join(server.dataDir, "jobs", jobId)), "the job's chunk files are gone");
});

test("no answer names a server path (errors, validation_error, failure_reason, 500s)", async () => {
  // An internal error on a download (failpoint-free: a part whose file vanished).
  const res = await upload({ name: "vanish" });
  const ds = await waitValidated(co, res.json.id);
  const file = fs.readdirSync(path.join(server.dataDir, "datasets", ds.id))[0];
  fs.rmSync(path.join(server.dataDir, "datasets", ds.id, file));
  const dl = await fetch(ds.datasetParts[0].url);
  answers.push(await dl.text());
  assert.ok(dl.status >= 400, `a vanished part is an error, got ${dl.status}`);
  // A job over it fails on the missing file: its failure_reason must not name the file.
  const { jobId } = await co.embedJobs.create({ model: MODEL, datasetId: ds.id, inputType: "search_document" });
  const failed = await waitJob(co, jobId, 120000);
  assert.equal(failed.status, "failed", JSON.stringify(failed));
  assert.ok(failed.failure_reason, "a failed job says why");
  answers.push(JSON.stringify(failed));
  answers.push((await call("GET", `/v1/embed-jobs/${jobId}`)).text);
  assert.ok(server.logs().includes(file), "the log has the details (the missing file)");
  const jobs = await call("GET", "/v1/embed-jobs");
  const list = await call("GET", "/v1/datasets?limit=1000");
  assert.equal(jobs.status, 200);
  assert.equal(list.status, 200);
  const tmp = path.dirname(server.dataDir);
  for (const text of answers) {
    assert.ok(!text.includes(server.dataDir), `an answer names the data dir: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(tmp + "/embedjobs-it-"), `an answer names a temp path: ${text.slice(0, 300)}`);
    assert.ok(!/\/(?:uploads|datasets|jobs|http-spool)\/[^ "]+\.(?:avro|upload|tmp|spool)/.test(text), text.slice(0, 300));
  }
});

function sqlite(db, sql) {
  const py = "import sqlite3,sys,json;c=sqlite3.connect(sys.argv[1]);r=c.execute(sys.argv[2]).fetchall();c.commit();print(json.dumps(r))";
  return JSON.parse(execFileSync("python3", ["-c", py, db, sql], { encoding: "utf8" }));
}

const sha256 = (s) => crypto.createHash("sha256").update(s).digest("hex");

test("API keys are stored as HMAC-SHA256 with a server secret; legacy SHA-256 rows are migrated on use", async () => {
  const dataDir = makeDataDir();
  try {
    // `keys create` stores the keyed hash only.
    const made = execFileSync(binary, ["keys", "create", "--data-dir", dataDir], { encoding: "utf8" }).trim();
    const db = path.join(dataDir, "embedjobs.db");
    // The hashing secret lives in the store (every API process of a cluster shares it), not in a file.
    assert.equal(fs.existsSync(path.join(dataDir, "api_keys.secret")), false);
    assert.deepEqual(sqlite(db, "SELECT name FROM secrets WHERE name = 'api_keys'"), [["api_keys"]]);
    let rows = sqlite(db, "SELECT key_hash, owner FROM api_keys");
    assert.equal(rows.length, 1);
    assert.match(rows[0][0], /^hmac-sha256:[0-9a-f]{64}$/);
    assert.notEqual(rows[0][0].slice(12), sha256(made), "not a bare SHA-256");
    const owner = rows[0][1];

    // A key stored by an older version: bare SHA-256 of the key, same owner.
    const legacy = "legacy-key-0123456789";
    sqlite(db, `INSERT INTO api_keys(key_hash, owner, name, created_us) VALUES('${sha256(legacy)}', 'old-owner', 'old', 1)`);

    const s = await startServer({ dataDir, apiKeys: ["cli-key-abcdef-123456"] });
    try {
      for (const [key, want] of [[made, owner], [legacy, "old-owner"]]) {
        const r = await raw(s.url, "POST", "/v1/check-api-key", { token: key, body: {} });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.owner_id, want);
      }
      const wrong = await raw(s.url, "POST", "/v1/check-api-key", { token: legacy + "x", body: {} });
      assert.equal(wrong.status, 401);
    } finally {
      await s.stop();
    }
    rows = sqlite(db, "SELECT key_hash, owner FROM api_keys ORDER BY owner");
    assert.equal(rows.length, 3, JSON.stringify(rows)); // keys create, --api-key, migrated legacy
    for (const [hash] of rows) assert.match(hash, /^hmac-sha256:[0-9a-f]{64}$/, "every row is keyed now");
    assert.ok(!rows.some(([h]) => h.includes(sha256(legacy))), "the legacy hash is gone");
    assert.ok(!rows.some(([h]) => h.includes(sha256("cli-key-abcdef-123456"))));
    // The migrated key keeps working after a restart, under its old owner.
    const again = await startServer({ dataDir, apiKeys: [] });
    try {
      const r = await raw(again.url, "POST", "/v1/check-api-key", { token: legacy, body: {} });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.owner_id, "old-owner");
    } finally {
      await again.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
