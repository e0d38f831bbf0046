package amazon_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/secret"
)

// A stage's order step: read the next window of changed orders with their
// lines, and map both to records.
func Example() {
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(2 * time.Hour))
	world := simworld.MustNew(simworld.Config{Seed: 1, Clock: clock})
	srv := amazontest.NewServer(world, amazontest.Options{})
	defer srv.Close()
	creds := srv.Sim.Credentials()

	c, err := amazon.NewClient(amazon.Config{
		Endpoint: srv.Endpoint(), TokenURL: srv.TokenURL(), MarketplaceID: creds.MarketplaceID,
		Credentials: amazon.Credentials{ClientID: creds.ClientID,
			ClientSecret: secret.Secret(creds.ClientSecret), RefreshToken: secret.Secret(creds.RefreshToken)},
		Clock: clock, // waits move the simulator's clock
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	poller := c.NewOrderPoller(world.Start(), amazon.OrderPollerOptions{})
	w, err := poller.PollWithLines(ctx)
	if err != nil {
		panic(err)
	}
	m := c.Mapper()
	var orders, items int
	for _, o := range w.Orders {
		if _, err := m.Order(o); err != nil {
			panic(err)
		}
		orders++
		for _, l := range w.Lines[o.AmazonOrderID] {
			if _, err := m.OrderItem(o, l); err != nil {
				panic(err)
			}
			items++
		}
	}
	fmt.Println(orders > 0, items >= orders, w.ReportErr == nil, poller.Cursor().Equal(w.Before))
	// Output: true true true true
}
