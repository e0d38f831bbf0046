// Package amazontest is a faithful simulator of the Amazon Selling Partner API
// for tests, benchmarks and `shopstream sim`, in the style of net/http/httptest:
// New returns an http.Handler, NewServer starts it on a loopback listener.
//
// It serves, at their real paths:
//
//   - Login with Amazon: POST /auth/o2/token (refresh_token grant, one-hour
//     access tokens, invalid_grant on a bad refresh token). Every API call is
//     checked for a live x-amz-access-token; an expired one gets 403.
//   - Orders API v0: GET /orders/v0/orders (CreatedAfter / LastUpdatedAfter /
//     LastUpdatedBefore, the two-minute rule, NextToken paging,
//     MaxResultsPerPage, the two-minute visibility delay),
//     GET /orders/v0/orders/{orderId} and .../orderItems.
//   - Reports API 2021-06-30: createReport, getReports, getReport,
//     cancelReport and getReportDocument, with the IN_QUEUE → IN_PROGRESS →
//     DONE / CANCELLED / FATAL state machine, reason documents for FATAL, and
//     GZIP documents served by the simulator itself at pre-signed URLs that
//     expire after five minutes. Report types: GET_SALES_AND_TRAFFIC_REPORT,
//     GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT,
//     GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT and
//     GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL.
//   - Catalog Items 2022-04-01: getCatalogItem and searchCatalogItems with
//     identifiers, salesRanks, summaries, classifications, productTypes and
//     relationships.
//
// Every operation has its published token bucket (rate and burst); an empty
// bucket answers 429 QuotaExceeded. x-amzn-RateLimit-Limit is sent only on
// 2xx, 400 and 404, as Amazon documents. Everything runs on the world's clock,
// so tests drive token expiry, report progress, URL expiry and rate limits by
// advancing the clock instead of sleeping.
package amazontest
