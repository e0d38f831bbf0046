"""clickhouse-connect's row of the compatibility matrix (see doc.go)."""
import datetime
import os
import sys
import uuid
from decimal import Decimal

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError

HOST, PORT = os.environ["CH_HOST"], int(os.environ["CH_PORT"])
USER, PASSWORD = os.environ["CH_USER"], os.environ["CH_PASSWORD"]
TABLE, ROWS = os.environ["CH_TABLE"], int(os.environ["CH_ROWS"])
COLUMNS = ["id", "name", "channel", "region", "units", "price", "discount", "score", "active",
           "day", "changed_at", "tags", "ratings", "items.sku", "items.qty"]
EPOCH = datetime.date(1970, 1, 1)


def gen_row(i):
    return [
        i,
        f"p{i}" + ("-é" if i % 7 == 0 else ""),
        ["amazon", "tiktok_shop", "tiktok_ads"][i % 3],
        None if i % 4 == 0 else ["eu", "us", "jp"][i % 3],
        None if i % 5 == 0 else i * 3 - 150000,
        Decimal(i * 7919 % 100000000 - 50000000).scaleb(-4),
        None if i % 6 == 0 else Decimal(i % 10000).scaleb(-4),
        None if i % 9 == 0 else i * 0.125,
        None if i % 3 == 0 else i % 2 == 0,
        EPOCH + datetime.timedelta(days=i % 146000 - 25567),
        datetime.datetime.fromtimestamp((1700000000000 + i * 1001) / 1000, tz=datetime.timezone.utc),
        [f"t{i + j}" for j in range(i % 4)],
        [None if j == 1 else j * 0.5 for j in range(i % 3)],
        [f"s{i}-{j}" for j in range(i % 3)],
        [(i + j) % 1000 for j in range(i % 3)],
    ]


def normalize(row):
    row = list(row)
    # DateTime64 comes back timezone-aware (UTC); compare instants.
    if isinstance(row[10], datetime.datetime) and row[10].tzinfo is None:
        row[10] = row[10].replace(tzinfo=datetime.timezone.utc)
    return row


def report(check, fn):
    try:
        fn()
        print(f"CHECK {check} ok", flush=True)
        return True
    except Exception as e:  # pylint: disable=broad-except
        print(f"CHECK {check} fail {type(e).__name__}: {str(e)[:500]}".replace("\n", " "), flush=True)
        return False


def client(compress, password=PASSWORD, **kw):
    return clickhouse_connect.get_client(host=HOST, port=PORT, username=USER, password=password,
                                         compress=compress, **kw)


def main():
    state = {}

    def connect():
        state["on"] = client("lz4")  # HTTP Content-Encoding lz4 both ways
        state["off"] = client(False)
        state["on"].ping()
        state["off"].command("SELECT 1")
    if not report("connect", connect):
        return
    on, off = state["on"], state["off"]
    report("ddl", lambda: on.command(os.environ["CH_DDL"]))

    half = ROWS // 2
    errors = {}

    def insert():
        for name, c, rng in (("on", on, range(0, half)), ("off", off, range(half, ROWS))):
            try:
                summary = c.insert(TABLE, [gen_row(i) for i in rng], column_names=COLUMNS)
                if summary.written_rows != len(rng):
                    raise AssertionError(f"summary says {summary.written_rows} rows written, want {len(rng)}")
            except Exception as e:  # pylint: disable=broad-except
                errors[name] = e
        if errors:
            raise AssertionError(f"inserts failed: {errors}")

    def read_back(c, name):
        if name in errors:
            raise errors[name]
        result = c.query(f"SELECT {', '.join('`' + col + '`' for col in COLUMNS)} FROM {TABLE} ORDER BY id")
        if len(result.result_rows) != ROWS:
            raise AssertionError(f"read {len(result.result_rows)} rows, want {ROWS}")
        for i, got in enumerate(result.result_rows):
            want = gen_row(i)
            if normalize(got) != want:
                raise AssertionError(f"row {i} = {got!r}, want {want!r}")

    report("insert", insert)
    report("readback", lambda: read_back(on, "on"))
    report("compression_on", lambda: read_back(on, "on"))
    report("compression_off", lambda: read_back(off, "off"))

    def params():
        got = on.query(f"SELECT name FROM {TABLE} WHERE id = {{id:UInt64}}", parameters={"id": 7}).result_rows
        if got != [("p7-é",)]:
            raise AssertionError(f"parameterised query returned {got!r}")
    report("params", params)

    def session():
        s = client(False, session_id=f"compat-py-{uuid.uuid4()}")
        s.command("SET max_threads = 3")
        got = s.command("SELECT getSetting('max_threads')")
        if str(got) != "3":
            raise AssertionError(f"max_threads in the session = {got!r}")
    report("session", session)

    def error():
        try:
            on.query("SELECT * FROM no_such_table")
        except DatabaseError as e:
            if "Code: 60." not in str(e) or "UNKNOWN_TABLE" not in str(e):
                raise AssertionError(f"error without code 60: {e}") from e
            return
        raise AssertionError("a query of a missing table succeeded")
    report("error", error)

    if os.environ.get("CH_WRONG_PASSWORD_CHECK") == "1":
        def wrong_password():
            try:
                client(False, password=PASSWORD + "x").command("SELECT 1")
            except DatabaseError as e:
                if "516" not in str(e) or "AUTHENTICATION_FAILED" not in str(e):
                    raise AssertionError(f"wrong password refused without code 516: {e}") from e
                return
            raise AssertionError("a wrong password was accepted")
        report("auth_rejected", wrong_password)


if __name__ == "__main__":
    main()
    sys.exit(0)
