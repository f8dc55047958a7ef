"""The HTTP calls the job benchmarks make (bench/cache_bench.sh, bench/job_dtype_bench.sh):
upload an embed-input dataset, run an embed job to completion and time it, fetch its output.
Standard library only."""
import json
import time
import urllib.request
import uuid


def load_average():
    return " ".join(open("/proc/loadavg").read().split()[:3])


class Api:
    def __init__(self, url, key):
        self.url, self.auth = url, {"Authorization": f"Bearer {key}"}

    def call(self, method, path, body=None, headers=None):
        h = dict(self.auth, **(headers or {}))
        data = body
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read() or b"{}")

    def upload(self, input_path, name):
        """Uploads a JSONL file as an embed-input dataset (keeping "id"); waits for validation."""
        boundary = uuid.uuid4().hex
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; "
                   "filename=\"rows.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + \
            open(input_path, "rb").read() + f"\r\n--{boundary}--\r\n".encode()
        ds = self.call("POST", f"/v1/datasets?name={name}&type=embed-input&keep_fields=id", payload,
                       {"Content-Type": f"multipart/form-data; boundary={boundary}"})["id"]
        while (st := self.call("GET", f"/v1/datasets/{ds}")["dataset"]["validation_status"]) != "validated":
            if st == "failed":
                raise SystemExit("dataset validation failed")
            time.sleep(0.2)
        return ds

    def run_job(self, dataset_id, model):
        """Creates a job and polls it to completion: (seconds from create to complete, job,
        load average before, load average after)."""
        before = load_average()
        t0 = time.monotonic()
        job = self.call("POST", "/v1/embed-jobs", {"model": model, "dataset_id": dataset_id,
                                                   "input_type": "search_document",
                                                   "embedding_types": ["float"]})["job_id"]
        while (j := self.call("GET", f"/v1/embed-jobs/{job}"))["status"] != "complete":
            if j["status"] in ("failed", "cancelled"):
                raise SystemExit(f"job {job}: {j['status']} {j.get('failure_reason', '')}")
            time.sleep(0.05)
        return time.monotonic() - t0, j, before, load_average()

    def output(self, job):
        """The job's output parts, their random Avro sync markers blanked (comparable bytes)."""
        parts = self.call("GET", f"/v1/datasets/{job['output_dataset_id']}")["dataset"]["dataset_parts"]
        out = []
        for p in sorted(parts, key=lambda p: p["index"]):
            with urllib.request.urlopen(p["url"], timeout=600) as r:
                data = r.read()
            sync = data[-16:]  # an Avro container file ends with its sync marker
            out.append(data.replace(sync, b"<sync>"))
        return out
