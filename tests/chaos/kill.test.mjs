// Kill test: 30 SIGKILLs at random moments while a job runs, a new process on the same data dir
// each time; the output must be identical, row for row and value for value, to a clean run's.
// Each kill waits for the job to make progress first (so no chunk is killed 3 times in a row,
// which the poison-chunk rule would rightly call poison), then a random 0-250 ms.
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

const ROWS = 8000;
const CHUNK = 50;
const KILLS = 30;
const dataDir = makeDataDir();
const servers = [];

after(async () => {
  for (const s of servers) await s.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// Deterministic "random" delays, so a failure can be replayed.
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

test(`${KILLS} SIGKILLs during a job: output identical to a clean run`, async () => {
  const csv = datasetCsv(ROWS, 91);
  const want = await cleanRun(csv, CHUNK);
  assert.equal(want.length, ROWS);

  // Every committed chunk sleeps 60 ms so the job lasts long enough for 30 kills.
  const opts = { dataDir, chunkRows: CHUNK, leaseMs: 1000, failpoints: "job.after_commit=sleep:60" };
  let server = await startServer(opts);
  servers.push(server);
  const { jobId } = await startJob(client(server.url), csv, "killed");
  let lastRows = 0;
  let kills = 0;
  const killedAt = [];
  while (kills < KILLS) {
    const co = client(server.url);
    const j = await poll(
      async () => {
        try {
          return await co.embedJobs.get(jobId);
        } catch (e) {
          // A pooled keep-alive socket to the previous process (same port) fails once; a dead
          // server is a real failure.
          if (!server.alive()) throw new Error(`server died: ${server.logs().slice(-3000)}`);
          return { status: "processing", rows_done: lastRows, error: String(e) };
        }
      },
      (x) => x.status !== "processing" || (x.rows_done ?? 0) > lastRows,
      { what: "progress after a restart", timeoutMs: 30000, intervalMs: 20 },
    );
    assert.equal(j.status, "processing", `the job ended after only ${kills} kills: make it longer`);
    lastRows = j.rows_done;
    await sleep(Math.floor(rnd() * 250));
    await server.kill();
    assert.equal(server.proc.signalCode, "SIGKILL");
    kills++;
    killedAt.push(lastRows);
    server = await startServer(opts);
    servers.push(server);
  }
  const co = client(server.url);
  // As in the loop: a request on a pooled socket of a killed process may fail once; retry while
  // the server is alive, and report its log if it is not.
  let got;
  for (let attempt = 1; ; attempt++) {
    try {
      got = await outputRows(co, jobId);
      break;
    } catch (e) {
      if (!server.alive() || attempt === 3 || e?.code === "ERR_ASSERTION") {
        throw new Error(`${e.message}; server alive: ${server.alive()}\n${server.logs().slice(-4000)}`);
      }
    }
  }
  assertSameRows(got, want, `after ${kills} SIGKILLs (rows done at each: ${killedAt.join(",")})`);
  assert.deepEqual(leftoverChunkFiles(dataDir), [], "chunk files left behind");
});
