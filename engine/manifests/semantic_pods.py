"""Semantic checks of pod specs and templates: containers, volumes, probes, handlers."""
from __future__ import annotations

from .semantic_base import (
    _Base, _PROTOCOLS, _PULL_POLICIES, _RESTART_POLICIES, _d, _is_int, _l, _q, _supported,
    config_key_problem, dns1123_label_problem, env_var_name_problem, format_path,
    iana_svc_name_problem, qualified_name_problem,
)


class _PodChecks(_Base):
    def pod_spec(self, spec, path, *, owner: str | None):
        if not isinstance(spec, dict):
            return
        volumes = _l(spec.get("volumes"))
        volume_names = set(self.extra_volumes)
        for i, vol in enumerate(volumes):
            if not isinstance(vol, dict):
                continue
            vpath = path + ("volumes", i)
            name = vol.get("name")
            if isinstance(name, str):
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(vpath + ("name",), f"invalid volume name {_q(name)}: {problem}")
                if name in volume_names:
                    self.err(vpath + ("name",), f"duplicate volume name {_q(name)}")
                volume_names.add(name)
            sources = [k for k in vol if k != "name" and vol[k] is not None]
            if len(sources) > 1:
                self.err(vpath, "may not specify more than one volume type (found " + ", ".join(sources) + ")")
            for src in ("configMap", "secret"):
                items = _l(_d(vol.get(src)).get("items"))
                for j, item in enumerate(items):
                    p = _d(item).get("path")
                    if isinstance(p, str) and (p.startswith("/") or ".." in p.split("/")):
                        self.err(vpath + (src, "items", j, "path"), f"invalid path {_q(p)}: must be relative and may not contain \"..\"")
            pvc = _d(vol.get("persistentVolumeClaim"))
            if "persistentVolumeClaim" in vol and isinstance(vol.get("persistentVolumeClaim"), dict) and not pvc.get("claimName"):
                self.err(vpath + ("persistentVolumeClaim",), 'missing required field "claimName"')

        containers = spec.get("containers")
        if isinstance(containers, list) and not containers:
            self.err(path + ("containers",), "at least one container is required")
        seen_names: dict[str, tuple] = {}
        for group in ("initContainers", "containers", "ephemeralContainers"):
            for i, c in enumerate(_l(spec.get(group))):
                if isinstance(c, dict):
                    self.container(c, path + (group, i), volume_names=volume_names, seen=seen_names,
                                   ephemeral=group == "ephemeralContainers")

        policy = spec.get("restartPolicy")
        if owner in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            if isinstance(policy, str) and policy != "Always":
                self.err(path + ("restartPolicy",), _supported(policy, ("Always",)))
        elif owner in ("Job", "CronJob"):
            if policy is None:
                self.err(path, 'missing required field "restartPolicy": a Job\'s pods need "OnFailure" or "Never"')
            elif isinstance(policy, str) and policy not in ("OnFailure", "Never"):
                self.err(path + ("restartPolicy",), _supported(policy, ("OnFailure", "Never")))
        elif isinstance(policy, str) and policy not in _RESTART_POLICIES:
            self.err(path + ("restartPolicy",), _supported(policy, _RESTART_POLICIES))

        grace = spec.get("terminationGracePeriodSeconds")
        if _is_int(grace) and grace < 0:
            self.err(path + ("terminationGracePeriodSeconds",), "must be greater than or equal to 0")
        deadline = spec.get("activeDeadlineSeconds")
        if _is_int(deadline) and deadline <= 0:
            self.err(path + ("activeDeadlineSeconds",), "must be greater than 0")
        self.labels(spec.get("nodeSelector"), path + ("nodeSelector",))
        for i, tol in enumerate(_l(spec.get("tolerations"))):
            tol = _d(tol)
            tpath = path + ("tolerations", i)
            op = tol.get("operator")
            if isinstance(op, str) and op not in ("Exists", "Equal"):
                self.err(tpath + ("operator",), _supported(op, ("Exists", "Equal")))
            if op == "Exists" and tol.get("value") not in (None, ""):
                self.err(tpath + ("value",), 'must be empty when operator is "Exists"')
            if op != "Exists" and tol.get("key") in (None, ""):
                self.err(tpath + ("operator",), 'must be "Exists" when key is empty')
            effect = tol.get("effect")
            if isinstance(effect, str) and effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                self.err(tpath + ("effect",), _supported(effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
            key = tol.get("key")
            if isinstance(key, str) and key:
                problem = qualified_name_problem(key)
                if problem:
                    self.err(tpath + ("key",), f"invalid toleration key {_q(key)}: {problem}")

    def container(self, c, path, *, volume_names, seen, ephemeral):
        name = c.get("name")
        if isinstance(name, str):
            problem = dns1123_label_problem(name)
            if problem:
                self.err(path + ("name",), f"invalid container name {_q(name)}: {problem}")
            if name in seen:
                self.err(path + ("name",), f"duplicate container name {_q(name)} (also at {format_path(seen[name])})")
            else:
                seen[name] = path
        image = c.get("image")
        if image is None or (isinstance(image, str) and not image.strip()):
            self.err(path, 'missing required field "image"')
        policy = c.get("imagePullPolicy")
        if isinstance(policy, str) and policy not in _PULL_POLICIES:
            self.err(path + ("imagePullPolicy",), _supported(policy, _PULL_POLICIES))

        port_names = set()
        port_keys = set()
        for i, port in enumerate(_l(c.get("ports"))):
            if not isinstance(port, dict):
                continue
            ppath = path + ("ports", i)
            self.port_number(port.get("containerPort"), ppath + ("containerPort",), what="containerPort")
            if "hostPort" in port and _is_int(port.get("hostPort")) and port["hostPort"] != 0:
                self.port_number(port["hostPort"], ppath + ("hostPort",), what="hostPort")
            pname = port.get("name")
            if isinstance(pname, str) and pname:
                problem = iana_svc_name_problem(pname)
                if problem:
                    self.err(ppath + ("name",), f"invalid port name {_q(pname)}: {problem}")
                if pname in port_names:
                    self.err(ppath + ("name",), f"duplicate port name {_q(pname)}")
                port_names.add(pname)
            proto = port.get("protocol")
            if isinstance(proto, str) and proto not in _PROTOCOLS:
                self.err(ppath + ("protocol",), _supported(proto, _PROTOCOLS))
            key = (port.get("containerPort"), proto if isinstance(proto, str) and proto else "TCP")
            if _is_int(key[0]):
                if key in port_keys:
                    self.err(ppath, f"duplicate port {key[0]}/{key[1]}")
                port_keys.add(key)

        for i, env in enumerate(_l(c.get("env"))):
            if not isinstance(env, dict):
                continue
            epath = path + ("env", i)
            ename = env.get("name")
            if isinstance(ename, str):
                problem = env_var_name_problem(ename)
                if problem:
                    self.err(epath + ("name",), f"invalid environment variable name {_q(ename)}: {problem}")
            if env.get("value") not in (None, "") and env.get("valueFrom") is not None:
                self.err(epath, "may not have both value and valueFrom")
            vf = env.get("valueFrom")
            if isinstance(vf, dict):
                sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(k) is not None]
                if len(sources) != 1:
                    self.err(epath + ("valueFrom",), "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
                for ref in ("configMapKeyRef", "secretKeyRef"):
                    r = vf.get(ref)
                    if isinstance(r, dict) and isinstance(r.get("key"), str):
                        problem = config_key_problem(r["key"])
                        if problem:
                            self.err(epath + ("valueFrom", ref, "key"), f"invalid key {_q(r['key'])}: {problem}")
        for i, ef in enumerate(_l(c.get("envFrom"))):
            ef = _d(ef)
            sources = [k for k in ("configMapRef", "secretRef") if ef.get(k) is not None]
            if len(sources) != 1:
                self.err(path + ("envFrom", i), "must specify exactly one of configMapRef or secretRef")
            prefix = ef.get("prefix")
            if isinstance(prefix, str) and prefix:
                problem = env_var_name_problem(prefix)
                if problem:
                    self.err(path + ("envFrom", i, "prefix"), f"invalid prefix {_q(prefix)}: {problem}")

        self.resources(c.get("resources"), path + ("resources",))

        mount_paths = set()
        for i, m in enumerate(_l(c.get("volumeMounts"))):
            if not isinstance(m, dict):
                continue
            mpath = path + ("volumeMounts", i)
            mname = m.get("name")
            if isinstance(mname, str) and mname not in volume_names:
                self.err(mpath + ("name",), f"volume {_q(mname)} is not declared in the pod's volumes")
            mp = m.get("mountPath")
            if isinstance(mp, str):
                if not mp:
                    self.err(mpath + ("mountPath",), "must not be empty")
                elif mp in mount_paths:
                    self.err(mpath + ("mountPath",), f"duplicate mountPath {_q(mp)}")
                mount_paths.add(mp)
            sub = m.get("subPath")
            if isinstance(sub, str) and (sub.startswith("/") or ".." in sub.split("/")):
                self.err(mpath + ("subPath",), f"invalid subPath {_q(sub)}: must be relative and may not contain \"..\"")

        for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(probe_name)
            if isinstance(probe, dict):
                self.probe(probe, path + (probe_name,), kind=probe_name)
        lifecycle = _d(c.get("lifecycle"))
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                self.handler(lifecycle[hook], path + ("lifecycle", hook))

    def handler(self, h, path) -> int:
        kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc", "sleep") if h.get(k) is not None]
        if len(kinds) > 1:
            self.err(path, "may not specify more than one handler type (found " + ", ".join(kinds) + ")")
        for k in ("httpGet", "tcpSocket"):
            sub = h.get(k)
            if isinstance(sub, dict):
                if sub.get("port") is None:
                    self.err(path + (k,), 'missing required field "port"')
                else:
                    self.int_or_name_port(sub.get("port"), path + (k, "port"))
        grpc = h.get("grpc")
        if isinstance(grpc, dict):
            self.port_number(grpc.get("port"), path + ("grpc", "port"))
        return len(kinds)

    def probe(self, probe, path, *, kind):
        if self.handler(probe, path) == 0:
            self.err(path, "must specify a handler type (exec, httpGet, tcpSocket or grpc)")
        for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                  "failureThreshold", "terminationGracePeriodSeconds"):
            v = probe.get(f)
            if _is_int(v) and v < 0:
                self.err(path + (f,), "must be greater than or equal to 0")
        succ = probe.get("successThreshold")
        if kind in ("livenessProbe", "startupProbe") and _is_int(succ) and succ != 1:
            self.err(path + ("successThreshold",), "must be 1")

    def pod_template(self, template, path, *, owner: str):
        if not isinstance(template, dict):
            return
        meta = _d(template.get("metadata"))
        self.labels(meta.get("labels"), path + ("metadata", "labels"))
        if template.get("spec") is None:
            self.err(path, 'missing required field "spec"')
        self.pod_spec(template.get("spec"), path + ("spec",), owner=owner)

    # -- kinds -------------------------------------------------------------------------
