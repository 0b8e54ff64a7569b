#!/usr/bin/env python3
"""Seed 004: the tour of a language model: the model's shape, tokens,
embeddings (hidden states) and their PCA, attention, the next-token table,
the generation controls (temperature, top_k against top_p, repetition
penalty) and perplexity. The seed used distilgpt2 with transformers,
torch, scikit-learn and plotly; here only temper and numpy."""
import numpy as np

from _setup import model, temper

m = model("distilgpt2")
info = m.info
print(f"Nombre de paramètres: {info['n_params']:,}")
print(f"Taille du vocabulaire: {info['n_vocab']:,}")
print(f"Nombre de couches: {info['n_layer']}")
print(f"Nombre de têtes d'attention: {info['n_head']}")
print(f"Dimension des embeddings: {info['n_embd']}")
print(f"Context window: {info['n_ctx']} tokens")

# ---- 4. tokens ----------------------------------------------------------
print("\nExemples de tokenization:\n")
for texte in ["Bonjour, comment allez-vous ?", "L'intelligence artificielle révolutionne le monde.",
              "Tokenization est un concept fondamental.", "2024 sera une année exceptionnelle!",
              "Machine Learning & Deep Learning"]:
    toks = m.tokens(texte, add_special_tokens=False)
    print(f"Texte: {texte}")
    print(f"   Tokens: {[t['piece'] for t in toks]}")
    print(f"   IDs: {[t['id'] for t in toks]}")
    print(f"   Nombre de tokens: {len(toks)}")

texte_analyse = ("L'apprentissage automatique et l'intelligence artificielle transforment "
                 "radicalement notre société.")
toks = m.tokens(texte_analyse, add_special_tokens=False)
print(f"\nNombre de mots: {len(texte_analyse.split())}, nombre de tokens: {len(toks)}, "
      f"ratio tokens/mots: {len(toks) / len(texte_analyse.split()):.2f}")
print(f"{'Position':>8} {'Token':<16} {'Token_ID':>8} {'Longueur':>8}")
for i, t in enumerate(toks[:15]):
    print(f"{i:>8} {t['piece']:<16} {t['id']:>8} {len(t['piece']):>8}")

# ---- 5. embeddings ------------------------------------------------------
texte_exemple = "Les modèles de langage sont puissants et fascinants"
emb = m.hidden_states(texte_exemple)[-1]  # (n, C): the last layer, as hidden_states[-1]
print(f"\nShape des embeddings: {emb.shape}")
print(f"Premier embedding: min {emb[0].min():.3f} max {emb[0].max():.3f} "
      f"mean {emb[0].mean():.3f} std {emb[0].std():.3f}")
proj, explained = m.pca("king queen man woman prince princess", layer=-1, k=2)
print(f"PCA: variance expliquée {explained[0]:.3f}, {explained[1]:.3f}")
for row in proj[:4]:
    print(f"   ({row[0]:.3f}, {row[1]:.3f})")

# ---- 6. attention -------------------------------------------------------
texte_attention = "L'intelligence artificielle transforme le monde"
att = m.attention(texte_attention)
print(f"\nAttention: {att.shape[0]} couches, {att.shape[1]} têtes, séquence {att.shape[2]}")
print("Couche 0, tête 0 (lignes: requêtes, somme = 1):")
for i, row in enumerate(att[0, 0]):
    print(f"   {att.tokens[i]!r:>14} " + " ".join(f"{x:.2f}" for x in row))

# ---- 8. next-token probabilities ---------------------------------------
test_prompt = "Paris est la capitale de la"
table = m.next_token(test_prompt, top=10)
print(f"\nTop 10 tokens pour: '{test_prompt}'\n")
print(f"{'Token':>12} {'Token_ID':>8} {'Probabilité':>12} {'Probabilité_%':>14}")
for r in table:
    print(f"{r['token']!r:>12} {r['id']:>8} {r['prob']:>12.6f} {100 * r['prob']:>14.4f}")
print(f"Entropie: {table.entropy:.4f} nats")

# ---- 9. experiments -----------------------------------------------------
prompt_exp = "L'avenir de l'intelligence artificielle sera"
for temp in [0.0, 0.5, 0.7, 1.0, 1.5]:
    g = m.generate(prompt_exp, max_new_tokens=30, do_sample=temp > 0.01,
                   temperature=temp if temp > 0 else 1.0,
                   num_return_sequences=3 if temp > 0.01 else 1, seed=42, top_k=50, top_p=0.9)
    print(f"\nTemperature = {temp}")
    for i, s in enumerate(g, 1):
        print(f"   {i}. {s.text!r}")
    print(f"   Sorties uniques: {len(set(s.text for s in g))}/{len(g)}")

prompt_exp3 = "Dans le futur, les robots pourront"
for label, kw in (("top_k=10", dict(top_k=10, top_p=1.0)), ("top_p=0.9", dict(top_k=0, top_p=0.9))):
    g = m.generate(prompt_exp3, max_new_tokens=25, do_sample=True, temperature=0.8,
                   num_return_sequences=3, seed=42, **kw)
    print(f"\nAvec {label}")
    for i, s in enumerate(g, 1):
        print(f"   {i}. {s.text!r}")

prompt_exp4 = "Les avantages de l'IA sont nombreux. Premièrement"
for penalty in (1.0, 1.2, 1.5):
    g = m.generate(prompt_exp4, max_new_tokens=40, do_sample=True, temperature=0.8, top_k=50,
                   top_p=0.9, repetition_penalty=penalty, seed=42)
    print(f"\nrepetition_penalty={penalty}: {g[0].text!r}")

# ---- 11. perplexity -----------------------------------------------------
print("\nPerplexité (exp de la loss de model(ids, labels=ids)):")
for text, description in [("Paris est la capitale de la France.", "Texte factuel simple"),
                          ("L'intelligence artificielle transforme radicalement notre société "
                           "moderne.", "Texte cohérent"),
                          ("xkzp qwerty asdfgh zxcvbn uiop jklm", "Texte aléatoire"),
                          ("Le le le le le le le le le le", "Répétitions")]:
    print(f"   {description:<22} {m.perplexity(text).perplexity:10.2f}")
