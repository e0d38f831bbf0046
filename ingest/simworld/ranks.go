package simworld

import (
	"math"
	"time"
)

// SalesRank is an item's Best Sellers Rank at one instant: its rank in its
// browse classification and in its website display group.
type SalesRank struct {
	ClassificationID    string `json:"classification_id"`
	ClassificationTitle string `json:"classification_title"`
	ClassificationRank  int    `json:"classification_rank"`
	DisplayGroup        string `json:"display_group"`
	DisplayGroupTitle   string `json:"display_group_title"`
	DisplayGroupRank    int    `json:"display_group_rank"`
}

// SalesRankAt returns the sales rank of an ASIN (child or parent) at t. Ranks
// move hourly, as Amazon refreshes Best Sellers Rank about that often, and
// follow demand: a product selling twice its usual ranks about twice as
// high (half the rank number).
func (w *World) SalesRankAt(asin string, t time.Time) (SalesRank, bool) {
	var p *Product
	pop := 0.0
	if v, ok := w.byASIN[asin]; ok {
		p, pop = v.product, v.Popularity
	} else if pp, ok := w.byParentASIN[asin]; ok {
		p = pp
		for _, v := range pp.Variants {
			pop += v.Popularity
		}
	} else {
		return SalesRank{}, false
	}
	hour := t.Unix() / 3600
	noise := unitFor(w.seed, "rank", hashString(asin), hour)
	base := 2000 / math.Max(pop, 0.05) / (1 + w.demandLift(p.Key, time.Unix(hour*3600, 0)))
	cls := max(1, int(base*math.Exp(0.6*(noise-0.5))))
	return SalesRank{
		ClassificationID:    p.Category.ClassificationID,
		ClassificationTitle: p.Category.Name,
		ClassificationRank:  cls,
		DisplayGroup:        p.Category.DisplayGroup,
		DisplayGroupTitle:   p.Category.DisplayGroupTitle,
		DisplayGroupRank:    cls*37 + int(noise*500),
	}, true
}
