package identity

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Mapping is the explicit product mapping file: rows that put channel
// products under a product key chosen by a person. It wins over every
// automatic rule. The zero value (and nil) is an empty mapping.
//
// # File format
//
// CSV (RFC 4180) with a header row naming at least the columns product_key,
// channel and channel_id, in any order; further columns (a note, an owner)
// are allowed and ignored. Blank lines and lines starting with # are skipped.
//
//	# product_key,channel,channel_id
//	product_key,channel,channel_id,note
//	vitc-serum-1oz,amazon,B07N4M94X4,all marketplaces
//	vitc-serum-1oz,amazon,A2EUQ1WTGCTBG2:B07N4M94X5,Canada only
//	vitc-serum-1oz,tiktok,1729384756102938475,a TikTok SKU id
//	vitc-serum-1oz,tiktok,7495001122:1729384756102938476,SKU of one shop
//	yoga-mat,tiktok,product:1731122334455667788,every SKU of the product
//
// channel is amazon or tiktok. channel_id is, for amazon, an ASIN, optionally
// scoped to one marketplace as MARKETPLACE_ID:ASIN; for tiktok, a SKU id,
// optionally scoped to one shop as SHOP_ID:SKU_ID, or product:PRODUCT_ID for
// every SKU of a product. The most specific row wins: scoped id, then
// unscoped id, then product. product_key is free text but must not start
// with a prefix the automatic rules use (gtin:, sku:, amazon:, tiktok:), so a
// mapped key never collides with a generated one. Mapping one channel id to
// two different keys is an error; repeating a row is not.
type Mapping struct {
	rows map[mapKey]mapRow
}

type mapKey struct {
	channel Channel
	account string // marketplace or shop; "" for any
	id      string // ASIN or SKU id; product id when product is set
	product bool
}

type mapRow struct {
	key  string
	line int
}

// reservedPrefixes are the key prefixes of generated product keys.
var reservedPrefixes = []string{"gtin:", "sku:", string(ChannelAmazon) + ":", string(ChannelTikTok) + ":"}

// LoadMapping reads the mapping file at path. An empty path returns an empty
// mapping, because the file is optional.
func LoadMapping(path string) (*Mapping, error) {
	if path == "" {
		return &Mapping{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: open mapping file: %w", err)
	}
	defer f.Close()
	m, err := ParseMapping(f)
	if err != nil {
		return nil, fmt.Errorf("identity: mapping file %s: %w", path, err)
	}
	return m, nil
}

// ParseMapping parses a mapping file (see Mapping). It reports every bad row
// at once, each with its line number, so one run of `config validate` shows
// all problems.
func ParseMapping(r io.Reader) (*Mapping, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked per row below, with a better message
	cr.TrimLeadingSpace = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty mapping file: want a header row product_key,channel,channel_id")
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, want := range []string{"product_key", "channel", "channel_id"} {
		if _, ok := col[want]; !ok {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("line %d: header has no %s column (want product_key,channel,channel_id)", line, want)
		}
	}

	m := &Mapping{rows: map[mapKey]mapRow{}}
	var errs []error
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// csv.ParseError carries the line; the reader cannot go on after it.
			errs = append(errs, err)
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < len(header) {
			errs = append(errs, fmt.Errorf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			continue
		}
		key := strings.TrimSpace(rec[col["product_key"]])
		ch := Channel(strings.ToLower(strings.TrimSpace(rec[col["channel"]])))
		id := strings.TrimSpace(rec[col["channel_id"]])
		mk, err := parseChannelID(ch, id)
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("line %d: empty product_key", line))
			continue
		case hasReservedPrefix(key):
			errs = append(errs, fmt.Errorf("line %d: product_key %q starts with a prefix reserved for generated keys (%s)", line, key, strings.Join(reservedPrefixes, ", ")))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if prev, ok := m.rows[mk]; ok && prev.key != key {
			errs = append(errs, fmt.Errorf("line %d: %s %s is mapped to %q here and to %q on line %d", line, ch, id, key, prev.key, prev.line))
			continue
		} else if ok {
			continue
		}
		m.rows[mk] = mapRow{key: key, line: line}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func hasReservedPrefix(key string) bool {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(strings.ToLower(key), p) {
			return true
		}
	}
	return false
}

func parseChannelID(ch Channel, id string) (mapKey, error) {
	if id == "" {
		return mapKey{}, errors.New("empty channel_id")
	}
	switch ch {
	case ChannelAmazon:
		if strings.HasPrefix(id, "product:") {
			return mapKey{}, fmt.Errorf("channel_id %q: product: applies to tiktok only", id)
		}
	case ChannelTikTok:
		if pid, ok := strings.CutPrefix(id, "product:"); ok {
			if pid == "" || strings.Contains(pid, ":") {
				return mapKey{}, fmt.Errorf("channel_id %q: want product:PRODUCT_ID", id)
			}
			return mapKey{channel: ch, id: pid, product: true}, nil
		}
	default:
		return mapKey{}, fmt.Errorf("channel %q: want amazon or tiktok", ch)
	}
	parts := strings.Split(id, ":")
	switch {
	case len(parts) == 1:
		return mapKey{channel: ch, id: id}, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return mapKey{channel: ch, account: parts[0], id: parts[1]}, nil
	}
	return mapKey{}, fmt.Errorf("channel_id %q: want ID or ACCOUNT:ID", id)
}

// Len returns the number of mapping rows.
func (m *Mapping) Len() int {
	if m == nil {
		return 0
	}
	return len(m.rows)
}

// lookup returns the mapped key of a channel product, most specific row first.
func (m *Mapping) lookup(ref Ref, productID string) (string, bool) {
	if m == nil || len(m.rows) == 0 {
		return "", false
	}
	for _, k := range []mapKey{
		{channel: ref.Channel, account: ref.Account, id: ref.ID},
		{channel: ref.Channel, id: ref.ID},
	} {
		if r, ok := m.rows[k]; ok {
			return r.key, true
		}
	}
	if ref.Channel == ChannelTikTok && productID != "" {
		if r, ok := m.rows[mapKey{channel: ChannelTikTok, id: productID, product: true}]; ok {
			return r.key, true
		}
	}
	return "", false
}
