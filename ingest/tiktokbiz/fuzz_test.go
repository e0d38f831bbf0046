package tiktokbiz

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// FuzzVideo decodes arbitrary video/list pages: never a panic, and every
// video that decodes maps to a record that encodes. The seeds run as a
// normal test.
func FuzzVideo(f *testing.F) {
	f.Add([]byte(`{"videos":[{"item_id":"7300000000000000001","create_time":1767225600,"video_views":1200,"likes":30,"comments":2,"shares":4,"favorites":9,"reach":900,"total_time_watched":5400.0,"average_time_watched":4.5,"full_video_watched_rate":0.21,"is_ad":false,"caption":"c","video_duration":12.0}],"cursor":1767225600000,"has_more":true}`))
	f.Add([]byte(`{"videos":[{"item_id":"7300000000000000002","video_views":"5"}],"cursor":0,"has_more":false}`))
	f.Add([]byte(`{"videos":[{"item_id":"","likes":1}]}`))
	f.Add([]byte(`{"videos":[{"item_id":"1","create_time":99999999999999999}]}`))
	codec, err := schemas.NewCodec(schemas.TopicTikTokVideoEngagement)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var page struct {
			Videos []Video `json:"videos"`
		}
		if json.Unmarshal(b, &page) != nil {
			return
		}
		for _, v := range page.Videos {
			rec := EngagementRecord("biz", v, time.Unix(0, 0))
			rec["event_id"], rec["version"], rec["ingest_ts"] = "e", int64(1), time.Unix(0, 0)
			if _, err := codec.Encode(rec); err != nil {
				t.Fatalf("decoded video does not encode: %v\n%s", err, b)
			}
		}
	})
}
