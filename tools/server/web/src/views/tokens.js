// views/tokens.js - 1. Tokens: the text as the model's tokens (POST
// /temper/tokenize): chips with ids, byte lengths and offsets, visible
// whitespace; counts, characters and words per token (seed 004 §4), and
// a histogram of token lengths.
import { post } from "../api.js";
import { histogram } from "../charts.js";
import { h, num, visible } from "../fmt.js";

// seed 004 §4's examples
const EXAMPLES = [
    "Lily went to the park. She saw a big dog.\nThe dog was happy!",
    "Bonjour, comment allez-vous ?",
    "L'intelligence artificielle révolutionne le monde.",
    "Tokenization est un concept fondamental.",
    "2024 sera une année exceptionnelle!",
    "Machine Learning & Deep Learning",
];

export default {
    id: "tokens",
    title: "Tokens",
    mount(el, app) {
        const text = h("textarea", { id: "tok-text", "aria-label": "text to tokenize", spellcheck: "false" });
        text.value = EXAMPLES[0];
        const examples = h("select", { "aria-label": "examples" },
            h("option", { value: "" }, "examples…"), EXAMPLES.map((x) => h("option", { value: x }, x.split("\n")[0])));
        const special = h("input", { type: "checkbox", id: "tok-special", checked: true });
        const out = h("div", { id: "tok-out" });
        const err = h("div", { class: "error", role: "alert" });
        const statsEl = h("div", { class: "stats", id: "tok-stats" });
        const chips = h("div", { class: "chips", id: "tok-chips" });
        const hist = h("div", { class: "chart small", id: "tok-hist" });
        const table = h("div", { class: "scroll" });
        el.append(
            h("h2", {}, "Tokens"),
            h("p", { class: "hint" }, "The text as the model reads it. ", h("span", { class: "vis" }, "·"),
              " is a space, ", h("span", { class: "vis" }, "↵"), " a newline; each chip shows the token id; hover for its bytes."),
            text,
            h("div", { class: "row" }, examples,
              h("label", {}, special, " add special tokens (BOS)"),
              h("button", { class: "primary", id: "tok-run", onclick: () => run() }, "Tokenize")),
            err, statsEl, chips,
            h("div", { class: "cols" },
              h("div", { class: "panel" }, h("h3", {}, "Token lengths (bytes)"), hist),
              h("div", { class: "panel" }, h("h3", {}, "Tokens"), table)),
            out);
        const chart = histogram(hist, { xName: "bytes" });

        let timer = 0, ctl = null;
        text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 250); });
        text.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) run(); });
        special.addEventListener("change", run);
        examples.addEventListener("change", () => { if (examples.value) { text.value = examples.value; run(); } examples.value = ""; });

        async function run() {
            if (ctl) ctl.abort();
            ctl = new AbortController();
            const t = text.value;
            let d;
            try {
                d = await post("/temper/tokenize", { text: t, add_special: special.checked }, { signal: ctl.signal });
            } catch (e) {
                if (e.name === "AbortError") return;
                err.textContent = e.message;
                return;
            }
            err.textContent = "";
            app.prompt = t;
            render(t, d);
            app.lastTokenized = t;
        }

        function render(t, d) {
            const bytes = new TextEncoder().encode(t);
            const dec = new TextDecoder();
            const lens = d.offsets.map(([a, b]) => b - a);
            const chars = [...t].length;
            const words = t.split(/\s+/).filter(Boolean).length;
            const n = d.n_tokens;
            statsEl.replaceChildren(
                stat(n, "tokens", "n-tokens"),
                stat(chars, "characters"),
                stat(bytes.length, "bytes"),
                stat(words, "words (split on spaces)"),
                stat(n ? chars / n : 0, "characters per token", "chars-per-token"),
                stat(words ? n / words : 0, "tokens per word", "tokens-per-word"));
            chips.replaceChildren(...d.ids.map((id, i) => {
                const [a, b] = d.offsets[i];
                const special = a === b;
                // the text's own bytes (a SentencePiece token's leading space included)
                const piece = special ? d.token_texts[i] : dec.decode(bytes.subarray(a, b));
                const title = `id ${id} · vocabulary entry ${JSON.stringify(d.tokens[i])} · bytes ${a}–${b} (${b - a})` +
                    (special ? " · added by the tokenizer" : "");
                const chip = h("span", { class: "chip" + (special ? " special" : ""), title, dataset: { id: String(id) } },
                    h("span", { class: "t" }, visible(piece)), h("span", { class: "id" }, String(id)));
                return piece.endsWith("\n") ? [chip, h("span", { class: "break" })] : chip;
            }).flat());
            chart.update(lens);
            table.replaceChildren(h("table", { class: "num", id: "tok-table" },
                h("thead", {}, h("tr", {}, ["#", "token", "id", "bytes", "offsets", "vocabulary entry"].map((x) => h("th", {}, x)))),
                h("tbody", {}, d.ids.map((id, i) => h("tr", {},
                    h("td", {}, String(i)), h("td", { class: "tok" }, visible(d.offsets[i][0] === d.offsets[i][1] ? d.token_texts[i] :
                        dec.decode(bytes.subarray(d.offsets[i][0], d.offsets[i][1])))), h("td", {}, String(id)),
                    h("td", {}, String(lens[i])), h("td", {}, `${d.offsets[i][0]}–${d.offsets[i][1]}`),
                    h("td", { class: "tok" }, d.tokens[i]))))));
        }

        function stat(v, label, id) {
            return h("div", { id: id ? "tok-" + id : undefined }, h("b", {}, typeof v === "number" ? num(v, 3) : v), h("span", {}, label));
        }

        app.ready.then(run, () => {});
        return { focus: () => text.focus(), run };
    },
};
