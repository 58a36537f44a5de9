#!/usr/bin/env python3
"""The DuckDB side of `probity bench rate`: load the generated records and subjects, run the
SQL that probity generated from its rulebook, and write one line per subject.

Usage: bench-rate-duckdb.py --sql FILE --input DIR --out FILE [--threads N]

The SQL file has two parts separated by a line `-- compute`: the load (tables `recs` and `subj`
from the input files, whose paths appear as {records} and {subjects}), then the statements that
compute the table `answers(subject, score, grade, lists)`. Both are timed separately, and the
times are printed as JSON on standard output: {"load_seconds": …, "compute_seconds": …, "rows": …}.
"""

import argparse
import json
import os
import time

import duckdb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sql", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    with open(args.sql, encoding="utf-8") as f:
        load, compute = f.read().split("\n-- compute\n", 1)
    load = load.replace("{records}", os.path.join(args.input, "records.jsonl")).replace(
        "{subjects}", os.path.join(args.input, "subjects.csv")
    )
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    t = time.perf_counter()
    con.execute(load)
    load_seconds = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(compute)
    compute_seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM answers").fetchone()[0]
    con.execute(
        f"COPY (SELECT subject, score, grade, lists FROM answers ORDER BY subject) "
        f"TO '{args.out}' (HEADER, DELIMITER ',')"
    )
    print(json.dumps({"load_seconds": load_seconds, "compute_seconds": compute_seconds, "rows": rows}))


if __name__ == "__main__":
    main()
