"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) as the dict
the JSON path gives.

kubectl 1.32+ sends its typed writes (`create configmap`, `create deployment`, ...) in
protobuf, and client-go never retries them as JSON, so the API has to read them as
kube-apiserver does. The body is the magic `k8s\\0` and a `runtime.Unknown` (typeMeta,
raw = the object's own message). The `protobuf` library does the wire format, from the
message descriptors of kubernetes/api and apimachinery compiled once into
`k8s_types.pb.gz` (docs/gen_k8s_protobuf.py, docs/PROTOBUF.md); the set is loaded on the
first protobuf body. What is written here is the walk from message to dict, because
Kubernetes' JSON is not protobuf's canonical JSON (`json_format`):
- field names already are the JSON names; int64 stay numbers; bytes are base64;
- the special types marshal themselves: Quantity as its string, IntOrString as a number or
  string, Time/MicroTime as RFC 3339 (null when zero), RawExtension/FieldsV1 as their JSON,
  ExtraValue as a plain list;
- Go's marshaller writes every non-pointer scalar, zero or not, where Go's JSON drops a zero
  `omitempty` field (and writes a nil list as null unless `omitempty`), and some fields are inlined into their parent in JSON
  (`json:",inline"`). Which fields keep a zero and which are inlined was read from the Go
  types when the set was built (its extra file `kubedeck/go_fields.proto`).
A body that does not decode is a 400 BadRequest in kube-apiserver's words; a group whose
messages are not in the set (custom resources) is a 415, as the API server answers.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..store import StoreError

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_GO_MAGIC = "[" + " ".join(str(b) for b in MAGIC) + "]"  # as Go prints the prefix
_DATA = Path(__file__).with_name("k8s_types.pb.gz")
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_GO_FIELDS = "kubedeck/go_fields.proto"
# API group of a k8s.io/api package, where it is not "<package>.k8s.io"
_GROUP_OF = {"core": "", "rbac": "rbac.authorization.k8s.io", "flowcontrol": "flowcontrol.apiserver.k8s.io",
             "apps": "apps", "autoscaling": "autoscaling", "batch": "batch", "policy": "policy"}


class _Types:
    """The loaded descriptor set: message classes by apiVersion and kind, and per field
    what the walk needs (map or list, keeps its zero, inlined)."""

    def __init__(self) -> None:
        import gzip

        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        fds = descriptor_pb2.FileDescriptorSet.FromString(gzip.decompress(_DATA.read_bytes()))
        self.pool = descriptor_pool.DescriptorPool()  # our own: never clashes with another k8s.io set
        self.get_class = message_factory.GetMessageClass
        self.packages = {"meta.k8s.io/v1": _META}
        self.maps: set[str] = set()
        self.lists: set[str] = set()
        self.keep_zero: set[str] = set()
        self.inline: set[str] = set()
        self.null_when_absent: dict[str, list[str]] = {}  # message -> its lists/maps JSON writes as null
        for f in fds.file:
            if f.name == _GO_FIELDS:
                self._go_fields(fds, f)
                continue
            self.pool.Add(f)
            parts = f.package.split(".")
            if parts[:2] == ["k8s", "io"] and parts[2] == "api":
                group = _GROUP_OF.get(parts[3], f"{parts[3]}.k8s.io")
                self.packages[f"{group}/{parts[4]}".lstrip("/")] = f.package
            for msg in f.message_type:
                maps = {f".{f.package}.{msg.name}.{n.name}" for n in msg.nested_type if n.options.map_entry}
                for fd in msg.field:
                    if fd.label == fd.LABEL_REPEATED:
                        name = f"{f.package}.{msg.name}.{fd.name}"
                        (self.maps if fd.type_name in maps else self.lists).add(name)

    def _go_fields(self, fds, extra) -> None:
        by_name = {f"{f.package}.{m.name}".replace(".", "_"): (f"{f.package}.{m.name}", m)
                   for f in fds.file for m in f.message_type}
        for facts in extra.message_type:
            full, msg = by_name[facts.name]
            names = {fd.number: fd.name for fd in msg.field}
            for fact in facts.field:
                what, _, number = fact.name.rpartition("_")
                if what == "null":
                    self.null_when_absent.setdefault(full, []).append(names[int(number)])
                else:
                    (self.inline if what == "inline" else self.keep_zero).add(f"{full}.{names[int(number)]}")

    def message_class(self, api_version: str, kind: str):
        package = self.packages.get(api_version)
        if package is None:
            return None
        for pkg in (package, _META):  # DeleteOptions and the other options are meta/v1's in any group
            try:
                return self.get_class(self.pool.FindMessageTypeByName(f"{pkg}.{kind}"))
            except KeyError:
                continue
        raise _Failed(f'no kind "{kind}" is registered for version "{api_version}"')


class _Failed(Exception):
    pass


@functools.cache
def _types() -> _Types:
    return _Types()


def decode(body: bytes) -> dict:
    """The object a protobuf request body holds, as its JSON dict; StoreError 400/415 if
    it does not decode."""
    try:
        return _decode(body)
    except _Failed as e:
        raise StoreError(400, "BadRequest", f"the object provided is unrecognized: {e}") from None


def _decode(body: bytes) -> dict:
    if not body:
        raise _Failed("empty data")
    if not body.startswith(MAGIC):
        raise _Failed(f"provided data does not appear to be a protobuf message, expected prefix {_GO_MAGIC}")
    if body == MAGIC:
        raise _Failed("empty body")
    types = _types()
    from google.protobuf.message import DecodeError
    unknown_class = types.get_class(types.pool.FindMessageTypeByName("k8s.io.apimachinery.pkg.runtime.Unknown"))
    try:
        unknown = unknown_class.FromString(body[len(MAGIC):])
    except DecodeError as e:
        raise _Failed(f"runtime.Unknown: {e}") from None
    api_version, kind = unknown.typeMeta.apiVersion, unknown.typeMeta.kind
    type_meta = f'runtime.TypeMeta{{APIVersion:"{api_version}", Kind:"{kind}"}}'  # as Go's %#v
    if not kind:
        raise _Failed(f"Object 'Kind' is missing in '{type_meta}'")
    if not api_version:
        raise _Failed(f"Object 'apiVersion' is missing in '{type_meta}'")
    cls = types.message_class(api_version, kind)
    if cls is None:
        raise StoreError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                         "accepted media types include: application/json, application/yaml")
    version = api_version.rpartition("/")[2]
    try:
        obj = _message(cls.FromString(unknown.raw), types)
    except (DecodeError, ValueError, OverflowError, OSError) as e:
        raise _Failed(f'{kind} in version "{version}" cannot be handled as a {kind}: {e}') from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def _message(msg, types: _Types) -> Any:
    name = msg.DESCRIPTOR.full_name
    special = _SPECIAL.get(name)
    if special is not None:
        return special(msg, types)
    out: dict = {}
    for fd, value in msg.ListFields():
        full = f"{name}.{fd.name}"
        if full in types.maps:
            value_fd = fd.message_type.fields_by_name["value"]
            out[fd.name] = {k: _value(value_fd, v, types) for k, v in value.items()}
        elif full in types.lists:
            out[fd.name] = [_value(fd, v, types) for v in value]
        elif full in types.inline:
            out.update(_message(value, types))
        elif fd.message_type is not None or value or full in types.keep_zero:
            out[fd.name] = _value(fd, value, types)
    for field in types.null_when_absent.get(name, ()):
        out.setdefault(field, None)
    return out


def _value(fd, value, types: _Types) -> Any:
    if fd.message_type is not None:
        return _message(value, types)
    if fd.type == fd.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def _time(msg, _types) -> str | None:
    if not msg.ListFields():  # Go's zero time: marshalled as nothing, JSON null
        return None
    return datetime.fromtimestamp(msg.seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(msg, _types) -> str | None:
    if not msg.ListFields():
        return None
    t = datetime.fromtimestamp(msg.seconds, timezone.utc).replace(microsecond=msg.nanos // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _raw(data: bytes, types: _Types) -> Any:
    """A RawExtension's or FieldsV1's bytes: JSON, or (a RawExtension) a protobuf object."""
    if not data:
        return None
    if data.startswith(MAGIC):
        return _decode(data)
    try:
        return json.loads(data)
    except ValueError as e:
        raise _Failed(f"embedded object: {e}") from None


_SPECIAL = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda m, _: m.string,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": lambda m, _: m.strVal if m.type == 1 else m.intVal,
    f"{_META}.Time": _time,
    f"{_META}.MicroTime": _micro_time,
    f"{_META}.FieldsV1": lambda m, t: _raw(m.Raw, t),
    "k8s.io.apimachinery.pkg.runtime.RawExtension": lambda m, t: _raw(m.raw, t),
    "k8s.io.api.certificates.v1.ExtraValue": lambda m, _: list(m.items),  # a Go slice in a wrapper message
}
