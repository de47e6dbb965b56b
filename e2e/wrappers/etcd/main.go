// Command etcd is the etcd server, as go.etcd.io/etcd/server/v3's own main package runs it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
