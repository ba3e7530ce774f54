"""The hostile input corpus through `kubedeck validate`, a real subprocess as a user runs it.

tests/data/hostile/ holds broken manifests (syntax, schema, semantic and Pod Security
errors); EXPECTED below says, for each, the line, the field and words of the error it
must get. The cases a file in git cannot hold (a huge file, symlink loops, an
unreadable file, a FIFO, a file rewritten while it is read, editors' swap and backup
files) are made in tmp_path. For every case: the error names the file (and the line and
field where the content has them), the good files beside it still validate, the
command ends (a FIFO must not block it) and no traceback is printed.
The checks of one file's message and exit code call the CLI's `main` in this process
(`validate_here`: a subprocess costs ~0.45 s of CPU, the same validation ~0.02 s); the
whole corpus, the FIFO, the unprivileged read and the file rewritten by another process
keep the real subprocess.
tests/e2e/test_hostile_folder.py drives a subset through a live engine's folder sync.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  k: v\n"

# file -> (line, field, words of the message); field "" where the error is about the text
EXPECTED = {
    "syn-unclosed-flow.yaml": (4, "", "did not find expected ',' or '}'"),
    "syn-bad-indent.yaml": (5, "", "mapping values are not allowed"),
    "syn-tab-indent.yaml": (4, "", "cannot start any token"),
    "syn-unterminated-quote.yaml": (6, "", "unexpected end of stream"),
    "syn-duplicate-key.yaml": (5, "", 'duplicate key "name" (first at line 4)'),
    "syn-undefined-alias.yaml": (5, "", 'undefined alias "*nothing"'),
    "syn-recursive-alias.yaml": (5, "", 'recursive alias "*m"'),
    "syn-python-tag.yaml": (4, "", "unsupported YAML tag"),
    "syn-nul-bytes.yaml": (4, "", "contains NUL bytes"),
    "syn-bad-utf8.yaml": (4, "", "not valid UTF-8"),
    "syn-deep-nesting.yaml": (5, "", "nested too deeply"),
    "syn-alias-bomb.yaml": (6, "", "alias bomb"),
    "syn-complex-key.yaml": (6, "", "complex mapping keys"),
    "syn-list-document.yaml": (1, "", "not a Kubernetes object"),
    "syn-string-document.yaml": (1, "", "not a Kubernetes object"),
    "syn-json-missing-comma.json": (3, "", "Expecting ',' delimiter"),
    "syn-control-char.yaml": (4, "", "character YAML does not allow"),
    "syn-second-doc-broken.yaml": (7, "", "did not find expected ',' or ']'"),
    "sch-no-apiversion.yaml": (1, "", 'missing required field "apiVersion"'),
    "sch-no-kind.yaml": (1, "", 'missing required field "kind"'),
    "sch-no-name.yaml": (3, "metadata", 'missing required field "name"'),
    "sch-unknown-field.yaml": (16, "spec.template.spec.containers[0].ports[0]", 'did you mean "containerPort"'),
    "sch-replicas-string.yaml": (6, "spec.replicas", 'expected integer, got string "three"'),
    "sch-port-string.yaml": (10, "spec.containers[0].ports[0].containerPort", "expected integer"),
    "sch-wrong-apiversion.yaml": (1, "apiVersion", 'apiVersion "apps/v1"'),
    "sch-unknown-kind.yaml": (2, "kind", 'no matches for kind "Widget"'),
    "sch-no-image.yaml": (14, "spec.template.spec.containers[0]", 'missing required field "image"'),
    "sch-containers-map.yaml": (6, "spec.containers", "expected list, got mapping"),
    "sch-env-no-name.yaml": (10, "spec.containers[0].env[0]", 'missing required field "name"'),
    "sch-labels-list.yaml": (5, "metadata.labels", "expected mapping, got list"),
    "sch-list-item.yaml": (10, "data.a", "expected string, got integer"),
    "sem-bad-name.yaml": (4, "metadata.name", "RFC 1123 subdomain"),
    "sem-long-label.yaml": (6, "metadata.labels.a", "no more than 63 characters"),
    "sem-selector-mismatch.yaml": (7, "spec.selector", "does not match template labels"),
    "sem-duplicate-containers.yaml": (9, "spec.containers[1].name", 'duplicate container name "c"'),
    "sem-nodeport-range.yaml": (9, "spec.ports[0].nodePort", "30000-32767"),
    "sem-port-range.yaml": (7, "spec.ports[0].port", "between 1 and 65535"),
    "sem-negative-replicas.yaml": (6, "spec.replicas", "greater than or equal to 0"),
    "sem-bad-quantity.yaml": (11, "spec.containers[0].resources.limits.memory", 'invalid quantity "1Gb"'),
    "sem-secret-not-base64.yaml": (6, "data.password", "invalid base64"),
    "sem-env-name.yaml": (10, "spec.containers[0].env[0].name", "invalid environment variable name"),
    "sem-mount-undefined-volume.yaml": (10, "spec.containers[0].volumeMounts[0].name", 'volume "data" is not declared'),
    "sem-cron-schedule.yaml": (6, "spec.schedule", 'invalid schedule "every day"'),
    "sem-namespace-name.yaml": (4, "metadata.name", "RFC 1123 label"),
    "sem-defined-twice.yaml": (6, "", "is defined twice"),
    "sem-restart-policy.yaml": (6, "spec.restartPolicy", 'unsupported value "Sometimes"'),
    "psa-privileged.yaml": (10, "spec.containers[0].securityContext.privileged", "privileged=true"),
    "psa-host-network.yaml": (6, "spec.hostNetwork", "host namespaces"),
    "psa-hostpath-root.yaml": (15, "spec.volumes[0].hostPath.path", "Docker socket"),
    "psa-docker-socket.yaml": (15, "spec.volumes[0].hostPath.path", "Docker socket"),
    "psa-capabilities.yaml": (11, "spec.containers[0].securityContext.capabilities.add", '"SYS_ADMIN"'),
}
LINE = re.compile(r"^(?P<file>[^\s:]+)(?::(?P<line>\d+))?:? (?P<rest>.*)$")


def validate(*paths, prefix=(), timeout=60) -> subprocess.CompletedProcess:
    r = subprocess.run([*prefix, sys.executable, "-m", "kubedeck", "validate", *map(str, paths)],
                       capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    return r


def validate_here(capsys, *paths) -> subprocess.CompletedProcess:
    """`kubedeck validate` through the CLI's `main` in this process, answered like
    `validate` (an exception escaping main fails the test as a traceback would)."""
    from kubedeck.cli import main

    capsys.readouterr()
    code = main(["validate", *map(str, paths)])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["kubedeck", "validate"], code, out, err)


def errors_by_file(stderr: str) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for text in stderr.splitlines():
        m = LINE.match(text.removeprefix("warning: "))
        assert m, f"an error line that names no file: {text!r}"
        out.setdefault(Path(m["file"]).name, []).append((int(m["line"] or 0), m["rest"]))
    return out


def test_the_corpus_holds_at_least_40_cases_and_each_has_an_expectation():
    files = sorted(p.name for p in CORPUS.iterdir())
    assert len(files) >= 40
    assert sorted(EXPECTED) == files


def test_every_corpus_file_is_reported_with_its_line_field_and_words(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(CORPUS, folder)
    (folder / "good.yaml").write_text(GOOD)
    r = validate(folder)
    assert r.returncode == 1
    got = errors_by_file(r.stderr)
    assert "good.yaml" not in got
    for name, (line, field, words) in EXPECTED.items():
        found = got.get(name, [])
        assert any(ln == line and (not field or f" {field}: " in f" {rest}") and words in rest
                   for ln, rest in found), f"{name}: want line {line} {field!r} {words!r}; got {found}"
    assert all("--allow-privileged" in rest for n in got if n.startswith("psa-") for _, rest in got[n])
    # the good file and the good halves of mixed files still count
    valid = int(r.stdout.split()[0])
    assert valid == 4  # good, fine (in syn-second-doc-broken), ok (List item), the first "twice"


def test_each_file_alone_names_itself(capsys):
    """Run per file too, on a sample: the error is the file's and the exit code says so,
    whatever else is in the folder."""
    for name in ("syn-bad-utf8.yaml", "sch-unknown-field.yaml", "sem-cron-schedule.yaml", "psa-privileged.yaml"):
        r = validate_here(capsys, CORPUS / name)
        assert r.returncode == 1 and set(errors_by_file(r.stderr)) == {name}, r.stderr


def _made_cases(folder: Path) -> dict[str, str]:
    """Hostile files that cannot live in git; -> words of the error each must get."""
    (folder / "huge.yaml").write_bytes(b"# " + b"x" * (4 << 20) + b"\n")
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" + "".join(
        f"  k{i}: v\n" for i in range(60_000)) + "  bad: [1]\n"
    (folder / "big-but-allowed.yaml").write_text(big)  # 0.8 MB: read, and the error is on its last line
    os.symlink("loop-b.yaml", folder / "loop-a.yaml")
    os.symlink("loop-a.yaml", folder / "loop-b.yaml")
    os.symlink("self.yaml", folder / "self.yaml")
    os.symlink("nowhere.yaml", folder / "dangling.yaml")
    os.mkfifo(folder / "pipe.yaml")
    (folder / "dir.yaml").mkdir()
    (folder / "dir.yaml" / "inner.yaml").write_text(GOOD.replace("good", "inner"))
    locked = folder / "unreadable.yaml"
    locked.write_text(GOOD.replace("good", "locked"))
    locked.chmod(0)
    # editors' swap and backup files: never manifests, whatever they hold
    for junk in (".good.yaml.swp", ".good.yaml.swx", "good.yaml~", "4913", "#good.yaml#", ".#good.yaml"):
        (folder / junk).write_bytes(b"\x00garbage: [")
    return {"huge.yaml": "file is too large", "big-but-allowed.yaml": "expected string, got list",
            "loop-a.yaml": "symlink loop", "loop-b.yaml": "symlink loop", "self.yaml": "symlink loop",
            "dangling.yaml": "dangling symlink", "pipe.yaml": "FIFO", "unreadable.yaml": "Permission denied"}


def test_files_a_repository_cannot_hold(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    want = _made_cases(folder)
    # root reads a 000 file; without its capabilities (CAP_DAC_OVERRIDE) it cannot
    drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to read as a user without root's capabilities"
    r = validate(folder, prefix=drop if os.geteuid() == 0 else (), timeout=60)
    got = errors_by_file(r.stderr)
    assert r.returncode == 1
    for name, words in want.items():
        assert any(words in rest for _, rest in got.get(name, [])), f"{name}: want {words!r}; got {got.get(name)}"
    assert [ln for ln, _ in got["big-but-allowed.yaml"]] == [60_006]
    assert set(got) == set(want)  # nothing about good.yaml, dir.yaml/inner.yaml or the editors' files
    assert r.stdout.split()[0] == "2"  # good and inner


def test_a_fifo_given_by_name_does_not_block(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    r = validate(fifo, timeout=20)
    assert r.returncode == 1 and "is a FIFO (named pipe), not a regular file" in r.stderr


def test_a_file_rewritten_while_it_is_read(tmp_path):
    """A writer rewrites the file in place (truncate, then two writes) as fast as it can
    while validate reads it: each run sees the old text, the new one or a torn one, and
    a torn one is an error naming the file, never a crash."""
    path = tmp_path / "churn.yaml"
    big = GOOD + "".join(f"  key{i}: value{i}\n" for i in range(8_000))
    path.write_text(big)
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            with open(path, "w") as f:
                f.write(big[: len(big) // 2])
                f.flush()
                f.write(big[len(big) // 2:])
    writer = threading.Thread(target=churn, daemon=True)
    writer.start()
    try:
        outcomes = set()
        for _ in range(3):
            r = validate(path)
            if r.returncode:
                assert set(errors_by_file(r.stderr)) == {"churn.yaml"}, r.stderr
            outcomes.add(r.returncode)
        assert outcomes <= {0, 1}
    finally:
        stop.set()
        writer.join()


@pytest.mark.parametrize("name", ["x.yaml.swp", "x.yaml~", "4913"])
def test_editor_files_given_by_name_are_still_read(tmp_path, capsys, name):
    """Named on the command line, a file is checked whatever its name (as kubectl -f)."""
    p = tmp_path / name
    p.write_text("kind: [")
    r = validate_here(capsys, p)
    assert r.returncode == 1 and name in r.stderr
