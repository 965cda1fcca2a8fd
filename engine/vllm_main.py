"""Process entry point of `docscout engine serve`: `python -m engine.vllm_main VLLM_ARGS...`.

vLLM's CPU platform starts its engine core with multiprocessing *spawn*, and a spawned child
imports the parent's main module again (as `__mp_main__`) before it unpickles anything of vLLM.
So the torchvision shim (engine.vllm_compat) sits at this module's top level, where it runs in
that child before transformers imports torchvision; the server itself starts only under
`__main__`.
"""

import sys

from engine.vllm_compat import prepare_torchvision

prepare_torchvision()

if __name__ == "__main__":
    from engine.server import run_vllm_cli

    run_vllm_cli(sys.argv[1:])
