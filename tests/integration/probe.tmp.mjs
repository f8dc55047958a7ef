import { startServer, client } from "./harness.mjs";
const s = await startServer({ args: ["--max-upload-mb", "1"] });
const co = client(s.url);
for (const mb of [1.5, 2.5, 8]) {
  try { await co.datasets.create(Buffer.alloc(mb*1024*1024, 'a'), undefined, { name: "big", type: "embed-input" }); console.log("big ok?!"); }
  catch (e) { console.log(mb, e.statusCode, e.constructor.name, JSON.stringify(e.body)?.slice(0,200)); }
}
await s.stop();
