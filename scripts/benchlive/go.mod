module github.com/nfstream-go/nfstream/scripts/benchlive

go 1.26.0

require (
	github.com/mdlayher/packet v1.2.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/mdlayher/socket v0.7.0 // indirect
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)
