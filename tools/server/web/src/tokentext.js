// tokentext.js - generated text as tokens coloured by their probability;
// hovering or focusing a token shows its best alternatives, raw and after
// the decoding controls; choosing one calls onPick (the Generate view
// branches there). Used by every view that shows a generation.
import { h, pct, visible } from "./fmt.js";
// (generated text is shown as text; the alternatives with visible spaces)

// background colour of a probability: red (unlikely) to green (likely),
// through the theme's --tok-s and --tok-l (style.css), so a theme switch
// recolours every token
export function probColor(p) {
    return `hsl(${Math.round(120 * Math.max(0, Math.min(1, p)))} var(--tok-s) var(--tok-l))`;
}

// The text a token adds: the stream's piece when known; else its text,
// with the space of a SentencePiece "▁" word start.
export function pieceOf(t) {
    if (t.piece !== undefined) return t.piece;
    return (t.token && t.token.startsWith("▁") && !t.text.startsWith(" ") ? " " : "") + t.text;
}

const P = (lp) => (lp === null || lp === undefined ? null : Math.exp(lp));

let popup = null;
function closePopup() { if (popup) { popup.remove(); popup = null; } }
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePopup(); });
document.addEventListener("click", (e) => { if (popup && !popup.contains(e.target) && !e.target.classList.contains("gt")) closePopup(); });

// One token as a span. t: {id, token, text, piece, logprob,
// logprob_processed, top}; opts: {colorBy: "raw"|"processed", onPick(t, alt), mark}
export function tokenSpan(t, opts = {}) {
    const p = opts.colorBy === "processed" ? P(t.logprob_processed) : P(t.logprob);
    const s = h("span", { class: "gt" + (opts.mark ? " forced" : ""), tabindex: "0", role: "button",
                          "aria-haspopup": "dialog", dataset: { id: String(t.id), lp: String(t.logprob),
                          lpp: t.logprob_processed === null ? "" : String(t.logprob_processed) },
                          "aria-label": `${JSON.stringify(pieceOf(t))}: probability ${pct(P(t.logprob))}` },
                  pieceOf(t) || "▯");
    s.style.background = probColor(p ?? 0);
    if (opts.mark) s.style.outline = "2px dashed var(--accent)";
    const open = () => showAlternatives(s, t, opts);
    s.addEventListener("mouseenter", open);
    s.addEventListener("focus", open);
    s.addEventListener("click", open);
    s.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === "ArrowDown") {
            e.preventDefault();
            open();
            const b = popup && popup.querySelector("button.alt");
            if (b) b.focus();
        }
    });
    return s;
}

function showAlternatives(anchor, t, opts) {
    closePopup();
    const top = t.top || [];
    popup = h("div", { class: "popup", role: "dialog", "aria-label": "alternatives", id: "alt-popup" },
        h("div", {}, h("b", {}, visible(pieceOf(t))), ` id ${t.id}: raw ${pct(P(t.logprob))}, after the controls `,
          t.logprob_processed === null ? "removed" : pct(P(t.logprob_processed))),
        top.length ? h("table", { class: "num" },
            h("thead", {}, h("tr", {}, h("th", {}, "alternative"), h("th", {}, "raw"), h("th", {}, "after the controls"))),
            h("tbody", {}, top.map((a) => h("tr", { dataset: { id: String(a.id) } },
                h("td", { class: "tok" }, opts.onPick
                    ? h("button", { class: "alt", title: "continue from this token", dataset: { id: String(a.id) },
                                    onclick: (e) => { e.stopPropagation(); closePopup(); opts.onPick(t, a); } },
                        visible(pieceOf(a)) || "∅")
                    : visible(pieceOf(a))),
                h("td", { title: String(P(a.logprob)) }, pct(P(a.logprob))),
                h("td", { title: a.logprob_processed === null ? "removed" : String(P(a.logprob_processed)) },
                  a.logprob_processed === null ? "removed" : pct(P(a.logprob_processed))))))) :
            h("div", { class: "hint" }, "no alternatives recorded (alternatives: 0)"),
        opts.onPick ? h("div", { class: "hint" }, "click an alternative (or Enter on it) to continue from it") : null);
    popup.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { closePopup(); anchor.focus(); }
        const bs = [...popup.querySelectorAll("button.alt")];
        const i = bs.indexOf(document.activeElement);
        if (e.key === "ArrowDown" && i >= 0) { e.preventDefault(); bs[Math.min(bs.length - 1, i + 1)].focus(); }
        if (e.key === "ArrowUp" && i >= 0) { e.preventDefault(); i === 0 ? anchor.focus() : bs[i - 1].focus(); }
    });
    document.body.append(popup);
    const r = anchor.getBoundingClientRect();
    popup.style.left = `${Math.max(4, Math.min(window.scrollX + r.left, window.scrollX + innerWidth - popup.offsetWidth - 8))}px`;
    popup.style.top = `${window.scrollY + r.bottom + 4}px`;
}

// A legend of the colour scale.
export function colorLegend() {
    const bar = h("span", { class: "legend-bar" });
    bar.style.background = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(probColor).join(", ")})`;
    return h("span", { class: "hint" }, "probability 0 ", bar, " 1");
}
