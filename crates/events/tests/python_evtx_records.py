#!/usr/bin/env python3
"""Independent reader for the tests: prints "record_id event_id" for every
record python-evtx can render, then "failed N" for the records it cannot.
Chunks beyond the count in the file header (inactive chunks, which still hold
records) are read too, as rdp-doctor reads them. With --verify-checksums it
first prints "badcrc N": the chunks whose header or records CRC32 python-evtx
finds wrong."""
import re
import sys

import Evtx.Evtx as evtx

args = [a for a in sys.argv[1:] if a != "--verify-checksums"]
verify = len(args) != len(sys.argv) - 1
failed = 0
with evtx.Evtx(args[0]) as log:
    if verify:
        active = log.get_file_header().chunks()
        print("badcrc", sum(1 for chunk in active if not chunk.verify()))
    chunks = log.get_file_header().chunks(include_inactive=True)
    records = (r for chunk in chunks if chunk.check_magic() for r in chunk.records())
    for record in records:
        try:
            xml = record.xml()
        except Exception:  # python-evtx raises many kinds on damaged records
            failed += 1
            continue
        event_id = re.search(r"<EventID[^>]*>(\d+)</EventID>", xml)
        record_id = re.search(r"<EventRecordID>(\d+)</EventRecordID>", xml)
        if event_id and record_id:
            print(record_id.group(1), int(event_id.group(1)) & 0xFFFF)
        else:
            failed += 1
print("failed", failed)
