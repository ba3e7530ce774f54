"""kube-proxy's part of the node: in-cluster Service proxies and kernel NodePorts.

`services.py` runs one proxy container per Service (kernel nftables rules rendered by
`svc_rules.py`, loaded by `svc_kernel.py`, in the image of `svc_proxy_image.py`; the
busybox fallback `nc_relay.py`); `nodeport_kernel.py` forwards local TCP NodePort
connections in the host's kernel. The node agent (`engine/agent/`, the kubelet's part)
drives both from its pass and imports this package; nothing here imports the agent.
"""
