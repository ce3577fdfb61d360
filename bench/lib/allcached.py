#!/usr/bin/python3
"""Checks that `catcher images --json` shows every image cached.

  allcached.py IMAGES_JSON EXPECTED

Exits 0 when the file lists EXPECTED images, all in state "cached";
otherwise prints what it found (the count per state, with the first reason
given for each) and exits 1.
"""
import collections
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        images = json.load(f)
    expected = int(sys.argv[2])
    states = collections.Counter(i["state"] for i in images)
    if len(images) == expected and states["cached"] == expected:
        return 0
    reasons = {}
    for i in images:
        reasons.setdefault(i["state"], i.get("reason", ""))
    found = ", ".join("%d %s%s" % (count, state, " (%s)" % reasons[state] if reasons[state] else "")
                      for state, count in states.most_common())
    print("expected %d images, all cached; catcher images --json shows %d: %s"
          % (expected, len(images), found or "none"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
