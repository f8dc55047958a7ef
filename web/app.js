// The embedjobs dashboard: one page over the public API, with the caller's own key. Every value
// that comes from the server is put into the page as text (textContent), never as HTML, so a
// hostile dataset or job name cannot run script here. Polls once a second while signed in.

const KEY_STORAGE = "embedjobs.api_key";
const POLL_MS = 1000;
const CHART_POINTS = 120;

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  tab: "jobs",
  selectedJob: null,
  samples: new Map(), // job id -> [{t, rows}] for the throughput chart
  timer: null,
};

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, { method = "GET", json, body } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const res = await fetch(path, { method, headers, body });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.message) || `${res.status} ${res.statusText}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function bytes(n) {
  if (!Number.isFinite(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function showError(message) {
  $("app-error").textContent = message || "";
}

// ---- sign in ---------------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  const r = await api("/v1/check-api-key", { method: "POST", json: {} });
  if (!r || r.valid === false) throw new ApiError(401, "invalid api key");
  sessionStorage.setItem(KEY_STORAGE, key);
  $("who").textContent = r.owner_id ? `owner ${r.owner_id}` : "signed in";
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  await loadModels();
  startPolling();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = "";
  clearInterval(state.timer);
  state.timer = null;
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
}

// ---- polling ---------------------------------------------------------------------------------

function startPolling() {
  clearInterval(state.timer);
  refresh();
  state.timer = setInterval(refresh, POLL_MS);
}

async function refresh() {
  try {
    if (state.tab === "jobs") await refreshJobs();
    else if (state.tab === "datasets") await refreshDatasets();
    else if (state.tab === "batches") await refreshBatches();
    showError("");
  } catch (e) {
    if (e.status === 401) return signOut();
    showError(e.message);
  }
}

// ---- jobs ------------------------------------------------------------------------------------

function rowsDone(job) {
  return job.progress ? job.progress.completed_rows : job.rows_done ?? 0;
}

// Keeps the last CHART_POINTS (time, rows done) samples under `key` (a job id, "batch:" + id).
function sample(key, rows) {
  let s = state.samples.get(key);
  if (!s) state.samples.set(key, (s = []));
  const now = performance.now() / 1000;
  s.push({ t: now, rows });
  if (s.length > CHART_POINTS) s.shift();
}

// Rows per second between the last two samples under `key`.
function sampledRate(key) {
  const s = state.samples.get(key) || [];
  if (s.length < 2) return 0;
  const a = s[s.length - 2];
  const b = s[s.length - 1];
  return b.t > a.t ? Math.max(0, b.rows - a.rows) / (b.t - a.t) : 0;
}

function rateOf(job) {
  if (job.progress && Number.isFinite(job.progress.rows_per_second)) return job.progress.rows_per_second;
  return sampledRate(job.job_id);
}

function cancellable(job) {
  return job.status === "processing";
}

async function cancelJob(id) {
  await api(`/v1/embed-jobs/${encodeURIComponent(id)}/cancel`, { method: "POST", json: {} });
  await refresh();
}

async function refreshJobs() {
  const { embed_jobs: jobs = [] } = await api("/v1/embed-jobs");
  jobs.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const tbody = $("jobs-table").querySelector("tbody");
  tbody.replaceChildren();
  for (const job of jobs) {
    sample(job.job_id, rowsDone(job));
    const pct = Number(job.percent_complete || 0);
    const bar = el("progress", { max: "100", value: String(pct), "aria-label": "progress" });
    const actions = el("td");
    if (cancellable(job)) {
      actions.append(el("button", { class: "danger", onclick: () => cancelJob(job.job_id) }, "Cancel"));
    }
    const row = el(
      "tr",
      { "data-job-id": job.job_id, class: job.job_id === state.selectedJob ? "selected" : "" },
      el("td", {}, el("a", { href: "#", onclick: (ev) => (ev.preventDefault(), selectJob(job.job_id)) },
        job.name || job.job_id)),
      el("td", { class: `status status-${job.status}` }, job.status),
      el("td", {}, job.model),
      el("td", {}, bar, ` ${pct.toFixed(1)}%`),
      el("td", { class: "rate" }, rateOf(job).toFixed(0)),
      el("td", {}, when(job.created_at)),
      actions,
    );
    tbody.append(row);
  }
  if (!jobs.length) tbody.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No embed jobs yet.")));
  const selected = jobs.find((j) => j.job_id === state.selectedJob);
  $("job-detail").hidden = !selected;
  if (selected) renderJob(selected);
}

function selectJob(id) {
  state.selectedJob = id;
  refresh();
}

function renderJob(job) {
  $("job-title").textContent = job.name || job.job_id;
  const fields = $("job-fields");
  fields.replaceChildren();
  const p = job.progress || {};
  const add = (k, v) => {
    if (v === undefined || v === null || v === "") return;
    fields.append(el("dt", {}, k), el("dd", {}, String(v)));
  };
  add("id", job.job_id);
  add("status", job.status);
  add("model", job.model);
  add("input dataset", job.input_dataset_id);
  add("output dataset", job.output_dataset_id);
  add("rows", `${rowsDone(job)} of ${p.total_rows ?? job.total_rows ?? "?"}`);
  add("rows/s", rateOf(job).toFixed(1));
  if (Number.isFinite(p.eta_seconds)) add("eta", `${Math.round(p.eta_seconds)} s`);
  add("failure", job.failure_reason);
  const actions = $("job-actions");
  actions.replaceChildren();
  if (cancellable(job)) {
    actions.append(el("button", { class: "danger", id: "cancel-selected", onclick: () => cancelJob(job.job_id) },
      "Cancel job"));
  }
  if (job.output_dataset_id) {
    actions.append(el("button", { onclick: () => openDataset(job.output_dataset_id) }, "Download output"));
  }
  drawChart($("throughput"), state.samples.get(job.job_id) || [], "rows/s");
}

// Draws the rate between consecutive samples, scaled to the largest, labelled with `unit`.
function drawChart(canvas, samples, unit) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    rates.push(b.t > a.t ? Math.max(0, b.rows - a.rows) / (b.t - a.t) : 0);
  }
  const max = Math.max(1, ...rates);
  ctx.strokeStyle = "#c8ccd4";
  ctx.beginPath();
  ctx.moveTo(0, h - 0.5);
  ctx.lineTo(w, h - 0.5);
  ctx.stroke();
  ctx.fillStyle = "#59606b";
  ctx.font = "12px sans-serif";
  ctx.fillText(`${max.toFixed(0)} ${unit}`, 4, 14);
  if (rates.length < 1) return;
  ctx.strokeStyle = "#2463eb";
  ctx.lineWidth = 2;
  ctx.beginPath();
  rates.forEach((r, i) => {
    const x = (i / Math.max(1, CHART_POINTS - 1)) * w;
    const y = h - 4 - (r / max) * (h - 24);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

// ---- datasets --------------------------------------------------------------------------------

async function openDataset(id) {
  const { dataset } = await api(`/v1/datasets/${encodeURIComponent(id)}`);
  for (const part of dataset.dataset_parts || []) window.open(part.url, "_blank");
}

async function deleteDataset(id) {
  if (!confirm("Delete this dataset and its files?")) return;
  await api(`/v1/datasets/${encodeURIComponent(id)}`, { method: "DELETE" });
  await refresh();
}

async function refreshDatasets() {
  const { datasets = [] } = await api("/v1/datasets");
  const tbody = $("datasets-table").querySelector("tbody");
  tbody.replaceChildren();
  for (const ds of datasets) {
    const links = el("td");
    for (const part of ds.dataset_parts || []) {
      links.append(el("a", { href: part.url, download: part.name || "" }, part.name || `part ${part.index}`), " ");
    }
    tbody.append(
      el(
        "tr",
        { "data-dataset-id": ds.id },
        el("td", {}, ds.name),
        el("td", {}, ds.dataset_type),
        el("td", { class: `status status-${ds.validation_status}` }, ds.validation_status),
        el("td", {}, ds.total_rows ?? ""),
        el("td", {}, bytes(ds.size_bytes)),
        el("td", {}, when(ds.created_at)),
        links,
        el("td", {}, el("button", { class: "danger", onclick: () => deleteDataset(ds.id) }, "Delete")),
      ),
    );
  }
  if (!datasets.length) tbody.append(el("tr", {}, el("td", { colspan: "8", class: "muted" }, "No datasets yet.")));
}

// ---- batches ---------------------------------------------------------------------------------

async function refreshBatches() {
  const tbody = $("batches-table").querySelector("tbody");
  let batches = [];
  try {
    ({ batches = [] } = await api("/v2/batches?page_size=100"));
    $("batches-note").textContent = "";
  } catch (e) {
    if (e.status !== 404) throw e;
    $("batches-note").textContent = "This server does not offer the Batches API.";
  }
  tbody.replaceChildren();
  let allDone = 0;
  for (const b of batches) {
    const done = (b.num_successful_records ?? 0) + (b.num_failed_records ?? 0);
    allDone += done;
    sample(`batch:${b.id}`, done);
    const actions = el("td");
    if (b.status === "BATCH_STATUS_QUEUED" || b.status === "BATCH_STATUS_IN_PROGRESS") {
      actions.append(el("button", {
        class: "danger",
        onclick: async () => {
          await api(`/v2/batches/${encodeURIComponent(b.id)}:cancel`, { method: "POST", json: {} });
          await refresh();
        },
      }, "Cancel"));
    }
    tbody.append(el("tr", { "data-batch-id": b.id },
      el("td", {}, b.name || b.id),
      el("td", { class: "status" }, String(b.status || "").replace("BATCH_STATUS_", "").toLowerCase()),
      el("td", {}, b.model || ""),
      el("td", {}, `${b.num_successful_records ?? 0}/${b.num_records ?? "?"}`),
      el("td", { class: "rate" }, sampledRate(`batch:${b.id}`).toFixed(0)),
      el("td", {}, when(b.created_at)),
      actions));
  }
  if (!batches.length) tbody.append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No batches.")));
  // Every batch of the caller together: records finished (successful or failed) per second.
  sample("batches:all", allDone);
  drawChart($("batch-throughput"), state.samples.get("batches:all") || [], "records/s");
}

// ---- new job ---------------------------------------------------------------------------------

async function loadModels() {
  const { models = [] } = await api("/v1/models?endpoint=embed");
  const select = $("new-model");
  select.replaceChildren(...models.map((m) => el("option", { value: m.name }, m.name)));
}

async function waitForDataset(id) {
  for (;;) {
    const { dataset } = await api(`/v1/datasets/${encodeURIComponent(id)}`);
    if (dataset.validation_status === "validated") return dataset;
    if (dataset.validation_status === "failed") {
      throw new Error(`validation failed: ${dataset.validation_error || "unknown reason"}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function newJob(ev) {
  ev.preventDefault();
  const status = $("new-status");
  const file = $("new-file").files[0];
  if (!file) return;
  try {
    status.textContent = "Uploading...";
    const form = new FormData();
    form.append("data", file, file.name);
    const name = encodeURIComponent($("new-name").value);
    const { id } = await api(`/v1/datasets?name=${name}&type=embed-input`, { method: "POST", body: form });
    status.textContent = "Validating...";
    await waitForDataset(id);
    const job = await api("/v1/embed-jobs", {
      method: "POST",
      json: {
        model: $("new-model").value,
        dataset_id: id,
        input_type: $("new-input-type").value,
        embedding_types: ["float"],
      },
    });
    status.textContent = `Started job ${job.job_id}.`;
    state.selectedJob = job.job_id;
    switchTab("jobs");
  } catch (e) {
    status.textContent = e.message;
  }
}

// ---- tabs and start --------------------------------------------------------------------------

function switchTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  for (const p of document.querySelectorAll(".tab-panel")) p.hidden = p.id !== `tab-${tab}`;
  refresh();
}

function start() {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  $("sign-out").addEventListener("click", signOut);
  $("new-job-form").addEventListener("submit", newJob);
  $("sign-in-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      await signIn($("api-key").value.trim());
    } catch (e) {
      state.key = "";
      $("sign-in-error").textContent = e.message;
    }
  });
  if (state.key) {
    signIn(state.key).catch(() => signOut());
  } else {
    signOut();
  }
}

start();
