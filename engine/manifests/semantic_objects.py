"""Semantic checks of Services, Ingresses, ConfigMaps, Secrets, PVCs and CRDs."""
from __future__ import annotations

from .semantic_base import (
    _ACCESS_MODES, NODE_PORT_RANGE, _PROTOCOLS, _SERVICE_TYPES, _d, _is_int, _l, _q, _supported,
    base64, binascii, config_key_problem, dns1123_label_problem, dns1123_subdomain_problem,
    iana_svc_name_problem, parse_decimal,
)
from .semantic_pods import _PodChecks


class _ObjectChecks(_PodChecks):
    def service(self):
        spec = self.spec_mapping()
        if spec is None:
            return
        path = ("spec",)
        stype = spec.get("type") or "ClusterIP"
        if isinstance(stype, str) and stype not in _SERVICE_TYPES:
            self.err(path + ("type",), _supported(stype, _SERVICE_TYPES))
        headless = spec.get("clusterIP") == "None"
        if stype == "ExternalName":
            ext = spec.get("externalName")
            if not ext:
                self.err(path, 'missing required field "externalName" (needed when type is "ExternalName")')
            elif isinstance(ext, str):
                problem = dns1123_subdomain_problem(ext.rstrip("."))
                if problem:
                    self.err(path + ("externalName",), f"invalid externalName {_q(ext)}: {problem}")
        if headless and stype in ("NodePort", "LoadBalancer"):
            self.err(path + ("clusterIP",), f'may not be "None" for type {_q(stype)}')
        ports = spec.get("ports")
        if not _l(ports) and not headless and stype != "ExternalName":
            self.err(path, 'missing required field "ports" (only headless and ExternalName services may omit it)')
        multi = len(_l(ports)) > 1
        names, keys, node_ports = set(), set(), set()
        for i, port in enumerate(_l(ports)):
            if not isinstance(port, dict):
                continue
            ppath = path + ("ports", i)
            name = port.get("name")
            if isinstance(name, str) and name:
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(ppath + ("name",), f"invalid port name {_q(name)}: {problem}")
                if name in names:
                    self.err(ppath + ("name",), f"duplicate port name {_q(name)}")
                names.add(name)
            elif multi:
                self.err(ppath, 'missing required field "name" (every port needs a name when a service has more than one)')
            number = port.get("port")
            self.port_number(number, ppath + ("port",))
            proto = port.get("protocol") or "TCP"
            if isinstance(proto, str) and proto not in _PROTOCOLS:
                self.err(ppath + ("protocol",), _supported(proto, _PROTOCOLS))
            if not isinstance(proto, str):
                proto = "TCP"
            if _is_int(number):
                if (number, proto) in keys:
                    self.err(ppath, f"duplicate port {number}/{proto}")
                keys.add((number, proto))
            if port.get("targetPort") is not None:
                self.int_or_name_port(port.get("targetPort"), ppath + ("targetPort",), what="targetPort")
            node_port = port.get("nodePort")
            if node_port is not None and _is_int(node_port) and node_port != 0:
                if stype not in ("NodePort", "LoadBalancer"):
                    self.err(ppath + ("nodePort",), f'may not be used when service type is {_q(stype)} (only "NodePort" and "LoadBalancer")')
                elif not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                    self.err(ppath + ("nodePort",), f"invalid nodePort {node_port}: must be in the range {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
                elif (node_port, proto) in node_ports:
                    self.err(ppath + ("nodePort",), f"duplicate nodePort {node_port}")
                node_ports.add((node_port, proto))
        selector = spec.get("selector")
        if isinstance(selector, dict):
            self.labels(selector, path + ("selector",))
        policy = spec.get("externalTrafficPolicy")
        if isinstance(policy, str) and policy not in ("Cluster", "Local"):
            self.err(path + ("externalTrafficPolicy",), _supported(policy, ("Cluster", "Local")))

    def ingress(self):
        spec = self.spec_mapping()
        if spec is None:
            return
        path = ("spec",)
        rules = _l(spec.get("rules"))
        if spec.get("defaultBackend") is None and not rules:
            self.err(path, "either defaultBackend or rules must be specified")
        if isinstance(spec.get("defaultBackend"), dict):
            self.ingress_backend(spec["defaultBackend"], path + ("defaultBackend",))
        for i, rule in enumerate(rules):
            rule = _d(rule)
            rpath = path + ("rules", i)
            host = rule.get("host")
            if isinstance(host, str) and host:
                h = host[2:] if host.startswith("*.") else host
                problem = dns1123_subdomain_problem(h)
                if problem:
                    self.err(rpath + ("host",), f"invalid host {_q(host)}: {problem}")
            http = rule.get("http")
            if isinstance(http, dict):
                for j, p in enumerate(_l(http.get("paths"))):
                    p = _d(p)
                    ppath = rpath + ("http", "paths", j)
                    pt = p.get("pathType")
                    if isinstance(pt, str) and pt not in ("Exact", "Prefix", "ImplementationSpecific"):
                        self.err(ppath + ("pathType",), _supported(pt, ("Exact", "Prefix", "ImplementationSpecific")))
                    pv = p.get("path")
                    if isinstance(pv, str) and pt in ("Exact", "Prefix") and not pv.startswith("/"):
                        self.err(ppath + ("path",), f'invalid path {_q(pv)}: must be an absolute path (start with "/")')
                    if isinstance(p.get("backend"), dict):
                        self.ingress_backend(p["backend"], ppath + ("backend",))
        for i, tls in enumerate(_l(spec.get("tls"))):
            for j, host in enumerate(_l(_d(tls).get("hosts"))):
                if isinstance(host, str):
                    h = host[2:] if host.startswith("*.") else host
                    problem = dns1123_subdomain_problem(h)
                    if problem:
                        self.err(path + ("tls", i, "hosts", j), f"invalid host {_q(host)}: {problem}")

    def ingress_backend(self, backend, path):
        svc, res = backend.get("service"), backend.get("resource")
        if (svc is None) == (res is None):
            self.err(path, "must specify exactly one of service or resource")
        if isinstance(svc, dict):
            name = svc.get("name")
            if isinstance(name, str):
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(path + ("service", "name"), f"invalid service name {_q(name)}: {problem}")
            port = svc.get("port")
            if port is None:
                self.err(path + ("service",), 'missing required field "port"')
            elif isinstance(port, dict):
                has_num, has_name = port.get("number") is not None, bool(port.get("name"))
                if has_num == has_name:
                    self.err(path + ("service", "port"), "must specify exactly one of number or name")
                self.port_number(port.get("number"), path + ("service", "port", "number"))
                if isinstance(port.get("name"), str) and port["name"]:
                    problem = iana_svc_name_problem(port["name"])
                    if problem:
                        self.err(path + ("service", "port", "name"), f"invalid port name {_q(port['name'])}: {problem}")

    def config_keys(self, mapping, path, seen):
        if not isinstance(mapping, dict):
            return
        for key in mapping:
            problem = config_key_problem(key)
            if problem:
                self.err(path + (key,), f"invalid key {_q(key)}: {problem}")
            if key in seen:
                self.err(path + (key,), f"duplicate key {_q(key)}: also in {seen[key]}")
            else:
                seen[key] = path[-1]

    def base64_values(self, mapping, path):
        if not isinstance(mapping, dict):
            return
        for key, value in mapping.items():
            if not isinstance(value, str):
                continue
            try:
                base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                self.err(path + (key,), f"invalid base64 in {path[-1]}[{_q(key)}]")

    def configmap(self):
        seen = {}
        self.config_keys(self.obj.get("data"), ("data",), seen)
        self.config_keys(self.obj.get("binaryData"), ("binaryData",), seen)
        self.base64_values(self.obj.get("binaryData"), ("binaryData",))

    def secret(self):
        data, string_data = self.obj.get("data"), self.obj.get("stringData")
        self.config_keys(data, ("data",), {})
        self.config_keys(string_data, ("stringData",), {})
        self.base64_values(data, ("data",))
        stype = self.obj.get("type")
        keys = set(_d(data)) | set(_d(string_data))
        required = {
            "kubernetes.io/tls": ("tls.crt", "tls.key"),
            "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
            "kubernetes.io/dockercfg": (".dockercfg",),
            "kubernetes.io/basic-auth": (),
            "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        }.get(stype if isinstance(stype, str) else "", ())
        for key in required:
            if key not in keys:
                self.err(("data",) if "data" in self.obj else (), f'missing required key "{key}" for a Secret of type {_q(stype)}')

    def pvc_spec(self, spec, path):
        if not isinstance(spec, dict):
            if spec is None:
                self.err(path[:-1], f'missing required field "{path[-1]}"')
            return
        modes = spec.get("accessModes")
        if not _l(modes):
            self.err(path, 'missing required field "accessModes" (at least one access mode is required)')
        for i, mode in enumerate(_l(modes)):
            if isinstance(mode, str) and mode not in _ACCESS_MODES:
                self.err(path + ("accessModes", i), _supported(mode, _ACCESS_MODES))
        requests = _d(_d(spec.get("resources")).get("requests"))
        if spec.get("dataSource") is None and spec.get("dataSourceRef") is None and spec.get("volumeName") is None:
            if requests.get("storage") is None:
                self.err(path + ("resources",), 'missing required field "requests.storage"')
        self.resources(spec.get("resources"), path + ("resources",))
        storage = parse_decimal(requests.get("storage")) if requests.get("storage") is not None else None
        if storage is not None and storage <= 0:
            self.err(path + ("resources", "requests", "storage"), "must be greater than 0")
        vm = spec.get("volumeMode")
        if isinstance(vm, str) and vm not in ("Filesystem", "Block"):
            self.err(path + ("volumeMode",), _supported(vm, ("Filesystem", "Block")))

    def pvc(self):
        self.pvc_spec(self.obj.get("spec"), ("spec",))

    def crd(self):
        spec = _d(self.obj.get("spec"))
        names = _d(spec.get("names"))
        group, plural = spec.get("group"), names.get("plural")
        name = _d(self.obj.get("metadata")).get("name")
        if isinstance(group, str) and isinstance(plural, str) and isinstance(name, str) and name != f"{plural}.{group}":
            self.err(("metadata", "name"), f'must be spec.names.plural + "." + spec.group ({_q(plural + "." + group)})')
        scope = spec.get("scope")
        if isinstance(scope, str) and scope not in ("Namespaced", "Cluster"):
            self.err(("spec", "scope"), _supported(scope, ("Namespaced", "Cluster")))

