// The official OpenAI SDK (npm "openai") as a real client of `mlxcpp serve` on the bundled
// model: models list, chat and text completions streamed and not, usage, sampling
// controls, stop strings, logprobs, errors, concurrent streams, the prompt cache.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import OpenAI from "openai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, mlxcpp } from "./server_harness.mjs";

// transformers' greedy continuation of "The best way to" by the bundled model (its
// reference-greedy.json): the float32 path gives it on every CPU.
const REFERENCE = " say that the man who, who knows it; that is";

// What the CLI's default (fast) path gives on this machine: its text depends on the CPU's
// kernels (a near tie late in it), and the server must give the same.
function cliGreedy(args = []) {
  const dir = mkdtempSync(join(tmpdir(), "mlxcpp-cli-"));
  try {
    const out = execFileSync(mlxcpp, ["generate", "-p", "The best way to", "--raw", "--max-tokens", "12", ...args], {
      env: { ...process.env, HF_HUB_CACHE: join(dir, "hub"), HF_HUB_OFFLINE: "1" }, stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    return out.slice(0, -1);  // the CLI ends its output with a newline of its own
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const GREEDY = cliGreedy();
let server, client;

before(async () => {
  server = await startServer(["--api-key", "sk-test", "--max-concurrency", "4"]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0 });
});
after(async () => server && (await server.stop()));

test("models.list names the served model", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes("fortune-tiny-mlx-4bit-g64"), ids.join(","));
});

test("text completion is the model's greedy continuation, with exact usage", async () => {
  const r = await client.completions.create({ model: "fortune-tiny-mlx-4bit-g64", prompt: "The best way to", max_tokens: 12, temperature: 0 });
  assert.equal(r.choices[0].text, GREEDY);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.deepEqual([r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens], [5, 12, 17]);
});

test("on the float32 path the served text is transformers' greedy text", async () => {
  assert.equal(cliGreedy(["--precision", "f32"]), REFERENCE);
  const exact = await startServer(["--precision", "f32"]);
  try {
    const res = await fetch(`${exact.url}/v1/completions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: "The best way to", max_tokens: 12, temperature: 0 }),
    });
    assert.equal((await res.json()).choices[0].text, REFERENCE);
  } finally {
    await exact.stop();
  }
});

test("streamed text completion concatenates to the same text", async () => {
  const stream = await client.completions.create({ prompt: "The best way to", max_tokens: 12, stream: true });
  let text = "", finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, GREEDY);
  assert.equal(finish, "length");
});

test("chat completion, non-streamed and streamed, agree; usage chunk on request", async () => {
  const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Tell me a fortune." }];
  const whole = await client.chat.completions.create({ model: "fortune-tiny-mlx-4bit-g64", messages, max_tokens: 16 });
  const content = whole.choices[0].message.content;
  assert.equal(whole.choices[0].message.role, "assistant");
  assert.ok(content.length > 0);
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);
  const stream = await client.chat.completions.create({ messages, max_tokens: 16, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null, roles = 0, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) roles++;
    text += c.delta.content ?? "";
    finish = c.finish_reason ?? finish;
  }
  assert.equal(text, content);
  assert.equal(roles, 1);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage.completion_tokens, whole.usage.completion_tokens);
});

test("stop strings end the text before them with finish_reason stop", async () => {
  const r = await client.completions.create({ prompt: "The best way to", max_tokens: 20, stop: [" who"] });
  assert.equal(r.choices[0].text, " say that the man");
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("temperature and seed are honoured: same seed same text, sampling differs from greedy", async () => {
  const ask = (seed) => client.completions.create({ prompt: "The best way to", max_tokens: 24, temperature: 1.5, top_p: 1, seed });
  const a = await ask(7), b = await ask(7);
  assert.equal(a.choices[0].text, b.choices[0].text);
  const texts = new Set();
  for (const seed of [1, 2, 3, 4]) texts.add((await ask(seed)).choices[0].text);
  assert.ok(texts.size > 1, "different seeds at temperature 1.5 all gave the same text");
  assert.ok(![...texts].every((t) => t.startsWith(GREEDY)), "temperature was ignored");
});

test("chat logprobs list every generated token with its top alternatives", async () => {
  const r = await client.chat.completions.create({
    messages: [{ role: "user", content: "Hello" }], max_tokens: 6, logprobs: true, top_logprobs: 2,
  });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  for (const t of lp) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 2);
    assert.equal(t.top_logprobs[0].token, t.token, "greedy takes the most likely token");
  }
});

test("errors: bad key 401, unknown field 400 naming it, unknown model 404 with suggestions, response_format 400", async () => {
  const bad = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
  await assert.rejects(client.completions.create({ prompt: "x", max_tokens: 1, best_of: 2 }),
    (e) => e.status === 400 && /best_of/.test(e.message) && e.param === "best_of");
  await assert.rejects(client.chat.completions.create({ model: "mlx-community/Llama-3.1-8B-Instruct-mlx", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && /Meta-Llama-3\.1-8B-Instruct-4bit/.test(e.message));
  await assert.rejects(client.chat.completions.create({ messages: [{ role: "user", content: "x" }], response_format: { type: "xml" } }),
    (e) => e.status === 400 && e.param === "response_format" && /xml/.test(e.message));
  await assert.rejects(client.chat.completions.create({ messages: [{ role: "user", content: "x" }], temperature: 7 }),
    (e) => e.status === 400 && e.param === "temperature");
});

test("concurrent streams give the same outputs as one at a time", async () => {
  const prompts = ["The best way to", "You will", "Life is", "A fool", "Never", "The man who", "Love", "Money"];
  const one = async (prompt) => {
    const stream = await client.completions.create({ prompt, max_tokens: 20, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.text ?? "";
    return text;
  };
  const sequential = [];
  for (const p of prompts) sequential.push(await one(p));
  const parallel = await Promise.all(prompts.map(one));
  assert.deepEqual(parallel, sequential);
});

test("a client that disconnects mid-stream cancels its generation; the server stays healthy", async () => {
  const controller = new AbortController();
  // EOS (id 1) banned: without the cancellation this would run for 4000 tokens.
  const stream = await client.completions.create(
    { prompt: "The best way to", max_tokens: 4000, stream: true, logit_bias: { "1": -100 } }, { signal: controller.signal });
  let n = 0;
  try {
    for await (const _ of stream) if (++n === 3) controller.abort();
  } catch (e) {
    assert.equal(e.name, "APIUserAbortError");
  }
  const metric = async () => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: "Bearer sk-test" } })).text();
    return Number(/mlxcpp_cancelled_requests_total (\d+)/.exec(text)?.[1] ?? 0);
  };
  for (let i = 0; i < 100 && (await metric()) < 1; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await metric()) >= 1, "the server did not notice the disconnect");
  // The same for a request that is not streamed. The whole context (256 tokens) takes this
  // model ~50 ms, less than any delay a client could wait before leaving, so this client
  // closes its connection as soon as the request is written.
  await new Promise((resolve) => {
    const req = http.request(`${server.url}/v1/completions`, {
      method: "POST", headers: { Authorization: "Bearer sk-test", "Content-Type": "application/json" } });
    req.on("error", () => {});
    req.on("close", resolve);
    req.end(JSON.stringify({ prompt: "The best way to", max_tokens: 4000, logit_bias: { "1": -100 } }), () => req.destroy());
  });
  for (let i = 0; i < 100 && (await metric()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await metric()) >= 2, "the server did not notice the non-streamed disconnect");
  const r = await client.completions.create({ prompt: "The best way to", max_tokens: 12 });
  assert.equal(r.choices[0].text, GREEDY);
});

test("the next turn of a conversation reuses the cached prompt prefix", async () => {
  const messages = [{ role: "user", content: "Tell me a fortune about cats." }];
  const first = await client.chat.completions.create({ messages, max_tokens: 10 });
  messages.push(first.choices[0].message, { role: "user", content: "Another one." });
  const second = await client.chat.completions.create({ messages, max_tokens: 10 });
  assert.ok(second.usage.prompt_tokens_details.cached_tokens > 10,
    `cached_tokens ${second.usage.prompt_tokens_details.cached_tokens} of ${second.usage.prompt_tokens}`);
});

test("malformed JSON, oversized bodies, wrong types, unknown models, missing auth: the right 4xx, and serving goes on", async () => {
  const post = (path, body, headers = { Authorization: "Bearer sk-test" }) =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });
  const cases = [
    [post("/v1/chat/completions", "{\"messages\": [", {}), 401],
    [post("/v1/chat/completions", "{\"messages\": ["), 400],
    [post("/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: "x".repeat(2 << 20) }] })), 413],
    [post("/v1/completions", JSON.stringify({ prompt: "x", max_tokens: "ten" })), 400],
    [post("/v1/completions", JSON.stringify({ prompt: 42 })), 400],
    [post("/v1/chat/completions", JSON.stringify({ model: "no-such/model-4bit", messages: [{ role: "user", content: "x" }] })), 404],
    [fetch(`${server.url}/v1/nothing-here`), 404],
  ];
  for (const [pending, status] of cases) {
    const res = await pending;
    assert.equal(res.status, status, `${res.url}: ${await res.clone().text()}`);
    const body = await res.json();
    assert.ok(body.error?.message, JSON.stringify(body));
  }
  const r = await client.completions.create({ prompt: "The best way to", max_tokens: 12 });
  assert.equal(r.choices[0].text, GREEDY);
});

test("the front: 405, context_length_exceeded, names that are paths, long names, access log", async () => {
  const auth = { Authorization: "Bearer sk-test", "Content-Type": "application/json" };
  const wrong = await fetch(`${server.url}/v1/chat/completions`, { headers: auth });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  const long = await fetch(`${server.url}/v1/completions`, {
    method: "POST", headers: auth, body: JSON.stringify({ prompt: "luck ".repeat(400), max_tokens: 4 }),
  });
  assert.equal(long.status, 400);
  assert.equal((await long.json()).error.code, "context_length_exceeded");
  // A directory (here /etc, which exists) and a missing id get the same 404: the answer
  // says nothing of what exists on the server. A repo-id-shaped name is never a path.
  const ask = (model) => fetch(`${server.url}/v1/completions`, {
    method: "POST", headers: auth, body: JSON.stringify({ model, prompt: "x", max_tokens: 1 }),
  });
  for (const model of ["/etc", "no-such-dir-anywhere", "tests/data", "../../etc"]) {
    const r = await ask(model);
    assert.equal(r.status, 404, model);
    assert.match((await r.json()).error.message, /is not available on this server/, model);
  }
  assert.equal((await ask("x".repeat(300))).status, 400);
  assert.match(server.logs(), /POST \/v1\/completions 200 \d+\+\d+ tokens/);
});

test("CORS preflight allows the headers the browser asks for; a second server cannot take the port", async () => {
  const cors = await startServer(["--cors", "https://app.example"]);
  try {
    const pre = await fetch(`${cors.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-headers"), "authorization,content-type,x-stainless-os");
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example");
    const port = new URL(cors.url).port;
    const { spawnSync } = await import("node:child_process");
    const second = spawnSync(process.env.MLXCPP_BIN ?? new URL("../../build/mlxcpp", import.meta.url).pathname,
                             ["serve", "--port", port], { encoding: "utf8", timeout: 60000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /Address already in use/);
  } finally {
    await cors.stop();
  }
});
