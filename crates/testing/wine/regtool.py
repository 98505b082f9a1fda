#!/usr/bin/env python3
"""Helpers for scripts/windows.sh: .reg files, `reg query` output and
`host check --json` reports, compared without trusting rdp-doctor itself.

  regtool.py hivexsh HIVE REG...      hivexsh commands writing the .reg files'
                                      SYSTEM values into an offline SYSTEM hive
                                      (CurrentControlSet -> Select\\Current)
  regtool.py paths REG...             the check path of every SYSTEM value set
  regtool.py query-matches REPORT.json QUERY.txt REG...
                                      every seeded value a check reports equals
                                      what `reg query` printed for it
  regtool.py same-findings A.json B.json REG... [--except=PATH]...
                                      the two reports' checks on the seeded
                                      values are the same (id, status, value)
  regtool.py same-actions A.json B.json
                                      two `host fix --json` plans have the
                                      same actions
  regtool.py check-status REPORT.json PATH STATUS
                                      the check of PATH has STATUS
"""

import json
import re
import subprocess
import sys

HKLM = "HKEY_LOCAL_MACHINE\\"


def parse_reg(path):
    """[(key, deleted, {name_lower: (name, type, bytes) or None})] of a .reg file."""
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8")
    # Join continuation lines.
    lines, cur = [], ""
    for line in text.splitlines():
        if cur:
            line = line.strip()
        if line.endswith("\\") and not line.startswith("["):
            cur += line[:-1]
            continue
        lines.append(cur + line)
        cur = ""
    sections = []
    for line in lines:
        s = line.strip()
        if not s or s.startswith(";") or s.startswith("Windows Registry Editor"):
            continue
        if s.startswith("["):
            key = s[1:-1]
            deleted = key.startswith("-")
            sections.append((key.lstrip("-"), deleted, {}))
            continue
        m = re.match(r'^(@|"((?:[^"\\]|\\.)*)")=(.*)$', s)
        if not m or not sections:
            raise SystemExit(f"{path}: cannot read line {s!r}")
        name = "" if m.group(1) == "@" else m.group(2).replace('\\"', '"').replace("\\\\", "\\")
        sections[-1][2][name.lower()] = (name, *value(m.group(3)))
    return sections


def value(v):
    """(type, bytes) of a .reg value, or (None, None) for a deletion."""
    if v == "-":
        return (None, None)
    m = re.match(r'^(?:str\(([0-9a-fA-F]+)\):)?"(.*)"$', v)
    if m:
        s = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
        return (int(m.group(1), 16) if m.group(1) else 1, (s + "\0").encode("utf-16-le"))
    if v.startswith("dword:"):
        return (4, int(v[6:], 16).to_bytes(4, "little"))
    m = re.match(r"^hex(?:\(([0-9a-fA-F]+)\))?:(.*)$", v)
    if m:
        kind = int(m.group(1), 16) if m.group(1) else 3
        data = bytes(int(b, 16) for b in m.group(2).replace(" ", "").split(",") if b)
        return (kind, data)
    raise SystemExit(f"unknown .reg value {v!r}")


def system_values(regs):
    """{check path: (type, bytes)} of the SYSTEM values the .reg files set (the
    last file winning), and of the keys they delete (type None)."""
    out = {}
    for reg in regs:
        for key, deleted, values in parse_reg(reg):
            if not key.upper().startswith(HKLM + "SYSTEM\\CURRENTCONTROLSET\\"):
                continue
            rel = key[len(HKLM):]
            if deleted:
                # A check may read the key as a whole (FirewallRules).
                out["HKLM\\" + rel] = (None, None)
                continue
            for name, kind, data in values.values():
                path = "HKLM\\" + rel + "\\" + name
                if kind is None:
                    out.pop(path, None)
                else:
                    out[path] = (kind, data)
    return out


def hivex_values(hive, path):
    """The values of a key as hivexget prints them, or None when the key is absent."""
    r = subprocess.run(["hivexget", hive, path], capture_output=True)
    if r.returncode != 0:
        return None
    values = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r'^(@|"((?:[^"\\]|\\.)*)")=(.*)$', line.strip())
        if m:
            name = "" if m.group(1) == "@" else m.group(2)
            values[name.lower()] = (name, *value(m.group(3)))
    return values


# Keys and values the hivexsh script has written so far (not yet in the file).
created = set()
pending = {}


def hivexsh(hive, regs):
    """hivexsh commands that set the .reg files' SYSTEM values in HIVE."""
    current = hivex_values(hive, "\\Select") or {}
    sel = current.get("current")
    if not sel:
        raise SystemExit(f"{hive}: no Select\\Current")
    ccs = "ControlSet%03d" % int.from_bytes(sel[2][:4], "little")
    cmds = []
    for reg in regs:
        for key, deleted, values in parse_reg(reg):
            if not key.upper().startswith(HKLM + "SYSTEM\\"):
                continue
            parts = key[len(HKLM + "SYSTEM\\"):].split("\\")
            if parts[0].lower() == "currentcontrolset":
                parts[0] = ccs
            if deleted:
                if hivex_values(hive, "\\" + "\\".join(parts)) is not None:
                    cmds += ["cd \\" + "\\".join(parts), "del"]
                continue
            cmds.append("cd \\")
            # Keys created by earlier commands of this script exist only in memory: track them.
            missing = False
            for i, p in enumerate(parts):
                here = "\\" + "\\".join(parts[: i + 1])
                if missing or (here.lower() not in created and hivex_values(hive, here) is None):
                    cmds.append("add " + p)
                    created.add(here.lower())
                    missing = True
                cmds.append("cd " + p)
            merged = {} if missing else dict(hivex_values(hive, "\\" + "\\".join(parts)) or {})
            merged.update(pending.get("\\".join(parts).lower(), {}))
            for k, v in values.items():
                if v[1] is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            pending["\\".join(parts).lower()] = merged
            cmds.append("setval %d" % len(merged))
            for name, kind, data in merged.values():
                cmds.append(name if name else "@")
                cmds.append("hex:%d:%s" % (kind, ",".join("%02x" % b for b in data)))
    cmds.append("commit")
    return "\n".join(cmds) + "\n"


def shown_value(s):
    """A check's value as (type family, python value), from rdp-doctor's display."""
    m = re.match(r"^0x([0-9A-F]+) \((\d+)\)$", s)
    if m:
        return ("int", int(m.group(2)))
    m = re.match(r"^([0-9A-F]+)(?:…)? \((\d+) bytes\)$", s) or re.match(r"^([0-9A-F]{2,})$", s)
    if m:
        return ("hex", m.group(1).upper())
    if s.startswith('"'):
        return ("str", json.loads(s))
    return ("other", s)


def query_values(path):
    """{check path: (family, value)} from `reg query KEY` outputs (one file, several keys)."""
    out, key = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("HKEY_LOCAL_MACHINE\\"):
                key = "HKLM\\" + line[len(HKLM):]
                continue
            m = re.match(r"^    (.+?)    (REG_[A-Z_]+)    ?(.*)$", line)
            if not m or key is None:
                continue
            name, kind, data = m.groups()
            if kind in ("REG_DWORD", "REG_QWORD"):
                v = ("int", int(data, 16))
            elif kind == "REG_BINARY":
                v = ("hex", data.upper())
            else:
                v = ("str", data)
            # Live checks name CurrentControlSet; `reg query` prints what it was asked.
            out[key + "\\" + name] = v
    return out


STATUS = {"error": "fail", "warning": "warn", "info": "info"}


def checks(report):
    """The report's checks as (id, path, value, status): the checks that passed,
    and each finding's registry evidence (schema rdp-doctor.host-check/v2)."""
    with open(report) as f:
        r = json.load(f)
    out = [{"id": p["id"], "path": p["path"], "value": p["value"], "status": "ok"} for p in r["passed"]]
    for f in r["findings"]:
        for e in f["evidence"]:
            if e.get("source") == "registry":
                out.append({"id": f["id"], "path": e["path"], "value": e["value"], "status": STATUS[f["severity"]]})
    return out


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "hivexsh":
        sys.stdout.write(hivexsh(argv[2], argv[3:]))
    elif cmd == "paths":
        for p in system_values(argv[2:]):
            print(p)
    elif cmd == "query-matches":
        seeded = system_values(argv[4:])
        queried = query_values(argv[3])
        compared = 0
        for c in checks(argv[2]):
            if seeded.get(c["path"], (None,))[0] is None:
                continue
            want = queried.get(c["path"])
            got = shown_value(c["value"])
            if want is None:
                raise SystemExit(f"reg query printed no {c['path']}")
            if got != want:
                raise SystemExit(f"{c['id']} {c['path']}: host check --live says {c['value']!r}, reg query {want[1]!r}")
            compared += 1
        if compared < 6:
            raise SystemExit(f"only {compared} seeded value(s) reported by a check")
        print(f"{compared} seeded values reported as reg query shows them")
    elif cmd == "same-findings":
        regs = [a for a in argv[4:] if not a.startswith("--except=")]
        seeded = system_values(regs)
        for a in argv[4:]:
            if a.startswith("--except="):
                seeded.pop(a[len("--except="):], None)
        a = sorted((c["path"], c["id"], c["status"], c["value"]) for c in checks(argv[2]) if c["path"] in seeded)
        b = sorted((c["path"], c["id"], c["status"], c["value"]) for c in checks(argv[3]) if c["path"] in seeded)
        if a != b or len(a) < 6:
            raise SystemExit("different findings on the seeded values:\n  %s\n  %s" % (a, b))
        print(f"{len(a)} findings the same")
    elif cmd == "same-actions":
        with open(argv[2]) as f:
            a = json.load(f)["actions"]
        with open(argv[3]) as f:
            b = json.load(f)["actions"]
        if a != b or not a:
            raise SystemExit("different plans:\n  %s\n  %s" % (a, b))
        print(f"{len(a)} actions the same")
    elif cmd == "checks":
        for c in checks(argv[2]):
            print(json.dumps(c))
    elif cmd == "check-status":
        found = [c["status"] for c in checks(argv[2]) if c["path"] == argv[3]]
        if found != [argv[4]]:
            raise SystemExit(f"{argv[3]}: status {found}, want {argv[4]}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
