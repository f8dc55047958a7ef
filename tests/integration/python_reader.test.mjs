// The results as a Python client reads them: plain HTTP GET of each part URL (no credentials,
// as cohere-python's save_dataset does with requests) and an independent Avro reader
// (Debian's python3-avro under /usr/bin/python3; fastavro is not packaged) iterating the records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startServer, client, waitValidated, waitJob } from "./harness.mjs";

const READER = `
import json, sys, urllib.request, io
import avro.datafile, avro.io
out = []
for url in json.load(sys.stdin):
    body = urllib.request.urlopen(url).read()
    reader = avro.datafile.DataFileReader(io.BytesIO(body), avro.io.DatumReader())
    for rec in reader:
        e = rec["embeddings"]
        out.append({"text": rec["text"], "id": rec.get("id"),
                    "float_len": len(e["float"]), "int8": e["int8"][:4],
                    "ubinary_len": len(e["ubinary"]), "uint8": e["uint8"]})
json.dump(out, sys.stdout)
`;

test("python3-avro reads the embed-result parts fetched without credentials", async () => {
  const srv = await startServer({ chunkRows: 4 });
  try {
    const co = client(srv.url);
    const rows = Array.from({ length: 11 }, (_, i) => ({ text: `python row ${i} ünïcode`, id: i }));
    const { id } = await co.datasets.create(
      new File([rows.map((r) => JSON.stringify(r)).join("\n")], "rows.jsonl"),
      undefined,
      { name: "py", type: "embed-input", keepFields: "id" },
    );
    await waitValidated(co, id);
    const { jobId } = await co.embedJobs.create({
      model: "embedjobs-lexical-v1",
      datasetId: id,
      inputType: "clustering",
      embeddingTypes: ["float", "int8", "ubinary"],
    });
    const job = await waitJob(co, jobId);
    assert.equal(job.status, "complete");
    const out = (await co.datasets.get(job.outputDatasetId)).dataset;
    const urls = out.datasetParts.map((p) => p.url);
    const got = JSON.parse(execFileSync("/usr/bin/python3", ["-c", READER], { input: JSON.stringify(urls) }).toString());
    assert.equal(got.length, rows.length);
    got.forEach((g, i) => {
      assert.equal(g.text, rows[i].text);
      assert.equal(g.id, rows[i].id);
      assert.equal(g.float_len, 384);
      assert.equal(g.ubinary_len, 48);
      assert.equal(g.uint8, null, "unrequested types are null");
      assert.equal(g.int8.length, 4);
    });
  } finally {
    await srv.stop();
  }
});
