/*
 * fuzz_config.c - config.json of a model folder: the config accessors, each
 * architecture's size checks, weight lookup against the shapes the config
 * implies, and (when it all loads) a context and a forward pass.
 *
 * The folder holds, made once: a tokenizer.json of the 256 byte symbols and
 * one merge (257 tokens), and a model.safetensors with tiny random weights
 * for GPT-2 (n_embd 8, 2 heads, 1 layer, 16 positions), OPT (the same sizes,
 * ffn_dim 32) and Llama (hidden 8, 2 heads of 4, 1 kv head, intermediate
 * 32) at once, so that a config of any of the three can load.
 */
#include "fuzz.h"

enum { C = 8, F = 32, V = 257, P = 16, KD = 4 };

static const struct { const char *name; int d0, d1; } fuzz_tensors[] = {
    /* GPT-2 (Conv1D weights are (in, out)) */
    {"wte.weight", V, C}, {"wpe.weight", P, C}, {"ln_f.weight", C, 0}, {"ln_f.bias", C, 0},
    {"h.0.ln_1.weight", C, 0}, {"h.0.ln_1.bias", C, 0}, {"h.0.attn.c_attn.weight", C, 3 * C},
    {"h.0.attn.c_attn.bias", 3 * C, 0}, {"h.0.attn.c_proj.weight", C, C}, {"h.0.attn.c_proj.bias", C, 0},
    {"h.0.ln_2.weight", C, 0}, {"h.0.ln_2.bias", C, 0}, {"h.0.mlp.c_fc.weight", C, F},
    {"h.0.mlp.c_fc.bias", F, 0}, {"h.0.mlp.c_proj.weight", F, C}, {"h.0.mlp.c_proj.bias", C, 0},
    /* OPT (nn.Linear weights are (out, in)) */
    {"model.decoder.embed_tokens.weight", V, C}, {"model.decoder.embed_positions.weight", P + 2, C},
    {"model.decoder.final_layer_norm.weight", C, 0}, {"model.decoder.final_layer_norm.bias", C, 0},
    {"model.decoder.layers.0.self_attn_layer_norm.weight", C, 0},
    {"model.decoder.layers.0.self_attn_layer_norm.bias", C, 0},
    {"model.decoder.layers.0.self_attn.q_proj.weight", C, C}, {"model.decoder.layers.0.self_attn.q_proj.bias", C, 0},
    {"model.decoder.layers.0.self_attn.k_proj.weight", C, C}, {"model.decoder.layers.0.self_attn.k_proj.bias", C, 0},
    {"model.decoder.layers.0.self_attn.v_proj.weight", C, C}, {"model.decoder.layers.0.self_attn.v_proj.bias", C, 0},
    {"model.decoder.layers.0.self_attn.out_proj.weight", C, C},
    {"model.decoder.layers.0.self_attn.out_proj.bias", C, 0},
    {"model.decoder.layers.0.final_layer_norm.weight", C, 0}, {"model.decoder.layers.0.final_layer_norm.bias", C, 0},
    {"model.decoder.layers.0.fc1.weight", F, C}, {"model.decoder.layers.0.fc1.bias", F, 0},
    {"model.decoder.layers.0.fc2.weight", C, F}, {"model.decoder.layers.0.fc2.bias", C, 0},
    /* Llama */
    {"model.embed_tokens.weight", V, C}, {"model.norm.weight", C, 0},
    {"model.layers.0.input_layernorm.weight", C, 0}, {"model.layers.0.post_attention_layernorm.weight", C, 0},
    {"model.layers.0.self_attn.q_proj.weight", C, C}, {"model.layers.0.self_attn.k_proj.weight", KD, C},
    {"model.layers.0.self_attn.v_proj.weight", KD, C}, {"model.layers.0.self_attn.o_proj.weight", C, C},
    {"model.layers.0.mlp.gate_proj.weight", F, C}, {"model.layers.0.mlp.up_proj.weight", F, C},
    {"model.layers.0.mlp.down_proj.weight", C, F},
};

static void fuzz_make_weights(const char *path) {
    size_t n = sizeof fuzz_tensors / sizeof fuzz_tensors[0], json_cap = 16384, jl = 0, off = 0;
    char *json = malloc(json_cap);
    jl += (size_t)snprintf(json + jl, json_cap - jl, "{");
    for (size_t i = 0; i < n; i++) {
        size_t numel = (size_t)fuzz_tensors[i].d0 * (fuzz_tensors[i].d1 ? fuzz_tensors[i].d1 : 1);
        char shape[32];
        if (fuzz_tensors[i].d1) snprintf(shape, sizeof shape, "%d,%d", fuzz_tensors[i].d0, fuzz_tensors[i].d1);
        else snprintf(shape, sizeof shape, "%d", fuzz_tensors[i].d0);
        jl += (size_t)snprintf(json + jl, json_cap - jl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],"
                               "\"data_offsets\":[%zu,%zu]}", i ? "," : "", fuzz_tensors[i].name, shape,
                               off, off + 4 * numel);
        off += 4 * numel;
    }
    jl += (size_t)snprintf(json + jl, json_cap - jl, "}");
    FILE *f = fopen(path, "wb");
    uint64_t hl = jl;
    fwrite(&hl, 8, 1, f); /* little-endian machines only, like the rest of temper */
    fwrite(json, 1, jl, f);
    uint32_t s = 12345;
    for (size_t i = 0; i < off / 4; i++) {
        s = s * 1664525u + 1013904223u;
        float x = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
        fwrite(&x, 4, 1, f);
    }
    fclose(f);
    free(json);
}

/* GPT-2's byte -> character table, written out independently. */
static void fuzz_make_tokenizer(const char *path) {
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,"
               "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
               "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
               "\"model\":{\"type\":\"BPE\",\"vocab\":{");
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
        int c = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE ? b : next++;
        if (c == '"' || c == '\\') fprintf(f, "\"\\%c\":%d,", c, b);
        else if (c < 0x80) fprintf(f, "\"%c\":%d,", c, b);
        else fprintf(f, "\"\\u%04x\":%d,", c, b);
    }
    fprintf(f, "\"ab\":256},\"merges\":[\"a b\"]}}\n");
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        fuzz_make_weights(fuzz_path("model.safetensors"));
        fuzz_make_tokenizer(fuzz_path("tokenizer.json"));
        ready = 1;
    }
    fuzz_write(fuzz_path("config.json"), data, size);
    temper_model *m = NULL;
    temper_model_params mp = temper_model_default_params();
    mp.offline = 1;
    if (temper_model_load(fuzz_dir(), &mp, &m) != 0) {
        FUZZ_CHECK(m == NULL);
        return 0;
    }
    temper_model_info info;
    temper_model_get_info(m, &info);
    temper_context_params cp = temper_context_default_params();
    cp.n_ctx = 8;
    cp.n_threads = 1;
    temper_context *ctx = NULL;
    if (temper_context_init(m, &cp, &ctx) == 0) {
        temper_token toks[3] = {256, 0, 97};
        int nv = temper_model_n_vocab(m);
        float *logits = malloc(sizeof(float) * (size_t)nv * 3);
        if (logits) (void)temper_eval(ctx, 0, toks, nv > 256 ? 3 : 0, logits, TEMPER_EVAL_ALL_LOGITS);
        free(logits);
        temper_context_free(ctx);
    }
    temper_model_free(m);
    return 0;
}
