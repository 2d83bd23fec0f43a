"""DeepEval metrics judged by our model subjects (optional extra)."""
