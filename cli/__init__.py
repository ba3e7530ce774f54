"""kubedeck: a local Kubernetes you can see."""
__version__ = "0.1.0"
