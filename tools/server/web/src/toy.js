// toy.js - softmax with a temperature, then top-k and top-p, on a short
// list of logits typed in the page (the playground of seeds 002/003), as
// `temper softmax` computes them: the logits are float32, logit / T is a
// float32 division, the softmax is in double; top-k keeps the tokens tied
// with the k-th; top-p keeps a token iff the mass of the tokens strictly
// above it is below p (the crossing token kept, ties kept together, a mass
// within float rounding of p counting as reaching it); T = 0 is greedy
// (the probability column splits the mass over tied maxima, the greedy
// choice is the first). tests/py/test_explorer.py compares it with
// `temper softmax --json`.
const F32_EPS = 1.1920928955078125e-7;

export function toySoftmax(logits, { temperature = 1, top_k = 0, top_p = 1 } = {}) {
    const n = logits.length;
    const x = logits.map(Math.fround);
    const m = Math.max(...x);
    const removed = new Array(n).fill(null);
    if (temperature === 0) {
        const ties = x.filter((v) => v === m).length;
        const first = x.indexOf(m);
        return {
            scaled: x.map(() => null),
            prob: x.map((v) => (v === m && m !== -Infinity ? 1 / ties : 0)),
            processed: x.map((_, i) => (i === first ? 1 : 0)),
            removed: removed.map((_, i) => (i === first ? null : "greedy (T = 0)")),
        };
    }
    const T = Math.fround(temperature);
    const scaled = temperature === 1 ? x.slice() : x.map((v) => Math.fround(v / T));
    const prob = softmax(scaled, scaled.map(() => true));
    const keep = scaled.map((v) => v !== -Infinity);
    if (top_k > 0 && top_k < n) {
        const kth = scaled.slice().sort((a, b) => b - a)[top_k - 1];
        scaled.forEach((v, i) => { if (keep[i] && v < kth) { keep[i] = false; removed[i] = "top_k"; } });
    }
    if (top_p < 1) {
        const p = softmax(scaled, keep);
        const target = top_p * (1 - 8 * F32_EPS);
        const best = scaled.indexOf(Math.max(...scaled.filter((_, i) => keep[i])));
        const before = keep.slice();
        scaled.forEach((v, i) => {
            if (!before[i] || i === best) return;
            let above = 0;
            scaled.forEach((w, j) => { if (before[j] && w > v) above += p[j]; });
            if (!(above < target)) { keep[i] = false; removed[i] = "top_p"; }
        });
    }
    return { scaled, prob, processed: softmax(scaled, keep), removed };
}

// softmax over the kept entries (0 elsewhere), in double
function softmax(v, keep) {
    let m = -Infinity;
    v.forEach((x, i) => { if (keep[i] && x > m) m = x; });
    const e = v.map((x, i) => (keep[i] && x !== -Infinity ? Math.exp(x - m) : 0));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
}
