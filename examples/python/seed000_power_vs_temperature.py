#!/usr/bin/env python3
"""Seed 000: power sampling (alpha) against low temperature (T) as sequence
scores. Each sequence is scored as transformers' model(ids, labels=ids):
the raw log-likelihood, alpha * log p (power) and the log-likelihood under
softmax(logits / T) (temperature), then pairs of a right and a wrong
sentence and the gap (A - B) each score gives. The seed used
facebook/opt-125m with transformers and torch."""
from _setup import model

m = model("facebook/opt-125m")

sequences_test = [
    "7 is a prime number because it only has two divisors.",
    "7 is prime number as it is only divisible by 1 and 7.",
]
for res in m.score(sequences_test, alpha=2.0, temperature=0.5):
    print(f"Seq: {res.text[:30]}... | Raw: {res.log_prob:.2f} | Power: {res.power_score:.2f} | "
          f"Temp: {res.temp_score:.2f}")

test_pairs = [
    ["2 + 2 is 4", "2 + 2 is 5"],
    ["The capital of France is Paris.", "The capital of France is Lyon."],
    ["A prime number has two divisors.", "A prime number has three divisors."],
]

print(f"{'Méthode':<15} | {'Paire':<10} | {'Log-Likelihood':<15} | {'Gap (A-B)'}")
print("-" * 60)
for i, p in enumerate(m.score_pairs(test_pairs, alpha=2.0, temperature=0.5)):
    print(f"{'Raw':<15} | {f'Paire {i+1}':<10} | {p.a.log_prob:<15.2f} | {p.gap_log_prob:.2f}")
    print(f"{'Power (a=2)':<15} | {'':<10} | {p.a.power_score:<15.2f} | {p.gap_power:.2f}")
    print(f"{'Temp (T=0.5)':<15} | {'':<10} | {p.a.temp_score:<15.2f} | {p.gap_temp:.2f}")
    print("-" * 60)
