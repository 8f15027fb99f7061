"""Training: stage 1 ATC, stage 2 ATC + lambda(AIC + ITC), trait probes."""
