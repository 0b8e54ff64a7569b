#!/usr/bin/python3
"""seeds.py OUT - seed corpora for the libFuzzer targets of tests/fuzz, one
folder per target under OUT, made from the shared fixtures (../shared/fixtures:
GPT-2's config and tokenizer files, stories260K's tokenizer) and from small
files written here (safetensors, PyTorch zips through tests/ref/pytorch_io.py,
llama2.c headers, Hub responses). Seeds are kept small: libFuzzer mutates
faster on short inputs (-max_len is the longest seed)."""
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.environ.get("TEMPER_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))


def put(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def fixture(*parts):
    p = os.path.join(FIX, *parts)
    if os.path.exists(p):
        with open(p, "rb") as f:
            return f.read()
    return None


def safetensors(tensors, meta=None):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def byte_chars():
    """GPT-2's byte -> unicode table (bytes_to_unicode)."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tokenizer_json(extra, merges, added=(), post=None, pre=None):
    vocab = {c: b for b, c in byte_chars().items()}
    for i, t in enumerate(extra):
        vocab[t] = 256 + i
    return json.dumps({
        "version": "1.0",
        "added_tokens": [dict(id=i, content=c, special=s, lstrip=l, rstrip=r, normalized=not s,
                              single_word=False) for i, c, s, l, r in added],
        "normalizer": None,
        "pre_tokenizer": pre or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                 "use_regex": True},
        "post_processor": post,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": vocab, "merges": merges},
    }, ensure_ascii=False)


def main(out):
    # fuzz_server: the first byte picks the endpoint (0 /v1/completions, 1 /completion,
    # 2 /tokenize, 3 /detokenize, 4 /temper/generate, 5 score, 6 probs, 7 perplexity, 8 attention,
    # 9 hidden, 10 trace, 11 power), the rest is the body
    for k, body in enumerate([
            {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0.7, "logprobs": 3, "echo": True,
             "stop": ["\n", "."], "logit_bias": {"13": -100}, "n": 2, "best_of": 3, "seed": 1},
            {"prompt": [[1, 403, 407], "Lily"], "stream": True, "stream_options": {"include_usage": True},
             "top_k": 5, "min_p": 0.1, "presence_penalty": 0.5, "repetition_penalty": 1.2}]):
        put(out, "fuzz_server", "openai_%d" % k, b"\x00" + json.dumps(body).encode())
    for k, body in enumerate([
            {"prompt": "Once upon a time", "n_predict": 16, "n_probs": 2, "post_sampling_probs": True,
             "samplers": ["top_k", "typ_p", "top_p", "min_p", "temperature"], "cache_prompt": True,
             "logit_bias": [[13, False], ["the", -1.5]], "return_tokens": True, "stop": ["!"], "seed": -1},
            {"prompt": [1, "Tom", 403], "n_predict": -1, "repeat_penalty": 1.1, "mirostat": 0, "n_cmpl": 2}]):
        put(out, "fuzz_server", "llama_%d" % k, b"\x01" + json.dumps(body).encode())
    # found by fuzz_server: "stop" and "logit_bias" given twice leaked the first list
    put(out, "fuzz_server", "twice", b'\x01{"prompt": "a", "stop": ["x", "y"], "stop": ["z"], '
                                     b'"logit_bias": [[1, 2]], "logit_bias": {"3": 1}}')
    put(out, "fuzz_server", "tokenize", b"\x02" + json.dumps({"content": "Lily \u00e1", "with_pieces": True,
                                                              "add_special": True}).encode())
    put(out, "fuzz_server", "detokenize", b"\x03" + json.dumps({"tokens": [1, 403, 407]}).encode())
    for k, body in enumerate([
            {"prompt": "Once upon a time", "temperatures": [1.0, 0.5, 0], "num_return_sequences": 3, "n_probs": 2,
             "stop": ["."], "seed": 4, "stream": True},
            {"prompt": [1, 403], "num_beams": 3, "length_penalty": 0.8, "early_stopping": 2, "max_new_tokens": 9}]):
        put(out, "fuzz_server", "generate_%d" % k, b"\x04" + json.dumps(body).encode())
    for k, body in enumerate([
            {"texts": ["Once upon a time", [1, 403, 407]], "pairs": True, "bos": True, "alpha": 3, "temperature": 0.7},
            {"prompt": "Once upon a time", "top": 5, "temperature": 0.7, "top_p": 0.9},
            {"texts": ["Lily went to the park"], "max_length": 4, "stride": 2, "bos": True},
            {"prompt": [1, 403, 407], "layers": [0, -1], "head": 1},
            {"prompt": "Once upon a time", "layer": -1, "pca": True, "project": "pca"},
            {"prompt": "Once upon a time", "max_new_tokens": 4, "temperature": 0.8, "top_k": 10, "seed": 1},
            {"prompt": "Once", "alpha": 4, "method": "smc", "particles": 4, "max_new_tokens": 3, "seed": 2}]):
        put(out, "fuzz_server", "analysis_%d" % k, bytes([5 + k]) + json.dumps(body).encode())
    # safetensors
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    put(out, "fuzz_safetensors", "two", safetensors([("a", "F32", [2, 2], f32), ("b", "F16", [2], b"\0<\0<")]))
    put(out, "fuzz_safetensors", "meta", safetensors([("x.weight", "BF16", [1, 2], b"\x80?\x00@"),
                                                      ("m", "BOOL", [2], b"\1\0")], {"format": "pt"}))
    put(out, "fuzz_safetensors", "empty", safetensors([("e", "F32", [0, 3], b"")]))
    # PyTorch zips (the writer of the tests)
    try:
        import numpy as np
        import pytorch_io as pt
        tmp = os.path.join(out, "tmp.bin")
        pt.write(tmp, [("w", np.arange(6).reshape(2, 3), "F32"), ("b", np.ones(3), "F16")])
        put(out, "fuzz_pytorch", "plain", open(tmp, "rb").read())
        base = pt.Storage("F32", np.arange(12, dtype=np.float32))
        pt.save(tmp, [("t", pt.Tensor(base, (3, 4))), ("tt", pt.Tensor(base, (4, 3), stride=(1, 4))),
                      ("off", pt.Tensor(base, (2,), offset=5))])
        put(out, "fuzz_pytorch", "views", open(tmp, "rb").read())
        pt.save(tmp, [("h", pt.Tensor(pt.Storage("F16", np.ones(4, np.float16)), (2, 2)))], byteorder="big")
        put(out, "fuzz_pytorch", "big", open(tmp, "rb").read())
        pt.save(tmp, [("z", pt.Tensor(pt.Storage("BF16", np.arange(4, dtype=np.uint16)), (4,)))],
                compress=("data.pkl", "data/0"), zip64_end=False, descriptor=False)
        put(out, "fuzz_pytorch", "deflate", open(tmp, "rb").read())
        os.unlink(tmp)
    except Exception as e:  # numpy missing: the target starts from nothing
        print(f"seeds: no PyTorch seeds ({e})", file=sys.stderr)
    # llama2.c: tiny v0 and v1 checkpoints (dim 8, hidden 16, 1 layer, 2 heads, vocab 4, seq 4)
    C, F, L, H, KV, V, S = 8, 16, 1, 2, 2, 4, 4
    hs = C // H
    n = V * C + 2 * L * C + C + L * (2 * C * C + 2 * KV * hs * C + 3 * C * F)
    put(out, "fuzz_llama2c", "v0", struct.pack("<7i", C, F, L, H, KV, V, S) + bytes(4 * (n + S * hs)))
    put(out, "fuzz_llama2c", "v0_unshared", struct.pack("<7i", C, F, L, H, KV, -V, S) + bytes(4 * (n + V * C + S * hs)))
    v1 = struct.pack("<Ii7iB", 0x616B3432, 1, C, F, L, H, KV, V, S, 1)
    put(out, "fuzz_llama2c", "v1", v1 + bytes(256 - len(v1)) + bytes(4 * n))
    # tokenizer.json: small byte-level ones with each feature
    put(out, "fuzz_tokenizer_json", "plain", tokenizer_json(["ab", "Ġt", "he", "Ġthe"], ["a b", "Ġ t", "h e", "Ġt he"]))
    put(out, "fuzz_tokenizer_json", "pairs", tokenizer_json(["ab"], [["a", "b"]]))
    put(out, "fuzz_tokenizer_json", "added", tokenizer_json(
        ["ab"], ["a b"], added=[(257, "<|endoftext|>", True, False, False), (258, " <x>", False, True, True)],
        post={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                                       {"Sequence": {"id": "A", "type_id": 0}}],
              "pair": [], "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [257],
                                                               "tokens": ["<|endoftext|>"]}}}))
    put(out, "fuzz_tokenizer_json", "roberta", tokenizer_json(
        ["ab"], ["a b"], added=[(257, "<s>", True, False, False), (258, "</s>", True, False, False)],
        post={"type": "RobertaProcessing", "sep": ["</s>", 258], "cls": ["<s>", 257], "trim_offsets": True,
              "add_prefix_space": False}))
    put(out, "fuzz_tokenizer_json", "split", tokenizer_json(["ab"], ["a b"], pre={
        "type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\d{1,3}"}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}))
    # vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json), "\n@@@\n" between
    vocab = {c: b for b, c in byte_chars().items()}
    vocab.update({"ab": 256, "<|endoftext|>": 257})
    put(out, "fuzz_vocab_merges", "plain", json.dumps(vocab) + "\n@@@\n#version: 0.2\na b\n")
    put(out, "fuzz_vocab_merges", "config", json.dumps(vocab) + "\n@@@\n#version: 0.2\na b\n\n@@@\n" +
        json.dumps({"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": True, "add_bos_token": True,
                    "bos_token": "<|endoftext|>",
                    "added_tokens_decoder": {"258": {"content": "<pad>", "special": True}}}) +
        "\n@@@\n" + json.dumps({"eos_token": {"content": "<|endoftext|>", "lstrip": False}}))
    # tokenizer.bin: stories260K's tok512 (about 6 KB) and a tiny one
    tb = fixture("stories260K", "tok512.bin")
    if tb:
        put(out, "fuzz_tokenizer_bin", "tok512", tb)
    toks = [b"<unk>", b"<s>", b"</s>"] + [("<0x%02X>" % b).encode() for b in range(256)] + [b"\xe2\x96\x81a", b"ab"]
    put(out, "fuzz_tokenizer_bin", "tiny", struct.pack("<i", 8) + b"".join(
        struct.pack("<fi", -float(i), len(t)) + t for i, t in enumerate(toks)))
    # config.json: the fixtures' and one per architecture sized for fuzz_config.c's weights
    for name in ("gpt2", "distilgpt2"):
        c = fixture(name, "config.json")
        if c:
            put(out, "fuzz_config", name, c)
    small = dict(n_embd=8, n_head=2, n_layer=1, n_positions=16, vocab_size=257)
    put(out, "fuzz_config", "tiny_gpt2", json.dumps(dict(model_type="gpt2", **small)))
    put(out, "fuzz_config", "tiny_opt", json.dumps(dict(
        model_type="opt", hidden_size=8, num_attention_heads=2, num_hidden_layers=1, ffn_dim=32,
        max_position_embeddings=16, vocab_size=257, do_layer_norm_before=True, word_embed_proj_dim=8)))
    put(out, "fuzz_config", "tiny_llama", json.dumps(dict(
        model_type="llama", hidden_size=8, num_attention_heads=2, num_key_value_heads=1, num_hidden_layers=1,
        intermediate_size=32, max_position_embeddings=16, vocab_size=257, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=True)))
    # Hub: model info, HEAD, file GET, separated by "\n@@@\n"
    sha = "0123456789abcdef0123456789abcdef01234567"
    body = b"{}"
    blob = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
    info = json.dumps({"sha": sha, "siblings": [{"rfilename": "config.json"},
                                                {"rfilename": "model.safetensors"}]}).encode()
    listing = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(info), info)
    head = (b"HTTP/1.1 200 OK\r\nX-Repo-Commit: %s\r\nETag: \"%s\"\r\nContent-Length: %d\r\n\r\n"
            % (sha.encode(), blob.encode(), len(body)))
    get = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    put(out, "fuzz_hub", "ok", listing + b"\n@@@\n" + head + b"\n@@@\n" + get)
    lfs = hashlib.sha256(body).hexdigest()
    head_lfs = (b"HTTP/1.1 302 Found\r\nX-Repo-Commit: %s\r\nX-Linked-Etag: \"%s\"\r\nX-Linked-Size: %d\r\n"
                b"ETag: W/\"abc\"\r\nLocation: https://cdn.example/x\r\nContent-Length: 0\r\n\r\n"
                % (sha.encode(), lfs.encode(), len(body)))
    put(out, "fuzz_hub", "lfs", listing + b"\n@@@\n" + head_lfs + b"\n@@@\n" + get)
    index = json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                       "b": "model-00002-of-00002.safetensors"}}).encode()
    info2 = json.dumps({"sha": sha, "siblings": [{"rfilename": "config.json"},
                                                 {"rfilename": "model.safetensors.index.json"}]}).encode()
    listing2 = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(info2), info2)
    head2 = b"HTTP/1.1 200 OK\r\nX-Repo-Commit: %s\r\nETag: \"idx\"\r\n\r\n" % sha.encode()
    get2 = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(index), index)
    put(out, "fuzz_hub", "index", listing2 + b"\n@@@\n" + head2 + b"\n@@@\n" + get2)
    # a short body restarted from zero at every retry (Range ignored): looped forever before
    head_short = head_lfs.replace(b"X-Linked-Size: %d\r\n" % len(body), b"").replace(
        b"Content-Length: 0", b"Content-Length: 10")
    put(out, "fuzz_hub", "short_restart", listing + b"\n@@@\n" + head_short + b"\n@@@\n" + get)
    # a first header line that continues nothing, in an answer after others: read freed
    # memory inside libcurl 7.88 while the Hub client reused one easy handle (curl issue 11101)
    get_folded = get2.replace(b"200 OK\r\n", b"200 OK\r\n X-Folded: y\r\n", 1)
    put(out, "fuzz_hub", "folded_header", listing2 + b"\n@@@\n" + head2 + b"\n@@@\n" + get_folded)
    put(out, "fuzz_hub", "notfound", b"HTTP/1.1 404 Not Found\r\nX-Error-Code: RepoNotFound\r\n"
        b"X-Error-Message: Repository not found\r\nContent-Length: 0\r\n\r\n\n@@@\n\n@@@\n")


if __name__ == "__main__":
    main(sys.argv[1])
