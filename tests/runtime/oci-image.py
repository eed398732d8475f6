#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""oci-image.py ROOTFS NAME OUT: write an OCI image layout tarball (oci-layout, index.json,
a manifest, a config with the layer's diff_id, one uncompressed tar layer of ROOTFS) that
`ctr images import` takes, tagged NAME (org.opencontainers.image.ref.name and
io.containerd.image.name), for linux/amd64."""
import hashlib
import io
import json
import sys
import tarfile


def blob(tar, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def main():
    rootfs, name, out = sys.argv[1:4]
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.add(rootfs, arcname=".")
    layer = layer.getvalue()
    with tarfile.open(out, "w") as tar:
        lay = blob(tar, layer)
        lay["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [lay["digest"]]},
        }
        cfg = blob(tar, json.dumps(config).encode())
        cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [lay]}
        man = blob(tar, json.dumps(manifest).encode())
        man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        man["platform"] = {"architecture": "amd64", "os": "linux"}
        man["annotations"] = {"org.opencontainers.image.ref.name": name,
                              "io.containerd.image.name": name}
        for fname, obj in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                           ("index.json", {"schemaVersion": 2, "manifests": [man]})):
            data = json.dumps(obj).encode()
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
