// Package amazon is shopstream's client for the Amazon Selling Partner API
// (SP-API) and the mapping of what it reads to the amazon.* Avro records.
//
// The [Client] handles what every SP-API call needs: a Login-with-Amazon
// access token cached and refreshed before it expires (and once more when a
// 403 says it expired), one token bucket per operation with the published rate
// and burst shared by every goroutine using the client, and bounded retries
// with exponential backoff and jitter on 429 QuotaExceeded, 5xx, timeouts and
// bodies that do not parse. Waiting goes through a [clock.Clock], so tests
// drive the simulator's clock instead of sleeping.
//
// On top of it:
//
//   - Orders: [Client.GetOrders] pages getOrders by LastUpdatedAfter/Before
//     windows; [OrderPoller] walks windows with an overlap and the two-minute
//     rule, dropping versions it has already returned. Order lines come from
//     the GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL report, and
//     from getOrderItems only for orders the report cannot serve
//     ([OrderPoller.PollWithLines], [Client.OrderLines]).
//   - Reports: [Client.RunReport] drives createReport → getReport →
//     getReportDocument → download through IN_QUEUE / IN_PROGRESS to DONE,
//     CANCELLED ([ErrReportCancelled]) or FATAL ([*ReportFatalError]).
//     [Client.SalesAndTrafficDay], [Client.SearchTerms] and
//     [Client.SearchQueryPerformance] request and parse the JSON reports;
//     [SalesTrafficDays] and [CompleteWeeks] say which days and weeks to ask.
//   - Catalog: [Client.GetCatalogItem] reads identifiers and sales ranks.
//   - Parsers ([ParseSalesAndTraffic], [ParseSearchTerms],
//     [ParseSearchQueryPerformance], [ParseAllOrdersFlatFile]) never panic on
//     bad input; each has a fuzz target.
//   - Mapping ([Mapper]) turns API objects into goavro native records of the
//     amazon.* schemas with their Kafka key; the caller (change capture)
//     fills event_id, version and ingest_ts.
//
// Secrets (client secret, refresh token, access tokens, pre-signed document
// URLs) never appear in errors or logs.
package amazon
