#!/usr/bin/python3
"""Write ~10 MB of English prose for the tokenizer benchmark, built only from
files that Debian packages temper already needs install (scripts/setup.sh):

  1. the docstrings of Python's standard library (/usr/lib/python3.X, package
     python3), in sorted file order, read with the ast module;
  2. Python's language reference topics (pydoc_data/topics.py);
  3. the docstrings of numpy (python3-numpy);
  4. the license texts in /usr/share/common-licenses (base-files).

That is about 4.3 MB of distinct text on Debian 12; it is repeated until the
output reaches the requested size. usage: make_english.py OUT [MEGABYTES]
"""
import ast
import glob
import os
import sys
import sysconfig


def docstrings(root):
    out = []
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            try:
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                     ast.AsyncFunctionDef)):
                    s = ast.get_docstring(node)
                    if s:
                        out.append(s)
    return out


def main():
    out_path = sys.argv[1]
    want = int(float(sys.argv[2] if len(sys.argv) > 2 else 10) * 1e6)
    stdlib = sysconfig.get_paths()["stdlib"]
    parts = docstrings(stdlib)
    sys.path.insert(0, stdlib)
    from pydoc_data.topics import topics
    parts += [topics[k] for k in sorted(topics)]
    for numpy_dir in sorted(glob.glob("/usr/lib/python3/dist-packages/numpy")):
        parts += docstrings(numpy_dir)
    for lic in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(lic):
            with open(lic, encoding="utf-8", errors="replace") as fh:
                parts.append(fh.read())
    text = ("\n\n".join(parts) + "\n\n").encode()
    distinct = len(text)
    data = (text * (want // distinct + 1))[:want]
    while data and (data[-1] & 0xC0) == 0x80:  # do not cut a character
        data = data[:-1]
    if data and data[-1] >= 0xC0:
        data = data[:-1]
    with open(out_path, "wb") as fh:
        fh.write(data)
    print(f"{out_path}: {len(data)} bytes ({distinct} distinct)", file=sys.stderr)


if __name__ == "__main__":
    main()
