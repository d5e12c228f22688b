#!/usr/bin/env node
// Load test of an OpenAI-compatible chat server: N concurrent clients each stream chat
// completions back to back for D seconds; every stream must end with a finish_reason and
// "data: [DONE]", and every status must be 200. Prints one JSON summary; exit 1 on any error.
// Without --url it starts `mlxcpp serve` (with the args after --) on a free loopback port and
// samples its resident memory; with --url it loads that server (llama-server, say).
//   node bench/load_test.mjs [--clients 32] [--seconds 60] [--max-tokens 64 | A-B]
//        [--prompt-words A-B] [--url http://127.0.0.1:8080] [--bin build/mlxcpp] [-- serve args…]
// --prompt-words A-B: each request's prompt has between A and B words of a fixed text
// (about a token each), and --max-tokens A-B its completion limit, both drawn from the
// request's number, so that two servers loaded with the same options get the same requests.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
// "N" or "A-B" → [A, B]
const range = (name, dflt) => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(String(opt(name, dflt)));
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new Error(`${name}: expected N or A-B`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
};
const clients = Number(opt("--clients", 32)), seconds = Number(opt("--seconds", 60));
const maxTokens = range("--max-tokens", "64"), promptWords = opt("--prompt-words", null) && range("--prompt-words");
const bin = opt("--bin", new URL("../build/mlxcpp", import.meta.url).pathname);
const extra = args.includes("--") ? args.slice(args.indexOf("--") + 1) : [];

let server = null, dir = null, base = opt("--url", null);
if (!base) {
  dir = mkdtempSync(join(tmpdir(), "mlxcpp-load-"));
  server = spawn(bin, ["serve", "--port", "0", "--port-file", join(dir, "port"), ...extra],
    { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 400 && !existsSync(join(dir, "port")); i++) await new Promise((r) => setTimeout(r, 25));
  base = `http://127.0.0.1:${readFileSync(join(dir, "port"), "utf8").trim()}`;
}
const url = `${base.replace(/\/$/, "")}/v1/chat/completions`;

// The spawned server's resident memory, sampled every second: it must stay bounded under load.
const rssMb = () => {
  if (!server) return null;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) / 1024;
  } catch {
    return null;
  }
};
const rss = [rssMb()];
const sampler = setInterval(() => rss.push(rssMb()), 1000);

const prompts = ["Tell me a fortune.", "What is wisdom?", "Say something about cats.", "Give advice.", "Why?", "Hello!"];
const words = ("the quick brown fox jumps over a lazy dog while seven wise owls count stars above quiet " +
  "rivers and old mountains remember every song the wind carried home").split(" ");
// A request's number → a number in [lo, hi] (a fixed hash: the same for every server).
const pick = (i, salt, [lo, hi]) => lo + ((Math.imul(i + 1, 2654435761) ^ Math.imul(salt, 40503)) >>> 0) % (hi - lo + 1);
const promptOf = (i) => {
  if (!promptWords) return prompts[i % prompts.length];
  const n = pick(i, 1, promptWords), out = [`Request ${i}:`];
  for (let k = 0; k < n; k++) out.push(words[(i * 7 + k * 13) % words.length]);
  return out.join(" ");
};
// ttftReused: requests after a client's first, which fetch sends on its kept-alive connection.
const stats = { requests: 0, errors: 0, tokens: 0, ttft: [], ttftReused: [], latency: [], errorSamples: [] };
const deadline = Date.now() + seconds * 1000;

async function oneStream(i, reused) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: promptOf(i) }], max_tokens: pick(i, 2, maxTokens),
                           temperature: 0.8, seed: i, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = "", done = false, finish = null, usage = null, first = null;
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let k;
    while ((k = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") { done = true; continue; }
      const j = JSON.parse(data);
      if (j.error) throw new Error(`stream error: ${j.error.message}`);
      if (j.usage) usage = j.usage;
      const c = j.choices?.[0];
      if (c?.delta?.content && first === null) first = performance.now() - t0;
      if (c?.finish_reason) finish = c.finish_reason;
    }
  }
  if (!done || !finish || !usage) throw new Error(`incomplete stream (done=${done}, finish=${finish}, usage=${!!usage})`);
  stats.tokens += usage.completion_tokens;
  if (first !== null) (reused ? stats.ttftReused : stats.ttft).push(first);
  stats.latency.push(performance.now() - t0);
}

async function client(id) {
  for (let n = 0; Date.now() < deadline; n++) {
    try {
      await oneStream(id * 1000 + n, n > 0);
      stats.requests++;
    } catch (e) {
      stats.errors++;
      if (stats.errorSamples.length < 5) stats.errorSamples.push(String(e.message ?? e));
    }
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
const wall = (performance.now() - t0) / 1000;
const pct = (a, p) => (a.length ? a.sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : null);
clearInterval(sampler);
const metrics = server ? await (await fetch(`${base}/metrics`)).text() : "";
const rssEnd = rssMb();
if (server) server.kill("SIGTERM");
if (dir) rmSync(dir, { recursive: true, force: true });
const summary = {
  url, clients, seconds: Number(wall.toFixed(1)), prompt_words: promptWords, max_tokens: maxTokens,
  requests: stats.requests, errors: stats.errors,
  generated_tokens: stats.tokens, tokens_per_s: Number((stats.tokens / wall).toFixed(1)),
  ttft_ms_p50: pct(stats.ttft.concat(stats.ttftReused), 0.5), ttft_ms_p99: pct(stats.ttft.concat(stats.ttftReused), 0.99),
  ttft_ms_keepalive_p50: pct(stats.ttftReused, 0.5), ttft_ms_keepalive_p99: pct(stats.ttftReused, 0.99),
  latency_ms_p50: pct(stats.latency, 0.5), latency_ms_p99: pct(stats.latency, 0.99),
  server_requests_200: server
    ? Number(/mlxcpp_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0) : null,
  server_rss_mb: server
    ? { start: rss[0], peak: Math.max(...rss.filter((x) => x !== null)), after_first_10s: rss[10] ?? null, end: rssEnd } : null,
  error_samples: stats.errorSamples,
};
console.log(JSON.stringify(summary, null, 2));
process.exit(stats.errors === 0 && stats.requests > 0 ? 0 : 1);
