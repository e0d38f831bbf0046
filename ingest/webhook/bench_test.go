package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/secret"
)

// BenchmarkWebhookToKafka posts signed order events to the handler over HTTP
// from parallel senders and reports accepted events per second and the p99
// latency from request to answer, which includes the Kafka acknowledgement.
func BenchmarkWebhookToKafka(b *testing.B) {
	_, kw := newKafkaRig(b, 3)
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
