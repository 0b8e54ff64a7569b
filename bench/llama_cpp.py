#!/usr/bin/python3
"""bench/llama_cpp.py - llama.cpp measured beside temper, in the same run.

    bench/llama_cpp.py setup     # once, under build/llama.cpp/: llama.cpp's
                                 # source from the npm package node-llama-cpp
                                 # (its git bundle), then llama-bench and
                                 # llama-batched-bench (see below)
    bench/llama_cpp.py           # the ratio table (make bench runs this when
                                 # the setup is done)
    bench/llama_cpp.py setup-server  # llama-server for bench/serve.py: a
                                 # cmake build of the tree (its web UI off)

Two ways to get llama.cpp's binaries. Default: the CPU libraries that
node-llama-cpp publishes for the same release (@node-llama-cpp/linux-x64:
libllama, libllama-common, libggml and one libggml-cpu per CPU kind, chosen
at run time as llama.cpp's own multi-variant build does), with llama-bench
and llama-batched-bench compiled from the bundle's source against them (two
C++ files: minutes, where the whole tree takes an hour on 2 busy cores).
LLAMA_CPP_CMAKE=1: the CPU build of the whole tree with cmake and llama.cpp's
defaults (GGML_NATIVE). LLAMA_CPU_VARIANT=haswell (for example) keeps only
that libggml-cpu variant, to compare at temper's TEMPER_SIMD=avx2 on an
AVX-512 machine.

llama.cpp is not part of temper's build and not a dependency: it is only
measured. The models are the random-weight GPT-2 shapes of bench/run
(tests/ref/make_model.py), written as GGUF with the gguf-py package of the
same llama.cpp tree: f32, f16, and q8_0 (llama.cpp's 8-bit format) against
temper's q8 (the f32 file quantized at load).

For each precision, ROUNDS rounds alternate temper's bench_model with
llama-bench (-p 512 -n 128) and llama-batched-bench (8 sequences sharing a
16-token prompt, 64 steps: bench_model's batched decode); the best of the
rounds is kept on each side. The table gives prefill (pp512), decode
(tg128) and batched decode (8 sequences, total tok/s), temper / llama.cpp,
with the memory bandwidth measured by bench_model in the same run (and
decode as a percentage of the roofline) and the SIMD level.

env: BUILD (default build), LLAMA_THREADS or THREADS (thread counts, one
     table each; default 2), SHAPE (default gpt2-124m),
     PRECISIONS (default "f32 f16 q8"), ROUNDS (default 2), LLAMA_CPP (a
     folder holding bin/llama-bench and bin/llama-batched-bench; default
     build/llama.cpp), LLAMA_CPU_VARIANT, LLAMA_CPP_CMAKE (see above).
"""
import glob
import json
import os
import struct
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
ROOT = os.path.join(REPO, "build", "llama.cpp")
SRC = os.path.join(ROOT, "src")
LLAMA = os.environ.get("LLAMA_CPP", os.path.join(SRC, "build") if os.environ.get("LLAMA_CPP_CMAKE") == "1"
                       else ROOT)
THREADS = (os.environ.get("LLAMA_THREADS") or os.environ.get("THREADS") or "2").split()
SHAPE = os.environ.get("SHAPE", "gpt2-124m")
PRECISIONS = os.environ.get("PRECISIONS", "f32 f16 q8").split()
ROUNDS = int(os.environ.get("ROUNDS", "2"))
PY = "/usr/bin/python3"


def tool(name):
    """The llama.cpp binary; with LLAMA_CPU_VARIANT, a copy of the bin folder
    whose only libggml-cpu is that variant."""
    variant = os.environ.get("LLAMA_CPU_VARIANT")
    if not variant:
        return os.path.join(LLAMA, "bin", name)
    src, dst = os.path.join(LLAMA, "bin"), os.path.join(LLAMA, "bin-" + variant)
    if not os.path.isdir(dst):
        os.makedirs(dst)
        for f in os.listdir(src):
            if f.startswith("libggml-cpu-") and f != "libggml-cpu-%s.so" % variant:
                continue
            os.symlink(os.path.realpath(os.path.join(src, f)), os.path.join(dst, f))
    return os.path.join(dst, name)


def available():
    return all(os.access(tool(t), os.X_OK) for t in ("llama-bench", "llama-batched-bench")) and \
        os.path.isdir(os.path.join(SRC, "gguf-py"))


def how_to_enable():
    return ("llama.cpp side by side: not set up (run bench/llama_cpp.py setup once: it needs npm, git and g++ "
            "(cmake with LLAMA_CPP_CMAKE=1), and builds llama.cpp under build/llama.cpp/; then make bench; "
            "bench/llama_cpp.py setup-server also builds llama-server for bench/serve.py)")


# ---- setup --------------------------------------------------------------

def npm_pack(spec, member):
    """Extract member of the npm package spec into ROOT (once)."""
    path = os.path.join(ROOT, spec.replace("@", "").replace("/", "-"))
    if not os.path.exists(os.path.join(path, member)):
        os.makedirs(path, exist_ok=True)
        print("setup: npm pack %s" % spec, flush=True)
        out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=path, check=True, capture_output=True,
                             text=True).stdout.split()
        subprocess.run(["tar", "xzf", out[-1], "--strip-components=1", "package/" + member], cwd=path, check=True)
    return os.path.join(path, member)


def setup():
    os.makedirs(ROOT, exist_ok=True)
    version = subprocess.run(["npm", "view", "node-llama-cpp", "version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    bundle = npm_pack("node-llama-cpp@" + version, "llama/gitRelease.bundle")
    if not os.path.isdir(os.path.join(SRC, ".git")):
        subprocess.run(["git", "clone", "-q", bundle, SRC], check=True)
    if os.environ.get("LLAMA_CPP_CMAKE") == "1":
        subprocess.run(["cmake", "-S", SRC, "-B", os.path.join(SRC, "build"), "-DCMAKE_BUILD_TYPE=Release",
                        "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF"], check=True)
        subprocess.run(["cmake", "--build", os.path.join(SRC, "build"), "-j2", "--target", "llama-bench",
                        "llama-batched-bench"], check=True)
        print("setup: ok (%s)" % tool("llama-bench"))
        return
    libs = npm_pack("@node-llama-cpp/linux-x64@" + version, "bins/linux-x64")
    bindir = os.path.join(ROOT, "bin")
    os.makedirs(bindir, exist_ok=True)
    for so in glob.glob(os.path.join(libs, "*.so")):  # next to the tools: where ggml looks for its CPU variants
        dst = os.path.join(bindir, os.path.basename(so))
        if not os.path.lexists(dst):
            os.symlink(so, dst)
    link = [os.path.join(libs, l) for l in ("libllama-common.so", "libllama.v0.5.0.so", "libggml.v0.5.0.so",
                                            "libggml-base.so")]
    link = [l for l in link if os.path.exists(l)] or sorted(glob.glob(os.path.join(libs, "lib*.so")))
    for name, folder in (("llama-bench", "llama-bench"), ("llama-batched-bench", "batched-bench")):
        d = os.path.join(SRC, "tools", folder)
        srcs = [os.path.join(d, "main.cpp"), os.path.join(d, folder + ".cpp")]
        print("setup: compiling %s" % name, flush=True)
        subprocess.run(["g++", "-O2", "-DNDEBUG", "-std=c++17", "-I" + os.path.join(SRC, "include"),
                        "-I" + os.path.join(SRC, "ggml", "include"), "-I" + os.path.join(SRC, "common"),
                        "-I" + os.path.join(SRC, "vendor"), "-I" + d, *srcs, "-o", os.path.join(bindir, name),
                        *link, "-Wl,-rpath," + libs, "-pthread"], check=True)
    print("setup: ok (%s)" % tool("llama-bench"))


# ---- GGUF of temper's random models --------------------------------------

def read_safetensors(path):
    """name -> numpy array (f32 or f16), from one safetensors file."""
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F16": np.float16}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = mm[base + a:base + b].view(dt).reshape(t["shape"])
    return out


def write_gguf(folder, dtype, out):
    """temper's GPT-2 folder (config.json, model.safetensors, vocab.json,
    merges.txt) as a GGUF of llama.cpp's gpt2 architecture: matrices in
    dtype (f32, f16 or q8_0), vectors in f32; Conv1D weights transposed to
    llama.cpp's (out, in)."""
    sys.path.insert(0, os.path.join(SRC, "gguf-py"))
    import numpy as np
    import gguf
    cfg = json.load(open(os.path.join(folder, "config.json")))
    t = read_safetensors(os.path.join(folder, "model.safetensors"))
    t = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in t.items()}
    w = gguf.GGUFWriter(out, "gpt2")
    w.add_context_length(cfg["n_positions"])
    w.add_embedding_length(cfg["n_embd"])
    w.add_feed_forward_length(cfg.get("n_inner") or 4 * cfg["n_embd"])
    w.add_block_count(cfg["n_layer"])
    w.add_head_count(cfg["n_head"])
    w.add_layer_norm_eps(cfg.get("layer_norm_epsilon", 1e-5))
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype]
    w.add_file_type(ftype)
    vocab = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
    tokens = [None] * len(vocab)
    for s, i in vocab.items():
        tokens[i] = s
    V = cfg["vocab_size"]
    tokens += ["<pad%d>" % i for i in range(len(tokens), V)]
    merges = [l.rstrip("\n") for l in open(os.path.join(folder, "merges.txt"), encoding="utf-8")
              if l.strip() and not l.startswith("#version")]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens[:V])
    types = [gguf.TokenType.NORMAL] * V
    eos = cfg.get("eos_token_id", V - 1)
    types[eos] = gguf.TokenType.CONTROL
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg.get("bos_token_id", eos))
    w.add_eos_token_id(eos)

    def mat(name, a):
        a = np.ascontiguousarray(a, dtype=np.float32)
        if dtype == "f32":
            w.add_tensor(name, a)
        elif dtype == "f16":
            w.add_tensor(name, a.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(a, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def vec(name, a):
        w.add_tensor(name, np.ascontiguousarray(a, dtype=np.float32))

    mat("token_embd.weight", t["wte.weight"])
    mat("output.weight", t["wte.weight"])  # GPT-2's head is tied to wte
    vec("position_embd.weight", t["wpe.weight"])
    for i in range(cfg["n_layer"]):
        p, b = "h.%d." % i, "blk.%d." % i
        vec(b + "attn_norm.weight", t[p + "ln_1.weight"])
        vec(b + "attn_norm.bias", t[p + "ln_1.bias"])
        mat(b + "attn_qkv.weight", t[p + "attn.c_attn.weight"].T)
        vec(b + "attn_qkv.bias", t[p + "attn.c_attn.bias"])
        mat(b + "attn_output.weight", t[p + "attn.c_proj.weight"].T)
        vec(b + "attn_output.bias", t[p + "attn.c_proj.bias"])
        vec(b + "ffn_norm.weight", t[p + "ln_2.weight"])
        vec(b + "ffn_norm.bias", t[p + "ln_2.bias"])
        mat(b + "ffn_up.weight", t[p + "mlp.c_fc.weight"].T)
        vec(b + "ffn_up.bias", t[p + "mlp.c_fc.bias"])
        mat(b + "ffn_down.weight", t[p + "mlp.c_proj.weight"].T)
        vec(b + "ffn_down.bias", t[p + "mlp.c_proj.bias"])
    vec("output_norm.weight", t["ln_f.weight"])
    vec("output_norm.bias", t["ln_f.bias"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_path(dtype):
    """The GGUF of SHAPE in dtype (f32, f16, q8 -> q8_0), written if missing."""
    gdt = "q8_0" if dtype == "q8" else dtype
    src_dtype = "f32" if dtype == "q8" else dtype
    folder = os.path.join(REPO, "build", "models", "%s-%s" % (SHAPE, src_dtype))
    if not os.path.exists(os.path.join(folder, "make_model.json")):
        subprocess.run([PY, os.path.join(REPO, "tests", "ref", "make_model.py"), folder, "--preset", SHAPE,
                        "--dtype", src_dtype], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(ROOT, "models", "%s-%s.gguf" % (SHAPE, gdt))
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        print("writing %s ..." % os.path.relpath(out, REPO), flush=True)
        write_gguf(folder, gdt, out + ".tmp")
        os.rename(out + ".tmp", out)
    return folder, out


# ---- measuring ----------------------------------------------------------

def run_temper(folder, dtype, th):
    cmd = [os.path.join(REPO, BUILD, "bench", "bench_model"), folder, "-t", th, "--reps", "2"]
    if dtype == "q8":
        cmd += ["--quantize", "q8"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("bench_model failed: %s" % r.stderr.strip(), file=sys.stderr)
        return {}
    return dict(l.split(": ", 1) for l in r.stdout.splitlines() if ": " in l)


def run_llama_bench(gguf_file, th):
    r = subprocess.run([tool("llama-bench"), "-m", gguf_file, "-p", "512", "-n", "128", "-t", th, "-r", "2",
                        "-o", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        print("llama-bench failed: %s" % r.stderr.strip()[-2000:], file=sys.stderr)
        return {}
    out = {}
    for row in json.loads(r.stdout):
        if row.get("n_prompt") == 512 and row.get("n_gen") == 0:
            out["pp512"] = row["avg_ts"]
        elif row.get("n_gen") == 128 and row.get("n_prompt") == 0:
            out["tg128"] = row["avg_ts"]
    return out


def run_batched(gguf_file, th):
    """llama-batched-bench, 8 sequences sharing a 16-token prompt, 64 steps:
    the total generation speed (S_TG t/s)."""
    r = subprocess.run([tool("llama-batched-bench"), "-m", gguf_file, "-c", "1024", "-b", "512", "-ub", "512",
                        "-npp", "16", "-ntg", "64", "-npl", "8", "-pps", "-t", th, "--output-format", "jsonl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("llama-batched-bench failed: %s" % r.stderr.strip()[-2000:], file=sys.stderr)
        return None
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            if row.get("pl") == 8:
                return row.get("speed_tg")
    return None


def fmt(v, f="%.1f"):
    return f % v if v else "-"


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def measure(th):
    """[(precision, temper's best figures, llama-bench's, llama-batched-bench's)]
    with th threads, ROUNDS rounds alternating the two."""
    rows = []
    for dtype in PRECISIONS:
        folder, gfile = gguf_path(dtype)
        best_t, best_l, best_b = {}, {}, None
        for rnd in range(ROUNDS):
            print("round %d: %s, %s thread(s): temper ..." % (rnd + 1, dtype, th), flush=True)
            v = run_temper(folder, dtype, th)
            for k in ("prefill_512_tok_s", "decode_tok_s", "batch_8_tok_s"):
                if k in v:
                    best_t[k] = max(best_t.get(k, 0.0), float(v[k]))
            for k in ("bandwidth_gb_s", "roofline_tok_s", "simd"):
                if k in v and k not in best_t:
                    best_t[k] = v[k]
            print("round %d: %s llama.cpp ..." % (rnd + 1, dtype), flush=True)
            lv = run_llama_bench(gfile, th)
            for k, x in lv.items():
                best_l[k] = max(best_l.get(k, 0.0), x)
            b = run_batched(gfile, th)
            if b:
                best_b = max(best_b or 0.0, b)
        rows.append((dtype, best_t, best_l, best_b))
    return rows


def table(th, rows):
    print()
    print("temper vs llama.cpp, %s shapes, random weights, %s threads, same run, alternating, best of %d rounds"
          % (SHAPE, th, ROUNDS))
    head = ("precision", "pp512 temper", "llama.cpp", "ratio", "tg128 temper", "llama.cpp", "ratio", "roof%",
            "batch8 temper", "llama.cpp", "ratio")
    out = []
    for dtype, t, l, b in rows:
        dec = t.get("decode_tok_s")
        try:
            roof = "%.0f" % (100.0 * dec / float(t["roofline_tok_s"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            roof = "-"
        out.append(("%s%s" % (dtype, " / q8_0" if dtype == "q8" else ""),
                      fmt(t.get("prefill_512_tok_s"), "%.0f"), fmt(l.get("pp512"), "%.0f"),
                      ratio(t.get("prefill_512_tok_s"), l.get("pp512")), fmt(dec), fmt(l.get("tg128")),
                      ratio(dec, l.get("tg128")), roof, fmt(t.get("batch_8_tok_s"), "%.0f"), fmt(b, "%.0f"),
                      ratio(t.get("batch_8_tok_s"), b)))
    widths = [max(len(str(r[i])) for r in out + [head]) for i in range(len(head))]
    print("  ".join(h.ljust(wd) for h, wd in zip(head, widths)))
    print("  ".join("-" * wd for wd in widths))
    for r in out:
        print("  ".join(str(c).ljust(wd) for c, wd in zip(r, widths)))
    bws = [t.get("bandwidth_gb_s") for _, t, _, _ in rows if t.get("bandwidth_gb_s")]
    simd = next((t["simd"] for _, t, _, _ in rows if t.get("simd")), "?")
    print("memory bandwidth (bench_model, same run): %s GB/s; temper's SIMD level: %s; load average: %s"
          % (" / ".join(bws) or "?", simd, open("/proc/loadavg").read().split()[0]))
    print("roof%%: temper's decode vs bandwidth / matrix bytes per token. llama.cpp: %s%s"
          % (tool("llama-bench"), " (CPU variant %s)" % os.environ["LLAMA_CPU_VARIANT"]
             if os.environ.get("LLAMA_CPU_VARIANT") else ""))


SERVER_BUILD = os.path.join(ROOT, "server-build")


def server_tool():
    """llama-server (for bench/serve.py): LLAMA_SERVER, or the one `setup-server` builds."""
    return os.environ.get("LLAMA_SERVER") or os.path.join(SERVER_BUILD, "bin", "llama-server")


def setup_server():
    """llama-server needs the whole tree (mtmd, cpp-httplib), so a cmake build of it, CPU only with
    llama.cpp's defaults (GGML_NATIVE), without its web UI, curl or OpenSSL (a long build: ~15 min on 2
    cores)."""
    if not os.path.isdir(os.path.join(SRC, ".git")):
        setup()
    subprocess.run(["cmake", "-S", SRC, "-B", SERVER_BUILD, "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
                    "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=ON",
                    "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", SERVER_BUILD, "-j2", "--target", "llama-server"], check=True)
    print("setup-server: ok (%s)" % server_tool())


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("setup", "setup-server"):
        (setup if sys.argv[1] == "setup" else setup_server)()
        return 0
    if not available():
        print(how_to_enable())
        return 0
    if not os.access(os.path.join(REPO, BUILD, "bench", "bench_model"), os.X_OK):
        print("bench/llama_cpp.py: build bench_model first (make)", file=sys.stderr)
        return 1
    for th in THREADS:
        table(th, measure(th))
    return 0


if __name__ == "__main__":
    sys.exit(main())
