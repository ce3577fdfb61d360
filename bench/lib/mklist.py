#!/usr/bin/python3
"""Writes the JSON of an image list, in the layout `caster sign` writes.

The benchmarks sign it with `openssl smime -sign` and the test PKI; caster
itself is not needed to make thousands of lists quickly.

  mklist.py --out FILE --identifier UUID --uri LIST_URL [--version V]
            [--image ID,URI,SIZE,SHA512 ...] [--fake-images N --image-uri-base URL]
  mklist.py --many N --out-dir DIR --list-uri-base URL
            writes DIR/list-<i>.json (i = 1..N), each with its own identifier,
            hv:uri URL/list-<i>.list and one made-up image, and prints
            "<i> <identifier>" per list
  mklist.py --many N --out-dir DIR --list-uri-base URL
            --served-images K --image-dir IMGDIR --image-uri-base URL
            the same, each list with K real images instead (idle-cycle):
            writes K small files IMGDIR/image-<n>.img (n = 0..K-1) and gives
            every list the K of them, each under an identifier of its own,
            so that lists share content (downloaded once, hard-linked) but
            no identifier (one in two lists is a conflict, never cached)

--fake-images N adds N images with made-up (but well-formed) SHA-512s, for
lists that are only verified and parsed, never downloaded.

  mklist.py --out FILE --identifier UUID --uri LIST_URL --tiny-images N
            --max-bytes B [--content-dir DIR]
            a list at the size cap (list-75k): up to N images with only the
            keys the schema requires, written without indentation, as many
            as fit in B bytes of JSON. Each image is a file of a few bytes
            of its own, written to DIR when given, named by its SHA-512 (the content store's
            layout, cache/.sha512/<sha512>); prints the number of images.
"""
import argparse
import datetime
import hashlib
import json
import os
import uuid

ENDORSER_DN = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One"
ENDORSER_CA = "/C=DE/O=Test Grid/CN=Test Intermediate CA"


def date(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def image(identifier, uri, size, sha512, n, fmt="raw"):
    return {"hv:image": {
        "dc:description": "Benchmark image %d" % n,
        "dc:identifier": identifier,
        "dc:title": "Image %d" % n,
        "hv:format": fmt,
        "hv:hypervisor": "kvm",
        "hv:size": size,
        "hv:uri": uri,
        "hv:version": "1",
        "sl:arch": "x86_64",
        "sl:checksum:sha512": sha512,
        "sl:comments": "",
        "sl:os": "Linux",
        "sl:osversion": "12",
    }}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--identifier")
    p.add_argument("--uri")
    p.add_argument("--many", type=int, default=0)
    p.add_argument("--out-dir")
    p.add_argument("--list-uri-base")
    p.add_argument("--version", default="1")
    p.add_argument("--image", action="append", default=[],
                   help="IDENTIFIER,URI,SIZE,SHA512[,FORMAT] (FORMAT: hv:format, default raw)")
    p.add_argument("--fake-images", type=int, default=0)
    p.add_argument("--image-uri-base", default="https://images.example.org/")
    p.add_argument("--tiny-images", type=int, default=0)
    p.add_argument("--max-bytes", type=int, default=0)
    p.add_argument("--content-dir")
    p.add_argument("--served-images", type=int, default=0)
    p.add_argument("--image-dir")
    a = p.parse_args()

    if a.tiny_images:
        images = tiny_images(a.tiny_images, a.max_bytes, a.content_dir)
        write_list(a.out, a.identifier, a.uri, a.version, images, compact=True)
        print(len(images))
        return

    if a.many:
        served = served_files(a.served_images, a.image_dir)
        for i in range(1, a.many + 1):
            identifier = str(uuid.uuid4())
            if served:
                images = [image(str(uuid.uuid4()), a.image_uri_base + name, size, sha512, n)
                          for n, (name, size, sha512) in enumerate(served)]
            else:
                images = fake_images(1, a.image_uri_base)
            write_list("%s/list-%d.json" % (a.out_dir, i), identifier,
                       "%s/list-%d.list" % (a.list_uri_base, i), a.version, images)
            print(i, identifier)
        return
    images = []
    for n, spec in enumerate(a.image):
        identifier, uri, size, sha512, *fmt = spec.split(",")
        images.append(image(identifier, uri, int(size), sha512, n, *fmt))
    images += fake_images(a.fake_images, a.image_uri_base)
    write_list(a.out, a.identifier, a.uri, a.version, images)


def fake_images(count, uri_base):
    images = []
    for n in range(count):
        identifier = str(uuid.UUID(int=(0x5eed << 96) + n, version=4))
        sha512 = hashlib.sha512(identifier.encode()).hexdigest()
        images.append(image(identifier, uri_base + identifier + ".img",
                            1048576 * (1 + n % 1000), sha512, n))
    return images


def served_files(count, image_dir):
    """Writes `count` small files of their own content (1 KiB each) to
    image_dir for a web server to serve; returns (name, size, sha512) each."""
    files = []
    if count:
        os.makedirs(image_dir, exist_ok=True)
    for n in range(count):
        name = "image-%d.img" % n
        content = hashlib.sha512(b"served image %d" % n).digest() * 16
        with open(os.path.join(image_dir, name), "wb") as f:
            f.write(content)
        files.append((name, len(content), hashlib.sha512(content).hexdigest()))
    return files


def tiny_images(count, max_bytes, content_dir):
    """Images of a few bytes each, as many as fit max_bytes (the list's
    other keys take less than 2 KiB). Short identifiers and URIs put the
    most images in the cap (~69,000 in 16 MiB; ~59,000 with UUIDs), which
    is the worst case for work done per image."""
    if content_dir:
        os.makedirs(content_dir, exist_ok=True)
    images = []
    used = 2048
    for n in range(count):
        identifier = "img-%d" % n
        content = ("list-75k image %d\n" % n).encode()
        sha512 = hashlib.sha512(content).hexdigest()
        entry = {"hv:image": {
            "dc:identifier": identifier,
            "hv:size": len(content),
            "hv:uri": "https://i.example/%d" % n,
            "sl:checksum:sha512": sha512,
        }}
        used += len(json.dumps(entry, separators=(",", ":"))) + 1
        if used > max_bytes:
            break
        if content_dir:
            with open(os.path.join(content_dir, sha512), "wb") as f:
                f.write(content)
        images.append(entry)
    return images


def write_list(out, identifier, uri, version, images, compact=False):
    # Created an hour ago (catcher refuses future dates), valid for 30 days.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    doc = {"hv:imagelist": {
        "dc:date:created": date(now - datetime.timedelta(hours=1)),
        "dc:date:expires": date(now + datetime.timedelta(days=30)),
        "dc:description": "A list made by bench/lib/mklist.py",
        "dc:identifier": identifier,
        "dc:source": "bench.example.org",
        "dc:title": "Benchmark list",
        "hv:endorser": {"hv:x509": {
            "dc:creator": "Endorser One",
            "hv:ca": ENDORSER_CA,
            "hv:dn": ENDORSER_DN,
            "hv:email": "endorser1@example.org",
        }},
        "hv:images": images,
        "hv:uri": uri,
        "hv:version": version,
    }}
    with open(out, "w") as f:
        if compact:
            json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        else:
            json.dump(doc, f, indent=4, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
