import { startServer, client, raw } from "./harness.mjs";
const s = await startServer();
const bad = client(s.url, "wrong");
const body = Array.from({length: 60000}, (_, i) => JSON.stringify({text: "row number " + i})).join("\n");
console.log("bytes", body.length);
for (let k = 0; k < 3; k++) {
  try { await bad.datasets.create(Buffer.from(body), undefined, { name: "x", type: "embed-input" }); console.log("ok?!"); }
  catch (e) { console.log(e.message?.slice(0,300), e.statusCode, e.constructor.name, JSON.stringify(e.body)?.slice(0,200)); }
}
const fd = new FormData(); fd.append("data", new Blob([body]), "x.jsonl");
const r = await fetch(s.url + "/v1/datasets?name=x&type=embed-input", { method: "POST", body: fd, headers: { Authorization: "Bearer wrong" } });
console.log("raw", r.status, (await r.text()).slice(0, 200));
console.log(s.logs().split("\n").filter(l => / 4\d\d/.test(l)).slice(-8).join("\n"));
await s.stop();
