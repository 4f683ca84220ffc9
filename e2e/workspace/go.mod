module example.com/workspace

go 1.24.0

require github.com/supermachine/supermachine_kernel v0.3.3

require (
	github.com/bazelbuild/rules_go v0.60.0 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
)

// The module under test is this checkout (Bazel uses local_repository in WORKSPACE).
replace github.com/supermachine/supermachine_kernel => ../..
