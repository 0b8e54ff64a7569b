// views/experiment.js - 4. Temperature experiment (seeds 001, 004 §9): N
// samples at each of several temperatures with the same seed, in a grid,
// with per-temperature figures; then the same for decoding settings side
// by side (top-k vs top-p, repetition penalties). One POST
// /temper/generate per grid ("temperatures": the command's --temps) or
// per setting. Figures per column, over its N samples:
//   mean log p    the mean raw log-probability per generated token
//   distinct-1/2  distinct unigrams (bigrams) / all, over the N samples
//   repeated 3-grams  the share of a sample's 3-grams seen earlier in the
//                 same sample, averaged over the samples
//   distinct outputs  distinct texts among the N
import { post } from "../api.js";
import { lines } from "../charts.js";
import { h, num, short } from "../fmt.js";
import { tokenSpan } from "../tokentext.js";

// The figures of a list of sequences ({ids, logprobs, text}).
export function figures(seqs) {
    let lp = 0, n = 0;
    const uni = new Set(), bi = new Set();
    let nUni = 0, nBi = 0, rep = 0;
    for (const s of seqs) {
        s.logprobs.forEach((t) => { lp += t.logprob; n++; });
        s.ids.forEach((id, i) => {
            uni.add(id); nUni++;
            if (i > 0) { bi.add(s.ids[i - 1] + "," + id); nBi++; }
        });
        const seen = new Set();
        let r = 0, tri = 0;
        for (let i = 2; i < s.ids.length; i++) {
            const k = s.ids.slice(i - 2, i + 1).join(",");
            tri++;
            if (seen.has(k)) r++;
            seen.add(k);
        }
        rep += tri ? r / tri : 0;
    }
    return {
        mean_logprob: n ? lp / n : 0,
        distinct_1: nUni ? uni.size / nUni : 0,
        distinct_2: nBi ? bi.size / nBi : 0,
        repeated_3grams: seqs.length ? rep / seqs.length : 0,
        distinct_outputs: new Set(seqs.map((s) => s.text)).size,
    };
}

const SETTINGS = [
    ["top-k 10 (T 0.8)", { do_sample: true, temperature: 0.8, top_k: 10, top_p: 1 }],
    ["top-p 0.9 (T 0.8)", { do_sample: true, temperature: 0.8, top_k: 0, top_p: 0.9 }],
    ["repetition penalty 1.0", { do_sample: true, temperature: 0.8, top_k: 0, top_p: 0.9, repetition_penalty: 1.0 }],
    ["repetition penalty 1.2", { do_sample: true, temperature: 0.8, top_k: 0, top_p: 0.9, repetition_penalty: 1.2 }],
    ["repetition penalty 1.5", { do_sample: true, temperature: 0.8, top_k: 0, top_p: 0.9, repetition_penalty: 1.5 }],
];

export default {
    id: "experiment",
    title: "Temperature",
    mount(el, app) {
        const text = h("input", { type: "text", id: "exp-text", value: "Lily went to the", "aria-label": "prompt", size: 50 });
        const temps = h("input", { type: "text", id: "exp-temps", value: "0, 0.5, 0.7, 1.0, 1.5", "aria-label": "temperatures", size: 22 });
        const n = h("input", { type: "number", id: "exp-n", min: 1, max: 16, value: 3, style: "width:4rem", "aria-label": "samples per column" });
        const maxNew = h("input", { type: "number", id: "exp-max", min: 1, max: 256, value: 30, style: "width:5rem", "aria-label": "new tokens" });
        const seed = h("input", { type: "number", id: "exp-seed", min: 0, value: 42, style: "width:7rem", "aria-label": "seed" });
        const err = h("div", { class: "error", role: "alert" });
        const grid = h("div", { class: "grid-exp", id: "exp-grid" });
        const chartEl = h("div", { class: "chart small", id: "exp-chart" });
        const grid2 = h("div", { class: "grid-exp", id: "exp-grid2" });
        el.append(
            h("h2", {}, "Temperature experiment"),
            h("p", { class: "hint" }, "N samples at each temperature, the same seed for all (seeds 001 and 004 §9); T = 0 is greedy (one sample). ",
              "Figures per column: mean raw log p per token, distinct-1 and distinct-2 over the samples, the share of repeated 3-grams ",
              "within a sample, and the distinct outputs. The other controls are the model's defaults (generation_config.json, else transformers')."),
            h("div", { class: "row" }, h("label", {}, "prompt ", text), h("label", {}, "temperatures ", temps),
              h("label", {}, "samples ", n), h("label", {}, "new tokens ", maxNew), h("label", {}, "seed ", seed),
              h("button", { class: "primary", id: "exp-run", onclick: () => runTemps() }, "Run the grid"),
              h("button", { id: "exp-run2", onclick: () => runSettings() }, "top-k vs top-p, repetition penalties")),
            err, grid, h("div", { class: "panel" }, chartEl), h("h3", {}, "top-k vs top-p, repetition penalties"), grid2);
        const chart = lines(chartEl, { xName: "temperature" });

        function base() {
            return { prompt: text.value, num_return_sequences: Number(n.value) || 3, max_new_tokens: Number(maxNew.value) || 30,
                     seed: Number(seed.value) || 0 };
        }

        function column(title, seqs, prompt, id) {
            const f = figures(seqs);
            return h("div", { class: "cell", dataset: { col: id, figures: JSON.stringify(f) } },
                h("h3", {}, title),
                h("table", { class: "num" }, h("tbody", {},
                    [["mean log p / token", f.mean_logprob], ["distinct-1", f.distinct_1], ["distinct-2", f.distinct_2],
                     ["repeated 3-grams", f.repeated_3grams], ["distinct outputs", `${f.distinct_outputs} / ${seqs.length}`]]
                        .map(([k, v]) => h("tr", {}, h("td", { class: "tok" }, k), h("td", {}, typeof v === "number" ? num(v, 4) : v))))),
                seqs.map((s) => h("div", { class: "sample" }, h("span", { class: "prompt" }, prompt),
                    s.logprobs.map((t) => tokenSpan(t, {})))));
        }

        async function runTemps() {
            const ts = temps.value.split(/[,\s]+/).filter(Boolean).map(Number);
            if (!ts.length || ts.some((t) => !(t >= 0))) { err.textContent = "temperatures: numbers >= 0, separated by commas"; return; }
            err.textContent = "";
            grid.replaceChildren(h("p", { class: "hint" }, "generating…"));
            let d;
            try {
                d = await post("/temper/generate", { ...base(), temperatures: ts });
            } catch (e) { err.textContent = e.message; grid.replaceChildren(); return; }
            grid.style.gridTemplateColumns = `repeat(auto-fit, minmax(min(100%, 16rem), 1fr))`;
            grid.replaceChildren(...d.temperatures.map((r, i) =>
                column(`T = ${r.temperature}${r.greedy ? " (greedy)" : ""}`, r.sequences, d.prompt, String(i))));
            const fs = d.temperatures.map((r) => figures(r.sequences));
            chart.update(d.temperatures.map((r) => r.temperature), [
                { name: "mean log p / token", data: fs.map((f) => f.mean_logprob) },
                { name: "distinct-2", data: fs.map((f) => f.distinct_2) },
                { name: "repeated 3-grams", data: fs.map((f) => f.repeated_3grams) }]);
            app.lastExperiment = { body: { ...base(), temperatures: ts }, figures: fs, seed: d.temperatures[0] && d.settings && d.settings.seed };
        }

        async function runSettings() {
            err.textContent = "";
            grid2.style.gridTemplateColumns = `repeat(auto-fit, minmax(min(100%, 16rem), 1fr))`;
            grid2.replaceChildren(...SETTINGS.map(([name]) => h("div", { class: "cell" }, h("h3", {}, name), "…")));
            const bodies = SETTINGS.map(([, s]) => ({ ...base(), ...s }));
            await Promise.all(bodies.map(async (b, i) => {
                try {
                    const d = await post("/temper/generate", b);
                    grid2.children[i].replaceWith(column(SETTINGS[i][0], d.sequences, d.prompt, "s" + i));
                } catch (e) {
                    grid2.children[i].replaceChildren(h("h3", {}, SETTINGS[i][0]), h("div", { class: "error" }, e.message));
                }
            }));
            app.lastSettings = bodies;
        }

        return { focus: () => text.focus(), runTemps, runSettings, short };
    },
};
