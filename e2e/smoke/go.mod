module example.com/smoke

go 1.24.0

require github.com/supermachine/supermachine_kernel v0.3.3

// The module under test is this checkout (Bazel uses local_path_override in MODULE.bazel).
replace github.com/supermachine/supermachine_kernel => ../..
