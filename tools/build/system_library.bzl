"""One repository rule that turns pkg-config modules into cc_library targets.

Why this exists: the project builds offline against Debian's -dev packages.
Link lines for gRPC and Abseil span ~90 libraries; pkg-config knows them and
hand-written lists break. Each named target becomes a header-less cc_library
whose linkopts and defines come from `pkg-config --libs/--cflags`.

Usage (WORKSPACE):
    system_libraries(name = "system", libraries = {"grpcpp": ["grpc++"], ...})
then depend on "@system//:grpcpp".
"""

def _flags(ctx, what, modules):
    result = ctx.execute(["pkg-config", what] + modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed: %s" % (what, " ".join(modules), result.stderr))
    return [f for f in result.stdout.strip().split(" ") if f]

def _system_libraries_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, entries in ctx.attr.libraries.items():
        # "-l..." entries are link flags of libraries without a .pc file
        # (Debian ships libgrpc++_reflection without one).
        modules = [m for m in entries if not m.startswith("-")]
        extra = [m for m in entries if m.startswith("-")]
        libs = (_flags(ctx, "--libs", modules) if modules else []) + extra
        cflags = _flags(ctx, "--cflags", modules) if modules else []
        defines = [f[2:] for f in cflags if f.startswith("-D")]
        includes = [f[2:] for f in cflags if f.startswith("-I")]
        copts = ["-isystem" + i for i in includes]
        lines.append("cc_library(")
        lines.append("    name = %r," % name)
        lines.append("    linkopts = %r," % libs)
        lines.append("    defines = %r," % defines)
        lines.append(")")
        lines.append("")
        if copts:
            # Include paths outside the default search path are not supported by
            # a header-less cc_library; none of our modules need one today.
            fail("pkg-config module %s needs include paths %s" % (modules, includes))
    ctx.file("BUILD.bazel", "\n".join(lines))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    attrs = {
        "libraries": attr.string_list_dict(
            doc = "target name -> pkg-config modules and raw -l flags (empty list: header-only)",
        ),
    },
    local = True,
)
