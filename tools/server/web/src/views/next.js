// views/next.js - 2. Next token: the distribution of the token after a
// prompt (POST /temper/probs), raw and after the decoding controls, as a
// table and bars; a removed token is greyed with the stage that removed
// it; entropy, kept tokens and kept mass. Every number is the engine's:
// each move of a slider asks the server again (the last request wins).
// Below, the toy-logits playground of seeds 002/003 on the same chart,
// computed in the page (toy.js) as `temper softmax` does.
import { post } from "../api.js";
import { probBars } from "../charts.js";
import { controlPanel } from "../controls.js";
import { h, num, pct, pctEl, visible } from "../fmt.js";
import { toySoftmax } from "../toy.js";

const FILTERS = ["top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff"];
const FILTER_OFF = { top_k: 0, top_p: 1, min_p: 0, typical_p: 1, epsilon_cutoff: 0, eta_cutoff: 0 };

// The stage that removed each removed token: the controls are asked again
// with the filters after each one turned off (stages run in a fixed order,
// so the first prefix that removes a token names its stage).
async function removedBy(prompt, top, controls, stages, full, signal) {
    const filters = stages.filter((s) => FILTERS.includes(s));
    const by = new Map();
    const removed = (d) => new Set(d.candidates.filter((c) => c.logprob_processed === null).map((c) => c.id));
    const prefixes = filters.slice(0, -1).map((_, i) => {
        const body = { prompt, top, ...controls };
        for (const f of filters.slice(i + 1)) body[f] = FILTER_OFF[f];
        return post("/temper/probs", body, { signal });
    });
    const docs = [...(await Promise.all(prefixes)), full];
    docs.forEach((d, i) => {
        for (const id of removed(d)) if (!by.has(id)) by.set(id, filters[i]);
    });
    return by;
}

export default {
    id: "next",
    title: "Next token",
    mount(el, app) {
        const text = h("textarea", { id: "next-text", "aria-label": "prompt", spellcheck: "false" });
        const topSel = h("select", { id: "next-top", "aria-label": "tokens shown" },
            [10, 20, 50, 100].map((n) => h("option", { value: n, selected: n === 20 }, `top ${n}`)));
        const ctl = controlPanel("next", () => schedule());
        const err = h("div", { class: "error", role: "alert" });
        const statsEl = h("div", { class: "stats", id: "next-stats" });
        const chartEl = h("div", { class: "chart", id: "next-chart" });
        const table = h("div", { class: "scroll" });
        el.append(
            h("h2", {}, "Next token"),
            h("p", { class: "hint" }, "The model's distribution of the next token: the raw probability (softmax of the logits) and ",
              "the probability after the decoding controls, in transformers' order. A greyed token was removed by the stage named."),
            text,
            h("div", { class: "row" }, topSel, h("button", { class: "primary", id: "next-run", onclick: () => run() }, "Compute")),
            h("div", { class: "cols" }, h("div", { class: "panel" }, h("h3", {}, "Decoding controls"), ctl.el, statsEl),
              h("div", { class: "panel" }, chartEl)),
            err, table);
        const chart = probBars(chartEl);

        let timer = 0, abort = null, seq = 0;
        const schedule = () => { clearTimeout(timer); timer = setTimeout(run, 40); };
        text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 300); });
        text.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) run(); });
        topSel.addEventListener("change", run);

        async function run() {
            if (abort) abort.abort();
            abort = new AbortController();
            const my = ++seq;
            const signal = abort.signal;
            const prompt = text.value;
            const top = Number(topSel.value);
            const controls = ctl.values();
            const greedy = controls.temperature === 0;
            const asked = { ...controls };
            if (greedy) for (const k of Object.keys(asked)) if (k !== "repetition_penalty") delete asked[k];
            const t0 = performance.now();
            let d, by = new Map();
            try {
                d = await post("/temper/probs", { prompt, top, ...asked }, { signal });
                if (d.stages) by = await removedBy(prompt, top, asked, d.stages.split(","), d, signal);
            } catch (e) {
                if (e.name === "AbortError") return;
                err.textContent = e.message;
                return;
            }
            if (my !== seq) return;
            err.textContent = "";
            app.prompt = prompt;
            render(d, by, greedy, controls, performance.now() - t0);
        }

        function render(d, by, greedy, controls, ms) {
            const hasProc = d.stages !== undefined;
            let rows = d.candidates.map((c) => ({
                id: c.id, label: c.text, token: c.token, logit: c.logit, raw: c.prob,
                processed: hasProc ? (c.logprob_processed === null ? null : c.prob_processed) : c.prob,
                stage: hasProc && c.logprob_processed === null ? by.get(c.id) || "removed" : null,
            }));
            let stages = d.stages || "";
            let nKept = hasProc ? d.n_kept : d.n_vocab;
            let hProc = hasProc ? d.entropy_processed : d.entropy;
            if (greedy) { // T = 0: transformers' greedy search, the argmax after the processors
                let best = null;
                for (const r of rows) if (r.processed !== null && (!best || r.processed > best.processed)) best = r;
                rows = rows.map((r) => (r === best ? { ...r, processed: 1, stage: null }
                                                    : { ...r, processed: null, stage: r.stage || "greedy (T = 0)" }));
                stages = (stages ? stages + "," : "") + "greedy";
                nKept = 1;
                hProc = 0;
            }
            const kept = rows.filter((r) => r.processed !== null);
            const mass = kept.reduce((s, r) => s + r.raw, 0);
            const complete = kept.length === nKept;
            statsEl.replaceChildren(
                stat(num(d.entropy, 4), "entropy (nats), raw", "entropy"),
                stat(num(hProc, 4), "entropy after the controls", "entropy-processed"),
                stat(String(nKept), `tokens kept of ${d.n_vocab}`, "n-kept"),
                stat(h("span", { title: String(mass) }, (complete ? "" : "≥ ") + pct(mass)), "raw mass kept", "kept-mass"),
                stat(stages ? stages.replace(/,/g, " → ") : "none", "stages, in order", "stages"),
                stat(`${Math.round(ms)} ms`, "engine + page", "ms"));
            chart.update(rows);
            const cum = [];
            rows.reduce((a, r, i) => (cum[i] = a + r.raw), 0);
            table.replaceChildren(h("table", { class: "num", id: "next-table" },
                h("thead", {}, h("tr", {}, ["#", "token", "vocabulary entry", "id", "logit", "probability", "cumulative", "after the controls", "removed by"]
                    .map((x) => h("th", {}, x)))),
                h("tbody", {}, rows.map((r, i) => h("tr", {
                    class: r.processed === null ? "removed" : "",
                    dataset: { id: String(r.id), prob: String(r.raw), logit: String(r.logit),
                               processed: r.processed === null ? "" : String(r.processed), stage: r.stage || "" },
                },
                h("td", {}, String(i + 1)), h("td", { class: "tok" }, visible(r.label)), h("td", { class: "tok" }, r.token),
                h("td", {}, String(r.id)), h("td", {}, num(r.logit, 5)), h("td", {}, pctEl(r.raw)), h("td", {}, pctEl(cum[i])),
                h("td", {}, r.processed === null ? "–" : pctEl(r.processed)), h("td", {}, r.stage || ""))))));
            app.lastNext = { prompt: text.value, controls, rows: rows.length, ms };
        }

        function stat(v, label, id) {
            return h("div", { id: "next-" + id }, h("b", {}, v), h("span", {}, label));
        }

        // ---- the toy-logits playground (seeds 002, 003)
        const toyTokens = h("input", { type: "text", id: "toy-tokens", value: "day,space,furniture,experience,problem,challenge",
                                      "aria-label": "toy tokens, comma-separated", size: 48 });
        const toyLogits = h("input", { type: "text", id: "toy-logits", value: "5,2.2,2.0,4.5,3.0,2.7",
                                      "aria-label": "toy logits, comma-separated", size: 36 });
        const toyCtl = controlPanel("toy", () => toyRun(), ["temperature", "top_k", "top_p"]);
        const toyErr = h("div", { class: "error", role: "alert" });
        const toyChartEl = h("div", { class: "chart small", id: "toy-chart" });
        const toyTable = h("div", {});
        el.append(h("h2", { style: "margin-top:1.5rem" }, "Toy logits"),
            h("p", { class: "hint" }, "Type logits and their labels (seed 003: “This is a wonderful ___”) and slide the temperature: ",
              "softmax(logits / T), then top-k and top-p, as ", h("code", {}, "temper softmax"), " computes them."),
            h("div", { class: "row" }, h("label", {}, "tokens ", toyTokens), h("label", {}, "logits ", toyLogits)),
            toyErr,
            h("div", { class: "cols" }, h("div", { class: "panel" }, toyCtl.el, toyTable), h("div", { class: "panel" }, toyChartEl)));
        const toyChart = probBars(toyChartEl);
        toyTokens.addEventListener("input", toyRun);
        toyLogits.addEventListener("input", toyRun);

        function toyRun() {
            const logits = toyLogits.value.split(/[,\s]+/).filter(Boolean).map((x) => (/^-inf$/i.test(x) ? -Infinity : Number(x)));
            const names = toyTokens.value.split(",").map((s) => s.trim());
            if (!logits.length || logits.some((x) => Number.isNaN(x))) {
                toyErr.textContent = "logits: numbers separated by commas (-inf for a banned token)";
                return;
            }
            toyErr.textContent = "";
            const v = toyCtl.values();
            const res = toySoftmax(logits, { temperature: v.temperature ?? 1, top_k: v.top_k ?? 0, top_p: v.top_p ?? 1 });
            const rows = logits.map((l, i) => ({
                label: names[i] || String(i), logit: l, raw: res.prob[i],
                processed: res.removed[i] ? null : res.processed[i], stage: res.removed[i] || null,
            }));
            toyChart.update(rows, { rawName: `softmax(logits / T)`, procName: "after top-k, top-p" });
            toyTable.replaceChildren(h("table", { class: "num", id: "toy-table" },
                h("thead", {}, h("tr", {}, ["token", "logit", "logit / T", "probability", "after the filters"].map((x) => h("th", {}, x)))),
                h("tbody", {}, rows.map((r, i) => h("tr", { class: r.processed === null ? "removed" : "",
                        dataset: { prob: String(r.raw), processed: r.processed === null ? "0" : String(r.processed) } },
                    h("td", { class: "tok" }, r.label), h("td", {}, num(r.logit, 4)),
                    h("td", {}, res.scaled[i] === null ? "–" : num(res.scaled[i], 4)),
                    h("td", {}, pctEl(r.raw)), h("td", {}, r.processed === null ? "–" : pctEl(r.processed)))))));
        }

        text.value = "Lily went to the";
        app.ready.then(run, () => {});
        toyRun();
        app.toySoftmax = toySoftmax; // the browser test compares it with the engine's on random rows
        return { focus: () => text.focus(), run, controls: ctl, toyControls: toyCtl };
    },
};
