import { startServer, client, raw, waitDataset, KEY_A } from "./harness.mjs";
import fs from "node:fs";
const s = await startServer();
const co = client(s.url);
const cases = {
  csvNoText: [new File(["title,body\nfirst,one\n"], "a.csv"), {}],
  jsonlBad: [new File(['{"text":"a"}\n{"text":"b"}\n{"text": "unterminated\n{"text":"c"}\n'], "a.jsonl"), {}],
  jsonlBadSkip: [new File(['{"text":"a"}\n{"text":"b"}\n{"text": "unterminated\n{"text":"c"}\n'], "a.jsonl"), {skipMalformedInput: true}],
  emptyText: [new File(['{"text":"a"}\n{"text":""}\n'], "a.jsonl"), {}],
  numText: [new File(['{"text":"a"}\n{"text":5}\n'], "a.jsonl"), {}],
  noTextField: [new File(['{"text":"a"}\n{"body":"x"}\n'], "a.jsonl"), {}],
  keepMissing: [new File(['{"text":"a","id":"1"}\n{"text":"b"}\n'], "a.jsonl"), {keepFields: ["id"]}],
  optMissing: [new File(['{"text":"a","id":"1"}\n{"text":"b"}\n'], "a.jsonl"), {optionalFields: ["id"]}],
  blankLines: [new File(['{"text":"a"}\n\n   \n{"text":"b"}\r\n'], "a.jsonl"), {}],
  txt: [new File(['one\n\ntwo\n\nthree'], "a.txt"), {textSeparator: "\n\n"}],
  bomCsv: [new File(['\ufefftext,id\r\n"x, y",1\r\n"multi\r\nline",2\r\n'], "a.csv"), {keepFields: ["id"]}],
  semi: [new File(['text;id\nhello, there;1\n'], "a.csv"), {csvDelimiter: ";", keepFields: ["id"]}],
  csvRagged: [new File(['text,id\nhello,1,extra\n'], "a.csv"), {}],
  emptyFile: [new File([''], "a.jsonl"), {}],
  blob: [new Blob(['{"text":"blob one"}\n']), {}],
  jsonArrayBuffer: [Buffer.from('[{"text":"a"}]'), {}],
};
for (const [k, [f, o]] of Object.entries(cases)) {
  try {
    const { id } = await co.datasets.create(f, undefined, { name: k, type: "embed-input", ...o });
    const ds = await waitDataset(co, id);
    const r = (await raw(s.url, "GET", "/v1/datasets/" + id, { token: KEY_A })).json.dataset;
    console.log(k, ds.validationStatus, "|", ds.validationError, "|", JSON.stringify(ds.validationWarnings), "| rows", r.total_rows, JSON.stringify(r.dataset_parts[0]?.samples), r.schema, JSON.stringify(r.parse_info));
  } catch (e) { console.log(k, "ERR", e.statusCode, JSON.stringify(e.body)); }
}
await s.stop();
