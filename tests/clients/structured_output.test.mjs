// Structured outputs through the official OpenAI SDK, judged by ajv (JSON Schema draft
// 2020-12 with formats): every schema of tests/data/schemas/corpus.json, sampled at
// temperature 1 on the bundled model (real, small vocabulary) and on a random
// Qwen-shaped model (151k-token vocabulary, random weights: the masks alone keep it
// valid). Every output that ends on its own must validate; unsupported keywords are 400s
// that name them; tool_choice "required" and a named function give parseable tool calls
// whose arguments validate against the tool's parameters.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { startServer, mlxcpp } from "./server_harness.mjs";

const corpus = JSON.parse(readFileSync(new URL("../data/schemas/corpus.json", import.meta.url), "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// Schemas that declare an older draft ($schema: draft-07, as zod emits) are judged by the
// 2020-12 rules, which agree with draft-07 on every keyword the corpus uses.
const judge = ({ $schema, ...schema }) => ajv.compile(schema);

let dir, servers = [];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mlxcpp-structured-"));
  execFileSync(mlxcpp, ["synth", "--like", "qwen2.5-0.5b", "--layers", "2", "-q", "-o", join(dir, "qwen")], { stdio: "ignore" });
  for (const args of [[], ["-m", join(dir, "qwen")]]) {
    const s = await startServer(["--max-concurrency", "8", ...args]);
    servers.push({ ...s, client: new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none", maxRetries: 0 }) });
  }
});
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

for (const [which, label] of [[0, "bundled model"], [1, "random 151k-vocabulary model"]]) {
  test(`${corpus.schemas.length} schemas on the ${label}: every finished output validates`, async () => {
    const { client } = servers[which];
    const results = await Promise.all(corpus.schemas.map(async ({ name, schema }, i) => {
      const r = await client.completions.create({
        prompt: `Answer in JSON (${name}):`, max_tokens: 400, temperature: 1, seed: 100 + i,
        response_format: { type: "json_schema", json_schema: { name: name.replace(/[^a-zA-Z0-9_-]/g, "_"), schema, strict: true } },
      });
      return { name, schema, text: r.choices[0].text, finish: r.choices[0].finish_reason };
    }));
    let finished = 0;
    for (const { name, schema, text, finish } of results) {
      if (finish !== "stop") continue;
      finished++;
      let doc;
      assert.doesNotThrow(() => (doc = JSON.parse(text)), `${name}: not JSON: ${JSON.stringify(text)}`);
      const validate = judge(schema);
      assert.ok(validate(doc), `${name}: ${JSON.stringify(text)} fails: ${ajv.errorsText(validate.errors)}`);
    }
    // Outputs cut by max_tokens (a long string on the random model) cannot be judged.
    assert.ok(finished >= results.length * 0.7, `only ${finished} of ${results.length} finished`);
  });
}

// The JSON-Schema-Test-Suite's draft 2020-12 schemas (tests/data/json-schema-test-suite):
// each is refused with a 400 that names what it cannot enforce, or every finished output
// it constrains validates.
const suiteDir = new URL("../data/json-schema-test-suite/draft2020-12/", import.meta.url);
const suite = [];
for (const file of readdirSync(suiteDir, { recursive: true }).filter((f) => f.endsWith(".json")).sort())
  for (const group of JSON.parse(readFileSync(new URL(file, suiteDir), "utf8")))
    suite.push({ name: `${file}: ${group.description}`, schema: group.schema });

test(`the JSON-Schema-Test-Suite's ${suite.length} schemas: refused by name, or every finished output validates`, async (t) => {
  const { client } = servers[1];
  let refused = 0, finished = 0;
  const results = await Promise.all(suite.map(async ({ name, schema }, i) => {
    try {
      const r = await client.completions.create({
        prompt: "JSON:", max_tokens: 200, temperature: 1, seed: 500 + i,
        response_format: { type: "json_schema", json_schema: { name: "s", schema } },
      });
      return { name, schema, text: r.choices[0].text, finish: r.choices[0].finish_reason };
    } catch (e) {
      assert.equal(e.status, 400, `${name}: ${e.message}`);
      assert.equal(e.param, "response_format");
      assert.ok(e.message.length > 20, `${name}: ${e.message}`);  // (unit tests check each reason)
      return null;
    }
  }));
  for (const r of results) {
    if (!r) { refused++; continue; }
    if (r.finish !== "stop") continue;
    finished++;
    const judge2020 = new Ajv2020({ strict: false });
    addFormats(judge2020);
    const validate = judge2020.compile(r.schema);
    assert.ok(validate(JSON.parse(r.text)), `${r.name}: ${JSON.stringify(r.text)} fails: ${judge2020.errorsText(validate.errors)}`);
  }
  t.diagnostic(`${refused} refused, ${finished} finished and valid, of ${suite.length}`);
  assert.ok(refused < suite.length / 2 && finished > suite.length / 3, `${refused} refused, ${finished} finished of ${suite.length}`);
});

test("unsupported keywords: a 400 that names each, never a loosened schema", async () => {
  const { client } = servers[0];
  for (const { keyword, schema } of corpus.unsupported) {
    await assert.rejects(
      client.completions.create({ prompt: "x", max_tokens: 5, response_format: { type: "json_schema", json_schema: { name: "s", schema } } }),
      (e) => e.status === 400 && e.param === "response_format" && e.message.includes(keyword), keyword);
  }
});

test("json_object mode and a GBNF grammar", async () => {
  const { client } = servers[1];
  const o = await client.completions.create({ prompt: "{", max_tokens: 300, temperature: 1, seed: 3, response_format: { type: "json_object" } });
  if (o.choices[0].finish_reason === "stop") assert.equal(typeof JSON.parse(o.choices[0].text), "object");
  const g = await client.completions.create({ prompt: "x", max_tokens: 30, temperature: 1, seed: 4,
    grammar: 'root ::= ("yes" | "no") ", " [0-9]{2} "."' });
  assert.match(g.choices[0].text, /^(yes|no), [0-9]{2}\.$/);
  assert.equal(g.choices[0].finish_reason, "stop");
});

const tools = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 }, unit: { enum: ["c", "f"] } }, required: ["city", "unit"] } } },
  { type: "function", function: { name: "add", parameters: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] } } },
];

test("tool_choice required and a named function give calls whose arguments validate", async () => {
  const { client } = servers[1];
  for (const [choice, names] of [["required", ["get_weather", "add"]], [{ type: "function", function: { name: "add" } }, ["add"]]]) {
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({ messages: [{ role: "user", content: "Weather in Paris?" }], tools,
        tool_choice: choice, temperature: 1, seed, max_tokens: 200 });
      const m = r.choices[0];
      if (m.finish_reason === "length") continue;
      assert.equal(m.finish_reason, "tool_calls", JSON.stringify(m));
      for (const call of m.message.tool_calls) {
        assert.ok(names.includes(call.function.name), call.function.name);
        const schema = tools.find((t) => t.function.name === call.function.name).function.parameters;
        const validate = judge(schema);
        assert.ok(validate(JSON.parse(call.function.arguments)), `${call.function.arguments}: ${ajv.errorsText(validate.errors)}`);
      }
    }
  }
});
