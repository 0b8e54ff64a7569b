// api.js - the page's only way to the server: same-origin requests to
// temper's API (docs/api.md), each kept in a log (the Settings view shows
// every request's JSON and the curl line that repeats it). An API key
// (temper serve --api-key) is asked for on the first 401 and kept for the
// browser tab only.

const log = [];          // {id, method, path, body, status, ms, response}
const listeners = new Set();
let nextId = 1;

export function requestLog() { return log; }
export function onRequest(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function headers() {
    const h = { "Content-Type": "application/json" };
    const key = sessionStorage.getItem("temper-api-key");
    if (key) h.Authorization = "Bearer " + key;
    return h;
}

function record(entry) {
    log.push(entry);
    if (log.length > 200) log.shift();
    for (const fn of listeners) fn(entry);
}

export class ApiError extends Error {
    constructor(status, body) {
        const e = body && body.error;
        super(e && e.message ? e.message : `HTTP ${status}`);
        this.status = status;
        this.param = e && e.param;
    }
}

// One JSON request. signal: an AbortSignal (a newer request replaces it).
export async function call(method, path, body, { signal, retried } = {}) {
    const t0 = performance.now();
    const entry = { id: nextId++, method, path, body, status: 0, ms: 0, response: null };
    let r;
    try {
        r = await fetch(path, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
        if (e.name === "AbortError") throw e;
        entry.response = { error: { message: "the server does not answer: " + e.message } };
        record(entry);
        throw new ApiError(0, entry.response);
    }
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = { error: { message: text.slice(0, 300) } }; }
    entry.status = r.status;
    entry.ms = performance.now() - t0;
    entry.response = json;
    record(entry);
    if (r.status === 401 && !retried) {
        const key = prompt("This server needs an API key (temper serve --api-key):");
        if (key) {
            sessionStorage.setItem("temper-api-key", key);
            return call(method, path, body, { signal, retried: true });
        }
    }
    if (!r.ok) throw new ApiError(r.status, json);
    return json;
}

export const get = (path, opts) => call("GET", path, undefined, opts);
export const post = (path, body, opts) => call("POST", path, body, opts);

// A streamed request (Server-Sent Events): onEvent(parsed JSON) for each
// "data:" line until [DONE]. The log keeps the body and the events.
export async function stream(path, body, onEvent, { signal } = {}) {
    const t0 = performance.now();
    const entry = { id: nextId++, method: "POST", path, body, status: 0, ms: 0, response: [] };
    const r = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body), signal });
    entry.status = r.status;
    if (!r.ok) {
        const text = await r.text();
        let json;
        try { json = JSON.parse(text); } catch { json = { error: { message: text } }; }
        entry.response = json;
        record(entry);
        throw new ApiError(r.status, json);
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let k;
            while ((k = buf.indexOf("\n\n")) >= 0) {
                const ev = buf.slice(0, k);
                buf = buf.slice(k + 2);
                for (const line of ev.split("\n")) {
                    if (!line.startsWith("data: ")) continue;
                    const data = line.slice(6);
                    if (data === "[DONE]") continue;
                    const obj = JSON.parse(data);
                    entry.response.push(obj);
                    onEvent(obj);
                }
            }
        }
    } finally {
        entry.ms = performance.now() - t0;
        record(entry);
    }
}

// The curl line that repeats a request.
export function curl(entry) {
    const url = location.origin + entry.path;
    if (entry.method === "GET") return `curl -s ${url}`;
    const body = JSON.stringify(entry.body).replace(/'/g, "'\\''");
    return `curl -s ${url} -H 'Content-Type: application/json' -d '${body}'`;
}
