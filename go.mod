module github.com/supermachine/supermachine_kernel

go 1.24.0

require (
	github.com/bazelbuild/rules_go v0.60.0
	github.com/ulikunitz/xz v0.5.17
)

require golang.org/x/sys v0.41.0
