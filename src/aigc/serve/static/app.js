// aigc studio web UI: plain JavaScript calling the same /api/ routes a script would.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { tasks: [], models: [], form: null, token: sessionStorage.getItem("aigc-token") || "", follow: new Map() };
const ACTIVE = new Set(["queued", "running"]);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

function notice(message) {
  const p = $("notice");
  p.textContent = message || "";
  p.hidden = !message;
}

// ---------------------------------------------------------------- talking to the API
function headers(extra = {}) {
  const h = { ...extra };
  if (state.token) h.Authorization = "Bearer " + state.token;
  return h;
}

function askToken() {
  $("token-form").hidden = false;
  $("token").focus();
}

async function failure(r) {
  if (r.status === 401) askToken();
  try { return new Error((await r.json()).error); } catch { return new Error("HTTP " + r.status); }
}

async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: headers(opts.headers) });
  if (!r.ok) throw await failure(r);
  return (r.headers.get("content-type") || "").includes("json") ? r.json() : r.text();
}

const postJSON = (path, body) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

// Server-sent events read with fetch, so the token header goes along (EventSource cannot send one).
async function sse(path, opts, onEvent, signal) {
  const r = await fetch(path, { ...opts, headers: headers(opts.headers), signal });
  if (!r.ok) throw await failure(r);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const ev = { event: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        if (line.startsWith("data: ")) ev.data += line.slice(6);
        else if (line.startsWith("event: ")) ev.event = line.slice(7);
        else if (line.startsWith("id: ")) ev.id = line.slice(4);
      }
      if (ev.data || ev.event !== "message") onEvent(ev);
    }
  }
}

// A URL for <img>/<audio>/<video>: the route itself, or a blob of it when a token is needed.
async function mediaURL(url) {
  if (!state.token) return url;
  const r = await fetch(url, { headers: headers() });
  return URL.createObjectURL(await r.blob());
}

// ---------------------------------------------------------------- gallery
async function loadModels() {
  state.models = await api("/api/models");
  const gallery = $("gallery");
  gallery.replaceChildren();
  for (const m of state.models) {
    const item = el("li");
    if (m.sample_url) {
      const img = el("img", { alt: `newest training sample of ${m.name}` });
      mediaURL(m.sample_url).then((u) => { img.src = u; });
      item.append(img);
    } else {
      item.append(el("div", { class: "none", text: "no sample yet" }));
    }
    const go = el("button", { type: "button", class: "secondary", "aria-label": `Generate with ${m.name}`, text: "Generate" });
    go.onclick = () => { $("gen-model").value = m.name; selectModel().catch(showError); location.hash = "#generate"; };
    item.append(el("strong", { text: m.name }), el("div", { class: "meta", text: `${m.task} · ${m.architecture}` }), go);
    gallery.append(item);
  }
  if (!state.models.length) gallery.append(el("li", { text: "No models yet: train one below." }));
  const select = $("gen-model");
  const keep = select.value;
  select.replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: `${m.name} (${m.task})` })));
  if (keep && state.models.some((m) => m.name === keep)) select.value = keep;
}

// ---------------------------------------------------------------- generate
function fieldInput(f) {
  const id = "p-" + f.name;
  const wrap = el("div", { class: "field" + (f.kind === "bool" ? " bool" : "") });
  const help = f.help ? el("small", { id: id + "-help", text: f.help }) : null;
  let input;
  if (f.kind === "bool") {
    input = el("input", { type: "checkbox", id, checked: f.default === true });
  } else if (f.choices) {
    input = el("select", { id }, el("option", { value: "", text: `default (${f.default ?? "none"})` }),
      ...f.choices.map((c) => el("option", { value: c, text: c })));
  } else if (f.kind === "list") {
    input = el("textarea", { id, rows: 1, placeholder: "one value per line" });
  } else {
    const type = f.kind === "int" || f.kind === "float" ? "number" : "text";
    input = el("input", { id, type, step: f.kind === "float" ? "any" : undefined,
      placeholder: f.default === null || f.default === undefined ? "" : String(f.default) });
  }
  if (help) input.setAttribute("aria-describedby", help.id);
  const label = el("label", { for: id, text: f.name.replaceAll("_", " ") });
  if (f.kind === "bool") wrap.append(input, label); else wrap.append(label, input);
  if (help) wrap.append(help);
  return wrap;
}

async function selectModel() {
  const name = $("gen-model").value;
  const model = state.models.find((m) => m.name === name);
  if (!model) return;
  const task = state.tasks.find((t) => t.name === model.task);
  const commands = task ? task.commands : ["generate"];
  const select = $("gen-command");
  const keep = commands.includes(select.value) ? select.value : commands[0];
  select.replaceChildren(...commands.map((c) => el("option", { value: c, text: c })));
  select.value = keep;
  if (!keep) { $("gen-fields").replaceChildren(el("legend", { text: "This model has no command to run here" })); return; }
  state.form = await api(`/api/models/${encodeURIComponent(name)}/form?command=${encodeURIComponent(keep)}`);
  $("gen-fields").replaceChildren(el("legend", { text: `Parameters of aigc ${keep} (empty = default)` }),
    ...state.form.fields.map(fieldInput));
  $("gen-stream-row").hidden = !state.form.streams;
  $("gen-fields").dataset.model = name;  // the form now belongs to this model (tests and scripts wait on it)
}

function collectParams(fields) {
  const params = {};
  for (const f of fields) {
    const input = $("p-" + f.name);
    if (f.kind === "bool") {
      if (input.checked === (f.default === true)) continue;
      if (!input.checked && f.off) params[f.off] = true; else if (input.checked) params[f.name] = true;
      continue;
    }
    const text = input.value.trim();
    if (text === "") continue;
    if (f.kind === "int") params[f.name] = parseInt(text, 10);
    else if (f.kind === "float") params[f.name] = Number(text);
    else if (f.kind === "list") params[f.name] = text.split("\n").map((s) => s.trim()).filter(Boolean);
    else params[f.name] = text;
  }
  return params;
}

async function showFile(file, names, box) {
  const ext = file.name.split(".").pop().toLowerCase();
  const url = await mediaURL(file.url);
  const link = el("a", { href: url, download: file.name, text: file.name });
  const fig = el("figure");
  if (ext === "json" && names.has(file.name.slice(0, -5))) {
    box.append(el("p", {}, "Recipe: ", link));
    return;
  }
  if (ext === "png" || ext === "gif") fig.append(el("img", { src: url, alt: `generated ${file.name}` }));
  else if (ext === "wav") fig.append(el("audio", { src: url, controls: true, "aria-label": `play ${file.name}` }));
  else if (ext === "mp4") fig.append(el("video", { src: url, controls: true, loop: true, "aria-label": `play ${file.name}` }));
  else if (ext === "txt" || ext === "json") {
    let text = await (await fetch(file.url, { headers: headers() })).text();
    if (ext === "json") { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as is */ } }
    fig.append(el("pre", { "aria-label": `contents of ${file.name}`, text }));
  }
  fig.append(el("figcaption", {}, link));
  box.append(fig);
}

async function generate(event) {
  event.preventDefault();
  const name = $("gen-model").value;
  const command = $("gen-command").value;
  const params = collectParams(state.form ? state.form.fields : []);
  const out = $("gen-output");
  const button = $("gen-submit");
  button.disabled = true;
  $("gen-status").textContent = "Generating…";
  out.replaceChildren();
  const started = performance.now();
  try {
    if (state.form && state.form.streams && $("gen-stream").checked && command === "generate") {
      const prompt = Array.isArray(params.prompt) ? params.prompt[0] || "" : params.prompt || "";
      delete params.prompt;
      const pre = el("pre", { id: "gen-text", "aria-label": "generated text" });
      out.append(el("figure", {}, pre));
      await sse(`/api/models/${encodeURIComponent(name)}/generate`,
        { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ stream: true, prompt, params }) },
        (ev) => { if (ev.event === "message") pre.textContent += JSON.parse(ev.data).text || ""; });
    } else {
      const result = await postJSON(`/api/models/${encodeURIComponent(name)}/generate`,
        { params, command: command === "generate" ? null : command });
      const names = new Set(result.files.map((f) => f.name));
      for (const f of result.files) await showFile(f, names, out);
    }
    $("gen-status").textContent = `Done in ${((performance.now() - started) / 1000).toFixed(2)} s.`;
  } catch (err) {
    $("gen-status").textContent = "Failed: " + err.message;
  } finally {
    button.disabled = false;
  }
}

async function upload(event) {
  event.preventDefault();
  const data = new FormData();
  data.append("file", $("upload-file").files[0]);
  data.append("kind", $("upload-kind").value);
  try {
    const r = await api("/api/uploads", { method: "POST", body: data });
    $("upload-result").textContent = `Uploaded: use upload:${r.id} as the parameter's value`;
  } catch (err) {
    $("upload-result").textContent = "Upload refused: " + err.message;
  }
}

// ---------------------------------------------------------------- training
function selectTask() {
  const task = state.tasks.find((t) => t.name === $("train-task").value);
  if (!task) return;
  $("train-arch").replaceChildren(...task.architectures.map((a) => el("option", { value: a, text: a })));
  $("train-example").textContent = "Example: " + task.train_example;
}

async function train(event) {
  event.preventDefault();
  let extra = {};
  try {
    extra = $("train-extra").value.trim() ? JSON.parse($("train-extra").value) : {};
  } catch (err) {
    $("train-status").textContent = "More flags: not valid JSON (" + err.message + ")";
    return;
  }
  const params = { ...extra, arch: $("train-arch").value, steps: parseInt($("train-steps").value, 10) };
  try {
    const job = await postJSON("/api/jobs", { kind: "train", task: $("train-task").value, model: $("train-name").value, params });
    $("train-status").textContent = `Training job ${job.id} queued.`;
    await loadJobs();
  } catch (err) {
    $("train-status").textContent = "Refused: " + err.message;
  }
}

// ---------------------------------------------------------------- jobs
function jobItem(job) {
  let item = $("job-" + job.id);
  if (item) return item;
  const what = job.spec.model || job.spec.eval || "";
  item = el("li", { id: "job-" + job.id, "data-state": job.state });
  const cancel = el("button", { type: "button", class: "danger cancel", "aria-label": `Cancel job ${job.id} (${what})`, text: "Cancel" });
  cancel.onclick = () => postJSON(`/api/jobs/${job.id}/cancel`, {}).then(loadJobs).catch(showError);
  item.append(
    el("div", { class: "head" }, el("strong", { text: `${job.kind} ${what}` }), el("span", { class: "state" }),
      el("progress", { max: 1, value: 0, "aria-label": `progress of job ${job.id}` }), el("span", { class: "logs" }), cancel),
    el("div", { class: "files" }));
  return item;
}

function renderJob(job) {
  const item = jobItem(job);
  item.dataset.state = job.state;
  const label = item.querySelector(".state");
  label.className = "state " + job.state;
  label.textContent = job.state + (job.position !== null && job.position !== undefined ? ` (${job.position} ahead)` : "")
    + (job.error ? ": " + job.error : "");
  item.querySelector(".cancel").hidden = !ACTIVE.has(job.state);
  if (job.state === "done") { const bar = item.querySelector("progress"); bar.value = bar.max; }
  const files = item.querySelector(".files");
  const shown = new Set([...files.querySelectorAll("a")].map((a) => a.dataset.name));
  for (const f of job.files) {
    if (shown.has(f.name)) continue;
    const link = el("a", { href: f.url, "data-name": f.name, text: f.name });
    link.onclick = async (e) => { if (state.token) { e.preventDefault(); window.open(await mediaURL(f.url)); } };
    files.append(link, " ");
  }
  return item;
}

function onJobEvent(id, ev) {
  const item = $("job-" + id);
  if (!item || ev.event !== "message") return;
  const e = JSON.parse(ev.data);
  if (e.total && e.done !== undefined && e.kind !== "preview") {
    const bar = item.querySelector("progress");
    bar.max = e.total;
    bar.value = e.done;
    const logs = Object.entries(e.logs || {}).map(([k, v]) => `${k} ${typeof v === "number" ? v.toPrecision(4) : v}`);
    const eta = e.eta_s !== undefined && e.eta_s !== null ? ` · ETA ${Math.round(e.eta_s)} s` : "";
    item.querySelector(".logs").textContent = `${e.kind} ${e.done}/${e.total}${logs.length ? " · " + logs.join(" · ") : ""}${eta}`;
  }
  if (e.kind === "preview" && e.file) {
    let img = item.querySelector("img.preview");
    if (!img) { img = el("img", { class: "preview", alt: `newest preview of job ${id}` }); item.append(img); }
    mediaURL(`/api/jobs/${id}/files/${e.file}`).then((u) => { img.src = u; });
  }
  if (e.kind === "state") {
    item.dataset.state = e.state;
    item.querySelector(".state").textContent = e.state + (e.error ? ": " + e.error : "");
    item.querySelector(".state").className = "state " + e.state;
    item.querySelector(".cancel").hidden = !ACTIVE.has(e.state);
  }
}

function follow(job) {
  // Browsers open about six connections per server: follow a few jobs live, list the rest.
  if (state.follow.has(job.id) || state.follow.size >= 3) return;
  const stop = new AbortController();
  state.follow.set(job.id, stop);
  sse(`/api/jobs/${job.id}/events`, {}, (ev) => onJobEvent(job.id, ev), stop.signal)
    .catch(() => {})
    .finally(() => { state.follow.delete(job.id); loadJobs().then(loadModels).catch(showError); });
}

async function loadJobs() {
  const jobs = await api("/api/jobs");
  const list = $("job-list");
  const items = jobs.map(renderJob);
  list.replaceChildren(...items);
  if (!jobs.length) list.append(el("li", { text: "No jobs yet." }));
  for (const job of jobs) if (ACTIVE.has(job.state)) follow(job);
}

// ---------------------------------------------------------------- start
function showError(err) { notice(err.message); }

async function start() {
  notice("");
  state.tasks = await api("/api/tasks");
  $("train-task").replaceChildren(...state.tasks.map((t) => el("option", { value: t.name, text: t.name })));
  selectTask();
  await loadModels();
  await selectModel();
  await loadJobs();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value;
    sessionStorage.setItem("aigc-token", state.token);
    $("token-form").hidden = true;
    start().catch(showError);
  });
  $("gen-model").addEventListener("change", () => selectModel().catch(showError));
  $("gen-command").addEventListener("change", () => selectModel().catch(showError));
  $("gen-form").addEventListener("submit", generate);
  $("upload-form").addEventListener("submit", upload);
  $("train-task").addEventListener("change", selectTask);
  $("train-form").addEventListener("submit", train);
  $("jobs-refresh").addEventListener("click", () => loadJobs().catch(showError));
  start().catch(showError);
});
