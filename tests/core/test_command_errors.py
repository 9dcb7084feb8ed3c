"""Every command ends the same way: one line for a user's mistake, with its exit status."""

import pytest

from ganglion.command_errors import run_reporting_errors
from ganglion.errors import ConfigError


def _raise(exc):
    def run(args):
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "status", "line"),
    [
        (
            ConfigError("model.x is missing; set it"),
            2,
            "tool sub: error: model.x is missing; set it",
        ),
        (PermissionError(13, "Permission denied", "/out"), 1, "tool sub: error: [Errno 13]"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_errors_become_one_line_and_an_exit_status(exc, status, line, capsys):
    assert run_reporting_errors("tool sub", _raise(exc), None) == status
    err = capsys.readouterr().err
    assert err.startswith(line) and "Traceback" not in err and err.count("\n") == 1


def test_a_result_is_the_exit_status_and_bugs_keep_their_traceback():
    assert run_reporting_errors("tool", lambda args: None, None) == 0
    assert run_reporting_errors("tool", lambda args: 3, None) == 3
    with pytest.raises(ZeroDivisionError):
        run_reporting_errors("tool", lambda args: 1 / 0, None)
