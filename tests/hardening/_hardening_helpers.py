"""Shared by the hardening tests (imported by name, as tests/models/_joint_helpers.py is)."""


def one_error_line(code, stderr, message):
    """What every user mistake must end in: exit code 1 and one ``pyagc: error:`` line."""
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyagc: error: "), stderr
    assert message in lines[0], lines[0]
