"""Answering: model profiles and local models (profiles.py, models.py), token counting as the
model counts (tokenizer.py), context assembly (context.py), prompts (prompt.py), the vLLM
backends (backends.py in-process, remote.py for a server, server.py to run one), the loop guard
(guard.py), citations (citations.py), the answer-support check (grounding.py), the `Analyst`
that ties them together (service.py) and evaluation against question sets (evaluate.py).

Only this package imports vllm. It never imports streamlit; UI-serving code lives in app/.
"""
