"""The Service proxy image's build context (engine/kubeproxy/svc_proxy_image.py), made from
this host's nft; the e2e tests build and run it."""

from __future__ import annotations

import tarfile

import pytest

from kubedeck.engine.kubeproxy import svc_proxy_image


def test_the_context_holds_pause_nft_and_its_libraries():
    try:
        tag, ctx = svc_proxy_image.context()
    except svc_proxy_image.Unavailable as e:
        pytest.fail(f"this machine should have nft (.ci/run installs nftables): {e}")
    names = tarfile.open(fileobj=ctx).getnames()
    assert {"pause", "usr/sbin/nft", "Dockerfile"} <= set(names)
    libs = svc_proxy_image.libraries(svc_proxy_image.nft_path())
    assert libs and all(lib.lstrip("/") in names for lib in libs)
    assert any("ld-linux" in n or "ld-musl" in n for n in names)  # the loader, at its own path
    assert tag == svc_proxy_image.context()[0]  # the same files, the same tag
    assert tag.startswith(svc_proxy_image.REPO + ":")


def test_a_static_binary_needs_no_libraries_and_a_missing_one_is_unavailable(tmp_path):
    assert svc_proxy_image.libraries("/bin/busybox") == []  # Debian's busybox-static
    with pytest.raises(svc_proxy_image.Unavailable):
        svc_proxy_image.libraries(str(tmp_path / "nothing"))
