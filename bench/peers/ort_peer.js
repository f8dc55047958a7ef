'use strict';
// The ONNX Runtime peer of bench/engine_bench (bench/run_engine_bench.sh): runs
// <model>/onnx/model.onnx (bench/peers/bert_model.py: BERT + mean pooling + normalize in the
// graph) with onnxruntime-node on the CPU execution provider, all graph optimizations, the
// given intra-op threads (1 inter-op thread, sequential), on exactly the token ids engine_bench
// hands over.
//
//   node ort_peer.js --model DIR --workloads FILE --threads 2 --batch 32 --reps 3 --warmup 1
//                    --json OUT
// FILE: {"workloads": [{"name": ..., "input_ids": [[...], ...]}, ...]}. Per workload the
// sequences are sorted by length and cut into batches of --batch, each padded to its longest
// sequence (attention_mask 0 on padding). Input tensors are built before timing; the timed
// region per repetition is session.run over every batch. OUT: {"results": [{name, tokens,
// times_s, tok_per_s}]} (tok_per_s from the median repetition).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function args(argv) {
  const a = { threads: 2, batch: 32, reps: 3, warmup: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    a[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['threads', 'batch', 'reps', 'warmup']) a[k] = Number(a[k]);
  if (!a.model || !a.workloads || !a.json) throw new Error('need --model, --workloads, --json');
  return a;
}

function feeds(seqs) {
  const B = seqs.length;
  const L = Math.max(...seqs.map((s) => s.length));
  const ids = new BigInt64Array(B * L);
  const mask = new BigInt64Array(B * L);
  seqs.forEach((s, b) => s.forEach((t, j) => {
    ids[b * L + j] = BigInt(t);
    mask[b * L + j] = 1n;
  }));
  return {
    input_ids: new ort.Tensor('int64', ids, [B, L]),
    attention_mask: new ort.Tensor('int64', mask, [B, L]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(B * L), [B, L]),
  };
}

async function main() {
  const a = args(process.argv.slice(2));
  const session = await ort.InferenceSession.create(path.join(a.model, 'onnx', 'model.onnx'), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const results = [];
  for (const w of JSON.parse(fs.readFileSync(a.workloads, 'utf8')).workloads) {
    const sorted = [...w.input_ids].sort((x, y) => y.length - x.length);
    const batches = [];
    for (let i = 0; i < sorted.length; i += a.batch) batches.push(feeds(sorted.slice(i, i + a.batch)));
    const tokens = sorted.reduce((n, s) => n + s.length, 0);
    const once = async () => { for (const f of batches) await session.run(f); };
    for (let i = 0; i < a.warmup; i++) await once();
    const times = [];
    for (let i = 0; i < a.reps; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const med = [...times].sort((x, y) => x - y)[Math.floor(times.length / 2)];
    console.log(`ORT ${w.name}: ${sorted.length} seqs, ${tokens} tokens: median ${(med * 1e3).toFixed(1)} ms -> ${(tokens / med).toFixed(0)} tok/s`);
    results.push({ name: w.name, tokens, times_s: times, tok_per_s: tokens / med });
  }
  fs.writeFileSync(a.json, JSON.stringify({ engine: 'onnxruntime-node', threads: a.threads, results }));
}

main().catch((e) => { console.error(e); process.exit(1); });
