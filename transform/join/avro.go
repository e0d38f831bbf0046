package join

import (
	"encoding/binary"
	"math"
	"math/big"

	"github.com/shopstream/shopstream/transform/internal/native"
)

// AppendAvro appends the row's xchannel.product_daily record in Avro
// binary (no wire-format header) to b: the bytes goavro writes for
// Record() with the embedded schema, written field by field without the
// map. The rows step writes every output row, so this is its hot path;
// TestAppendAvro holds it to Record().
func (r *Row) AppendAvro(b []byte) []byte {
	b = avroString(b, r.eventID())
	b = avroString(b, "transform")
	b = avroString(b, "product_daily")
	b = avroString(b, r.op())
	b = binary.AppendVarint(b, r.Trigger.SourceTS.UnixMilli())
	b = binary.AppendVarint(b, r.Trigger.IngestTS.UnixMilli())
	b = binary.AppendVarint(b, r.Version)
	b = avroString(b, r.ProductKey)
	b = binary.AppendVarint(b, int64(r.Day))
	b = avroString(b, r.Zone)
	b = avroOptLong(b, r.TikTokViews)
	b = avroOptDouble(b, r.TikTokWatchTimeSeconds)
	b = avroOptLong(b, r.TikTokSaves)
	b = avroOptLong(b, r.TikTokShares)
	b = avroOptLong(b, r.TikTokLikes)
	b = avroOptLong(b, r.TikTokComments)
	b = avroOptLong(b, r.TikTokProductImpressions)
	b = avroOptLong(b, r.TikTokProductClicks)
	b = avroOptString(b, r.TikTokAttentionProvenance)
	b = avroOptString(b, r.TikTokCurrency)
	b = avroOptDecimal(b, r.TikTokVideoGMV)
	b = avroOptLong(b, r.TikTokOrders)
	b = avroOptLong(b, r.TikTokUnits)
	b = avroOptDecimal(b, r.TikTokGMV)
	if p := r.SearchPeriod; p != nil {
		b = binary.AppendVarint(binary.AppendVarint(b, 1), int64(p.Start))
		b = binary.AppendVarint(binary.AppendVarint(b, 1), int64(p.End))
	} else {
		b = binary.AppendVarint(binary.AppendVarint(b, 0), 0)
	}
	b = avroOptLong(b, r.SearchImpressions)
	b = avroOptLong(b, r.SearchClicks)
	b = avroOptLong(b, r.SearchPurchases)
	if n := len(r.SearchTermRanks); n > 0 {
		b = binary.AppendVarint(b, int64(n))
		for _, t := range r.SearchTermRanks {
			b = avroString(b, t.Term)
			b = avroOptString(b, t.Department)
			b = binary.AppendVarint(b, t.FrequencyRank)
			b = binary.AppendVarint(b, t.ClickShareRank)
			b = avroOptDouble(b, &t.ClickShare)
			b = avroOptDouble(b, &t.ConversionShare)
		}
	}
	b = binary.AppendVarint(b, 0) // end of the array
	b = avroOptLong(b, r.BestSellersRankBest)
	b = avroOptDouble(b, r.BestSellersRankAvg)
	b = avroOptLong(b, r.AmazonSessions)
	b = avroOptLong(b, r.AmazonPageViews)
	b = avroOptLong(b, r.AmazonUnits)
	b = avroOptString(b, r.AmazonCurrency)
	b = avroOptDecimal(b, r.AmazonSales)
	b = avroOptLong(b, r.AmazonOrders)
	return b
}

// The encodings of the Avro specification: longs and ints zig-zag
// varints, strings and bytes length-prefixed, unions the branch index
// before the value.

var (
	avroString    = native.AppendString
	avroOptString = native.AppendOptString
)

func avroOptLong(b []byte, p *int64) []byte {
	if p == nil {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(binary.AppendVarint(b, 1), *p)
}

func avroOptDouble(b []byte, p *float64) []byte {
	if p == nil {
		return binary.AppendVarint(b, 0)
	}
	return binary.LittleEndian.AppendUint64(binary.AppendVarint(b, 1), math.Float64bits(*p))
}

var scale4 = big.NewInt(10000)

// avroOptDecimal writes a decimal(18,4) as goavro does: the unscaled value
// (x * 10^4, rounded as big.Int.Div rounds) in big-endian two's
// complement, shortest form.
func avroOptDecimal(b []byte, x *big.Rat) []byte {
	if x == nil {
		return binary.AppendVarint(b, 0)
	}
	b = binary.AppendVarint(b, 1)
	var u int64
	if x.IsInt() && x.Num().IsInt64() && x.Num().Int64() < math.MaxInt64/10000 && x.Num().Int64() > math.MinInt64/10000 {
		u = x.Num().Int64() * 10000
	} else if d := x.Denom(); d.IsInt64() && 10000%d.Int64() == 0 && x.Num().IsInt64() {
		u = x.Num().Int64() * (10000 / d.Int64())
	} else {
		n := new(big.Int).Mul(x.Num(), scale4)
		n.Div(n, x.Denom())
		bs := bigSignedBytes(n)
		return append(binary.AppendVarint(b, int64(len(bs))), bs...)
	}
	var buf [9]byte
	binary.BigEndian.PutUint64(buf[1:], uint64(u))
	if u < 0 {
		buf[0] = 0xff
	}
	// Shortest two's complement: drop leading bytes that only repeat the
	// sign of the next.
	i := 0
	for i < 8 && (buf[i] == 0 && buf[i+1]&0x80 == 0 || buf[i] == 0xff && buf[i+1]&0x80 != 0) {
		i++
	}
	return append(binary.AppendVarint(b, int64(9-i)), buf[i:]...)
}

func bigSignedBytes(n *big.Int) []byte {
	switch n.Sign() {
	case 0:
		return []byte{0}
	case 1:
		bs := n.Bytes()
		if bs[0]&0x80 != 0 {
			bs = append([]byte{0}, bs...)
		}
		return bs
	}
	length := uint(n.BitLen()/8+1) * 8
	bs := new(big.Int).Add(n, new(big.Int).Lsh(big.NewInt(1), length)).Bytes()
	if len(bs) >= 2 && bs[0] == 0xff && bs[1]&0x80 != 0 {
		bs = bs[1:]
	}
	return bs
}
