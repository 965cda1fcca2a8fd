"""Batch reports over a collection: a YAML spec in, Markdown, HTML and PDF out (issue #5).

    spec.py   read and check a spec (frozen values; errors name the file and line)
"""
