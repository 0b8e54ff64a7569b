// charts.js - the chart components, on Apache ECharts (canvas renderer,
// only the parts used are bundled). Each component takes an element and
// returns {update(data), el}; charts follow the page's theme and size.
// Part 2's views (attention heatmaps, embedding scatters, line charts)
// register their series types here too.
import * as echarts from "echarts/core";
import { BarChart, LineChart, ScatterChart, HeatmapChart } from "echarts/charts";
import { GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, TitleComponent,
         MarkLineComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { pct, short, visible } from "./fmt.js";

echarts.use([BarChart, LineChart, ScatterChart, HeatmapChart, GridComponent, TooltipComponent,
             LegendComponent, VisualMapComponent, TitleComponent, MarkLineComponent, CanvasRenderer]);

const live = new Set(); // {el, chart, option}

function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
// a font size in pixels at the page's text size (+ / - for projectors)
const S = (px) => Math.round(px * (parseFloat(getComputedStyle(document.documentElement).fontSize) || 16) / 16);
const dark = () => document.documentElement.dataset.theme === "dark";

function make(el) {
    const c = { el, chart: echarts.init(el, dark() ? "dark" : null, { renderer: "canvas" }), option: null };
    c.chart.getZr().dom.setAttribute("aria-hidden", "true"); // the tables beside say the same, readably
    live.add(c);
    return c;
}

// option: an ECharts option, or a function making it (called again on a
// theme change, for colours read from the page's CSS)
function set(c, option) {
    c.option = option;
    const o = typeof option === "function" ? option() : option;
    const axis = { axisLabel: { fontSize: S(12) }, nameTextStyle: { fontSize: S(12) } };
    const each = (a) => (Array.isArray(a) ? a.map((x) => merge(x)) : a && merge(a));
    const merge = (a) => ({ ...a, axisLabel: { ...axis.axisLabel, ...(a.axisLabel || {}) }, nameTextStyle: axis.nameTextStyle });
    c.chart.setOption({ backgroundColor: "transparent", textStyle: { fontSize: S(13) }, ...o,
                        xAxis: each(o.xAxis), yAxis: each(o.yAxis),
                        legend: o.legend && { ...o.legend, textStyle: { fontSize: S(12) } } }, true);
}

// The theme changed: charts are made again in the new one.
export function retheme() {
    for (const c of live) {
        if (!c.el.isConnected) { c.chart.dispose(); live.delete(c); continue; }
        c.chart.dispose();
        c.chart = echarts.init(c.el, dark() ? "dark" : null, { renderer: "canvas" });
        if (c.option) set(c, c.option);
    }
}
window.addEventListener("resize", () => { for (const c of live) if (c.el.isConnected) c.chart.resize(); });
export function resizeAll() { for (const c of live) if (c.el.isConnected) c.chart.resize(); }

// Probability bars: one row per token, the raw probability and the one
// after the decoding controls side by side; a token a stage removed has a
// grey raw bar and its stage in the label. rows: [{label, raw,
// processed (null: removed), stage}]; opts.processed: show that series.
export function probBars(el) {
    const c = make(el);
    return {
        el,
        update(rows, { processed = true, rawName = "raw", procName = "after the controls" } = {}) {
            el.style.height = `${Math.max(180, rows.length * S(processed ? 30 : 20) + S(70))}px`;
            c.chart.resize();
            const build = () => {
                const removedColor = css("--removed"), fg = css("--fg");
                const labels = rows.map((r) => visible(r.label) + (r.stage ? `  ✕ ${r.stage}` : ""));
                const series = [{
                    name: rawName, type: "bar", barGap: "10%",
                    data: rows.map((r) => ({ value: r.raw, itemStyle: r.stage ? { color: removedColor } : undefined })),
                    label: { show: true, position: "right", formatter: (p) => pct(p.value), fontSize: S(11) },
                }];
                if (processed)
                    series.push({
                        name: procName, type: "bar",
                        data: rows.map((r) => r.processed ?? 0),
                        label: { show: true, position: "right", fontSize: S(11),
                                 formatter: (p) => (rows[p.dataIndex].processed === null ? "" : pct(p.value)) },
                    });
                return {
                    animationDurationUpdate: 120,
                    grid: { left: 8, right: 70, top: 30, bottom: 10, containLabel: true },
                    legend: { top: 0, data: series.map((s) => s.name) },
                    tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                               valueFormatter: (v) => (typeof v === "number" ? `${pct(v)}  (${v})` : v) },
                    xAxis: { type: "value", max: (v) => Math.min(1, Math.ceil(Math.max(v.max * 1.1, 0.05) * 20) / 20),
                             axisLabel: { formatter: (v) => pct(v) } },
                    yAxis: { type: "category", inverse: true, data: labels,
                             axisLabel: { fontFamily: "monospace", width: 180, overflow: "truncate",
                                         color: (v, i) => (rows[i] && rows[i].stage ? removedColor : fg) } },
                    series,
                };
            };
            set(c, build);
        },
    };
}

// A histogram of whole-number values (token lengths): one bar per value.
export function histogram(el, { xName = "", yName = "tokens" } = {}) {
    const c = make(el);
    return {
        el,
        update(values) {
            const counts = new Map();
            for (const v of values) counts.set(v, (counts.get(v) || 0) + 1);
            const max = Math.max(0, ...values);
            const xs = Array.from({ length: max + 1 }, (_, i) => i);
            set(c, {
                grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
                tooltip: { trigger: "axis" },
                xAxis: { type: "category", data: xs, name: xName, nameLocation: "middle", nameGap: 26 },
                yAxis: { type: "value", name: yName, minInterval: 1 },
                series: [{ type: "bar", data: xs.map((x) => counts.get(x) || 0) }],
            });
        },
    };
}

// Lines over a category axis (temperatures): series [{name, data}].
export function lines(el, { xName = "", yName = "" } = {}) {
    const c = make(el);
    return {
        el,
        update(xs, series) {
            set(c, {
                grid: { left: 8, right: 20, top: 30, bottom: 8, containLabel: true },
                legend: { top: 0 },
                tooltip: { trigger: "axis", valueFormatter: (v) => short(v, 5) },
                xAxis: { type: "category", data: xs.map(String), name: xName, nameLocation: "middle", nameGap: 26 },
                yAxis: { type: "value", name: yName, scale: true },
                series: series.map((s) => ({ type: "line", symbolSize: 8, ...s })),
            });
        },
    };
}

export { echarts };
