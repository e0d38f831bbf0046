package schemas

// Topic names, one per embedded schema file (<topic>.avsc). Every stage
// names its topics through these constants; TestTopicConstants fails when a
// schema file and a constant part.
const (
	TopicAmazonOrders                 = "amazon.orders"
	TopicAmazonOrderItems             = "amazon.order_items"
	TopicAmazonSalesTraffic           = "amazon.sales_traffic"
	TopicAmazonSearchQueryPerformance = "amazon.search_query_performance"
	TopicAmazonSearchTerms            = "amazon.search_terms"
	TopicAmazonCatalog                = "amazon.catalog"
	TopicTikTokOrders                 = "tiktok.orders"
	TopicTikTokProducts               = "tiktok.products"
	TopicTikTokVideoPerformance       = "tiktok.video_performance"
	TopicTikTokVideoEngagement        = "tiktok.video_engagement"
	TopicTikTokWebhookEvents          = "tiktok.webhook_events"
	TopicProductLinks                 = "xchannel.product_links"
	TopicProductDaily                 = "xchannel.product_daily"
	// TopicCursors holds the ingest stages' source positions (compacted).
	TopicCursors = "shopstream.cursors"
)

// topicConstants are the constants above, for the test that matches them
// with the schema files.
var topicConstants = []string{
	TopicAmazonOrders, TopicAmazonOrderItems, TopicAmazonSalesTraffic, TopicAmazonSearchQueryPerformance,
	TopicAmazonSearchTerms, TopicAmazonCatalog, TopicTikTokOrders, TopicTikTokProducts, TopicTikTokVideoPerformance,
	TopicTikTokVideoEngagement, TopicTikTokWebhookEvents, TopicProductLinks, TopicProductDaily, TopicCursors,
}
