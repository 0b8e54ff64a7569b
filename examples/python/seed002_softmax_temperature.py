#!/usr/bin/env python3
"""Seed 002: softmax with a temperature on a toy vocabulary: each token's
logit, the logit the temperature stage gives (logit / T) and the
probability, at T = 1, 1.95 and 0.2. No model: temper.process runs the
library's temperature stage on a row of logits."""
from _setup import temper

tokens = ["the", "quick", "brown", "fox", "jumped", "over"]


def show(logits, temp, header="token -> logit -> adjusted logit -> probability"):
    r = temper.process(logits, temperature=temp)
    print(header)
    for idx in range(len(logits)):
        print(f"{tokens[idx]:<8} {logits[idx]:.2f} -> {r.scores[idx]:.2f} -> {r.probs[idx]:.2f}")


# temperature = 1 changes nothing
show([1.1, 0.5, 0.85, 0.97, 1.2, 0.3], 1)
print()
# temperature > 1 flattens the distribution
show([1.1, 0.5, 0.85, 0.97, 1.2, 0.3], 1.95)
print()
# temperature < 1 sharpens it
show([1.1, 0.7, 0.85, 0.9, 1.02], 0.2, "token-> logit -> adjusted logit -> probability")
