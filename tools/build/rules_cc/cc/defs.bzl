"""Forwards @rules_cc//cc:defs.bzl to Bazel's native C++ rules.

Why this exists: Bazel 4.2.3 (Debian's bazel-bootstrap) resolves @rules_cc by
download, which is impossible offline, and Debian's bazel-rules-cc 0.0.4 is too
new for 4.2.3 (it loads use_cpp_toolchain). The native rules are what 4.2.3's
own rules_cc would have forwarded to anyway.
"""

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)

def objc_import(**kwargs):
    native.objc_import(**kwargs)
