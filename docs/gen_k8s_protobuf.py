"""Build engine/api/k8s_types.pb.gz, the Kubernetes message descriptors kubedeck decodes
protobuf request bodies with (docs/PROTOBUF.md says when and how to run it).

A build-time tool, never imported by kubedeck: it needs `grpcio-tools` (protoc) in the
Python that runs it, and git mirrors of kubernetes/api and kubernetes/apimachinery.

Two things go into the one gzip'd FileDescriptorSet:
- the `generated.proto` files of the API groups kubedeck serves, compiled by protoc with
  their imports (apimachinery's meta/v1, runtime, schema, resource, intstr);
- what the wire format cannot say but JSON needs, read from the Go types (`types.go`):
  the Go marshaller writes every non-pointer scalar, zero or not, while its JSON leaves a
  zero out when the field is `omitempty`, and some fields are inlined into their parent
  in JSON (`json:",inline"`, e.g. Volume's VolumeSource). Both are recorded as an extra
  file descriptor `kubedeck/go_fields.proto` whose messages are named after the message
  they describe and list, as fields, what the decoder must know: a field named
  `keep_zero_N` keeps the zero value of scalar field number N (a pointer, or a JSON tag
  without omitempty); `null_N`: list or map field N is null in JSON when absent (no
  omitempty; Go's JSON writes a nil slice as null); `inline_N` merges field N's object
  into its parent.

Usage: python docs/gen_k8s_protobuf.py API_GIT_DIR APIMACHINERY_GIT_DIR TAG OUT
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

# The API groups kubedeck serves (engine/api/discovery.py) that kubernetes/api defines,
# plus autoscaling/v1 for the scale subresource's Scale and the review APIs (engine/api/review_api.py).
GROUPS = ["core/v1", "apps/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1", "certificates/v1",
          "coordination/v1", "discovery/v1", "flowcontrol/v1", "networking/v1", "node/v1", "policy/v1",
          "rbac/v1", "scheduling/v1", "storage/v1", "admissionregistration/v1", "authorization/v1",
          "authentication/v1"]
MACHINERY = ["pkg/apis/meta/v1", "pkg/runtime", "pkg/runtime/schema", "pkg/util/intstr", "pkg/api/resource"]

STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
FIELD = re.compile(r"^\t([\w.*]+)(?:[ \t]+(\S+))?[ \t]+`([^`]*)`", re.M)


def _show(git_dir: str, tag: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def _go_files(git_dir: str, tag: str, folder: str) -> list[str]:
    names = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", f"{tag}:{folder}"],
                           check=True, capture_output=True, text=True).stdout.split()
    return [_show(git_dir, tag, f"{folder}/{n}") for n in names
            if n.endswith(".go") and not n.endswith("_test.go") and not n.startswith(("zz_", "generated"))]


def go_facts(sources: list[str]) -> dict[str, tuple[set[int], set[int]]]:
    """Go struct name -> (field numbers whose zero JSON keeps, field numbers JSON inlines)."""
    out: dict[str, tuple[set[int], set[int]]] = {}
    for src in sources:
        for struct, body in STRUCT.findall(src):
            keep, inline = out.setdefault(struct, (set(), set()))
            for first, second, tag in FIELD.findall(body):
                pb = re.search(r'protobuf:"\w+,(\d+),', tag)
                js = re.search(r'json:"([^"]*)"', tag)
                if not pb or not js:
                    continue
                number, (name, *opts) = int(pb.group(1)), js.group(1).split(",")
                go_type = second or first
                if not name and "inline" in opts:
                    inline.add(number)
                elif go_type.startswith("*") or "omitempty" not in opts:
                    keep.add(number)
    return out


def go_fields_file(fds: descriptor_pb2.FileDescriptorSet, facts: dict[str, dict]) -> descriptor_pb2.FileDescriptorProto:
    """The facts as messages of `kubedeck/go_fields.proto` (see the module docstring); only
    singular scalar fields get keep_zero (messages are always written, repeated fields get null)."""
    extra = descriptor_pb2.FileDescriptorProto(name="kubedeck/go_fields.proto", package="kubedeck.go_fields",
                                               syntax="proto2")
    for f in fds.file:
        for msg in f.message_type:
            keep, inline = facts.get(f.package, {}).get(msg.name, (set(), set()))
            fields = [f"inline_{fd.number}" for fd in msg.field if fd.number in inline]
            fields += [f"keep_zero_{fd.number}" for fd in msg.field if fd.number in keep
                       and fd.label != fd.LABEL_REPEATED and fd.type != fd.TYPE_MESSAGE]
            fields += [f"null_{fd.number}" for fd in msg.field if fd.number in keep and fd.label == fd.LABEL_REPEATED]
            if fields:
                m = extra.message_type.add(name=f"{f.package}.{msg.name}".replace(".", "_"))
                for i, name in enumerate(fields, 1):
                    m.field.add(name=name, number=i, type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
                                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    return extra


def main(api: str, machinery: str, tag: str, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        roots = [("k8s.io/api", api, g) for g in GROUPS] + [("k8s.io/apimachinery", machinery, p) for p in MACHINERY]
        facts: dict[str, dict] = {}
        for prefix, git_dir, folder in roots:
            dest = Path(tmp, prefix, folder, "generated.proto")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(_show(git_dir, tag, f"{folder}/generated.proto"))
            facts[f"{prefix}/{folder}".replace("/", ".")] = go_facts(_go_files(git_dir, tag, folder))
        set_path = Path(tmp, "set.pb")
        protos = [f"k8s.io/api/{g}/generated.proto" for g in GROUPS]
        if protoc.main(["protoc", f"-I{tmp}", "--include_imports", f"--descriptor_set_out={set_path}", *protos]):
            sys.exit("protoc failed")
        fds = descriptor_pb2.FileDescriptorSet.FromString(set_path.read_bytes())
    for f in fds.file:
        f.ClearField("options")  # go_package: nothing the decoder reads
    fds.file.append(go_fields_file(fds, facts))
    Path(out).write_bytes(gzip.compress(fds.SerializeToString(), compresslevel=9, mtime=0))
    print(f"{out}: {len(fds.file)} files, {Path(out).stat().st_size} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:5])
