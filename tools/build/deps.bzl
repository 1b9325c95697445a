"""The system libraries Concordance links, as @system//:<name>.

Concordance's WORKSPACE calls concordance_system_libraries(); so does a
workspace that uses Concordance's targets (@concordance//tools/client,
@concordance//proto:..., see examples/bazel-consumer), since those targets
depend on @system//:grpcpp and the others by that name.
"""

load("//tools/build:system_library.bzl", "system_libraries")

CONCORDANCE_SYSTEM_LIBRARIES = {
    "absl": [
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_flat_hash_map",
        "absl_flat_hash_set",
        "absl_random_random",
        "absl_hash",
    ],
    "benchmark": ["benchmark"],
    "boost_asio": [],  # header-only Asio/Beast; needs only pthread
    "gflags": ["gflags"],
    "glog": ["libglog"],
    "grpcpp": ["grpc++"],
    "grpcpp_reflection": ["grpc++", "-lgrpc++_reflection"],
    "gtest": ["gtest", "gmock"],
    "gtest_main": ["gtest_main", "gmock"],
    "openssl": ["openssl"],
    "protobuf": ["protobuf"],
    "rapidjson": [],  # header-only
    "sqlite3": ["sqlite3"],
}

def concordance_system_libraries(name = "system"):
    system_libraries(
        name = name,
        libraries = CONCORDANCE_SYSTEM_LIBRARIES,
        # Tests and microbenchmarks only (Debian ships no libbenchmark.a).
        shared_only = ["benchmark", "gtest", "gtest_main"],
        # glog's libunwind.a needs liblzma, which libunwind.pc leaves out.
        static_extra = ["-llzma"],
    )
