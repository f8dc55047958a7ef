// Stall test: two server processes share one data dir (one SQLite file), one job worker each,
// a 1 s lease; both work on the one job's chunks (chunk leases). SIGSTOP one while it holds a
// chunk, past its lease; the other reclaims that chunk (a new lease generation) and works on;
// SIGCONT the first while the job still runs. The first must be fenced (its stale commit is
// refused), and the output must be identical, row for row, to a clean run's, with one output
// dataset and no chunk committed twice.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { makeDataDir, sleep } from "../integration/harness.mjs";
import {
  datasetCsv,
  startJob,
  outputRows,
  cleanRun,
  assertSameRows,
  leftoverChunkFiles,
  startServer,
  client,
  poll,
} from "./common.mjs";

const ROWS = 3000;
const CHUNK = 50;
const dataDir = makeDataDir();
const servers = [];

after(async () => {
  for (const s of servers) {
    try {
      s.proc.kill("SIGCONT");
    } catch {
      // gone
    }
    await s.stop();
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const claimedBy = (server, jobId) => server.logs().includes(`job ${jobId}: claimed by`);

test("a worker SIGSTOPped past its lease is fenced; the other finishes the job exactly", async () => {
  const csv = datasetCsv(ROWS, 92);
  const want = await cleanRun(csv, CHUNK);

  // Each chunk sleeps 150 ms between its write and its commit: 60 chunks, ~9 s of work, most of
  // it holding a chunk lease outside any transaction (a process stopped inside one would hold
  // SQLite's write lock).
  const opts = {
    dataDir,
    chunkRows: CHUNK,
    leaseMs: 1000,
    failpoints: "job.before_commit=sleep:150",
    args: ["--job-workers", "1"],
  };
  const a = await startServer(opts);
  servers.push(a);
  const b = await startServer(opts);
  servers.push(b);
  const { jobId } = await startJob(client(a.url), csv, "stalled");

  // Whoever claimed it is the one to stop, right after one of its commits.
  const first = await poll(
    async () => {
      const j = await client(a.url).embedJobs.get(jobId);
      return { j, who: claimedBy(a, jobId) ? a : claimedBy(b, jobId) ? b : null };
    },
    ({ j, who }) => who !== null && j.rows_done >= 2 * CHUNK,
    { what: "the job to start", timeoutMs: 30000, intervalMs: 10 },
  );
  const stalled = first.who;
  const other = stalled === a ? b : a;
  const co = client(other.url);
  const before = (await co.embedJobs.get(jobId)).rows_done;
  stalled.proc.kill("SIGSTOP");

  // The other process goes on with the job's chunks, and reclaims the stalled one's chunk once
  // its lease has run out (a later generation of that chunk).
  const reclaimed = (server) =>
    new RegExp(`job ${jobId}: claimed by \\S+ \\(chunk \\d+, generation [2-9]`).test(server.logs());
  await poll(
    async () => ({ claimed: reclaimed(other), j: await co.embedJobs.get(jobId) }),
    ({ claimed, j }) => claimed && j.rows_done >= before + 4 * CHUNK,
    { what: "the other process to reclaim the stalled one's chunk", timeoutMs: 20000, intervalMs: 50 },
  );
  const mid = await co.embedJobs.get(jobId);
  assert.equal(mid.status, "processing", "the job must still run when the stalled worker wakes");
  stalled.proc.kill("SIGCONT");

  const got = await outputRows(co, jobId);
  assertSameRows(got, want, "after a stall and a takeover");
  // The stalled worker woke up, tried to go on, and was refused; it never finished the job.
  await poll(
    () => stalled.logs(),
    (l) => /lease lost|refused \(lease generation/.test(l.slice(l.indexOf(`job ${jobId}: claimed`))),
    { what: "the woken worker to notice it was fenced", timeoutMs: 10000, intervalMs: 50 },
  );
  // Once woken, it works on the job's remaining chunks again; exactly one process finished it.
  const completed = (s) => s.logs().includes(`job ${jobId}: complete`);
  await poll(
    () => [stalled, other].filter(completed).length,
    (n) => n > 0,
    { what: "a process's log to say it completed the job", timeoutMs: 5000, intervalMs: 50 },
  );
  const jobLines = (s) => s.logs().split("\n").filter((l) => l.includes(`job ${jobId}:`)).join("\n");
  assert.ok(!(completed(stalled) && completed(other)), `both finished the job:\n${jobLines(stalled)}`);
  assert.ok(stalled.alive() && other.alive(), "both processes still serve");
  // No double commit: the job's rows_done counts every row once (chunks are keyed by index).
  const final = await client(stalled.url).embedJobs.get(jobId);
  assert.equal(final.rows_done, ROWS);
  assert.equal(final.status, "complete");
  await sleep(300); // the woken worker's clean-up, if any, is done
  assert.deepEqual(leftoverChunkFiles(dataDir), [], "chunk files left behind");
});
