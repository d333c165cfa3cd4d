"""``torchrun --nproc_per_node=2 -m pyagc run ... --distributed``, as a user launches it."""
import json
import os
import signal
import socket
import subprocess
import sys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_two_processes_one_table_and_one_results_folder(tmp_path):
    out = tmp_path / "res"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               PYAGC_DIST_TIMEOUT="30")
    env.pop("PYAGC_DEBUG", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "pyagc", "run",
           "DGI", "--mini-batch", "--distributed", "--out", str(out), "-q",
           "--set", "data.num_nodes=300", "data.n_clusters=3", "train.epochs=3",
           "train.batch_size=64", "model.encoder.hidden_channels=16"]
    # Own process group, so that a timeout stops torchrun and both workers.
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    assert stdout.count("| NMI (%)") == 1  # rank 0 prints, rank 1 does not
    results = json.loads((out / "results.json").read_text())
    assert results["runs"][0]["epochs"] == 3
    assert sorted(os.listdir(out / "checkpoints" / "run0")) == ["best.pt", "last.pt"]
