package join

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

const (
	mkt  = "ATVPDKIKX0DER"
	shop = "7495001"
	la   = "America/Los_Angeles"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func day(s string) Day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return DayFromDate(t)
}

var evSeq int

// m returns change metadata of version v at instant ts; each call gets a
// fresh event id.
func m(v int64, ts time.Time) Meta {
	evSeq++
	return Meta{EventID: fmt.Sprintf("ev-%d", evSeq), Op: "update", SourceTS: ts, IngestTS: ts, Version: v}
}

func del(v int64, ts time.Time) Meta {
	mt := m(v, ts)
	mt.Op = "delete"
	return mt
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func i64(v int64) *int64 { return &v }

func aref(asin string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: asin}
}
func tref(sku string) identity.Ref {
	return identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: sku}
}

// link applies identity links: ref -> key (TikTok refs with their product).
func link(j *Join, key string, refs ...identity.Ref) []Row {
	var cs []identity.Change
	for _, r := range refs {
		l := identity.Link{Ref: r, ProductKey: key, Rule: identity.RuleGTIN}
		if r.Channel == identity.ChannelTikTok {
			l.ProductID = productOfSKU(r.ID)
		}
		cs = append(cs, identity.Change{Link: l})
	}
	return j.ApplyLinks(cs, m(1, t0))
}

// productOfSKU: test SKU ids are "<product>-<n>".
func productOfSKU(sku string) string {
	for i := len(sku) - 1; i >= 0; i-- {
		if sku[i] == '-' {
			return sku[:i]
		}
	}
	return sku
}

// current returns the current row of key on day, failing if there is none.
func current(t *testing.T, j *Join, key string, d Day) Row {
	t.Helper()
	r, ok := j.last[RowKey{key, d}]
	if !ok || r.Deleted {
		t.Fatalf("no current row %s %s; rows: %v", key, d, keysOf(j.Rows()))
	}
	return r
}

func keysOf(rows []Row) []string {
	var out []string
	for _, r := range rows {
		s := r.Key()
		if r.Deleted {
			s += "(deleted)"
		}
		out = append(out, s)
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func str(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func strR(p *big.Rat) string {
	if p == nil {
		return "nil"
	}
	return p.FloatString(4)
}

func strF(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

type (
	Change = identity.Change
	Link   = identity.Link
)
