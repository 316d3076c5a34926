"""Evaluation: BIRD dataset loading and batch execution-accuracy evaluation through the gateway."""
