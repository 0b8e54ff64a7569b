// views/generate.js - 3. Generate: a continuation streamed token by token
// (POST /temper/generate, "stream": true), each token coloured by its
// probability, its alternatives (raw and after the controls) on hover or
// focus; choosing an alternative continues from it: a branch, kept in a
// history tree so branches can be compared. Greedy, sampling and beam
// search side by side for the same prompt; the seed shown and settable;
// the equivalent `temper generate` command.
import { post, stream } from "../api.js";
import { controlPanel } from "../controls.js";
import { h, num, short } from "../fmt.js";
import { colorLegend, pieceOf, tokenSpan } from "../tokentext.js";

const FLAG = { temperature: "--temp", top_k: "--top-k", top_p: "--top-p", min_p: "--min-p",
               typical_p: "--typical-p", repetition_penalty: "--repeat-penalty" };

const quote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

// The `temper generate` line of a request body (docs/cli.md).
export function commandOf(model, body) {
    const a = ["temper", "generate"];
    if (model) a.push("-m", quote(model));
    if (body.num_beams > 1) a.push("--num-beams", String(body.num_beams));
    else if (body.do_sample === false) a.push("--greedy");
    else a.push("--do-sample");
    for (const [k, f] of Object.entries(FLAG))
        if (body[k] !== undefined && !(body.do_sample === false && k !== "repetition_penalty")) a.push(f, String(body[k]));
    if (body.seed !== undefined) a.push("-s", String(body.seed));
    if (body.max_new_tokens !== undefined) a.push("-n", String(body.max_new_tokens));
    if (body.num_return_sequences > 1) a.push("--num-return-sequences", String(body.num_return_sequences));
    if (body.n_probs) a.push("--n-probs", String(body.n_probs));
    if (Array.isArray(body.prompt)) a.push("--prompt-ids", body.prompt.join(","));
    else a.push(quote(body.prompt));
    return a.join(" ");
}

export default {
    id: "generate",
    title: "Generate",
    mount(el, app) {
        const text = h("textarea", { id: "gen-text", "aria-label": "prompt", spellcheck: "false" });
        text.value = "Lily went to the";
        const mode = h("select", { id: "gen-mode", "aria-label": "decoding" },
            h("option", { value: "sampling" }, "sampling"), h("option", { value: "greedy" }, "greedy"),
            h("option", { value: "beam" }, "beam search (4 beams)"));
        const seed = h("input", { type: "number", id: "gen-seed", min: 0, value: 42, "aria-label": "seed", style: "width:8rem" });
        const maxNew = h("input", { type: "number", id: "gen-max", min: 1, max: 4096, value: 24, "aria-label": "new tokens", style: "width:5rem" });
        const nProbs = h("input", { type: "number", id: "gen-nprobs", min: 0, max: 64, value: 5, "aria-label": "alternatives per token", style: "width:4rem" });
        const colorBy = h("select", { id: "gen-color", "aria-label": "colour by" },
            h("option", { value: "raw" }, "colour: raw probability"), h("option", { value: "processed" }, "colour: after the controls"));
        const ctl = controlPanel("gen", () => {});
        const err = h("div", { class: "error", role: "alert" });
        const out = h("div", { class: "gen-text", id: "gen-out", "aria-live": "off" });
        const statsEl = h("div", { class: "stats", id: "gen-stats" });
        const perToken = h("div", { class: "scroll", id: "gen-table" });
        const cmd = h("pre", { class: "cmd", id: "gen-cmd" });
        const tree = h("div", { class: "tree", id: "gen-tree" });
        const sideEl = h("div", { class: "cols", id: "gen-side" });
        el.append(
            h("h2", {}, "Generate"),
            h("p", { class: "hint" }, "Each token is coloured by its probability; hover or focus one (Tab) for its alternatives, ",
              "raw and after the controls, and click one (or Enter) to continue from it: a new branch in the history."),
            text,
            h("div", { class: "row" }, mode, h("label", {}, "seed ", seed),
              h("button", { type: "button", id: "gen-seed-new", title: "a new random seed", onclick: () => { seed.value = String(Math.floor(Math.random() * 2 ** 31)); } }, "new seed"),
              h("label", {}, "new tokens ", maxNew), h("label", {}, "alternatives ", nProbs), colorBy,
              h("button", { class: "primary", id: "gen-run", onclick: () => generate() }, "Generate"),
              h("button", { id: "gen-side-run", onclick: () => sideBySide() }, "Greedy · sampling · beam side by side")),
            h("div", { class: "cols" },
              h("div", { class: "panel" }, h("h3", {}, "Decoding controls (sampling)"), ctl.el),
              h("div", { class: "panel" }, h("h3", {}, "History"), tree)),
            err,
            h("div", { class: "panel" }, h("div", { class: "row" }, colorLegend()), out, statsEl,
              h("details", {}, h("summary", {}, "Per-token table (seed 001: p and log p of each generated token)"), perToken),
              h("h3", {}, "As a command"), cmd,
              h("button", { id: "gen-copy", onclick: () => copy() }, "Copy as command")),
            h("h3", {}, "Side by side"), sideEl);

        const nodes = []; // {id, parent, label, body, prefix: [tokens], forced, tokens, doc, done}
        let current = null, abort = null;

        function body(prompt) {
            const b = { prompt, max_new_tokens: Number(maxNew.value) || 24, n_probs: Number(nProbs.value) || 0 };
            const v = ctl.all();
            if (mode.value === "greedy") Object.assign(b, { do_sample: false, repetition_penalty: v.repetition_penalty });
            else if (mode.value === "beam") Object.assign(b, { num_beams: 4, do_sample: false, repetition_penalty: v.repetition_penalty });
            else Object.assign(b, { do_sample: true, ...v });
            if (seed.value !== "") b.seed = Number(seed.value);
            return b;
        }

        async function run(node) {
            if (abort) abort.abort();
            abort = new AbortController();
            current = node;
            nodes.push(node);
            renderTree();
            render();
            err.textContent = "";
            try {
                if (node.body.num_beams > 1) { // beams are not streamed
                    const d = await post("/temper/generate", node.body, { signal: abort.signal });
                    node.doc = d;
                    node.tokens = d.sequences[0].logprobs.map((t) => ({ ...t }));
                } else {
                    await stream("/temper/generate", { ...node.body, stream: true }, (ev) => {
                        if (ev.error) throw new Error(ev.error.message);
                        if (ev.token && ev.sequence === 0) {
                            node.tokens.push({ ...ev.token, piece: ev.piece });
                            if (current === node) appendToken(node, node.tokens.length - 1);
                        } else if (ev.version) {
                            node.doc = ev;
                        }
                    }, { signal: abort.signal });
                }
            } catch (e) {
                if (e.name === "AbortError") return;
                err.textContent = e.message;
            }
            node.done = true;
            if (node.doc && node.doc.settings && node.body.seed === undefined) node.seed = node.doc.settings.seed;
            if (current === node) render();
            renderTree();
            app.lastGenerate = node;
        }

        function generate() {
            const prompt = text.value;
            app.prompt = prompt;
            run({ id: nodes.length, parent: null, label: prompt, body: body(prompt), prefix: [], forced: null, tokens: [], doc: null });
        }

        // continue from alternative alt of token t of the shown branch
        async function branch(t, alt) {
            const node = current;
            const all = [...node.prefix, ...(node.forced ? [node.forced] : []), ...node.tokens];
            const k = all.indexOf(t);
            if (k < 0 || !node.doc) return;
            const promptIds = rootIds(node);
            const ids = [...promptIds, ...all.slice(0, k).map((x) => x.id), alt.id];
            const b = { ...node.body, prompt: ids };
            run({ id: nodes.length, parent: node.id, label: `${all.slice(Math.max(0, k - 3), k).map(pieceOf).join("")}[${pieceOf(alt)}]`,
                  body: b, prefix: all.slice(0, k), forced: { ...alt, forced: true, top: t.top }, tokens: [], doc: null,
                  promptIds, promptText: node.promptText ?? node.doc.prompt });
        }

        const rootIds = (node) => node.promptIds || node.doc.prompt_ids;

        function appendToken(node, i) {
            out.append(tokenSpan(node.tokens[i], { colorBy: colorBy.value, onPick: branch }));
        }

        function render() {
            const node = current;
            if (!node) return;
            out.replaceChildren(h("span", { class: "prompt" }, node.promptText ?? (node.doc ? node.doc.prompt : node.body.prompt)));
            for (const t of node.prefix) out.append(tokenSpan(t, { colorBy: colorBy.value, onPick: branch }));
            if (node.forced) out.append(tokenSpan(node.forced, { colorBy: colorBy.value, onPick: null, mark: true }));
            node.tokens.forEach((_, i) => appendToken(node, i));
            const d = node.doc;
            const seq = d && d.sequences && d.sequences[0];
            statsEl.replaceChildren(
                stat(d ? String(d.settings.seed) : "…", "seed", "seed"),
                stat(d ? d.settings.mode : "…", "mode", "mode"),
                stat(seq ? num(seq.sum_logprob, 5) : "…", "sum of log p (after the controls)", "sum"),
                stat(seq ? num(seq.logprobs.reduce((s, t) => s + t.logprob, 0) / Math.max(1, seq.logprobs.length), 4) : "…",
                     "mean raw log p per token", "mean"),
                stat(seq ? seq.finish_reason : "…", "finish", "finish"),
                stat(d ? short(d.timings.tokens_per_second, 3) : "…", "tokens / s", "tps"),
                stat(d && d.settings.stages ? d.settings.stages.replace(/,/g, " → ") : "none", "stages", "stages"));
            const all = [...node.prefix, ...(node.forced ? [node.forced] : []), ...node.tokens];
            perToken.replaceChildren(h("table", { class: "num" },
                h("thead", {}, h("tr", {}, ["#", "token", "id", "p", "log p", "p after the controls", "log p after"].map((x) => h("th", {}, x)))),
                h("tbody", {}, all.map((t, i) => h("tr", { class: t.forced ? "forced" : "" },
                    h("td", {}, String(i + 1)), h("td", { class: "tok" }, JSON.stringify(pieceOf(t)) + (t.forced ? " (chosen)" : "")),
                    h("td", {}, String(t.id)), h("td", {}, num(Math.exp(t.logprob), 6)), h("td", {}, num(t.logprob, 6)),
                    h("td", {}, t.logprob_processed === null ? "removed" : num(Math.exp(t.logprob_processed), 6)),
                    h("td", {}, t.logprob_processed === null ? "–" : num(t.logprob_processed, 6)))))));
            const b = { ...node.body };
            if (b.seed === undefined && d) b.seed = d.settings.seed;
            cmd.textContent = commandOf(app.info && app.info.model, b);
        }

        function renderTree() {
            const kids = (id) => nodes.filter((n) => n.parent === id);
            const item = (n) => h("li", {},
                h("button", { "aria-current": n === current ? "true" : "false", dataset: { node: String(n.id) },
                              title: n.body.prompt.length > 0 ? JSON.stringify(n.body.prompt).slice(0, 200) : "",
                              onclick: () => { current = n; render(); renderTree(); } },
                  `${n.id}: ${n.label.slice(-40)}${n.done ? "" : " …"}`),
                n.doc && n.doc.sequences ? h("span", { class: "hint", title: "sum of the processed log p of the generated tokens" },
                    ` Σ log p ${short(n.doc.sequences[0].sum_logprob, 4)}`) : null,
                kids(n.id).length ? h("ul", {}, kids(n.id).map(item)) : null);
            tree.replaceChildren(nodes.length ? h("ul", {}, kids(null).map(item))
                                              : h("p", { class: "hint" }, "Generate, then pick an alternative of a token to branch."));
        }

        async function sideBySide() {
            const prompt = text.value;
            const base = { prompt, max_new_tokens: Number(maxNew.value) || 24, n_probs: Number(nProbs.value) || 0 };
            if (seed.value !== "") base.seed = Number(seed.value);
            const v = ctl.all();
            const runs = [
                ["greedy", { ...base, do_sample: false, repetition_penalty: v.repetition_penalty }],
                ["sampling", { ...base, do_sample: true, ...v }],
                ["beam search (4 beams)", { ...base, num_beams: 4, do_sample: false, repetition_penalty: v.repetition_penalty }],
            ];
            sideEl.replaceChildren(...runs.map(([name]) => h("div", { class: "panel", dataset: { mode: name } }, h("h3", {}, name), "…")));
            err.textContent = "";
            await Promise.all(runs.map(async ([name, b], i) => {
                const panel = sideEl.children[i];
                try {
                    const d = await post("/temper/generate", b);
                    const seq = d.sequences[0];
                    const txt = h("div", { class: "gen-text side-text" }, h("span", { class: "prompt" }, d.prompt),
                        seq.logprobs.map((t) => tokenSpan(t, { colorBy: colorBy.value })));
                    panel.replaceChildren(h("h3", {}, name), txt, h("div", { class: "stats" },
                        stat(num(seq.sum_logprob, 5), "sum of log p"), stat(seq.finish_reason, "finish"),
                        stat(String(d.settings.seed), "seed")),
                        h("pre", { class: "cmd" }, commandOf(app.info && app.info.model, { ...b, seed: d.settings.seed })));
                    panel.dataset.ids = JSON.stringify(seq.ids);
                } catch (e) {
                    panel.replaceChildren(h("h3", {}, name), h("div", { class: "error" }, e.message));
                }
            }));
            app.lastSide = runs.map(([n, b]) => b);
        }

        async function copy() {
            try { await navigator.clipboard.writeText(cmd.textContent); app.status("command copied"); }
            catch { app.status("select the command and copy it"); }
        }

        function stat(v, label, id) {
            return h("div", { id: id ? "gen-" + id : undefined }, h("b", {}, v), h("span", {}, label));
        }

        colorBy.addEventListener("change", render);
        text.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) generate(); });
        renderTree();
        return { focus: () => text.focus(), generate, sideBySide };
    },
};
