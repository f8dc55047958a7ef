import http from "node:http";
const srv = http.createServer((req, res) => { console.log(req.method, req.url, JSON.stringify(req.headers)); req.resume(); req.on("end", () => { res.end("{}"); }); });
await new Promise(r => srv.listen(0, "127.0.0.1", r));
const port = srv.address().port;
const { CohereClient } = await import("cohere-ai");
const co = new CohereClient({ token: "x", environment: `http://127.0.0.1:${port}` });
await co.datasets.create(Buffer.from("a".repeat(100)), undefined, { name: "x", type: "embed-input" }).catch(e => console.log(e.message));
srv.close();
