"""svg.py - static pictures as SVG text, written by the library
(temper_svg_heatmap, temper_svg_bars, temper_svg_scatter): the same
pictures as the CLI's --svg FILE. Each function returns the SVG document
as a str; save it with open(path, "w").write(svg), or show it in a
notebook with IPython.display.SVG(svg).
"""
import ctypes

import numpy as np

from ._errors import InvalidArgument, check
from ._lib import SvgBarsSpec, SvgHeatmapSpec, SvgScatterSpec, lib


def _strings(name, v, n):
    """A char ** of n UTF-8 strings (None: NULL), kept alive by the caller."""
    if v is None:
        return None
    v = [str(x) for x in v]
    if len(v) != n:
        raise InvalidArgument(f"{name}: {len(v)} strings for {n} items: give one per item")
    return (ctypes.c_char_p * n)(*[x.encode("utf-8") for x in v])


def _text(v):
    return None if v is None else str(v).encode("utf-8")


def _run(fn, spec):
    out = ctypes.c_void_p()
    n = check(fn(ctypes.byref(spec), ctypes.byref(out)))
    try:
        return ctypes.string_at(out, n).decode("utf-8")
    finally:
        lib.temper_free(out)


def heatmap(values, row_labels=None, col_labels=None, panel_titles=None, title=None, value_name=None,
            vmax=0.0):
    """values: (rows, cols) or (panels, rows, cols), e.g. Model.attention's
    (H, n, n) for one layer; vmax: the value drawn darkest (0: 1)."""
    a = np.ascontiguousarray(values, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise InvalidArgument(f"heatmap: expected (rows, cols) or (panels, rows, cols), got shape {a.shape}")
    p, r, c = a.shape
    keep = [_strings("panel_titles", panel_titles, p), _strings("row_labels", row_labels, r),
            _strings("col_labels", col_labels, c)]
    spec = SvgHeatmapSpec(a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), p, r, c, float(vmax), *keep,
                          _text(title), _text(value_name))
    return _run(lib.temper_svg_heatmap, spec)


def bars(values, labels=None, series_names=None, title=None, value_name=None):
    """values: (n,) or (series, n): horizontal bars, one colour per series."""
    a = np.ascontiguousarray(values, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise InvalidArgument(f"bars: expected (n,) or (series, n), got shape {a.shape}")
    s, n = a.shape
    keep = [_strings("labels", labels, n), _strings("series_names", series_names, s)]
    spec = SvgBarsSpec(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), s, n, keep[0], keep[1], _text(title),
                       _text(value_name))
    return _run(lib.temper_svg_bars, spec)


def scatter(points, labels=None, colors=None, title=None, x_name=None, y_name=None, color_name=None):
    """points: (n, 2), e.g. temper.project's; colors: (n) values for a
    light-to-dark ramp (None: the position)."""
    a = np.ascontiguousarray(points, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise InvalidArgument(f"scatter: expected (n, 2) points, got shape {a.shape}")
    n = a.shape[0]
    col = None if colors is None else np.ascontiguousarray(colors, dtype=np.float64)
    if col is not None and col.shape != (n,):
        raise InvalidArgument(f"scatter: colors has shape {col.shape}: give one value per point ({n})")
    lab = _strings("labels", labels, n)
    spec = SvgScatterSpec(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), n, lab,
                          None if col is None else col.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                          _text(title), _text(x_name), _text(y_name), _text(color_name))
    return _run(lib.temper_svg_scatter, spec)
