#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes seed inputs for the fuzz targets into DIR/<target>/ (made at run
# time, nothing fetched): well-formed examples the fuzzer mutates from.
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import hashlib

out = sys.argv[1]


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# api_http: first byte picks the split (0x80: all at once).
reqs = [
    "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n",
    "HEAD /v1.51/_ping HTTP/1.1\r\nHost: d\r\n\r\n",
    "GET /v1.24/version HTTP/1.1\r\nHost: d\r\n\r\nGET /info HTTP/1.1\r\n"
    "Host: d\r\nConnection: close\r\n\r\n",
    "GET /v1.51/nodes?filters=%7B%22role%22%3A%7B%22manager%22%3Atrue%7D%7D"
    " HTTP/1.1\r\nHost: d\r\n\r\n",
    "POST /v1.51/nodes/abc/update?version=7 HTTP/1.1\r\nHost: d\r\n"
    "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    "{\"Role\":\"worker\"}",
    "POST /v1.51/swarm/update?version=1&rotateWorkerToken=true HTTP/1.1\r\n"
    "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "DELETE /v1.51/nodes/x?force=1 HTTP/1.1\r\nHost: d\r\n\r\n",
    "POST /_shoal/debug/hijack HTTP/1.1\r\nUpgrade: tcp\r\n"
    "Connection: Upgrade\r\n\r\nhello",
    "GET /_shoal/debug/params/a%2Fb/tail/c HTTP/1.1\r\n\r\n",
    "POST /v1.51/images/load?quiet=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    "GET /v1.99/swarm HTTP/1.0\r\n\r\n",
]
for i, r in enumerate(reqs):
    put("api_http", "req%d" % i, bytes([0x80 | i]) + r.encode())
    put("api_http", "split%d" % i, bytes([i]) + r.encode())


# rpc_frame: first byte picks the split; then frames.
def frame(ftype, flags, call_id, payload):
    body = json.dumps(payload).encode() if payload is not None else b""
    return struct.pack(">IBBHI", len(body), ftype, flags, 0, call_id) + body


frames = (frame(1, 0, 1, {"method": "ca.join", "body": {"Token": "x"}}) +
          frame(1, 1, 2, {"method": "dispatcher.heartbeat", "body": None}) +
          frame(2, 0, 1, {"status": 0, "body": {"ok": True}}) +
          frame(3, 0, 2, {"body": [1, 2]}) +
          frame(4, 0, 2, {"status": -3, "message": "no"}) +
          frame(5, 0, 9, None))
put("rpc_frame", "frames", b"\x00" + frames)
put("rpc_frame", "frames-split", b"\x07" + frames)

# rpc_conn: first byte picks the split; then what a peer sends to a conn
# serving echo/stream/fail/hold/admin/node, with its own calls 1 and 2.
conv = (frame(1, 0, 5, {"method": "echo", "body": {"a": 1}}) +
        frame(1, 1, 6, {"method": "stream", "body": [1]}) +
        frame(1, 0, 7, {"method": "hold", "body": None}) +
        frame(5, 0, 7, None) +
        frame(1, 0, 8, {"method": "admin"}) +
        frame(1, 0, 9, {"method": "fail", "body": {"why": "x"}}) +
        frame(1, 0, 10, {"method": "nope"}) +
        frame(3, 0, 2, {"body": {"e": 1}}) +
        frame(2, 0, 1, {"status": 0, "body": "ok"}) +
        frame(4, 0, 2, {"status": -2, "message": "gone"}) +
        frame(1, 0, 11, {"method": "hold"}))
put("rpc_conn", "conversation", b"\x03" + conv)
put("rpc_conn", "duplicate-ids", b"\x00" + conv + conv)

# store: entries separated by 0xff; bit 0 of the first byte: snapshot.
node = {"ID": "n1", "Spec": {"Role": "manager", "Availability": "active"},
        "Status": {"State": "ready"}}
net = {"Id": "net1", "Name": "ingress", "Driver": "overlay"}
e1 = {"ts": "2024-01-01T00:00:00Z", "actions": [
    {"op": "create", "kind": "node", "obj": node},
    {"op": "create", "kind": "network", "obj": net},
    {"op": "create", "kind": "cluster",
     "obj": {"ID": "c1", "Spec": {"Name": "default"}}}]}
e2 = {"ts": "2024-01-01T00:00:01Z", "actions": [
    {"op": "update", "kind": "node", "obj": node, "version": 1},
    {"op": "update", "kind": "node", "obj": node, "version": 2,
     "keep_version": True}]}
e3 = {"ts": "2024-01-01T00:00:02Z", "actions": [
    {"op": "delete", "kind": "network", "id": "net1"}]}
put("store", "entries", b"\x00" + b"\xff".join(
    json.dumps(e).encode() for e in (e1, e2, e3)))
snap = {"index": 5, "objects": {"cluster": {}, "node": {"n1": node},
                                "network": {}}}
put("store", "snapshot", b"\x01" + json.dumps(snap).encode() + b"\xff" +
    json.dumps(e3).encode())

# ca_token
put("ca_token", "token1",
    "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-"
    "1awxwuwd3z9j1z3puu7rcgdbx")
put("ca_token", "token2",
    "SWMTKN-2-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-"
    "1awxwuwd3z9j1z3puu7rcgdbx")
put("ca_token", "key", "SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8")


# ca_x509: DER made with the openssl command (bit 7 of the first byte).
def openssl(*args, inp=None):
    return subprocess.run(["openssl"] + list(args), input=inp, check=True,
                          capture_output=True).stdout


with tempfile.TemporaryDirectory() as tmp:
    key = os.path.join(tmp, "k.pem")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    csr = openssl("req", "-new", "-key", key, "-subj", "/CN=x", "-outform",
                  "DER")
    root = openssl("req", "-new", "-x509", "-key", key, "-subj",
                   "/CN=swarm-ca", "-days", "30", "-outform", "DER",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    pkcs8 = openssl("pkcs8", "-topk8", "-nocrypt", "-in", key, "-outform",
                    "DER")
    put("ca_x509", "csr-der", b"\x80" + csr)
    put("ca_x509", "csr-der-manager", b"\x84" + csr)
    put("ca_x509", "root-der", b"\x81" + root)
    put("ca_x509", "cert-der", b"\x82" + root)
    put("ca_x509", "key-der", b"\x83" + pkcs8)
    put("ca_x509", "csr-pem", b"\x00" + openssl("req", "-in", "/dev/stdin",
                                               "-inform", "DER", inp=csr))


# image: bit 0 of the first byte: load (1) or import (0).
def tarbytes(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[1]
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
    v = b.getvalue().rstrip(b"\0")
    return v + b"\0" * ((-len(v)) % 512) + b"\0" * 1024


rootfs = tarbytes([("bin/", None), ("bin/sh", b"#!x\n"),
                   ("etc/hostname", b"h\n"), ("lib", ("sym", "bin")),
                   ("etc/.wh.gone", b""), ("usr/.wh..wh..opq", b"")])
put("image", "import-rootfs", b"\x02" + rootfs)
ld = hashlib.sha256(rootfs).hexdigest()
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]},
                  "history": [{"created_by": "x"}]}).encode()
cd = hashlib.sha256(cfg).hexdigest()
man = json.dumps([{"Config": cd + ".json", "RepoTags": ["fuzz:1"],
                   "Layers": [ld + "/layer.tar"]}]).encode()
put("image", "load-docker-save", b"\x01" + tarbytes([
    (cd + ".json", cfg), (ld + "/", None), (ld + "/layer.tar", rootfs),
    ("manifest.json", man)]))
