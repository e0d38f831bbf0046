package config

import (
	"fmt"
	"net"
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

func (u UI) validate() []error {
	var problems []error
	if u.Listen != "" {
		if _, port, err := net.SplitHostPort(u.Listen); err != nil || port == "" {
			problems = append(problems, fmt.Errorf("ui.listen: %q is not host:port", u.Listen))
		}
	}
	if u.QueryTimeout <= 0 {
		problems = append(problems, fmt.Errorf("ui.query_timeout: must be a positive duration such as 30s"))
	}
	if u.StatusTimeout <= 0 {
		problems = append(problems, fmt.Errorf("ui.status_timeout: must be a positive duration such as 10s"))
	}
	if u.MaxRows <= 0 {
		problems = append(problems, fmt.Errorf("ui.max_rows: must be positive"))
	}
	return problems
}
