"""The bottom layer, imported by every other: settings (core.settings), domain values
(core.domain), error types (core.errors) and Llama 4 token counting (core.tokens). It imports
nothing of DocScout's own.

The data flow above it is ingest -> storage -> engine -> app: ingest parses files into
segments, storage persists them, the engine answers over them, app serves users (web UI, CLI,
reports).
"""
