// keep_original_file: the uploaded bytes come back, unchanged, from original_url (signed, no key).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, client, waitValidated } from "./harness.mjs";

test("keep_original_file exposes the upload at a signed original_url", async () => {
  const srv = await startServer();
  try {
    const co = client(srv.url);
    const body = "id,text\r\n1,\"first, row\"\r\n2,second row\r\n";
    const { id } = await co.datasets.create(new File([body], "orig.csv"), undefined, {
      name: "orig",
      type: "embed-input",
      keepOriginalFile: true,
    });
    const ds = await waitValidated(co, id);
    const part = ds.datasetParts[0];
    assert.ok(part.originalUrl, "original_url must be set");
    const res = await fetch(part.originalUrl); // no credentials
    assert.equal(res.status, 200);
    assert.equal(await res.text(), body);
    const url = part.originalUrl;
    const flipped = url.slice(0, -1) + (url.endsWith("0") ? "1" : "0"); // change the signature's last digit
    const tampered = await fetch(flipped);
    assert.equal(tampered.status, 403);

    const { id: id2 } = await co.datasets.create(new File([body], "plain.csv"), undefined, {
      name: "plain",
      type: "embed-input",
    });
    const ds2 = await waitValidated(co, id2);
    assert.equal(ds2.datasetParts[0].originalUrl, undefined, "no original_url unless asked");
  } finally {
    await srv.stop();
  }
});
