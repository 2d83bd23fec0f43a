"""Human review: sample cases for people to read, take their labels back into the report, and
measure how well the automatic verdicts agree with them (``llmops review export`` / ``import``)."""
