"""Class 4 of the hardening issue: nothing left behind, no risky advice. SIGTERM stops a run
like Ctrl-C (finish the epoch, checkpoint, exit, --resume continues); stale ``.tmp-*`` files of
a killed run are removed when its folder is opened again; a checkpoint pyagc did not write is
refused as "not a pyagc checkpoint", never with torch's hint to retry with
``weights_only=False``."""
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch

from pyagc.runner.checkpoint import TMP_PREFIX, CheckpointManager, atomic_save
from pyagc.runner.outputs import ResultsWriter

from _hardening_helpers import one_error_line

ARGS = ["run", "GAE", "--set", "data.num_nodes=60", "data.n_clusters=2", "epochs=6",
        "hidden_channels=8", "patience=0", "checkpoint_every=100", "-q", "--out", "res"]

# The process sends itself SIGTERM during epoch 3, as `kill PID` (or a scheduler) would.
_DRIVER = """
import json, os, signal, sys
from pyagc.cli import main
from pyagc.models import GAE
fit_epoch = GAE.fit_epoch
kill_at = int(sys.argv[1])

def fit_and_maybe_die(self, loader, optimizers, epoch, **kwargs):
    if epoch == kill_at:
        os.kill(os.getpid(), signal.SIGTERM)
    return fit_epoch(self, loader, optimizers, epoch, **kwargs)

GAE.fit_epoch = fit_and_maybe_die
sys.exit(main(json.loads(sys.argv[2])))
"""


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("PYAGC_DEBUG", None)
    return env


def _temporaries(folder):
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
            if name.startswith(TMP_PREFIX)]


def test_sigterm_finishes_the_epoch_saves_and_resume_continues(tmp_path):
    out = subprocess.run([sys.executable, "-c", _DRIVER, "3", json.dumps(ARGS)], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 143, out.stderr          # 128 + SIGTERM, not killed outright
    assert "stopping after this epoch" in out.stderr
    assert "--resume --out res" in out.stderr and "Traceback" not in out.stderr
    res = tmp_path / "res"
    assert _temporaries(res) == []
    last = CheckpointManager(res / "checkpoints" / "run0").load("last")
    assert last["train_state"]["epoch"] == 3           # epoch 3 finished and was saved
    assert not (res / "results.json").exists()

    # A run killed outright (SIGKILL, power loss) can leave temporary files: --resume removes
    # them, and only them.
    stale = [res / "checkpoints" / "run0" / f"{TMP_PREFIX}k2j4last.pt", res / f"{TMP_PREFIX}x1"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    (res / "notes").mkdir()
    (res / "notes" / f"{TMP_PREFIX}mine").write_text("not pyagc's")
    resumed = subprocess.run([sys.executable, "-c", _DRIVER, "0", json.dumps(ARGS + ["--resume"])],
                             cwd=tmp_path, env=_env(), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _temporaries(res) == [str(res / "notes" / f"{TMP_PREFIX}mine")]
    history = json.loads((res / "runs" / "run0.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]


def test_results_writer_removes_stale_temporaries_of_an_unfinished_folder(tmp_path):
    (tmp_path / "checkpoints" / "run1").mkdir(parents=True)
    (tmp_path / "runs").mkdir()
    stale = [tmp_path / f"{TMP_PREFIX}abcresults.json", tmp_path / "runs" / f"{TMP_PREFIX}r",
             tmp_path / "checkpoints" / "run1" / f"{TMP_PREFIX}best.pt"]
    for path in stale:
        path.write_text("")
    keep = tmp_path / "checkpoints" / "run1" / "best.pt"
    keep.write_text("")
    writer = ResultsWriter(str(tmp_path))          # a fresh start in the same folder
    assert sorted(writer.removed_temporaries) == sorted(map(str, stale))
    assert _temporaries(tmp_path) == [] and keep.exists()


def test_a_write_interrupted_by_a_second_signal_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "last.pt"
    atomic_save({"w": torch.arange(3)}, path)

    class Exploding:
        def __reduce__(self):
            raise KeyboardInterrupt   # the second Ctrl-C/SIGTERM lands mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_save({"w": Exploding()}, path)
    assert os.listdir(tmp_path) == ["last.pt"]
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))


class Payload:
    """What a hostile checkpoint would carry: an object whose unpickling runs code."""

    def __reduce__(self):
        return (print, ("pwned",))


def _hostile(path):
    torch.save({"model": {}, "optimizers": {}, "train_state": Payload()}, path)


def _foreign_state_dict(path):
    torch.save({"weight": torch.zeros(2)}, path)     # loads, but is not pyagc's


def _truncated(path):
    atomic_save({"model": {"w": torch.zeros(50)}, "optimizers": {}, "train_state": {}}, path)
    path.write_bytes(path.read_bytes()[:100])


def _plain_pickle(path):
    path.write_bytes(pickle.dumps({"model": Payload()}))


@pytest.mark.parametrize("make", [_hostile, _foreign_state_dict, _truncated, _plain_pickle,
                                  lambda p: p.write_bytes(b"")])
def test_a_checkpoint_pyagc_did_not_write_is_refused_without_risky_advice(tmp_path, make,
                                                                         capsys):
    manager = CheckpointManager(tmp_path)
    make(tmp_path / "last.pt")
    with pytest.raises(ValueError) as info:
        manager.load("last")
    message = str(info.value)
    assert "is not a pyagc checkpoint" in message and "Delete it" in message
    assert "weights_only" not in message and "pwned" not in capsys.readouterr().out


def test_resume_over_a_hostile_checkpoint_is_one_error_line(tmp_path, cli):
    short = [a for a in ARGS if a != "-q"] + ["--set", "epochs=2", "-q"]
    assert cli(*short)[0] == 0
    os.remove(tmp_path / "res" / "results.json")
    os.remove(tmp_path / "res" / "runs" / "run0.json")
    _hostile(tmp_path / "res" / "checkpoints" / "run0" / "last.pt")
    code, err = cli(*short, "--resume")
    one_error_line(code, err, "is not a pyagc checkpoint")
    assert "weights_only" not in err
