"""The notebook batch's kernels talk over unix sockets in a private folder."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest

ROOT = Path(__file__).resolve().parent.parent


# ----- the notebook batch: kernels talk over unix sockets -------------------------------------------------------

_STAND_IN_HEADER = (
    "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
    '#     name: python3\n# ---\n\n# %% tags=["parameters"]\noutput_dir = None\n\n# %%\n'
)


def test_the_batch_gives_its_kernels_unix_sockets_in_a_private_folder(tmp_path, monkeypatch):
    """User guide: kernels talk over unix sockets (in a private temporary folder, removed at the end). Which kernel
    manager `run_notebooks` hands to papermill, without starting a kernel."""
    import tempfile

    import papermill

    from relunet_support.jobs import batch
    from relunet_support.jobs.study import load_study

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "02_train.py").write_text(_STAND_IN_HEADER + "print('ran')\n")
    managers, folders = [], []

    class UnstartedKernel(batch.ChainKernel):
        def ready(self):
            self.manager = self.manager_class(kernel_name=self.kernel_name)
            return self.manager

        def shutdown(self):
            self.manager = None

    def execute_notebook(*args, km, **kwargs):
        managers.append(km)
        folders.append((Path(km.ip).parent, Path(km.ip).parent.is_dir()))

    monkeypatch.setattr(batch, "ChainKernel", UnstartedKernel)
    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)
    monkeypatch.setattr(batch.engine, "precompile", lambda sizes, general=(): None)  # no notebook trains here
    study = load_study(ROOT / "studies" / "smoke.yaml")
    executions = batch.run_notebooks(
        study, tmp_path / "out", notebooks_dir=notebooks, notebooks=("02_train",), headline_notebooks=(),
        study_notebooks=(), log=lambda *_: None, write_summary=False,
    )  # fmt: skip
    assert [e.error for e in executions] == [None] and len(managers) == 1
    (km,) = managers
    assert km.transport == "ipc" and km.get_connection_info()["transport"] == "ipc"
    folder, existed = folders[0]
    assert existed and folder.name.startswith("relunet-kernels-")  # a folder of its own …
    assert folder.parent == Path(tempfile.gettempdir())  # … among the temporary files
    assert not folder.exists()  # and gone when the batch is done


@pytest.mark.slow  # starts a kernel (a few seconds)
def test_a_batch_kernel_listens_on_unix_sockets_only(tmp_path):
    """User guide: kernels talk over unix sockets — asked inside the kernel a batch started: its connection is ipc, and
    each of its five channels is a unix socket file in the batch's private folder."""
    from relunet_support.jobs import batch
    from relunet_support.jobs.study import load_study

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    report = tmp_path / "report.json"
    body = f"""import json, os, stat
from ipykernel.connect import get_connection_info
info = get_connection_info(unpack=True)
ports = [info[f"{{name}}_port"] for name in ("shell", "iopub", "stdin", "control", "hb")]
sockets = [stat.S_ISSOCK(os.stat(f"{{info['ip']}}-{{port}}").st_mode) for port in ports]
open({str(report)!r}, "w").write(json.dumps({{"transport": info["transport"], "ip": info["ip"], "sockets": sockets}}))
"""
    (notebooks / "02_train.py").write_text(_STAND_IN_HEADER + body)
    study = load_study(ROOT / "studies" / "smoke.yaml")
    executions = batch.run_notebooks(
        study, tmp_path / "out", notebooks_dir=notebooks, notebooks=("02_train",), headline_notebooks=(),
        study_notebooks=(), log=lambda *_: None, write_summary=False,
    )  # fmt: skip
    assert [e.error for e in executions] == [None]
    seen = json.loads(report.read_text())
    assert seen["transport"] == "ipc" and seen["sockets"] == [True] * 5
    folder = Path(seen["ip"]).parent
    assert folder.name.startswith("relunet-kernels-") and not folder.exists()  # removed after the batch
