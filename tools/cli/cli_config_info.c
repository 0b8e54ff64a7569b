/*
 * cli_config_info.c - `temper info` on a folder that has config.json but
 * no weights (what AutoConfig.from_pretrained leaves in the cache): the
 * facts config.json holds, and the parameter count that its sizes imply
 * (GPT-2, OPT and Llama layouts, as model.num_parameters() counts them: a
 * tied lm_head once).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "cli.h"

static bool exists(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path && stat(path, &st) == 0;
}

bool cli_config_only(const char *dir) {
    static const char *const weights[] = {"model.safetensors", "model.safetensors.index.json",
                                          "pytorch_model.bin", "pytorch_model.bin.index.json"};
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !exists(dir, "config.json")) return false;
    for (size_t k = 0; k < sizeof weights / sizeof weights[0]; k++)
        if (exists(dir, weights[k])) return false;
    return true;
}

/* The first of keys that config holds as a number, else def. */
static long long num(const cJSON *cfg, const char *const *keys, long long def) {
    for (; *keys; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, *keys);
        if (cJSON_IsNumber(v)) return (long long)v->valuedouble;
    }
    return def;
}

#define NUM(cfg, def, ...) num(cfg, (const char *const[]){__VA_ARGS__, NULL}, def)

/* Parameters implied by the sizes, or 0 for an architecture not known. */
static long long count_params(const char *arch, const temper_model_info *m, const cJSON *cfg) {
    long long V = m->n_vocab, C = m->n_embd, L = m->n_layer, F = m->n_ff, P = m->n_ctx;
    if (!strcmp(arch, "gpt2")) /* wte, wpe; ln_1, c_attn, c_proj, ln_2, c_fc, mlp c_proj; ln_f */
        return V * C + P * C + L * (4 * C + C * 3 * C + 3 * C + C * C + C + C * F + F + F * C + C) +
               2 * C;
    if (!strcmp(arch, "opt")) {
        long long E = NUM(cfg, C, "word_embed_proj_dim");
        long long proj = E != C ? 2 * E * C : 0; /* project_in, project_out */
        const cJSON *before = cJSON_GetObjectItemCaseSensitive(cfg, "do_layer_norm_before");
        long long final_ln = cJSON_IsFalse(before) ? 0 : 2 * C;
        return V * E + (P + 2) * C + proj +
               L * (4 * (C * C + C) + 2 * C + C * F + F + F * C + C + 2 * C) + final_ln;
    }
    if (!strcmp(arch, "llama")) {
        long long H = m->n_head, KV = m->n_kv_head > 0 ? m->n_kv_head : H;
        long long D = NUM(cfg, H ? C / H : 0, "head_dim");
        const cJSON *tie = cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings");
        return V * C + L * (C * H * D + 2 * C * KV * D + H * D * C + 3 * C * F + 2 * C) + C +
               (cJSON_IsTrue(tie) ? 0 : V * C);
    }
    return 0;
}

int cli_config_info(const char *dir, temper_model_info *mi, char *arch, size_t arch_cap,
                    char *dtype, size_t dtype_cap) {
    char path[4096], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = cli_read_file(path, "config.json", "-m", &text, &len);
    if (rc != 0) return rc;
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    const char *type = cfg ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "model_type")) : NULL;
    if (!type) {
        cJSON_Delete(cfg);
        cli_error("%s: not a JSON object with \"model_type\": check the file", path);
        return 1;
    }
    memset(mi, 0, sizeof *mi);
    snprintf(arch, arch_cap, "%s", type);
    const char *dt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype"));
    snprintf(dtype, dtype_cap, "%s", dt ? dt : "?");
    mi->arch = arch;
    mi->dtype = dtype;
    mi->path = dir;
    mi->n_layer = (int)NUM(cfg, 0, "n_layer", "num_hidden_layers");
    mi->n_head = (int)NUM(cfg, 0, "n_head", "num_attention_heads");
    mi->n_kv_head = (int)NUM(cfg, mi->n_head, "num_key_value_heads");
    mi->n_embd = (int)NUM(cfg, 0, "n_embd", "hidden_size");
    mi->n_ff = (int)NUM(cfg, 4LL * mi->n_embd, "n_inner", "ffn_dim", "intermediate_size");
    mi->n_vocab = (int)NUM(cfg, 0, "vocab_size");
    mi->n_ctx = (int)NUM(cfg, 0, "n_positions", "max_position_embeddings");
    mi->bos_id = (temper_token)NUM(cfg, -1, "bos_token_id");
    mi->eos_id = (temper_token)NUM(cfg, -1, "eos_token_id");
    mi->n_params = count_params(type, mi, cfg);
    cJSON_Delete(cfg);
    return 0;
}
