//go:build chdb

package main

import "github.com/shopstream/shopstream/internal/warehouse"

const embeddedWarehouse = "chDB"

func openEngine(dataDir string) (warehouse.Engine, error) {
	return warehouse.OpenChdb(dataDir)
}
