#!/usr/bin/env python3
# An independent reader of cloakfs.conf written from docs/FORMAT.md §5 alone:
# unwraps slot 0 (a passphrase slot) and checks the config MAC. Not run by the
# test suite (needs the argon2 CLI and python3-cryptography); it was used once
# to check the frozen config in test_ks_volume.c.
#   usage: verify_config.py CIPHERDIR/cloakfs.conf PASSPHRASE
import base64
import hashlib
import hmac
import json
import subprocess
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main():
    conf = json.load(open(sys.argv[1], encoding="utf-8"))
    passphrase = sys.argv[2].encode()
    uuid = bytes.fromhex(conf["uuid"])
    slot = conf["keyslots"][0]
    kdf = slot["kdf"]
    kek = subprocess.run(
        ["argon2", b64(kdf["salt"]), "-id", "-v", "13", "-t", str(kdf["time_cost"]),
         "-k", str(kdf["memory_kib"]), "-p", str(kdf["parallelism"]), "-l", "32", "-r"],
        input=passphrase, capture_output=True, check=True).stdout.decode().strip()
    aad = uuid + slot["id"].to_bytes(4, "big") + slot["type"].encode()
    vmk = AESGCM(bytes.fromhex(kek)).decrypt(
        b64(slot["wrap"]["nonce"]), b64(slot["wrap"]["ciphertext"]), aad)
    print("vmk", vmk.hex())
    key = HKDF(hashes.SHA256(), 32, uuid, b"cloakfs v1 config-mac").derive(vmk)
    body = {k: v for k, v in conf.items() if k != "mac"}
    # Same bytes as §5.3 for any config without control characters in strings.
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    mac = hmac.new(key, canon.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, conf["mac"]):
        print("MAC MISMATCH")
        return 1
    print("mac ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
