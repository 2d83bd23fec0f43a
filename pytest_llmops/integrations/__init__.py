"""Other tools we plug into: GitHub, DeepEval, the llama.cpp server."""
