// Package simworld is the single, seeded, deterministic world behind the
// marketplace simulators (amazontest, tiktokshoptest, tiktokbiztest).
//
// Everything in the world is a pure function of the seed, the configuration
// and a point in time: brands, products and their per-channel listings, orders
// that arrive minute by minute on both channels and move through their status
// lifecycles, videos whose lifetime engagement grows, Amazon sales & traffic
// that is restated for up to 72 hours, sales ranks and Brand Analytics search
// data. Nothing is stored while the clock moves, so two worlds built from the
// same seed answer every question identically, and a simulator restarted at the
// same clock reading serves the same data.
//
// A world can plant halo effects (Config.Halo, see halo.go): products whose
// TikTok video takes off on a known day and whose Amazon demand (orders,
// sessions, Best Sellers Rank, search performance) rises a known number of
// days later and decays, and spike controls whose video takes off with no
// Amazon effect. The planted world is the plain world plus those effects;
// Truth.Halo lists them, the ground truth a halo analysis is judged by.
//
// The simulators read the world "as an API would see it" (with visibility
// delays, restatement, paging); tests read it through Truth, the ground-truth
// view of what every entity really is at a given time.
package simworld
