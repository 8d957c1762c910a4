module github.com/coffer-dev/coffer

go 1.26.8
