"""cc_grpc_library: one .proto -> a cc_library of protobuf (+ gRPC) C++ code.

Why this exists: Bazel 4.2.3's proto rules would download protobuf and gRPC
sources; we use Debian's protoc and grpc_cpp_plugin instead. protoc runs from
the workspace root, so generated code includes its imports as
"proto/foo.pb.h", which resolves against Bazel's output root.
"""

def cc_grpc_library(name, src, deps = [], grpc = False, visibility = None):
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]

    # Built from another workspace (@concordance//proto:...), the sources
    # sit under external/<repo>/ and so do the outputs: protoc is pointed at
    # that root, so imports and generated includes stay "proto/...".
    repo = native.repository_name()
    root = "." if repo == "@" else "external/" + repo[1:]
    out = "$(BINDIR)" if repo == "@" else "$(BINDIR)/" + root
    cmd = "protoc --proto_path=%s --cpp_out=%s" % (root, out)
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += " --grpc_out=%s --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin" % out
    cmd += " $(location %s)" % src
    native.filegroup(name = name + "_srcs", srcs = [src])
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpcpp"] if grpc else []),
        visibility = visibility,
    )
