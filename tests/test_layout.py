"""The rules of the code's layout (see README's map): checked on the tree itself."""

from __future__ import annotations

import pytest
from layout import import_cycles, read_layout


@pytest.fixture(scope="module")
def layout():
    return read_layout()


def test_every_sql_statement_is_in_the_store(layout):
    assert layout.sql == {}, "SQL belongs in store/; call a store function instead"


def test_no_private_name_is_imported_from_another_module(layout):
    assert layout.private == []


def test_every_exception_lives_in_errors(layout):
    outside = {name: where for name, where in layout.exceptions.items() if where != "errors.py"}
    # the two that must subclass another library's class: click's, and Twisted's
    # DNS failure (errors.py would otherwise import Twisted into every command)
    assert outside == {
        "UserError": "commands/common.py",
        "NonPublicAddress": "crawler/addresses.py",
    }


def test_every_command_is_thin(layout):
    """A command parses options, calls one library function and prints."""
    assert layout.commands, "no click command found: the layout reader is broken"
    thick = {name: lines for name, lines in layout.commands.items() if lines > 20}
    assert thick == {}


def test_no_modules_import_each_other():
    assert import_cycles() == []
