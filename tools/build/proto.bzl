"""cc_grpc_library: one .proto -> a cc_library of protobuf (+ gRPC) C++ code.

Why this exists: Bazel 4.2.3's proto rules would download protobuf and gRPC
sources; we use Debian's protoc and grpc_cpp_plugin instead. protoc runs from
the workspace root, so generated code includes its imports as
"proto/foo.pb.h", which resolves against Bazel's output root.
"""

def cc_grpc_library(name, src, deps = [], grpc = False, visibility = None):
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "protoc --proto_path=. --cpp_out=$(BINDIR)"
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += " --grpc_out=$(BINDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"
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
