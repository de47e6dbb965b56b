// Package v20170312 is a BUILD-ONLY STUB standing in for the Tencent Cloud VPC SDK, which the Go
// module proxy refuses. It exists only so that flanneld compiles: the tencent-vpc backend that
// imports it is never selected by the lab (kube-flannel's net-conf sets Backend.Type vxlan), so
// this code path never runs. Were it ever selected, every call returns errNotBuilt and flanneld
// stops with that message. It implements nothing of Tencent's API.
package v20170312

import "errors"

var errNotBuilt = errors.New("the tencent-vpc backend is not built into this flanneld (build-only stub)")

// Filter, Route and RouteTable carry only the fields flannel's backend names.
type Filter struct {
	Name   *string
	Values []*string
}

type Route struct {
	DestinationCidrBlock *string
	GatewayType          *string
	GatewayId            *string
	RouteType            *string
	RouteId              *uint64
	Enabled              *bool
}

type RouteTable struct {
	RouteTableId *string
	RouteSet     []*Route
}

type DescribeRouteTablesRequest struct{ Filters []*Filter }

type DescribeRouteTablesResponse struct {
	Response *struct{ RouteTableSet []*RouteTable }
}

type CreateRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type DeleteRoutesRequest = CreateRoutesRequest

type Client struct{}

func NewClientWithSecretId(_, _, _ string) (*Client, error)        { return nil, errNotBuilt }
func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest { return &DescribeRouteTablesRequest{} }
func NewCreateRoutesRequest() *CreateRoutesRequest               { return &CreateRoutesRequest{} }
func NewDeleteRoutesRequest() *DeleteRoutesRequest               { return &DeleteRoutesRequest{} }

func (*Client) DescribeRouteTables(*DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, errNotBuilt
}

func (*Client) CreateRoutes(*CreateRoutesRequest) (struct{}, error) { return struct{}{}, errNotBuilt }

func (*Client) DeleteRoutes(*DeleteRoutesRequest) (struct{}, error) { return struct{}{}, errNotBuilt }
