/*
 * power.c - sampling whole continuations from p(x)^alpha: Metropolis-Hastings
 * (Karan & Du 2025, with the variable-length correction), Power-SMC and
 * importance resampling. See the "Power sampling" section of temper.h and
 * docs/power-sampling.md.
 *
 * KV invariant of a chain state with n >= 1 generated tokens: its slot holds
 * the prompt and the first n - 1 generated tokens (the last token has been
 * drawn but not evaluated); with n = 0 it holds the prompt. Extending the
 * state evaluates its last token first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "models/model.h"

typedef struct {
    temper_context *ctx;
    const temper_power_params *p;
    temper_sampler *prop;     /* proposal q */
    temper_rng rng;
    int V, n_prompt, T;
    const temper_token *prompt;
    float *prompt_logits;     /* (V) logits after the prompt */
    float *logits;            /* (V) scratch */
    temper_token *hist;       /* (n_prompt + T) prompt then generated tokens */
    int64_t fwd;
} temper__ps;

typedef struct {
    temper_token *ids;        /* (T) */
    float *lp, *lq;           /* (T) log p and log q of each generated token */
    int n, done, slot;
} temper__chain;

static int temper__is_eos(const temper__ps *ps, temper_token t) {
    for (int i = 0; i < ps->p->n_eos; i++)
        if (ps->p->eos_ids[i] == t) return 1;
    return 0;
}

/* Draw the token after ids[0..n) from logits with the proposal. */
static int temper__draw(temper__ps *ps, const float *logits, const temper_token *ids, int n, temper_token *tok,
                        float *lp, float *lq) {
    memcpy(ps->hist + ps->n_prompt, ids, (size_t)n * sizeof *ids);
    int rc = temper_sampler_apply(ps->prop, logits, ps->hist, ps->n_prompt + n, ps->n_prompt);
    if (rc < 0) return rc;
    if ((rc = temper_sampler_sample(ps->prop, &ps->rng, tok)) < 0) return rc;
    *lp = temper_sampler_logprob(ps->prop, *tok, TEMPER_LOGPROB_RAW);
    *lq = temper_sampler_logprob(ps->prop, *tok, TEMPER_LOGPROB_PROCESSED);
    return 0;
}

static int temper__eval1(temper__ps *ps, int slot, temper_token t, float *logits) {
    ps->fwd++;
    return temper_eval(ps->ctx, slot, &t, 1, logits, 0);
}

/* Generate tokens from index `from` up to `cap` or an EOS (see the KV invariant). */
static int temper__grow(temper__ps *ps, temper__chain *c, int cap) {
    int rc, from = c->n;
    if (from == 0) memcpy(ps->logits, ps->prompt_logits, (size_t)ps->V * sizeof(float));
    else if ((rc = temper__eval1(ps, c->slot, c->ids[from - 1], ps->logits)) < 0) return rc;
    for (int i = from; i < cap; i++) {
        temper_token tok;
        if ((rc = temper__draw(ps, ps->logits, c->ids, i, &tok, &c->lp[i], &c->lq[i])) < 0) return rc;
        c->ids[i] = tok;
        c->n = i + 1;
        if (temper__is_eos(ps, tok)) {
            c->done = 1;
            break;
        }
        if (i + 1 < cap && (rc = temper__eval1(ps, c->slot, tok, ps->logits)) < 0) return rc;
    }
    return 0;
}

static double temper__sum(const float *v, int a, int b) {
    double s = 0;
    for (int i = a; i < b; i++) s += v[i];
    return s;
}

/* One MH move of the state *x within a stage of length cap; y is scratch. */
static int temper__mh_step(temper__ps *ps, temper__chain **x, temper__chain **y, int cap, int *accepted) {
    temper__chain *cx = *x, *cy = *y;
    int m = (int)(temper_rng_uniform(&ps->rng) * cx->n);
    if (m >= cx->n) m = cx->n - 1;
    memcpy(cy->ids, cx->ids, (size_t)m * sizeof *cy->ids);
    memcpy(cy->lp, cx->lp, (size_t)m * sizeof *cy->lp);
    memcpy(cy->lq, cx->lq, (size_t)m * sizeof *cy->lq);
    cy->n = m;
    cy->done = 0;
    int rc = temper_seq_copy(ps->ctx, cy->slot, cx->slot, ps->n_prompt + (m > 0 ? m - 1 : 0));
    if (rc < 0) return rc;
    if ((rc = temper__grow(ps, cy, cap)) < 0) return rc;
    double a = ps->p->alpha;
    double log_r = a * (temper__sum(cy->lp, m, cy->n) - temper__sum(cx->lp, m, cx->n)) +
                   (temper__sum(cx->lq, m, cx->n) - temper__sum(cy->lq, m, cy->n)) +
                   log((double)cx->n) - log((double)cy->n); /* the cut is uniform over each length */
    double u = temper_rng_uniform(&ps->rng);
    *accepted = u > 0 && log(u) < log_r;
    if (*accepted) {
        *x = cy;
        *y = cx;
    }
    return 0;
}

static int temper__power_mh(temper__ps *ps, temper_power_result *out) {
    const temper_power_params *p = ps->p;
    temper__chain ch[2];
    memset(ch, 0, sizeof ch);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        ch[i].ids = malloc((size_t)ps->T * sizeof *ch[i].ids);
        ch[i].lp = malloc((size_t)ps->T * sizeof(float));
        ch[i].lq = malloc((size_t)ps->T * sizeof(float));
        ch[i].slot = i;
        if (!ch[i].ids || !ch[i].lp || !ch[i].lq) rc = temper__error(TEMPER_ENOMEM, "out of memory");
    }
    temper__chain *x = &ch[0], *y = &ch[1];
    int B = p->block_size > 0 ? p->block_size : (ps->T / 16 > 0 ? ps->T / 16 : 1);
    for (int cap = B < ps->T ? B : ps->T; rc == 0; cap = cap + B < ps->T ? cap + B : ps->T) {
        if (!x->done && x->n < cap && (rc = temper__grow(ps, x, cap)) < 0) break;
        for (int s = 0; s < p->mcmc_steps && rc == 0; s++) {
            int acc = 0;
            rc = temper__mh_step(ps, &x, &y, cap, &acc);
            out->n_proposals++;
            out->n_accepted += acc;
        }
        if (x->done || cap >= ps->T) break;
    }
    if (rc == 0) {
        out->ids = malloc((size_t)(x->n > 0 ? x->n : 1) * sizeof *out->ids);
        if (!out->ids) rc = temper__error(TEMPER_ENOMEM, "out of memory");
        else {
            memcpy(out->ids, x->ids, (size_t)x->n * sizeof *out->ids);
            out->n_ids = x->n;
            out->finished_eos = x->done;
            out->log_p = temper__sum(x->lp, 0, x->n);
        }
    }
    for (int i = 0; i < 2; i++) {
        free(ch[i].ids);
        free(ch[i].lp);
        free(ch[i].lq);
    }
    return rc;
}

/* SMC over P particles in slots 0..P-1; also SIR (base proposal, no resampling). */
static int temper__power_smc(temper__ps *ps, temper_power_result *out, int sir) {
    const temper_power_params *p = ps->p;
    const int P = p->particles, T = ps->T, V = ps->V;
    temper_token *ids = malloc((size_t)P * T * sizeof *ids), *toks = malloc((size_t)P * sizeof *toks);
    float *logits = malloc((size_t)P * V * sizeof(float)), *batch = malloc((size_t)P * V * sizeof(float));
    double *logw = calloc((size_t)P, sizeof(double)), *cum = calloc((size_t)P, sizeof(double));
    int *n = calloc((size_t)P, sizeof(int)), *done = calloc((size_t)P, sizeof(int));
    int *seqs = malloc((size_t)P * sizeof(int));
    int *tmpi = malloc((size_t)P * sizeof(int)), *kept = malloc((size_t)P * sizeof(int));
    out->ess = malloc((size_t)T * sizeof(double));
    int rc = 0;
    if (!ids || !toks || !logits || !batch || !logw || !cum || !n || !done || !seqs ||
        !tmpi || !kept || !out->ess) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory for %d particles", P);
        goto done;
    }
    for (int i = 0; i < P; i++) {
        memcpy(logits + (size_t)i * V, ps->prompt_logits, (size_t)V * sizeof(float));
        if (i > 0 && (rc = temper_seq_copy(ps->ctx, i, 0, ps->n_prompt)) < 0) goto done;
    }
    double a_prev = p->alpha_ramp_tokens > 0 && !sir ? 1.0 : p->alpha;
    for (int t = 0; t < T; t++) {
        double a_t = p->alpha;
        if (p->alpha_ramp_tokens > 0 && !sir && t < p->alpha_ramp_tokens)
            a_t = 1.0 + (p->alpha - 1.0) * (t + 1) / p->alpha_ramp_tokens;
        /* Raising the exponent by delta multiplies each weight by p(prefix)^delta. */
        for (int i = 0; i < P && a_t != a_prev; i++) logw[i] += (a_t - a_prev) * cum[i];
        a_prev = a_t;
        int nb = 0;
        for (int i = 0; i < P; i++) {
            if (done[i]) continue;
            temper_token tok;
            float lp, lq;
            if ((rc = temper__draw(ps, logits + (size_t)i * V, ids + (size_t)i * T, n[i], &tok, &lp, &lq)) < 0)
                goto done;
            ids[(size_t)i * T + n[i]++] = tok;
            cum[i] += lp;
            logw[i] += sir ? (p->alpha - 1.0) * lp : a_t * lp - lq;
            if (temper__is_eos(ps, tok)) done[i] = 1;
            else if (t + 1 < T) {
                seqs[nb] = i;
                toks[nb++] = tok;
            }
        }
        if (nb > 0) {
            ps->fwd += nb;
            if ((rc = temper_eval_batch(ps->ctx, seqs, toks, nb, batch)) < 0) goto done;
            for (int b = 0; b < nb; b++)
                memcpy(logits + (size_t)seqs[b] * V, batch + (size_t)b * V, (size_t)V * sizeof(float));
        }
        /* Effective sample size of the normalised weights. */
        double mx = -INFINITY, s1 = 0, s2 = 0;
        for (int i = 0; i < P; i++) mx = logw[i] > mx ? logw[i] : mx;
        for (int i = 0; i < P; i++) {
            double w = exp(logw[i] - mx);
            s1 += w;
            s2 += w * w;
        }
        double ess = s1 * s1 / s2;
        out->ess[out->n_ess++] = ess / P;
        if (nb == 0) break;
        if (sir || ess >= p->ess_threshold * P || t + 1 >= T) continue;
        /* Multinomial resampling. Each ancestor keeps its own slot for one
         * child; extra children go to the slots of particles with none, so
         * no KV cache is overwritten before it is copied. */
        out->n_resamples++;
        for (int i = 0; i < P; i++) kept[i] = 0;
        for (int i = 0; i < P; i++) {
            double u = temper_rng_uniform(&ps->rng) * s1, c = 0;
            int k = 0;
            for (; k < P - 1; k++) {
                c += exp(logw[k] - mx);
                if (u < c) break;
            }
            kept[k]++;
        }
        int f = 0;
        for (int i = 0; i < P; i++)
            if (!kept[i]) tmpi[f++] = i;
        f = 0;
        for (int a = 0; a < P; a++)
            for (int e = 1; e < kept[a]; e++) { /* the first child stays in a's slot */
                int dst = tmpi[f++];
                memcpy(ids + (size_t)dst * T, ids + (size_t)a * T, (size_t)n[a] * sizeof *ids);
                memcpy(logits + (size_t)dst * V, logits + (size_t)a * V, (size_t)V * sizeof(float));
                n[dst] = n[a];
                done[dst] = done[a];
                cum[dst] = cum[a];
                if ((rc = temper_seq_copy(ps->ctx, dst, a, -1)) < 0) goto done;
            }
        for (int i = 0; i < P; i++) logw[i] = 0;
    }
    /* Pick the output by the final weights. */
    {
        double mx = -INFINITY, s1 = 0, c = 0;
        for (int i = 0; i < P; i++) mx = logw[i] > mx ? logw[i] : mx;
        for (int i = 0; i < P; i++) s1 += exp(logw[i] - mx);
        double u = temper_rng_uniform(&ps->rng) * s1;
        int k = 0;
        for (; k < P - 1; k++) {
            c += exp(logw[k] - mx);
            if (u < c) break;
        }
        out->ids = malloc((size_t)(n[k] > 0 ? n[k] : 1) * sizeof *out->ids);
        if (!out->ids) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
        memcpy(out->ids, ids + (size_t)k * T, (size_t)n[k] * sizeof *out->ids);
        out->n_ids = n[k];
        out->finished_eos = done[k];
        out->log_p = cum[k];
    }
done:
    free(ids); free(toks); free(logits); free(batch); free(logw); free(cum);
    free(n); free(done); free(seqs); free(tmpi); free(kept);
    return rc;
}

temper_power_params temper_power_default_params(void) {
    temper_power_params p;
    memset(&p, 0, sizeof p);
    p.method = TEMPER_POWER_MH;
    p.alpha = 4.0f;
    p.max_new_tokens = 64;
    p.block_size = 0;
    p.mcmc_steps = 10;
    p.particles = 16;
    p.ess_threshold = 0.5f;
    return p;
}

void temper_power_result_free(temper_power_result *r) {
    if (!r) return;
    free(r->ids);
    free(r->ess);
    memset(r, 0, sizeof *r);
}

static int temper__power_check(const temper_context *ctx, const temper_power_params *p, int n_prompt) {
    if (!(p->alpha > 0) || !isfinite(p->alpha))
        return temper__error(TEMPER_EINVAL, "power: alpha is %g: use a finite value > 0 (4 in the paper)", p->alpha);
    if (p->method < TEMPER_POWER_MH || p->method > TEMPER_POWER_SIR)
        return temper__error(TEMPER_EINVAL, "power: unknown method %d (mh, smc or sir)", p->method);
    if (p->max_new_tokens < 1) return temper__error(TEMPER_EINVAL, "power: max_new_tokens must be >= 1");
    if (p->block_size < 0) return temper__error(TEMPER_EINVAL, "power: block size must be >= 0");
    if (p->mcmc_steps < 0) return temper__error(TEMPER_EINVAL, "power: mcmc steps must be >= 0");
    if (p->alpha_ramp_tokens < 0) return temper__error(TEMPER_EINVAL, "power: alpha ramp must be >= 0");
    if (!(p->ess_threshold >= 0 && p->ess_threshold <= 1))
        return temper__error(TEMPER_EINVAL, "power: ESS threshold %g is outside [0, 1]", p->ess_threshold);
    if (n_prompt < 1) return temper__error(TEMPER_EINVAL, "power: the prompt needs at least one token");
    if (p->n_eos < 0 || (p->n_eos > 0 && !p->eos_ids)) return temper__error(TEMPER_EINVAL, "power: bad eos ids");
    int slots = p->method == TEMPER_POWER_MH ? 2 : p->particles;
    if (p->method != TEMPER_POWER_MH && p->particles < 1)
        return temper__error(TEMPER_EINVAL, "power: particles must be >= 1");
    if (ctx->n_seq < slots)
        return temper__error(TEMPER_EINVAL, "power: the context has %d sequence slots, %s needs %d: create it with "
                             "n_seq >= %d", ctx->n_seq, p->method == TEMPER_POWER_MH ? "MH" : "this particle count",
                             slots, slots);
    if (n_prompt + p->max_new_tokens > ctx->n_ctx)
        return temper__error(TEMPER_ECONTEXT, "power: %d prompt tokens + %d new tokens exceed the context window of %d",
                             n_prompt, p->max_new_tokens, ctx->n_ctx);
    return 0;
}

int temper_power_sample(temper_context *ctx, const temper_token *prompt, int n_prompt,
                        const temper_power_params *params, temper_power_result *out) {
    if (!ctx || !prompt || !params || !out) return temper__error(TEMPER_EINVAL, "temper_power_sample: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = temper__power_check(ctx, params, n_prompt);
    if (rc < 0) return rc;
    temper__ps ps = {.ctx = ctx, .p = params, .V = temper_model_n_vocab(ctx->model), .n_prompt = n_prompt,
                     .T = params->max_new_tokens, .prompt = prompt};
    temper_sampling_params q = temper_sampling_default_params();
    if (params->method == TEMPER_POWER_SIR) { /* SIR draws from the model itself */
        q.do_sample = 1;
        q.top_k = 0;
    } else if (params->proposal) {
        q = *params->proposal;
        q.do_sample = 1;
    } else {
        q.do_sample = 1;
        q.top_k = 0;
        q.temperature = 1.0f / params->alpha;
    }
    if ((rc = temper_sampler_init(&q, ps.V, &ps.prop)) < 0) return temper__error_prefix(rc, "power: proposal");
    temper_rng_seed(&ps.rng, params->seed, (uint64_t)params->stream);
    ps.prompt_logits = malloc((size_t)ps.V * sizeof(float));
    ps.logits = malloc((size_t)ps.V * sizeof(float));
    ps.hist = malloc((size_t)(n_prompt + ps.T) * sizeof *ps.hist);
    if (!ps.prompt_logits || !ps.logits || !ps.hist) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(ps.hist, prompt, (size_t)n_prompt * sizeof *prompt);
    for (int s = 0; s < ctx->n_seq; s++) temper_seq_truncate(ctx, s, 0);
    ps.fwd = n_prompt;
    if ((rc = temper_eval(ctx, 0, prompt, n_prompt, ps.prompt_logits, 0)) < 0) goto done;
    if (params->method == TEMPER_POWER_MH) {
        rc = temper_seq_copy(ctx, 1, 0, -1);
        if (rc == 0) rc = temper__power_mh(&ps, out);
    } else {
        rc = temper__power_smc(&ps, out, params->method == TEMPER_POWER_SIR);
    }
    out->forward_tokens = ps.fwd;
done:
    if (rc < 0) temper_power_result_free(out);
    temper_sampler_free(ps.prop);
    free(ps.prompt_logits);
    free(ps.logits);
    free(ps.hist);
    return rc;
}
