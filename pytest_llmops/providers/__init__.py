"""Model providers: turn requests into generations. Heavy imports live in each module."""
