"""Implementation of the `unxz` rule (private: load it through //:defs.bzl)."""

def _unxz_impl(ctx):
    out = ctx.outputs.out
    if ctx.attr.size < 0:
        fail("size must be >= 0 (0 means unknown), got %d" % ctx.attr.size)
    sha256 = ctx.attr.sha256
    if sha256 and (len(sha256) != 64 or sha256.lower() != sha256 or
                   sha256.strip("0123456789abcdef") != ""):
        fail("sha256 must be 64 lower-case hex digits, got %r" % sha256)
    mode = "0755" if ctx.attr.executable else "0644"

    args = ctx.actions.args()
    args.add("--mode", mode)
    if sha256:
        args.add("--sha256", sha256)
    if ctx.attr.size:
        args.add("--size", str(ctx.attr.size))
    args.add("--src", ctx.file.src)
    args.add("--out", out)

    ctx.actions.run(
        executable = ctx.executable._unxz,
        arguments = [args],
        inputs = [ctx.file.src],
        outputs = [out],
        mnemonic = "Unxz",
        progress_message = "Decompressing %{input} to %{output}",
    )

    runfiles = ctx.runfiles(files = [out])
    return [DefaultInfo(files = depset([out]), runfiles = runfiles)]

unxz = rule(
    implementation = _unxz_impl,
    doc = """Decompresses one `.xz` file into one declared output, at build time.

The decoder is `@supermachine_kernel//tools/unxz`, built from Go source for the execution platform, so
the action needs no `xz` on the host and gives the same bytes on every machine. The output is written
through a temporary file and renamed, and it is checked against `size` and `sha256` when given: a
mismatch, a corrupt or truncated input fails the build with an error naming the file.

Example:

```starlark
load("@supermachine_kernel//:defs.bzl", "unxz")

unxz(
    name = "rootfs",
    src = "rootfs.ext4.xz",
    out = "rootfs.ext4",
    sha256 = "<sha256 of rootfs.ext4>",
    size = 16777216,
)
```
""",
    attrs = {
        "src": attr.label(
            doc = "The `.xz` file to decompress (one file: a source file or a rule's single output).",
            allow_single_file = True,
            mandatory = True,
        ),
        "out": attr.output(
            doc = "Name of the decompressed file, relative to the package (it may contain `/`).",
            mandatory = True,
        ),
        "sha256": attr.string(
            doc = "Expected sha256 of the decompressed bytes (64 lower-case hex digits). Empty: not checked.",
        ),
        "size": attr.int(
            doc = "Expected size of the decompressed file in bytes. 0: unknown (the output is then capped at 1 GiB).",
            default = 0,
        ),
        "executable": attr.bool(
            doc = "Write the output with mode 0755 instead of 0644 (for programs).",
            default = False,
        ),
        "_unxz": attr.label(
            default = Label("//tools/unxz"),
            executable = True,
            cfg = "exec",
        ),
    },
)
