#!/usr/bin/env python3
"""Seed 003: the probabilities of six candidate tokens for "Questo è un
meraviglioso ___" from their logits, then at several temperatures (the
seed's slider), with a bar chart when matplotlib is installed."""
import os
import sys

from _setup import temper

tokens = ("day", "space", "furniture", "experience", "problem", "challenge")
logits = (5, 2.2, 2.0, 4.5, 3.0, 2.7)

probs = temper.softmax(logits)
print("| No. |   tokens   | logits | probabilities |")
print("|-----|------------|--------|---------------|")
for i, (t, l, p) in enumerate(zip(tokens, logits, probs)):
    print(f"| {i} | {t} | {float(l):.1f} | {p:.6f} |")

for temperature in (0.0, 0.5, 1.0, 2.0):
    p = temper.softmax(logits, temperature)
    print(f"\nT = {temperature:.2f}: " + "  ".join(f"{t} {x:.2f}" for t, x in zip(tokens, p)))

if os.environ.get("TEMPER_PLOT", "1") == "1":
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no matplotlib: no chart)", file=sys.stderr)
    else:
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        for ax, temperature in zip(axes, (0.5, 1.0, 2.0)):
            bars = ax.bar(tokens, temper.softmax(logits, temperature), color="blue")
            ax.set_ylim(0, 1)
            ax.set_title(f"Softmax Probabilities at Temperature = {temperature:.2f}")
            ax.tick_params(axis="x", rotation=45)
        fig.savefig("seed003_softmax.png")
        print("\nchart: seed003_softmax.png", file=sys.stderr)
