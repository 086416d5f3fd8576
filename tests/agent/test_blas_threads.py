"""The agent runs numpy's OpenBLAS with one thread unless the deployment says otherwise.

Checked in a fresh interpreter (the test process imported numpy long ago) by asking the
OpenBLAS that numpy loaded, through its own C entry point, how many threads it uses.
"""

from __future__ import annotations

import os

import pytest

from tests.support import fresh_python

ASK_OPENBLAS = """
import ctypes, glob, os
import ragagent, numpy
(lib,) = glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs", "libscipy_openblas*.so"))
print(ctypes.CDLL(lib).scipy_openblas_get_num_threads64_())
"""


def openblas_threads(**env: str) -> int:
    return int(fresh_python.run(ASK_OPENBLAS, env=env, drop=lambda k: k.endswith("_NUM_THREADS")))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenBLAS uses one thread anyway")
def test_importing_the_agent_limits_openblas_to_one_thread() -> None:
    assert openblas_threads() == 1


def test_a_deployment_can_still_choose_its_openblas_threads() -> None:
    assert openblas_threads(OPENBLAS_NUM_THREADS="2") == 2
