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
package oracle
