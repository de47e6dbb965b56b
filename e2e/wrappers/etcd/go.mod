// A project-owned wrapper: go.etcd.io/etcd/server/v3 has replace directives in its go.mod, so
// `go install` refuses it; this module requires it and builds the same main.
module labctl.invalid/e2e/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.8
