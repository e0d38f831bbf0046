// Package tiktokshoptest is a faithful simulator of the TikTok Shop Open API
// (202309+ versions) for tests, benchmarks and `shopstream sim`, in the style
// of net/http/httptest: New returns an http.Handler, NewServer starts it on a
// loopback listener.
//
// It serves, at their real paths:
//
//   - the auth host: GET /api/v2/token/get and /api/v2/token/refresh
//     (unsigned);
//   - GET /authorization/202309/shops (the shop_cipher);
//   - POST /order/202309/orders/search (update_time / create_time windows,
//     page_token paging) and GET /order/202309/orders?ids=... (detail);
//   - POST /product/202309/products/search and GET /product/202309/products/{id};
//   - GET /analytics/202509/shop_videos/performance (with each video's
//     products) and GET /analytics/202509/shop_videos/{id}/products/performance
//     (paged: page_size ≤ 100, default 10).
//
// Every API request is checked exactly as the reference describes: app_key,
// the timestamp window, the HMAC-SHA256 sign over path + sorted parameters +
// raw body, x-tts-access-token, and shop_cipher on shop-scoped calls. Errors
// come back in the {code, message, request_id, data} envelope, mostly with
// HTTP 200; 36009002 is the throttle.
//
// WebhookSender delivers signed webhook events (order status changes and
// others) to a URL and retries on the documented schedule, driven by the
// world's clock.
package tiktokshoptest
