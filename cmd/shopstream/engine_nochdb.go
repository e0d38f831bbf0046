//go:build !chdb

package main

import (
	"errors"

	"github.com/shopstream/shopstream/internal/warehouse"
)

const embeddedWarehouse = "not built in"

func openEngine(string) (warehouse.Engine, error) {
	return nil, errors.New("this binary was built without the embedded warehouse: build with `make build` (go build -tags chdb) or set warehouse.addr to a ClickHouse server")
}
