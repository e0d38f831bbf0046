package stream

import (
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/native"
	"github.com/shopstream/shopstream/transform/join"
)

// Serde encodes and decodes Confluent wire-format values; *schemas.Serde
// is one.
type Serde = schemas.WireFormat

// Defaults of Config.
const (
	DefaultGroup = "shopstream-transform"
	// DefaultMaxTransactionRecords bounds the records one transaction
	// consumes: a backlog (a backfill, a stage that was down) is worked
	// off in many short transactions, each ending well within the
	// transaction timeout even on a loaded machine. A transaction the
	// broker timed out fails with INVALID_PRODUCER_EPOCH, and the same
	// backlog would be tried again, forever.
	DefaultMaxTransactionRecords = 1000
	// DefaultMaxTransactionRelinks bounds the entities the facts tasks
	// of an instance relink in one transaction when links change: a
	// link change that many entities depend on (a catalog that changes
	// after a long history) is spread over transactions of about the
	// work of a full poll each, instead of holding every dependent
	// entity and all their partial changes in one.
	DefaultMaxTransactionRelinks = 1000
)

// Config configures an instance of the transform (New).
type Config struct {
	// Brokers are the seed brokers.
	Brokers []string
	// ClientOpts are extra client options (SASL, TLS, logger).
	ClientOpts []kgo.Opt
	// Group is the consumer group of every instance of the stage, and
	// the prefix of its internal topics; DefaultGroup when empty.
	Group string
	// InstanceID names this instance among those of the group: its static
	// group membership (group.instance.id) and its default transactional
	// id. Required, and stable across restarts of the instance.
	InstanceID string
	// TransactionalID is the instance's transactional id; default
	// <Group>-<InstanceID>. Stable across restarts: a restarted instance
	// fences its previous incarnation's open transaction with it.
	TransactionalID string
	// StateDir holds the instance's task stores. Required; one process at
	// a time.
	StateDir string
	// CacheBytes bounds the memory of the stores; default
	// state.DefaultCacheBytes.
	CacheBytes int64
	// Partitions is the number of partitions of the facts and rows steps,
	// the most instances that share their work; DefaultPartitions when 0.
	// It cannot change for a group.
	Partitions int
	// TopicPrefix is put before every topic name, input and output (e.g.
	// "tenant1." or a test's unique prefix); schemas are those of the
	// unprefixed names.
	TopicPrefix string
	// Serde encodes outputs and decodes inputs.
	Serde Serde
	// Mapping is the explicit product mapping (nil for none).
	Mapping *identity.Mapping
	// Join configures the join (reporting zone, attribution).
	Join join.Config
	// Now is the clock that sets the version floor; nil is time.Now.
	Now func() time.Time
	// MaxTransactionRecords bounds the records a transaction consumes
	// (inputs and the internal topics' records: a poll of at most that
	// many); DefaultMaxTransactionRecords when 0.
	MaxTransactionRecords int
	// MaxTransactionRelinks bounds the entities this instance's facts
	// tasks relink (recompute because links they depend on changed) in
	// one transaction; the rest wait in the tasks' stores for the next
	// transactions. DefaultMaxTransactionRelinks when 0.
	MaxTransactionRelinks int
	// OnBatch, if set, is called after every committed transaction with
	// the number of input records and outputs; for progress and tests.
	OnBatch func(inputs, outputs int)
	// Metrics, if set, counts records, rows, links, transactions and
	// restores.
	Metrics *Metrics
	// Log receives state changes (tasks restored) at info and
	// per-transaction counts at debug; the zero Logger logs nothing.
	// Errors are returned, not logged.
	Log zerolog.Logger
}

// crashBeforeEnd, set by tests, runs after a transaction's outputs were
// produced and before it ends; an error stops Run as a crash would.
var crashBeforeEnd func() error

// Topics returns the input topics of the transform.
func Topics() []string {
	return append(join.InputTopics(), identity.TopicTikTokProducts)
}

// learntSKU returns the seller SKU an Amazon sales or order record shows
// for an ASIN: the catalog API does not list them.
func learntSKU(topic string, r *native.Record) (identity.Ref, string, bool) {
	var asin, sku string
	switch topic {
	case join.TopicAmazonSalesTraffic:
		asin, sku = r.OptString("child_asin"), r.OptString("sku")
	case join.TopicAmazonOrderItems:
		asin, sku = r.OptString("asin"), r.OptString("seller_sku")
	default:
		return identity.Ref{}, "", false
	}
	mkt := r.OptString("marketplace_id")
	if asin == "" || sku == "" || mkt == "" || r.Err() != nil {
		return identity.Ref{}, "", false
	}
	return identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: asin}, sku, true
}

// versionFloor is the version floor of a (re)started instance: the start
// time in microseconds, above any version an earlier run emitted unless it
// changed one row more than a million times a second.
func versionFloor(now time.Time) int64 { return now.UnixMicro() }

func prefixed(prefix string, topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = prefix + t
	}
	return out
}
