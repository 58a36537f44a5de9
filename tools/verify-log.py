#!/usr/bin/env python3
"""An independent verifier of a probity log, written from docs/log-format.md alone.

It reads what a mirror holds -- the signed checkpoint and the C2SP tiles published by
`probity log tiles`, or served by `probity serve` under /v1/log -- and checks, without any
probity code:
  1. the checkpoint carries a valid Ed25519 signed-note signature by the given verifier key;
  2. every entry in the entry bundles is version-1 leaf data (0x01 followed by 32 bytes);
  3. every entry hashes (RFC 6962 leaf hash) to the hash in the level-0 tile;
  4. the RFC 6962 root over those leaves equals the checkpoint's root;
  5. each full level-0 tile folds to the matching hash in the level-1 tile.

Usage: verify-log.py (--tiles DIR | --url PREFIX) --key VERIFIER_KEY
Exit status 0 when everything holds, 1 otherwise (each problem printed).
"""

import argparse
import base64
import hashlib
import os
import sys
import urllib.error
import time
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 6962 Merkle tree hash over leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def tile_path(level, n, width):
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    path = f"tile/{level}/" + "/".join(reversed(groups))
    return path + (f".p/{width}" if width < 256 else "")


def open_note(note, vkey):
    name, key_id, key = vkey.strip().split("+", 2)
    raw = base64.b64decode(key)
    if raw[0] != 1 or len(raw) != 33:
        raise ValueError("not an Ed25519 verifier key")
    public = raw[1:]
    expect_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]
    if expect_id.hex() != key_id:
        raise ValueError("the verifier key's id does not match its name and key")
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError(f"bad signature line {line!r}")
        sig_name, _, blob = line[2:].partition(" ")
        blob = base64.b64decode(blob)
        if sig_name != name or blob[:4] != expect_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            return text
        except InvalidSignature:
            continue
    raise ValueError(f"no valid signature by {name}")


def fetcher(args):
    """A function from a path below the log's prefix to its bytes, or None if absent."""
    if args.url:
        def fetch(rel, tries=20):
            try:
                with urllib.request.urlopen(args.url.rstrip("/") + "/" + rel) as r:
                    return r.read()
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                # A server at its rate limit says when to come back: wait that long, a bounded
                # number of times.
                if e.code in (429, 503) and tries > 0:
                    wait = e.headers.get("Retry-After", "1")
                    time.sleep(min(float(wait) if wait.replace(".", "", 1).isdigit() else 1.0, 60.0))
                    return fetch(rel, tries - 1)
                raise
        return fetch

    def read(rel):
        path = os.path.join(args.tiles, rel)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()
    return read


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--tiles", help="a directory of tiles")
    source.add_argument("--url", help="the log's URL prefix, e.g. http://host/v1/log")
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    fetch = fetcher(args)
    problems = []

    note = fetch("checkpoint")
    if note is None:
        print("checkpoint: not found")
        return 1
    note = note.decode("utf-8")
    try:
        text = open_note(note, args.key)
    except ValueError as e:
        print(f"checkpoint: {e}")
        return 1
    origin, size, root = text.splitlines()[:3]
    size, root = int(size), base64.b64decode(root)

    leaves = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        tile = fetch(tile_path(0, n, width)) or b""
        bundle = fetch(tile_path("entries", n, width)) or b""
        if len(tile) != 32 * width:
            problems.append(f"level-0 tile {n} has {len(tile)} bytes, expected {32 * width}")
            continue
        hashes = [tile[i:i + 32] for i in range(0, len(tile), 32)]
        entries, pos = [], 0
        while pos < len(bundle):
            length = int.from_bytes(bundle[pos:pos + 2], "big")
            entries.append(bundle[pos + 2:pos + 2 + length])
            pos += 2 + length
        if len(entries) != width:
            problems.append(f"entry bundle {n} has {len(entries)} entries, expected {width}")
        for i, (entry, h) in enumerate(zip(entries, hashes)):
            index = n * 256 + i
            if len(entry) != 33 or entry[0] != 1:
                problems.append(f"entry {index} is not version-1 leaf data")
            if leaf_hash(entry) != h:
                problems.append(f"entry {index} does not hash to its leaf")
        leaves.extend(hashes)
        if width == 256:  # a full level-0 tile is one hash of the level-1 tile
            level1_width = min(256, size // 256 - (n // 256) * 256)
            path = tile_path(1, n // 256, level1_width)
            upper = fetch(path)
            if upper is not None:
                j = (n % 256) * 32
                if upper[j:j + 32] != mth(hashes):
                    problems.append(f"level-1 tile disagrees with level-0 tile {n}")
            else:
                problems.append(f"missing level-1 tile {path}")

    computed = mth(leaves)
    if computed != root:
        problems.append(f"root over the tiles is {computed.hex()}, the checkpoint says {root.hex()}")
    for p in problems:
        print(p)
    if not problems:
        print(f"ok: {origin}, {size} entries, root {root.hex()}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
