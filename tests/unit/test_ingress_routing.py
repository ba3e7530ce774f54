"""Ingress routing as pure functions: class selection, host and path matching, precedence,
conflicts, TLS host maps and Service port resolution. No sockets, no store."""

from __future__ import annotations

import pytest

from kubedeck.engine.proxy.routing import (Backend, build_table, is_ours, service_port, split_host,
                                           tls_hosts)

OURS = {"metadata": {"name": "kubedeck", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "kubedeck.io/ingress"}}
NGINX = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}


def ing(name, rules=(), *, ns="default", cls=None, default=None, created="2024-01-01T00:00:00Z", tls=None):
    spec = {"rules": list(rules)}
    if cls:
        spec["ingressClassName"] = cls
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    if tls:
        spec["tls"] = tls
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": spec}


def rule(host, *paths):
    """paths: (path, pathType, service[, port]) tuples; port int or name."""
    out = []
    for p in paths:
        port = p[3] if len(p) > 3 else 80
        out.append({"path": p[0], "pathType": p[1], "backend": {"service": {
            "name": p[2], "port": {"number": port} if isinstance(port, int) else {"name": port}}}})
    r = {"http": {"paths": out}}
    if host:
        r["host"] = host
    return r


def svc(t, host, path):
    b = t.match(host, path)
    return b.service if b else None


def test_class_selection():
    assert is_ours(ing("a", cls="kubedeck"), [OURS, NGINX])
    assert not is_ours(ing("a", cls="nginx"), [OURS, NGINX])
    assert not is_ours(ing("a", cls="missing"), [OURS])
    assert is_ours(ing("a"), [OURS])  # no class: ours when our class is default
    not_default = {"metadata": {"name": "kubedeck"}, "spec": {"controller": "kubedeck.io/ingress"}}
    assert not is_ours(ing("a"), [not_default])
    legacy = ing("a")
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert not is_ours(legacy, [OURS, NGINX])
    t, _ = build_table([ing("mine", [rule("a.test", ("/", "Prefix", "web"))]),
                        ing("theirs", [rule("b.test", ("/", "Prefix", "other"))], cls="nginx")], [OURS, NGINX])
    assert svc(t, "a.test", "/") == "web" and svc(t, "b.test", "/") is None


@pytest.mark.parametrize("prefix,path,hit", [
    ("/", "/anything/at/all", True),
    ("/foo", "/foo", True),
    ("/foo", "/foo/", True),
    ("/foo", "/foo/bar", True),
    ("/foo", "/foobar", False),
    ("/foo/", "/foo", True),
    ("/foo/bar", "/foo/bar/baz", True),
    ("/foo/bar", "/foo/barbaz", False),
    ("/foo/bar", "/foo", False),
    ("/aaa/bbb", "/aaa/bbbxyz", False),
])
def test_prefix_matches_by_path_element(prefix, path, hit):
    t, _ = build_table([ing("a", [rule("", (prefix, "Prefix", "web"))])], [OURS])
    assert (svc(t, "x", path) == "web") is hit


@pytest.mark.parametrize("exact,path,hit", [("/foo", "/foo", True), ("/foo", "/foo/", False),
                                            ("/foo", "/foo/bar", False), ("/foo/", "/foo", False)])
def test_exact(exact, path, hit):
    t, _ = build_table([ing("a", [rule("", (exact, "Exact", "web"))])], [OURS])
    assert (svc(t, "x", path) == "web") is hit


def test_implementation_specific_is_prefix():
    t, _ = build_table([ing("a", [rule("", ("/api", "ImplementationSpecific", "api"))])], [OURS])
    assert svc(t, "x", "/api/v1") == "api" and svc(t, "x", "/apiv1") is None


def test_longest_path_wins_and_exact_beats_prefix():
    t, _ = build_table([ing("a", [rule("h", ("/", "Prefix", "root"), ("/foo", "Prefix", "foo"),
                                       ("/foo/bar", "Prefix", "foobar"), ("/foo", "Exact", "exact"))])], [OURS])
    assert svc(t, "h", "/") == "root"
    assert svc(t, "h", "/foo") == "exact"
    assert svc(t, "h", "/foo/") == "foo"
    assert svc(t, "h", "/foo/x") == "foo"
    assert svc(t, "h", "/foo/bar/x") == "foobar"
    assert svc(t, "h", "/other") == "root"


def test_hosts_exact_wildcard_and_catch_all():
    t, _ = build_table([ing("a", [rule("a.example.com", ("/", "Prefix", "exact")),
                                  rule("*.example.com", ("/", "Prefix", "wild")),
                                  rule("", ("/only", "Prefix", "any"))])], [OURS])
    assert svc(t, "a.example.com", "/") == "exact"
    assert svc(t, "b.example.com", "/") == "wild"
    assert svc(t, "x.b.example.com", "/") is None       # a wildcard covers exactly one label
    assert svc(t, "example.com", "/") is None
    assert svc(t, "other.test", "/only/x") == "any"
    assert svc(t, "a.example.com", "/only") == "exact"
    assert t.hosts == ["*.example.com", "a.example.com"]


def test_host_group_falls_through_then_default_backend():
    t, _ = build_table([ing("a", [rule("h", ("/api", "Prefix", "api")), rule("", ("/", "Prefix", "any"))],
                            default="fallback")], [OURS])
    assert svc(t, "h", "/api") == "api"
    assert svc(t, "h", "/web") == "any"
    t, _ = build_table([ing("a", [rule("h", ("/api", "Prefix", "api"))], default="fallback")], [OURS])
    assert svc(t, "h", "/web") == "fallback" and svc(t, "other", "/") == "fallback"
    empty, _ = build_table([], [OURS])
    assert empty.match("h", "/") is None


def test_port_by_number_and_by_name():
    t, _ = build_table([ing("a", [rule("h", ("/n", "Prefix", "web", 8080), ("/s", "Prefix", "web", "http"))])], [OURS])
    assert t.match("h", "/n") == Backend("default", "web", 8080, None)
    assert t.match("h", "/s") == Backend("default", "web", None, "http")
    service = {"spec": {"ports": [{"name": "http", "port": 8080, "targetPort": "web"},
                                  {"name": "metrics", "port": 9090, "targetPort": 9091}]}}
    assert service_port(service, Backend("default", "web", 8080)) == ("http", "web")
    assert service_port(service, Backend("default", "web", None, "metrics")) == ("metrics", 9091)
    assert service_port(service, Backend("default", "web", 1)) is None
    assert service_port(None, Backend("default", "web", 80)) is None


def test_conflict_oldest_wins_then_name():
    old = ing("old", [rule("h", ("/", "Prefix", "old"))], created="2024-01-01T00:00:00Z")
    new = ing("new", [rule("h", ("/", "Prefix", "new"), ("/x", "Prefix", "x"))], created="2024-06-01T00:00:00Z")
    for order in ([old, new], [new, old]):
        t, conflicts = build_table(order, [OURS])
        assert svc(t, "h", "/") == "old" and svc(t, "h", "/x/y") == "x"
        assert [(c.loser, c.winner, c.host, c.path) for c in conflicts] == \
            [(("default", "new"), ("default", "old"), "h", "/")]
        assert "default/old" in conflicts[0].message()
    a = ing("a", [rule("h", ("/", "Prefix", "a"))], ns="zz")
    b = ing("b", [rule("h", ("/", "Prefix", "b"))], ns="aa")
    t, conflicts = build_table([a, b], [OURS])  # same age: namespace/name decides
    assert svc(t, "h", "/") == "b" and conflicts[0].loser == ("zz", "a")
    # Exact and Prefix on the same path are two different rules, not a conflict
    t, conflicts = build_table([ing("e", [rule("h", ("/p", "Exact", "e"))]),
                                ing("p", [rule("h", ("/p", "Prefix", "p"))])], [OURS])
    assert not conflicts and svc(t, "h", "/p") == "e" and svc(t, "h", "/p/q") == "p"


def test_default_backend_conflict():
    _, conflicts = build_table([ing("a", default="x", created="2024-01-01T00:00:00Z"),
                                ing("b", default="y", created="2024-02-01T00:00:00Z")], [OURS])
    assert [(c.loser, c.path) for c in conflicts] == [(("default", "b"), "")]
    assert "defaultBackend" in conflicts[0].message()


def test_tls_hosts():
    i = ing("a", [rule("a.test", ("/", "Prefix", "w")), rule("b.test", ("/", "Prefix", "w"))],
            tls=[{"hosts": ["A.test"], "secretName": "a-cert"}, {"secretName": "all"}])
    assert tls_hosts([i], [OURS]) == {"a.test": ("default", "a-cert", ("default", "a")),
                                      "b.test": ("default", "all", ("default", "a"))}
    assert tls_hosts([ing("n", tls=[{"hosts": ["x"], "secretName": "s"}], cls="nginx")], [OURS, NGINX]) == {}


@pytest.mark.parametrize("raw,host", [(b"Example.COM:8080", "example.com"), (b"a.test", "a.test"),
                                      (b"[::1]:80", "[::1]"), (None, ""), ("h.test.", "h.test")])
def test_split_host(raw, host):
    assert split_host(raw) == host
