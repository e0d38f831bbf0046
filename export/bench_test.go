package export

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/procfs"
	"github.com/shopstream/shopstream/internal/testenv"
)

// benchRowsVar sets the rows of TestBenchExport (make bench-export).
const benchRowsVar = "SHOPSTREAM_TEST_BENCH_EXPORT_ROWS"

// fillProductDaily inserts rows rows of product_daily shaped like the
// transform's: 2,740 products a day, both channels' figures, money in two
// currencies, search terms on some rows.
func (w *world) fillProductDaily(t testing.TB, rows int) {
	t.Helper()
	// Columns named, so that later migrations' columns take their defaults.
	w.exec(t, fmt.Sprintf(`INSERT INTO product_daily (event_id, source, entity, op, source_ts, ingest_ts, version,
		product_key, date, date_time_zone, tiktok_views, tiktok_watch_time_seconds, tiktok_saves, tiktok_shares,
		tiktok_likes, tiktok_comments, tiktok_currency, tiktok_video_gmv, tiktok_orders, tiktok_units, tiktok_gmv,
		amazon_search_period_start, amazon_search_period_end, amazon_search_impressions, amazon_search_clicks,
		amazon_search_purchases, `+"`amazon_search_term_ranks.search_term`, `amazon_search_term_ranks.department_name`, "+
		"`amazon_search_term_ranks.search_frequency_rank`, `amazon_search_term_ranks.click_share_rank`, "+
		"`amazon_search_term_ranks.click_share`, `amazon_search_term_ranks.conversion_share`, "+`
		amazon_best_sellers_rank_best, amazon_best_sellers_rank_avg, amazon_sessions, amazon_page_views, amazon_units,
		amazon_currency, amazon_sales, amazon_orders, _key, _partition, _offset, is_deleted) SELECT
		'e' || toString(number), 'transform', 'product_daily', 'snapshot',
		toDateTime64('2026-11-01 00:00:00', 3, 'UTC') + number, toDateTime64('2026-11-01 00:00:00', 3, 'UTC') + number, 1,
		'gtin:' || leftPad(toString(10000000000000 + number %% 2740), 14, '0'), toDate32('2025-01-01') + intDiv(number, 2740), 'UTC',
		number %% 100000, (number %% 100000) * 3.7, number %% 900, number %% 400, number %% 5000, number %% 300,
		if(number %% 2 = 0, 'USD', 'GBP'), toDecimal64(number %% 100000, 4) / 7, number %% 50, number %% 80, toDecimal64(number %% 100000, 4) / 3,
		if(number %% 7 = 0, NULL, toDate32('2025-01-01') + intDiv(number, 2740) - 6), if(number %% 7 = 0, NULL, toDate32('2025-01-01') + intDiv(number, 2740)),
		number %% 20000, number %% 2000, number %% 200,
		if(number %% 3 = 0, ['vitamin c serum', 'glow serum'], []), if(number %% 3 = 0, ['Beauty', NULL], []),
		if(number %% 3 = 0, [1 + number %% 1000, 2], []), if(number %% 3 = 0, [3, 4], []),
		if(number %% 3 = 0, [0.12, NULL], []), if(number %% 3 = 0, [0.05, 0.01], []),
		if(number %% 5 = 0, NULL, 1 + number %% 90000), (number %% 90000) * 1.01, number %% 3000, number %% 4500, number %% 120,
		'USD', toDecimal64(number %% 100000, 4) / 9, number %% 100,
		toString(number), 0, number, 0
		FROM numbers(%d)`, rows))
}

// exporterVar names the binary the benchmark exports with: make
// bench-export builds the production one (no engine linked), whose memory
// is the exporter's own; bin/shopstream carries the engine's library, which
// holds some 170 MiB from the start whatever the command.
const exporterVar = "SHOPSTREAM_TEST_EXPORT_BINARY"

// exportRun is one `shopstream export` process: its wall and CPU time and
// its peak RSS.
type exportRun struct {
	took, cpu time.Duration
	peakRSS   int64 // bytes
	size      int64
}

func runExportBinary(t testing.TB, bin, addr string, args ...string) exportRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"export", "--progress", "none"}, args...)...)
	cmd.Env = append(os.Environ(), "SHOPSTREAM_WAREHOUSE_LISTEN="+addr, "SHOPSTREAM_WAREHOUSE_PROTOCOL=http", "SHOPSTREAM_LOG_LEVEL=warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := make(chan int64)
	go func() { peak <- watchPeakRSS(cmd.Process.Pid) }()
	err := cmd.Wait()
	took := time.Since(start)
	run := exportRun{took: took, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), peakRSS: <-peak}
	if err != nil {
		t.Fatalf("shopstream export %v: %v\n%s", args, err, out.String())
	}
	for i, a := range args {
		if a == "-o" {
			if fi, err := os.Stat(args[i+1]); err == nil {
				run.size = fi.Size()
			}
		}
	}
	return run
}

// watchPeakRSS follows a process's peak resident set (VmHWM) until it
// exits. The rusage of a child is no good here: os/exec starts children
// with vfork, and the kernel carries the parent's peak (the test's, which
// may have read a big file) into the child's maximum at exec.
func watchPeakRSS(pid int) int64 {
	var peak int64
	for {
		kb, err := procfs.StatusKB(pid, "VmHWM")
		if err != nil { // exited: a zombie has no memory left to report
			return peak
		}
		peak = max(peak, kb*1024)
		time.Sleep(20 * time.Millisecond)
	}
}

// ceiling reads the same query as the warehouse's own CSV over HTTP: what
// getting the rows out costs before any spreadsheet is written.
func (w *world) ceiling(t testing.TB, query string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := http.Post(w.wh.URL+"/?"+url.Values{"default_format": {"CSVWithNames"}}.Encode(), "text/plain", strings.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ceiling query: %v %s", err, resp.Status)
	}
	return time.Since(start)
}

// TestBenchExport (make bench-export) exports product_daily of
// SHOPSTREAM_TEST_BENCH_EXPORT_ROWS rows (1,000,000 in make bench-export)
// to CSV and XLSX with the production binary, and prints per format the
// wall time and rows/s, the ratio to the ceiling (the warehouse's own CSV of
// the same query, read in the same run), the CPU time and rows per CPU
// second (the machine is shared: wall time wanders, CPU time less), and the
// exporter's peak RSS. It fails only if an export fails or is not whole.
func TestBenchExport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(benchRowsVar))
	if n <= 0 {
		t.Skipf("set %s (make bench-export)", benchRowsVar)
	}
	bin := os.Getenv(exporterVar)
	if bin == "" {
		bin = testenv.Binary(t)
	}
	w := newWorld(t)
	start := time.Now()
	w.fillProductDaily(t, n)
	t.Logf("filled product_daily with %d rows in %s", n, time.Since(start).Round(time.Millisecond))
	s, err := TableSheet(context.Background(), w.conn, Table{Name: "product_daily"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	columns := strings.Count(s.Query[:strings.Index(s.Query, " FROM ")], ", ") + 1
	fmt.Printf("export rows %d of product_daily (%d columns) with %s\n", n, columns, filepath.Base(bin))
	ceil := w.ceiling(t, s.Query)
	fmt.Printf("export ceiling (the warehouse's own CSV over HTTP) %s %.0f rows/s\n", ceil.Round(time.Millisecond), float64(n)/ceil.Seconds())
	var xlsxRSS int64
	for _, format := range []string{"csv", "xlsx"} {
		out := filepath.Join(dir, "product_daily."+format)
		run := runExportBinary(t, bin, w.wh.Addr, "--table", "product_daily", "-o", out)
		fmt.Printf("export %-4s %s %.0f rows/s ceiling-ratio %.3f cpu %s %.0f rows/cpu-s peak-rss %.0f MiB file %.0f MiB\n",
			format, run.took.Round(time.Millisecond), float64(n)/run.took.Seconds(), ceil.Seconds()/run.took.Seconds(),
			run.cpu.Round(time.Millisecond), float64(n)/run.cpu.Seconds(), float64(run.peakRSS)/(1<<20), float64(run.size)/(1<<20))
		var rows int
		if format == "xlsx" {
			xlsxRSS = run.peakRSS
			rows = countRowTags(t, out)
		} else {
			rows = countLines(t, out)
		}
		if rows != n+1 {
			t.Errorf("the %s file holds %d rows, want a header and %d", format, rows, n)
		}
		_ = os.Remove(out)
	}
	fmt.Printf("export xlsx-peak-rss-mib %.0f\n", float64(xlsxRSS)/(1<<20))
}

// TestExportMemoryFlat is the short variant make test runs: the exporter's
// peak RSS for 200,000 rows of product_daily stays within 25 MiB of its
// peak for about 25,000, for CSV and XLSX, so memory does not grow with
// rows (a workbook buffered whole, or rows held, would add tens of MiB).
func TestExportMemoryFlat(t *testing.T) {
	w := newWorld(t)
	const n = 200000 // 73 days of 2,740 products
	w.fillProductDaily(t, n)
	dir := t.TempDir()
	for _, format := range []string{"csv", "xlsx"} {
		out := filepath.Join(dir, "out."+format)
		small := runExportBinary(t, testenv.Binary(t), w.wh.Addr, "--table", "product_daily", "--to", "2025-01-09", "-o", out)
		large := runExportBinary(t, testenv.Binary(t), w.wh.Addr, "--table", "product_daily", "-o", out)
		t.Logf("%s: 24,660 rows peak RSS %.0f MiB, %d rows %.0f MiB", format, float64(small.peakRSS)/(1<<20), n, float64(large.peakRSS)/(1<<20))
		if grown := large.peakRSS - small.peakRSS; grown > 25<<20 {
			t.Errorf("%s: peak RSS grew %.0f MiB from 24,660 to %d rows; it should stay flat", format, float64(grown)/(1<<20), n)
		}
	}
}

// countRowTags counts the row elements of a workbook's sheets, reading the
// decompressed XML for "<row " (an XML decoder takes minutes over a
// million rows on a busy machine).
func countRowTags(t testing.TB, path string) int {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	n := 0
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "xl/worksheets/sheet") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		n += countIn(t, rc, []byte("<row "))
		_ = rc.Close()
	}
	return n
}

// countLines counts the CRLF-ended records of a CSV file, streaming it.
func countLines(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return countIn(t, f, []byte("\r\n"))
}

// countIn counts the occurrences of pat in r, streaming it.
func countIn(t testing.TB, r io.Reader, pat []byte) int {
	t.Helper()
	buf := make([]byte, 1<<20)
	n := 0
	carry := 0 // bytes kept from the last read, in case pat spans two
	for {
		k, err := r.Read(buf[carry:])
		chunk := buf[:carry+k]
		n += bytes.Count(chunk, pat)
		carry = min(len(pat)-1, len(chunk))
		copy(buf, chunk[len(chunk)-carry:])
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
