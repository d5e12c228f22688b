// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) as a real client of
// `mlxcpp mcp` over stdio: negotiation, the tool list and schemas, every tool, progress
// notifications, cancellation, and the `mlx` compatibility tool's JSON shapes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mlxcpp } from "./server_harness.mjs";

const dir = mkdtempSync(join(tmpdir(), "mlxcpp-mcp-"));
const root = new URL("../..", import.meta.url).pathname;
let client, hub;
// Every progress notification as the SDK's transport receives it (see the generate test).
const progressSeen = [];
// Called once at the next progress notification, before the SDK sees it (the cancellation test).
let atNextProgress = null;

before(async () => {
  // A fake Hub serving the bundled model, for pull_model (tests/support/fake_hub).
  const fakeHub = process.env.FAKE_HUB_BIN ?? join(root, "build/tests/fake_hub");
  hub = spawn(fakeHub, [join(dir, "port"), `mlx-community/fortune-tiny-4bit=${join(root, "models/fortune-tiny-mlx-4bit-g64")}`], { stdio: "ignore" });
  for (let i = 0; i < 200 && !existsSync(join(dir, "port")); i++) await new Promise((r) => setTimeout(r, 25));
  const port = readFileSync(join(dir, "port"), "utf8").trim();
  const transport = new StdioClientTransport({
    command: mlxcpp, args: ["mcp"], stderr: "ignore",
    env: { ...process.env, HF_ENDPOINT: `http://127.0.0.1:${port}`, HF_HUB_CACHE: join(dir, "hub"), MLXCPP_CACHE: join(dir, "cache") },
  });
  client = new Client({ name: "mlxcpp-test", version: "1.0.0" });
  await client.connect(transport);
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (message.method === "notifications/progress") {
      progressSeen.push(message.params);
      const f = atNextProgress;
      atNextProgress = null;
      f?.();
    }
    deliver(message, extra);
  };
});
after(async () => {
  await client?.close();
  hub?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const call = (name, args, options) => client.callTool({ name, arguments: args }, undefined, options);

test("initialize negotiates the protocol and names the server", async () => {
  assert.equal(client.getServerVersion().name, "mlxcpp");
  assert.ok(client.getServerCapabilities().tools);
  await client.ping();
});

test("tools/list offers every tool with an object schema", async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ["generate", "hardware_info", "list_models", "mlx", "pull_model", "recommend_model", "resolve_model"]);
  for (const t of tools) assert.equal(t.inputSchema.type, "object", t.name);
});

test("list_models, resolve_model, recommend_model and hardware_info answer with structured content", async () => {
  const list = await call("list_models", { category: "code" });
  assert.ok(list.structuredContent.models.code.some((m) => m.id === "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"));
  assert.deepEqual(Object.keys(list.structuredContent.models), ["code"]);
  const resolved = await call("resolve_model", { name: "mlx-community/Phi-3.5-mini-4k-instruct-mlx" });
  assert.equal(resolved.structuredContent.suggestions[0].id, "mlx-community/Phi-3.5-mini-instruct-4bit");
  const rec = await call("recommend_model", { task: "general", ram_gb: 8, bandwidth_gbs: 50 });
  assert.equal(rec.structuredContent.choice.id, "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
  assert.match(rec.structuredContent.explanation, /KV cache/);
  const hw = await call("hardware_info", {});
  assert.ok(hw.structuredContent.logical_cores > 0);
});

test("generate is deterministic at temperature 0, honours temperature and seed, and reports progress", async () => {
  const a = await call("generate", { prompt: "Tell me a fortune.", temperature: 0, max_tokens: 12 });
  const b = await call("generate", { prompt: "Tell me a fortune.", temperature: 0, max_tokens: 12 });
  assert.equal(a.isError, false);
  assert.equal(a.content[0].text, b.content[0].text);
  assert.equal(a.structuredContent.usage.completion_tokens, 12);
  // The SDK hands notifications to their handlers a microtask later than responses, and drops
  // a request's progress handler with its response: notifications that arrive in the same
  // read as the response never reach onprogress (most of them, for a generation this fast).
  // What the server sent is therefore checked where the transport receives it.
  progressSeen.length = 0;
  await call("generate", { prompt: "Tell me a fortune.", temperature: 0, max_tokens: 12 }, { onprogress: () => {} });
  assert.ok(progressSeen.length >= 1, "no progress notifications");
  assert.ok(progressSeen.every((p) => p.total === 12 && p.progress >= 1 && p.progress <= 12), JSON.stringify(progressSeen));
  const texts = new Set();
  for (const seed of [1, 2, 3]) texts.add((await call("generate", { prompt: "Tell me a fortune.", temperature: 1.5, seed, max_tokens: 16 })).content[0].text);
  assert.ok(texts.size > 1, "temperature/seed had no effect");
  const again = await call("generate", { prompt: "Tell me a fortune.", temperature: 1.5, seed: 2, max_tokens: 16 });
  assert.ok(texts.has(again.content[0].text), "same seed gave a different text");
});

test("a cancelled generate is abandoned and the server keeps answering", async () => {
  const controller = new AbortController();
  // Cancelled at the first progress notification, as the transport delivers it: the SDK
  // sends notifications/cancelled. (From the SDK's onprogress it would be a race: this
  // model often stops within a few dozen tokens, and notifications that arrive in the same
  // read as the response never reach onprogress.)
  atNextProgress = () => controller.abort();
  const pending = call("generate", { prompt: "Go on forever.", max_tokens: 8000, temperature: 1, seed: 2 },
    { signal: controller.signal, onprogress: () => {} });
  await assert.rejects(pending, /abort/i);
  await client.ping();
  const r = await call("generate", { prompt: "Hi", max_tokens: 4, temperature: 0 });
  assert.equal(r.isError, false);
});

test("the mlx compatibility tool keeps the original server's JSON shapes", async () => {
  const parse = (r) => JSON.parse(r.content[0].text);
  const status = parse(await call("mlx", { action: "status" }));
  assert.equal(status.success, true);
  assert.equal(typeof status.timestamp, "number");
  // GPU inference is reported only where it runs: a CUDA build that sees a GPU.
  const hw = (await call("hardware_info", {})).structuredContent;
  assert.equal(status.data.cuda_inference, status.data.cuda_built && hw.gpus.length > 0, JSON.stringify(status.data));
  const models = parse(await call("mlx", { action: "models" }));
  for (const m of models.data.models.general) for (const k of ["id", "size", "best_for", "size_gb"]) assert.ok(k in m, k);
  const gen = parse(await call("mlx", { action: "generate", prompt: "Hello", max_tokens: 6, temperature: 0 }));
  assert.equal(gen.success, true);
  assert.equal(gen.data.temperature, 0);
  assert.equal(gen.data.prompt, "Hello");
  assert.ok(gen.data.generated_text.length > 0);
  const bad = await call("mlx", { action: "dance" });
  assert.equal(bad.isError, true);
  assert.equal(parse(bad).error.code, "INVALID_ACTION");
  assert.equal(parse(await call("mlx", { action: "generate" })).error.code, "MISSING_PROMPT");
  const missing = parse(await call("mlx", { action: "generate", prompt: "x", model: "mlx-community/Nope-9B-4bit" }));
  assert.equal(missing.error.code, "MODEL_NOT_FOUND");
});

test("pull_model downloads from the Hub with progress, then generate uses it", async () => {
  // Progress as the transport received it (see the generate test: the SDK loses what
  // arrives with the response, here typically the final notification).
  progressSeen.length = 0;
  const r = await call("pull_model", { id: "mlx-community/fortune-tiny-4bit" }, { onprogress: () => {} });
  assert.equal(r.isError, false, r.content[0].text);
  assert.ok(existsSync(join(r.structuredContent.path, "model.safetensors")));
  assert.ok(progressSeen.length >= 1 && progressSeen.at(-1).progress === progressSeen.at(-1).total, JSON.stringify(progressSeen));
  const g = await call("generate", { model: "mlx-community/fortune-tiny-4bit", prompt: "Hi", max_tokens: 4, temperature: 0 });
  assert.equal(g.isError, false, g.content[0].text);
  assert.equal(g.structuredContent.model, "mlx-community/fortune-tiny-4bit");
  // A bare name of a cached model is that model, for pull_model as for the CLI.
  const bare = await call("pull_model", { id: "fortune-tiny-4bit" });
  assert.equal(bare.isError, false, bare.content[0].text);
  assert.equal(bare.structuredContent.id, "mlx-community/fortune-tiny-4bit");
});

test("invalid arguments are JSON-RPC errors", async () => {
  await assert.rejects(call("generate", { prompt: "x", temperature: 9 }), /temperature/);
  await assert.rejects(call("no_such_tool", {}), /unknown tool/);
  // A wrong category: invalid params (not an internal error), naming the categories.
  await assert.rejects(call("list_models", { category: "bogus" }),
    (e) => e.code === -32602 && /unknown category 'bogus' \(categories: code, general, small-fast, quality/.test(e.message));
});
