// What operators see: /metrics (Prometheus text), request ids (header, error bodies, JSON log
// lines), --config files and their precedence, /ready, and the server's own command line
// refusing bad --listen values with a message.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, binary, KEY_A, raw, client, waitValidated, waitJob, makeTexts, poll } from "./harness.mjs";

const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

function metricsOf(text) {
  const samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-z_]+)(\{.*\})? (\S+)$/);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    samples.set(m[1] + (m[2] || ""), Number(m[3]));
  }
  return samples;
}

test("/metrics counts requests by route and status, latencies, and engine work", async () => {
  const s = await start({ args: ["--model", "embed-english-v3.0=lexical"] });
  const body = { model: "embed-english-v3.0", texts: ["a b c"], input_type: "search_query", embedding_types: ["float"] };
  for (let i = 0; i < 3; i++) assert.equal((await raw(s.url, "POST", "/v2/embed", { token: KEY_A, body })).status, 200);
  assert.equal((await raw(s.url, "GET", "/v1/datasets/nope", { token: KEY_A })).status, 404);
  assert.equal((await raw(s.url, "GET", "/v1/nothing-here", { token: KEY_A })).status, 404);

  const res = await fetch(`${s.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain/);
  const m = metricsOf(await res.text());
  assert.equal(m.get('embedjobs_http_requests_total{route="/v2/embed",method="POST",status="200"}'), 3);
  assert.equal(m.get('embedjobs_http_requests_total{route="/v1/datasets/{id}",method="GET",status="404"}'), 1);
  assert.equal(m.get('embedjobs_http_requests_total{route="unmatched",method="GET",status="404"}'), 1);
  const count = m.get('embedjobs_http_request_duration_seconds_count{route="/v2/embed",method="POST"}');
  assert.equal(count, 3);
  assert.equal(m.get('embedjobs_http_request_duration_seconds_bucket{route="/v2/embed",method="POST",le="+Inf"}'), 3);
  let prev = 0;
  for (const [k, v] of m) {
    if (!k.startsWith('embedjobs_http_request_duration_seconds_bucket{route="/v2/embed"')) continue;
    assert.ok(v >= prev, `buckets are cumulative: ${k}`);
    prev = v;
  }
  assert.ok(m.get('embedjobs_engine_tokens_total{model="embed-english-v3.0"}') > 0);
  assert.ok(m.get('embedjobs_engine_batches_total{model="embed-english-v3.0"}') >= 1);
  assert.equal(m.get('embedjobs_queued_tokens{model="embed-english-v3.0"}'), 0);
});

test("/metrics counts the job workers' chunks, rows, tokens and finished jobs", async () => {
  const s = await start({ args: ["--model", "embed-english-v3.0=lexical"], chunkRows: 7 });
  const co = client(s.url);
  const texts = makeTexts(30, 5);
  const body = texts.map((text) => JSON.stringify({ text })).join("\n");
  const { id } = await co.datasets.create(new File([body], "m.jsonl"), undefined, { name: "m", type: "embed-input" });
  await waitValidated(co, id);
  const { jobId } = await co.embedJobs.create({ datasetId: id, model: "embed-english-v3.0", inputType: "search_document" });
  const job = await waitJob(co, jobId);
  assert.equal(job.status, "complete");
  // The worker counts the finished job (and stops counting it as running) just after its final
  // commit, which the client may see first: wait for the counts.
  const m = await poll(
    async () => metricsOf(await (await fetch(`${s.url}/metrics`)).text()),
    (mm) => mm.get('embedjobs_jobs_finished_total{status="complete"}') === 1 && mm.get("embedjobs_jobs_running") === 0,
    { what: "the finished job to be counted", timeoutMs: 5000, intervalMs: 20 },
  );
  assert.equal(m.get("embedjobs_job_rows_total"), 30);
  assert.equal(m.get("embedjobs_job_chunks_committed_total"), 5); // 7+7+7+7+2
  assert.ok(m.get("embedjobs_job_tokens_total") >= 30);
  assert.equal(m.get('embedjobs_jobs_finished_total{status="complete"}'), 1);
  assert.equal(m.get('embedjobs_jobs_finished_total{status="failed"}'), 0);
  assert.equal(m.get("embedjobs_jobs_running"), 0);
  assert.equal(m.get("embedjobs_job_leases_lost_total"), 0);
  // The store calls behind it, by method: one commit per chunk, one finish for the job.
  assert.equal(m.get('embedjobs_store_calls_total{op="commit_chunk"}'), 5);
  assert.equal(m.get('embedjobs_store_calls_total{op="finish_job"}'), 1);
  assert.ok(m.get('embedjobs_store_seconds_total{op="commit_chunk"}') > 0);
  await s.stop();
  assert.match(s.logs(), /stopped; store calls: .*commit_chunk 5 calls/);
});

test("request ids: echoed in a header, in error bodies and in JSON log lines", async () => {
  const s = await start({ args: ["--model", "embed-english-v3.0=lexical", "--log-format", "json"] });
  const r = await raw(s.url, "GET", "/v1/datasets/nope", { token: KEY_A, headers: { "X-Request-Id": "trace-123.abc" } });
  assert.equal(r.status, 404);
  assert.equal(r.headers.get("x-request-id"), "trace-123.abc");
  assert.equal(r.json.request_id, "trace-123.abc");
  assert.ok(r.json.message);
  // An id unsafe to log or echo is replaced by a fresh one.
  const bad = await raw(s.url, "GET", "/v1/datasets/nope", { token: KEY_A, headers: { "X-Request-Id": "x y\"<" } });
  assert.match(bad.headers.get("x-request-id"), /^[A-Za-z0-9]{16}$/);
  assert.equal(bad.json.request_id, bad.headers.get("x-request-id"));
  const ok = await raw(s.url, "GET", "/v1/datasets", { token: KEY_A });
  assert.match(ok.headers.get("x-request-id"), /^[A-Za-z0-9]{16}$/);
  assert.equal(ok.json.request_id, undefined, "no request_id added to a success body");

  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = s.logs().split("\n").filter((l) => l.trim());
  assert.ok(lines.length > 3);
  const parsed = lines.map((l) => JSON.parse(l)); // every line is one JSON object
  for (const p of parsed) {
    assert.ok(p.time && p.level && typeof p.message === "string", JSON.stringify(p));
  }
  const line = parsed.find((p) => p.request_id === "trace-123.abc");
  assert.ok(line, "the request's log line carries its id");
  assert.equal(line.status, "404");
  assert.equal(line.method, "GET");
});

test("--config: a TOML file sets options; flags win over it; unknown keys are refused", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "embedjobs-config-"));
  const file = path.join(dir, "embedjobs.toml");
  fs.writeFileSync(file, 'model = ["from-file=lexical", "second=lexical"]\nchunk-rows = 5\n');
  const s = await start({ args: ["--config", file] });
  const names = (await raw(s.url, "GET", "/v1/models", { token: KEY_A })).json.models.map((x) => x.name).sort();
  assert.deepEqual(names, ["from-file", "second"]);
  const s2 = await start({ args: ["--config", file, "--model", "from-flag=lexical"] });
  const names2 = (await raw(s2.url, "GET", "/v1/models", { token: KEY_A })).json.models.map((x) => x.name);
  assert.deepEqual(names2, ["from-flag"]);

  fs.writeFileSync(file, "chunk-rowz = 5\n");
  const r = spawnSync(binary, ["serve", "--config", file, "--no-auth", "--listen", "127.0.0.1:0"], { encoding: "utf8", timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown key 'chunk-rowz'/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the server's command line names what is wrong", () => {
  const run = (...args) => spawnSync(binary, args, { encoding: "utf8", timeout: 20000 });
  for (const listen of ["127.0.0.1:99999", "127.0.0.1:abc", "nocolon"]) {
    const r = run("serve", "--no-auth", "--listen", listen);
    assert.equal(r.status, 2, listen);
    assert.match(r.stderr, /--listen must be HOST:PORT/);
    assert.ok(r.stderr.includes(listen));
  }
  const v = run("--version");
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^embedjobs \d/);
  const help = run("help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /serve/);
  const typo = run("serv");
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /did you mean 'serve'/);
  const blocked = run("serve", "--no-auth", "--data-dir", "/proc/embedjobs-cannot-be-here");
  assert.equal(blocked.status, 2);
  assert.match(blocked.stderr, /--data-dir .*cannot create it/);
});

test("/ready and /health", async () => {
  const s = await start({});
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  const r = await fetch(`${s.url}/ready`);
  assert.equal(r.status, 200);
  assert.equal((await r.json()).status, "ready");
});
