// Hostile and slow clients against the real binary (issue 7): each attack runs for seconds,
// and meanwhile a normal client must keep getting answers at its usual latency, the process
// must stay up, and its peak RSS (VmHWM) must stay under RSS_BOUND_MIB.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import zlib from "node:zlib";
import { startServer, client, raw, sleep, waitValidated, KEY_A } from "./harness.mjs";

const MODEL = "embedjobs-lexical-v1";
const RSS_BOUND_MIB = 256; // peak RSS of the whole process, after every attack below
const PROBE_MAX_MS = 1000; // the slowest normal request allowed while an attack runs
let server;
let port;

before(async () => {
  server = await startServer();
  port = Number(new URL(server.url).port);
});

after(async () => {
  await server?.stop();
});

function memMiB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number(s.match(new RegExp(`${k}:\\s+(\\d+)`))[1]);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function checkMemory(where) {
  const m = memMiB(server.proc.pid);
  console.log(`# ${where}: RSS ${m.rss.toFixed(0)} MiB, peak ${m.peak.toFixed(0)} MiB`);
  assert.ok(m.peak < RSS_BOUND_MIB, `${where}: peak RSS ${m.peak.toFixed(0)} MiB >= ${RSS_BOUND_MIB}`);
}

/** Opens a raw connection; resolves with the socket once connected. */
function connect(p = port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, "127.0.0.1");
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/**
 * Sends `head` then writes body pieces from `pieces()` (an iterator of Buffers) as fast as the
 * socket takes them, until the server answers or closes. Resolves with the status line's code
 * and the response text (first 64 KiB).
 */
async function attack(head, pieces = null, p = port) {
  const s = await connect(p);
  let text = "";
  let closed = false;
  s.on("data", (d) => {
    if (text.length < 65536) text += d.toString("latin1");
  });
  const done = new Promise((resolve) => {
    s.on("close", () => {
      closed = true;
      resolve();
    });
    s.on("error", () => {});
  });
  s.write(head);
  if (pieces) {
    let k = 0;
    for (const piece of pieces) {
      // Let 'data' events in now and then: loopback may take every write without blocking.
      if (++k % 16 === 0) await new Promise((r) => setImmediate(r));
      if (closed || text.includes("\r\n\r\n")) break;
      if (!s.write(piece)) await Promise.race([new Promise((r) => s.once("drain", r)), done]);
    }
  }
  await Promise.race([done, sleep(15000)]);
  s.destroy();
  const m = text.match(/^HTTP\/1\.1 (\d+)/);
  return { status: m ? Number(m[1]) : 0, text };
}

/** A normal client: one authorized GET /v1/models and one /v2/embed; returns the slower ms. */
async function probe() {
  const t0 = performance.now();
  const r1 = await raw(server.url, "GET", "/v1/models", { token: KEY_A });
  assert.equal(r1.status, 200, r1.text);
  const r2 = await raw(server.url, "POST", "/v2/embed", {
    token: KEY_A,
    body: { model: MODEL, input_type: "search_query", texts: ["hi"], embedding_types: ["float"] },
  });
  assert.equal(r2.status, 200, r2.text);
  return performance.now() - t0;
}

/** Probes every 100 ms while `during` runs; returns {max, n}. */
async function probeWhile(during) {
  let stop = false;
  const times = [];
  const prober = (async () => {
    while (!stop) {
      times.push(await probe());
      await sleep(100);
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await prober;
  }
  return { max: Math.max(...times), n: times.length };
}

function deepEmbeddingTypes(depth) {
  return (
    `{"model":"${MODEL}","input_type":"search_query","texts":["hi"],"embedding_types":` +
    "[".repeat(depth) +
    "]".repeat(depth) +
    "}"
  );
}

test("100,000-deep embedding_types is a 400 on /v2/embed and /v1/embed-jobs, not a crash", async () => {
  for (const route of ["/v2/embed", "/v1/embed-jobs"]) {
    for (const depth of [100000, 20000, 65]) {
      const r = await raw(server.url, "POST", route, {
        token: KEY_A,
        body: deepEmbeddingTypes(depth),
        headers: { "Content-Type": "application/json" },
      });
      assert.equal(r.status, 400, `${route} depth ${depth}: ${r.text}`);
      assert.match(r.json.message, /nest deeper than 64/);
    }
  }
  assert.ok(server.alive());
  await probe();
  checkMemory("deep JSON");
});

test("a chunked 200 MiB body without a key is refused before it is read", async () => {
  const piece = Buffer.alloc(1 << 20, "a");
  const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]);
  function* chunks() {
    for (let i = 0; i < 200; ++i) yield chunk;
  }
  // Four attackers, each sending 200 MiB chunked bodies without a key again and again for 3 s.
  let attacks = 0;
  const stats = await probeWhile(async () => {
    const until = Date.now() + 3000;
    await Promise.all(
      [0, 1, 2, 3].map(async (k) => {
        while (Date.now() < until) {
          const route = k % 2 ? "/v1/datasets" : "/v2/embed";
          const r = await attack(
            `POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
            chunks(),
          );
          assert.equal(r.status, 401, `${route}: ${r.text.slice(0, 300)}`);
          ++attacks;
        }
      }),
    );
  });
  console.log(`# chunked without key: ${attacks} attacks`);
  console.log(`# chunked without key: slowest probe ${stats.max.toFixed(0)} ms over ${stats.n}`);
  assert.ok(stats.max < PROBE_MAX_MS, `probe took ${stats.max} ms`);
  checkMemory("chunked without key");
});

test("JSON bodies are capped at 16 MiB as they arrive, with or without a length", async () => {
  // Declared too large: 413 before a byte of the body is read.
  let r = await attack(
    `POST /v2/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\nContent-Type: application/json\r\nContent-Length: ${17 << 20}\r\n\r\n`,
  );
  assert.equal(r.status, 413, r.text);
  assert.match(r.text, /request body too large/);
  // Chunked, with a valid key: cut off at the limit.
  const piece = Buffer.alloc(1 << 20, " ");
  const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]);
  r = await attack(
    `POST /v2/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    (function* () {
      for (let i = 0; i < 40; ++i) yield chunk;
    })(),
  );
  assert.equal(r.status, 413, r.text.slice(0, 300));
  // A body without a length on a request is not a body (RFC 9112): no way to stream one in.
  await probe();
  checkMemory("16 MiB cap");
});

test("compressed request bodies are refused (415) without being decoded", async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(64 << 20));
  for (const token of [undefined, KEY_A]) {
    const auth = token ? `Authorization: Bearer ${token}\r\n` : "";
    const r = await attack(
      `POST /v2/embed HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`,
      [bomb],
    );
    assert.equal(r.status, 415, r.text.slice(0, 300));
    assert.match(r.text, /compressed request bodies are not accepted/);
  }
  checkMemory("gzip");
});

test("50,000 headers of 2 KB are cut off at 64 KiB with a 431", async () => {
  const line = Buffer.from(`X-Filler: ${"h".repeat(2048)}\r\n`);
  const r = await attack(
    "GET /v1/models HTTP/1.1\r\nHost: x\r\n",
    (function* () {
      for (let i = 0; i < 50000; ++i) yield line;
    })(),
  );
  assert.equal(r.status, 431, r.text.slice(0, 300));
  // Many small headers: the count limit.
  const many = "X-A: 1\r\n".repeat(150);
  const r2 = await attack(`GET /v1/models HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
  assert.equal(r2.status, 431, r2.text.slice(0, 300));
  assert.match(r2.text, /too many request headers/);
  checkMemory("50,000 headers");
});

test("sixteen and more slow clients (headers, uploads, readers) do not stop anyone", async () => {
  const N = 40; // of each kind; the old front stopped at 16 in total
  const sockets = [];
  const timers = [];
  try {
    // 1. Slowloris: one header byte a second.
    for (let i = 0; i < N; ++i) {
      const s = await connect();
      s.on("error", () => {});
      const head = `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ${"s".repeat(100)}`;
      let k = 0;
      timers.push(setInterval(() => k < head.length && s.write(head[k++]), 1000));
      sockets.push(s);
    }
    // 2. Uploads at 10 B/s with a valid key.
    for (let i = 0; i < N; ++i) {
      const s = await connect();
      s.on("error", () => {});
      s.write(
        `POST /v1/datasets?name=slow&type=embed-input HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\n` +
          `Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 1000000\r\n\r\n` +
          `--XX\r\nContent-Disposition: form-data; name="data"; filename="a.jsonl"\r\n\r\n`,
      );
      timers.push(setInterval(() => s.write('{"text":"a"}'.slice(0, 10)), 1000));
      sockets.push(s);
    }
    // 3. Readers that never read: 3,000 pipelined requests each, responses left unread.
    const pipelined = `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\n\r\n`.repeat(3000);
    for (let i = 0; i < N; ++i) {
      const s = await connect();
      s.on("error", () => {});
      s.pause();
      s.write(pipelined);
      sockets.push(s);
    }
    const stats = await probeWhile(() => sleep(5000));
    console.log(`# ${3 * N} slow clients: slowest probe ${stats.max.toFixed(0)} ms over ${stats.n} probes`);
    assert.ok(stats.n >= 10, `only ${stats.n} probes answered in 5 s`);
    assert.ok(stats.max < PROBE_MAX_MS, `probe took ${stats.max} ms`);
  } finally {
    timers.forEach(clearInterval);
    sockets.forEach((s) => s.destroy());
  }
  assert.ok(server.alive());
  checkMemory("slow clients");
});

test("Range is ignored on JSON routes: 100 ranges do not grow the response", async () => {
  const plain = await raw(server.url, "GET", "/v1/models", { token: KEY_A });
  const ranges = "bytes=" + Array.from({ length: 100 }, () => "0-").join(",");
  const r = await raw(server.url, "GET", "/v1/models", { token: KEY_A, headers: { Range: ranges } });
  assert.equal(r.status, 200);
  assert.equal(r.text.length, plain.text.length);
  assert.match(r.headers.get("content-type"), /application\/json/);
});

test("malformed multipart is a 400 that says what is wrong", async () => {
  const url = "/v1/datasets?name=m&type=embed-input";
  const cases = [
    ["multipart/form-data", "--XX\r\n\r\nabc\r\n--XX--\r\n", /no boundary parameter/],
    ["multipart/form-data; boundary=XX", "no boundary here", /no boundary/],
    ["multipart/form-data; boundary=XX", '--XX\r\nContent-Disposition: form-data; name="data"\r\n\r\nabc', /before the closing boundary/],
    ["multipart/form-data; boundary=XX", "--XX\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XX--\r\n", /no Content-Disposition/],
    ["multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--XX--\r\n", /has no name/],
  ];
  for (const [type, body, re] of cases) {
    const r = await raw(server.url, "POST", url, { token: KEY_A, body, headers: { "Content-Type": type } });
    assert.equal(r.status, 400, `${type} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.message, /malformed multipart body/);
    assert.match(r.json.message, re);
  }
});

test("control characters in X-Client-Name cannot forge a log line", async () => {
  for (const value of ["a\rINFO FORGED-CR", "b\x1bINFO FORGED-ESC", "c\nINFO FORGED-LF"]) {
    await attack(`GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\nX-Client-Name: ${value}\r\nConnection: close\r\n\r\n`);
  }
  await sleep(200);
  for (const line of server.logs().split("\n")) {
    assert.ok(!/^\s*INFO FORGED/.test(line) && !/^INFO FORGED/.test(line), `forged log line: ${line}`);
  }
  assert.ok(server.alive());
});

test("numeric query parameters are range-checked", async () => {
  for (const q of ["page_token=9223372036854775807", "page_size=99999999999999999999", "page_size=-1", "page_token=1e3"]) {
    const r = await raw(server.url, "GET", `/v1/models?${q}`, { token: KEY_A });
    assert.equal(r.status, 400, `${q}: ${r.text}`);
  }
  const r = await raw(server.url, "GET", "/v1/datasets?limit=9223372036854775807", { token: KEY_A });
  assert.equal(r.status, 400, r.text);
});

test("connection caps, the header deadline, and 500s without internal text", async () => {
  const s2 = await startServer({
    args: ["--http-max-connections-per-ip", "8", "--http-header-timeout-s", "1", "--http-max-buffered-bytes", "8000000"],
    failpoints: "api.part_open=error",
  });
  try {
    const p2 = Number(new URL(s2.url).port);
    // Caps: 8 idle connections are held; the 9th to 12th are refused with a 503.
    const held = [];
    for (let i = 0; i < 8; ++i) held.push(await connect(p2));
    const refused = await Promise.all([0, 1, 2, 3].map(() => attack("", null, p2)));
    for (const r of refused) assert.equal(r.status, 503, r.text);
    held.forEach((s) => s.destroy());
    await sleep(100);
    // All bodies held in memory together are capped (8 MB here): a 10 MiB body gets a 503.
    const mib = Buffer.alloc(1 << 20, " ");
    const chunk = Buffer.concat([Buffer.from(`${mib.length.toString(16)}\r\n`), mib, Buffer.from("\r\n")]);
    const big = await attack(
      `POST /v2/embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY_A}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      (function* () {
        for (let i = 0; i < 10; ++i) yield chunk;
      })(),
      p2,
    );
    assert.equal(big.status, 503, big.text.slice(0, 300));
    assert.match(big.text, /too many request bodies/);
    // The header deadline: a slowloris connection is closed in ~1 s.
    const t0 = Date.now();
    const s = await connect(p2);
    let text = "";
    s.on("data", (d) => (text += d));
    const timer = setInterval(() => s.write("G"), 200);
    await new Promise((r) => s.on("close", r));
    clearInterval(timer);
    assert.ok(Date.now() - t0 < 4000, `slowloris held ${Date.now() - t0} ms`);
    assert.equal(text, "");

    // 500 through a failpoint: the body names the operation and an id, nothing internal.
    const co = client(s2.url);
    const { id } = await co.datasets.create(Buffer.from('{"text":"a"}\n'), undefined, { name: "fp", type: "embed-input" });
    const ds = await waitValidated(co, id);
    const partUrl = new URL(ds.datasetParts[0].url);
    const r = await raw(s2.url, "GET", partUrl.pathname + partUrl.search);
    assert.equal(r.status, 500, r.text);
    assert.ok(r.json.id, r.text);
    assert.match(r.json.message, new RegExp(`request id ${r.json.id}`));
    for (const bad of [/failpoint/i, /sqlite/i, /SELECT|INSERT/, new RegExp(s2.dataDir), /\/tmp\//, /\.avro/]) {
      assert.doesNotMatch(r.text, bad);
    }
    assert.match(s2.logs(), new RegExp(`request ${r.json.id} .*failpoint api\\.part_open`));
  } finally {
    await s2.stop();
  }
});
