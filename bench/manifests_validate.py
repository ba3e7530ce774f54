"""Time loading + validating many manifest documents.

Usage: python bench/manifests_validate.py [COUNT ...]
Prints a table: docs, seconds, docs/s.  Documents are a mix of Deployments,
Services and ConfigMaps spread over files of 50 documents each.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from kubedeck.engine.manifests import load_and_validate

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  labels: {{app: web-{i}, tier: frontend}}
  annotations: {{owner: team-{i}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web-{i}}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web-{i}, tier: frontend}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["httpd", "-f", "-p", "8080"]
        ports:
        - {{name: http, containerPort: 8080}}
        env:
        - {{name: MODE, value: prod}}
        - name: DB_PASSWORD
          valueFrom: {{secretKeyRef: {{name: db, key: password}}}}
        resources:
          requests: {{cpu: 100m, memory: 64Mi}}
          limits: {{cpu: "1", memory: 128Mi}}
        readinessProbe:
          httpGet: {{path: /, port: http}}
          periodSeconds: 2
        volumeMounts:
        - {{name: data, mountPath: /data}}
      volumes:
      - {{name: data, emptyDir: {{}}}}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: web-{i}}}
spec:
  type: NodePort
  selector: {{app: web-{i}}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: conf-{i}}}
data:
  app.properties: |
    a=1
    b=2
  LOG_LEVEL: debug
"""
TEMPLATES = (DEPLOYMENT, SERVICE, CONFIGMAP)


def write_folder(root: Path, count: int, per_file: int = 50) -> None:
    docs = [TEMPLATES[i % 3].format(i=i) for i in range(count)]
    for n in range(0, count, per_file):
        (root / f"part-{n // per_file:04d}.yaml").write_text("---\n".join(docs[n : n + per_file]))


def main(argv: list[str]) -> int:
    counts = [int(a) for a in argv] or [100, 1000, 5000]
    load_and_validate([])  # warm the schema caches, as a running engine would have them
    print(f"{'docs':>8} {'seconds':>9} {'docs/s':>9}")
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            write_folder(Path(tmp), count)
            start = time.perf_counter()
            docs, errors = load_and_validate(tmp)
            elapsed = time.perf_counter() - start
        bad = [e for e in errors if e.severity == "error"]
        assert len(docs) == count and not bad, bad[:3]
        print(f"{count:>8} {elapsed:>9.3f} {count / elapsed:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
