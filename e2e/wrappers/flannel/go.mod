// A project-owned wrapper for flanneld and install-conf. The Go module proxy refuses the Tencent
// Cloud VPC SDK module (403, every version), which flannel's tencent-vpc backend imports, so
// that one module is replaced by a build-only stub (vpcstub/).
module labctl.invalid/e2e/flannel

go 1.26.0

replace github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc => ./vpcstub
