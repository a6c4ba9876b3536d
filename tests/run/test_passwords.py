"""Password decisions, state and delivery, without a server."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from sync.errors import ConfigurationError
from sync.run.passwords import (
    ALPHABET,
    DeliveryFailed,
    SourceAccount,
    Step,
    WrittenHashes,
    deliver,
    first_step,
    generate_password,
    hash_step,
)
from sync.settings import PasswordMode, PasswordSettings
from sync.sources.document import load_data

NEW, OLD = "{SSHA}new", "{SSHA}old"


@pytest.mark.parametrize(
    ("mode", "created", "source", "last", "step"),
    [
        (PasswordMode.NONE, True, NEW, None, Step.NOTHING),
        (PasswordMode.NONE, False, NEW, OLD, Step.NOTHING),
        (PasswordMode.INITIAL, True, None, None, Step.GENERATE),
        (PasswordMode.INITIAL, False, None, None, Step.NOTHING),
        (PasswordMode.INITIAL, False, NEW, OLD, Step.NOTHING),
        (PasswordMode.SOURCE_HASH, True, NEW, None, Step.WRITE_HASH),
        (PasswordMode.SOURCE_HASH, True, None, None, Step.NOTHING),
        (PasswordMode.SOURCE_HASH, False, NEW, NEW, Step.NOTHING),
        (PasswordMode.SOURCE_HASH, False, None, OLD, Step.NOTHING),
        (PasswordMode.SOURCE_HASH, False, NEW, OLD, None),
        (PasswordMode.SOURCE_HASH, False, NEW, None, None),
    ],
)
def test_the_first_step_needs_the_directory_only_for_a_hash_not_yet_written(
    mode, created, source, last, step
):
    assert first_step(mode, created, source, last) is step


@pytest.mark.parametrize(
    ("holds_source", "holds_last", "step"),
    [
        (None, False, Step.WRITE_HASH),
        (False, True, Step.WRITE_HASH),
        (True, False, Step.ADOPT),
        (False, False, Step.KEEP),
    ],
)
def test_a_new_source_hash_is_written_only_over_our_own_last_hash_or_no_password(
    holds_source, holds_last, step
):
    assert hash_step(holds_source, holds_last) is step


def test_generated_passwords_are_long_random_and_from_the_alphabet():
    passwords = {generate_password(20) for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 20 and set(p) <= set(ALPHABET) for p in passwords)


def test_an_unwritable_state_directory_is_a_configuration_error(tmp_path):
    (tmp_path / "file").write_text("")
    state = WrittenHashes(tmp_path / "file" / "state" / "passwords.json", {"external:P-1": OLD})
    with pytest.raises(ConfigurationError, match="cannot write the password state"):
        state.save()


def test_the_state_file_is_private_and_reads_back(tmp_path):
    state = WrittenHashes.load(tmp_path / "state")
    state.written["external:P-1"] = OLD
    state.save()
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o600
    assert WrittenHashes.load(tmp_path / "state").written == {"external:P-1": OLD}


ACCOUNT = SourceAccount("external:P-1", "cdubois", "claire@example.org", None)


def test_the_initial_password_file_gets_one_private_line_per_account(tmp_path):
    target = tmp_path / "initial.txt"
    options = PasswordSettings(external="initial", initial_file=target)
    deliver(options, ACCOUNT, "uid=cdubois,ou=external,dc=example,dc=org", "Secret-1")
    deliver(options, ACCOUNT, "uid=cdubois,ou=external,dc=example,dc=org", "Secret-2")
    assert target.read_text() == "cdubois\tSecret-1\ncdubois\tSecret-2\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_a_password_file_readable_by_others_is_refused(tmp_path):
    target = tmp_path / "initial.txt"
    target.write_text("")
    target.chmod(0o644)
    options = PasswordSettings(external="initial", initial_file=target)
    with pytest.raises(DeliveryFailed, match="readable by others") as caught:
        deliver(options, ACCOUNT, "uid=cdubois", "Secret-1")
    assert "Secret-1" not in str(caught.value)
    assert target.read_text() == ""


def test_the_initial_password_command_reads_it_on_stdin(tmp_path):
    out = tmp_path / "mail.txt"
    script = (
        f"import os,sys; open({str(out)!r},'w')"
        ".write(os.environ['PORTAL_SYNC_EMAIL']+' '+sys.stdin.read())"
    )
    options = PasswordSettings(external="initial", initial_command=[sys.executable, "-c", script])
    deliver(options, ACCOUNT, "uid=cdubois", "Secret-1")
    assert out.read_text() == "claire@example.org cdubois\tSecret-1\n"


def test_a_failing_command_is_reported_without_the_password():
    options = PasswordSettings(
        external="initial", initial_command=[sys.executable, "-c", "import sys; sys.exit(3)"]
    )
    with pytest.raises(DeliveryFailed, match="exited with 3") as caught:
        deliver(options, ACCOUNT, "uid=cdubois", "Secret-1")
    assert "Secret-1" not in str(caught.value)


def test_mode_initial_needs_a_channel():
    with pytest.raises(ValueError, match="needs a channel"):
        PasswordSettings(internal="initial")


def test_a_cleartext_source_password_is_a_record_error_that_does_not_show_it(seed):
    seed["internal_users"][0]["password_hash"] = "hunter2-cleartext"
    seed["internal_users"][1]["password_hash"] = "{CLEARTEXT}hunter3"
    loaded = load_data(seed)
    problems = [str(error) for error in loaded.errors]
    assert len(problems) == 2
    assert all("hunter" not in problem for problem in problems)
    assert "must be a hash" in problems[0]


@pytest.mark.parametrize(
    "text", ['{"written": []}', '{"written": {}, "pending": "external:1"}', "[1, 2]"]
)
def test_a_password_state_of_the_wrong_shape_says_whether_deleting_it_is_safe(tmp_path, text):
    (tmp_path / "passwords.json").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="It is safe to delete the file"):
        WrittenHashes.load(tmp_path)
