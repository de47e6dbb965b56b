// A project-owned wrapper: github.com/traefik/traefik/v3's go.mod has replace directives, so
// `go install` refuses it. This module requires it and repeats, for the build, the same three
// forks and the same exclude that Traefik's own go.mod declares (its reasons: forks of the
// containous organisation; an ambiguous import in an incomplete multi-module SDK).
module labctl.invalid/e2e/traefik

go 1.26.0

require github.com/traefik/traefik/v3 v3.6.12

replace (
	github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e
	github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59
	github.com/mailgun/minheap => github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595
)

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
