"""The two-case functional suite both cost integration tests price (embedded model, llama.cpp server)."""

MAX_NEW_TOKENS = 8
SUITE = f"""
suite: functional/cost
generation:
  max_new_tokens: {MAX_NEW_TOKENS}
cases:
  - id: capital
    input: What is the capital of France?
    checks:
      - not-empty
  - id: colours
    system: Answer briefly.
    input: Name three colours.
    checks:
      - not-empty
"""
