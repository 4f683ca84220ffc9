module github.com/supermachine/supermachine_kernel/e2e/boot

go 1.24.0

require github.com/supermachine/supermachine_kernel v0.0.0

require (
	github.com/bazelbuild/rules_go v0.60.0 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
)

replace github.com/supermachine/supermachine_kernel => ../..
