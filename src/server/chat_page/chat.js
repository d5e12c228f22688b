// The chat page of `mlxcpp serve`: conversations kept in this browser (localStorage),
// answers streamed from /v1/chat/completions and rendered as Markdown (HTML escaped first,
// so a model's output never becomes markup), a stop button, the model, system prompt and
// sampling settings, and each answer's tokens/s and the context it uses. No dependencies.
"use strict";

const STORE = "mlxcpp.chat.v1";
const $ = (id) => document.getElementById(id);

// ── state ────────────────────────────────────────────────────────────────────────────────
function load() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE));
    if (s && Array.isArray(s.conversations)) return s;
  } catch (_) { /* a damaged store starts over */ }
  return { conversations: [], current: null, settings: { model: "", system: "", temperature: 0.7, top_p: 1, max_tokens: 512, apiKey: "" } };
}
const state = load();
const save = () => localStorage.setItem(STORE, JSON.stringify(state));
const current = () => state.conversations.find((c) => c.id === state.current);
let models = [];      // from /v1/models: {id, context_length}
let running = null;   // the AbortController of the answer being streamed

function newConversation() {
  const c = { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: "New chat", messages: [] };
  state.conversations.unshift(c);
  state.current = c.id;
  save();
  return c;
}

// ── Markdown ─────────────────────────────────────────────────────────────────────────────
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function inline(text) {
  // Code spans first (their contents stay literal), then emphasis and links in the rest.
  return text.split(/(`[^`\n]+`)/).map((part) => {
    if (/^`[^`\n]+`$/.test(part)) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
    let s = escapeHtml(part);
    s = s.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>");
    s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
    return s;
  }).join("");
}

function blocks(text) {
  const out = [];
  for (const block of text.split(/\n{2,}/)) {
    const lines = block.split("\n");
    if (/^#{1,6} /.test(block)) {
      const level = block.match(/^#+/)[0].length;
      out.push(`<h${level}>${inline(block.slice(level + 1))}</h${level}>`);
    } else if (lines.every((l) => /^\s*([-*]|\d+\.) /.test(l))) {
      const tag = /^\s*\d+\./.test(lines[0]) ? "ol" : "ul";
      out.push(`<${tag}>${lines.map((l) => `<li>${inline(l.replace(/^\s*([-*]|\d+\.) /, ""))}</li>`).join("")}</${tag}>`);
    } else if (lines.every((l) => l.startsWith(">"))) {
      out.push(`<blockquote>${inline(lines.map((l) => l.replace(/^> ?/, "")).join("\n")).replace(/\n/g, "<br>")}</blockquote>`);
    } else if (block.trim()) {
      out.push(`<p>${inline(block).replace(/\n/g, "<br>")}</p>`);
    }
  }
  return out.join("");
}

// Fenced code blocks (``` with an optional language; one still open while streaming runs
// to the end), and Markdown blocks between them.
function markdown(text) {
  const parts = text.split(/^```/m);
  let html = "";
  parts.forEach((part, i) => {
    if (i % 2 === 0) { html += blocks(part); return; }
    const nl = part.indexOf("\n");
    const lang = nl < 0 ? part.trim() : part.slice(0, nl).trim();
    const code = nl < 0 ? "" : part.slice(nl + 1).replace(/\n$/, "");
    const cls = /^[\w+-]+$/.test(lang) ? ` class="language-${lang}"` : "";
    html += `<pre><code${cls}>${escapeHtml(code)}</code></pre>`;
  });
  return html;
}

// ── rendering ────────────────────────────────────────────────────────────────────────────
function renderSidebar() {
  const list = $("conversations");
  list.replaceChildren();
  for (const c of state.conversations) {
    const li = document.createElement("li");
    if (c.id === state.current) li.className = "current";
    const a = document.createElement("a");
    a.textContent = c.title;
    a.onclick = () => { if (!running) { state.current = c.id; save(); renderAll(); } };
    const del = document.createElement("button");
    del.type = "button";
    del.title = "Delete";
    del.textContent = "×";
    del.onclick = () => {
      if (running) return;
      state.conversations = state.conversations.filter((x) => x.id !== c.id);
      if (state.current === c.id) state.current = state.conversations[0]?.id ?? null;
      save();
      renderAll();
    };
    li.append(a, del);
    list.append(li);
  }
}

function messageElement(m) {
  const div = document.createElement("div");
  div.className = `message ${m.role}${m.error ? " error" : ""}`;
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = m.role;
  const content = document.createElement("div");
  content.className = "content";
  if (m.role === "assistant") content.innerHTML = markdown(m.content);
  else content.textContent = m.content;
  div.append(role, content);
  if (m.stats) {
    const stats = document.createElement("div");
    stats.className = "stats";
    stats.textContent = m.stats;
    div.append(stats);
  }
  return div;
}

function renderMessages() {
  const box = $("messages");
  box.replaceChildren(...(current()?.messages ?? []).map(messageElement));
  box.scrollTop = box.scrollHeight;
}

function renderAll() {
  renderSidebar();
  renderMessages();
}

// ── the server ───────────────────────────────────────────────────────────────────────────
function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.settings.apiKey) h.Authorization = `Bearer ${state.settings.apiKey}`;
  return h;
}

async function loadModels() {
  const select = $("model");
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    if (!r.ok) throw new Error(`${r.status}: ${(await r.json()).error?.message ?? r.statusText}`);
    models = (await r.json()).data;
  } catch (e) {
    $("status").textContent = `Could not list the models (${e.message}); an API key may be needed (Settings).`;
    models = [];
  }
  select.replaceChildren(...models.map((m) => new Option(m.id, m.id)));
  if (models.some((m) => m.id === state.settings.model)) select.value = state.settings.model;
  else if (models.length) state.settings.model = models[0].id;
}

function contextLength() {
  return models.find((m) => m.id === state.settings.model)?.context_length;
}

// Streams one answer into `reply` (a message of the current conversation).
async function stream(conversation, reply, onUpdate) {
  const s = state.settings;
  const history = conversation.messages.filter((m) => m !== reply && !m.error).map((m) => ({ role: m.role, content: m.content }));
  const messages = (s.system.trim() ? [{ role: "system", content: s.system }] : []).concat(history);
  running = new AbortController();
  const started = performance.now();
  let first = null, usage = null, pieces = 0, stopped = false;
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: running.signal,
      body: JSON.stringify({ model: s.model, messages, stream: true, stream_options: { include_usage: true },
                             temperature: Number(s.temperature), top_p: Number(s.top_p), max_tokens: Number(s.max_tokens) }),
    });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error?.message ?? `HTTP ${r.status}`);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let at;
      while ((at = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) {
            first ??= performance.now();
            pieces++;
            reply.content += text;
            onUpdate();
          }
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") stopped = true;
    else { reply.error = true; reply.content += `${reply.content ? "\n\n" : ""}Error: ${e.message}`; }
  } finally {
    running = null;
  }
  const seconds = first ? (performance.now() - first) / 1000 : 0;
  const tokens = usage?.completion_tokens ?? pieces;
  const parts = [];
  if (seconds > 0) parts.push(`${(tokens / seconds).toFixed(1)} tokens/s`);
  parts.push(`${tokens} tokens in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  if (usage && contextLength()) {
    const used = usage.prompt_tokens + usage.completion_tokens;
    parts.push(`context ${used} / ${contextLength()} (${Math.round((100 * used) / contextLength())} %)`);
  }
  if (stopped) parts.push("stopped");
  reply.stats = parts.join(" · ");
}

async function send(text) {
  const c = current() ?? newConversation();
  if (!c.messages.length) c.title = text.slice(0, 40);
  c.messages.push({ role: "user", content: text });
  const reply = { role: "assistant", content: "" };
  c.messages.push(reply);
  save();
  renderAll();
  const box = $("messages");
  const element = box.lastElementChild;
  $("send").disabled = true;
  $("stop").disabled = false;
  await stream(c, reply, () => {
    element.querySelector(".content").innerHTML = markdown(reply.content);
    box.scrollTop = box.scrollHeight;
  });
  $("send").disabled = false;
  $("stop").disabled = true;
  $("status").textContent = reply.stats ?? "";
  save();
  renderMessages();
}

// ── wiring ───────────────────────────────────────────────────────────────────────────────
function bindSetting(id, key) {
  const el = $(id);
  el.value = state.settings[key];
  el.addEventListener("change", () => { state.settings[key] = el.value; save(); if (key === "apiKey") loadModels(); });
}

window.addEventListener("DOMContentLoaded", async () => {
  bindSetting("system", "system");
  bindSetting("temperature", "temperature");
  bindSetting("top-p", "top_p");
  bindSetting("max-tokens", "max_tokens");
  bindSetting("api-key", "apiKey");
  $("model").addEventListener("change", () => { state.settings.model = $("model").value; save(); });
  $("settings-toggle").onclick = () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  };
  $("new-chat").onclick = () => { if (!running) { newConversation(); renderAll(); } };
  $("stop").onclick = () => running?.abort();
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || running) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  if (!current()) state.current = state.conversations[0]?.id ?? null;
  renderAll();
  await loadModels();
  document.body.dataset.ready = "true";  // (for the browser test)
});
