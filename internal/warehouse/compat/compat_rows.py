"""What the Python rows of the compatibility matrix share (see doc.go): the
target from the environment, the generated rows every client writes and
reads back, and the CHECK line protocol. It imports no client library, so
that each client's script runs in the virtual environment that has only its
own (clickhouse-connect and dbt-clickhouse in one, clickhouse-driver in the
other)."""
import datetime
import os
from decimal import Decimal

HOST, PORT = os.environ["CH_HOST"], int(os.environ["CH_PORT"])
USER, PASSWORD = os.environ["CH_USER"], os.environ["CH_PASSWORD"]
TABLE, ROWS = os.environ["CH_TABLE"], int(os.environ["CH_ROWS"])
COLUMNS = ["id", "name", "channel", "region", "units", "price", "discount", "score", "active",
           "day", "changed_at", "tags", "ratings", "items.sku", "items.qty"]
QUOTED = ", ".join("`" + c + "`" for c in COLUMNS)
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
    # DateTime64 comes back timezone-aware (clickhouse-connect) or naive in
    # the server's zone, UTC (clickhouse-driver); compare instants.
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


def check_rows(on, off, insert_rows, select_all):
    """The insert, readback and compression checks every client runs: half
    the rows inserted through each connection (on: compressed, off: not) by
    insert_rows(conn, rows), which raises if the client reports another
    count; then all of them read back through each by select_all(conn), the
    rows of SELECT QUOTED FROM TABLE ORDER BY id."""
    half = ROWS // 2
    failed = {}

    def insert():
        for name, c, rng in (("on", on, range(0, half)), ("off", off, range(half, ROWS))):
            try:
                insert_rows(c, [gen_row(i) for i in rng])
            except Exception as e:  # pylint: disable=broad-except
                failed[name] = e
        if failed:
            raise AssertionError(f"inserts failed: {failed}")

    def read_back(c, name):
        if name in failed:
            raise failed[name]
        rows = select_all(c)
        if len(rows) != ROWS:
            raise AssertionError(f"read {len(rows)} rows, want {ROWS}")
        for i, got in enumerate(rows):
            want = gen_row(i)
            if normalize(got) != want:
                raise AssertionError(f"row {i} = {got!r}, want {want!r}")

    report("insert", insert)
    report("readback", lambda: read_back(on, "on"))
    report("compression_on", lambda: read_back(on, "on"))
    report("compression_off", lambda: read_back(off, "off"))


def check_refusals(error, code_error, missing_table, wrong_password):
    """The refusal checks every client runs: missing_table() (a query of a
    table that does not exist) must fail with code 60, UNKNOWN_TABLE, and,
    when CH_WRONG_PASSWORD_CHECK is 1, wrong_password() (a query with a wrong
    password) with code 516, AUTHENTICATION_FAILED. error is the client's
    exception for a server's refusal; code_error(e, code, name) says what is
    wrong with e when it is not that refusal, else None."""
    def refused(call, code, name, accepted):
        def check():
            try:
                call()
            except error as e:
                wrong = code_error(e, code, name)
                if wrong:
                    raise AssertionError(f"{wrong}: {e}") from e
                return
            raise AssertionError(accepted)
        return check

    report("error", refused(missing_table, 60, "UNKNOWN_TABLE", "a query of a missing table succeeded"))
    if os.environ.get("CH_WRONG_PASSWORD_CHECK") == "1":
        report("auth_rejected", refused(wrong_password, 516, "AUTHENTICATION_FAILED", "a wrong password was accepted"))
