#!/usr/bin/env node
// Load test of `mlxcpp serve`: N concurrent clients each stream chat completions back to
// back for D seconds over loopback; every stream must end with a finish_reason and
// "data: [DONE]", and every status must be 200. Prints one JSON summary; exit 1 on any error.
//   node bench/load_test.mjs [--clients 32] [--seconds 60] [--max-tokens 64] [--bin build/mlxcpp] [-- serve args…]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const clients = Number(opt("--clients", 32)), seconds = Number(opt("--seconds", 60)), maxTokens = Number(opt("--max-tokens", 64));
const bin = opt("--bin", new URL("../build/mlxcpp", import.meta.url).pathname);
const extra = args.includes("--") ? args.slice(args.indexOf("--") + 1) : [];

const dir = mkdtempSync(join(tmpdir(), "mlxcpp-load-"));
const server = spawn(bin, ["serve", "--port", "0", "--port-file", join(dir, "port"), ...extra],
  { stdio: ["ignore", "ignore", "inherit"] });
for (let i = 0; i < 400 && !existsSync(join(dir, "port")); i++) await new Promise((r) => setTimeout(r, 25));
const url = `http://127.0.0.1:${readFileSync(join(dir, "port"), "utf8").trim()}/v1/chat/completions`;

// The server's resident memory, sampled every second: it must stay bounded under load.
const rssMb = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) / 1024;
  } catch {
    return null;
  }
};
const rss = [rssMb()];
const sampler = setInterval(() => rss.push(rssMb()), 1000);

const prompts = ["Tell me a fortune.", "What is wisdom?", "Say something about cats.", "Give advice.", "Why?", "Hello!"];
// ttftReused: requests after a client's first, which fetch sends on its kept-alive connection.
const stats = { requests: 0, errors: 0, tokens: 0, ttft: [], ttftReused: [], latency: [], errorSamples: [] };
const deadline = Date.now() + seconds * 1000;

async function oneStream(i, reused) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompts[i % prompts.length] }], max_tokens: maxTokens,
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
const metrics = await (await fetch(url.replace("/v1/chat/completions", "/metrics"))).text();
const rssEnd = rssMb();
server.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });
const summary = {
  clients, seconds: Number(wall.toFixed(1)), requests: stats.requests, errors: stats.errors,
  generated_tokens: stats.tokens, tokens_per_s: Number((stats.tokens / wall).toFixed(1)),
  ttft_ms_p50: pct(stats.ttft.concat(stats.ttftReused), 0.5), ttft_ms_p99: pct(stats.ttft.concat(stats.ttftReused), 0.99),
  ttft_ms_keepalive_p50: pct(stats.ttftReused, 0.5), ttft_ms_keepalive_p99: pct(stats.ttftReused, 0.99),
  latency_ms_p50: pct(stats.latency, 0.5), latency_ms_p99: pct(stats.latency, 0.99),
  server_requests_200: Number(/mlxcpp_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} (\d+)/.exec(metrics)?.[1] ?? 0),
  server_rss_mb: { start: rss[0], peak: Math.max(...rss.filter((x) => x !== null)), after_first_10s: rss[10] ?? null, end: rssEnd },
  error_samples: stats.errorSamples,
};
console.log(JSON.stringify(summary, null, 2));
process.exit(stats.errors === 0 && stats.requests > 0 ? 0 : 1);
