/* model.c - loading a model folder: config, weights, tokenizer, generation
 * defaults; weight lookup helpers for the architecture files; model info. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/llama2c.h"
#include "hub/hub.h"
#include "models/model.h"
#include "tensor/simd.h"

static const temper__arch *const temper__archs[] = {&temper__arch_gpt2,    &temper__arch_opt,
                                                    &temper__arch_llama,   &temper__arch_mistral,
                                                    &temper__arch_gpt_neo, &temper__arch_gpt_neox,
                                                    &temper__arch_qwen2,   &temper__arch_qwen3,
                                                    &temper__arch_gemma3_text};

/* ---- config accessors ------------------------------------------------- */

int temper__cfg_num(const cJSON *cfg, const char *key, double def, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return temper__error(TEMPER_EFORMAT, "config.json: \"%s\" should be a number", key);
    *out = v->valuedouble;
    return 0;
}

int temper__cfg_int(const cJSON *cfg, const char *key, int def, int *out) {
    double d;
    int rc = temper__cfg_num(cfg, key, def, &d);
    if (rc < 0) return rc;
    if (d != floor(d))
        return temper__error(TEMPER_EFORMAT, "config.json: \"%s\" should be an integer (it is %g)", key, d);
    if (fabs(d) > TEMPER__MAX_CFG_INT)
        return temper__error(TEMPER_EFORMAT, "config.json: \"%s\" is %.0f: temper reads values up to %d "
                             "there (a corrupt or hostile config.json?)", key, d, TEMPER__MAX_CFG_INT);
    *out = (int)d;
    return 0;
}

int temper__cfg_positive(const cJSON *cfg, const char *key, double def, double *out) {
    int rc = temper__cfg_num(cfg, key, def, out);
    if (rc == 0 && !(*out > 0))
        rc = temper__error(TEMPER_EFORMAT, "config.json: \"%s\" is %g: it must be a positive number", key,
                           *out);
    return rc;
}

const char *temper__cfg_str(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int temper__cfg_bool(const cJSON *cfg, const char *key, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return def;
}

void temper__model_setting(temper_model *m, const char *fmt, ...) {
    size_t n = strlen(m->settings);
    if (n && n + 2 < sizeof m->settings) {
        memcpy(m->settings + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->settings + n, sizeof m->settings - n, fmt, ap);
    va_end(ap);
}

int temper__cfg_layer_types(temper_model *m, const cJSON *cfg, int *sliding) {
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(cfg, "layer_types"), *k;
    if (!types || cJSON_IsNull(types)) return 0;
    const int L = m->hp.n_layer;
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != L)
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: layer_types should list the attention kind of each of the %d layers",
                             m->path, L);
    int l = 0;
    cJSON_ArrayForEach(k, types) {
        const char *kind = cJSON_IsString(k) ? k->valuestring : "(not a string)";
        if (strcmp(kind, "full_attention") == 0) sliding[l] = 0;
        else if (strcmp(kind, "sliding_attention") == 0) sliding[l] = 1;
        else
            return temper__error(TEMPER_EUNSUPPORTED,
                                 "%s/config.json: layer_types: layer %d is \"%s\", which temper does not implement "
                                 "(it runs \"full_attention\" and \"sliding_attention\")",
                                 m->path, l, kind);
        l++;
    }
    return 0;
}

/* ---- weight lookup ---------------------------------------------------- */

const temper__tensor *temper__model_find(const temper_model *m, const char *const *prefixes,
                                         const char *name) {
    char full[512];
    for (const char *const *p = prefixes; *p; p++) {
        snprintf(full, sizeof full, "%s%s", *p, name);
        const temper__tensor *t = temper__weights_find(&m->weights, full);
        if (t) return t;
    }
    return NULL;
}

/* Find a tensor and check its shape against (d0[, d1]). */
static int temper__lookup(temper_model *m, const char *const *prefixes, const char *name, int ndim,
                          int64_t d0, int64_t d1, const temper__tensor **out) {
    const temper__tensor *t = temper__model_find(m, prefixes, name);
    if (!t)
        return temper__error(TEMPER_EFORMAT,
                             "%s: tensor \"%s%s\" is missing from the weights: the checkpoint does not "
                             "match its config.json (model_type \"%s\")",
                             m->path, prefixes[0], name, m->arch->name);
    int ok = t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1);
    if (!ok) {
        char got[96] = "", want[64];
        for (int i = 0; i < t->ndim; i++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        }
        if (ndim == 1) snprintf(want, sizeof want, "%lld", (long long)d0);
        else snprintf(want, sizeof want, "%lld, %lld", (long long)d0, (long long)d1);
        return temper__error(TEMPER_EFORMAT,
                             "%s: tensor \"%s\" has shape [%s] but config.json implies [%s]: the "
                             "weights and config.json belong to different models",
                             m->path, t->name, got, want);
    }
    if (t->dtype != TEMPER__F32 && t->dtype != TEMPER__F16 && t->dtype != TEMPER__BF16)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s: tensor \"%s\" is stored in a dtype temper does not compute with "
                             "(it reads F32, F16 and BF16 weights): convert the checkpoint",
                             m->path, t->name);
    *out = t;
    return 0;
}

/* Give back to the kernel the pages of [data, data + n) when they belong
 * to a file map (they are read again from the file if ever touched), so
 * that quantized weights are not resident twice. Owned buffers are kept. */
static void temper__model_release(temper_model *m, const void *data, size_t n) {
    const uint8_t *p = data;
    for (int i = 0; i < m->weights.n_maps; i++) {
        const temper__mmap *map = &m->weights.maps[i];
        if (p < map->data || p + n > map->data + map->size) continue;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t b = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
        if (b < e) madvise((void *)b, e - b, MADV_DONTNEED);
        return;
    }
}

/* With quantize "q8", replace the view *w by a q8 copy kept by the weight
 * table (matrices whose K is not a multiple of 32 stay as they are); count
 * the bytes a decode step reads. */
static int temper__model_q8(temper_model *m, temper__mat *w, size_t file_bytes) {
    temper__mat q = {0};
    if (!m->quantize_q8 || w->K % 32 != 0) {
        m->matrix_bytes += file_bytes;
        return 0;
    }
    if (temper__quantize_q8(w, &q) < 0 || temper__weights_keep_buffer(&m->weights, (void *)q.data) < 0) {
        free((void *)q.data);
        return temper__error(TEMPER_ENOMEM, "out of memory quantizing the weights to q8");
    }
    temper__model_release(m, w->data, file_bytes);
    *w = q;
    m->matrix_bytes += temper__q8_bytes(q.K, q.N);
    m->dtype = TEMPER__Q8;
    return 0;
}

int temper__model_mat(temper_model *m, const char *const *prefixes, temper__layout layout, int K, int N,
                      temper__mat *out, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const temper__tensor *t;
    int rc = layout == TEMPER__KN ? temper__lookup(m, prefixes, name, 2, K, N, &t)
                                  : temper__lookup(m, prefixes, name, 2, N, K, &t);
    if (rc < 0) return rc;
    *out = (temper__mat){t->dtype, layout, K, N, t->data};
    m->n_params += (int64_t)K * N;
    m->dtype = t->dtype;
    return temper__model_q8(m, out, t->nbytes);
}

int temper__model_tied_head(temper_model *m, const temper__tensor *table, int K, int N, temper__mat *out) {
    *out = (temper__mat){table->dtype, TEMPER__NK, K, N, table->data};
    int rc = temper__model_q8(m, out, table->nbytes);
    if (rc == 0 && out->dtype == TEMPER__Q8) {
        /* The embedding lookups read the q8 rows too (as llama.cpp does with
         * a quantized token table): the f32 file pages were released, and
         * touching them again would bring back the whole table (the kernel
         * maps file pages by large folios). The table entry is the model's. */
        temper__tensor *t = (temper__tensor *)table;
        t->data = out->data;
        t->dtype = TEMPER__Q8;
        t->nbytes = temper__q8_bytes(K, N);
    }
    return rc;
}

int temper__model_table(temper_model *m, const char *const *prefixes, int rows, int cols,
                        const temper__tensor **out, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int rc = temper__lookup(m, prefixes, name, 2, rows, cols, out);
    if (rc == 0) m->n_params += (int64_t)rows * cols;
    return rc;
}

int temper__model_vec(temper_model *m, const char *const *prefixes, int n, const float **out,
                      const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const temper__tensor *t;
    int rc = temper__lookup(m, prefixes, name, 1, n, 0, &t);
    if (rc < 0) return rc;
    m->n_params += n;
    /* Small vectors are kept as aligned f32 copies, whatever the file holds. */
    float *v = aligned_alloc(64, ((size_t)n * sizeof(float) + 63) & ~(size_t)63);
    if (!v || temper__weights_keep_buffer(&m->weights, v) < 0) {
        free(v);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    temper__row_f32(v, t->data, t->dtype, n, 0);
    *out = v;
    return 0;
}

/* ---- loading ---------------------------------------------------------- */

temper_model_params temper_model_default_params(void) {
    temper_model_params p = {0};
    return p;
}

/* eos/bos from generation_config.json (preferred) or config.json: an int or
 * a list of ints (the first is used as the main one). */
static temper_token temper__first_id(const cJSON *obj, const char *key, temper_token def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 2147483647.0)
        return (temper_token)v->valuedouble;
    return def;
}

static int temper__load_config(temper_model *m, cJSON **out) {
    char *path = temper__strfmt("%s/config.json", m->path), *text = NULL;
    if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = temper__read_file(path, &text, NULL);
    if (rc == TEMPER_ENOENT)
        rc = temper__error(TEMPER_ENOENT,
                           "%s: no config.json: is this a Hugging Face model folder? (it needs "
                           "config.json, the weights and the tokenizer files)",
                           m->path);
    if (rc == 0) {
        rc = temper__check_not_placeholder(path, (const uint8_t *)text, strlen(text));
        if (rc == 0) {
            *out = cJSON_Parse(text);
            if (!cJSON_IsObject(*out)) {
                cJSON_Delete(*out);
                *out = NULL;
                rc = temper__error(TEMPER_EFORMAT, "%s: not valid JSON: download the file again", path);
            }
        }
    }
    free(text);
    free(path);
    return rc;
}

/* The llama2.c checkpoint in a folder without config.json: the one .bin file
 * whose header looks right. Returns a malloc'd path or NULL. */
static char *temper__find_llama2c(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".bin") != 0 || strncmp(e->d_name, "tok", 3) == 0) continue;
        char *p = temper__strfmt("%s/%s", dir, e->d_name);
        if (p && temper__is_file(p) && temper__llama2c_is_checkpoint(p) && !found) found = p;
        else free(p);
    }
    closedir(d);
    return found;
}

int temper_model_load(const char *path_or_id, const temper_model_params *params, temper_model **out) {
    if (!out) return temper__error(TEMPER_EINVAL, "temper_model_load: out is NULL");
    *out = NULL;
    if (!path_or_id || !*path_or_id)
        return temper__error(TEMPER_EINVAL, "no model given: pass a model folder or a Hub id such as gpt2");
    int rc0 = temper__simd_check(); /* a TEMPER_SIMD this CPU cannot run */
    if (rc0 < 0) return rc0;
    temper_model_params defaults = temper_model_default_params();
    if (!params) params = &defaults;
    if (params->quantize && strcmp(params->quantize, "q8") != 0)
        return temper__error(TEMPER_EINVAL, "unknown weight quantization \"%s\": the one available is \"q8\"",
                             params->quantize);
    double t0 = temper__now();
    temper_model *m = calloc(1, sizeof *m);
    if (!m) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->quantize_q8 = params->quantize != NULL;
    m->bos_id = m->eos_id = -1;
    cJSON *cfg = NULL;
    char *l2c = NULL;
    int rc = temper__hub_resolve_progress(path_or_id, params->offline, params->progress,
                                          params->progress_user, &m->path);
    if (rc < 0) goto fail;

    /* A llama2.c checkpoint: the file itself, or the one in a folder with no config.json. */
    if (temper__is_file(m->path)) {
        l2c = m->path;
        char *slash = strrchr(l2c, '/');
        m->path = slash ? temper__strfmt("%.*s", (int)(slash - l2c), l2c) : temper__strdup(".");
        if (!m->path) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto fail; }
    } else {
        char *cpath = temper__strfmt("%s/config.json", m->path);
        if (cpath && !temper__is_file(cpath)) l2c = temper__find_llama2c(m->path);
        free(cpath);
    }
    if (l2c) {
        /* Its tokenizer (tokenizer.bin or tok*.bin) is found by the tokenizer
         * loader in the same folder, unless params->tokenizer_path names it. */
        if ((rc = temper__llama2c_open(l2c, &m->weights, &cfg)) < 0) goto fail;
    } else {
        if ((rc = temper__load_config(m, &cfg)) < 0) goto fail;
    }

    const char *type = temper__cfg_str(cfg, "model_type");
    for (size_t i = 0; i < sizeof temper__archs / sizeof temper__archs[0]; i++)
        if (type && strcmp(type, temper__archs[i]->name) == 0) m->arch = temper__archs[i];
    if (!m->arch) {
        char names[256] = "";
        for (size_t i = 0; i < sizeof temper__archs / sizeof temper__archs[0]; i++) {
            size_t n = strlen(names);
            snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", temper__archs[i]->name);
        }
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: model_type \"%s\" is not supported (temper runs: %s)",
                           m->path, type ? type : "(missing)", names);
        goto fail;
    }
    if (!l2c && (rc = temper__weights_open_folder(m->path, &m->weights)) < 0) goto fail;
    if ((rc = m->arch->init(m, cfg)) < 0) goto fail;

    m->bos_id = temper__first_id(cfg, "bos_token_id", -1);
    char *gpath = temper__strfmt("%s/generation_config.json", m->path);
    if (!l2c && gpath && temper__is_file(gpath) &&
        temper__read_file(gpath, &m->generation_config, NULL) == 0) {
        cJSON *g = cJSON_Parse(m->generation_config);
        if (cJSON_IsObject(g)) m->bos_id = temper__first_id(g, "bos_token_id", m->bos_id);
        cJSON_Delete(g);
    }
    free(gpath);
    if ((rc = temper__model_read_eos(m, cfg)) < 0) goto fail;

    const char *tp = params->tokenizer_path ? params->tokenizer_path : m->path;
    if ((rc = temper_tokenizer_load(tp, &m->tok)) < 0) goto fail;
    cJSON_Delete(cfg);
    free(l2c);
    m->load_seconds = temper__now() - t0;
    *out = m;
    return 0;
fail:
    cJSON_Delete(cfg);
    free(l2c);
    temper_model_free(m);
    return rc;
}

void temper_model_free(temper_model *m) {
    if (!m) return;
    if (m->arch && m->arch->free) m->arch->free(m);
    temper_tokenizer_free(m->tok);
    temper__weights_close(&m->weights);
    free(m->generation_config);
    free(m->eos_ids);
    free(m->suppress_ids);
    free(m->path);
    free(m);
}

const temper_tokenizer *temper_model_tokenizer(const temper_model *m) { return m ? m->tok : NULL; }
int temper_model_n_vocab(const temper_model *m) { return m->hp.n_vocab; }
int temper_model_n_ctx(const temper_model *m) { return m->hp.n_ctx; }
const char *temper_model_generation_config(const temper_model *m) { return m->generation_config; }

void temper_model_get_info(const temper_model *m, temper_model_info *out) {
    memset(out, 0, sizeof *out);
    out->arch = m->arch->name;
    out->path = m->path;
    out->dtype = temper__dtype_name(m->dtype);
    out->n_layer = m->hp.n_layer;
    out->n_head = m->hp.n_head;
    out->n_kv_head = m->hp.n_kv_head;
    out->n_embd = m->hp.n_embd;
    out->n_ff = m->hp.n_ff;
    out->n_ctx = m->hp.n_ctx;
    out->n_vocab = m->hp.n_vocab;
    out->n_params = m->n_params;
    out->file_bytes = m->weights.file_bytes;
    out->matrix_bytes = m->matrix_bytes;
    out->load_seconds = m->load_seconds;
    out->bos_id = m->bos_id;
    out->eos_id = m->eos_id;
    out->settings = m->settings;
}
