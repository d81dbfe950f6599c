"""The study's importable code. Rule scripts beside this package are thin wrappers around it."""
