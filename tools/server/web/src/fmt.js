// fmt.js - numbers with sensible precision, the exact value on hover, and
// token text made visible (spaces, newlines, tabs).

// A number as an element: `digits` significant digits shown, the shortest
// round-trip form in the title (what the API sent).
export function num(x, digits = 4) {
    const s = document.createElement("span");
    s.className = "n";
    s.textContent = short(x, digits);
    if (typeof x === "number") s.title = String(x);
    return s;
}

export function short(x, digits = 4) {
    if (x === null || x === undefined) return "–";
    if (typeof x !== "number") return String(x);
    if (!isFinite(x)) return x > 0 ? "∞" : x < 0 ? "−∞" : "NaN";
    if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x); // counts, ids, sizes: whole
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e6) return String(Number(x.toPrecision(digits)));
    return x.toExponential(digits - 1);
}

// A probability as a percentage: 2 decimals above 1%, more below.
export function pct(p) {
    if (p === null || p === undefined) return "–";
    const v = p * 100;
    if (v === 0) return "0%";
    if (v >= 1) return v.toFixed(2) + "%";
    return Number(v.toPrecision(2)) + "%";
}

export function pctEl(p) {
    const s = document.createElement("span");
    s.className = "n";
    s.textContent = pct(p);
    if (typeof p === "number") s.title = String(p);
    return s;
}

// Token text with its whitespace made visible: space ·, newline ↵, tab →.
export function visible(text) {
    return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "→").replace(/\r/g, "␍");
}

// Small DOM builder: h("div", {class: "x", onclick}, child, "text", ...).
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k === "dataset") Object.assign(el.dataset, v);
        else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
        if (c === null || c === undefined || c === false) continue;
        el.append(c instanceof Node ? c : String(c));
    }
    return el;
}

// Byte length of a string as UTF-8.
export const utf8len = (s) => new TextEncoder().encode(s).length;

// A UTF-8 byte offset of text -> a string index.
export function byteToIndex(text, bytes) {
    const enc = new TextEncoder().encode(text);
    return new TextDecoder().decode(enc.subarray(0, bytes)).length;
}
