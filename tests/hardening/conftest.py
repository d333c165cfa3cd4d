import pytest


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """Run ``pyagc.cli.main(args)`` in ``tmp_path`` as a user would (no PYAGC_DEBUG); return
    ``(exit code, stderr)``."""
    from pyagc.cli import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYAGC_DEBUG", raising=False)

    def run(*args):
        code = main([str(a) for a in args])
        return code, capsys.readouterr().err
    return run

