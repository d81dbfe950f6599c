"""The study's importable code, by stage. Rule scripts beside this package are thin wrappers around it.

A module imports only from its own stage or an earlier one, in this order: outputs (what a run writes, and where),
data (sources, the IDX format, splits), study (the config, its factors and their names), train (one ResNet run),
svm (one SVM run), report (aggregation, statistics, claims, tables, figures, rendering), ops (plan, cost, status,
GPUs, locks, bundle, migration). tests/test_parse.py checks the order.
"""
