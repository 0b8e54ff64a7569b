// explorer.js - drive temper's web explorer in headless Chromium
// (playwright-core, Debian's chromium) and print, as one JSON object, what
// each view shows; tests/py/test_explorer.py compares it with the API, the
// CLI and numpy. Usage: node explorer.js URL ARTIFACTS_DIR LABEL
// Screenshots: ARTIFACTS_DIR/LABEL-VIEW.png. Every console error, page
// error and request to another origin is reported.
const { chromium } = require("playwright-core");
const path = require("path");

const [url, artifacts, label] = process.argv.slice(2);
const PROMPT = "Lily went to the";
const out = { errors: [], external: [] };

async function shot(page, view) {
    await page.waitForTimeout(250); // the charts' last animation frame
    await page.screenshot({ path: path.join(artifacts, `${label}-${view}.png`), fullPage: true });
}

// the rows of a table as lists of cell texts, and the cells' title (exact value)
const tableRows = (page, sel) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => ({
    cells: [...tr.children].map((td) => td.textContent),
    exact: [...tr.children].map((td) => (td.querySelector("[title]") || td).getAttribute("title")),
    cls: tr.className, data: { ...tr.dataset },
})));

async function tokens(page) {
    await page.click("#tab-tokens");
    await page.fill("#tok-text", "Lily went to the park.\nThe dog was happy!");
    await page.waitForFunction(() => document.querySelectorAll("#tok-chips .chip").length > 0 &&
        document.querySelector("#tok-table tbody tr:last-child td:nth-child(5)") &&
        document.querySelector("#tok-n-tokens b").textContent ===
            String(document.querySelectorAll("#tok-chips .chip").length));
    // wait for the request of the last text to land
    await page.waitForFunction(() => window.temperExplorer.lastTokenized === document.querySelector("#tok-text").value);
    out.tokens = {
        text: await page.inputValue("#tok-text"),
        ids: await page.$$eval("#tok-chips .chip", (cs) => cs.map((c) => Number(c.dataset.id))),
        chip_texts: await page.$$eval("#tok-chips .chip .t", (cs) => cs.map((c) => c.textContent)),
        table: await tableRows(page, "#tok-table"),
        n_tokens: await page.textContent("#tok-n-tokens b"),
        tokens_per_word: await page.getAttribute("#tok-tokens-per-word b span", "title"),
        chars_per_token: await page.getAttribute("#tok-chars-per-token b span", "title"),
    };
    await shot(page, "tokens");
}

// the next-token table once the page shows the given controls
async function nextRows(page, controls) {
    await page.waitForFunction((want) => {
        const l = window.temperExplorer.lastNext;
        if (!l) return false;
        const a = Object.entries(l.controls).sort(), b = Object.entries(want).sort();
        return JSON.stringify(a) === JSON.stringify(b);
    }, controls);
    const rows = await page.$$eval("#next-table tbody tr", (trs) => trs.map((tr) => ({ ...tr.dataset })));
    const ms = await page.evaluate(() => window.temperExplorer.lastNext.ms);
    return { controls, ms, rows: rows.map((r) => ({ id: Number(r.id), logit: Number(r.logit), prob: Number(r.prob),
        processed: r.processed === "" ? null : Number(r.processed), stage: r.stage })) };
}

// set the controls of a panel (prefix next or toy) through its sliders
// (the range inputs; a value beyond a slider's range through its box)
async function setControls(page, prefix, values) {
    for (const [name, v] of Object.entries(values)) {
        const range = `#${prefix}-${name}`;
        const max = Number(await page.getAttribute(range, "max"));
        if (v <= max) await page.fill(range, String(v));
        else await page.fill(range + "-n", String(v));
    }
}

const OFF = { temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1, repetition_penalty: 1 };
const on = (v) => Object.fromEntries(Object.entries(v).filter(([k, x]) => OFF[k] !== x));

async function next(page) {
    await page.click("#tab-next");
    await page.fill("#next-text", PROMPT);
    await page.selectOption("#next-top", "20");
    const cases = [{}, { temperature: 0.5 }, { temperature: 1.7 }, { temperature: 2.5 }, { temperature: 1, top_k: 5 },
                   { top_k: 0, top_p: 0.6 }, { temperature: 0.8, top_k: 10, top_p: 0.9 },
                   { temperature: 1, top_k: 0, top_p: 1, min_p: 0.05 }, { min_p: 0, repetition_penalty: 1.5 },
                   { repetition_penalty: 1, temperature: 0 }];
    out.next = { prompt: PROMPT, cases: [] };
    let state = { ...OFF };
    for (const c of cases) {
        await setControls(page, "next", c);
        state = { ...state, ...c };
        out.next.cases.push(await nextRows(page, on(state)));
        if (c.temperature === 0.8) await shot(page, "next");
    }
    // the playground's computation on random rows (fixed seed), ties and
    // banned tokens included: test_explorer.py asks /temper/softmax for each
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
    const rows = [];
    for (let i = 0; i < 60; i++) {
        const n = 2 + Math.floor(rnd() * 12);
        const logits = Array.from({ length: n }, () => (rnd() < 0.3 ? Math.floor(rnd() * 4) : Math.round((rnd() * 16 - 8) * 1000) / 1000));
        if (rnd() < 0.15) logits[Math.floor(rnd() * n)] = -Infinity;
        const c = { temperature: [0, 0.3, 0.7, 1, 1.5, 2.5][Math.floor(rnd() * 6)], top_k: rnd() < 0.4 ? 1 + Math.floor(rnd() * n) : 0,
                    top_p: rnd() < 0.5 ? Math.round(rnd() * 100) / 100 : 1 };
        rows.push({ logits, c });
    }
    out.toy_random = await page.evaluate((rows) => rows.map(({ logits, c }) => {
        const r = window.temperExplorer.toySoftmax(logits, c);
        return { logits: logits.map((v) => (v === -Infinity ? "-inf" : v)), c, prob: r.prob, processed: r.processed };
    }), rows);
    // the toy playground (seed 003's logits)
    out.toy = { tokens: await page.inputValue("#toy-tokens"), logits: await page.inputValue("#toy-logits"), cases: [] };
    const toyCases = [{}, { temperature: 0.5 }, { temperature: 2, top_k: 4 }, { temperature: 1, top_k: 0, top_p: 0.8 },
                      { temperature: 0.3, top_p: 0.95 }, { temperature: 0, top_p: 1 }];
    let toy = { temperature: 1, top_k: 0, top_p: 1 };
    for (const c of toyCases) {
        await setControls(page, "toy", c);
        toy = { ...toy, ...c };
        const rows = await page.$$eval("#toy-table tbody tr", (trs) => trs.map((tr) => [Number(tr.dataset.prob), Number(tr.dataset.processed)]));
        out.toy.cases.push({ controls: { ...toy }, rows });
    }
}

// the tokens a generation shows: [{id, lp, lpp, forced}]
const shown = (page, sel) => page.$$eval(`${sel} .gt`, (ss) => ss.map((x) => ({
    id: Number(x.dataset.id), lp: Number(x.dataset.lp), lpp: x.dataset.lpp === "" ? null : Number(x.dataset.lpp),
    forced: x.classList.contains("forced") })));

async function waitGenerated(page, count) {
    await page.waitForFunction((n) => {
        const l = window.temperExplorer.lastGenerate;
        return l && l.done && l.id === n - 1 && document.querySelectorAll("#gen-tree button").length === n;
    }, count);
}

async function generate(page) {
    await page.click("#tab-generate");
    await page.fill("#gen-text", PROMPT);
    await page.fill("#gen-max", "12");
    await page.fill("#gen-nprobs", "5");
    await page.fill("#gen-seed", "42");
    out.generate = { prompt: PROMPT, runs: [] };
    // greedy, then sampling with controls
    await page.selectOption("#gen-mode", "greedy");
    await page.click("#gen-run");
    await waitGenerated(page, 1);
    out.generate.runs.push({ tokens: await shown(page, "#gen-out"), command: await page.textContent("#gen-cmd"),
                             body: await page.evaluate(() => window.temperExplorer.lastGenerate.body) });
    // branch: the 2nd alternative of the 3rd token
    const third = (await page.$$("#gen-out .gt"))[2];
    await third.hover();
    await page.waitForSelector("#alt-popup button.alt");
    const alts = await page.$$("#alt-popup button.alt");
    const alt = alts[1];
    const altId = Number(await alt.getAttribute("data-id"));
    await alt.click();
    await waitGenerated(page, 2);
    out.generate.branch = { at: 2, alt: altId, tokens: await shown(page, "#gen-out"),
                            body: await page.evaluate(() => window.temperExplorer.lastGenerate.body),
                            tree: await page.$$eval("#gen-tree li li button", (bs) => bs.length) };
    await page.hover("#gen-out .gt:nth-of-type(4)");
    await shot(page, "generate");
    await page.keyboard.press("Escape");
    await page.selectOption("#gen-mode", "sampling");
    await setControls(page, "gen", { temperature: 0.8, top_k: 20, top_p: 0.95 });
    await page.click("#gen-run");
    await waitGenerated(page, 3);
    out.generate.runs.push({ tokens: await shown(page, "#gen-out"), command: await page.textContent("#gen-cmd"),
                             body: await page.evaluate(() => window.temperExplorer.lastGenerate.body) });
    // side by side
    await page.click("#gen-side-run");
    await page.waitForFunction(() => [...document.querySelectorAll("#gen-side .panel")].every((p) => p.dataset.ids));
    out.generate.side = {
        bodies: await page.evaluate(() => window.temperExplorer.lastSide),
        ids: await page.$$eval("#gen-side .panel", (ps) => ps.map((p) => JSON.parse(p.dataset.ids))),
    };
    await page.evaluate(() => document.querySelector("#gen-side").scrollIntoView());
    await shot(page, "generate-side");
}

async function experiment(page) {
    await page.click("#tab-experiment");
    await page.fill("#exp-text", PROMPT);
    await page.fill("#exp-temps", "0, 0.7, 1.5");
    await page.fill("#exp-n", "3");
    await page.fill("#exp-max", "10");
    await page.fill("#exp-seed", "42");
    await page.click("#exp-run");
    await page.waitForFunction(() => document.querySelectorAll("#exp-grid .cell").length === 3);
    await page.click("#exp-run2");
    await page.waitForFunction(() => document.querySelectorAll("#exp-grid2 .cell[data-figures]").length === 5);
    out.experiment = {
        body: await page.evaluate(() => window.temperExplorer.lastExperiment.body),
        figures: await page.$$eval("#exp-grid .cell", (cs) => cs.map((c) => JSON.parse(c.dataset.figures))),
        settings: await page.evaluate(() => window.temperExplorer.lastSettings),
        settings_figures: await page.$$eval("#exp-grid2 .cell", (cs) => cs.map((c) => JSON.parse(c.dataset.figures))),
    };
    await shot(page, "temperature");
}

async function settings(page) {
    await page.click("#tab-settings");
    await page.waitForSelector("#set-gen-table tbody tr");
    out.settings = {
        info: await page.$$eval("#set-info-table tr", (trs) => trs.map((tr) => [tr.dataset.key, tr.children[1].textContent])),
        gen: await page.$$eval("#set-gen-table tbody tr", (trs) => trs.map((tr) => [tr.dataset.key, tr.dataset.from])),
        requests: await page.$$eval("#set-log details", (ds) => ds.map((d) => ({ path: d.dataset.path,
            curl: d.querySelector("pre.cmd").textContent }))),
    };
    await shot(page, "settings");
}

// the keyboard: Alt+digit switches views, d the theme; a generated token
// reached by focus opens its alternatives with Enter, Enter on one branches
async function keyboard(page) {
    const k = {};
    await page.keyboard.press("Escape");
    await page.keyboard.press("Alt+2");
    k.view_after_alt2 = await page.getAttribute("#tab-next", "aria-selected");
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.keyboard.press("d");
    k.theme = [before, await page.evaluate(() => document.documentElement.dataset.theme)];
    await page.waitForTimeout(300);
    await shot(page, "next-dark");
    await page.keyboard.press("Alt+3");
    const n = await page.$$eval("#gen-tree button", (bs) => bs.length);
    await page.focus("#gen-out .gt:nth-of-type(2)");
    await page.keyboard.press("Enter");
    k.focused_alt = await page.evaluate(() => document.activeElement.classList.contains("alt"));
    await page.keyboard.press("ArrowDown");
    k.alt = Number(await page.evaluate(() => document.activeElement.dataset.id));
    await page.keyboard.press("Enter");
    await waitGenerated(page, n + 1);
    k.prompt = await page.evaluate(() => window.temperExplorer.lastGenerate.body.prompt);
    await shot(page, "generate-dark");
    await page.keyboard.press("Escape");
    await page.keyboard.press("d");
    out.keyboard = k;
}

(async () => {
    const browser = await chromium.launch({
        executablePath: process.env.TEMPER_CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const origin = new URL(url).origin;
        page.on("console", (m) => { if (m.type() === "error") out.errors.push("console: " + m.text()); });
        page.on("pageerror", (e) => out.errors.push("page: " + e.message));
        page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) out.external.push(r.url()); });
        page.setDefaultTimeout(20000);
        await page.goto(url);
        await page.waitForFunction(() => window.temperExplorer && window.temperExplorer.info);
        out.model = await page.textContent("#model");
        for (const [name, fn] of Object.entries({ tokens, next, generate, experiment, settings, keyboard })) {
            try { await fn(page); } catch (e) { out.errors.push(`${name}: ${e.message.split("\n")[0]}`); }
        }
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
