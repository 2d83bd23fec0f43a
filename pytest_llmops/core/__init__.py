"""The run's building blocks below the suites: specs, registry, engine, cache, subjects, stats, baselines."""
