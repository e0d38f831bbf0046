module github.com/shopstream/shopstream

go 1.26
