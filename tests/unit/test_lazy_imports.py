"""Start-up hygiene: each command loads only what it needs (issue 18), checked in a fresh
interpreter. `--help`, `get` and `ui` never load the manifest validator or jsonschema;
`serve` loads neither them nor the client stack (httpx) before its API answers; the TUI
does not load aiohttp (port-forward imports it on first use), and its modules load no HTTP
client: httpx comes with the first request, after the first frame (the pods shown first
are listed by a forked child, cli.py `_ui`). Only `--context` loads the
official `kubernetes` client, and its kubeconfig loading leaves the validator out too."""

import subprocess
import sys

HEAVY = ("jsonschema", "kubernetes_validate", "kubedeck.engine.manifests.validate")


def loaded_after(code: str, watch: tuple[str, ...]) -> list[str]:
    probe = code + f"\nimport sys\nprint(','.join(m for m in {watch!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_context_kubeconfig_loads_no_validator(tmp_path):
    # `ui --context`: the official client's loader, without the validator it would pull in
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                      "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
                      "users: [{name: u, user: {token: t}}]\n"
                      "contexts: [{name: c, context: {cluster: k, user: u}}]\n")
    code = ("import kubedeck.cli, kubedeck.remote\nfrom kubedeck.engine.kubeconnect import load\n"
            f"assert load('c', {str(config)!r}).headers() == {{'Authorization': 'Bearer t'}}")
    assert loaded_after(code, HEAVY + ("kubernetes",)) == ["kubernetes"]
    # the validator is still there for whoever needs it next (`up --context` validates)
    assert loaded_after(code + "\nimport kubernetes_validate", ("kubernetes_validate",)) == ["kubernetes_validate"]


def test_help_loads_neither_validator_nor_client():
    code = "import contextlib, io\nfrom kubedeck.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n" \
           "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    assert loaded_after(code, HEAVY + ("httpx", "textual", "aiohttp", "kubernetes")) == []


def test_get_loads_no_validator():
    # what `kubedeck get` imports before it talks to the API
    code = "import kubedeck.cli, kubedeck.commands, kubedeck.printers"
    assert loaded_after(code, HEAVY + ("kubernetes",)) == []


def test_ui_loads_no_validator_and_no_aiohttp():
    code = "import kubedeck.cli, kubedeck.commands, kubedeck.tui.app"
    assert loaded_after(code, HEAVY + ("aiohttp", "kubernetes")) == []


def test_ui_modules_load_no_http_client():
    # all `kubedeck ui` imports before its first frame; the pods come from a forked child
    code = "import kubedeck.cli, kubedeck.engine.forked, kubedeck.tui.app"
    assert loaded_after(code, ("httpx", "httpcore", "anyio", "h11", "kubedeck.engine.kubeconnect")) == []


def test_serve_start_loads_no_validator_and_no_client_stack():
    # the modules Cluster.start() imports before it writes api.json
    code = ("import kubedeck.cli, kubedeck.serve, kubedeck.engine.cluster, kubedeck.engine.api.server, "
            "kubedeck.engine.controllers.manager, kubedeck.engine.proxy.dataplane, kubedeck.engine.proxy.nodeport, "
            "kubedeck.engine.agent.agent, kubedeck.engine.pki")
    assert loaded_after(code, HEAVY + ("httpx", "kubedeck.commands", "kubedeck.printers", "rich")) == []


def test_ui_context_modules_load_no_http_client_before_the_child():
    # `ui --context` before its first frame: the CLI, remote.py (which forks the child that
    # loads the kubeconfig and lists on httpx) and the TUI; httpx comes after the frame
    code = "import kubedeck.cli, kubedeck.commands, kubedeck.remote, kubedeck.tui.app"
    assert loaded_after(code, ("httpx", "httpcore", "anyio", "h11", "kubernetes")) == []
