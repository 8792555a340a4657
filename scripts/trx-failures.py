#!/usr/bin/env python3
"""Prints the failed tests of every TRX file under a folder: name, then the first lines of the error message."""
import pathlib
import sys
import xml.etree.ElementTree as ElementTree

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}

failures = 0
for trx in sorted(pathlib.Path(sys.argv[1]).rglob("*.trx")):
    for result in ElementTree.parse(trx).getroot().iterfind(".//t:UnitTestResult", NS):
        if result.get("outcome") != "Failed":
            continue
        failures += 1
        message = result.findtext(".//t:ErrorInfo/t:Message", default="", namespaces=NS).strip()
        print(f"FAILED {result.get('testName')} ({result.get('duration')})")
        for line in message.splitlines()[:6]:
            print(f"    {line}")
print(f"== {failures} failed test(s) ==")
