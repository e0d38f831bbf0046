package stage_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// TestRecentNotificationIDs: a restarted receiver learns the notification
// ids of the last n events of every partition of tiktok.webhook_events (the
// events it stored before it crashed), and nothing of a topic without
// events.
func TestRecentNotificationIDs(t *testing.T) {
	e := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	k := kafkaOf(e)
	e.CreateTopic(t, schemas.TopicTikTokWebhookEvents, 3, nil)
	ids, err := stage.RecentNotificationIDs(ctx, k, 5)
	if err != nil || len(ids) != 0 {
		t.Fatalf("empty topic: %v %v", ids, err)
	}
	w, err := stage.NewKafkaWriter(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var sent []string
	for i := range 30 {
		id := fmt.Sprintf("73271123930573%05d", i)
		ev := webhook.Event{Type: 1, NotificationID: id, Timestamp: time.Now().Unix(), Data: []byte(`{}`)}
		if err := w.WriteRecord(ctx, schemas.TopicTikTokWebhookEvents, id, webhook.Record(ev, time.Now())); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, id)
	}
	all, err := stage.RecentNotificationIDs(ctx, k, 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	if !slices.Equal(all, sent) {
		t.Fatalf("all ids: got %v, want %v", all, sent)
	}
	// The last 2 of each of the 3 partitions.
	last, err := stage.RecentNotificationIDs(ctx, k, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 6 {
		t.Fatalf("last 2 per partition: %v", last)
	}
	for _, id := range last {
		if !slices.Contains(sent, id) {
			t.Fatalf("unknown id %s", id)
		}
	}
}
