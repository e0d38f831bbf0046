#!/usr/bin/env python3
"""Read an exported file back the way other software does and print it as JSON.

    readback.py xlsx FILE        every sheet: name, frozen panes, autofilter,
                                 column widths, header fonts, and every cell
                                 (type, value, number format) per openpyxl
    readback.py xlsx-count FILE  every sheet's name and row count (read-only
                                 mode, for big files)
    readback.py csv FILE         every record per Python's csv module

The export tests compare this with SQL over the same data: nothing here
knows how the files were written.
"""
import csv
import datetime
import json
import sys

import openpyxl


def cell(c):
    v = c.value
    if v is None:
        t = "null"
    elif isinstance(v, bool):
        t = "bool"
    elif isinstance(v, int):
        t, v = "int", str(v)
    elif isinstance(v, float):
        t, v = "float", repr(v)
    elif isinstance(v, datetime.datetime):
        t, v = "datetime", v.isoformat(sep=" ")
    elif isinstance(v, datetime.date):
        t, v = "date", v.isoformat()
    elif isinstance(v, str):
        t = "str"
    else:
        t, v = type(v).__name__, str(v)
    return {"t": t, "v": v, "fmt": c.number_format, "dt": c.data_type}


def xlsx(path):
    wb = openpyxl.load_workbook(path)
    sheets = []
    for ws in wb.worksheets:
        rows = [[cell(c) for c in row] for row in ws.iter_rows()]
        sheets.append({
            "name": ws.title,
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "header_bold": [bool(c.font and c.font.b) for c in ws[1]] if ws.max_row >= 1 else [],
            "rows": rows,
        })
    return {"sheets": sheets}


def xlsx_count(path):
    wb = openpyxl.load_workbook(path, read_only=True)
    sheets = []
    for ws in wb.worksheets:
        n, first, last = 0, None, None
        for row in ws.iter_rows(values_only=True):
            n += 1
            if n == 2:
                first = row[0]
            last = row[0]
        sheets.append({"name": ws.title, "rows": n, "first": str(first), "last": str(last)})
    return {"sheets": sheets}


def csv_records(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {"records": list(csv.reader(f, strict=True))}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    out = {"xlsx": xlsx, "xlsx-count": xlsx_count, "csv": csv_records}[mode](path)
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
