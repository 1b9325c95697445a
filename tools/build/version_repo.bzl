"""@concordance_version//:version.bzl: VERSION, read from //:VERSION.

The release tarball's file name carries the version, and a genrule's
outputs must be named when BUILD files load; a repository rule can read a
file then (and is re-run when it changes).
"""

def _impl(ctx):
    version = ctx.read(ctx.attr.version_file).strip()
    ctx.file("BUILD.bazel", "")
    ctx.file("version.bzl", "VERSION = %r\n" % version)

concordance_version = repository_rule(
    implementation = _impl,
    attrs = {"version_file": attr.label(allow_single_file = True)},
)
