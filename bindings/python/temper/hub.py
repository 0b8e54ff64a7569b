"""hub.py - temper.pull: a model from the Hugging Face Hub into the cache
that transformers uses, with a progress bar in notebooks."""
import ctypes
import sys

from ._errors import check
from ._lib import PULL_CALLBACK, lib

_EVENTS = ("start", "progress", "done", "cached", "retry")


def _event(p):
    return {"event": _EVENTS[p.event] if 0 <= p.event < len(_EVENTS) else p.event,
            "repo": (p.repo or b"").decode(), "file": (p.file or b"").decode(),
            "file_index": p.file_index, "n_files": p.n_files, "file_done": p.file_done,
            "file_total": p.file_total, "done": p.done, "total": p.total,
            "seconds": p.seconds, "message": (p.message or b"").decode() or None}


def _pull_callback(fn):
    """A C progress callback calling fn(dict); fn returning True, or
    raising, cancels the download."""
    def cb(p, user):
        try:
            return 1 if fn(_event(p.contents)) else 0
        except BaseException:
            return 1
    return PULL_CALLBACK(cb)


class _Bar:
    """A progress bar: an HTML bar updated in place in a notebook, else a
    line rewritten on stderr."""

    def __init__(self):
        self.handle = None
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
            if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
                self.handle = display(HTML(""), display_id=True)
                self.HTML = HTML
        except Exception:
            self.handle = None

    def __call__(self, e):
        total = e["total"] or 1
        frac = min(1.0, e["done"] / total)
        text = (f"{e['repo']}: {e['file']} ({e['file_index'] + 1}/{e['n_files']}) "
                f"{e['done'] / 1e6:.1f}/{e['total'] / 1e6:.1f} MB")
        if e["event"] == "retry":
            text += f" retrying: {e['message']}"
        if self.handle is not None:
            self.handle.update(self.HTML(
                f'<div style="font-family:monospace">{text}</div><div style="background:#eee;'
                f'width:300px"><div style="background:#4a7;height:8px;width:{frac * 300:.0f}px">'
                f'</div></div>'))
        else:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        return False


def pull(repo_id, revision=None, force=False, progress=True):
    """Download repo_id ("gpt2", "openai-community/gpt2") at revision
    (branch, tag or commit; default main) into the Hugging Face cache and
    return its snapshot folder. progress: True (a bar), False, or a
    function taking a dict (event, file, done, total, ...) whose True
    return cancels. Downloads resume; LFS files are checked by sha256."""
    if not isinstance(repo_id, str):
        from ._errors import InvalidArgument
        raise InvalidArgument(f"repo_id: expected a str, got {repo_id!r}")
    rid = repo_id + ("@" + revision if revision else "")
    p = lib.temper_pull_default_params()
    p.force = 1 if force else 0
    fn = _Bar() if progress is True else progress or None
    cb = _pull_callback(fn) if fn else None
    if cb is not None:
        p.progress = cb
    buf = ctypes.create_string_buffer(4096)
    n = check(lib.temper_pull(rid.encode(), ctypes.byref(p), buf, len(buf)))
    if progress is True and fn.handle is None:
        print(file=sys.stderr)
    return buf.raw[:n].decode()


def find(repo_id):
    """The cached snapshot folder of repo_id[@REVISION], without network
    (NotFound when it is not in the cache)."""
    buf = ctypes.create_string_buffer(4096)
    n = check(lib.temper_hub_find(repo_id.encode(), buf, len(buf)))
    return buf.raw[:n].decode()
