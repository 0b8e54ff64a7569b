"""display.py - how results look in a notebook (_repr_html_: plain HTML
and inline CSS, no script) and with matplotlib (.plot(), when it is
installed)."""
import html
import math

_CELL = "padding:1px 6px;font-family:monospace"


def _esc(s):
    return html.escape(str(s)).replace(" ", "&#9251;") if s.strip() == "" else html.escape(str(s))


def _bar(frac, width=160, color="#4a7"):
    w = 0 if not math.isfinite(frac) else max(0.0, min(1.0, frac)) * width
    return (f'<div style="background:#eee;width:{width}px;height:10px">'
            f'<div style="background:{color};width:{w:.1f}px;height:10px"></div></div>')


def next_token_html(t):
    proc = bool(t.stages)
    head = ["rank", "token", "id", "logit", "prob", ""] + (["processed", ""] if proc else [])
    rows = ["<tr>" + "".join(f'<th style="{_CELL}">{h}</th>' for h in head) + "</tr>"]
    for r in t.rows:
        cells = [r["rank"], f"<code>{_esc(repr(r['token']))}</code>", r["id"], f"{r['logit']:.4f}",
                 f"{r['prob']:.4f}", _bar(r["prob"])]
        if proc:
            cells += [f"{r['prob_processed']:.4f}", _bar(r["prob_processed"], color="#47a")]
        rows.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    cap = f"entropy {t.entropy:.4f} nats"
    if proc:
        cap += f"; after {html.escape(t.stages)}: {t.entropy_processed:.4f} nats, {t.n_kept} tokens kept"
    return f"<table><caption>{cap}</caption>{''.join(rows)}</table>"


def _colour(p):
    """Red (unlikely) to green (likely) background for a probability."""
    h = 120 * max(0.0, min(1.0, p))
    return f"hsl({h:.0f},70%,85%)"


def sequence_html(s):
    spans = []
    for t in s.tokens:
        alts = "\n".join(f"{a['token']!r}: {math.exp(a['logprob']):.4f}" for a in t.top)
        title = f"{t.text!r} p={t.prob:.4f}" + ("\n" + alts if alts else "")
        spans.append(f'<span title="{html.escape(title)}" style="background:{_colour(t.prob)};'
                     f'white-space:pre-wrap">{html.escape(t.text)}</span>')
    return (f'<div style="font-family:monospace">{"".join(spans)}</div>'
            f'<div style="font-size:smaller">finish: {html.escape(s.finish_reason)}; '
            f'hover a token for its probability and alternatives</div>')


def generation_html(g):
    return "".join(f"<div><b>{i + 1}.</b> {sequence_html(s)}</div>" for i, s in enumerate(g))


def _heat(m, tokens, title):
    n = m.shape[0]
    rows = [f'<tr><td></td>' + "".join(
        f'<td style="font-size:9px;writing-mode:vertical-rl">{html.escape(t)}</td>' for t in tokens)
        + "</tr>"]
    for i in range(n):
        cells = "".join(
            f'<td title="{html.escape(tokens[i])} -> {html.escape(tokens[j])}: {m[i, j]:.3f}" '
            f'style="width:14px;height:14px;background:rgba(40,80,200,{float(m[i, j]):.3f})"></td>'
            for j in range(m.shape[1]))
        rows.append(f'<tr><td style="font-size:9px;text-align:right">{html.escape(tokens[i])}</td>'
                    f'{cells}</tr>')
    return (f'<div style="display:inline-block;margin:4px;vertical-align:top"><div>{title}</div>'
            f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>')


def attention_html(a, max_layers=2):
    """Heatmaps of every head of the first max_layers layers (rows: the
    query token, columns: the key token; hover for the value)."""
    tokens = a.tokens or [str(i) for i in range(a.shape[2])]
    out = []
    for li in range(min(max_layers, a.shape[0])):
        layer = a.layers[li] if a.layers else li
        out.append("<div>" + "".join(_heat(a[li, h], tokens, f"layer {layer} head {h}")
                                      for h in range(a.shape[1])) + "</div>")
    if a.shape[0] > max_layers:
        out.append(f"<div>({a.shape[0] - max_layers} more layers: index the array, or "
                   f".plot(layer, head))</div>")
    return "".join(out)


def scores_html(scores):
    head = ["text", "tokens", "log p", "power", "temp", "perplexity"]
    rows = ["<tr>" + "".join(f'<th style="{_CELL}">{h}</th>' for h in head) + "</tr>"]
    for s in scores:
        cells = [html.escape(str(s.text)), s.n_tokens, f"{s.log_prob:.4f}", f"{s.power_score:.4f}",
                 f"{s.temp_score:.4f}", f"{s.perplexity:.4f}"]
        rows.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    return f"<table>{''.join(rows)}</table>"


def _pair_rows(pairs):
    for i, p in enumerate(pairs):
        yield ("Raw log p", f"Pair {i + 1}", p.a.log_prob, p.b.log_prob, p.gap_log_prob)
        yield (f"Power (a={p.a.alpha:g})", "", p.a.power_score, p.b.power_score, p.gap_power)
        yield (f"Temp (T={p.a.temperature:g})", "", p.a.temp_score, p.b.temp_score, p.gap_temp)


def pairs_text(pairs):
    lines = [f"{'Method':<15} | {'Pair':<8} | {'Score A':>12} | {'Score B':>12} | {'Gap (A-B)':>10}"]
    for m, pr, a, b, g in _pair_rows(pairs):
        lines.append(f"{m:<15} | {pr:<8} | {a:>12.4f} | {b:>12.4f} | {g:>10.4f}")
    return "\n".join(lines)


def pairs_html(pairs):
    head = ["Method", "Pair", "Score A", "Score B", "Gap (A-B)"]
    rows = ["<tr>" + "".join(f'<th style="{_CELL}">{h}</th>' for h in head) + "</tr>"]
    for m, pr, a, b, g in _pair_rows(pairs):
        color = "#2a6" if g > 0 else "#c33"
        rows.append(f'<tr><td style="{_CELL}">{html.escape(m)}</td><td style="{_CELL}">{pr}</td>'
                    f'<td style="{_CELL}">{a:.4f}</td><td style="{_CELL}">{b:.4f}</td>'
                    f'<td style="{_CELL};color:{color}">{g:.4f}</td></tr>')
    return f"<table>{''.join(rows)}</table>"


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(".plot() needs matplotlib (apt install python3-matplotlib, or pip "
                          "install matplotlib); the HTML display needs nothing") from None
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _plt().subplots()
    return ax


def plot_next_token(t, ax=None):
    ax = _axes(ax)
    labels = [repr(r["token"]) for r in t.rows]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], [r["prob"] for r in t.rows], width=0.4, label="raw")
    if t.stages:
        ax.bar([i + 0.2 for i in x], [r["prob_processed"] for r in t.rows], width=0.4,
               label=t.stages)
        ax.legend()
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=45)
    ax.set_ylabel("probability")
    return ax


def plot_sequence(s, ax=None):
    ax = _axes(ax)
    ax.plot([t.prob for t in s.tokens], marker="o")
    ax.set_xticks(range(len(s.tokens)))
    ax.set_xticklabels([repr(t.text) for t in s.tokens], rotation=60)
    ax.set_ylabel("probability")
    return ax


def plot_attention(a, layer=0, head=0, ax=None):
    ax = _axes(ax)
    im = ax.imshow(a[layer, head], cmap="viridis", vmin=0, vmax=1)
    tokens = a.tokens or [str(i) for i in range(a.shape[2])]
    ax.set_xticks(range(len(tokens)))
    ax.set_xticklabels(tokens, rotation=60)
    ax.set_yticks(range(len(tokens)))
    ax.set_yticklabels(tokens)
    ax.set_title(f"layer {a.layers[layer] if a.layers else layer}, head {head}")
    ax.figure.colorbar(im, ax=ax)
    return ax
