// Package ui serves the built-in analytics page: products across the two
// channels, one product over time, the halo ranking, identity resolution and
// the pipeline's state, read from the warehouse. `shopstream run` serves it
// next to its metrics, `shopstream ui` against any ClickHouse.
//
// # What the page reads
//
// Every table and chart is a dataset: one fixed SQL statement whose inputs
// are ClickHouse server-side query parameters ({name:Type}, sent through
// clickhouse-go), never text spliced into SQL. A request names a dataset and
// gives its parameters; each is parsed and checked in Go first (a date is a
// date, a channel is amazon or tiktok), then travels as a parameter, so a
// filter cannot run SQL of its own. The same dataset answers as JSON for the
// page and as CSV or XLSX for a download. Every query runs with readonly=1
// where the server lets a session set it; a user whose profile is read-only
// already is used as it is (the page shows which).
//
// Tables a dataset needs that do not exist yet (the dbt marts before a dbt
// run, dbt_runs before migration 0006) make it answer "missing" with what
// to run, not an error. Optional columns (provenance of TikTok attention)
// are read when the table has them.
//
// # Charts
//
// The charts are drawn in the browser with uPlot (npm package uplot, MIT),
// vendored into assets/vendor/uplot with its licence, version and checksums
// and embedded in the binary: the page loads nothing from elsewhere and
// works offline. `make ui-vendor` fetches the pinned version from npm and
// verifies the committed files against it. uPlot was chosen over Apache
// ECharts and over server-side SVG because the page's charts are daily time
// series: uPlot draws them fast from columnar arrays, supports what they need
// (an inverted scale for Best Sellers Rank, where lower is better; several
// axes; stepped lines for weekly totals; a cursor synchronised across
// charts; drawing hooks for shaded estimate days and the halo lag) in about
// 50 KB, against about 1 MB for ECharts; server-side SVG would need a
// hand-written chart renderer and lose hover read-outs.
//
// # Assets
//
// index.html, app.js and app.css under assets/ are plain files with no build
// step, served with a Content-Security-Policy that allows only this origin.
package ui
