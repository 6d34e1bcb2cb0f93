#!/usr/bin/env python3
"""Prints the timings of a bench/references.py JSON file, one line a case:

    python3 bench/show_references.py refs.json
"""
import json
import sys

for r in json.load(open(sys.argv[1]))["results"]:
    print(r["kernel"], r["label"], r["dtype"], r["reference"], "%.2f us" % r["median_us"])
