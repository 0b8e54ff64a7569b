// main.js - the page shell: the views (tabs, the URL's #view), the model
// line, the theme, the text size and the keyboard. Each view is a module
// {id, title, mount(el, app)} mounted once, on first show, and kept (its
// inputs and results stay when switching). Part 2's views join `views`.
import { get } from "./api.js";
import { retheme, resizeAll } from "./charts.js";
import { h, short } from "./fmt.js";
import tokens from "./views/tokens.js";
import next from "./views/next.js";
import generate from "./views/generate.js";
import experiment from "./views/experiment.js";
import settings from "./views/settings.js";

const views = [tokens, next, generate, experiment, settings];
const app = {
    info: null,            // GET /temper/info
    ready: null,           // resolves with info
    status(msg) { document.getElementById("status").textContent = msg || ""; },
    show: (id) => show(id),
    prompt: "",            // the text last used by a view (the next view starts from it)
};
window.temperExplorer = app; // for the browser tests and the curious

const mounted = new Map(); // id -> {section, api}
const tabs = document.getElementById("tabs");
const main = document.getElementById("view");

views.forEach((v, i) => {
    const b = h("button", { role: "tab", id: "tab-" + v.id, "aria-controls": "view-" + v.id,
                            "aria-selected": "false", tabindex: "-1", title: `${v.title} (Alt+${i + 1})`,
                            onclick: () => show(v.id, true) }, v.title);
    tabs.append(b);
});
tabs.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const i = views.findIndex((v) => v.id === current) + (e.key === "ArrowRight" ? 1 : -1);
    const v = views[(i + views.length) % views.length];
    show(v.id, true);
    document.getElementById("tab-" + v.id).focus();
});

let current = null;
function show(id, push) {
    const v = views.find((x) => x.id === id) || views[0];
    current = v.id;
    for (const b of tabs.children) {
        const on = b.id === "tab-" + v.id;
        b.setAttribute("aria-selected", on ? "true" : "false");
        b.tabIndex = on ? 0 : -1;
    }
    for (const [vid, m] of mounted) m.section.hidden = vid !== v.id;
    if (!mounted.has(v.id)) {
        const section = h("section", { id: "view-" + v.id, role: "tabpanel", "aria-labelledby": "tab-" + v.id });
        main.append(section);
        mounted.set(v.id, { section, api: v.mount(section, app) || {} });
    }
    if (push && location.hash !== "#" + v.id) history.pushState(null, "", "#" + v.id);
    document.title = `${v.title} · temper explorer`;
    requestAnimationFrame(resizeAll);
    return mounted.get(v.id).api;
}
window.addEventListener("popstate", () => show(location.hash.slice(1)));

// ---- theme and text size, remembered by the browser
const root = document.documentElement;
function setTheme(t) {
    root.dataset.theme = t;
    localStorage.setItem("temper-theme", t);
    retheme();
}
root.dataset.theme = localStorage.getItem("temper-theme") ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
document.getElementById("theme").onclick = () => setTheme(root.dataset.theme === "dark" ? "light" : "dark");
let fs = Number(localStorage.getItem("temper-fs")) || 16;
const setFs = (v) => {
    fs = Math.min(32, Math.max(12, v));
    root.style.setProperty("--fs", fs + "px");
    localStorage.setItem("temper-fs", String(fs));
    requestAnimationFrame(retheme); // the charts' text follows
};
setFs(fs);
const help = document.getElementById("help");
document.getElementById("help-btn").onclick = () => help.showModal();

// ---- keyboard
document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;
    if (e.altKey && /^[1-9]$/.test(e.key)) {
        const v = views[Number(e.key) - 1];
        if (v) { e.preventDefault(); show(v.id, true); document.getElementById("tab-" + v.id).focus(); }
        return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "d") setTheme(root.dataset.theme === "dark" ? "light" : "dark");
    else if (e.key === "+" || e.key === "=") setFs(fs + 2);
    else if (e.key === "-") setFs(fs - 2);
    else if (e.key === "?") help.showModal();
    else if (e.key === "/") {
        const t = document.querySelector(`#view-${current} textarea, #view-${current} input[type=text]`);
        if (t) { e.preventDefault(); t.focus(); }
    }
});

// ---- the model
const modelEl = document.getElementById("model");
app.ready = (async () => {
    for (;;) {
        try {
            const info = await get("/temper/info");
            app.info = info;
            const params = info.n_params >= 1e6 ? short(info.n_params / 1e6, 3) + "M" : short(info.n_params / 1e3, 3) + "K";
            modelEl.textContent = `${info.model} · ${info.arch} · ${params} parameters · context ${info.n_ctx}`;
            modelEl.title = `${info.path}\n${info.n_layer} layers, ${info.n_head} heads, n_embd ${info.n_embd}, ` +
                `vocabulary ${info.n_vocab}, ${info.dtype}, ${info.simd}`;
            return info;
        } catch (e) {
            if (e.status !== 503) { modelEl.textContent = "no model: " + e.message; throw e; }
            modelEl.textContent = "loading the model…";
            await new Promise((r) => setTimeout(r, 500));
        }
    }
})();

show(location.hash.slice(1) || views[0].id);
document.body.dataset.ready = "1";
