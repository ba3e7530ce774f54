"""test_ingress.py's tests once more with the Ingress served by kubedeck's Python proxy
worker (`--ingress-proxy python`), the data path of hosts without nginx; test_ingress.py
itself runs with the default, nginx when the host has it (CI installs it)."""

from __future__ import annotations

import pytest
from test_ingress import (  # noqa: F401 - collected here a second time
    test_host_path_routing_404_503_and_forwarded_headers, test_idle_clients_a_slow_client_and_a_resetting_backend,
    test_ingress_status_and_get_show_where_to_connect, test_tls_from_secret_with_sni_and_live_update,
    test_websocket_upgrade_is_spliced)

pytestmark = pytest.mark.shared_engine
ENGINE_ARGS = ("--ingress-proxy", "python")


def test_the_python_data_path_serves(engine):
    assert engine.client.status()["ingress"]["dataPath"] == "python (--ingress-proxy python)"
