// Package oracle holds the transform's end-to-end oracle test: seeded
// worlds of input changes (late data, restated days, duplicates,
// out-of-order versions, deletes, unmatched and conflicting identifiers)
// go through a real broker, the transform stage (a child process running
// stream.Run, killed with SIGKILL at random points and restarted) and the
// loader into the
// embedded warehouse, where product_daily must equal the same join written
// as plain SQL over the raw change tables (oracle.sql), row by row.
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
// process or the loader: the transform's Processor runs in the test, its
// inputs and outputs go straight into the raw change tables, and the
// outputs must equal the oracle there as well.
package oracle
