// The dashboard, end to end in Debian's headless Chromium (playwright-core drives it): it
// loads, signs in with a key, lists a job made through the API (and not another owner's), shows
// its progress move, cancels it, and starts a job from an uploaded file. Screenshots go to
// $EJ_ARTIFACTS_DIR (default build/test-artifacts/dashboard/) as test artifacts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  startServer,
  client,
  KEY_A,
  KEY_B,
  repoRoot,
  waitValidated,
  poll,
} from "../integration/harness.mjs";

const artifacts =
  process.env.EJ_ARTIFACTS_DIR || path.join(repoRoot, "build", "test-artifacts", "dashboard");
const chromiumPath = process.env.EJ_CHROMIUM || "/usr/bin/chromium";

let server;
let browser;
let page;
const pageErrors = [];

function rows(n, prefix) {
  let s = "";
  for (let i = 0; i < n; i++) s += JSON.stringify({ text: `${prefix} row ${i} about embeddings` }) + "\n";
  return s;
}

async function makeJob(co, name, n) {
  const ds = await co.datasets.create(Buffer.from(rows(n, name)), undefined, {
    name,
    type: "embed-input",
  });
  await waitValidated(co, ds.id);
  const job = await co.embedJobs.create({
    model: "embed-english-v3.0",
    datasetId: ds.id,
    inputType: "search_document",
    embeddingTypes: ["float"],
  });
  return { datasetId: ds.id, jobId: job.jobId };
}

async function shot(name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(fs.existsSync(chromiumPath), `Chromium not found at ${chromiumPath} (apt-get install chromium)`);
  // 20-row chunks that each wait 250 ms after their commit: a 600-row job runs ~8 s, long
  // enough to watch its progress move and to cancel it half way.
  server = await startServer({
    args: ["--model", "embed-english-v3.0=lexical"],
    chunkRows: 20,
    failpoints: "job.after_commit=sleep:250",
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the dashboard signs in, shows a job's progress moving, and cancels it", async () => {
  const coA = client(server.url, KEY_A);
  const coB = client(server.url, KEY_B);
  const other = await makeJob(coB, "someone-else", 20);
  const mine = await makeJob(coA, "watched", 600);

  await page.goto(`${server.url}/`);
  await page.waitForSelector("#sign-in:not([hidden])");
  await shot("01-sign-in");

  // A wrong key is refused on the page.
  await page.fill("#api-key", "not-a-key");
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("sign-in-error").textContent.length > 0);
  assert.match(await page.textContent("#sign-in-error"), /invalid api token/);
  pageErrors.length = 0; // the browser logs that refused call (401) as a console error

  await page.fill("#api-key", KEY_A);
  await page.click("#sign-in-form button[type=submit]");
  const rowSel = `tr[data-job-id="${mine.jobId}"]`;
  await page.waitForSelector(rowSel, { timeout: 15000 });
  assert.equal(await page.$(`tr[data-job-id="${other.jobId}"]`), null, "another owner's job is listed");
  await shot("02-jobs");

  // Open it: the progress bar and the completed-rows count move while it runs.
  await page.click(`${rowSel} a`);
  await page.waitForSelector("#job-detail:not([hidden])");
  const value = () => page.$eval(`${rowSel} progress`, (p) => Number(p.value));
  const first = await poll(value, (v) => v > 0 && v < 100, { timeoutMs: 20000, what: "progress > 0" });
  const later = await poll(value, (v) => v > first, { timeoutMs: 20000, what: "progress to move" });
  assert.ok(later > first && later < 100, `progress ${first} -> ${later}`);
  // The chart has been drawn (non-blank pixels beyond the axis label).
  const inked = await page.$eval("#throughput", (c) => {
    const d = c.getContext("2d").getImageData(0, 20, c.width, c.height - 20).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(inked > 50, `throughput chart looks empty (${inked} inked pixels)`);
  await shot("03-progress");

  // Cancel from the page; the API then reports it cancelling or cancelled.
  await page.click("#cancel-selected");
  await page.waitForFunction(
    (sel) => /cancel/.test(document.querySelector(`${sel} td.status`)?.textContent || ""),
    rowSel,
    { timeout: 20000 },
  );
  const job = await coA.embedJobs.get(mine.jobId);
  assert.ok(["cancelling", "cancelled"].includes(job.status), job.status);
  const done = await poll(
    () => coA.embedJobs.get(mine.jobId),
    (j) => j.status === "cancelled",
    { timeoutMs: 30000, what: "cancelled" },
  );
  assert.ok(done.meta === undefined || done.status === "cancelled");
  await shot("04-cancelled");
  assert.deepEqual(pageErrors, []);
});

test("the batches tab lists a running batch with its records/s and draws their throughput", async () => {
  const coA = client(server.url, KEY_A);
  const lines = Array.from({ length: 400 }, (_, i) =>
    JSON.stringify({ custom_id: `r${i}`, body: { input_type: "search_document", texts: [`batch row ${i} about embeddings`] } }),
  ).join("\n");
  const ds = await coA.datasets.create(Buffer.from(lines + "\n"), undefined, { name: "chart-batch", type: "batch-embed-v2-input" });
  await waitValidated(coA, ds.id);
  const res = await fetch(`${server.url}/v2/batches`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY_A}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "charted", input_dataset_id: ds.id, model: "embed-english-v3.0" }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { batch } = await res.json();

  await page.click('button.tab[data-tab="batches"]');
  const rowSel = `tr[data-batch-id="${batch.id}"]`;
  await page.waitForSelector(rowSel, { timeout: 15000 });
  // While it runs, its records/s is above zero and the chart of all batches gets ink.
  const rate = await poll(
    () => page.$eval(`${rowSel} td.rate`, (td) => Number(td.textContent)),
    (r) => r > 0,
    { timeoutMs: 20000, what: "the batch's records/s to rise above 0" },
  );
  assert.ok(rate > 0);
  const inked = await poll(
    () =>
      page.$eval("#batch-throughput", (c) => {
        const d = c.getContext("2d").getImageData(0, 20, c.width, c.height - 20).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      }),
    (n) => n > 50,
    { timeoutMs: 10000, what: "ink in the batch throughput chart" },
  );
  assert.ok(inked > 50);
  await shot("05-batches");
  await fetch(`${server.url}/v2/batches/${batch.id}:cancel`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY_A}`, "Content-Type": "application/json" },
    body: "{}",
  });
  await page.click('button.tab[data-tab="jobs"]');
  assert.deepEqual(pageErrors, []);
});

test("the dashboard lists datasets and starts a job from an uploaded file", async () => {
  const coA = client(server.url, KEY_A);
  await page.click('button.tab[data-tab="datasets"]');
  await page.waitForSelector("#datasets-table tbody tr[data-dataset-id]");
  const names = await page.$$eval("#datasets-table tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.ok(names.includes("watched"), names.join(","));
  assert.ok(!names.includes("someone-else"), "another owner's dataset is listed");
  await shot("05-datasets");

  const before = (await coA.embedJobs.list()).embedJobs?.length ?? 0;
  await page.click('button.tab[data-tab="new"]');
  await page.setInputFiles("#new-file", {
    name: "uploaded.jsonl",
    mimeType: "application/jsonl",
    buffer: Buffer.from(rows(40, "uploaded")),
  });
  await page.fill("#new-name", "from-the-page");
  await page.click("#new-job-form button[type=submit]");
  await page.waitForFunction(() => /Started job/.test(document.getElementById("new-status").textContent), null, {
    timeout: 30000,
  });
  const jobs = (await coA.embedJobs.list()).embedJobs;
  assert.equal(jobs.length, before + 1);
  const created = jobs.find((j) => j.name === undefined || j.inputDatasetId);
  assert.ok(created);
  await page.waitForSelector("#tab-jobs:not([hidden])");
  await shot("06-started");
  assert.deepEqual(pageErrors, []);
});

test("health, ready and the dashboard's files answer without a key", async () => {
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await fetch(`${server.url}/ready`);
  assert.equal(ready.status, 200);
  const r = await ready.json();
  assert.equal(r.checks.store, "ok");
  assert.ok(r.checks.models >= 1);
  const js = await fetch(`${server.url}/ui/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /javascript/);
  assert.equal(await js.text(), fs.readFileSync(path.join(repoRoot, "web", "app.js"), "utf8"));
  assert.equal((await fetch(`${server.url}/ui/nope.js`)).status, 404);
  assert.equal((await fetch(`${server.url}/ui/../CMakeLists.txt`)).status, 404);
});
