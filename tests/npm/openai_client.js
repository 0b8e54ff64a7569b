// openai_client.js BASE_URL PROMPT - the official OpenAI Node client against
// `temper serve` (tests/py/test_server.py starts the server and checks the
// JSON this prints): echo with log-probs, a streamed and a whole completion
// of the same seed, n = 2, the same seed twice, an error, the model list.
const OpenAI = require("openai");

async function main() {
  const [baseURL, prompt] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey: "none", maxRetries: 0 });
  const out = {};
  out.models = [];
  for await (const m of client.models.list()) out.models.push(m.id);
  const model = out.models[0];
  out.echo = await client.completions.create({
    model, prompt, max_tokens: 0, echo: true, logprobs: 1, temperature: 0,
  });
  const body = { model, prompt, max_tokens: 12, temperature: 1, seed: 3 };
  out.whole = await client.completions.create(body);
  const stream = await client.completions.create({ ...body, stream: true });
  out.streamed = "";
  for await (const chunk of stream) out.streamed += chunk.choices.length ? chunk.choices[0].text : "";
  out.n2 = await client.completions.create({ ...body, n: 2 });
  out.seed_a = (await client.completions.create({ ...body, seed: 9 })).choices[0].text;
  out.seed_b = (await client.completions.create({ ...body, seed: 9 })).choices[0].text;
  try {
    await client.completions.create({ model, prompt, temperature: -2 });
    out.error = { status: 0 };
  } catch (e) {
    out.error = { status: e.status, param: e.param, message: e.message };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
