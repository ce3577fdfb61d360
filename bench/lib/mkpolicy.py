#!/usr/bin/python3
"""Writes a catcher policy file trusting the test PKI's endorser1.

  mkpolicy.py OUT < SUBSCRIPTIONS

SUBSCRIPTIONS: one "NAME URL" per line; each becomes a subscription to URL
endorsed by endorser1, with every image selected.
"""
import json
import sys

ENDORSER_DN = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One"
ENDORSER_CA = "/C=DE/O=Test Grid/CN=Test Intermediate CA"


def main():
    subscriptions = []
    for line in sys.stdin:
        if not line.strip():
            continue
        name, url = line.split()
        subscriptions.append({"name": name, "url": url, "endorser": "bench", "images": "all"})
    policy = {
        "endorsers": {"bench": {"dn": ENDORSER_DN, "ca": ENDORSER_CA}},
        "subscriptions": subscriptions,
    }
    with open(sys.argv[1], "w") as f:
        json.dump(policy, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
