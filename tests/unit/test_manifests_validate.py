"""Validation: kinds, schema errors with suggestions and lines, Kubernetes' rules."""
from __future__ import annotations

import textwrap

import pytest

from kubedeck.engine.manifests import (
    KINDS,
    kind_for_plural,
    load_and_validate,
    load_text,
    plural_for_kind,
    validate_document,
)

VALID = {
    "deployment": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: {app: web, app.kubernetes.io/part-of: shop}
          annotations: {example.com/owner: "team a"}
        spec:
          replicas: 3
          selector:
            matchLabels: {app: web}
            matchExpressions:
            - {key: tier, operator: In, values: [front]}
          strategy:
            type: RollingUpdate
            rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
          template:
            metadata:
              labels: {app: web, tier: front}
            spec:
              terminationGracePeriodSeconds: 5
              nodeSelector: {kubernetes.io/os: linux}
              tolerations:
              - {key: dedicated, operator: Equal, value: web, effect: NoSchedule}
              initContainers:
              - name: init
                image: busybox:1.36
                command: [sh, -c, "echo hi"]
              containers:
              - name: web
                image: busybox:1.36
                imagePullPolicy: IfNotPresent
                command: [httpd, -f, -p, "8080"]
                workingDir: /www
                ports:
                - {name: http, containerPort: 8080}
                - {name: metrics, containerPort: 9090, protocol: TCP}
                env:
                - {name: MODE, value: prod}
                - {name: my.dotted-name, value: "1"}
                - name: PASSWORD
                  valueFrom: {secretKeyRef: {name: db, key: password}}
                - name: LEVEL
                  valueFrom: {configMapKeyRef: {name: conf, key: LOG_LEVEL, optional: true}}
                - name: POD_NAME
                  valueFrom: {fieldRef: {fieldPath: metadata.name}}
                envFrom:
                - configMapRef: {name: conf}
                - {prefix: DB_, secretRef: {name: db}}
                resources:
                  requests: {cpu: 100m, memory: 64Mi, ephemeral-storage: 1e3}
                  limits: {cpu: 0.5, memory: 128Mi}
                readinessProbe:
                  httpGet: {path: /, port: http}
                  initialDelaySeconds: 1
                  periodSeconds: 2
                  timeoutSeconds: 1
                  successThreshold: 1
                  failureThreshold: 3
                livenessProbe:
                  tcpSocket: {port: 8080}
                startupProbe:
                  exec: {command: [cat, /tmp/ready]}
                lifecycle:
                  preStop: {exec: {command: [sleep, "1"]}}
                volumeMounts:
                - {name: data, mountPath: /data}
                - {name: conf, mountPath: /etc/conf, readOnly: true, subPath: app.properties}
                - {name: host, mountPath: /host}
                - {name: secret, mountPath: /secret}
                - {name: claim, mountPath: /claim}
              volumes:
              - {name: data, emptyDir: {}}
              - {name: conf, configMap: {name: conf, items: [{key: app.properties, path: app.properties}]}}
              - {name: host, hostPath: {path: /tmp, type: DirectoryOrCreate}}
              - {name: secret, secret: {secretName: db}}
              - {name: claim, persistentVolumeClaim: {claimName: data}}
    """,
    "service": """\
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: NodePort
          selector: {app: web}
          ports:
          - {name: http, port: 80, targetPort: http, nodePort: 30080}
          - {name: metrics, port: 9090, targetPort: 9090}
    """,
    "headless-service": """\
        apiVersion: v1
        kind: Service
        metadata: {name: db}
        spec:
          clusterIP: None
          selector: {app: db}
    """,
    "configmap": """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: conf}
        data:
          LOG_LEVEL: debug
          app.properties: |
            a=1
        binaryData:
          blob.bin: aGVsbG8=
    """,
    "secret": """\
        apiVersion: v1
        kind: Secret
        metadata: {name: db}
        type: Opaque
        data:
          password: c2VjcmV0
        stringData:
          user: admin
    """,
    "tls-secret": """\
        apiVersion: v1
        kind: Secret
        metadata: {name: tls}
        type: kubernetes.io/tls
        data:
          tls.crt: LS0tLS1CRUdJTg==
          tls.key: LS0tLS1CRUdJTg==
    """,
    "statefulset": """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          serviceName: db
          replicas: 1
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              containers:
              - name: db
                image: busybox:1.36
                volumeMounts:
                - {name: data, mountPath: /var/lib/db}
          volumeClaimTemplates:
          - metadata: {name: data}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 1Gi}}
    """,
    "ingress": """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          ingressClassName: kubedeck
          tls:
          - {hosts: [web.localhost], secretName: tls}
          rules:
          - host: web.localhost
            http:
              paths:
              - path: /
                pathType: Prefix
                backend: {service: {name: web, port: {number: 80}}}
              - path: /api
                pathType: Exact
                backend: {service: {name: api, port: {name: http}}}
    """,
    "ingressclass": """\
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: kubedeck}
        spec: {controller: kubedeck.io/ingress}
    """,
    "job": """\
        apiVersion: batch/v1
        kind: Job
        metadata: {generateName: migrate-}
        spec:
          backoffLimit: 2
          completions: 1
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: migrate, image: busybox:1.36, command: [sh, -c, "true"]}
    """,
    "cronjob": """\
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: tick}
        spec:
          schedule: "*/5 * * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers:
                  - {name: tick, image: busybox:1.36}
    """,
    "pod": """\
        apiVersion: v1
        kind: Pod
        metadata: {name: one, labels: {app: ""}}
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: c, image: busybox:1.36}
    """,
    "pvc": """\
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 500Mi}}
    """,
    "namespace": """\
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
    """,
    "daemonset": """\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              containers:
              - {name: agent, image: busybox:1.36}
    """,
}


def load_one(text: str, file: str = "test.yaml"):
    docs, errors = load_text(textwrap.dedent(text), file)
    assert errors == [], [str(e) for e in errors]
    assert len(docs) == 1
    return docs[0]


def check(text: str, **kw):
    doc = load_one(text)
    return doc, validate_document(doc, **kw)


def errors_of(text: str, **kw):
    return [e for e in check(text, **kw)[1] if e.severity == "error"]


def only_error(text: str, **kw):
    errs = errors_of(text, **kw)
    assert len(errs) == 1, [str(e) for e in errs]
    return errs[0]


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_samples_have_no_errors(name):
    doc, found = check(VALID[name])
    assert found == [], [str(e) for e in found]


def deployment(container: str = "", *, spec_extra: str = "", pod_extra: str = "",
               labels: str = "{app: web}", selector: str = "{matchLabels: {app: web}}") -> str:
    container = container or "- {name: web, image: busybox:1.36}"
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: tracker}\nspec:\n"
        f"  selector: {selector}\n{spec_extra}"
        f"  template:\n    metadata:\n      labels: {labels}\n    spec:\n{pod_extra}      containers:\n"
        + textwrap.indent(textwrap.dedent(container), "      ")
    )


def test_unknown_field_with_suggestion_and_line():
    text = deployment("""\
        - name: web
          image: busybox:1.36
          ports:
          - containerPort: 80
            containerPorts: 81
        """)
    err = only_error(text)
    assert err.message == 'unknown field "containerPorts" (did you mean "containerPort"?)'
    assert err.field == "spec.template.spec.containers[0].ports[0]"
    assert err.object == "Deployment/tracker"
    assert err.line == 15
    assert str(err) == ('test.yaml:15 Deployment/tracker spec.template.spec.containers[0].ports[0]: '
                        'unknown field "containerPorts" (did you mean "containerPort"?)')


def test_unknown_top_level_field():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndatas: {a: b}\n")
    assert err.message == 'unknown field "datas" (did you mean "data"?)'
    assert err.line == 4 and err.field == ""


def test_unknown_field_without_suggestion():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nzzzzzz: 1\n")
    assert err.message == 'unknown field "zzzzzz"'


def test_type_error_and_missing_required_field():
    text = deployment("""\
        - name: web
          image: busybox:1.36
          ports:
          - containerPort: abc
        - image: busybox:1.36
        """)
    messages = {(e.field, e.message) for e in errors_of(text)}
    assert ("spec.template.spec.containers[0].ports[0].containerPort", 'expected integer, got string "abc"') in messages
    assert ("spec.template.spec.containers[1]", 'missing required field "name"') in messages


def test_configmap_values_must_be_strings():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  port: 8080\n")
    assert err.message == "expected string, got integer 8080"
    assert err.field == "data.port" and err.line == 5


def test_wrong_api_version_for_kind():
    err = only_error("apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n")
    assert err.message == 'Deployment is in apiVersion "apps/v1", not "v1"'
    err = only_error("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: x}\n")
    assert err.message == 'Ingress is in apiVersion "networking.k8s.io/v1", not "extensions/v1beta1"'


def test_unknown_kind():
    err = only_error("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert err.message.startswith('no matches for kind "Widget" in version "example.com/v1"')
    assert err.field == "kind" and err.line == 2


def test_missing_api_version_and_kind():
    found = errors_of("metadata: {name: x}\n")
    assert {e.message for e in found} == {'missing required field "apiVersion"', 'missing required field "kind"'}


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"


def test_crd_in_the_set_makes_its_kind_known(tmp_path):
    (tmp_path / "crd.yaml").write_text(CRD)
    (tmp_path / "widget.yaml").write_text(WIDGET)
    docs, found = load_and_validate(tmp_path)
    assert sorted(d.obj["kind"] for d in docs) == ["CustomResourceDefinition", "Widget"]
    assert all(e.severity == "warning" for e in found), [str(e) for e in found]
    assert any(e.message == "Widget is stored, not acted on by kubedeck" for e in found)


def test_known_kinds_argument():
    doc = load_one(WIDGET)
    assert [e.severity for e in validate_document(doc, known_kinds={("example.com", "Widget")})] == ["warning"]
    assert [e.severity for e in validate_document(doc, known_kinds={("example.com/v1", "Widget")})] == ["warning"]
    assert [e.severity for e in validate_document(doc)] == ["error"]


def test_stored_kind_is_a_warning_and_still_valid(tmp_path):
    (tmp_path / "np.yaml").write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                                      "metadata: {name: deny}\nspec: {podSelector: {}}\n")
    docs, found = load_and_validate(tmp_path / "np.yaml")
    assert [d.obj["kind"] for d in docs] == ["NetworkPolicy"]
    [warning] = found
    assert warning.severity == "warning"
    assert warning.message == "NetworkPolicy is stored, not acted on by kubedeck"
    assert str(warning).endswith("np.yaml:1 NetworkPolicy/deny: NetworkPolicy is stored, not acted on by kubedeck")
    # a ServiceAccount is acted on: its pods get its tokens (engine/in_cluster.py)
    (tmp_path / "sa.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\n")
    assert load_and_validate(tmp_path / "sa.yaml")[1] == []


def test_selector_does_not_match_template_labels():
    err = only_error(deployment(selector="{matchLabels: {app: other}}"))
    assert err.message == "selector does not match template labels"
    assert err.field == "spec.selector" and err.line == 5


def test_selector_match_expressions():
    text = deployment(selector="{matchExpressions: [{key: app, operator: Has, values: [web]}]}")
    err = only_error(text)
    assert err.field == "spec.selector.matchExpressions[0].operator"
    assert 'unsupported value "Has"' in err.message
    err = only_error(deployment(selector="{matchExpressions: [{key: app, operator: In}]}"))
    assert err.field == "spec.selector.matchExpressions[0].values"
    assert errors_of(deployment(selector="{matchExpressions: [{key: app, operator: NotIn, values: [x]}]}")) == []


def test_missing_selector():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b}]\n"
    assert any(e.message == 'missing required field "selector"' and e.field == "spec" for e in errors_of(text))


@pytest.mark.parametrize(
    "kind_doc, fragment",
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: My_Config}\n", "RFC 1123 subdomain"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: web.svc}\nspec: {clusterIP: None}\n", "RFC 1123 label"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: Shop}\n", "RFC 1123 label"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + "a" * 254 + "}\n", "no more than 253"),
    ],
)
def test_invalid_names(kind_doc, fragment):
    err = only_error(kind_doc)
    assert err.field == "metadata.name" and err.message.startswith("invalid name") and fragment in err.message


def test_invalid_namespace():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: My_NS}\n")
    assert err.field == "metadata.namespace"


def test_invalid_container_and_port_names():
    text = deployment("""\
        - name: Web_1
          image: busybox:1.36
          ports:
          - {name: http-port-name-too-long, containerPort: 80}
          - {name: web, containerPort: 81}
          - {name: web, containerPort: 82}
        """)
    found = {(e.field, e.message.split(":")[0]) for e in errors_of(text)}
    assert found == {
        ("spec.template.spec.containers[0].name", 'invalid container name "Web_1"'),
        ("spec.template.spec.containers[0].ports[0].name", 'invalid port name "http-port-name-too-long"'),
        ("spec.template.spec.containers[0].ports[2].name", 'duplicate port name "web"'),
    }


def test_label_value_over_63_characters():
    long = "x" * 64
    err = only_error(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    app: {long}\n")
    assert err.field == "metadata.labels.app" and err.line == 6
    assert err.message.startswith(f'invalid label value "{long[:60]}')
    assert "63 characters" in err.message


@pytest.mark.parametrize("key", ["bad key", "-start", "a/b/c", "Example.COM/x", "x" * 64, "example.com/"])
def test_invalid_label_keys(key):
    err = only_error(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    '{key}': v\n")
    assert err.message.startswith("invalid label key")


def test_invalid_annotation_key():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations: {'no spaces': v}\n")
    assert err.message.startswith("invalid annotation key")


def service(ports: str, type_: str = "NodePort") -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  type: {type_}\n  selector: {{app: web}}\n  ports: {ports}\n"


def test_node_port_out_of_range():
    err = only_error(service("[{port: 80, nodePort: 8080}]"))
    assert err.field == "spec.ports[0].nodePort"
    assert err.message == "invalid nodePort 8080: must be in the range 30000-32767"


def test_node_port_needs_nodeport_type():
    err = only_error(service("[{port: 80, nodePort: 30080}]", "ClusterIP"))
    assert err.field == "spec.ports[0].nodePort" and "may not be used" in err.message


def test_service_port_over_65535():
    err = only_error(service("[{port: 70000}]"))
    assert err.field == "spec.ports[0].port" and "between 1 and 65535" in err.message
    err = only_error(service("[{port: 80, targetPort: 0}]"))
    assert err.field == "spec.ports[0].targetPort"


def test_service_needs_ports_unless_headless():
    err = only_error("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n")
    assert 'missing required field "ports"' in err.message
    assert errors_of("apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: example.com}\n") == []


def test_service_multiple_ports_need_names():
    err = only_error(service("[{name: a, port: 80}, {port: 81}]"))
    assert err.field == "spec.ports[1]"


def test_container_port_over_65535():
    err = only_error(deployment("- {name: web, image: busybox, ports: [{containerPort: 65536}]}"))
    assert err.field == "spec.template.spec.containers[0].ports[0].containerPort"
    assert err.message == "invalid containerPort 65536: must be between 1 and 65535, inclusive"


def test_negative_replicas():
    err = only_error(deployment(spec_extra="  replicas: -1\n"))
    assert err.field == "spec.replicas" and "greater than or equal to 0" in err.message


def test_missing_image():
    err = only_error(deployment("- {name: web}"))
    assert err.message == 'missing required field "image"'
    assert err.field == "spec.template.spec.containers[0]"
    err = only_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: ''\n")
    assert err.message == 'missing required field "image"' and err.line == 6


def test_duplicate_container_names_across_init_containers():
    text = deployment(pod_extra="      initContainers: [{name: web, image: busybox}]\n")
    err = only_error(text)
    assert err.field == "spec.template.spec.containers[0].name"
    assert err.message.startswith('duplicate container name "web"')


@pytest.mark.parametrize("bad", ["1Gb", "two", "1.2.3", "1 Gi", "Gi"])
def test_bad_quantities(bad):
    text = deployment(f"- {{name: web, image: busybox, resources: {{limits: {{memory: '{bad}'}}}}}}")
    err = only_error(text)
    assert err.message == f'invalid quantity "{bad}"'
    assert err.field == "spec.template.spec.containers[0].resources.limits.memory"


@pytest.mark.parametrize("good", ["1Gi", "500m", "0.5", "1e3", "128974848", "129M", "1.5Ki", ".5", "+1"])
def test_good_quantities(good):
    assert errors_of(deployment(f"- {{name: web, image: busybox, resources: {{limits: {{memory: '{good}'}}}}}}")) == []


def test_requests_must_not_exceed_limits():
    text = deployment("- {name: web, image: busybox, resources: {requests: {cpu: '2'}, limits: {cpu: 500m}}}")
    err = only_error(text)
    assert err.field == "spec.template.spec.containers[0].resources.requests.cpu"
    assert "must be less than or equal to" in err.message


def test_pvc_storage_quantity():
    err = only_error("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d}\nspec:\n"
                     "  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gb}}\n")
    assert err.message == 'invalid quantity "1Gb"' and err.field == "spec.resources.requests.storage"


def test_invalid_base64_in_secret():
    err = only_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  user: YWRtaW4=\n  password: not base64!\n")
    assert err.message == 'invalid base64 in data["password"]'
    assert err.field == "data.password" and err.line == 6


def test_invalid_config_keys():
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'a key': v}\n")
    assert err.message.startswith('invalid key "a key"')


def test_tls_secret_needs_keys():
    err = only_error("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: YQ==}\n")
    assert 'missing required key "tls.key"' in err.message


def test_invalid_env_var_name():
    err = only_error(deployment("- {name: web, image: busybox, env: [{name: 1ST, value: x}]}"))
    assert err.field == "spec.template.spec.containers[0].env[0].name"
    assert err.message.startswith('invalid environment variable name "1ST"')


def test_env_with_value_and_value_from():
    err = only_error(deployment(
        "- {name: web, image: busybox, env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}"))
    assert err.message == "may not have both value and valueFrom"


def test_volume_mount_needs_declared_volume():
    err = only_error(deployment("- {name: web, image: busybox, volumeMounts: [{name: data, mountPath: /d}]}"))
    assert err.field == "spec.template.spec.containers[0].volumeMounts[0].name"
    assert 'volume "data"' in err.message


def test_deployment_template_restart_policy():
    err = only_error(deployment(pod_extra="      restartPolicy: OnFailure\n"))
    assert err.field == "spec.template.spec.restartPolicy"
    assert 'supported values: "Always"' in err.message


def test_job_needs_restart_policy():
    text = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b}]\n"
    err = only_error(text)
    assert "restartPolicy" in err.message


def test_pod_restart_policy_values():
    err = only_error("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  restartPolicy: Sometimes\n  containers: [{name: a, image: b}]\n")
    assert err.field == "spec.restartPolicy"


def test_missing_metadata_and_name():
    err = only_error("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")
    assert err.message == 'missing required field "metadata"'
    err = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n")
    assert err.message == 'missing required field "name"' and err.field == "metadata"
    # generateName is enough for Pods and Jobs, not for ConfigMaps
    assert errors_of("apiVersion: v1\nkind: Pod\nmetadata: {generateName: p-}\nspec: {containers: [{name: a, image: b}]}\n") == []
    assert len(errors_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\n")) == 1


def test_error_in_a_check_becomes_an_error(monkeypatch):
    from kubedeck.engine.manifests import semantic

    def boom(doc):
        raise RuntimeError("kaput")

    monkeypatch.setattr(semantic, "check", boom)
    doc = load_one(VALID["configmap"])
    [err] = validate_document(doc)
    assert err.severity == "error" and "internal error" in err.message and "kaput" in err.message


def test_load_and_validate_folder(tmp_path):
    (tmp_path / "good.yaml").write_text("---\n".join(textwrap.dedent(VALID[n]) for n in ("deployment", "service", "configmap")))
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n---\n" + textwrap.dedent(VALID["secret"]))
    (tmp_path / "broken.yml").write_text("a: [\n")
    (tmp_path / "zz-dup.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}}')
    docs, found = load_and_validate([tmp_path])
    assert [d.object_name for d in docs] == ["Secret/db", "Deployment/web", "Service/web", "ConfigMap/conf"]
    by_file = {}
    for e in found:
        by_file.setdefault(e.file.rsplit("/", 1)[-1], []).append(e.message)
    assert by_file["bad.yaml"] == ['Deployment is in apiVersion "apps/v1", not "v1"']
    assert len(by_file["broken.yml"]) == 1
    assert "defined twice" in by_file["zz-dup.json"][0]


def test_missing_path_is_an_error(tmp_path):
    docs, found = load_and_validate(tmp_path / "nope")
    assert docs == [] and found[0].message == "no such file or directory"


def test_thousand_documents_validate(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        import manifests_validate as bench
    finally:
        sys.path.pop(0)
    bench.write_folder(tmp_path, 1000)
    # one broken document among them
    (tmp_path / "zz-bad.yaml").write_text(deployment("- {name: web, image: busybox, ports: [{containerPort: 0}]}"))
    docs, found = load_and_validate(tmp_path)
    assert len(docs) == 1000
    assert [e.field for e in found] == ["spec.template.spec.containers[0].ports[0].containerPort"]


def test_kinds_table():
    assert KINDS["Deployment"] == ("apps/v1", "deployments", True, True)
    assert KINDS["Namespace"].namespaced is False
    assert KINDS["ServiceAccount"].acted_on is True and KINDS["NetworkPolicy"].acted_on is False
    assert kind_for_plural("apps/v1", "deployments") == "Deployment"
    assert kind_for_plural("v1", "pods") == "Pod"
    assert kind_for_plural("networking.k8s.io/v1", "ingresses") == "Ingress"
    assert kind_for_plural("v1", "widgets") is None
    assert plural_for_kind("Ingress") == "ingresses"
    assert plural_for_kind("Endpoints") == "endpoints"
    for kind in ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service",
                 "Endpoints", "Ingress", "IngressClass", "ConfigMap", "Secret", "PersistentVolumeClaim",
                 "Namespace", "Node", "Event"):
        assert KINDS[kind].acted_on, kind
