"""Independent readers of a hive, for the regf tests.

    python3 oracle.py regipy HIVE SUBTREE      values under SUBTREE, one line each
    python3 oracle.py pyreg HIVE SUBTREE       the same with python-registry
    python3 oracle.py count-regipy HIVE        keys and values in the whole hive
    python3 oracle.py count-pyreg HIVE
    python3 oracle.py recover HIVE FIRST_LOG LAST_LOG OUT
                                               regipy's transaction log recovery

A value line is  PATH<TAB>NAME<TAB>TYPE<TAB>DATA  with PATH relative to the root key
and DATA canonical: strings up to their first NUL, numbers in decimal, multi-strings
joined by '|', everything else as hex of the raw bytes. Exit code 3: the reader
package is missing.
"""

import struct
import sys

STRING, EXPAND, BINARY, DWORD, DWORD_BE, LINK, MULTI, QWORD = 1, 2, 3, 4, 5, 6, 7, 11


def utf16z(raw):
    units = [struct.unpack_from("<H", raw, i)[0] for i in range(0, len(raw) - 1, 2)]
    if 0 in units:
        units = units[: units.index(0)]
    return b"".join(struct.pack("<H", u) for u in units).decode("utf-16-le", "replace")


def canon(kind, raw):
    if kind in (STRING, EXPAND):
        return utf16z(raw)
    if kind == DWORD and len(raw) >= 4:
        return str(struct.unpack_from("<I", raw)[0])
    if kind == DWORD_BE and len(raw) >= 4:
        return str(struct.unpack_from(">I", raw)[0])
    if kind == QWORD and len(raw) >= 8:
        return str(struct.unpack_from("<Q", raw)[0])
    if kind == MULTI:
        units = [struct.unpack_from("<H", raw, i)[0] for i in range(0, len(raw) - 1, 2)]
        parts, cur = [], []
        for u in units:
            if u == 0:
                if cur:
                    parts.append(b"".join(struct.pack("<H", c) for c in cur).decode("utf-16-le", "replace"))
                cur = []
            else:
                cur.append(u)
        if cur:
            parts.append(b"".join(struct.pack("<H", c) for c in cur).decode("utf-16-le", "replace"))
        return "|".join(parts)
    return raw.hex()


def emit(path, name, kind, raw):
    text = canon(kind, raw).replace("\n", "\\n").replace("\t", "\\t")
    print(f"{path}\t{name}\t{kind}\t{text}")


def pyreg_values(hive, subtree):
    from Registry import Registry

    reg = Registry.Registry(hive)
    key = reg.root()
    for part in [p for p in subtree.split("\\") if p]:
        key = key.subkey(part)

    def walk(k, path):
        for v in k.values():
            emit(path, v.name() if v.name() != "(default)" else "", v.value_type(), v.raw_data())
        for s in k.subkeys():
            walk(s, f"{path}\\{s.name()}" if path else s.name())

    walk(key, "\\".join(p for p in subtree.split("\\") if p))


def regipy_values(hive, subtree):
    from regipy.registry import RegistryHive

    reg = RegistryHive(hive)
    parts = [p for p in subtree.split("\\") if p]
    key = reg.get_key("\\" + "\\".join(parts)) if parts else reg.root

    def walk(k, path):
        for v in k.iter_values(as_json=False, trim_values=False):
            name = "" if v.name == "(default)" else v.name
            kind = KINDS.get(str(v.value_type), "?")
            text = regipy_canon(kind, v.value).replace("\n", "\\n").replace("\t", "\\t")
            print(f"{path}\t{name}\t{kind}\t{text}")
        for s in k.iter_subkeys():
            walk(s, f"{path}\\{s.name}" if path else s.name)

    walk(key, "\\".join(parts))


KINDS = {
    "REG_NONE": 0, "REG_SZ": 1, "REG_EXPAND_SZ": 2, "REG_BINARY": 3, "REG_DWORD": 4,
    "REG_MULTI_SZ": 7, "REG_QWORD": 11,
}


def regipy_canon(kind, val):
    """regipy decodes by type; '?' where its decoded form cannot be compared exactly."""
    if kind in (STRING, EXPAND):
        if isinstance(val, (bytes, bytearray)):
            return utf16z(bytes(val))
        return (val or "").split("\0")[0]
    if kind == DWORD and isinstance(val, int):
        return str(val & 0xFFFFFFFF)
    if kind == QWORD and isinstance(val, int):
        return str(val & 0xFFFFFFFFFFFFFFFF)
    if kind == MULTI and isinstance(val, list):
        return "|".join(x for x in val if x)
    if kind in (0, BINARY) and isinstance(val, (bytes, bytearray)):
        return bytes(val).hex()
    if kind in (0, BINARY) and val is None:
        return ""
    return "?"


def count_regipy(hive):
    from regipy.registry import RegistryHive

    reg = RegistryHive(hive)

    def walk(k):
        c, v = 1, k.header.values_count
        for s in k.iter_subkeys():
            a, b = walk(s)
            c, v = c + a, v + b
        return c, v

    print("%d %d" % walk(reg.root))


def count_pyreg(hive):
    from Registry import Registry

    def walk(k):
        c, v = 1, len(k.values())
        for s in k.subkeys():
            a, b = walk(s)
            c, v = c + a, v + b
        return c, v

    print("%d %d" % walk(Registry.Registry(hive).root()))


def recover(hive, first_log, last_log, out):
    from regipy.recovery import apply_transaction_logs

    # regipy applies `secondary_log_path` first and `primary_log_path` on top of it.
    _, pages = apply_transaction_logs(hive, last_log, secondary_log_path=first_log, restored_hive_path=out)
    print(pages)


def main():
    sys.setrecursionlimit(10000)
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "regipy":
            regipy_values(*args)
        elif cmd == "pyreg":
            pyreg_values(*args)
        elif cmd == "count-regipy":
            count_regipy(*args)
        elif cmd == "count-pyreg":
            count_pyreg(*args)
        elif cmd == "recover":
            recover(*args)
        else:
            sys.exit(f"unknown command {cmd}")
    except ImportError as e:
        print(f"missing reader: {e}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
