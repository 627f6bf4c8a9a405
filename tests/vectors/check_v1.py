#!/usr/bin/env python3
"""Independent reader of v1.txt, written from docs/FORMAT.md alone with the
Python 'cryptography' package: recomputes every deterministic value and opens
every random-nonce ciphertext. Cross-checks the C implementation against a
second one. Usage: check_v1.py [v1.txt]"""
import base64
import hashlib
import hmac
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def load(path):
    v = {}
    for line in open(path, encoding="ascii"):
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, val = line.partition("=")
            v[k.strip()] = val.strip()
    return v


def hkdf(ikm, salt, info):
    return HKDF(hashes.SHA256(), 32, salt or None, info).derive(ikm)


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64d(s):
    out = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    assert b64e(out) == s, "non-canonical base64url"
    return out


def siv_name(key, siv_key, d, name):
    k = 16 - len(name) % 16
    p = name + bytes([k]) * k
    nonce = hmac.new(siv_key, d + p, hashlib.sha256).digest()[:12]
    return b64e(nonce + AESGCM(key).encrypt(nonce, p, d))


def main():
    v = load(sys.argv[1] if len(sys.argv) > 1 else "v1.txt")
    h = bytes.fromhex
    vmk, uuid = h(v["vmk"]), h(v["uuid"])
    labels = ["content", "name", "name-siv", "symlink", "xattr-name",
              "xattr-name-siv", "xattr-value", "config-mac"]
    sk = {l: hkdf(vmk, uuid, b"cloakfs v1 " + l.encode()) for l in labels}
    for l in labels:
        assert sk[l].hex() == v["subkey." + l], l
    fid = h(v["file_id"])
    fkey = hkdf(sk["content"], b"", b"cloakfs v1 file" + fid)
    assert fkey.hex() == v["file_key"]
    hdr = b"CKF1" + (1).to_bytes(2, "big") + b"\0\0" + (1).to_bytes(4, "big") + fid + b"\0" * 4
    assert hdr.hex() == v["header"]
    did = h(v["dir_id"])
    assert (b"CKD1\0\1\0\0\0\0\0\1" + did + b"\0" * 4).hex() == v["dir_record"]
    for tag, d in [("short", did), ("utf8", did), ("long", did), ("max", did),
                   ("short_dir2", h(v["dir_id2"]))]:
        e = siv_name(sk["name"], sk["name-siv"], d, h(v["name.%s.plain" % tag]))
        assert e == v["name.%s.encoded" % tag], tag
        backing = e if len(e) <= 255 else \
            "cloakfs.long." + b64e(hashlib.sha256(e.encode()).digest())
        assert backing == v["name.%s.backing" % tag], tag
    xe = siv_name(sk["xattr-name"], sk["xattr-name-siv"], b"", h(v["xattr.name.plain"]))
    assert xe == v["xattr.name.encoded"] and "user." + xe == v["xattr.name.backing"]
    sealed = h(v["xattr.value.sealed"])
    val = AESGCM(sk["xattr-value"]).decrypt(sealed[:12], sealed[12:],
                                            v["xattr.name.backing"].encode())
    assert val.hex() == v["xattr.value.plain"]
    blob = b64d(v["symlink.encoded"])
    assert AESGCM(sk["symlink"]).decrypt(blob[:12], blob[12:], b"").hex() == v["symlink.plain"]
    total = len(hdr)
    for i in range(2):
        st = h(v["block.%d.stored" % i])
        aad = hdr + i.to_bytes(8, "big")
        pt = AESGCM(fkey).decrypt(st[:12], st[12:], aad)
        assert pt.hex() == v["block.%d.plain" % i], i
        total += len(st)
    assert total == int(v["file.backing_size"])
    print("v1.txt: all values agree with an independent implementation")


if __name__ == "__main__":
    main()
