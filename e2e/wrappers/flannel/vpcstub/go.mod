// BUILD-ONLY STUB, never run: see v20170312/stub.go.
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.21
