// views/settings.js - 5. Model and settings: the model (GET /temper/info),
// the generation settings in effect with where each value comes from (the
// request, the model's generation_config.json, or transformers' default),
// and every request the page made: its JSON, the curl line that repeats
// it, and the answer (so the same can be done with the API, docs/api.md).
import { curl, onRequest, post, requestLog } from "../api.js";
import { h, num } from "../fmt.js";

const INFO = [["model", "model (-m)"], ["path", "folder"], ["arch", "architecture"], ["n_params", "parameters"],
              ["n_layer", "layers"], ["n_head", "attention heads"], ["n_kv_head", "key/value heads"], ["n_embd", "embedding size"],
              ["n_ff", "MLP size"], ["n_vocab", "vocabulary"], ["n_ctx", "context (positions)"], ["dtype", "weights"],
              ["file_bytes", "weight files (bytes)"], ["load_seconds", "load time (s)"], ["simd", "kernels"],
              ["bos_id", "BOS id"], ["eos_id", "EOS id"], ["settings", "architecture settings"]];

const SKIP = new Set(["mode", "logit_bias", "suppress_tokens", "samplers", "stop", "stages", "from_generation_config", "notes"]);

export default {
    id: "settings",
    title: "Model & settings",
    mount(el, app) {
        const info = h("div", { id: "set-info" });
        const gen = h("div", { id: "set-gen" });
        const log = h("div", { id: "set-log" });
        el.append(h("h2", {}, "Model"), info,
            h("h2", {}, "Generation settings and where each comes from"),
            h("p", { class: "hint" }, "The settings a request with no decoding field gets from this server, as ",
              h("code", {}, "temper generate"), " decides them: the model's generation_config.json first, then transformers' defaults. ",
              "A field a view sends overrides them (its request below shows which)."),
            gen,
            h("h2", {}, "Requests"),
            h("p", { class: "hint" }, "Every request of this page, newest first: its JSON, the curl line that repeats it, the answer."),
            log);

        app.ready.then((d) => {
            info.replaceChildren(h("table", { class: "num", id: "set-info-table" }, h("tbody", {},
                INFO.filter(([k]) => k in d).map(([k, label]) => h("tr", { dataset: { key: k } }, h("td", { class: "tok" }, label),
                    h("td", { class: "tok" }, typeof d[k] === "number" ? num(d[k], 6) : d[k] === null ? "none" : String(d[k])))))));
            return post("/temper/generate", { prompt: "a", max_new_tokens: 1 });
        }).then((d) => {
            const fromFile = new Set((d.settings.from_generation_config || "").split(",").filter(Boolean));
            gen.replaceChildren(h("table", { class: "num", id: "set-gen-table" },
                h("thead", {}, h("tr", {}, ["parameter", "value", "from"].map((x) => h("th", {}, x)))),
                h("tbody", {}, Object.entries(d.settings).filter(([k]) => !SKIP.has(k) && k !== "max_new_tokens" && k !== "seed")
                    .map(([k, v]) => h("tr", { dataset: { key: k, from: fromFile.has(k) ? "generation_config.json" : "default" } },
                        h("td", { class: "tok" }, k), h("td", {}, typeof v === "number" ? num(v, 6) : JSON.stringify(v)),
                        h("td", {}, fromFile.has(k) ? "generation_config.json" : "transformers' default"))))),
                h("p", { class: "hint" }, `mode with no decoding field: ${d.settings.mode}; stages: ${d.settings.stages || "none"}` +
                  (d.settings.notes ? `; notes: ${d.settings.notes}` : "")));
        }).catch((e) => { gen.textContent = e.message; });

        function entry(e) {
            const json = (x) => JSON.stringify(x, null, 1);
            const resp = json(e.response);
            const save = () => {
                const u = URL.createObjectURL(new Blob([JSON.stringify(e.response)], { type: "application/json" }));
                h("a", { href: u, download: `temper-${e.id}.json` }).click();
                setTimeout(() => URL.revokeObjectURL(u), 1000);
            };
            return h("details", { class: "req", dataset: { path: e.path } },
                h("summary", {}, `${e.method} ${e.path} → ${e.status} (${Math.round(e.ms)} ms)`),
                e.body !== undefined ? [h("div", {}, "request"), h("pre", {}, json(e.body))] : null,
                h("div", {}, "the same with curl"), h("pre", { class: "cmd" }, curl(e)),
                h("div", {}, "answer ", h("button", { type: "button", onclick: save }, "save as a JSON file")),
                h("pre", {}, resp.length > 20000 ? resp.slice(0, 20000) + "\n… (the JSON file has it all)" : resp));
        }
        log.replaceChildren(...requestLog().slice().reverse().map(entry));
        onRequest((e) => { log.prepend(entry(e)); while (log.children.length > 200) log.lastChild.remove(); });
        return {};
    },
};
