"""dbt-clickhouse's row of the compatibility matrix (see doc.go).

dbt itself is the client: a throw-away project whose seeds carry the rows
(dbt creates their tables and inserts them with the seed's column types)
and whose model creates the client's table through an enforced contract
(DDL via a model), run with dbt's programmatic runner against two targets
that differ in dbt-clickhouse's `compression` profile setting. Rows are read
back through `dbt show`, dbt's own read path.
"""
import contextlib
import csv
import datetime
import json
import os
import re
import sys
import tempfile
from decimal import Decimal

from dbt.cli.main import dbtRunner

from compat_rows import COLUMNS, ROWS, TABLE, USER, PASSWORD, HOST, PORT, gen_row, report

# The DDL's columns and types, Nested flattened as ClickHouse stores it.
DDL = os.environ["CH_DDL"]
TYPES = {}
for name, typ in re.findall(r"^\s*(\w+) (.+?),?$", DDL.split("(", 1)[1].rsplit(")", 1)[0], re.M):
    if typ.startswith("Nested("):
        for sub, subtyp in re.findall(r"(\w+) (\w+)", typ[len("Nested("):-1]):
            TYPES[f"{name}.{sub}"] = f"Array({subtyp})"
    else:
        TYPES[name] = typ
SEEDS = {"on": f"{TABLE}_seed_on", "off": f"{TABLE}_seed_off"}


def csv_value(v):
    """A value as ClickHouse's CSV input reads it; None is an empty field."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, list):
        return "[" + ",".join("NULL" if x is None else repr(x) if isinstance(x, str) else str(x) for x in v) + "]"
    return str(v)


def write_project(root, password=PASSWORD):
    """The project: profiles with the two targets, seeds with the rows of
    each, the model that creates the client's table."""
    os.makedirs(os.path.join(root, "seeds"))
    os.makedirs(os.path.join(root, "models"))
    os.makedirs(os.path.join(root, "macros"))
    target = lambda compression, pw: {
        "type": "clickhouse", "driver": "http", "host": HOST, "port": PORT, "user": USER, "password": pw,
        "schema": "default", "secure": False, "compression": compression, "connect_timeout": 10,
        "send_receive_timeout": 300, "retries": 0, "threads": 1}
    with open(os.path.join(root, "profiles.yml"), "w") as f:
        json.dump({"compat": {"target": "on", "outputs": {
            "on": target("lz4", password), "off": target("", password), "wrong": target("", password + "x")}}}, f)
    column_types = {c: TYPES[c] for c in COLUMNS}
    with open(os.path.join(root, "dbt_project.yml"), "w") as f:
        json.dump({"name": "compat", "version": "1.0", "profile": "compat", "config-version": 2,
                   "seeds": {"compat": {"+column_types": column_types, "+quote_columns": True}}}, f)
    half = ROWS // 2
    for name, rows in (("on", range(0, half)), ("off", range(half, ROWS))):
        with open(os.path.join(root, "seeds", SEEDS[name] + ".csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            for i in rows:
                w.writerow([csv_value(v) for v in gen_row(i)])
    columns = [{"name": c, "data_type": TYPES[c], "quote": True} for c in COLUMNS]
    with open(os.path.join(root, "models", "schema.yml"), "w") as f:
        json.dump({"version": 2, "models": [{"name": TABLE, "config": {"contract": {"enforced": True}},
                                             "columns": columns}]}, f)
    select = ", ".join(f"`{c}`" for c in COLUMNS)
    with open(os.path.join(root, "models", TABLE + ".sql"), "w") as f:
        f.write("{{ config(materialized='table', engine='MergeTree()', order_by='id') }}\n"
                f"SELECT {select} FROM {{{{ ref('{SEEDS['on']}') }}}}\n"
                f"UNION ALL SELECT {select} FROM {{{{ ref('{SEEDS['off']}') }}}}\n")
    with open(os.path.join(root, "macros", "check_session.sql"), "w") as f:
        f.write("{% macro check_session() %}\n"
                "  {% do run_query('SET max_threads = 3') %}\n"
                "  {% set got = run_query(\"SELECT toString(getSetting('max_threads'))\").columns[0].values()[0] %}\n"
                "  {% if got != '3' %}{{ exceptions.raise_compiler_error('max_threads in the session = ' ~ got) }}{% endif %}\n"
                "{% endmacro %}\n")


class Dbt:
    """dbt commands run in this process against the project."""

    def __init__(self, root):
        self.root = root
        self.runner = dbtRunner()
        os.environ.update(DBT_TARGET_PATH=os.path.join(root, "target"), DBT_LOG_PATH=os.path.join(root, "logs"),
                          DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false", DBT_QUIET="true")

    def invoke(self, *args, target="on"):
        """Runs dbt; the result says whether it succeeded."""
        return self.runner.invoke([*args, "--project-dir", self.root, "--profiles-dir", self.root, "--target", target])

    def __call__(self, *args, target="on"):
        res = self.invoke(*args, target=target)
        if not res.success:
            raise AssertionError(f"dbt {' '.join(args)} --target {target} failed: {failure(res)}")
        return res


def failure(res):
    """What a failed dbt invocation says."""
    if res.exception is not None:
        return str(res.exception)
    try:
        return "; ".join(str(r.message) for r in res.result.results if r.status not in ("success", "pass"))
    except (AttributeError, TypeError):
        return repr(res.result)


def norm(value, column):
    """A value dbt show read, as gen_row has it: agate turns arrays into
    JSON text and numbers into Decimal."""
    if value is None:
        return None
    typ = TYPES[column]
    if typ.startswith("Array("):
        return json.loads(value) if isinstance(value, str) else list(value)
    if isinstance(value, Decimal) and "Decimal" not in typ:
        if "Float" in typ:
            return float(value)
        return int(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


def main():
    root = tempfile.mkdtemp(prefix="dbt-compat-")
    write_project(root)
    dbt = Dbt(root)

    def connect():
        dbt("debug")
        dbt("debug", target="off")
    if not report("connect", connect):
        return

    def show(sql, target):
        # dbt show prints what it read; only the rows it returns matter here.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            res = dbt("show", "--inline", sql, "--limit", "-1", target=target)
        return [list(r) for r in res.result.results[0].agate_table.rows]

    def insert():
        # Each seed is a CREATE TABLE with the seed's column types and an
        # INSERT of its rows, compressed (lz4) or not.
        dbt("seed", "--select", SEEDS["on"])
        dbt("seed", "--select", SEEDS["off"], target="off")
    seeded = report("insert", insert)

    def ddl():
        if not seeded:
            raise AssertionError("no seeds to build the model from")
        dbt("run", "--select", TABLE)
        rows = show(f"SELECT name, type FROM system.columns WHERE database = 'default' AND table = '{TABLE}' ORDER BY position", "on")
        got = {r[0]: r[1] for r in rows}
        if got != {c: TYPES[c] for c in COLUMNS}:
            raise AssertionError(f"the model's columns are {got}, want {TYPES}")
    built = report("ddl", ddl)

    def read_back(target):
        if not built:
            raise AssertionError("no table to read")
        select = ", ".join(f"`{c}`" for c in COLUMNS)
        rows = show(f"SELECT {select} FROM {TABLE} ORDER BY id", target)
        if len(rows) != ROWS:
            raise AssertionError(f"read {len(rows)} rows, want {ROWS}")
        for i, got in enumerate(rows):
            got = [norm(v, c) for v, c in zip(got, COLUMNS)]
            if got != gen_row(i):
                raise AssertionError(f"row {i} = {got!r}, want {gen_row(i)!r}")
    # The compressed read is the read back.
    if report("compression_on", lambda: read_back("on")):
        print("CHECK readback ok", flush=True)
    else:
        print("CHECK readback fail see compression_on", flush=True)
    report("compression_off", lambda: read_back("off"))
    report("session", lambda: dbt("run-operation", "check_session"))

    def error():
        res = dbt.invoke("show", "--inline", "SELECT * FROM no_such_table")
        msg = failure(res)
        if res.success or "Code: 60." not in msg or "UNKNOWN_TABLE" not in msg:
            raise AssertionError(f"a query of a missing table: success={res.success} {msg}")
    report("error", error)

    if os.environ.get("CH_WRONG_PASSWORD_CHECK") == "1":
        def wrong_password():
            res = dbt.invoke("show", "--inline", "SELECT 1", target="wrong")
            msg = failure(res)
            if res.success or "516" not in msg or "AUTHENTICATION_FAILED" not in msg:
                raise AssertionError(f"a wrong password: success={res.success} {msg}")
        report("auth_rejected", wrong_password)


if __name__ == "__main__":
    main()
    sys.exit(0)
