"""The clickhouse-driver (Python, native protocol) row of the compatibility matrix.

Usage: native_driver.py HOST PORT COMPRESSION ROWS [USER PASSWORD]

COMPRESSION is none, lz4 or zstd. Connects, creates a table with every column
type the raw tables and product_daily use, inserts ROWS rows, reads them
back and compares them value by value, runs client-side and server-side query
parameters, a per-query setting, and a failing query whose code it checks.
Prints one line "ok ..." or exits non-zero with what differed.
"""

import datetime
import decimal
import sys

from clickhouse_driver import Client, errors

DDL = """CREATE TABLE {t} (
    id UInt64, s String, ns Nullable(String),
    lc LowCardinality(String), lcn LowCardinality(Nullable(String)),
    d Decimal(18, 4), nd Nullable(Decimal(18, 4)),
    ts DateTime64(3, 'UTC'), nts Nullable(DateTime64(3, 'UTC')),
    day Date32, nday Nullable(Date32),
    i32 Int32, n64 Nullable(Int64), f Float64, b Bool,
    tags Array(String), amounts Array(Decimal(18, 4)),
    items Nested(sku String, qty Int32, price Nullable(Decimal(18, 4)))
) ENGINE = MergeTree ORDER BY id"""

COLUMNS = "id, s, ns, lc, lcn, d, nd, ts, nts, day, nday, i32, n64, f, b, tags, amounts, `items.sku`, `items.qty`, `items.price`"

UTC = datetime.timezone.utc
BASE = datetime.datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def row(i):
    """Row i: nulls on every third row, text with quotes and non-ASCII,
    negative and tiny decimals, dates before 1970, empty lists."""
    opt = i % 3 != 0
    ts = BASE + datetime.timedelta(milliseconds=i * 1234)
    day = datetime.date(1960 + i % 100, 1 + i % 12, 1 + i % 28)
    n = i % 3
    return (
        i,
        f"sku-{i} 'quoted' üñï",
        f"note {i}" if opt else None,
        ("amazon", "tiktok", "both")[i % 3],
        ("USD", "EUR")[i % 2] if opt else None,
        decimal.Decimal(i * 7919 - 500000).scaleb(-4),
        decimal.Decimal(i).scaleb(-4) if opt else None,
        ts,
        ts + datetime.timedelta(hours=1) if opt else None,
        day,
        day + datetime.timedelta(days=1) if opt else None,
        i % 2000 - 1000,
        (i << 33) if opt else None,
        i / 7,
        i % 2 == 0,
        [f"t{i + j}" for j in range(i % 4)],
        [decimal.Decimal(j * 100 + i).scaleb(-2) for j in range(n)],
        [f"item-{i}-{j}" for j in range(n)],
        [j + 1 for j in range(n)],
        [decimal.Decimal(i + j).scaleb(-4) if j % 2 == 0 else None for j in range(n)],
    )


def canonical(values):
    """Values as text that is equal exactly when the values are; times are
    compared as instants (naive ones are in the server's zone, UTC)."""
    out = []
    for v in values:
        if isinstance(v, list):
            out.append("[" + ",".join(canonical([x]) for x in v) + "]")
        elif isinstance(v, datetime.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=UTC)
            out.append(v.astimezone(UTC).isoformat(timespec="milliseconds"))
        elif isinstance(v, decimal.Decimal):
            out.append(str(v.quantize(decimal.Decimal("0.0001"))))
        else:
            out.append(repr(v))
    return "|".join(out)


def main():
    host, port, compression, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    user, password = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else ("default", "")
    kwargs = dict(host=host, port=port, user=user, password=password, connect_timeout=10, send_receive_timeout=300)
    if compression != "none":
        kwargs["compression"] = compression
    client = Client(**kwargs)

    (version,), = client.execute("SELECT version()")
    if not version.startswith("26.5"):
        sys.exit(f"version {version}, want 26.5")
    table = "py_types_" + compression
    client.execute(DDL.format(t=table))
    want = [row(i) for i in range(n)]
    inserted = client.execute(f"INSERT INTO {table} ({COLUMNS}) VALUES", want)
    if inserted != n:
        sys.exit(f"insert reported {inserted} rows, want {n}")
    got = client.execute(f"SELECT {COLUMNS} FROM {table} ORDER BY id")
    if len(got) != n:
        sys.exit(f"read back {len(got)} rows, want {n}")
    for i, (g, w) in enumerate(zip(got, want)):
        if canonical(g) != canonical(w):
            sys.exit(f"row {i} differs:\n got  {canonical(g)}\n want {canonical(w)}")

    # Query parameters: substituted by the driver, and sent to the server.
    text = "O'Brien, üñï"
    (s,), = client.execute(f"SELECT s FROM {table} WHERE id = %(id)s", {"id": 7})
    if s != want[7][1]:
        sys.exit(f"client-side parameter: {s!r}")
    server = Client(**kwargs, settings={"server_side_params": True})
    (i, t), = server.execute(f"SELECT id, {{t:String}} FROM {table} WHERE id = {{id:UInt64}}", {"id": 7, "t": text})
    if (i, t) != (7, text):
        sys.exit(f"server-side parameters: {(i, t)!r}")

    # A setting for one query.
    (threads,), = client.execute("SELECT toString(getSetting('max_threads'))", settings={"max_threads": 3})
    if threads != "3":
        sys.exit(f"max_threads in a query that set it: {threads!r}")

    # An error with its code; the connection stays usable.
    try:
        client.execute("SELECT * FROM missing_table")
        sys.exit("a query of a missing table succeeded")
    except errors.ServerException as e:
        if e.code != 60:
            sys.exit(f"missing table: code {e.code}, want 60: {e}")
    (one,), = client.execute("SELECT 1")
    if one != 1:
        sys.exit("connection unusable after an error")
    client.disconnect()
    server.disconnect()
    print(f"ok clickhouse-driver compression={compression} rows={n}")


if __name__ == "__main__":
    main()
