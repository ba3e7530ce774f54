"""A pod's network names as the worker gives them to Docker (engine/agent/pod_network.py):
headless Services selecting it and its hostname.subdomain become aliases, other Services
and namespaces do not; the search path starts at the pod's namespace; a sandbox only
where containers share the network or the env needs the pod IP first."""

from __future__ import annotations

from kubedeck.engine.agent.pod_network import dns_search, needs_sandbox, pod_aliases


def svc(name: str, ns: str = "shop", headless: bool = True, **selector) -> dict:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector, **({"clusterIP": "None"} if headless else {})}}


POD = {"metadata": {"name": "db-0", "namespace": "shop", "labels": {"app": "db"}},
       "spec": {"hostname": "db-0", "subdomain": "db", "containers": [{"name": "c", "image": "x"}]}}


def test_aliases_come_from_headless_services_selecting_the_pod_and_the_subdomain():
    services = [svc("db", app="db"), svc("web", app="web"), svc("db-lb", headless=False, app="db"),
                svc("db", ns="other", app="db")]
    out = pod_aliases(POD, services)
    assert "db.shop" in out and "db.shop.svc.cluster.local" in out
    assert "db-0.db" in out and "db-0.db.shop.svc.cluster.local" in out
    assert not any(a.startswith(("web", "db-lb")) or ".other." in a for a in out)
    assert dns_search("shop")[0] == "shop.svc.cluster.local"


def test_a_sandbox_only_where_the_network_is_shared_or_the_ip_is_needed_first():
    one = {"spec": {"containers": [{"name": "a"}]}}
    assert not needs_sandbox(one)
    assert needs_sandbox({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}})
    assert needs_sandbox({"spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]}})
    assert needs_sandbox({"spec": {"containers": [{"name": "a", "env": [
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}]}})


def test_hosts_name_the_api_and_add_the_pods_host_aliases():
    from kubedeck.engine.agent.pod_network import extra_hosts

    pod = {"metadata": {"name": "p", "namespace": "default"},
           "spec": {"hostAliases": [{"ip": "10.1.2.3", "hostnames": ["db.local", "db"]}]}}
    hosts = extra_hosts(pod)
    assert hosts[:2] == ["kubernetes:10.96.0.1", "kubernetes.default:10.96.0.1"]
    assert "kubernetes.default.svc.cluster.local:10.96.0.1" in hosts
    assert hosts[-2:] == ["db.local:10.1.2.3", "db:10.1.2.3"]
    # elsewhere the bare name is not the API's (on a cluster it would be a Service of that namespace)
    other = extra_hosts({"metadata": {"name": "p", "namespace": "shop"}, "spec": {}})
    assert "kubernetes:10.96.0.1" not in other and "kubernetes.default.svc:10.96.0.1" in other
