//go:build tools

// Package tools pins the flannel commands this wrapper builds.
package tools

import (
	_ "github.com/flannel-io/flannel"
	_ "github.com/flannel-io/flannel/cmd/install_conf"
)
