"""Serving: vLLM engines for the generators, supervised, with the gateway in front."""
