"""Kubernetes name, label and quantity rules (apimachinery validation).

Each ``*_problem`` function returns None when the value is fine, else a short
reason in Kubernetes' own words; callers add the value and the field path.
Quantities live in ``kubedeck.engine.quantity``.
"""
from __future__ import annotations

import re

__all__ = [
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "path_segment_problem",
    "qualified_name_problem",
    "label_value_problem",
    "iana_svc_name_problem",
    "env_var_name_problem",
    "config_key_problem",
    "is_percent",
]

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_IANA = re.compile(r"^[-a-z0-9]+$")
_ENV = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

LABEL_WORDS = ('must be a lowercase RFC 1123 label: at most 63 characters, lowercase letters, digits and "-", '
               "starting and ending with a letter or digit")
SUBDOMAIN_WORDS = ('must be a lowercase RFC 1123 subdomain: at most 253 characters, lowercase letters, digits, "-" '
                   'and ".", starting and ending with a letter or digit')


def dns1123_label_problem(value: str) -> str | None:
    if len(value) > 63:
        return f"must be no more than 63 characters (it has {len(value)})"
    if not _LABEL.match(value):
        return LABEL_WORDS
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    if len(value) > 253:
        return f"must be no more than 253 characters (it has {len(value)})"
    if not _SUBDOMAIN.match(value):
        return SUBDOMAIN_WORDS
    return None


def path_segment_problem(value: str) -> str | None:
    if value in (".", ".."):
        return f'may not be "{value}"'
    for bad in ("/", "%"):
        if bad in value:
            return f'may not contain "{bad}"'
    return None


def qualified_name_problem(value: str) -> str | None:
    """Label and annotation keys: optional DNS-subdomain prefix, "/", name."""
    if not value:
        return "name part must be non-empty"
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if "/" in prefix:
            return 'a qualified name may contain at most one "/"'
        problem = dns1123_subdomain_problem(prefix)
        if problem:
            return f"prefix part {problem}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return f"name part must be no more than 63 characters (it has {len(name)})"
    if not _NAME_PART.match(name):
        return ('name part must consist of letters, digits, "-", "_" or ".", '
                "and must start and end with a letter or digit")
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return f"must be no more than 63 characters (it has {len(value)})"
    if not _NAME_PART.match(value):
        return ('must be empty or consist of letters, digits, "-", "_" or ".", '
                "starting and ending with a letter or digit")
    return None


def iana_svc_name_problem(value: str) -> str | None:
    if len(value) > 15:
        return f"must be no more than 15 characters (it has {len(value)})"
    if not _IANA.match(value):
        return 'must contain only lowercase letters, digits and "-"'
    if "--" in value:
        return 'must not contain consecutive hyphens ("--")'
    if value.startswith("-") or value.endswith("-"):
        return 'must not begin or end with a hyphen'
    if not any("a" <= ch <= "z" for ch in value):
        return "must contain at least one letter"
    return None


def env_var_name_problem(value: str) -> str | None:
    if not _ENV.match(value):
        return ('must consist of letters, digits, "_", "-" or ".", and must not start with a digit')
    return None


def config_key_problem(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > 253:
        return f"must be no more than 253 characters (it has {len(value)})"
    if not _CONFIG_KEY.match(value):
        return 'must consist of letters, digits, "-", "_" or "."'
    if value in (".", "..") or value.startswith(".."):
        return 'must not be "." or ".." or start with ".."'
    return None


def is_percent(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9]+%", value) is not None
