package schemas_test

import (
	"testing"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// FuzzCodecDecode feeds arbitrary bytes, as a Kafka consumer may receive, to
// the codec of every topic. Decoding must fail cleanly or yield a record that
// survives another round trip unchanged. The first byte picks the topic.
func FuzzCodecDecode(f *testing.F) {
	topics := schemas.Topics()
	codecs := make([]*schemas.Codec, len(topics))
	for i, topic := range topics {
		c, err := schemas.NewCodec(topic)
		if err != nil {
			f.Fatal(err)
		}
		codecs[i] = c
		b, err := c.Encode(sample(f, topic, i))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, b...))
		f.Add(append([]byte{byte(i)}, b[:len(b)/2]...))
	}
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := codecs[int(data[0])%len(codecs)]
		rec, err := c.Decode(data[1:])
		if err != nil {
			return
		}
		// A decoded record must encode, and the encoding decode again.
		_, again := schematest.RoundTrip(t, c, rec)
		requireSameRecord(t, rec, again)
	})
}
