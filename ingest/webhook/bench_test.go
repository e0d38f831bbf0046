package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// BenchmarkWebhookToKafka posts signed order events to the handler over HTTP
// from parallel senders and reports accepted events per second and the p99
// latency from request to answer, which includes the Kafka acknowledgement.
func BenchmarkWebhookToKafka(b *testing.B) {
	brokers := testenv.KafkaBrokers(b)
	ctx := context.Background()
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	prefix := "b" + hex.EncodeToString(rb[:]) + "."
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, prefix+schemas.TopicTikTokWebhookEvents); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = adm.DeleteTopics(context.Background(), prefix+schemas.TopicTikTokWebhookEvents) }()
	codec, err := schemas.NewCodec(schemas.TopicTikTokWebhookEvents)
	if err != nil {
		b.Fatal(err)
	}
	kw := &kafkaWriter{cl: cl, codec: codec, prefix: prefix, failFor: map[string]int{}, written: map[string]bool{}}
	h, err := NewHandler(Config{AppKey: testKey, AppSecret: secret.Secret(testSecret), Writer: kw})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := n.Add(1)
			body := []byte(fmt.Sprintf(`{"type":1,"tts_notification_id":"73%017d","shop_id":"7494049642642441621","timestamp":%d,`+
				`"data":{"order_id":"576%015d","order_status":"AWAITING_SHIPMENT","is_on_hold_order":false,"update_time":%d}}`,
				i, 1767225600+i, i, 1767225600+i))
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set("Authorization", Signature(testKey, []byte(testSecret), body))
			t0 := time.Now()
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("HTTP %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
