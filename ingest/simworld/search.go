package simworld

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Brand Analytics periods.
const (
	PeriodDay     = "DAY"
	PeriodWeek    = "WEEK"
	PeriodMonth   = "MONTH"
	PeriodQuarter = "QUARTER"
)

// BrandAnalyticsLatency is how long after a period closes its Brand Analytics
// data becomes available (the ~72 h SLA the reference cites).
const BrandAnalyticsLatency = 72 * time.Hour

// Period is a Brand Analytics reporting period; Start and End are inclusive
// days. Weeks run Sunday to Saturday.
type Period struct {
	Kind  string `json:"kind"`
	Start Date   `json:"start"`
	End   Date   `json:"end"`
}

// PeriodOf returns the period of the given kind that contains d.
func PeriodOf(kind string, d Date) (Period, error) {
	switch kind {
	case PeriodDay:
		return Period{kind, d, d}, nil
	case PeriodWeek:
		s := d.AddDays(-int(d.Weekday()))
		return Period{kind, s, s.AddDays(6)}, nil
	case PeriodMonth:
		s := Date{Year: d.Year, Month: d.Month, Day: 1}
		e := Date{Year: d.Year, Month: d.Month + 1, Day: 1}
		if d.Month == time.December {
			e = Date{Year: d.Year + 1, Month: time.January, Day: 1}
		}
		return Period{kind, s, e.AddDays(-1)}, nil
	case PeriodQuarter:
		qm := time.Month((int(d.Month)-1)/3*3 + 1)
		s := Date{Year: d.Year, Month: qm, Day: 1}
		e := Date{Year: d.Year, Month: qm + 3, Day: 1}
		if qm == time.October {
			e = Date{Year: d.Year + 1, Month: time.January, Day: 1}
		}
		return Period{kind, s, e.AddDays(-1)}, nil
	}
	return Period{}, fmt.Errorf("unknown report period %q", kind)
}

// ExactPeriod returns the period of kind spanning exactly [start, end], or an
// error if start and end are not that period's boundaries.
func ExactPeriod(kind string, start, end Date) (Period, error) {
	p, err := PeriodOf(kind, start)
	if err != nil {
		return p, err
	}
	if p.Start != start || p.End != end {
		return p, fmt.Errorf("dates %s..%s are not a %s period (expected %s..%s)", start, end, kind, p.Start, p.End)
	}
	return p, nil
}

// AvailableAt returns when the period's Brand Analytics data is published, in
// the marketplace zone loc.
func (p Period) AvailableAt(loc *time.Location) time.Time {
	return p.End.End(loc).Add(BrandAnalyticsLatency)
}

func (p Period) key() int64 {
	return hashString(p.Kind + p.Start.String())
}

// SearchTerm is a customer search term the seller's products compete on.
type SearchTerm struct {
	Term        string   `json:"term"`
	Department  string   `json:"department"`
	ProductKeys []string `json:"product_keys"`
	baseRank    float64
}

// SearchTermRow is one row of the Search Terms report: one of the top three
// clicked ASINs for a search term.
type SearchTermRow struct {
	DepartmentName      string  `json:"departmentName"`
	SearchTerm          string  `json:"searchTerm"`
	SearchFrequencyRank int     `json:"searchFrequencyRank"`
	ClickedASIN         string  `json:"clickedAsin"`
	ClickShareRank      int     `json:"clickShareRank"`
	ClickShare          float64 `json:"clickShare"`
	ConversionShare     float64 `json:"conversionShare"`
}

// SQPRow is one row of the Search Query Performance report: one ASIN's funnel
// for one search query in one period.
type SQPRow struct {
	StartDate         Date   `json:"startDate"`
	EndDate           Date   `json:"endDate"`
	ASIN              string `json:"asin"`
	SearchQuery       string `json:"searchQuery"`
	SearchQueryScore  int    `json:"searchQueryScore"`
	SearchQueryVolume int    `json:"searchQueryVolume"`

	TotalQueryImpressionCount int `json:"totalQueryImpressionCount"`
	ASINImpressionCount       int `json:"asinImpressionCount"`

	TotalClickCount                int   `json:"totalClickCount"`
	ASINClickCount                 int   `json:"asinClickCount"`
	TotalMedianClickPrice          Money `json:"totalMedianClickPrice"`
	ASINMedianClickPrice           Money `json:"asinMedianClickPrice"`
	TotalSameDayShippingClickCount int   `json:"totalSameDayShippingClickCount"`
	TotalOneDayShippingClickCount  int   `json:"totalOneDayShippingClickCount"`
	TotalTwoDayShippingClickCount  int   `json:"totalTwoDayShippingClickCount"`

	TotalCartAddCount                int   `json:"totalCartAddCount"`
	ASINCartAddCount                 int   `json:"asinCartAddCount"`
	TotalMedianCartAddPrice          Money `json:"totalMedianCartAddPrice"`
	ASINMedianCartAddPrice           Money `json:"asinMedianCartAddPrice"`
	TotalSameDayShippingCartAddCount int   `json:"totalSameDayShippingCartAddCount"`
	TotalOneDayShippingCartAddCount  int   `json:"totalOneDayShippingCartAddCount"`
	TotalTwoDayShippingCartAddCount  int   `json:"totalTwoDayShippingCartAddCount"`

	TotalPurchaseCount                int   `json:"totalPurchaseCount"`
	ASINPurchaseCount                 int   `json:"asinPurchaseCount"`
	TotalMedianPurchasePrice          Money `json:"totalMedianPurchasePrice"`
	ASINMedianPurchasePrice           Money `json:"asinMedianPurchasePrice"`
	TotalSameDayShippingPurchaseCount int   `json:"totalSameDayShippingPurchaseCount"`
	TotalOneDayShippingPurchaseCount  int   `json:"totalOneDayShippingPurchaseCount"`
	TotalTwoDayShippingPurchaseCount  int   `json:"totalTwoDayShippingPurchaseCount"`
}

// Share returns part/total rounded to four decimals (0 when total is 0).
func Share(part, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(part)/float64(total)*10000) / 10000
}

func buildSearchTerms(seed uint64, products []*Product) []SearchTerm {
	idx := map[string]int{}
	var terms []SearchTerm
	r := rngFor(seed, "search-terms")
	for _, p := range products {
		if !p.OnAmazon() {
			continue
		}
		for _, k := range p.Keywords {
			i, ok := idx[k]
			if !ok {
				i = len(terms)
				idx[k] = i
				terms = append(terms, SearchTerm{Term: k, Department: "Amazon.com",
					baseRank: math.Exp(6 + 4*r.Float64())})
			}
			terms[i].ProductKeys = append(terms[i].ProductKeys, p.Key)
		}
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].Term < terms[j].Term })
	return terms
}

// SearchTerms returns the search terms the world's products compete on.
func (w *World) SearchTerms() []SearchTerm { return w.searchTerms }

// competitorASIN returns a stable ASIN of someone else's product.
func competitorASIN(seed uint64, term string, n int) string {
	r := rngFor(seed, "competitor", hashString(term), int64(n))
	return "B0" + alnum(r, 8)
}

// SearchTermsReport returns the Search Terms report rows for a period: the top
// three clicked ASINs per search term, ordered by search frequency rank.
//
// searchFrequencyRank is a ranking of the terms within a department ("the
// relative ranking of the searchTerm within a departmentName based on
// frequency of searches"): the world's terms are a few among millions, so
// ranks keep their magnitude, yet no two terms of a department share one.
// clickShare and conversionShare are fractions of the term's clicks and
// conversions (top three and everyone else), so each term's shares sum to at
// most one. A halo makes a product's terms searched more often.
func (w *World) SearchTermsReport(p Period) []SearchTermRow {
	type termPeriod struct {
		st    *SearchTerm
		r     *rand.Rand
		score float64 // lower: searched more often
		rank  int
	}
	zone := w.cfg.AmazonZone
	from, to := p.Start.Start(zone), p.End.End(zone)
	terms := make([]*termPeriod, 0, len(w.searchTerms))
	for i := range w.searchTerms {
		st := &w.searchTerms[i]
		r := rngFor(w.seed, "search-term-period", hashString(st.Term), p.key())
		interest := 0.0
		for _, pk := range st.ProductKeys {
			interest += w.meanDemandLift(pk, from, to)
		}
		// Half of a product's extra demand reaches it through searches for
		// each of its terms.
		interest *= 0.5 / float64(max(1, len(st.ProductKeys)))
		terms = append(terms, &termPeriod{st: st, r: r, score: st.baseRank * math.Exp(0.3*r.NormFloat64()) / (1 + interest)})
	}
	byDept := map[string][]*termPeriod{}
	for _, t := range terms {
		byDept[t.st.Department] = append(byDept[t.st.Department], t)
	}
	for _, ts := range byDept {
		sort.SliceStable(ts, func(i, j int) bool {
			if ts[i].score != ts[j].score {
				return ts[i].score < ts[j].score
			}
			return ts[i].st.Term < ts[j].st.Term
		})
		last := 0
		for _, t := range ts {
			t.rank = max(last+1, int(t.score))
			last = t.rank
		}
	}
	var rows []SearchTermRow
	for _, t := range terms {
		st, r := t.st, t.r
		// Candidates: the seller's ASINs for the term plus two competitors.
		var cands []string
		for _, pk := range st.ProductKeys {
			for _, v := range w.byKey[pk].Variants {
				if v.Amazon != nil {
					cands = append(cands, v.Amazon.ASIN)
				}
			}
		}
		cands = append(cands, competitorASIN(w.seed, st.Term, 1), competitorASIN(w.seed, st.Term, 2))
		r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		n := min(3, len(cands))
		clicks, rates := make([]float64, n), make([]float64, n)
		share := between(r, 0.15, 0.35)
		for i := 0; i < n; i++ {
			clicks[i] = math.Round(share*10000) / 10000
			rates[i] = between(r, 0.6, 1.4) // conversions per click, against the term's average
			share *= between(r, 0.4, 0.9)
		}
		// Conversions of the top three and of every other ASIN, whose clicks
		// convert at the term's average: conversion shares are their parts.
		top, rest := 0.0, 1.0
		for i := range clicks {
			top += clicks[i] * rates[i]
			rest -= clicks[i]
		}
		for i := 0; i < n; i++ {
			rows = append(rows, SearchTermRow{
				DepartmentName:      st.Department,
				SearchTerm:          st.Term,
				SearchFrequencyRank: t.rank,
				ClickedASIN:         cands[i],
				ClickShareRank:      i + 1,
				ClickShare:          clicks[i],
				ConversionShare:     math.Floor(clicks[i]*rates[i]/(top+rest)*10000) / 10000,
			})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].SearchFrequencyRank != rows[j].SearchFrequencyRank {
			return rows[i].SearchFrequencyRank < rows[j].SearchFrequencyRank
		}
		if rows[i].DepartmentName != rows[j].DepartmentName {
			return rows[i].DepartmentName < rows[j].DepartmentName
		}
		if rows[i].SearchTerm != rows[j].SearchTerm {
			return rows[i].SearchTerm < rows[j].SearchTerm
		}
		return rows[i].ClickShareRank < rows[j].ClickShareRank
	})
	return rows
}

// SearchQueryPerformance returns an ASIN's Search Query Performance rows for a
// period, one per search query, ordered by query volume.
func (w *World) SearchQueryPerformance(asin string, p Period) []SQPRow {
	v, ok := w.byASIN[asin]
	if !ok {
		return nil
	}
	days := p.Start.DaysUntil(p.End) + 1
	zone := w.cfg.AmazonZone
	lift := w.meanDemandLift(v.ProductKey, p.Start.Start(zone), p.End.End(zone))
	var rows []SQPRow
	for _, st := range w.searchTerms {
		if !slices.Contains(st.ProductKeys, v.ProductKey) {
			continue
		}
		r := rngFor(w.seed, "sqp", hashString(st.Term), hashString(asin), p.key())
		volume := max(10, int(2_000_000/st.baseRank*float64(days)*math.Exp(0.2*r.NormFloat64())))
		totImp := volume * (8 + r.IntN(8))
		asinImp := int(float64(totImp) * between(r, 0.005, 0.08))
		totClick := int(float64(volume) * between(r, 0.5, 1.2))
		asinClick := min(asinImp, int(float64(totClick)*between(r, 0.01, 0.1)))
		totCart := int(float64(totClick) * between(r, 0.05, 0.2))
		asinCart := min(asinClick, int(float64(totCart)*between(r, 0.01, 0.12)))
		totBuy := int(float64(totCart) * between(r, 0.3, 0.7))
		asinBuy := min(asinCart, int(float64(totBuy)*between(r, 0.01, 0.12)))
		if lift > 0 {
			// A halo brings extra shoppers who search the product's terms
			// and find this ASIN: its funnel grows by the lift, and so do
			// the totals it is part of (one extra search per extra click).
			grow := func(asin, total *int) {
				add := int(float64(*asin) * lift)
				*asin += add
				*total += add
			}
			volume += int(float64(asinClick) * lift)
			grow(&asinImp, &totImp)
			grow(&asinClick, &totClick)
			grow(&asinCart, &totCart)
			grow(&asinBuy, &totBuy)
		}
		price := v.Amazon.Price
		median := price + Money(r.IntN(800)) - 400
		rows = append(rows, SQPRow{
			StartDate: p.Start, EndDate: p.End, ASIN: asin,
			SearchQuery: st.Term, SearchQueryVolume: volume,
			TotalQueryImpressionCount: totImp, ASINImpressionCount: asinImp,
			TotalClickCount: totClick, ASINClickCount: asinClick,
			TotalMedianClickPrice: median, ASINMedianClickPrice: price,
			TotalSameDayShippingClickCount: totClick / 10, TotalOneDayShippingClickCount: totClick / 4, TotalTwoDayShippingClickCount: totClick / 2,
			TotalCartAddCount: totCart, ASINCartAddCount: asinCart,
			TotalMedianCartAddPrice: median, ASINMedianCartAddPrice: price,
			TotalSameDayShippingCartAddCount: totCart / 10, TotalOneDayShippingCartAddCount: totCart / 4, TotalTwoDayShippingCartAddCount: totCart / 2,
			TotalPurchaseCount: totBuy, ASINPurchaseCount: asinBuy,
			TotalMedianPurchasePrice: median, ASINMedianPurchasePrice: price,
			TotalSameDayShippingPurchaseCount: totBuy / 10, TotalOneDayShippingPurchaseCount: totBuy / 4, TotalTwoDayShippingPurchaseCount: totBuy / 2,
		})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].SearchQueryVolume > rows[j].SearchQueryVolume })
	for i := range rows {
		rows[i].SearchQueryScore = i + 1
	}
	return rows
}
