// Package oracle holds the transform's end-to-end oracle test: seeded
// worlds of input changes (late data, restated days, duplicates,
// out-of-order versions, deletes, unmatched and conflicting identifiers)
// go through a real broker, the transform stage (one or three child
// processes, instances of one group running stream.New, killed with
// SIGKILL at random points and restarted, some after their tasks moved,
// some with their state directory wiped) and the loader into the embedded
// warehouse, where product_daily must equal the same join written as plain
// SQL over the raw change tables (oracle.sql), row by row, and
// product_links the identity rules in SQL (identity.sql).
//
// The SQL restates the rules of packages identity and join independently
// of their Go code; when the two disagree, one of them is wrong. Variants
// run the transform in other configurations: besides the default (full
// credit, no mapping file), an even split of video figures with a mapping
// file, in a world that also mixes currencies; the mapping file is loaded
// into the warehouse for identity.sql.
//
// The SQL covers TikTok attention too: measured daily shop analytics, one
// source per video and metric, first snapshots spread over the video's life
// by largest remainder (in proportion to measured views, or evenly), the
// provenance of each row, and the unlinked keys of videos that show no
// product. The world generator plants every case the coverage check
// demands by construction (anchors no chaos removes), and
// TestWorldCoverage proves it for many seeds without Kafka, the transform
// process or the loader: the transform's topology runs in the test
// (stream.Driver, with its pebble stores), its inputs and outputs go
// straight into the raw change tables, and the outputs must equal the
// oracle there as well. ORACLE_LONG=1 (make test-oracle-long) runs more
// worlds with three instances.
package oracle
