"""`link_file`: put a file from elsewhere in the build into this package (private)."""

def _link_file_impl(ctx):
    out = ctx.actions.declare_file(ctx.attr.out)

    # A symlink action runs no program and copies no bytes (the payloads are tens of MiB).
    ctx.actions.symlink(output = out, target_file = ctx.file.src, progress_message = "Linking %{output}")
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

link_file = rule(
    implementation = _link_file_impl,
    doc = """Makes `src` available as `out` in this package.

`//go:embed` patterns are relative to the go_library's package, so files embedded by `//kernel` must be
declared there; this links the outputs of the root unxz targets (and the Bazel copy of the embed source)
into it.
""",
    attrs = {
        "src": attr.label(
            doc = "The file to link to.",
            allow_single_file = True,
            mandatory = True,
        ),
        "out": attr.string(
            doc = "Path of the link, relative to this package.",
            mandatory = True,
        ),
    },
)
