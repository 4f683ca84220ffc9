"""WORKSPACE (legacy) support: the external repositories supermachine_kernel needs.

Call it from your WORKSPACE after declaring rules_go and gazelle, and before their own dependency
macros, so these pinned versions win:

```starlark
local_repository(name = "supermachine_kernel", path = "...")  # or http_archive

load("@supermachine_kernel//:repositories.bzl", "supermachine_kernel_dependencies")

supermachine_kernel_dependencies()

load("@bazel_gazelle//:deps.bzl", "gazelle_dependencies")

gazelle_dependencies(go_sdk = "go_sdk")

load("@io_bazel_rules_go//go:deps.bzl", "go_register_toolchains", "go_rules_dependencies")

go_rules_dependencies()

go_register_toolchains(go_version = "host")  # or version = "1.24.x"
```

With Bazel modules (MODULE.bazel) none of this is needed: `bazel_dep(name = "supermachine_kernel", ...)`.
"""

load("@bazel_gazelle//:deps.bzl", "go_repository")

# The Go modules of //:go.mod, with the versions and go.sum hashes recorded there (tools/bazel-tests checks
# that they agree). go_repository fetches them through the machine's GOPROXY.
_GO_MODULES = [
    ("com_github_ulikunitz_xz", "github.com/ulikunitz/xz", "v0.5.17", "h1:flR0y/x1hgM8EGV1AW3Xll6T413G0glV8UfBwR617V4="),
    ("org_golang_x_sys", "golang.org/x/sys", "v0.41.0", "h1:Ivj+2Cp/ylzLiEU89QhWblYnOE9zerudt9Ftecq2C6k="),
]

def supermachine_kernel_dependencies():
    """Declares the repositories supermachine_kernel needs, unless the WORKSPACE already has them."""
    for name, importpath, version, sum in _GO_MODULES:
        if not native.existing_rule(name):
            go_repository(
                name = name,
                importpath = importpath,
                sum = sum,
                version = version,
            )
