"""Running the study: plan, cost model, status, calibration, GPUs and leases, locks, the offline bundle, migration."""
