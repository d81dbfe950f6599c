"""The study a config asks for: validation, the runs it expands into, factors, hyperparameters, display names."""
