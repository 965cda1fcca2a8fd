"""Builders for DocScout's sample documents; run them through sample_docs/make_samples.py."""
