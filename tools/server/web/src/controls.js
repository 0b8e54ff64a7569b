// controls.js - the decoding controls as sliders with a number box beside
// each (the box takes any value the engine accepts, beyond the slider's
// range too). Each control has the value that turns it off; values() gives
// only the controls that are on, under the API's names (docs/api.md).
import { h } from "./fmt.js";

export const CONTROLS = [
    { name: "temperature", label: "temperature", min: 0, max: 2, step: 0.01, off: 1, value: 1, hint: "0 = greedy" },
    { name: "top_k", label: "top-k", min: 0, max: 100, step: 1, off: 0, value: 0, hint: "0 = off" },
    { name: "top_p", label: "top-p", min: 0, max: 1, step: 0.01, off: 1, value: 1, hint: "1 = off" },
    { name: "min_p", label: "min-p", min: 0, max: 1, step: 0.01, off: 0, value: 0, hint: "0 = off" },
    { name: "typical_p", label: "typical-p", min: 0, max: 1, step: 0.01, off: 1, value: 1, hint: "1 = off" },
    { name: "repetition_penalty", label: "repetition penalty", min: 1, max: 2, step: 0.01, off: 1, value: 1, hint: "1 = off" },
];

// The panel of controls; onChange() after each move (input events).
export function controlPanel(prefix, onChange, only = null) {
    const el = h("div", { class: "controls", role: "group", "aria-label": "decoding controls" });
    const inputs = {};
    for (const c of CONTROLS) {
        if (only && !only.includes(c.name)) continue;
        const id = `${prefix}-${c.name}`;
        const range = h("input", { type: "range", id, min: c.min, max: c.max, step: c.step, value: c.value,
                                   "aria-describedby": id + "-hint" });
        const box = h("input", { type: "number", id: id + "-n", min: c.min, step: c.step, value: c.value,
                                 "aria-label": c.label + " value" });
        const hint = h("span", { id: id + "-hint", class: "off" }, c.hint);
        range.addEventListener("input", () => { box.value = range.value; onChange(); });
        box.addEventListener("input", () => {
            if (box.value === "" || !isFinite(Number(box.value))) return;
            range.value = box.value;
            onChange();
        });
        inputs[c.name] = { range, box, c };
        el.append(h("label", { for: id }, c.label, " ", hint), range, box);
    }
    return {
        el,
        // the controls that are on: {name: value}
        values() {
            const v = {};
            for (const [name, { box, c }] of Object.entries(inputs)) {
                const x = Number(box.value);
                if (isFinite(x) && x !== c.off) v[name] = x;
            }
            return v;
        },
        // every control, off or on
        all() {
            const v = {};
            for (const [name, { box, c }] of Object.entries(inputs)) {
                const x = Number(box.value);
                v[name] = isFinite(x) && box.value !== "" ? x : c.off;
            }
            return v;
        },
        set(name, value) {
            const i = inputs[name];
            if (!i) return;
            i.box.value = String(value);
            i.range.value = String(value);
        },
    };
}
