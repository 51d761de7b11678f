"""Active checks: probes in short-lived pods, and the run-scoped executor that manages them."""
