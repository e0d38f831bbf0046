package config

import (
	"time"
)

// UI configures the analytics page: `run` serves it, `shopstream ui`
// serves it against any configured warehouse.
type UI struct {
	// Enabled makes run serve the page (default true).
	Enabled bool `koanf:"enabled"`
	// Listen is where the page is served. Empty (the default): run serves
	// it on metrics.listen, and shopstream ui on 127.0.0.1:8480.
	Listen string `koanf:"listen"`
	// QueryTimeout bounds one query of the page (default 30s).
	QueryTimeout time.Duration `koanf:"query_timeout"`
	// StatusTimeout bounds the pipeline view's reads of Kafka and the
	// schema registry (default 10s).
	StatusTimeout time.Duration `koanf:"status_timeout"`
	// MaxRows bounds the rows a table on the page shows (default 500);
	// downloads have every row.
	MaxRows int `koanf:"max_rows"`
}

func uiDefaults() map[string]any {
	return map[string]any{
		"ui.enabled":        true,
		"ui.listen":         "",
		"ui.query_timeout":  "30s",
		"ui.status_timeout": "10s",
		"ui.max_rows":       500,
	}
}

// validate adds the page's problems to p.
func (u UI) validate(p *problems) {
	p.hostPort("ui.listen", u.Listen, true)
	p.positiveDuration("ui.query_timeout", u.QueryTimeout, "30s")
	p.positiveDuration("ui.status_timeout", u.StatusTimeout, "10s")
	p.positive("ui.max_rows", int64(u.MaxRows))
}
