// The APIs agents and their SDKs call, through the official npm clients, unmodified:
// `openai` (responses.create, streamed and not, a function tool round trip, a json_schema,
// previous_response_id), the AI SDK's default OpenAI provider (which calls /v1/responses),
// `@anthropic-ai/sdk` (messages.create streamed and not, a tool use round trip,
// count_tokens, x-api-key), LangChain's withStructuredOutput, and GET /v1/models/{id}.
// The model is a random Qwen-shaped one (the bundled model has no chat template): its
// text is noise, so the tests assert the protocol, the structure that constraints force,
// and what the prompt must have held (token counts).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, generateObject, tool, jsonSchema } from "ai";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { startServer, mlxcpp } from "./server_harness.mjs";

const KEY = "test-key-123";
let dir, server, openai, anthropic;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mlxcpp-agent-apis-"));
  execFileSync(mlxcpp, ["synth", "--like", "qwen2.5-0.5b", "--layers", "2", "-q", "-o", join(dir, "qwen")], { stdio: "ignore" });
  server = await startServer(["-m", join(dir, "qwen"), "--api-key", KEY, "--max-concurrency", "8"]);
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const weather = {
  type: "function", name: "get_weather", description: "Current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 } }, required: ["city"], additionalProperties: false },
};

test("openai responses.create: a response object, its usage and its text", async () => {
  const r = await openai.responses.create({ model: "qwen", input: "Say hello.", instructions: "Be brief.", max_output_tokens: 8, temperature: 0 });
  assert.equal(r.object, "response");
  assert.match(r.id, /^resp_/);
  assert.ok(["completed", "incomplete"].includes(r.status));
  assert.equal(r.output[0].type, "message");
  assert.equal(r.output[0].content[0].type, "output_text");
  assert.equal(r.output_text, r.output[0].content[0].text);
  assert.equal(r.instructions, "Be brief.");
  assert.ok(r.usage.input_tokens > 5 && r.usage.output_tokens > 0 && r.usage.output_tokens <= 8);
  if (r.status === "incomplete") assert.equal(r.incomplete_details.reason, "max_output_tokens");
  // Greedy: the same text again, and the same as Chat Completions gives for the same prompt.
  const again = await openai.responses.create({ model: "qwen", input: "Say hello.", instructions: "Be brief.", max_output_tokens: 8, temperature: 0 });
  assert.equal(again.output_text, r.output_text);
  const chat = await openai.chat.completions.create({ model: "qwen", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello." }], max_tokens: 8, temperature: 0 });
  assert.equal(chat.choices[0].message.content, r.output_text);
});

test("openai responses.create streamed: the event sequence and the same text", async () => {
  const args = { model: "qwen", input: [{ role: "user", content: [{ type: "input_text", text: "Count to three." }] }], max_output_tokens: 12, temperature: 0 };
  const whole = await openai.responses.create(args);
  const stream = await openai.responses.create({ ...args, stream: true });
  const types = [];
  let text = "", final;
  for await (const e of stream) {
    types.push(e.type);
    if (e.type === "response.output_text.delta") text += e.delta;
    if (e.type === "response.completed" || e.type === "response.incomplete") final = e.response;
  }
  assert.deepEqual(types.slice(0, 4), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
  assert.deepEqual(types.slice(-4, -1), ["response.output_text.done", "response.content_part.done", "response.output_item.done"]);
  assert.equal(text, whole.output_text);
  assert.equal(final.output[0].content[0].text, whole.output_text);
});

test("openai responses: a function tool round trip, by previous_response_id and by full input", async () => {
  const first = await openai.responses.create({ model: "qwen", input: "What is the weather in Paris?", tools: [weather], tool_choice: "required", parallel_tool_calls: false, temperature: 0, max_output_tokens: 200 });
  const call = first.output.find((o) => o.type === "function_call");
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, "get_weather");
  assert.equal(typeof JSON.parse(call.arguments).city, "string");
  const result = { type: "function_call_output", call_id: call.call_id, output: "Sunny and 21 degrees in the city today" };
  const second = await openai.responses.create({ model: "qwen", previous_response_id: first.id, input: [result], tools: [weather], max_output_tokens: 5 });
  assert.equal(second.previous_response_id, first.id);
  // The second prompt holds the first (its call) and the tool's output.
  assert.ok(second.usage.input_tokens > first.usage.input_tokens + 8, `${second.usage.input_tokens} vs ${first.usage.input_tokens}`);
  const replay = await openai.responses.create({ model: "qwen", input: [{ role: "user", content: "What is the weather in Paris?" }, { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments }, result], tools: [weather], max_output_tokens: 5 });
  assert.equal(replay.usage.input_tokens, second.usage.input_tokens);
  await assert.rejects(openai.responses.create({ model: "qwen", previous_response_id: "resp_unknown", input: "x" }), (e) => e.status === 404 && /resp_unknown/.test(e.message));
  await assert.rejects(openai.responses.create({ model: "qwen", input: "x", tools: [{ type: "web_search" }] }), (e) => e.status === 400 && /web_search/.test(e.message));
});

test("openai responses: text.format json_schema gives JSON that fits", async () => {
  const schema = { type: "object", properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 120 } }, required: ["name", "age"], additionalProperties: false };
  for (const seed of [1, 2]) {
    const r = await openai.responses.create({ model: "qwen", input: "A person as JSON.", text: { format: { type: "json_schema", name: "person", schema, strict: true } }, temperature: 1, seed, max_output_tokens: 200 });
    if (r.status !== "completed") continue;
    const doc = JSON.parse(r.output_text);
    assert.deepEqual(Object.keys(doc), ["name", "age"]);
    assert.ok(Number.isInteger(doc.age) && doc.age >= 0 && doc.age <= 120);
  }
});

test("AI SDK default OpenAI provider: generateText, streamText, generateObject and a tool", async () => {
  const provider = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY });
  const model = provider("qwen");  // the default provider speaks /v1/responses
  const g = await generateText({ model, prompt: "Hello", maxOutputTokens: 6, temperature: 0 });
  assert.ok(g.usage.inputTokens > 0 && g.usage.outputTokens > 0);
  assert.ok(["stop", "length"].includes(g.finishReason), g.finishReason);
  const s = streamText({ model, prompt: "Hello", maxOutputTokens: 6, temperature: 0 });
  let streamed = "";
  for await (const t of s.textStream) streamed += t;
  assert.equal(streamed, g.text);
  const o = await generateObject({ model, schema: z.object({ colour: z.enum(["red", "green", "blue"]), count: z.number().int().min(1).max(9) }), prompt: "A colour and a count", temperature: 0, maxOutputTokens: 200 });
  assert.ok(["red", "green", "blue"].includes(o.object.colour) && o.object.count >= 1 && o.object.count <= 9);
  const t = await generateText({
    model, prompt: "Weather in Oslo?", toolChoice: "required", temperature: 0, maxOutputTokens: 200,
    tools: { get_weather: tool({ description: "weather", inputSchema: jsonSchema(weather.parameters) }) },
    providerOptions: { openai: { parallelToolCalls: false } },
  });
  assert.equal(t.toolCalls[0].toolName, "get_weather");
  assert.equal(typeof t.toolCalls[0].input.city, "string");
});

test("Anthropic messages.create: a message, a stream of the same text, stop sequences", async () => {
  const args = { model: "qwen", max_tokens: 10, temperature: 0, system: [{ type: "text", text: "Be brief." }], messages: [{ role: "user", content: "Hello there" }] };
  const m = await anthropic.messages.create(args);
  assert.equal(m.type, "message");
  assert.equal(m.role, "assistant");
  assert.equal(m.content[0].type, "text");
  assert.ok(["end_turn", "max_tokens"].includes(m.stop_reason));
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  const events = [];
  const stream = anthropic.messages.stream(args);
  stream.on("streamEvent", (e) => events.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, m.content[0].text);
  assert.equal(events[0], "message_start");
  assert.equal(events.at(-1), "message_stop");
  assert.ok(events.includes("content_block_delta") && events.includes("message_delta"));
  // A stop sequence taken from the greedy text itself ends it there, and is reported.
  const text = m.content[0].text;
  const cut = [...text].slice(2, 4).join("");
  if (cut.trim().length > 0) {
    const s = await anthropic.messages.create({ ...args, stop_sequences: [cut] });
    assert.equal(s.stop_reason, "stop_sequence");
    assert.equal(s.stop_sequence, cut);
    assert.equal(s.content[0].text, text.slice(0, text.indexOf(cut)));
  }
});

test("Anthropic: a tool use round trip, count_tokens, and x-api-key", async () => {
  const tools = [{ name: "get_weather", description: "weather", input_schema: weather.parameters }];
  const first = await anthropic.messages.create({ model: "qwen", max_tokens: 200, temperature: 0, tools, tool_choice: { type: "any", disable_parallel_tool_use: true }, messages: [{ role: "user", content: "Weather in Rome?" }] });
  assert.equal(first.stop_reason, "tool_use");
  const use = first.content.find((b) => b.type === "tool_use");
  assert.match(use.id, /^toolu_/);
  assert.equal(use.name, "get_weather");
  assert.equal(typeof use.input.city, "string");
  const messages = [{ role: "user", content: "Weather in Rome?" }, { role: "assistant", content: first.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "Rain, 12 degrees, wind from the north" }] }];
  const second = await anthropic.messages.create({ model: "qwen", max_tokens: 5, tools, messages });
  const counted = await anthropic.messages.countTokens({ model: "qwen", tools, messages });
  assert.equal(counted.input_tokens, second.usage.input_tokens + (second.usage.cache_read_input_tokens ?? 0));
  const noTools = await anthropic.messages.countTokens({ model: "qwen", messages: [{ role: "user", content: "Weather in Rome?" }] });
  assert.ok(counted.input_tokens > noTools.input_tokens + 10);
  // The Anthropic SDK authenticates with x-api-key; a wrong key is a 401 in Anthropic's shape.
  const wrong = new Anthropic({ baseURL: server.url, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(wrong.messages.create({ model: "qwen", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 401 && e.error?.type === "error" && e.error?.error?.type === "authentication_error");
  await assert.rejects(anthropic.messages.create({ model: "qwen", max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } }] }] }),
    (e) => e.status === 400 && /image/.test(e.message));
});

test("LangChain withStructuredOutput gives an object of the schema", async () => {
  const llm = new ChatOpenAI({ model: "qwen", apiKey: KEY, configuration: { baseURL: `${server.url}/v1` }, temperature: 0, maxTokens: 300, maxRetries: 0 });
  const Joke = z.object({ setup: z.string().max(30), rating: z.number().int().min(1).max(10) });
  for (const method of ["jsonSchema", "functionCalling"]) {
    const out = await llm.withStructuredOutput(Joke, { method }).invoke("Tell me a joke");
    assert.equal(typeof out.setup, "string");
    assert.ok(Number.isInteger(out.rating) && out.rating >= 1 && out.rating <= 10, `${method}: ${JSON.stringify(out)}`);
  }
});

test("GET /v1/models/{id}", async () => {
  const list = await openai.models.list();
  const id = list.data[0].id;
  const m = await openai.models.retrieve(id);
  assert.equal(m.id, id);
  assert.equal(m.object, "model");
  await assert.rejects(openai.models.retrieve("nobody/nothing"), (e) => e.status === 404);
});
