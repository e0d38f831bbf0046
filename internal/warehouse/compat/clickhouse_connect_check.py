"""clickhouse-connect's row of the compatibility matrix (see doc.go)."""
import os
import sys
import uuid

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError

from compat_rows import HOST, PASSWORD, PORT, QUOTED, TABLE, USER, COLUMNS, check_refusals, check_rows, report


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

    def insert_rows(c, rows):
        summary = c.insert(TABLE, rows, column_names=COLUMNS)
        if summary.written_rows != len(rows):
            raise AssertionError(f"summary says {summary.written_rows} rows written, want {len(rows)}")
    check_rows(on, off, insert_rows, lambda c: c.query(f"SELECT {QUOTED} FROM {TABLE} ORDER BY id").result_rows)

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

    def code_error(e, code, name):
        # clickhouse-connect has the server's code and its name only in the
        # message.
        if str(code) not in str(e) or name not in str(e):
            return f"refused without code {code} ({name})"
        return None
    check_refusals(DatabaseError, code_error, lambda: on.query("SELECT * FROM no_such_table"),
                   lambda: client(False, password=PASSWORD + "x").command("SELECT 1"))


if __name__ == "__main__":
    main()
    sys.exit(0)
