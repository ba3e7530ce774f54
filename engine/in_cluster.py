"""The API from inside pods, as on a cluster: the `kubernetes` Service, its names and
address, and what every pod gets to find and authenticate to it.

Kubernetes gives each pod (unless `automountServiceAccountToken: false`) the environment
`KUBERNETES_SERVICE_HOST`/`_PORT` of the `default/kubernetes` Service and a directory
`/var/run/secrets/kubernetes.io/serviceaccount` holding a token of the pod's
ServiceAccount, the cluster CA (`ca.crt`) and the `namespace`: client-go's
`rest.InClusterConfig`, the official Python client's `load_incluster_config` and kubectl
in a pod read exactly those.

Here the Service's clusterIP is a virtual address, 10.96.0.1:443, as kube-proxy serves it:
a pod's connection to it leaves the pod by its default route, so it reaches the host on
the cluster's bridge, where the host's NodePort table (kubeproxy/nodeport_kernel.py,
svc_rules.render_host) DNATs it to the API on 127.0.0.1. The API keeps listening on
127.0.0.1 only. The names `kubernetes.default[.svc[.cluster.local]]` are put in each
pod's /etc/hosts, since no container holds that address for Docker's DNS to name.
"""

from __future__ import annotations

NAMESPACE, NAME = "default", "kubernetes"
SERVICE_IP, SERVICE_PORT = "10.96.0.1", 443  # the first address of the Services' range (controllers/endpoints.py)
# the serving certificate's names (kube-apiserver's defaults); a pod in `default` finds
# the bare name through its search path, the others anywhere
DNS_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_SECONDS = 365 * 24 * 3600  # a pod's token: as `--service-account-extend-token-expiration`
TOKEN_WARN_SECONDS = 3607  # ... and the expiry Kubernetes announces in the token (`warnafter`)


def is_master(namespace: str, name: str) -> bool:
    return (namespace, name) == (NAMESPACE, NAME)


def service(api_port: int) -> dict:
    """The `default/kubernetes` Service as the API server keeps it (selector-less)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": SERVICE_IP, "clusterIPs": [SERVICE_IP],
                     "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [{"name": "https", "port": SERVICE_PORT, "protocol": "TCP",
                                "targetPort": api_port}]}}


def endpoints(api_port: int) -> dict:
    """Its Endpoints: the API where it listens (on the host's 127.0.0.1)."""
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                         "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}]}]}


def endpoint_slice(api_port: int) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}]}


def automounts(pod: dict, service_account: dict | None) -> bool:
    """Does the pod get the token directory? The pod's field wins over its account's."""
    own = pod["spec"].get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    return (service_account or {}).get("automountServiceAccountToken") is not False
