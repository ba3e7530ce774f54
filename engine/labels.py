"""The labels on every Docker object kubedeck makes, and kubedeck's own annotations and
names on Kubernetes objects: the one table of their names.

`L_CLUSTER` marks ownership (a container, network or volume is this cluster's only if
it carries `io.kubedeck.cluster=<cluster>`; engine/owned.py checks it before any
delete by name, and test cleanup removes what carries `kdtest-*`). The pod labels are
the kubelet's own names, so `docker ps --filter label=io.kubernetes.pod.name=web` works
as it does on a Docker-shim node. docs/ARCHITECTURE.md ("Labels on Docker objects") is
the contract; tests spell the strings out on purpose, to catch a rename here.
"""

L_CLUSTER = "io.kubedeck.cluster"
L_ROLE = "io.kubedeck.role"  # sandbox, app, init, service-proxy, nodeport-kernel
L_ATTEMPT = "io.kubedeck.attempt"  # a container's restart count
L_IMAGE = "io.kubedeck.image"  # on the images kubedeck builds: pause, svc-proxy
L_SERVICE = "io.kubedeck.service"  # a Service proxy's "<namespace>/<name>"
L_HASH = "io.kubedeck.service-hash"  # what the proxy container was made from

L_POD = "io.kubernetes.pod.name"
L_NS = "io.kubernetes.pod.namespace"
L_UID = "io.kubernetes.pod.uid"
L_CONTAINER = "io.kubernetes.container.name"

# ---- on Kubernetes objects ------------------------------------------------------------
A_SOURCE = "kubedeck.io/source"  # the folder file (relative) an object was applied from
A_STOPPED = "kubedeck.io/stopped"  # on a Node: `kubedeck node stop` took it down
A_MANAGED_NODE = "kubedeck.io/managed-node"  # a Node kubedeck made from cluster.yaml
INGRESS_CONTROLLER = "kubedeck.io/ingress"  # spec.controller of kubedeck's IngressClass
