"""Swagger 2.0 as gnostic's ``openapi_v2.Document`` protobuf, the body client-go decodes.

Why this exists: client-go fetches ``/openapi/v2`` as protobuf only and decodes it with
gnostic's generated Go types. No maintained PyPI package ships those messages (the
``*-openapiv2`` packages are grpc-gateway's annotations, another schema), so the message
types are declared here as protobuf descriptors (``descriptor_pb2``) and turned into
classes by ``message_factory``; the ``protobuf`` library does all wire encoding. Only
the messages and fields a Kubernetes document uses are declared: a decoder skips what
it does not know, and field numbers and types, the wire interface, are those of
gnostic's ``openapiv2/OpenAPIv2.proto`` (package ``openapi.v2``).

Conversion follows gnostic's own mapping: maps become repeated ``Named*`` pairs in the
document's order, ``x-`` keys become ``vendor_extension`` entries whose ``Any.yaml``
holds the value (JSON text is YAML, and kube-openapi reads that field with a YAML
parser), ``type`` is a ``TypeItem`` list, and parameters and responses go through their
``oneof`` wrappers.
"""

from __future__ import annotations

import functools
import json

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["SCHEMA_KEYS", "encode_document", "message_class"]

_S, _B, _D, _I = "string", "bool", "double", "int64"
_SCALARS = {_S: descriptor_pb2.FieldDescriptorProto.TYPE_STRING, _B: descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
            _D: descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, _I: descriptor_pb2.FieldDescriptorProto.TYPE_INT64}
# The primitive-parameter fields shared by query and path parameters, from field 7 on
# (query) or 6 on (path): gnostic numbers them in this order in both messages.
_PRIMITIVE_TAIL = [("format", _S), ("items", None), ("collection_format", _S), ("default", "Any"),
                   ("maximum", _D), ("exclusive_maximum", _B), ("minimum", _D), ("exclusive_minimum", _B),
                   ("max_length", _I), ("min_length", _I), ("pattern", _S), ("max_items", _I), ("min_items", _I),
                   ("unique_items", _B), ("enum", "Any*"), ("multiple_of", _D), ("vendor_extension", "NamedAny*")]


def _numbered(start: int, fields) -> list[tuple[str, int, str | None]]:
    return [(name, start + i, kind) for i, (name, kind) in enumerate(fields)]


# message -> [(field, number, type)]; "X*" is repeated; a "|group" suffix puts the
# field in that oneof; type None marks a field we never fill (its number is kept).
_MESSAGES: dict[str, list[tuple[str, int, str | None]]] = {
    "Any": [("yaml", 2, _S)],
    "NamedAny": [("name", 1, _S), ("value", 2, "Any")],
    "Info": [("title", 1, _S), ("version", 2, _S), ("description", 3, _S), ("vendor_extension", 7, "NamedAny*")],
    "Document": [("swagger", 1, _S), ("info", 2, "Info"), ("host", 3, _S), ("base_path", 4, _S),
                 ("schemes", 5, "string*"), ("consumes", 6, "string*"), ("produces", 7, "string*"),
                 ("paths", 8, "Paths"), ("definitions", 9, "Definitions"), ("vendor_extension", 16, "NamedAny*")],
    "Paths": [("vendor_extension", 1, "NamedAny*"), ("path", 2, "NamedPathItem*")],
    "NamedPathItem": [("name", 1, _S), ("value", 2, "PathItem")],
    "PathItem": [("_ref", 1, _S), ("get", 2, "Operation"), ("put", 3, "Operation"), ("post", 4, "Operation"),
                 ("delete", 5, "Operation"), ("options", 6, "Operation"), ("head", 7, "Operation"),
                 ("patch", 8, "Operation"), ("parameters", 9, "ParametersItem*"), ("vendor_extension", 10, "NamedAny*")],
    "Operation": [("tags", 1, "string*"), ("summary", 2, _S), ("description", 3, _S), ("operation_id", 5, _S),
                  ("produces", 6, "string*"), ("consumes", 7, "string*"), ("parameters", 8, "ParametersItem*"),
                  ("responses", 9, "Responses"), ("schemes", 10, "string*"), ("deprecated", 11, _B),
                  ("vendor_extension", 13, "NamedAny*")],
    "ParametersItem": [("parameter", 1, "Parameter|oneof")],
    "Parameter": [("body_parameter", 1, "BodyParameter|oneof"), ("non_body_parameter", 2, "NonBodyParameter|oneof")],
    "BodyParameter": [("description", 1, _S), ("name", 2, _S), ("in", 3, _S), ("required", 4, _B),
                      ("schema", 5, "Schema"), ("vendor_extension", 6, "NamedAny*")],
    "NonBodyParameter": [("query_parameter_sub_schema", 3, "QueryParameterSubSchema|oneof"),
                         ("path_parameter_sub_schema", 4, "PathParameterSubSchema|oneof")],
    "QueryParameterSubSchema": [("required", 1, _B), ("in", 2, _S), ("description", 3, _S), ("name", 4, _S),
                                ("allow_empty_value", 5, _B), ("type", 6, _S)] + _numbered(7, _PRIMITIVE_TAIL),
    "PathParameterSubSchema": [("required", 1, _B), ("in", 2, _S), ("description", 3, _S), ("name", 4, _S),
                               ("type", 5, _S)] + _numbered(6, _PRIMITIVE_TAIL),
    "Responses": [("response_code", 1, "NamedResponseValue*"), ("vendor_extension", 2, "NamedAny*")],
    "NamedResponseValue": [("name", 1, _S), ("value", 2, "ResponseValue")],
    "ResponseValue": [("response", 1, "Response|oneof")],
    "Response": [("description", 1, _S), ("schema", 2, "SchemaItem"), ("vendor_extension", 5, "NamedAny*")],
    "SchemaItem": [("schema", 1, "Schema|oneof")],
    "Definitions": [("additional_properties", 1, "NamedSchema*")],
    "NamedSchema": [("name", 1, _S), ("value", 2, "Schema")],
    "Properties": [("additional_properties", 1, "NamedSchema*")],
    "AdditionalPropertiesItem": [("schema", 1, "Schema|oneof"), ("boolean", 2, "bool|oneof")],
    "TypeItem": [("value", 1, "string*")],
    "ItemsItem": [("schema", 1, "Schema*")],
    "Schema": [("_ref", 1, _S), ("format", 2, _S), ("title", 3, _S), ("description", 4, _S), ("default", 5, "Any"),
               ("multiple_of", 6, _D), ("maximum", 7, _D), ("exclusive_maximum", 8, _B), ("minimum", 9, _D),
               ("exclusive_minimum", 10, _B), ("max_length", 11, _I), ("min_length", 12, _I), ("pattern", 13, _S),
               ("max_items", 14, _I), ("min_items", 15, _I), ("unique_items", 16, _B), ("max_properties", 17, _I),
               ("min_properties", 18, _I), ("required", 19, "string*"), ("enum", 20, "Any*"),
               ("additional_properties", 21, "AdditionalPropertiesItem"), ("type", 22, "TypeItem"),
               ("items", 23, "ItemsItem"), ("all_of", 24, "Schema*"), ("properties", 25, "Properties"),
               ("discriminator", 26, _S), ("read_only", 27, _B), ("example", 30, "Any"),
               ("vendor_extension", 31, "NamedAny*")],
}
_PACKAGE = "openapi.v2"


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="kubedeck/openapiv2.proto", package=_PACKAGE, syntax="proto3")
    for msg_name, fields in _MESSAGES.items():
        msg = f.message_type.add(name=msg_name)
        for name, number, kind in fields:
            if kind is None:  # a nested PrimitivesItems we never send: leave it out
                continue
            kind, _, oneof = kind.partition("|")
            repeated = kind.endswith("*")
            kind = kind.rstrip("*")
            field = msg.field.add(name=name, number=number, json_name=name.lstrip("_"))
            field.label = (descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
                           else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = f".{_PACKAGE}.{kind}"
            if oneof:
                if not msg.oneof_decl:
                    msg.oneof_decl.add(name="oneof")
                field.oneof_index = 0
    return f


@functools.lru_cache(maxsize=1)
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()  # our own pool: never clashes with another openapi.v2
    pool.Add(_file_descriptor())
    return pool


@functools.cache
def message_class(name: str):
    """The generated class of one gnostic message, e.g. ``message_class("Document")``."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{_PACKAGE}.{name}"))


def _any(value):
    return message_class("Any")(yaml=json.dumps(value, separators=(",", ":")))


def _extensions(node: dict) -> list:
    named = message_class("NamedAny")
    return [named(name=k, value=_any(v)) for k, v in node.items() if k.startswith("x-")]


# Schema keys copied as they are, by proto field name; SCHEMA_KEYS is every key handled.
_SCHEMA_PLAIN = {"$ref": "_ref", "format": "format", "title": "title", "description": "description",
                 "multipleOf": "multiple_of", "maximum": "maximum", "exclusiveMaximum": "exclusive_maximum",
                 "minimum": "minimum", "exclusiveMinimum": "exclusive_minimum", "maxLength": "max_length",
                 "minLength": "min_length", "pattern": "pattern", "maxItems": "max_items", "minItems": "min_items",
                 "uniqueItems": "unique_items", "maxProperties": "max_properties", "minProperties": "min_properties",
                 "required": "required", "discriminator": "discriminator", "readOnly": "read_only"}
SCHEMA_KEYS = frozenset(_SCHEMA_PLAIN) | {"default", "example", "enum", "type", "items", "properties",
                                          "additionalProperties", "allOf"}


def _schema(node: dict):
    kw = {proto: node[key] for key, proto in _SCHEMA_PLAIN.items() if key in node}
    for key in ("default", "example"):
        if key in node:
            kw[key] = _any(node[key])
    if "enum" in node:
        kw["enum"] = [_any(v) for v in node["enum"]]
    if "type" in node:
        kw["type"] = message_class("TypeItem")(value=[node["type"]])
    if "items" in node:
        kw["items"] = message_class("ItemsItem")(schema=[_schema(node["items"])])
    if "properties" in node:
        kw["properties"] = message_class("Properties")(additional_properties=_named_schemas(node["properties"]))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        kw["additional_properties"] = message_class("AdditionalPropertiesItem")(schema=_schema(extra))
    elif isinstance(extra, bool):
        kw["additional_properties"] = message_class("AdditionalPropertiesItem")(boolean=extra)
    if "allOf" in node:
        kw["all_of"] = [_schema(s) for s in node["allOf"]]
    return message_class("Schema")(**kw, vendor_extension=_extensions(node))


def _named_schemas(schemas: dict) -> list:
    named = message_class("NamedSchema")
    return [named(name=k, value=_schema(v)) for k, v in schemas.items()]


_PARAM_PLAIN = ("required", "in", "description", "name", "type", "format", "uniqueItems")


def _parameter(p: dict):
    m = message_class
    if p["in"] == "body":
        body = m("BodyParameter")(**{k: p[k] for k in ("description", "name", "in", "required") if k in p},
                                  schema=_schema(p["schema"]), vendor_extension=_extensions(p))
        return m("ParametersItem")(parameter=m("Parameter")(body_parameter=body))
    kw = {("unique_items" if k == "uniqueItems" else k): p[k] for k in _PARAM_PLAIN if k in p}
    kw["vendor_extension"] = _extensions(p)
    if p["in"] == "path":
        non_body = m("NonBodyParameter")(path_parameter_sub_schema=m("PathParameterSubSchema")(**kw))
    elif p["in"] == "query":
        non_body = m("NonBodyParameter")(query_parameter_sub_schema=m("QueryParameterSubSchema")(**kw))
    else:
        raise ValueError(f"parameter in {p['in']!r} is not encoded")
    return m("ParametersItem")(parameter=m("Parameter")(non_body_parameter=non_body))


def _operation(op: dict):
    m = message_class
    codes = []
    for code, r in op.get("responses", {}).items():
        kw = {"description": r.get("description", "")}
        if "schema" in r:
            kw["schema"] = m("SchemaItem")(schema=_schema(r["schema"]))
        codes.append(m("NamedResponseValue")(name=code, value=m("ResponseValue")(response=m("Response")(**kw))))
    return m("Operation")(
        tags=op.get("tags", []), summary=op.get("summary", ""), description=op.get("description", ""),
        operation_id=op.get("operationId", ""), produces=op.get("produces", []), consumes=op.get("consumes", []),
        parameters=[_parameter(p) for p in op.get("parameters", [])], responses=m("Responses")(response_code=codes),
        schemes=op.get("schemes", []), deprecated=op.get("deprecated", False), vendor_extension=_extensions(op))


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _path_item(item: dict):
    kw = {method: _operation(item[method]) for method in _METHODS if method in item}
    return message_class("PathItem")(**kw, parameters=[_parameter(p) for p in item.get("parameters", [])],
                                     vendor_extension=_extensions(item))


def encode_document(doc: dict) -> bytes:
    """Serialized ``openapi_v2.Document`` of a Swagger 2.0 dict."""
    m = message_class
    info = doc.get("info", {})
    document = m("Document")(
        swagger=doc["swagger"],
        info=m("Info")(title=info.get("title", ""), version=info.get("version", ""),
                       description=info.get("description", "")),
        paths=m("Paths")(path=[m("NamedPathItem")(name=p, value=_path_item(item)) for p, item in doc["paths"].items()]),
        definitions=m("Definitions")(additional_properties=_named_schemas(doc.get("definitions", {}))),
        vendor_extension=_extensions(doc),
    )
    # deterministic: the same document gives the same bytes, so its ETag is stable
    return document.SerializeToString(deterministic=True)
