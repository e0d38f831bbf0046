"""clickhouse-driver's row of the compatibility matrix (see doc.go): the
Python client of the native protocol."""
import os
import sys

from clickhouse_driver import Client, errors

from compat_rows import HOST, PASSWORD, PORT, QUOTED, TABLE, USER, check_refusals, check_rows, report


def client(compression, password=PASSWORD, **kw):
    kw = dict(host=HOST, port=PORT, user=USER, password=password, connect_timeout=10,
              send_receive_timeout=300, **kw)
    if compression:
        kw["compression"] = compression
    return Client(**kw)


def main():
    state = {}

    def connect():
        state["on"] = client("lz4")  # native block compression both ways
        state["off"] = client(False)
        for c in state.values():
            (one,), = c.execute("SELECT 1")
            if one != 1:
                raise AssertionError(f"SELECT 1 returned {one!r}")
    if not report("connect", connect):
        return
    on, off = state["on"], state["off"]
    report("ddl", lambda: on.execute(os.environ["CH_DDL"]))

    def insert_rows(c, rows):
        n = c.execute(f"INSERT INTO {TABLE} ({QUOTED}) VALUES", rows)
        if n != len(rows):
            raise AssertionError(f"the driver reports {n} rows inserted, want {len(rows)}")
    check_rows(on, off, insert_rows, lambda c: c.execute(f"SELECT {QUOTED} FROM {TABLE} ORDER BY id"))

    def params():
        # Substituted by the driver, and sent to the server as parameters.
        got = on.execute(f"SELECT name FROM {TABLE} WHERE id = %(id)s", {"id": 7})
        if got != [("p7-é",)]:
            raise AssertionError(f"client-side parameters returned {got!r}")
        server = client(False, settings={"server_side_params": True})
        got = server.execute(f"SELECT name, {{s:String}} FROM {TABLE} WHERE id = {{id:UInt64}}",
                             {"id": 7, "s": "O'Brien"})
        server.disconnect()
        if got != [("p7-é", "O'Brien")]:
            raise AssertionError(f"server-side parameters returned {got!r}")
    report("params", params)

    def session():
        # A native connection is a session: SET lasts until it closes, while
        # a query's own settings last for that query.
        s = client(False)
        s.execute("SET max_threads = 3")
        (got,), = s.execute("SELECT toString(getSetting('max_threads'))")
        (one_query,), = s.execute("SELECT toString(getSetting('max_threads'))", settings={"max_threads": 1})
        (after,), = s.execute("SELECT toString(getSetting('max_threads'))")
        s.disconnect()
        if (got, one_query, after) != ("3", "1", "3"):
            raise AssertionError(f"max_threads: session {got!r}, query setting {one_query!r}, after {after!r}")
    report("session", session)

    def empty_result():
        rows, columns = on.execute(f"SELECT id, price, changed_at FROM {TABLE} WHERE id > 1000000000000",
                                   with_column_types=True)
        want = [("id", "UInt64"), ("price", "Decimal(18, 4)"), ("changed_at", "DateTime64(3, 'UTC')")]
        if rows or columns != want:
            raise AssertionError(f"empty result: {rows!r}, columns {columns!r}, want {want!r}")
    report("empty_result", empty_result)

    def missing_table():
        try:
            on.execute("SELECT * FROM no_such_table")
        finally:
            (one,), = on.execute("SELECT 1")  # the connection stays usable

    def code_error(e, code, _name):
        return None if e.code == code else f"refused with code {e.code}, want {code}"
    check_refusals(errors.ServerException, code_error, missing_table,
                   lambda: client(False, password=PASSWORD + "x").execute("SELECT 1"))
    on.disconnect()
    off.disconnect()


if __name__ == "__main__":
    main()
    sys.exit(0)
