"""One repository rule that turns pkg-config modules into cc_library targets.

Why this exists: the project builds offline against Debian's -dev packages.
Link lines for gRPC and Abseil span ~90 libraries; pkg-config knows them and
hand-written lists break. Each named target becomes a header-less cc_library
whose linkopts and defines come from `pkg-config --libs/--cflags`.

Static binaries (`--config=static`, i.e. `--define=static=1`): every target
instead depends on one `:static_all` library that links the union of
`pkg-config --static --libs` from Debian's `.a` archives, in one
`--start-group`, so the order between libraries does not matter. glibc's own
libraries (libc, libm, libpthread, libdl, librt) stay shared: every Linux
system has them, and a static glibc cannot resolve names (NSS) reliably.
libstdc++ and libgcc are linked statically too.

Usage (WORKSPACE):
    system_libraries(name = "system", libraries = {"grpcpp": ["grpc++"], ...})
then depend on "@system//:grpcpp".
"""

# Linked as shared libraries even in a static build (part of glibc).
_GLIBC = ["c", "m", "pthread", "dl", "rt", "resolv", "util"]

def _flags(ctx, what, modules):
    result = ctx.execute(["pkg-config"] + what + modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed: %s" % (" ".join(what), " ".join(modules), result.stderr))
    return [f for f in result.stdout.strip().split(" ") if f]

def _static_union(ctx, libraries):
    """(archives, shared) link flags of every library, each listed once."""
    archives, shared = [], []
    for name, entries in libraries.items():
        if name in ctx.attr.shared_only:
            continue
        modules = [m for m in entries if not m.startswith("-")]
        extra = [m for m in entries if m.startswith("-")]
        flags = (_flags(ctx, ["--static", "--libs"], modules) if modules else []) + extra
        for f in flags:
            if f.startswith("-Wl,--push-state") or f.startswith("-Wl,--pop-state"):
                continue
            if f == "-pthread" or (f.startswith("-l") and f[2:] in _GLIBC):
                if f not in shared:
                    shared.append(f)
            elif f not in archives:
                archives.append(f)
    for f in ctx.attr.static_extra:
        if f not in archives:
            archives.append(f)
    return archives, shared

def _system_libraries_impl(ctx):
    lines = [
        'package(default_visibility = ["//visibility:public"])',
        "",
        "# bazel build --config=static (--define=static=1): static binaries.",
        'config_setting(name = "static", define_values = {"static": "1"})',
        "",
    ]
    archives, shared = _static_union(ctx, ctx.attr.libraries)
    lines.append("cc_library(")
    lines.append('    name = "static_all",')
    # libstdc++ goes in the group too: the toolchain names -lstdc++ after
    # every linkopt, which --as-needed then drops as nothing needs it.
    lines.append("    linkopts = %r," % (
        ["-Wl,-Bstatic", "-Wl,--start-group"] + archives +
        ["-l:libstdc++.a", "-Wl,--end-group", "-Wl,-Bdynamic"] +
        shared + ["-static-libgcc", "-Wl,--as-needed"]
    ))
    lines.append(")")
    lines.append("")
    for name, entries in ctx.attr.libraries.items():
        # "-l..." entries are link flags of libraries without a .pc file
        # (Debian ships libgrpc++_reflection without one).
        modules = [m for m in entries if not m.startswith("-")]
        extra = [m for m in entries if m.startswith("-")]
        libs = (_flags(ctx, ["--libs"], modules) if modules else []) + extra
        cflags = _flags(ctx, ["--cflags"], modules) if modules else []
        defines = [f[2:] for f in cflags if f.startswith("-D")]
        includes = [f[2:] for f in cflags if f.startswith("-I")]
        if includes:
            # Include paths outside the default search path are not supported by
            # a header-less cc_library; none of our modules need one today.
            fail("pkg-config module %s needs include paths %s" % (modules, includes))
        lines.append("cc_library(")
        lines.append("    name = %r," % name)
        if name in ctx.attr.shared_only:
            lines.append("    linkopts = %r," % libs)
        else:
            lines.append('    linkopts = select({":static": [], "//conditions:default": %r}),' % libs)
            lines.append('    deps = select({":static": [":static_all"], "//conditions:default": []}),')
        lines.append("    defines = %r," % defines)
        lines.append(")")
        lines.append("")
    ctx.file("BUILD.bazel", "\n".join(lines))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    attrs = {
        "libraries": attr.string_list_dict(
            doc = "target name -> pkg-config modules and raw -l flags (empty list: header-only)",
        ),
        "static_extra": attr.string_list(
            doc = "archives a static link needs that pkg-config --static does not name",
        ),
        "shared_only": attr.string_list(
            doc = "targets linked as shared libraries even in a static build (test-only ones)",
        ),
    },
    local = True,
)
