"""Answering: model profiles and local models (profiles.py, models.py), token counting as the
model counts (tokenizer.py), context assembly (costs.py: exact piece costs; packing.py: full and
focused; windows.py: map-reduce), prompts (prompt.py), the vLLM backends (backends.py
in-process, remote.py for a server, server.py to run one; every vLLM quirk in vllm_compat.py),
the loop guard (guard.py), citations (citations.py), the answer-support check (grounding.py),
the `Analyst` that ties them together and decides each question's mode (service.py), and
evaluation against question sets (evaluate.py).

Only this package imports vllm. It never imports streamlit; UI-serving code lives in app/.
"""
