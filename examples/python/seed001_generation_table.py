#!/usr/bin/env python3
"""Seed 001: continue "The movie was full of" greedily, then by sampling at
several temperatures, printing each generated token with its probability
and log-probability (the seed's table from output.scores: the distribution
each token was chosen from, so the processed one). The seed used gpt2."""
from _setup import model

m = model("gpt2")
text = "The movie was full of"
temperatures = [1.0, 0.7, 0.5, 0.1]
max_new_tokens = 50


def table(seq):
    for i, t in enumerate(seq.tokens):
        token_str = t.text.replace("\n", "\\n")
        p = 2.718281828459045 ** t.logprob_processed
        print(f"{i+1:02d} token={token_str!r:12s} p={p:.6f} logp={t.logprob_processed:.6f}")


print("Greedy method")
table(m.generate(text, max_new_tokens=max_new_tokens, do_sample=False)[0])

for temp in temperatures:
    print(f"\nSampling, temperature={temp} (seed 42)")
    table(m.generate(text, max_new_tokens=max_new_tokens, do_sample=True, temperature=temp,
                     seed=42)[0])
