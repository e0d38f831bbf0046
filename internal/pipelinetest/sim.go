package pipelinetest

import "github.com/shopstream/shopstream/ingest/sim"

// SimSourcesEnv is the environment that points the three sources at the
// simulators d describes, with the credentials they accept. Where history
// starts (SINCE) and the poll intervals are the caller's.
func SimSourcesEnv(d sim.Description) []string {
	return Env(
		"SHOPSTREAM_SOURCES_AMAZON_ENDPOINT", d.Amazon.Endpoint, "SHOPSTREAM_SOURCES_AMAZON_TOKEN_URL", d.Amazon.TokenURL,
		"SHOPSTREAM_SOURCES_AMAZON_CLIENT_ID", d.Amazon.Credentials.ClientID,
		"SHOPSTREAM_SOURCES_AMAZON_CLIENT_SECRET", d.Amazon.Credentials.ClientSecret,
		"SHOPSTREAM_SOURCES_AMAZON_REFRESH_TOKEN", d.Amazon.Credentials.RefreshToken,
		"SHOPSTREAM_SOURCES_AMAZON_MARKETPLACE_ID", d.MarketplaceID,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_API_BASE_URL", d.TikTokShop.APIBaseURL,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_AUTH_BASE_URL", d.TikTokShop.AuthBaseURL,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_APP_KEY", d.TikTokShop.Credentials.AppKey,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_APP_SECRET", d.TikTokShop.Credentials.AppSecret,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_AUTH_CODE", d.TikTokShop.Credentials.AuthCode,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_BASE_URL", d.TikTokBusiness.BaseURL,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_BUSINESS_ID", d.TikTokBusiness.Credentials.BusinessID,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_ACCESS_TOKEN", d.TikTokBusiness.Credentials.AccessToken,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_REFRESH_TOKEN", d.TikTokBusiness.Credentials.RefreshToken,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_CLIENT_ID", d.TikTokBusiness.Credentials.ClientID,
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_CLIENT_SECRET", d.TikTokBusiness.Credentials.ClientSecret,
	)
}
